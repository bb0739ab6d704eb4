import SevenZip, { type SevenZipModule } from '7z-wasm';
import { LimitExceededError, type Limits } from './limits.js';
import type { DecompressionBudget } from './compression.js';
import type { ByteSource } from './source.js';

/*
 * 7z archives through 7-Zip compiled to wasm (7z-wasm): the archive is written
 * into the module's in-memory file system, listed with `l -slt`, checked
 * against the limits using the listed sizes, extracted with `x` into an
 * in-memory directory and read back. Nothing touches the real file system.
 */

const SEVENZ_MAGIC = Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]);

/** Names go into messages: control characters are escaped so a hostile name cannot forge terminal output. */
function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function looksLike7z(head: Buffer): boolean {
  return head.length >= 6 && head.subarray(0, 6).equals(SEVENZ_MAGIC);
}

export interface SevenZipEntry {
  name: string;
  size: number;
  data: Buffer;
}

export interface SevenZipListing {
  entries: SevenZipEntry[];
  warnings: string[];
}

interface Loaded {
  mod: SevenZipModule;
  stdout: string[];
  stderr: string[];
}

let loading: Promise<Loaded> | undefined;

/** One 7-Zip instance per process, created on first use. */
function load(): Promise<Loaded> {
  loading ??= (async (): Promise<Loaded> => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const mod = await SevenZip.default({
      print: (s: string) => stdout.push(s),
      printErr: (s: string) => stderr.push(s),
      // Never wait on the terminal (a password prompt would otherwise read process stdin).
      stdin: () => null as unknown as number,
    });
    // 7-Zip sets mode 000 on some extracted entries, which makes directories unreadable in MEMFS.
    const chmod = mod.FS.chmod.bind(mod.FS);
    mod.FS.chmod = (path: string, mode: number, dontFollow?: boolean) => {
      if (mode) chmod(path, mode | 0o600, dontFollow);
    };
    return { mod, stdout, stderr };
  })();
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

/** A password that never matches: encrypted content fails instead of prompting. */
const NO_PASSWORD = '-pptmscope-no-password';

let workCounter = 0;

interface Listed {
  path: string;
  size: number;
  isDir: boolean;
  encrypted: boolean;
}

function parseSlt(lines: string[]): Listed[] {
  const start = lines.findIndex((l) => l.startsWith('----------'));
  if (start < 0) return [];
  const out: Listed[] = [];
  let cur: Record<string, string> = {};
  const flush = (): void => {
    if (cur.Path !== undefined) {
      const attrs = cur.Attributes ?? '';
      out.push({
        path: cur.Path,
        size: Number.parseInt(cur.Size ?? '0', 10) || 0,
        isDir: cur.Folder === '+' || attrs.startsWith('D'),
        encrypted: cur.Encrypted === '+',
      });
    }
    cur = {};
  };
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') {
      flush();
      continue;
    }
    const eq = line.indexOf(' = ');
    if (eq > 0) cur[line.slice(0, eq)] = line.slice(eq + 3);
    else if (line.endsWith(' =')) cur[line.slice(0, -2)] = '';
  }
  flush();
  return out;
}

function rmTree(mod: SevenZipModule, path: string): void {
  let st;
  try {
    st = mod.FS.lstat(path);
  } catch {
    return;
  }
  if (mod.FS.isDir(st.mode)) {
    for (const n of mod.FS.readdir(path)) if (n !== '.' && n !== '..') rmTree(mod, `${path}/${n}`);
    mod.FS.rmdir(path);
  } else {
    mod.FS.unlink(path);
  }
}

function run(l: Loaded, args: string[]): { code: number; stdout: string[]; stderr: string[] } {
  l.stdout.length = 0;
  l.stderr.length = 0;
  let code: number;
  // This build's exit path sets process.exitCode to 7-Zip's status (its `quit`
  // option is not wired in); the scanner's own exit code must survive it.
  const exitCode = process.exitCode;
  try {
    code = (l.mod.callMain(args) as unknown as number | undefined) ?? 0;
  } catch (e) {
    loading = undefined; // an aborted wasm instance is not reused
    // Some failures (encrypted headers, corrupt data) surface as a raw wasm exception.
    const why = e instanceof Error ? e.message : `wasm exception ${String(e)}`;
    const said = l.stderr.filter((s) => s.trim() !== '').join(' ').trim();
    throw new Error(`7-Zip aborted on ${args[0] === 'l' ? 'listing' : 'extracting'} the archive (${said || why}); it is corrupt or encrypted`, { cause: e });
  } finally {
    process.exitCode = exitCode;
  }
  return { code, stdout: [...l.stdout], stderr: [...l.stderr] };
}

