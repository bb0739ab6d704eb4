/**
 * Scan a hub repo where it lives. The revision is resolved to a commit sha
 * first and every file is read at that sha, so the report names exactly what
 * was scanned (`hf://org/name@<sha>/path`). Per file:
 *
 * - small files (≤ wholeFileMax, 1 MiB): one request for the whole file;
 * - everything else: an HttpSource, through which the scanner reads only the
 *   ranges it needs: a ZIP checkpoint's end records, central directory and
 *   pickle members; safetensors, GGUF and .npy headers; a pickle's stream
 *   (skipping large byte strings); HDF5 metadata, which the HDF5 reader asks
 *   for lazily wherever it lies. A file whose scan would fetch more than the
 *   byte budget (64 MiB) is reported "not scanned (needs N bytes, budget M)".
 *
 * Transfer failures (dropped connections, truncated files, gated repos, rate
 * limits that do not clear) become ScanErrors with a clear message, never
 * "could not parse" findings, so a repo that fails exits 2 while the others
 * still scan. The Hub's own security verdict is kept beside ours.
 */
import { performance } from 'node:perf_hooks';
import { BufferSource, type ByteSource } from '../formats/source.js';
import { HttpError, newStats, type TransferStats } from '../hubs/http.js';
import { ByteBudgetError, HttpSource, TruncatedFileError } from '../hubs/http-source.js';
import { HfHub, HubError, HubNameError, repoLabel, type RepoRef, type RepoType, type SecurityRepoStatus, type TreeEntry } from '../hubs/huggingface.js';
import { formatTarget, parseHubTarget, TargetError, type HubTarget } from '../hubs/targets.js';
import { SEVERITIES, type FileReport, type ScanError, type ScanResult, type ScanSummary, type Severity } from './finding.js';
import { DEFAULT_ECOSYSTEMS } from './policy/policy.js';
import { formatBytes, safe } from './report/text.js';
import { createScanContext, scanSource, type ScanOptions } from './scanner.js';
import { toolVersion } from './scan-path.js';

export const DEFAULT_BYTE_BUDGET = 64 * 1024 * 1024;
export const DEFAULT_WHOLE_FILE_MAX = 1024 * 1024;

export interface RemoteScanOptions extends ScanOptions {
  hub: HfHub;
  /** Most bytes fetched for one file (default 64 MiB). */
  byteBudget?: number;
  /** Files up to this size are fetched whole, in one request (default 1 MiB; capped by the budget). */
  wholeFileMax?: number;
  /** Files of one repo scanned at once (default 4). */
  fileConcurrency?: number;
  /** HttpSource block size in bytes (default 64 KiB). */
  blockSize?: number;
}

export interface RemoteScanManyOptions extends RemoteScanOptions {
  /** Repos scanned at once (default 4); the client's per-host limit and rate-limit pauses still apply. */
  repoConcurrency?: number;
  /** Called as each repo finishes. */
  onRepoDone?: (report: RemoteRepoReport, done: number, total: number) => void;
}

/** Hugging Face's own verdict, from securityRepoStatus. */
export interface HubVerdict {
  /**
   * unsafe: a file is flagged unsafe (or worse); caution: other flags;
   * safe: scans done, nothing flagged; pending: scans not done (unknown, never
   * clean); unavailable: the hub gave no security status.
   */
  status: 'unsafe' | 'caution' | 'safe' | 'pending' | 'unavailable';
  scansDone?: boolean;
  filesWithIssues: { path: string; level: string }[];
}

/** whole: one request for the file; ranges: an HttpSource; not-scanned: the byte budget ran out. */
export type FileStrategy = 'whole' | 'ranges' | 'not-scanned';

export interface RemoteFileStat {
  path: string;
  size: number;
  strategy: FileStrategy;
  requests: number;
  bytesTransferred: number;
  /** The Hub's level for this file when it flagged it. */
  hubLevel?: string;
  /** True when the file is not a model format (not listed in `files`). */
  skipped?: boolean;
}

export interface RemoteRepoReport {
  /** The target as given. */
  target: string;
  type: RepoType;
  name: string;
  /** The revision asked for (undefined: the default branch). */
  revision?: string;
  /** The commit the revision resolved to. */
  sha?: string;
  hubVerdict?: HubVerdict;
  /** Reports of files that are model formats or could not be scanned, named hf://…@<sha>/path. */
  files: FileReport[];
  /** Every file of the repo: how it was read and what it cost. */
  fileStats: RemoteFileStat[];
  filesScanned: number;
  filesSkipped: number;
  /** Requests made for this repo (info, tree, files; redirects and retries count). */
  requests: number;
  /** All response bytes received for this repo: file data plus the hub's JSON. */
  bytesTransferred: number;
  /** Bytes of file data received (what `totalSize` is compared with). */
  fileBytesTransferred: number;
  /** Sum of the sizes of the repo's files (at the path given, if any). */
  totalSize: number;
  /** Why the repo as a whole could not be scanned (also in `files` as a ScanError). */
  error?: string;
  durationMs: number;
}

