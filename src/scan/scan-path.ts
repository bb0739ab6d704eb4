import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { SEVERITIES, severityRank } from './finding.js';
import type { FileReport, ScanError, ScanResult, ScanSummary, Severity } from './finding.js';
import { scanFile, type ScanOptions } from './scanner.js';
import { walk } from './walk.js';
import { crashReport, scanInPool } from './pool.js';

export interface ScanPathOptions extends ScanOptions {
  /** Worker threads; default min(os.availableParallelism(), number of files). */
  jobs?: number;
  /** Called after each file finishes (done counts from 1). */
  onProgress?: (done: number, total: number, file: string) => void;
}

/** Inputs this small are scanned in-process: starting workers would cost more than it saves. */
const IN_PROCESS_MAX_FILES = 2;

/**
 * Scan files and directories (recursively) and gather one ScanResult.
 * Never throws for bad input: missing paths, unreadable directories and
 * explicitly named files of an unsupported format become ScanErrors in
 * `files[].errors`; files found by walking that are not model formats are
 * only counted in `summary.filesSkipped` and left out of `files`.
 */
export async function scanPath(paths: string[], opts: ScanPathOptions = {}): Promise<ScanResult> {
  const started = performance.now();
  const { files: entries, errors: walkErrors } = await walk(paths);
  const total = entries.length;
  let done = 0;
  const progress = (file: string): void => {
    done++;
    try {
      opts.onProgress?.(done, total, file);
    } catch {
      // Progress display problems must not fail the scan.
    }
  };

  const scanOpts: ScanOptions = opts.config === undefined ? {} : { config: opts.config };
  let reports: FileReport[];
  if (total <= IN_PROCESS_MAX_FILES) {
    reports = [];
    for (const entry of entries) {
      let report: FileReport;
      try {
        report = await scanFile(entry.path, scanOpts);
      } catch (e) {
        report = crashReport(entry.path, `the scanner failed on this file: ${(e as Error)?.message ?? String(e)}`);
      }
      reports.push(report);
      progress(entry.path);
    }
  } else {
    reports = await scanInPool(
      entries.map((e) => e.path),
      {
        ...(opts.jobs !== undefined ? { jobs: opts.jobs } : {}),
        ...(opts.config !== undefined ? { config: opts.config } : {}),
        onResult: (index) => progress(entries[index].path),
      },
    );
  }

  const kept: FileReport[] = [];
  let filesScanned = 0;
  let filesSkipped = 0;
  let bytesRead = 0;
  let bytesTotal = 0;
  reports.forEach((report, i) => {
    bytesRead += report.bytesRead;
    bytesTotal += report.size;
    if (report.skipped) {
      filesSkipped++;
      if (!entries[i].explicit) return;
      const unsupported: ScanError = {
        file: report.file,
        location: report.file,
        message:
          `${report.file}: unsupported format: not a model format ptmscope reads ` +
          `(pickle-based PyTorch, joblib and NumPy files, safetensors, GGUF, ONNX, TensorFlow, Keras/HDF5, model configs, Python code, and the archives that hold them), so nothing was scanned. ` +
          `Name a model file, or scan its directory to skip non-model files silently.`,
      };
      kept.push({ ...report, errors: [...report.errors, unsupported] });
      return;
    }
    filesScanned++;
    kept.push(report);
  });
  for (const err of walkErrors) kept.push(errorOnlyReport(err));

  const findingsBySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  let errors = 0;
  for (const r of kept) {
    for (const f of r.findings) findingsBySeverity[f.severity]++;
    errors += r.errors.length;
  }

  const summary: ScanSummary = {
    filesScanned,
    filesSkipped,
    bytesRead,
    bytesTotal,
    findingsBySeverity,
    errors,
    durationMs: Math.round(performance.now() - started),
  };
  return { tool: { name: 'ptmscope', version: toolVersion() }, files: kept, summary };
}

function errorOnlyReport(err: ScanError): FileReport {
  return { file: err.file, formats: [], size: 0, bytesRead: 0, findings: [], errors: [err], members: [] };
}

/**
 * Process exit code for a result:
 * 0 when nothing is at or above `failOn` and there were no scan errors;
 * 1 when any finding is at or above `failOn` (scan errors or not);
 * 2 when some file could not be scanned and no finding reaches `failOn`.
 * With failOn 'none' findings never fail the run; errors still give 2.
 */
export function exitCode(result: ScanResult, failOn: Severity | 'none'): 0 | 1 | 2 {
  if (failOn !== 'none') {
    const min = severityRank(failOn);
    for (const f of result.files) {
      if (f.findings.some((x) => severityRank(x.severity) >= min)) return 1;
    }
  }
  const anyErrors = result.summary.errors > 0 || result.files.some((f) => f.errors.length > 0);
  return anyErrors ? 2 : 0;
}

let cachedVersion: string | undefined;

/** ptmscope's version from its package.json (found by walking up from this module). */
export function toolVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  // This module runs from dist/src/scan/ (or src/scan/ under a TS loader); look upwards.
  for (const up of ['../../package.json', '../../../package.json', '../../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'ptmscope' && typeof pkg.version === 'string') return (cachedVersion = pkg.version);
    } catch {
      // Try the next level up.
    }
  }
  return (cachedVersion = '0.0.0');
}
