/**
 * Scans one file: sniffs what it is from its bytes (never its name), descends
 * into containers within the limits, and judges every pickle it reaches.
 */
import { stat } from 'node:fs/promises';
import { BufferSource, FileSource, type ByteSource } from '../formats/source.js';
import { DecompressionBudget, decompress, type CompressionKind } from '../formats/compression.js';
import { looksLikePickle } from '../formats/pickle/stream.js';
import { readNpyHeader } from '../formats/numpy.js';
import { read7z } from '../formats/sevenzip.js';
import { sniffContainers } from '../formats/sniff.js';
import { readTar } from '../formats/tar.js';
import { InflatingSource } from '../formats/inflating-source.js';
import { openZipEntry, readZipDirectory, type ZipDirectory, type ZipEntry } from '../formats/zip.js';
import type { ScanConfig } from './config.js';
import { addError, addFinding, addFormat, type Place, type ScanContext } from './context.js';
import type { FileReport } from './finding.js';
import { LimitExceededError, resolveLimits } from '../formats/limits.js';
import { FORMAT_SCANNERS } from './format-registry.js';
import { scanPickleStream } from './pickle-scan.js';
import { Policy, type Ecosystem } from './policy/policy.js';
import { scanLegacyTorchTar, scanRawPickle } from './torch-scan.js';

export interface ScanOptions {
  /** Plain, JSON-able settings (so worker threads can receive them). */
  config?: ScanConfig;
}

const ALL: readonly Ecosystem[] = ['python', 'torch', 'numpy', 'sklearn', 'joblib'];

const policyCache = new WeakMap<object, Policy>();
let defaultPolicy: Policy | undefined;
function policyFor(config: ScanConfig | undefined): Policy {
  if (!config || (!config.allow?.length && !config.deny?.length)) return (defaultPolicy ??= Policy.default());
  let p = policyCache.get(config);
  if (!p) policyCache.set(config, (p = Policy.fromConfig({ allow: config.allow, deny: config.deny })));
  return p;
}

/** A fresh context for scanning one file (exported for format scanners' tests). */
export function createScanContext(file: string, opts?: ScanOptions): ScanContext {
  const limits = resolveLimits(opts?.config?.limits);
  return {
    file,
    policy: policyFor(opts?.config),
    limits,
    budget: new DecompressionBudget(limits),
    findings: [],
    errors: [],
    formats: [],
    members: [],
    seen: new Map(),
  };
}

function report(ctx: ScanContext, src: ByteSource, size: number): FileReport {
  return {
    file: ctx.file,
    formats: ctx.formats,
    size,
    bytesRead: src.bytesRead,
    findings: ctx.findings,
    errors: ctx.errors,
    members: ctx.members,
    // A file with findings is never "skipped", whatever its formats say.
    ...(ctx.formats.length === 0 && ctx.errors.length === 0 && ctx.findings.length === 0 ? { skipped: true } : {}),
  };
}

export async function scanFile(path: string, opts?: ScanOptions): Promise<FileReport> {
  const ctx = createScanContext(path, opts);
  let src: FileSource;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new Error('not a regular file');
    src = await FileSource.open(path);
  } catch (e) {
    addError(ctx, path, `cannot read ${path}: ${(e as Error).message}`);
    return { file: path, formats: [], size: 0, bytesRead: 0, findings: [], errors: ctx.errors, members: [] };
  }
  try {
    await scanSource(src, { location: path, depth: 0, ecosystems: ALL }, ctx);
  } finally {
    await src.close();
  }
  return report(ctx, src, src.size);
}

export async function scanBytes(bytes: Buffer, name: string, opts?: ScanOptions): Promise<FileReport> {
  const ctx = createScanContext(name, opts);
  const src = new BufferSource(bytes, name);
  await scanSource(src, { location: name, depth: 0, ecosystems: ALL }, ctx);
  return report(ctx, src, bytes.length);
}

