import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseSeverity, type ScanResult, type Severity } from '../scan/finding.js';
import { loadConfig, type ScanConfig } from '../scan/config.js';
import { scanPath, exitCode } from '../scan/scan-path.js';
import { formatReport, REPORT_FORMATS, toJson, type ReportFormat } from '../scan/report/index.js';
import { HfHub } from '../hubs/huggingface.js';
import { isHubTarget } from '../hubs/targets.js';
import {
  combineResults,
  describeRemoteRepo,
  repoJson,
  repoPart,
  resultPart,
  scanRemoteRepos,
  type RemoteRepoReport,
  type ResultPart,
} from '../scan/remote.js';
import { cacheJson, cachePart, describeCache, scanHfCache, scanTorchHubCache, type CacheScanReport } from '../scan/caches.js';
import { ProgressBar, PROGRESS_MIN_FILES } from './progress.js';

/** Used when neither --fail-on nor the config file says otherwise. */
export const DEFAULT_FAIL_ON: Severity = 'MEDIUM';

export interface ScanCommandOptions {
  format: ReportFormat;
  output?: string;
  failOn?: Severity | 'none';
  config?: string;
  jobs?: number;
  progress: boolean;
  verbose?: boolean;
  quiet?: boolean;
  /** Hugging Face token (default HF_TOKEN); sent to the hub endpoint only. */
  token?: string;
  /** Hub endpoint (default HF_ENDPOINT, else https://huggingface.co). */
  hfEndpoint?: string;
  /** A file of targets, one per line ("-" for stdin). */
  from?: string;
  /** Scan the Hugging Face cache: true for the default location, or a folder. */
  hfCache?: string | boolean;
  /** Scan the PyTorch Hub cache: true for the default location, or a folder. */
  torchHubCache?: string | boolean;
  /** Most bytes fetched for one remote file. */
  byteBudget?: number;
  /** Hub repos scanned at once. */
  repoJobs?: number;
}

