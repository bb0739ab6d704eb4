/**
 * Hub benchmarks (`benchHub(dir)`, called from bench/run.ts; or run this file
 * alone: `node dist/bench/hub.js`). Everything is served by the loopback test
 * hub; the multi-GB files are sparse files written to `dir`.
 *
 * 1. Bytes and requests to scan a repo holding a 5 GB ZIP checkpoint, a 5 GB
 *    safetensors file and a 5 GB GGUF file, against their size.
 * 2. Repos per second over 200 small fixture repos, with 20 ms of latency
 *    added to every request.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { HfHub } from '../src/hubs/huggingface.js';
import { scanRemoteRepo, scanRemoteRepos } from '../src/scan/remote.js';
import { parseHubTarget } from '../src/hubs/targets.js';
import { startHubServer } from '../test/support/hub-server/server.js';
import { benchRepos } from '../test/support/hub-server/repos.js';
import { writeSparseGguf, writeSparseSafetensors } from '../test/support/hub-server/model-files.js';
import { realDataPkl, writeSparseZip } from './sparse.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MB = 1024 * 1024;
const GB = 1024 * MB;

function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits });
}


async function bigFiles(dir: string): Promise<void> {
  console.log('\n## Remote scan of multi-GB files (sparse, served by the loopback hub)');
  const zip = join(dir, 'pytorch_model.bin');
  await writeSparseZip(zip, [
    { name: 'archive/data.pkl', data: await realDataPkl(join(ROOT, 'test/fixtures/benign/torch_cnn_state_dict.pt')) },
    { name: 'archive/byteorder', data: Buffer.from('little') },
    { name: 'archive/data/0', data: 5 * GB },
    { name: 'archive/version', data: Buffer.from('3\n') },
  ]);
  await writeSparseSafetensors(join(dir, 'model.safetensors'), 5 * GB);
  await writeSparseGguf(join(dir, 'model.gguf'), 5 * GB);
  const server = await startHubServer({
    repos: [
      {
        type: 'model',
        name: 'bench/big-model',
        files: [
          { path: 'pytorch_model.bin', file: zip },
          { path: 'model.safetensors', file: join(dir, 'model.safetensors') },
          { path: 'model.gguf', file: join(dir, 'model.gguf') },
          { path: 'config.json', data: Buffer.from('{"model_type": "llama"}\n') },
        ],
      },
    ],
  });
  try {
    const hub = HfHub.create({ endpoint: server.url, env: {} });
    const t0 = performance.now();
    const r = await scanRemoteRepo(parseHubTarget('hf://bench/big-model'), { hub });
    const ms = performance.now() - t0;
    console.log('| file | size | formats | requests | bytes transferred | transferred / size |');
    console.log('|---|---:|---|---:|---:|---:|');
    for (const s of r.fileStats) {
      const rep = r.files.find((f) => f.file.endsWith(`/${s.path}`));
      const formats = rep?.formats.join(' > ') || (s.skipped ? 'not a model file' : '-');
      const errs = rep?.errors.length ? ` (error: ${rep.errors[0].message})` : '';
      console.log(`| ${s.path} | ${fmt(s.size / MB, 0)} MB | ${formats}${errs} | ${s.requests} | ${fmt(s.bytesTransferred)} B | ${(s.bytesTransferred / s.size).toExponential(2)} |`);
    }
    console.log(
      `repo: ${r.requests} requests in all (info, tree, files; redirect hops count), ${fmt(r.fileBytesTransferred / 1024)} KiB of file data + ` +
        `${fmt((r.bytesTransferred - r.fileBytesTransferred) / 1024)} KiB of hub JSON for ${fmt(r.totalSize / GB, 2)} GiB; ${fmt(ms)} ms`,
    );
  } finally {
    await server.close();
  }
}

async function manyRepos(): Promise<void> {
  console.log('\n## 200 fixture repos, 20 ms latency per request');
  const count = 200;
  const server = await startHubServer({ repos: benchRepos(ROOT, count), latencyMs: 20 });
  try {
    console.log('| repos at once | repos/s | requests | requests/repo | time |');
    console.log('|---:|---:|---:|---:|---:|');
    for (const repoConcurrency of [4, 16]) {
      server.reset();
      const hub = HfHub.create({ endpoint: server.url, env: {} });
      const targets = Array.from({ length: count }, (_, i) => `hf://bench/repo-${String(i).padStart(3, '0')}`);
      const t0 = performance.now();
      const reps = await scanRemoteRepos(targets, { hub, repoConcurrency });
      const s = (performance.now() - t0) / 1000;
      const failed = reps.filter((x) => x.error).length;
      const findings = reps.filter((x) => x.files.some((f) => f.findings.some((y) => y.severity === 'CRITICAL'))).length;
      const requests = reps.reduce((n, x) => n + x.requests, 0);
      console.log(`| ${repoConcurrency} | ${fmt(count / s)} | ${requests} | ${fmt(requests / count)} | ${fmt(s, 2)} s |${failed ? ` ${failed} failed` : ''}`);
      if (findings !== count / 10) console.log(`  (expected ${count / 10} repos with a CRITICAL finding, got ${findings})`);
    }
    console.log('(per-host limit 8 requests in flight, the HttpClient default)');
  } finally {
    await server.close();
  }
}

export async function benchHub(dir: string): Promise<void> {
  await bigFiles(dir);
  await manyRepos();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = await mkdtemp(join(tmpdir(), 'ptmscope-bench-hub-'));
  try {
    console.log(`# ptmscope hub benchmarks (${new Date().toISOString()}, node ${process.version})`);
    await benchHub(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