const UNSAFE_LEVELS = new Set(['unsafe', 'malicious', 'danger', 'dangerous', 'infected', 'blocked', 'high', 'critical']);

export function hubVerdict(s: SecurityRepoStatus | undefined): HubVerdict {
  if (!s) return { status: 'unavailable', filesWithIssues: [] };
  const files = s.filesWithIssues.filter((f) => f.level.toLowerCase() !== 'safe');
  const status: HubVerdict['status'] = files.some((f) => UNSAFE_LEVELS.has(f.level.toLowerCase()))
    ? 'unsafe'
    : files.length > 0
      ? 'caution'
      : s.scansDone
        ? 'safe'
        : 'pending';
  return { status, ...(s.scansDone !== undefined ? { scansDone: s.scansDone } : {}), filesWithIssues: files };
}

/** Hub failures after which no other file of the repo can be read either. */
const FATAL: ReadonlySet<string> = new Set(['gated', 'unauthorized', 'forbidden', 'repo-not-found', 'revision-not-found', 'rate-limited']);

/** Scan one hub repo. Never throws: failures are in the report. */
export async function scanRemoteRepo(target: HubTarget, opts: RemoteScanOptions): Promise<RemoteRepoReport> {
  const started = performance.now();
  const stats = newStats();
  const repo: RepoRef = { type: target.type, name: target.name };
  const rep = emptyReport(target.input, target.type, target.name);
  if (target.revision !== undefined) rep.revision = target.revision;
  const finish = (): RemoteRepoReport => {
    rep.requests = stats.requests;
    rep.bytesTransferred = stats.bytesTransferred;
    rep.fileBytesTransferred = rep.fileStats.reduce((n, f) => n + f.bytesTransferred, 0);
    rep.durationMs = Math.round(performance.now() - started);
    return rep;
  };
  const fail = (message: string): RemoteRepoReport => {
    rep.error = message;
    const file = rep.sha ? formatTarget(repo, rep.sha) : target.input;
    rep.files.push({ file, formats: [], size: 0, bytesRead: 0, findings: [], errors: [{ file, location: file, message }], members: [] });
    return finish();
  };

  const { hub } = opts;
  let entries: TreeEntry[];
  try {
    const info = await hub.repoInfo(repo, target.revision, { stats });
    rep.sha = info.sha;
    rep.hubVerdict = hubVerdict(info.securityRepoStatus);
    entries = (await hub.listTree(repo, info.sha, { stats })).filter((e) => e.type === 'file');
  } catch (e) {
    return fail(hub.describe(e, repo, target.revision).message);
  }
  const sha = rep.sha!;
  if (target.path !== undefined) {
    const p = target.path;
    entries = entries.filter((e) => e.path === p || e.path.startsWith(`${p}/`));
    if (entries.length === 0) return fail(`${repoLabel(repo)}@${sha}: no file or folder ${JSON.stringify(p)} at this revision`);
  }
  rep.totalSize = entries.reduce((n, e) => n + e.size, 0);
  const levels = new Map((rep.hubVerdict?.filesWithIssues ?? []).map((f) => [f.path, f.level]));
  const explicitFile = target.path !== undefined && entries.length === 1 && entries[0].path === target.path;

  const results: ({ report: FileReport; stat: RemoteFileStat } | undefined)[] = new Array(entries.length);
  let fatal: HubError | undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (!fatal && next < entries.length) {
      const i = next++;
      const r = await scanRemoteFile(repo, sha, entries[i], opts, stats);
      if (r.fatal && !fatal) fatal = r.fatal;
      if (!r.fatal) results[i] = r;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.fileConcurrency ?? 4) }, worker));
  if (fatal) return fail(fatal.message);

  for (const r of results) {
    if (!r) continue;
    const level = levels.get(r.stat.path);
    if (level) r.stat.hubLevel = level;
    rep.fileStats.push(r.stat);
    if (r.report.skipped && r.report.errors.length === 0) {
      rep.filesSkipped++;
      r.stat.skipped = true;
      if (!explicitFile) continue;
      r.report.errors.push({
        file: r.report.file,
        location: r.report.file,
        message: `${r.report.file}: unsupported format: not a model format ptmscope reads, so nothing was scanned.`,
      });
    } else rep.filesScanned++;
    rep.files.push(r.report);
  }
  return finish();
}