/** Where the command writes; the real process streams unless a caller substitutes its own. */
export interface CommandIO {
  stdout: { write(chunk: string): boolean; isTTY?: boolean };
  stderr: { write(chunk: string): boolean; isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export function parseFailOn(value: string): Severity | 'none' {
  if (value.toLowerCase() === 'none') return 'none';
  const sev = parseSeverity(value);
  if (!sev) throw new InvalidArgumentError('Use one of INFO, LOW, MEDIUM, HIGH, CRITICAL or none.');
  return sev;
}

export function parseJobs(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError('Use a whole number of worker threads, 1 or more.');
  }
  return n;
}

/** "64M", "1.5G", "500k", "1048576": bytes (powers of 1024). */
export function parseByteSize(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(value);
  const n = m ? Number(m[1]) * 1024 ** 'bkmgt'.indexOf((m[2] || 'b').toLowerCase()) : NaN;
  if (!m || !Number.isFinite(n) || n < 1) throw new InvalidArgumentError('Use a size such as 500M, 2G or a number of bytes.');
  return Math.floor(n);
}

export function registerScanCommand(program: Command): Command {
  return program
    .command('scan')
    .description(
      'Scan model files and directories for code that would run when they are loaded. ' +
        'Nothing is ever unpickled or executed.',
    )
    .argument(
      '[targets...]',
      'model files and directories (scanned recursively), hub repos (hf://org/name[@revision], hf://datasets/org/name, ' +
        'hf://spaces/org/name) and https://huggingface.co/… URLs',
    )
    .addOption(
      new Option('-f, --format <format>', 'report format').choices([...REPORT_FORMATS]).default('text'),
    )
    .option('-o, --output <file>', 'write the report to FILE instead of stdout')
    .addOption(
      new Option(
        '--fail-on <severity>',
        `exit 1 when a finding is at or above this severity: INFO|LOW|MEDIUM|HIGH|CRITICAL|none (default: config failOn, else ${DEFAULT_FAIL_ON})`,
      ).argParser(parseFailOn),
    )
    .option('-c, --config <file>', 'ptmscope config file (default: looked up from the current directory)')
    .addOption(new Option('-j, --jobs <n>', 'worker threads (default: number of CPUs)').argParser(parseJobs))
    .option('--no-progress', 'never show the progress bar')
    .option('-v, --verbose', 'also list files without findings')
    .option('-q, --quiet', 'text format: only findings and errors, no summary; no progress or notes on stderr')
    .option('--from <file>', 'also scan the targets listed in FILE, one per line ("#" comments; "-" reads stdin); hub repos run concurrently')
    .option('--token <token>', 'Hugging Face token for gated and private repos (default: $HF_TOKEN); sent to the hub endpoint only')
    .option('--hf-endpoint <url>', 'hub endpoint or mirror (default: $HF_ENDPOINT, else https://huggingface.co)')
    .addOption(
      new Option('--byte-budget <size>', 'most bytes fetched for one remote file, e.g. 500M (default 64M); larger reads are reported not scanned').argParser(
        parseByteSize,
      ),
    )
    .addOption(new Option('--repo-jobs <n>', 'hub repos scanned at once (default 4)').argParser(parseJobs))
    .option('--hf-cache [dir]', 'scan the Hugging Face cache (default: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)')
    .option('--torch-hub-cache [dir]', 'scan the PyTorch Hub cache (default: $TORCH_HOME/hub, else ~/.cache/torch/hub)')
    .addHelpText(
      'after',
      '\nExit codes: 0 nothing at or above --fail-on, 1 findings at or above --fail-on, ' +
        '2 some file could not be scanned (and no finding reached --fail-on) or bad usage.\n' +
        'Hub repos are read at the commit their revision resolves to, fetching only the ranges the scanner needs; ' +
        'see docs/hub.md.',
    )
    .action(async (paths: string[], options: ScanCommandOptions) => {
      process.exitCode = await runScanCommand(paths, options);
    });
}

/** Runs `ptmscope scan`; returns the process exit code. */
export async function runScanCommand(
  paths: string[],
  options: ScanCommandOptions,
  io: CommandIO = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() },
): Promise<number> {
  const note = (text: string): void => {
    if (!options.quiet) io.stderr.write(`ptmscope: ${text}\n`);
  };

  let config: ScanConfig;
  try {
    ({ config } = await loadConfig(options.config !== undefined ? { path: options.config, cwd: io.cwd } : { cwd: io.cwd }));
  } catch (e) {
    // ConfigError messages name the file, the key and what is accepted.
    io.stderr.write(`ptmscope: ${(e as Error)?.message ?? String(e)}\n`);
    return 2;
  }

  // Precedence: the command line, then the config file, then the default.
  const failOn: Severity | 'none' = options.failOn ?? config.failOn ?? DEFAULT_FAIL_ON;

  const targets = [...paths];
  if (options.from !== undefined) {
    try {
      targets.push(...(await readTargetList(options.from, io.cwd)));
    } catch (e) {
      io.stderr.write(`ptmscope: cannot read --from ${options.from}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  const hfCache = options.hfCache;
  const torchCache = options.torchHubCache;
  if (targets.length === 0 && !hfCache && !torchCache) {
    io.stderr.write('ptmscope: nothing to scan: name files, folders or hub repos (hf://org/name), or use --from, --hf-cache or --torch-hub-cache\n');
    return 2;
  }
  const local = targets.filter((t) => !isHubTarget(t));
  const remote = targets.filter((t) => isHubTarget(t));

  const started = performance.now();
  const showProgress = options.progress !== false && !options.quiet && io.stderr.isTTY === true;
  let bar: ProgressBar | undefined;
  const parts: ResultPart[] = [];
  let localResult: ScanResult | undefined;
  if (local.length > 0) {
    localResult = await scanPath(local, {
      config,
      ...(options.jobs !== undefined ? { jobs: options.jobs } : {}),
      ...(showProgress
        ? {
            onProgress: (done: number, total: number, file: string) => {
              if (total <= PROGRESS_MIN_FILES) return;
              bar ??= new ProgressBar(io.stderr);
              bar.update(done, total, file);
            },
          }
        : {}),
    });
    (bar as ProgressBar | undefined)?.finish();
    bar = undefined;
    parts.push(resultPart(localResult));
  }

  let repos: RemoteRepoReport[] = [];
  if (remote.length > 0) {
    let hub: HfHub;
    try {
      hub = HfHub.create({
        env: io.env,
        ...(options.token !== undefined ? { token: options.token } : {}),
        ...(options.hfEndpoint !== undefined ? { endpoint: options.hfEndpoint } : {}),
      });
    } catch (e) {
      io.stderr.write(`ptmscope: ${(e as Error).message}\n`);
      return 2;
    }
    repos = await scanRemoteRepos(remote, {
      hub,
      config,
      ...(options.byteBudget !== undefined ? { byteBudget: options.byteBudget } : {}),
      ...(options.repoJobs !== undefined ? { repoConcurrency: options.repoJobs } : {}),
      ...(showProgress && remote.length > PROGRESS_MIN_FILES
        ? {
            onRepoDone: (r: RemoteRepoReport, done: number, total: number) => {
              bar ??= new ProgressBar(io.stderr);
              bar.update(done, total, r.target);
            },
          }
        : {}),
    });
    (bar as ProgressBar | undefined)?.finish();
    parts.push(...repos.map(repoPart));
  }

  const caches: CacheScanReport[] = [];
  const cacheOpts = { env: io.env, config, ...(options.jobs !== undefined ? { jobs: options.jobs } : {}) };
  if (hfCache) caches.push(await scanHfCache(typeof hfCache === 'string' ? resolve(io.cwd, hfCache) : undefined, cacheOpts));
  if (torchCache) caches.push(await scanTorchHubCache(typeof torchCache === 'string' ? resolve(io.cwd, torchCache) : undefined, cacheOpts));
  parts.push(...caches.map(cachePart));

  const result = localResult && parts.length === 1 ? localResult : combineResults(parts, performance.now() - started);

  const toFile = options.output !== undefined;
  const color = !toFile && options.format === 'text' && useColor(io);
  let report = formatReport(result, options.format, {
    color,
    verbose: options.verbose === true,
    quiet: options.quiet === true,
    cwd: io.cwd,
  });
  if (repos.length > 0 || caches.length > 0) report = addSourceReports(report, options, repos, caches, result);

  if (toFile) {
    try {
      await writeFile(options.output!, report);
    } catch (e) {
      io.stderr.write(`ptmscope: cannot write the report to ${options.output}: ${(e as Error).message}\n`);
      return 2;
    }
    note(`wrote ${options.format} report to ${options.output}`);
  } else if (report.length > 0) {
    io.stdout.write(report);
  }
  return exitCode(result, failOn);
}

/** Targets from a --from file: one per line, blank lines and "#" comments ignored. */
async function readTargetList(from: string, cwd: string): Promise<string[]> {
  const text = from === '-' ? await readStdin() : await readFile(resolve(cwd, from), 'utf8');
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter((l) => l !== '');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Hub repos and caches get their own lines: in text, a block per repo (the
 * commit scanned, Hugging Face's verdict beside ours, bytes fetched against the
 * repo's size) before the summary line; in JSON, `repos` and `caches` arrays
 * next to `files`. SARIF carries the findings only.
 */
function addSourceReports(report: string, options: ScanCommandOptions, repos: RemoteRepoReport[], caches: CacheScanReport[], result: ScanResult): string {
  if (options.format === 'json') {
    const doc = {
      ...toJson(result),
      ...(repos.length ? { repos: repos.map(repoJson) } : {}),
      ...(caches.length ? { caches: caches.map(cacheJson) } : {}),
    };
    return JSON.stringify(doc, null, 2) + '\n';
  }
  if (options.format !== 'text' || options.quiet) return report;
  const blocks = [...repos.map(describeRemoteRepo), ...caches.map(describeCache)].map((lines) => lines.join('\n'));
  const lines = report.replace(/\n$/, '').split('\n');
  const summary = lines.pop() ?? '';
  const head = lines.length ? lines.join('\n') + (lines[lines.length - 1] === '' ? '' : '\n') + '\n' : '';
  return `${head}${blocks.join('\n\n')}\n\n${summary}\n`;
}

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org); FORCE_COLOR forces it. */
export function useColor(io: Pick<CommandIO, 'stdout' | 'env'>): boolean {
  if (io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '') return false;
  const force = io.env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force.toLowerCase() !== 'false';
  return io.stdout.isTTY === true;
}
