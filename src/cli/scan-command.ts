import { writeFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseSeverity, type Severity } from '../scan/finding.js';
import { loadConfig, type ScanConfig } from '../scan/config.js';
import { scanPath, exitCode } from '../scan/scan-path.js';
import { formatReport, REPORT_FORMATS, type ReportFormat } from '../scan/report/index.js';
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

export function registerScanCommand(program: Command): Command {
  return program
    .command('scan')
    .description(
      'Scan model files and directories for code that would run when they are loaded. ' +
        'Nothing is ever unpickled or executed.',
    )
    .argument('<paths...>', 'model files and/or directories (scanned recursively)')
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
    .addHelpText(
      'after',
      '\nExit codes: 0 nothing at or above --fail-on, 1 findings at or above --fail-on, ' +
        '2 some file could not be scanned (and no finding reached --fail-on) or bad usage.',
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

  const showProgress = options.progress !== false && !options.quiet && io.stderr.isTTY === true;
  let bar: ProgressBar | undefined;
  const result = await scanPath(paths, {
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

  const toFile = options.output !== undefined;
  const color = !toFile && options.format === 'text' && useColor(io);
  const report = formatReport(result, options.format, {
    color,
    verbose: options.verbose === true,
    quiet: options.quiet === true,
    cwd: io.cwd,
  });

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

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org); FORCE_COLOR forces it. */
export function useColor(io: Pick<CommandIO, 'stdout' | 'env'>): boolean {
  if (io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '') return false;
  const force = io.env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force.toLowerCase() !== 'false';
  return io.stdout.isTTY === true;
}
