import { availableParallelism } from 'node:os';
import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { FileReport } from './finding.js';
import type { ScanConfig } from './config.js';

/** Message from the pool to a worker: scan one file. */
export interface PoolRequest {
  id: number;
  path: string;
}

/**
 * Sent once per worker as workerData. The config travels once rather than
 * with every file so the worker keeps one object, and whatever the scanner
 * caches per config object (the compiled policy) is built once per worker.
 */
export interface PoolWorkerData {
  config?: ScanConfig;
}

/** Message from a worker back to the pool. */
export type PoolReply = { id: number; report: FileReport } | { id: number; error: string };

export interface PoolOptions {
  /** Worker threads to start; default min(os.availableParallelism(), number of files). */
  jobs?: number;
  /** Passed to scanFile in each worker (plain data: it is structured-cloned). */
  config?: ScanConfig;
  /** Called as each file finishes, in completion order. */
  onResult?: (index: number, report: FileReport) => void;
  /**
   * The worker module. Defaults to the compiled pool-worker.js next to this
   * file; tests substitute one that crashes on purpose.
   */
  workerUrl?: URL;
  /** Heap cap per worker in MiB, so a runaway file fails alone instead of taking the process down. */
  maxWorkerMemoryMb?: number;
}

/** The default number of workers for `fileCount` files. */
export function defaultJobs(fileCount: number): number {
  return Math.max(1, Math.min(availableParallelism(), fileCount));
}

/**
 * Scan `paths` with scanFile on worker threads. Reports come back in the
 * order of `paths` (onResult sees completion order). A worker that crashes
 * or dies takes only its current file with it: that file gets a report with
 * a ScanError, a fresh worker replaces the dead one, and the rest go on.
 */
export async function scanInPool(paths: string[], opts: PoolOptions = {}): Promise<FileReport[]> {
  const results: FileReport[] = new Array(paths.length);
  if (paths.length === 0) return results;
  const jobs = Math.max(1, Math.min(opts.jobs ?? defaultJobs(paths.length), paths.length));
  const workerUrl = opts.workerUrl ?? new URL('./pool-worker.js', import.meta.url);

  let next = 0;
  let done = 0;

  return new Promise<FileReport[]>((resolve) => {
    const finish = (index: number, report: FileReport): void => {
      if (results[index] !== undefined) return;
      results[index] = report;
      done++;
      try {
        opts.onResult?.(index, report);
      } catch {
        // A failing progress callback must not wedge the pool.
      }
      if (done === paths.length) resolve(results);
    };

    const startWorker = (): void => {
      if (next >= paths.length) return;
      const workerData: PoolWorkerData = opts.config !== undefined ? { config: opts.config } : {};
      const worker = new Worker(workerUrl, {
        workerData,
        ...(opts.maxWorkerMemoryMb ? { resourceLimits: { maxOldGenerationSizeMb: opts.maxWorkerMemoryMb } } : {}),
      });
      let current: number | undefined;
      let crash: string | undefined;

      const feed = (): void => {
        if (next >= paths.length) {
          current = undefined;
          void worker.terminate();
          return;
        }
        current = next++;
        const req: PoolRequest = { id: current, path: paths[current] };
        worker.postMessage(req);
      };

      worker.on('message', (msg: PoolReply) => {
        if (msg.id !== current) return;
        const index = current;
        if ('report' in msg) finish(index, msg.report);
        else finish(index, crashReport(paths[index], `the scanner failed on this file: ${firstLine(msg.error)}`));
        feed();
      });
      worker.on('messageerror', (err) => {
        if (current === undefined) return;
        const index = current;
        finish(index, crashReport(paths[index], `the scan result could not be passed back: ${err.message}`));
        feed();
      });
      worker.on('error', (err) => {
        crash = err?.message ?? String(err);
      });
      worker.on('exit', (code) => {
        if (current !== undefined) {
          const index = current;
          current = undefined;
          const why = crash ?? `the worker exited with code ${code}`;
          finish(index, crashReport(paths[index], `the scanner crashed on this file (${why})`));
          // Replace the dead worker so the remaining files still run in parallel.
          startWorker();
        }
      });

      feed();
    };

    for (let i = 0; i < jobs; i++) startWorker();
  });
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
    errors: [
      {
        file: path,
        location: path,
        message: `${reason}. The file was not scanned; this is a ptmscope bug, please report it.`,
      },
    ],
    members: [],
  };
}

function firstLine(text: string): string {
  const i = text.indexOf('\n');
  return i < 0 ? text : text.slice(0, i);
}
