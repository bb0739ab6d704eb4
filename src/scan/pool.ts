/**
 * Scans many files on worker threads with piscina: a bounded pool whose dead
 * workers are replaced, so a file that crashes its worker fails alone.
 */
import { availableParallelism } from 'node:os';
import { statSync } from 'node:fs';
import { Piscina } from 'piscina';
import type { FileReport } from './finding.js';
import type { ScanConfig } from './config.js';

/** One task: scan this path with this config (plain data; structured-cloned). */
export interface PoolTask {
  path: string;
  config?: ScanConfig;
}

export interface PoolOptions {
  /** Worker threads; default min(os.availableParallelism(), number of files). */
  jobs?: number;
  /** Passed to scanFile in each worker. */
  config?: ScanConfig;
  /** Called as each file finishes, in completion order. */
  onResult?: (index: number, report: FileReport) => void;
  /** The worker module (default: pool-worker.js beside this file); tests pass one that crashes on purpose. */
  workerUrl?: URL;
  /** Heap cap per worker in MiB, so a runaway file fails alone instead of taking the process down. */
  maxWorkerMemoryMb?: number;
}

/** The default number of workers for `fileCount` files. */
export function defaultJobs(fileCount: number): number {
  return Math.max(1, Math.min(availableParallelism(), fileCount));
}

/**
 * Scan `paths` with scanFile on worker threads. Reports come back in the order
 * of `paths` (onResult sees completion order). A task that throws, or whose
 * worker dies, becomes a report with one ScanError; the other files go on.
 */
export async function scanInPool(paths: string[], opts: PoolOptions = {}): Promise<FileReport[]> {
  if (paths.length === 0) return [];
  const jobs = Math.max(1, Math.min(opts.jobs ?? defaultJobs(paths.length), paths.length));
  const pool = new Piscina({
    filename: (opts.workerUrl ?? new URL('./pool-worker.js', import.meta.url)).href,
    minThreads: jobs,
    maxThreads: jobs,
    // Every file is queued at once; the pool runs `jobs` of them at a time.
    maxQueue: paths.length,
    ...(opts.maxWorkerMemoryMb ? { resourceLimits: { maxOldGenerationSizeMb: opts.maxWorkerMemoryMb } } : {}),
  });
  try {
    return await Promise.all(
      paths.map(async (path, index) => {
        const task: PoolTask = opts.config === undefined ? { path } : { path, config: opts.config };
        let report: FileReport;
        try {
          report = (await pool.run(task)) as FileReport;
        } catch (e) {
          report = crashReport(path, `the scanner failed on this file (${firstLine(e instanceof Error ? e.message : String(e))})`);
        }
        try {
          opts.onResult?.(index, report);
        } catch {
          // A failing progress callback must not wedge the scan.
        }
        return report;
      }),
    );
  } finally {
    await pool.destroy();
  }
}

/** A report for a file whose scan died: no findings, one ScanError (exit code 2). */
export function crashReport(path: string, reason: string): FileReport {
  let size = 0;
  try {
    size = statSync(path).size;
  } catch {
    // The size is informational only.
  }
  return {
    file: path,
    formats: [],
    size,
    bytesRead: 0,
    findings: [],
    errors: [{ file: path, location: path, message: `${reason}. The file was not scanned; this is a ptmscope bug, please report it.` }],
    members: [],
  };
}

function firstLine(text: string): string {
  const i = text.indexOf('\n');
  return i < 0 ? text : text.slice(0, i);
}