/**
 * List and extract a 7z archive in memory. The listed sizes are checked
 * against `budget` and maxCompressionRatio before anything is extracted, and
 * the extracted sizes are charged afterwards. Encrypted members are skipped
 * with a warning (never prompted for).
 */
export async function read7z(src: ByteSource, limits: Limits, budget: DecompressionBudget): Promise<SevenZipListing> {
  if (src.size > limits.maxDecompressedBytes) {
    throw new LimitExceededError(
      'maxDecompressedBytes',
      `${src.name}: 7z archives are unpacked in memory and this one is ${src.size} bytes, more than maxDecompressedBytes (${limits.maxDecompressedBytes})`,
    );
  }
  const archive = await src.read(0, src.size);
  const l = await load();
  const { mod } = l;
  const dir = `/ptmscope-7z-${process.pid}-${++workCounter}`;
  const archivePath = `${dir}/archive.7z`;
  const outDir = `${dir}/out`;
  const warnings: string[] = [];
  mod.FS.mkdir(dir);
  try {
    mod.FS.writeFile(archivePath, archive);
    const listing = run(l, ['l', '-slt', '-t7z', NO_PASSWORD, '-sccUTF-8', archivePath]);
    if (listing.code !== 0) {
      const why = listing.stderr.filter((s) => s.trim() !== '').join(' ').trim();
      throw new Error(`${src.name}: 7-Zip cannot list the archive (exit ${listing.code}: ${why || 'no message'}); it is corrupt or its headers are encrypted`);
    }
    const listed = parseSlt(listing.stdout);
    if (listed.length > limits.maxEntries) {
      throw new LimitExceededError('maxEntries', `${src.name}: 7z archive lists ${listed.length} entries, more than the maxEntries limit of ${limits.maxEntries}`);
    }
    const files = listed.filter((e) => !e.isDir);
    // Every listed size counts, directories included: a name with a newline can
    // forge listing lines (a fake "Folder = +"), so no block is trusted to be empty.
    const declared = listed.reduce((a, e) => a + e.size, 0);
    budget.ensure(declared, `${src.name} (sizes listed in the 7z headers)`);
    budget.checkRatio(declared, src.size, `${src.name} (sizes listed in the 7z headers)`);
    for (const e of listed) {
      if (e.path.split(/[\\/]/).includes('..') || /^([\\/]|[A-Za-z]:)/.test(e.path)) {
        warnings.push(`7z entry "${printable(e.path)}" has an absolute or ".." path (path traversal if extracted)`);
      }
      if (e.encrypted) warnings.push(`7z entry "${printable(e.path)}" is encrypted and cannot be scanned`);
    }

    const ex = run(l, ['x', '-t7z', NO_PASSWORD, '-y', '-bd', '-sccUTF-8', `-o${outDir}`, archivePath]);
    if (ex.code !== 0) {
      const why = ex.stderr.filter((s) => s.trim() !== '').join(' ').trim();
      warnings.push(`7-Zip reported errors while extracting (exit ${ex.code}: ${why || 'no message'}); some members may be missing`);
    }

    const entries: SevenZipEntry[] = [];
    let produced = 0;
    const walk = (abs: string, rel: string): void => {
      let names: string[];
      try {
        names = mod.FS.readdir(abs);
      } catch {
        return;
      }
      for (const n of names) {
        if (n === '.' || n === '..') continue;
        const p = `${abs}/${n}`;
        const r = rel ? `${rel}/${n}` : n;
        const st = mod.FS.lstat(p);
        if (mod.FS.isDir(st.mode)) walk(p, r);
        else if (mod.FS.isLink(st.mode)) warnings.push(`7z entry "${printable(r)}" is a symbolic link (not followed)`);
        else if (mod.FS.isFile(st.mode)) {
          produced += st.size;
          budget.charge(st.size, `${src.name}!${printable(r)}`);
          const u8 = mod.FS.readFile(p);
          entries.push({ name: r, size: u8.length, data: Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength) });
        }
      }
    };
    walk(outDir, '');
    budget.checkRatio(produced, src.size, `${src.name} (extracted)`);
    if (entries.length < files.filter((f) => !f.encrypted).length) {
      warnings.push(`7z archive lists ${files.length} files but ${entries.length} were extracted`);
    }
    return { entries, warnings };
  } finally {
    try {
      rmTree(mod, dir);
    } catch {
      // a broken instance is dropped anyway
    }
  }
}
