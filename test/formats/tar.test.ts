import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecompressionBudget, decompress } from '../../src/formats/compression.js';
import { BufferSource, FileSource } from '../../src/formats/source.js';
import { looksLikeTar, readTar } from '../../src/formats/tar.js';
import { DEFAULT_LIMITS, LimitExceededError, resolveLimits } from '../../src/formats/limits.js';

const PICKLE = Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]);
const BIG = randomBytes(1024 * 1024);
let dir: string;
let tree: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ptmscope-tar-'));
  tree = join(dir, 'tree');
  await mkdir(join(tree, 'data'), { recursive: true });
  await writeFile(join(tree, 'pickle'), PICKLE);
  await writeFile(join(tree, 'data', 'big.bin'), BIG);
  await writeFile(join(tree, 'empty'), '');
  await symlink('pickle', join(tree, 'link'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** tar the test tree with the system tar; returns the archive's path. */
function makeTar(name: string, args: string[] = [], members = ['pickle', 'data', 'empty', 'link']): string {
  const out = join(dir, name);
  execFileSync('tar', ['-cf', out, ...args, '-C', tree, ...members]);
  return out;
}

test('wanted regular files are kept, the rest drained', async () => {
  const path = makeTar('t.tar');
  const src = await FileSource.open(path);
  try {
    const seen: string[] = [];
    const r = await readTar(src, DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS), (name, size) => {
      seen.push(`${name}:${size}`);
      return !name.endsWith('.bin');
    });
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(seen.sort(), ['data/big.bin:1048576', 'empty:0', 'pickle:6']);
    assert.deepEqual(r.entries.map((e) => [e.name, e.size, e.type, e.truncated]), [
      ['pickle', 6, 'file', false],
      ['empty', 0, 'file', false],
    ]);
    assert.deepEqual(r.entries[0].data, PICKLE);
    // The offset locates the data in the archive, for a copy-free slice.
    assert.deepEqual(await src.read(r.entries[0].offset, 6), PICKLE);
  } finally {
    await src.close();
  }
});

test('without a filter every regular file is returned (not directories or links)', async () => {
  const buf = await readFile(makeTar('all.tar'));
  const r = await readTar(new BufferSource(buf), DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS));
  assert.deepEqual(r.entries.map((e) => e.name).sort(), ['data/big.bin', 'empty', 'pickle']);
  assert.deepEqual(r.entries.find((e) => e.name === 'data/big.bin')?.data, BIG);
});

test('v7, GNU and pax archives, long names included', async () => {
  const long = `${'d'.repeat(60)}/${'n'.repeat(80)}.pkl`;
  await mkdir(join(tree, 'd'.repeat(60)), { recursive: true });
  await writeFile(join(tree, long), PICKLE);
  for (const format of ['v7', 'gnu', 'pax', 'ustar']) {
    const members = format === 'v7' || format === 'ustar' ? ['pickle', 'empty'] : ['pickle', long];
    const buf = await readFile(makeTar(`${format}.tar`, [`--format=${format}`], members));
    assert.equal(looksLikeTar(buf.subarray(0, 512)), true, format);
    const r = await readTar(new BufferSource(buf), DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS));
    assert.deepEqual(r.entries.map((e) => e.name), members, format);
    assert.deepEqual(r.entries[0].data, PICKLE, format);
  }
});

test('every header counts against maxEntries', async () => {
  const many = join(dir, 'many');
  await mkdir(many);
  for (let i = 0; i < 20; i++) await writeFile(join(many, `f${i}`), String(i));
  const buf = execFileSync('tar', ['-cf', '-', '-C', many, '.']);
  const limits = resolveLimits({ maxEntries: 5 });
  await assert.rejects(
    readTar(new BufferSource(buf), limits, new DecompressionBudget(limits), () => false),
    (e: unknown) => e instanceof LimitExceededError && e.limit === 'maxEntries',
  );
});

test('kept data is charged to the budget; drained data is not', async () => {
  const buf = await readFile(makeTar('budget.tar'));
  const limits = resolveLimits({ maxDecompressedBytes: 512 * 1024 });
  const budget = new DecompressionBudget(limits);
  await readTar(new BufferSource(buf), limits, budget, (n) => n === 'pickle');
  assert.equal(budget.used, 6);
  await assert.rejects(
    readTar(new BufferSource(buf), limits, new DecompressionBudget(limits)),
    (e: unknown) => e instanceof LimitExceededError && e.limit === 'maxDecompressedBytes',
  );
});

test('maxEntryBytes keeps a prefix and marks it truncated', async () => {
  const buf = await readFile(makeTar('cap.tar'));
  const r = await readTar(new BufferSource(buf), DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS), undefined, { maxEntryBytes: 1000 });
  const big = r.entries.find((e) => e.name === 'data/big.bin');
  assert.equal(big?.data.length, 1000);
  assert.equal(big?.truncated, true);
  assert.deepEqual(big?.data, BIG.subarray(0, 1000));
});

test('a truncated archive returns what was read, with a warning; garbage is an error', async () => {
  const buf = await readFile(makeTar('trunc.tar', [], ['pickle', 'data']));
  const r = await readTar(new BufferSource(buf.subarray(0, 4096)), DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS));
  assert.deepEqual(r.entries.map((e) => [e.name, e.truncated]), [
    ['pickle', false],
    ['data/big.bin', true],
  ]);
  assert.match(r.warnings.join('\n'), /corrupt or truncated after 3 headers/);
  await assert.rejects(readTar(new BufferSource(randomBytes(2048)), DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS)), /not a readable tar archive/);
});

test('path traversal names are reported', async () => {
  const buf = execFileSync('/usr/bin/python3', ['-c', `import io, sys, tarfile
b = io.BytesIO()
with tarfile.open(fileobj=b, mode='w') as t:
    ti = tarfile.TarInfo('../../evil.pkl'); ti.size = 3
    t.addfile(ti, io.BytesIO(b'abc'))
sys.stdout.buffer.write(b.getvalue())`]);
  const r = await readTar(new BufferSource(buf), DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS));
  assert.equal(r.entries[0].name, '../../evil.pkl');
  assert.match(r.warnings.join('\n'), /"\.\.\/\.\.\/evil\.pkl" has an absolute or "\.\." path/);
});

test('a .tar.gz: decompress, then read', async () => {
  const tgz = execFileSync('tar', ['-czf', '-', '-C', tree, 'pickle']);
  const budget = new DecompressionBudget(DEFAULT_LIMITS);
  const tarBytes = await decompress('gzip', new BufferSource(tgz), DEFAULT_LIMITS, budget);
  assert.equal(looksLikeTar(tarBytes), true);
  const r = await readTar(new BufferSource(tarBytes), DEFAULT_LIMITS, budget);
  assert.deepEqual(r.entries[0].data, PICKLE);
});

test('looksLikeTar rejects non-tars', () => {
  assert.equal(looksLikeTar(Buffer.alloc(512)), false);
  assert.equal(looksLikeTar(randomBytes(512)), false);
  assert.equal(looksLikeTar(Buffer.from('PK\x03\x04'.padEnd(512, 'x'))), false);
  assert.equal(looksLikeTar(Buffer.alloc(100)), false);
});
