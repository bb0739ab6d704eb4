/**
 * Scan the model caches users already have on disk.
 *
 * Hugging Face cache (huggingface_hub's layout):
 *   <cache>/models--org--name/blobs/<hash>            the content, once
 *   <cache>/models--org--name/snapshots/<commit>/…    links into blobs/
 *   <cache>/models--org--name/refs/main               a file holding a commit
 * (datasets--… and spaces--… alike). Reported per repo and revision; every
 * blob is scanned once however many snapshots link to it, and its report is
 * repeated under each snapshot path. The cache is found as huggingface_hub
 * finds it: HF_HUB_CACHE, else HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub,
 * else ~/.cache/huggingface/hub.
 *
 * PyTorch Hub cache ($TORCH_HOME/hub, else $XDG_CACHE_HOME/torch/hub, else
 * ~/.cache/torch/hub): one report per downloaded repo (owner_name_ref/ with
 * its hubconf.py, whose code torch.hub.load runs) and one for checkpoints/.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { FileReport, ScanError, Severity } from './finding.js';
import { SEVERITIES } from './finding.js';
import { crashReport, scanInPool } from './pool.js';
import type { ResultPart } from './remote.js';
import { safe } from './report/text.js';
import { scanFile, type ScanOptions } from './scanner.js';
import { walk } from './walk.js';

export interface CacheScanOptions extends ScanOptions {
  /** Environment for HF_HUB_CACHE / HF_HOME / TORCH_HOME / XDG_CACHE_HOME (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Worker threads (default: number of CPUs). */
  jobs?: number;
}

export interface CacheRepoReport {
  source: 'hf-cache' | 'torch-hub';
  /** HF: the repo type; torch hub: a downloaded repo or the checkpoints folder. */
  kind: 'model' | 'dataset' | 'space' | 'hub-repo' | 'checkpoints';
  /** HF: "org/name"; torch hub: the folder name (owner_repo_ref). */
  name: string;
  /** HF: the snapshot's commit. */
  revision?: string;
  /** HF: branch or tag names that point at this revision (from refs/). */
  refs: string[];
  /** The snapshot or repo folder. */
  path: string;
  /** Torch hub repos: whether a hubconf.py is there. */
  hubconf?: boolean;
  /** Reports of model files (and errors), under their snapshot paths. */
  files: FileReport[];
  filesScanned: number;
  filesSkipped: number;
}

export interface CacheScanReport {
  source: 'hf-cache' | 'torch-hub';
  root: string;
  repos: CacheRepoReport[];
  /** Distinct files (blobs) actually scanned. */
  blobsScanned: number;
  /** Bytes read and total size over the distinct blobs. */
  bytesRead: number;
  bytesTotal: number;
  /** Problems with the cache itself (missing root, unreadable folders). */
  errors: ScanError[];
  durationMs: number;
}

function expandHome(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') ? join(homedir(), p.slice(2)) : p;
}

function xdgCache(env: NodeJS.ProcessEnv): string {
  return expandHome(env.XDG_CACHE_HOME || join(homedir(), '.cache'));
}

/** The Hugging Face hub cache folder, as huggingface_hub computes it. */
export function hfCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE;
  if (explicit) return expandHome(explicit);
  const home = env.HF_HOME ? expandHome(env.HF_HOME) : join(xdgCache(env), 'huggingface');
  return join(home, 'hub');
}

/** The PyTorch Hub folder, as torch.hub.get_dir computes it. */
export function torchHubDir(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.TORCH_HOME ? expandHome(env.TORCH_HOME) : join(xdgCache(env), 'torch');
  return join(home, 'hub');
}

const REPO_DIR = /^(models|datasets|spaces)--(.+)$/;
const KIND: Record<string, CacheRepoReport['kind']> = { models: 'model', datasets: 'dataset', spaces: 'space' };

