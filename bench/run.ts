/**
 * `npm run bench`: prints the figures the scanner issues ask for. Inputs are made
 * on the fly in a temp dir (multi-GB files are sparse, so they cost no disk).
 */
import { copyFile, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { scanFile } from '../src/scan/scanner.js';
import { scanPath } from '../src/scan/scan-path.js';
import { realDataPkl, smallOpcodePickle, writeSparseBulkPickle, writeSparseZip } from './sparse.js';
import { benchTensors } from './tensors.js';
import { benchGraph } from './graph.js';
import { benchKeras } from './keras.js';
import { benchHub } from './hub.js';
import { benchPython } from './python.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MB = 1024 * 1024;
const GB = 1024 * MB;

function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t };
}

async function zipCheckpoints(dir: string): Promise<void> {
  console.log('\n## Bytes read on ZIP checkpoints (sparse tensor data)');
  console.log('| file size | bytes read | read / size | time |');
  console.log('|---:|---:|---:|---:|');
  // A real data.pkl from a real torch.save, so the pickle is what torch writes.
  const pkl = await realDataPkl(join(ROOT, 'test/fixtures/benign/torch_cnn_state_dict.pt'));
  for (const size of [10 * MB, 1 * GB, 5 * GB]) {
    const path = join(dir, `ckpt-${size}.pt`);
    const total = await writeSparseZip(path, [
      { name: 'archive/data.pkl', data: pkl },
      { name: 'archive/byteorder', data: Buffer.from('little') },
      { name: 'archive/data/0', data: size },
      { name: 'archive/version', data: Buffer.from('3\n') },
    ]);
    const { value: r, ms } = await timed(() => scanFile(path));
    console.log(`| ${fmt(total / MB, 0)} MB | ${fmt(r.bytesRead)} B | ${(r.bytesRead / total).toExponential(2)} | ${fmt(ms)} ms |`);
    await rm(path);
  }
}


async function pickleThroughput(dir: string): Promise<void> {
  console.log('\n## Pickle throughput');
  console.log('| input | size | opcodes | time | MB/s | bytes read |');
  console.log('|---|---:|---:|---:|---:|---:|');
  const bulk = join(dir, 'bulk.pkl');
  const size = await writeSparseBulkPickle(bulk, 16, 64 * MB);
  const b = await timed(() => scanFile(bulk));
  console.log(`| bulk BINBYTES8 (16 × 64 MB) | ${fmt(size / MB, 0)} MB | 20 | ${fmt(b.ms)} ms | ${fmt(size / MB / (b.ms / 1000), 0)} | ${fmt(b.value.bytesRead)} B |`);
  await rm(bulk);
  const small = join(dir, 'small.pkl');
  const buf = smallOpcodePickle(500_000);
  await writeFile(small, buf);
  const s = await timed(() => scanFile(small));
  console.log(`| 1M small opcodes (dict of 500k str→int) | ${fmt(buf.length / MB)} MB | ~1,000,000 | ${fmt(s.ms)} ms | ${fmt(buf.length / MB / (s.ms / 1000))} | ${fmt(s.value.bytesRead)} B |`);
  if (s.value.findings.some((f) => f.severity !== 'INFO' && f.severity !== 'LOW')) console.log('  (unexpected findings on the small-opcode pickle)');
}

async function directoryScan(dir: string): Promise<void> {
  console.log('\n## Directory of 1,000 mixed fixtures');
  const src = [join(ROOT, 'test/fixtures/benign'), join(ROOT, 'test/fixtures/malicious')];
  const files: string[] = [];
  for (const d of src) for (const f of await readdir(d, { recursive: true })) {
    const p = join(d, f);
    if ((await stat(p)).isFile()) files.push(p);
  }
  const target = join(dir, 'many');
  await mkdir(target);
  for (let i = 0; i < 1000; i++) await copyFile(files[i % files.length], join(target, `${i}-${files[i % files.length].split('/').pop()}`));
  const { value: r, ms } = await timed(() => scanPath([target], {}));
  const rss = process.resourceUsage().maxRSS / 1024;
  console.log(`files: ${r.summary.filesScanned} scanned, ${r.summary.filesSkipped} skipped; ${fmt(ms)} ms; ${fmt((r.summary.filesScanned + r.summary.filesSkipped) / (ms / 1000))} files/s; peak RSS ${fmt(rss, 0)} MB (whole process, workers included)`);
}

const dir = await mkdtemp(join(tmpdir(), 'ptmscope-bench-'));
try {
  console.log(`# ptmscope benchmarks (${new Date().toISOString()}, node ${process.version})`);
  await zipCheckpoints(dir);
  await pickleThroughput(dir);
  await directoryScan(dir);
  await benchTensors(dir);
  await benchGraph(dir);
  await benchKeras(dir);
  await benchHub(dir);
  await benchPython(dir);
} finally {
  await rm(dir, { recursive: true, force: true });
}
