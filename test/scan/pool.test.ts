import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { scanInPool, defaultJobs } from '../../src/scan/pool.js';
import type { FileReport } from '../../src/scan/finding.js';

/**
 * Stand-in piscina task modules: they answer with a report
 * naming the thread that handled the file, and misbehave on request (the
 * file name says how), so crash handling can be exercised for real.
 */
const WORKER = `
import { threadId } from 'node:worker_threads';
export default async function ({ path: name, config }) {
  if (name.includes('exit')) process.exit(7);
  if (name.includes('throw')) throw new Error('boom in ' + name + '\\n    at somewhere');
  const delay = Number(/delay(\\d+)/.exec(name)?.[1] ?? 0);
  await new Promise((r) => setTimeout(r, delay));
  return { file: name, formats: ['thread-' + threadId], size: 1, bytesRead: 1, findings: [], errors: [], members: [], config };
}
`;

async function withWorker<T>(fn: (url: URL) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ptmscope-pool-'));
  try {
    const file = join(dir, 'worker.mjs');
    await writeFile(file, WORKER);
    return await fn(pathToFileURL(file));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('results come back in input order although they finish out of order', async () => {
  await withWorker(async (workerUrl) => {
    const paths = ['a-delay60', 'b-delay0', 'c-delay30', 'd-delay0', 'e-delay10'];
    const completed: number[] = [];
    const reports = await scanInPool(paths, { jobs: 5, workerUrl, onResult: (i) => completed.push(i) });
    assert.deepEqual(
      reports.map((r) => r.file),
      paths,
    );
    assert.equal(completed.length, paths.length);
    assert.notDeepEqual(completed, [0, 1, 2, 3, 4], 'completion order differs from input order');
  });
});

test('--jobs bounds the number of worker threads', async () => {
  await withWorker(async (workerUrl) => {
    const paths = Array.from({ length: 24 }, (_, i) => `f${i}-delay5`);
    const reports = await scanInPool(paths, { jobs: 3, workerUrl });
    const threads = new Set(reports.map((r) => r.formats[0]));
    assert.equal(threads.size, 3);
    const single = await scanInPool(paths.slice(0, 6), { jobs: 1, workerUrl });
    assert.equal(new Set(single.map((r) => r.formats[0])).size, 1);
  });
});

test('a worker crash becomes a ScanError for that file only, and the pool carries on', async () => {
  await withWorker(async (workerUrl) => {
    const paths = ['ok1', 'exit-here', 'ok2', 'throw-here', 'ok3', 'ok4', 'ok5'];
    const reports: FileReport[] = await scanInPool(paths, { jobs: 2, workerUrl });
    assert.deepEqual(
      reports.map((r) => r.file),
      paths,
    );
    const byName = new Map(reports.map((r) => [r.file, r]));
    for (const ok of ['ok1', 'ok2', 'ok3', 'ok4', 'ok5']) assert.deepEqual(byName.get(ok)!.errors, [], ok);
    const exited = byName.get('exit-here')!;
    assert.equal(exited.errors.length, 1);
    assert.match(exited.errors[0].message, /failed on this file/);
    assert.deepEqual(exited.findings, []);
    const threw = byName.get('throw-here')!;
    assert.match(threw.errors[0].message, /failed on this file \(boom in throw-here\)/);
    assert.ok(!threw.errors[0].message.includes('at somewhere'), 'only the first line of the error');
  });
});

test('the config is passed to every worker', async () => {
  await withWorker(async (workerUrl) => {
    const config = { failOn: 'HIGH', allow: ['mylib.Thing'] } as never;
    const reports = await scanInPool(['a', 'b', 'c'], { jobs: 2, workerUrl, config });
    for (const r of reports) assert.deepEqual((r as unknown as { config: unknown }).config, config);
  });
});

test('empty input and default job count', async () => {
  assert.deepEqual(await scanInPool([]), []);
  assert.equal(defaultJobs(1), 1);
  assert.ok(defaultJobs(1000) >= 1);
});

test('the real worker runs scanFile: findings come back through the pool', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ptmscope-pool-real-'));
  try {
    const evil = join(dir, 'evil.pkl');
    const clean = join(dir, 'clean.pkl');
    // Protocol-0 pickle calling os.system; only ever scanned, never loaded.
    await writeFile(evil, Buffer.from(`cos\nsystem\n(S'touch ${join(dir, 'marker')}'\ntR.`, 'latin1'));
    await writeFile(clean, Buffer.from('80027d710058010000006171014b01732e', 'hex'));
    const paths = [clean, evil, clean + '.missing', evil];
    const reports = await scanInPool(paths, { jobs: 2 });
    assert.deepEqual(
      reports.map((r) => r.file),
      paths,
    );
    assert.deepEqual(reports[0].findings, []);
    assert.ok(reports[1].findings.some((f) => f.ruleId === 'pickle/dangerous-global' && /system$/.test(f.global ?? '')));
    assert.equal(reports[2].errors.length, 1, 'scanFile reports the missing file as an error');
    assert.deepEqual(reports[3].findings, reports[1].findings);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