interface FileResult {
  report: FileReport;
  stat: RemoteFileStat;
  fatal?: HubError;
}

async function scanRemoteFile(repo: RepoRef, sha: string, entry: TreeEntry, opts: RemoteScanOptions, repoStats: TransferStats): Promise<FileResult> {
  const { hub } = opts;
  const display = `${formatTarget(repo, sha)}/${entry.path}`;
  const budget = opts.byteBudget ?? DEFAULT_BYTE_BUDGET;
  const wholeMax = Math.min(opts.wholeFileMax ?? DEFAULT_WHOLE_FILE_MAX, budget);
  const fstats = newStats();
  const stat: RemoteFileStat = { path: entry.path, size: entry.size, strategy: 'ranges', requests: 0, bytesTransferred: 0 };
  const ctx = createScanContext(display, opts.config === undefined ? {} : { config: opts.config });
  const report = (): FileReport => ({
    file: display,
    formats: ctx.formats,
    size: entry.size,
    bytesRead: fstats.bytesTransferred,
    findings: ctx.findings,
    errors: ctx.errors,
    members: ctx.members,
    ...(ctx.formats.length === 0 && ctx.errors.length === 0 ? { skipped: true } : {}),
  });
  const done = (fatal?: HubError): FileResult => {
    stat.requests = fstats.requests;
    stat.bytesTransferred = fstats.bytesTransferred;
    for (const k of Object.keys(fstats) as (keyof TransferStats)[]) repoStats[k] += fstats[k];
    return { report: report(), stat, ...(fatal ? { fatal } : {}) };
  };
  const transferError = (e: unknown): FileResult => {
    const he = describeTransfer(hub, e, repo, sha, entry.path, display);
    if (FATAL.has(he.kind)) return done(he);
    ctx.errors.push({ file: display, location: display, message: he.message });
    return done();
  };

  let url: string;
  try {
    url = hub.resolveUrl(repo, sha, entry.path);
  } catch (e) {
    return transferError(e);
  }
  let src: ByteSource;
  let http: HttpSource | undefined;
  try {
    if (entry.size <= wholeMax) {
      stat.strategy = 'whole';
      src = new BufferSource(await fetchWhole(hub, url, entry.size, display, fstats), display);
    } else {
      http = new HttpSource({
        client: hub.client,
        url,
        size: entry.size,
        name: display,
        stats: fstats,
        maxTransfer: budget,
        ...(opts.blockSize ? { blockSize: opts.blockSize } : {}),
      });
      src = http;
    }
  } catch (e) {
    return transferError(e);
  }

  try {
    await scanSource(src, { location: display, depth: 0, ecosystems: DEFAULT_ECOSYSTEMS }, ctx);
  } catch (e) {
    // scanSource turns parse problems into findings; anything left is a transfer failure.
    if (!http?.failure) return transferError(e);
  }
  if (http?.failure) {
    // The scanner may have caught the failure and written "could not parse": the file was not
    // fully read, so that finding would mislead. Replace it with the real reason.
    const failure = http.failure;
    ctx.findings.splice(0, ctx.findings.length, ...ctx.findings.filter((f) => !/parse-error$/.test(f.ruleId)));
    if (failure instanceof ByteBudgetError) stat.strategy = 'not-scanned';
    return transferError(failure);
  }
  return done();
}

async function fetchWhole(hub: HfHub, url: string, size: number, display: string, stats: TransferStats): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await hub.client.getWhole(url, size, { stats });
  } catch (e) {
    if (e instanceof HttpError && e.kind === 'budget') {
      throw new TruncatedFileError(`${display}: the server sent more than the ${size} bytes the hub lists: the file changed; scan again`, size, undefined);
    }
    throw e;
  }
  if (data.length !== size) {
    throw new TruncatedFileError(
      `${display}: the hub lists ${size} bytes but the server sent ${data.length}: the file is truncated; download it again or ask the repo owner`,
      size,
      data.length,
    );
  }
  return data;
}

