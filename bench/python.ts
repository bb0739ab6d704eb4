/**
 * Code scanner figures: Python lines scanned per second and peak memory over a
 * tree of at least 100k lines. The tree is the Python standard library that
 * Debian's python3 installs (read in place, never copied into the repo); where
 * it is missing, a tree is generated in `dir` from the benign fixtures.
 * Also reports how many files of that ordinary code get a MEDIUM+ finding
 * (library code, so a few legitimate hits are expected) and the false-alarm
 * rate on the benign model-repo fixtures (expected 0).
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { FileSource } from '../src/formats/source.js';
import { createScanContext } from '../src/scan/scanner.js';
import { pythonScanner } from '../src/scan/python-scan.js';
import { severityRank } from '../src/scan/finding.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The corpus: Debian's standard library, or any folder named by PTMSCOPE_PY_CORPUS. */
const STDLIB = process.env.PTMSCOPE_PY_CORPUS ?? '/usr/lib/python3.11';
const MIN_LINES = 100_000;

async function listPy(dir: string, out: string[] = []): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory() && e.name !== '__pycache__' && e.name !== 'site-packages' && e.name !== 'dist-packages') await listPy(p, out);
    else if (e.isFile() && /\.(py|ipynb|sh)$/.test(e.name)) out.push(p);
  }
  return out;
}

/** A generated tree: the benign fixtures copied under numbered folders until there are enough lines. */
async function generatedTree(dir: string): Promise<string[]> {
  const fixtures = (await listPy(join(ROOT, 'test/fixtures/python/benign'))).filter((p) => p.endsWith('.py'));
  const texts = await Promise.all(fixtures.map((p) => readFile(p, 'utf8')));
  const out: string[] = [];
  let lines = 0;
  for (let round = 0; lines < MIN_LINES; round++) {
    const sub = join(dir, `pkg${round}`);
    await mkdir(sub, { recursive: true });
    for (let i = 0; i < texts.length; i++) {
      const p = join(sub, `m${i}.py`);
      await writeFile(p, texts[i]);
      out.push(p);
      lines += texts[i].split('\n').length;
    }
  }
  return out;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

async function scanTree(
  files: string[],
): Promise<{ lines: number; bytes: number; ms: number; cpuMs: number; peakRss: number; peakRssAbs: number; peakHeap: number; loudFiles: number; critical: number }> {
  let lines = 0;
  let bytes = 0;
  let loudFiles = 0;
  let critical = 0;
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const base = process.memoryUsage();
  let peakRss = base.rss;
  let peakHeap = base.heapUsed;
  const sample = () => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  };
  const timer = setInterval(sample, 20);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const path of files) {
    const text = await readFile(path);
    lines += text.toString('latin1').split('\n').length;
    bytes += text.length;
    const src = await FileSource.open(path);
    const ctx = createScanContext(path);
    try {
      await pythonScanner.scan(src, { location: path, depth: 0, ecosystems: ['python'] }, ctx);
    } catch {
      // notebooks that are not JSON: counted as scanned, nothing to report
    } finally {
      await src.close();
    }
    sample();
    if (ctx.findings.some((f) => severityRank(f.severity) >= severityRank('MEDIUM'))) loudFiles++;
    critical += ctx.findings.filter((f) => f.severity === 'CRITICAL').length;
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(timer);
  return { lines, bytes, ms, cpuMs: (cpu.user + cpu.system) / 1000, peakRss: peakRss - base.rss, peakRssAbs: peakRss, peakHeap: peakHeap - base.heapUsed, loudFiles, critical };
}

export async function benchPython(dir: string): Promise<void> {
  let files: string[];
  let corpus: string;
  if (existsSync(STDLIB) && (await stat(STDLIB)).isDirectory()) {
    files = (await listPy(STDLIB)).sort();
    corpus = `${STDLIB}${process.env.PTMSCOPE_PY_CORPUS ? '' : ' (Debian python3 standard library, read in place)'}`;
  } else {
    files = [];
    corpus = '';
  }
  let total = 0;
  for (const f of files) total += (await readFile(f, 'latin1')).split('\n').length;
  if (total < MIN_LINES) {
    files = await generatedTree(join(dir, 'python-tree'));
    corpus = 'generated tree of the benign fixtures';
  }
  // Warm-up: the first call loads the tree-sitter WebAssembly.
  await scanTree(files.slice(0, 1));
  const r = await scanTree(files);

  console.log('\n## Python code scanner');
  console.log(`Corpus: ${corpus}, ${fmt(files.length)} files.`);
  console.log('| files | lines | MB | wall time | lines/s (wall) | CPU time | lines/s (CPU) | MB/s (wall) | peak RSS | peak RSS growth | peak heap growth |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  console.log(
    `| ${fmt(files.length)} | ${fmt(r.lines)} | ${fmt(r.bytes / 1e6, 1)} | ${fmt(r.ms / 1000, 1)} s | ${fmt(r.lines / (r.ms / 1000))} | ${fmt(r.cpuMs / 1000, 1)} s | ${fmt(r.lines / (r.cpuMs / 1000))} | ${fmt(r.bytes / 1e6 / (r.ms / 1000), 2)} | ${fmt(r.peakRssAbs / 1e6)} MB | ${fmt(r.peakRss / 1e6)} MB | ${fmt(r.peakHeap / 1e6)} MB |`,
  );
  console.log(`\nFiles of this ordinary code with a MEDIUM+ finding: ${fmt(r.loudFiles)} of ${fmt(files.length)} (${fmt((100 * r.loudFiles) / files.length, 2)} %); CRITICAL findings: ${fmt(r.critical)}.`);

  const manifest = JSON.parse(await readFile(join(ROOT, 'test/fixtures/python/manifest.json'), 'utf8')) as { path: string; expect: unknown }[];
  const benign = manifest.filter((e) => e.expect === 'clean').map((e) => join(ROOT, 'test/fixtures/python', e.path));
  const malicious = manifest.filter((e) => e.expect !== 'clean').map((e) => join(ROOT, 'test/fixtures/python', e.path));
  const b = await scanTree(benign);
  const m = await scanTree(malicious);
  console.log('\n| corpus | files | flagged MEDIUM+ | rate |');
  console.log('|---|---:|---:|---:|');
  console.log(`| benign model-repo fixtures (false alarms) | ${benign.length} | ${b.loudFiles} | ${fmt((100 * b.loudFiles) / benign.length, 1)} % |`);
  console.log(`| malicious fixtures (detections) | ${malicious.length} | ${m.loudFiles} | ${fmt((100 * m.loudFiles) / malicious.length, 1)} % |`);
}

// `node dist/bench/python.js` runs it alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'ptmscope-bench-py-'));
  try {
    await benchPython(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