/** Scans any source at a place; containers recurse back here one level deeper. */
export async function scanSource(src: ByteSource, place: Place, ctx: ScanContext): Promise<void> {
  if (place.depth > ctx.limits.maxDepth) {
    addFinding(ctx, `${place.location}|depth`, {
      ruleId: 'archive/limit-exceeded',
      severity: 'MEDIUM',
      location: place.location,
      message: `Containers nested deeper than ${ctx.limits.maxDepth} levels were not opened.`,
      hint: 'Deep nesting is a way to exhaust scanners and hide payloads; treat the file as hostile, or raise limits.maxDepth.',
    });
    return;
  }
  try {
    await dispatch(src, place, ctx);
  } catch (e) {
    if (e instanceof LimitExceededError) {
      addFinding(ctx, `${place.location}|limit|${e.limit}`, {
        ruleId: 'archive/limit-exceeded',
        severity: 'MEDIUM',
        location: place.location,
        message: `${e.message}. The rest of this container was not scanned.`,
        hint: `This is how zip bombs look. If the file is genuine, raise limits.${e.limit} in .ptmscope.yaml and scan again.`,
      });
    } else {
      addFinding(ctx, `${place.location}|parse`, {
        ruleId: 'archive/parse-error',
        severity: 'MEDIUM',
        location: place.location,
        message: `Could not parse: ${(e as Error).message}.`,
        hint: 'A damaged or deliberately malformed container. Do not load it until it scans cleanly.',
      });
    }
  }
}

async function dispatch(src: ByteSource, place: Place, ctx: ScanContext): Promise<void> {
  const kinds = await sniffContainers(src);
  const head = await src.read(0, 4096);
  let handled = false;
  for (const kind of kinds) {
    switch (kind) {
      case 'zip':
        await scanZip(src, place, ctx);
        break;
      case 'tar':
        await scanTar(src, place, ctx);
        break;
      case '7z': {
        addFormat(ctx, '7z');
        const { entries } = await read7z(src, ctx.limits, ctx.budget);
        for (const e of entries) {
          const location = `${place.location}!${e.name}`;
          ctx.members.push(location);
          await scanSource(new BufferSource(e.data, location), { ...place, location, depth: place.depth + 1 }, ctx);
        }
        break;
      }
      case 'gzip':
      case 'zlib':
      case 'bzip2':
      case 'xz': {
        addFormat(ctx, kind);
        const data = await decompress(kind as CompressionKind, src, ctx.limits, ctx.budget);
        const location = `${place.location}!<${kind}>`;
        await scanSource(new BufferSource(data, location), { ...place, location, depth: place.depth + 1 }, ctx);
        break;
      }
      case 'npy':
        await scanNpy(src, place, ctx);
        break;
    }
    handled = true;
  }
  // Pickles have no magic number of their own; a zip found only by its end
  // record may still start with a pickle (a polyglot), so look either way.
  const startsAsContainer = kinds.length > 0 && !(kinds.length === 1 && kinds[0] === 'zip' && head.length >= 4 && head.readUInt32LE(0) !== 0x04034b50);
  if (!startsAsContainer && looksLikePickle(head, src.size)) {
    await scanRawPickle(src, place, ctx);
    handled = true;
  }
  if (handled) return;
  for (const scanner of FORMAT_SCANNERS) {
    if (!scanner.sniff(head, src.size) && !scanner.sniffName?.(place.location, head)) continue;
    if (!scanner.reportsOwnFormats) addFormat(ctx, scanner.id);
    try {
      await scanner.scan(src, place, ctx);
    } catch (e) {
      if (e instanceof LimitExceededError) throw e;
      addFinding(ctx, `${place.location}|parse|${scanner.id}`, {
        ruleId: 'format/parse-error',
        severity: 'MEDIUM',
        location: place.location,
        message: `Could not parse this ${scanner.id} file: ${(e as Error).message}.`,
        hint: 'A corrupt or deliberately malformed file is not "clean": loaders may read it differently. Do not load it until it scans cleanly.',
      });
    }
  }
}

const TORCH_STORAGE = /^(?:[^/]+\/)?(?:data|\.data)\/\d+$/;

