/**
 * Worker-thread side of the scan pool (a piscina task module): scans one file.
 * scanFile never throws for a bad file, so a throw here is a ptmscope bug; the
 * pool turns it into a ScanError for that file.
 */
import { scanFile, type ScanOptions } from './scanner.js';
import type { PoolTask } from './pool.js';

// One options object per distinct config, so the scanner's per-config policy cache hits.
let lastKey: string | undefined;
let lastOptions: ScanOptions = {};

export default async function scan(task: PoolTask) {
  const key = task.config === undefined ? '' : JSON.stringify(task.config);
  if (key !== lastKey) {
    lastKey = key;
    lastOptions = task.config === undefined ? {} : { config: task.config };
  }
  return scanFile(task.path, lastOptions);
}
