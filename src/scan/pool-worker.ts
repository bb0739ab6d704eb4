/**
 * Worker-thread side of the scan pool: receives one path at a time, runs
 * scanFile on it and posts the FileReport back. scanFile never throws for a
 * bad file, so anything caught here is a ptmscope bug; it is still returned
 * per file so the pool can carry on.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { scanFile, type ScanOptions } from './scanner.js';
import type { PoolRequest, PoolReply, PoolWorkerData } from './pool.js';

const port = parentPort;
if (!port) throw new Error('pool-worker.js must be started as a worker thread by pool.ts');

// One options object for the worker's lifetime, so per-config caches in the scanner hit.
const data = (workerData ?? {}) as PoolWorkerData;
const options: ScanOptions = data.config === undefined ? {} : { config: data.config };

port.on('message', (msg: PoolRequest) => {
  void handle(msg);
});

async function handle(msg: PoolRequest): Promise<void> {
  let reply: PoolReply;
  try {
    const report = await scanFile(msg.path, options);
    reply = { id: msg.id, report };
  } catch (e) {
    reply = { id: msg.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
  port!.postMessage(reply);
}