async function scanZip(src: ByteSource, place: Place, ctx: ScanContext): Promise<void> {
  addFormat(ctx, 'zip');
  const dir = await readZipDirectory(src, ctx.limits);
  const names = dir.entries.map((e) => e.name);
  const torch = names.some((n) => /(^|\/)data\.pkl$/.test(n));
  const torchscript = names.some((n) => /(^|\/)constants\.pkl$/.test(n) || /(^|\/)code\/.+\.py$/.test(n));
  const npz = !torch && !torchscript && names.length > 0 && names.every((n) => n.endsWith('.npy'));
  if (torchscript) addFormat(ctx, 'torchscript');
  else if (torch) addFormat(ctx, 'pytorch-zip');
  else if (npz) addFormat(ctx, 'npz');
  const eco: readonly Ecosystem[] = torchscript ? [...ALL, 'torchscript'] : npz ? ['python', 'numpy'] : place.ecosystems;
  const code: string[] = [];
  for (const w of dir.warnings) suspicious(ctx, place.location, w);
  for (const entry of dir.entries) {
    const location = `${place.location}!${entry.name}`;
    for (const w of entry.warnings) suspicious(ctx, location, w);
    if (entry.isDirectory) continue;
    // Tensor storages are raw numbers that torch copies into memory; never read them.
    if ((torch || torchscript) && TORCH_STORAGE.test(entry.name)) continue;
    // TorchScript code is listed, and scanned like any member (the Python scanner claims it by name).
    if (torchscript && /(^|\/)code\/.+\.py$/.test(entry.name)) code.push(entry.name);
    await scanMember(src, dir, entry, location, { location, depth: place.depth + 1, ecosystems: eco }, ctx);
  }
  if (code.length) {
    addFinding(ctx, `${place.location}|torchscript-code`, {
      ruleId: 'torch/torchscript-code',
      severity: 'INFO',
      location: place.location,
      message: `TorchScript archive with ${code.length} code file(s) that torch.jit.load compiles and runs: ${code.slice(0, 10).join(', ')}${code.length > 10 ? ', …' : ''}.`,
      evidence: code.join('\n'),
      hint: 'TorchScript code runs in the TorchScript interpreter, not Python, but it can still call file and process ops exposed to it. Review these files if the source is untrusted.',
    });
  }
}

function suspicious(ctx: ScanContext, location: string, warning: string): void {
  addFinding(ctx, `${location}|suspicious|${warning}`, {
    ruleId: 'archive/suspicious-member',
    severity: 'LOW',
    location,
    message: `Archive irregularity: ${warning}.`,
    hint: 'Zip readers disagree on irregular archives, which can show a scanner other contents than the loader. Find out why the archive was written this way.',
  });
}

async function scanMember(src: ByteSource, dir: ZipDirectory, entry: ZipEntry, location: string, place: Place, ctx: ScanContext): Promise<void> {
  try {
    const member = await openZipEntry(src, dir, entry, ctx.limits, ctx.budget);
    ctx.members.push(location);
    try {
      await scanSource(member, place, ctx);
    } finally {
      if (member instanceof InflatingSource) member.close();
    }
  } catch (e) {
    if (e instanceof LimitExceededError) throw e;
    addFinding(ctx, `${location}|member`, {
      ruleId: 'archive/parse-error',
      severity: 'MEDIUM',
      location,
      message: `Could not open archive member: ${(e as Error).message}.`,
      hint: 'Unreadable members cannot be checked; loaders that can read them would run whatever they hold.',
    });
  }
}

async function scanTar(src: ByteSource, place: Place, ctx: ScanContext): Promise<void> {
  addFormat(ctx, 'tar');
  const { entries } = await readTar(src, ctx.limits, ctx.budget);
  const names = new Set(entries.map((e) => e.name));
  if (names.has('pickle') && names.has('storages') && names.has('tensors')) {
    await scanLegacyTorchTar(entries, place, ctx);
    return;
  }
  for (const e of entries) {
    const location = `${place.location}!${e.name}`;
    ctx.members.push(location);
    await scanSource(new BufferSource(e.data, location), { ...place, location, depth: place.depth + 1 }, ctx);
  }
}

async function scanNpy(src: ByteSource, place: Place, ctx: ScanContext): Promise<void> {
  addFormat(ctx, 'npy');
  const h = await readNpyHeader(src);
  if (!h.hasObjects) return;
  addFinding(ctx, `${place.location}|npy-object`, {
    ruleId: 'numpy/object-array',
    severity: 'LOW',
    location: place.location,
    offset: h.headerEnd,
    message: `NumPy array of dtype ${JSON.stringify(h.descr)} holds Python objects: its data is a pickle, and numpy.load runs it when allow_pickle=True.`,
    hint: 'Prefer numeric dtypes; never pass allow_pickle=True for files from others. The pickle itself is checked below.',
  });
  await scanPickleStream(src, { ...place, ecosystems: ['python', 'numpy'] }, ctx, { start: h.headerEnd, maxPickles: 1 });
}