function describeTransfer(hub: HfHub, e: unknown, repo: RepoRef, sha: string, path: string, display: string): HubError {
  if (e instanceof ByteBudgetError || e instanceof TruncatedFileError) return new HubError(e.message, 'budget');
  if (e instanceof HubNameError) return new HubError(`${display}: ${e.message}`, 'invalid-name');
  const he = hub.describe(e, repo, sha, path);
  if (FATAL.has(he.kind)) return he;
  if (e instanceof HttpError && e.kind === 'network') {
    return new HubError(`${display}: ${e.message.replace(/^\S+: /, '')} while reading the file (after retries); scan again later`, 'network');
  }
  return new HubError(he.message.startsWith(display) ? he.message : `${display}: ${he.message}`, he.kind, he.status);
}

/** Scan many targets, `repoConcurrency` at a time. Strings are parsed (bad ones become failed reports). */
export async function scanRemoteRepos(targets: (HubTarget | string)[], opts: RemoteScanManyOptions): Promise<RemoteRepoReport[]> {
  const out: RemoteRepoReport[] = new Array(targets.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < targets.length) {
      const i = next++;
      const t = targets[i];
      let rep: RemoteRepoReport;
      if (typeof t === 'string') {
        try {
          rep = await scanRemoteRepo(parseHubTarget(t, opts.hub.endpoint), opts);
        } catch (e) {
          rep = badTarget(t, e instanceof TargetError ? e.message : `${t}: ${(e as Error).message}`);
        }
      } else rep = await scanRemoteRepo(t, opts);
      out[i] = rep;
      done++;
      try {
        opts.onRepoDone?.(rep, done, targets.length);
      } catch {
        // A progress callback must not stop the scan.
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.repoConcurrency ?? 4, targets.length)) }, worker));
  return out;
}

/** A report with nothing scanned yet. */
function emptyReport(target: string, type: RepoType, name: string): RemoteRepoReport {
  return {
    target,
    type,
    name,
    files: [],
    fileStats: [],
    filesScanned: 0,
    filesSkipped: 0,
    requests: 0,
    bytesTransferred: 0,
    fileBytesTransferred: 0,
    totalSize: 0,
    durationMs: 0,
  };
}

/** A report for a target that could not even be parsed. */
export function badTarget(input: string, message: string): RemoteRepoReport {
  const rep = emptyReport(input, 'model', '');
  rep.files.push({ file: input, formats: [], size: 0, bytesRead: 0, findings: [], errors: [{ file: input, location: input, message }], members: [] });
  rep.error = message;
  return rep;
}

/** One part of a combined result: the files and counts of a local scan, a repo, a cache. */
export interface ResultPart {
  files: FileReport[];
  filesScanned: number;
  filesSkipped: number;
  bytesRead: number;
  bytesTotal: number;
}

export function repoPart(r: RemoteRepoReport): ResultPart {
  return { files: r.files, filesScanned: r.filesScanned, filesSkipped: r.filesSkipped, bytesRead: r.fileBytesTransferred, bytesTotal: r.totalSize };
}

export function resultPart(r: ScanResult): ResultPart {
  return { files: r.files, filesScanned: r.summary.filesScanned, filesSkipped: r.summary.filesSkipped, bytesRead: r.summary.bytesRead, bytesTotal: r.summary.bytesTotal };
}

/** One ScanResult from several parts, with the summary recounted. */
export function combineResults(parts: ResultPart[], durationMs: number): ScanResult {
  const files = parts.flatMap((p) => p.files);
  const findingsBySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  let errors = 0;
  for (const f of files) {
    for (const x of f.findings) findingsBySeverity[x.severity]++;
    errors += f.errors.length;
  }
  const sum = (k: keyof Omit<ResultPart, 'files'>): number => parts.reduce((n, p) => n + p[k], 0);
  const summary: ScanSummary = {
    filesScanned: sum('filesScanned'),
    filesSkipped: sum('filesSkipped'),
    bytesRead: sum('bytesRead'),
    bytesTotal: sum('bytesTotal'),
    findingsBySeverity,
    errors,
    durationMs: Math.round(durationMs),
  };
  return { tool: { name: 'ptmscope', version: toolVersion() }, files, summary };
}

/** The worst severity among a file's findings. */
function worst(r: FileReport): Severity | undefined {
  let w: Severity | undefined;
  for (const f of r.findings) if (!w || SEVERITIES.indexOf(f.severity) > SEVERITIES.indexOf(w)) w = f.severity;
  return w;
}

/**
 * Text lines for one repo: the resolved commit, the Hub's verdict beside
 * ptmscope's (per file where either has something to say), and bytes fetched
 * against the repo's size.
 */