/** Scan a Hugging Face cache (default: the one huggingface_hub would use). Never throws. */
export async function scanHfCache(dir: string | undefined, opts: CacheScanOptions = {}): Promise<CacheScanReport> {
  const started = performance.now();
  let root = dir !== undefined ? expandHome(dir) : hfCacheDir(opts.env ?? process.env);
  const out: CacheScanReport = { source: 'hf-cache', root, repos: [], blobsScanned: 0, bytesRead: 0, bytesTotal: 0, errors: [], durationMs: 0 };
  let names: string[];
  try {
    names = await readdir(root);
    // Given HF_HOME rather than its hub/ folder: look one level down.
    if (!names.some((n) => REPO_DIR.test(n)) && names.includes('hub')) {
      root = join(root, 'hub');
      out.root = root;
      names = await readdir(root);
    }
  } catch (e) {
    out.errors.push(cacheError(root, e, 'Hugging Face cache', 'set HF_HUB_CACHE or HF_HOME, or pass --hf-cache DIR'));
    out.durationMs = Math.round(performance.now() - started);
    return out;
  }

  // Every snapshot file, grouped by the blob it links to.
  interface Item {
    repo: CacheRepoReport;
    path: string;
  }
  const items: Item[] = [];
  const blobOf = new Map<string, string>();
  const firstPathOfBlob = new Map<string, string>();
  for (const name of names.sort()) {
    const m = REPO_DIR.exec(name);
    if (!m) continue;
    const repoDir = join(root, name);
    const repoName = m[2].split('--').join('/');
    const refsByCommit = await readRefs(join(repoDir, 'refs'));
    let revisions: string[];
    try {
      revisions = (await readdir(join(repoDir, 'snapshots'))).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') out.errors.push(cacheError(join(repoDir, 'snapshots'), e, 'snapshot folder', 'check its permissions'));
      continue;
    }
    for (const rev of revisions) {
      const snap = join(repoDir, 'snapshots', rev);
      const repo: CacheRepoReport = {
        source: 'hf-cache',
        kind: KIND[m[1]],
        name: repoName,
        revision: rev,
        refs: refsByCommit.get(rev) ?? [],
        path: snap,
        files: [],
        filesScanned: 0,
        filesSkipped: 0,
      };
      out.repos.push(repo);
      const w = await walk([snap]);
      for (const err of w.errors) repo.files.push(errorReport(err));
      for (const f of w.files) {
        let real: string;
        try {
          real = await realpath(f.path);
        } catch {
          real = f.path;
        }
        blobOf.set(f.path, real);
        if (!firstPathOfBlob.has(real)) firstPathOfBlob.set(real, f.path);
        items.push({ repo, path: f.path });
      }
    }
  }

  // One scan per blob, under the first snapshot path that links to it (its name tells code files apart).
  const reps = [...firstPathOfBlob.values()];
  const reports = await scanLocalFiles(reps, opts);
  const byBlob = new Map<string, FileReport>();
  reps.forEach((p, i) => byBlob.set(blobOf.get(p)!, reports[i]));
  out.blobsScanned = reps.length;
  for (const r of reports) {
    out.bytesRead += r.bytesRead;
    out.bytesTotal += r.size;
  }
  for (const it of items) {
    const blob = blobOf.get(it.path)!;
    const base = byBlob.get(blob)!;
    const first = firstPathOfBlob.get(blob)!;
    const report = it.path === first ? base : renameReport(base, first, it.path);
    if (report.skipped && report.errors.length === 0) {
      it.repo.filesSkipped++;
      continue;
    }
    it.repo.filesScanned++;
    it.repo.files.push(report);
  }
  out.durationMs = Math.round(performance.now() - started);
  return out;
}

/** Scan a PyTorch Hub cache (default: $TORCH_HOME/hub). Never throws. */
export async function scanTorchHubCache(dir: string | undefined, opts: CacheScanOptions = {}): Promise<CacheScanReport> {
  const started = performance.now();
  const root = dir !== undefined ? expandHome(dir) : torchHubDir(opts.env ?? process.env);
  const out: CacheScanReport = { source: 'torch-hub', root, repos: [], blobsScanned: 0, bytesRead: 0, bytesTotal: 0, errors: [], durationMs: 0 };
  let names: string[];
  try {
    names = (await readdir(root)).sort();
  } catch (e) {
    out.errors.push(cacheError(root, e, 'PyTorch Hub cache', 'set TORCH_HOME, or pass --torch-hub-cache DIR'));
    out.durationMs = Math.round(performance.now() - started);
    return out;
  }
  const all: { repo: CacheRepoReport; path: string }[] = [];
  for (const name of names) {
    const p = join(root, name);
    let st;
    try {
      st = await stat(p);
    } catch {
      continue;
    }
    if (!st.isDirectory()) continue;
    const repo: CacheRepoReport = {
      source: 'torch-hub',
      kind: name === 'checkpoints' ? 'checkpoints' : 'hub-repo',
      name,
      refs: [],
      path: p,
      files: [],
      filesScanned: 0,
      filesSkipped: 0,
      ...(name !== 'checkpoints' ? { hubconf: existsSync(join(p, 'hubconf.py')) } : {}),
    };
    out.repos.push(repo);
    const w = await walk([p]);
    for (const err of w.errors) repo.files.push(errorReport(err));
    for (const f of w.files) all.push({ repo, path: f.path });
  }
  const reports = await scanLocalFiles(
    all.map((a) => a.path),
    opts,
  );
  out.blobsScanned = reports.length;
  reports.forEach((r, i) => {
    out.bytesRead += r.bytesRead;
    out.bytesTotal += r.size;
    const repo = all[i].repo;
    if (r.skipped && r.errors.length === 0) {
      repo.filesSkipped++;
      return;
    }
    repo.filesScanned++;
    repo.files.push(r);
  });
  out.durationMs = Math.round(performance.now() - started);
  return out;
}

/** refs/<name> files → commit → names. */
async function readRefs(dir: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  let names: string[];
  try {
    names = (await readdir(dir, { recursive: true })) as string[];
  } catch {
    return out;
  }
  for (const rel of names.sort()) {
    try {
      const p = join(dir, rel);
      if (!(await stat(p)).isFile()) continue;
      const sha = (await readFile(p, 'utf8')).trim();
      if (!/^[0-9a-f]{40}$/i.test(sha)) continue;
      const list = out.get(sha) ?? [];
      list.push(relative(dir, p).split(sep).join('/'));
      out.set(sha, list);
    } catch {
      // An unreadable ref only loses a label.
    }
  }
  return out;
}