export function describeRemoteRepo(r: RemoteRepoReport): string[] {
  const lines: string[] = [];
  const label = r.name ? formatTarget(r) : r.target;
  const rev = r.revision !== undefined ? ` (revision ${r.revision})` : '';
  lines.push(`${safe(label)}${r.sha ? `@${r.sha}` : ''}${safe(rev)}`);
  if (r.error) {
    lines.push(`  not scanned: ${safe(r.error)}`);
    return lines;
  }
  const v = r.hubVerdict;
  if (v) {
    const detail =
      v.status === 'unavailable'
        ? 'no security status from the hub'
        : v.status === 'pending'
          ? 'scans not done yet (unknown, not clean)'
          : v.filesWithIssues.length
            ? v.filesWithIssues.map((f) => `${safe(f.path)} (${safe(f.level)})`).join(', ')
            : 'no files flagged';
    lines.push(`  Hugging Face: ${v.status} — ${detail}`);
  }
  const counts = new Map<Severity, number>();
  for (const f of r.files) for (const x of f.findings) counts.set(x.severity, (counts.get(x.severity) ?? 0) + 1);
  const ours = [...SEVERITIES].reverse().filter((s) => counts.get(s)).map((s) => `${counts.get(s)} ${s}`);
  const errs = r.files.reduce((n, f) => n + f.errors.length, 0);
  lines.push(`  ptmscope:     ${ours.length ? ours.join(', ') : 'no findings'}${errs ? `, ${errs} error${errs === 1 ? '' : 's'}` : ''}`);
  // Files where either side has something to say, side by side.
  const byPath = new Map(r.files.map((f) => [f.file.slice(f.file.indexOf(`@${r.sha}/`) + r.sha!.length + 2), f]));
  const paths = new Set<string>([...(v?.filesWithIssues ?? []).map((f) => f.path), ...[...byPath].filter(([, f]) => f.findings.length || f.errors.length).map(([p]) => p)]);
  const width = Math.min(48, Math.max(0, ...[...paths].map((p) => p.length)));
  for (const p of [...paths].sort()) {
    const f = byPath.get(p);
    const hub = r.hubVerdict?.filesWithIssues.find((x) => x.path === p)?.level ?? (v && v.status !== 'unavailable' ? 'ok' : '-');
    const w = f ? worst(f) : undefined;
    const rules = f ? [...new Set(f.findings.filter((x) => x.severity === w).map((x) => x.ruleId))].join(', ') : '';
    const mine = f ? (f.errors.length && !w ? 'not scanned' : w ? `${w} ${rules}` : 'ok') : 'not a model file';
    lines.push(`    ${safe(p).padEnd(width)}  hub: ${safe(hub).padEnd(7)}  ptmscope: ${safe(mine)}`);
  }
  const pct = r.totalSize > 0 ? ` (${formatPercent(r.fileBytesTransferred / r.totalSize)})` : '';
  const meta = r.bytesTransferred - r.fileBytesTransferred;
  lines.push(
    `  Fetched ${formatBytes(r.fileBytesTransferred)} of ${formatBytes(r.totalSize)}${pct} of file data, plus ${formatBytes(meta)} of hub metadata, ` +
      `in ${r.requests} request${r.requests === 1 ? '' : 's'}; ` +
      `${r.filesScanned} file${r.filesScanned === 1 ? '' : 's'} scanned, ${r.filesSkipped} skipped (not model files).`,
  );
  return lines;
}

function formatPercent(x: number): string {
  if (x >= 0.1) return `${(x * 100).toFixed(0)}%`;
  if (x >= 0.001) return `${(x * 100).toFixed(2)}%`;
  return `${(x * 100).toExponential(1)}%`;
}

/** The JSON form of a repo report for `--format json`: the file reports themselves are in the top-level `files`. */
export function repoJson(r: RemoteRepoReport): Record<string, unknown> {
  return {
    target: r.target,
    type: r.type,
    name: r.name,
    ...(r.revision !== undefined ? { revision: r.revision } : {}),
    ...(r.sha !== undefined ? { sha: r.sha } : {}),
    ...(r.error !== undefined ? { error: r.error } : {}),
    ...(r.hubVerdict ? { hubVerdict: r.hubVerdict } : {}),
    requests: r.requests,
    bytesTransferred: r.bytesTransferred,
    fileBytesTransferred: r.fileBytesTransferred,
    totalSize: r.totalSize,
    filesScanned: r.filesScanned,
    filesSkipped: r.filesSkipped,
    durationMs: r.durationMs,
    files: r.files.map((f) => f.file),
    fileStats: r.fileStats,
  };
}

export type { ScanError };