/** Scan files in-process when there are few, on worker threads otherwise (as scanPath does). */
async function scanLocalFiles(paths: string[], opts: CacheScanOptions): Promise<FileReport[]> {
  const scanOpts: ScanOptions = opts.config === undefined ? {} : { config: opts.config };
  if (paths.length <= 2) {
    const out: FileReport[] = [];
    for (const p of paths) {
      try {
        out.push(await scanFile(p, scanOpts));
      } catch (e) {
        out.push(crashReport(p, `the scanner failed on this file: ${(e as Error)?.message ?? String(e)}`));
      }
    }
    return out;
  }
  return scanInPool(paths, { ...(opts.jobs !== undefined ? { jobs: opts.jobs } : {}), ...(opts.config !== undefined ? { config: opts.config } : {}) });
}

/** The same report under another path (another snapshot linking to the same blob). */
function renameReport(r: FileReport, from: string, to: string): FileReport {
  const swap = (s: string): string => (s === from ? to : s.startsWith(from) ? to + s.slice(from.length) : s);
  const inText = (s: string): string => s.split(from).join(to);
  return {
    ...r,
    file: swap(r.file),
    findings: r.findings.map((f) => ({ ...f, file: swap(f.file), location: swap(f.location), message: inText(f.message) })),
    errors: r.errors.map((e) => ({ ...e, file: swap(e.file), location: swap(e.location), message: inText(e.message) })),
    members: r.members.map(swap),
  };
}

function errorReport(err: ScanError): FileReport {
  return { file: err.file, formats: [], size: 0, bytesRead: 0, findings: [], errors: [err], members: [] };
}

function cacheError(path: string, e: unknown, what: string, fix: string): ScanError {
  const code = (e as NodeJS.ErrnoException)?.code;
  const why = code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a folder' : code === 'EACCES' ? 'is not readable' : (e as Error)?.message;
  return { file: path, location: path, message: `${path}: ${what} ${why}; ${fix}.` };
}

/** The cache's files and counts, to merge into one ScanResult. */
export function cachePart(c: CacheScanReport): ResultPart {
  const files = [...c.repos.flatMap((r) => r.files), ...c.errors.map(errorReport)];
  return {
    files,
    filesScanned: c.repos.reduce((n, r) => n + r.filesScanned, 0),
    filesSkipped: c.repos.reduce((n, r) => n + r.filesSkipped, 0),
    bytesRead: c.bytesRead,
    bytesTotal: c.bytesTotal,
  };
}

/** Text lines for a cache: one line per repo and revision. */
export function describeCache(c: CacheScanReport): string[] {
  const what = c.source === 'hf-cache' ? 'Hugging Face cache' : 'PyTorch Hub cache';
  const lines = [`${what} ${safe(c.root)}`];
  for (const e of c.errors) lines.push(`  not scanned: ${safe(e.message)}`);
  for (const r of c.repos) {
    const counts = new Map<Severity, number>();
    let errors = 0;
    for (const f of r.files) {
      for (const x of f.findings) counts.set(x.severity, (counts.get(x.severity) ?? 0) + 1);
      errors += f.errors.length;
    }
    const sev = [...SEVERITIES].reverse().filter((s) => counts.get(s)).map((s) => `${counts.get(s)} ${s}`);
    const verdict = `${sev.length ? sev.join(', ') : 'no findings'}${errors ? `, ${errors} error${errors === 1 ? '' : 's'}` : ''}`;
    const label =
      c.source === 'hf-cache'
        ? `${r.kind}s/${r.name}@${r.revision}${r.refs.length ? ` (${r.refs.join(', ')})` : ''}`
        : `${r.name}${r.kind === 'hub-repo' ? (r.hubconf ? ' (hubconf.py)' : ' (no hubconf.py)') : ''}`;
    lines.push(`  ${safe(label)}: ${r.filesScanned} file${r.filesScanned === 1 ? '' : 's'} scanned, ${r.filesSkipped} skipped (not model files); ${verdict}`);
  }
  const files = c.repos.reduce((n, r) => n + r.filesScanned + r.filesSkipped, 0);
  lines.push(`  ${c.repos.length} ${c.source === 'hf-cache' ? 'snapshot' : 'folder'}${c.repos.length === 1 ? '' : 's'}, ${files} files, ${c.blobsScanned} distinct file${c.blobsScanned === 1 ? '' : 's'} scanned.`);
  return lines;
}

export function cacheJson(c: CacheScanReport): Omit<CacheScanReport, 'repos'> & { repos: (Omit<CacheRepoReport, 'files'> & { files: string[] })[] } {
  return { ...c, repos: c.repos.map(({ files, ...rest }) => ({ ...rest, files: files.map((f) => f.file) })) };
}
