import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import fc from 'fast-check';
import {
  DecompressionBudget,
  decompress,
  decompressDetailed,
  detectCompression,
  splitXzStreams,
  type CompressionKind,
} from '../../src/formats/compression.js';
import { BufferSource, FileSource } from '../../src/formats/source.js';
import { DEFAULT_LIMITS, LimitExceededError, resolveLimits } from '../../src/formats/limits.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ptmscope-comp-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Compress `data` with a system tool (gzip/bzip2/xz -c). */
async function tool(cmd: 'gzip' | 'bzip2' | 'xz', data: Buffer): Promise<Buffer> {
  return execFileSync(cmd, ['-c'], { input: data, maxBuffer: 1 << 30 });
}

const TEXT = Buffer.from('the quick brown fox jumps over the lazy dog\n'.repeat(2000));
const PICKLE = Buffer.from([0x80, 0x04, 0x95, 0x05, 0, 0, 0, 0, 0, 0, 0, 0x4b, 0x2a, 0x2e]);

async function roundTrip(kind: CompressionKind, compressed: Buffer): Promise<Buffer> {
  return decompress(kind, new BufferSource(compressed, `x.${kind}`), DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS));
}

test('detectCompression: magic bytes of real streams', async () => {
  assert.equal(detectCompression(await tool('gzip', TEXT)), 'gzip');
  assert.equal(detectCompression(await tool('bzip2', TEXT)), 'bzip2');
  assert.equal(detectCompression(await tool('xz', TEXT)), 'xz');
  for (const level of [1, 3, 6, 9]) assert.equal(detectCompression(zlib.deflateSync(TEXT, { level })), 'zlib', `zlib level ${level}`);
  // Python's zlib.compress as joblib uses it (compress=3).
  const py = execFileSync('/usr/bin/python3', ['-c', 'import sys, zlib; sys.stdout.buffer.write(zlib.compress(b"x" * 100, 3))']);
  assert.equal(detectCompression(py), 'zlib');
  assert.equal(detectCompression(PICKLE), undefined);
  assert.equal(detectCompression(Buffer.from([0x78, 0x00])), undefined); // bad FCHECK
  assert.equal(detectCompression(Buffer.from([0x78, 0xbb])), undefined); // preset dictionary
  assert.equal(detectCompression(Buffer.from('BZh0')), undefined);
  assert.equal(detectCompression(Buffer.from('BZh91AY&SY')), 'bzip2');
  assert.equal(detectCompression(Buffer.from('BZh9 not bzip')), undefined);
  assert.equal(detectCompression(Buffer.alloc(0)), undefined);
});

test('gzip, zlib, bzip2 and xz round trips', async () => {
  assert.deepEqual(await roundTrip('gzip', await tool('gzip', TEXT)), TEXT);
  assert.deepEqual(await roundTrip('zlib', zlib.deflateSync(TEXT, { level: 3 })), TEXT);
  assert.deepEqual(await roundTrip('bzip2', await tool('bzip2', TEXT)), TEXT);
  assert.deepEqual(await roundTrip('xz', await tool('xz', TEXT)), TEXT);
  assert.deepEqual(await roundTrip('gzip', await tool('gzip', Buffer.alloc(0))), Buffer.alloc(0));
});

test('reads from a file source in pieces', async () => {
  const big = randomBytes(5_000_000);
  const path = join(dir, 'big.gz');
  await writeFile(path, await tool('gzip', big));
  const src = await FileSource.open(path);
  try {
    assert.deepEqual(await decompress('gzip', src, DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS)), big);
  } finally {
    await src.close();
  }
});

test('concatenated gzip members are joined', async () => {
  const two = Buffer.concat([await tool('gzip', Buffer.from('first member|')), zlib.gzipSync('second member')]);
  assert.equal((await roundTrip('gzip', two)).toString(), 'first member|second member');
});

test('gzip: trailing zeros are padding; other trailing junk is ignored with a warning', async () => {
  const g = zlib.gzipSync(PICKLE);
  assert.deepEqual(await roundTrip('gzip', Buffer.concat([g, Buffer.alloc(100)])), PICKLE);
  const r = await decompressDetailed('gzip', new BufferSource(Buffer.concat([g, Buffer.from('JUNK')]), 'j.gz'), DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS));
  assert.deepEqual(r.data, PICKLE);
  assert.match(r.warnings.join('\n'), /bytes after the last complete gzip member were ignored/);
});

test('corrupt or truncated data: a clear error, or partial output when asked', async () => {
  const g = await tool('gzip', TEXT);
  const cut = g.subarray(0, Math.floor(g.length / 2));
  await assert.rejects(roundTrip('gzip', cut), /gzip data in x\.gzip is corrupt or truncated after \d+ output bytes/);
  const partial = await decompressDetailed('gzip', new BufferSource(cut), DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS), { allowPartial: true });
  assert.ok(partial.data.length > 0 && partial.data.length < TEXT.length);
  assert.deepEqual(partial.data, TEXT.subarray(0, partial.data.length));
  assert.match(partial.warnings.join('\n'), /partial output kept/);
  await assert.rejects(roundTrip('zlib', Buffer.from([0x78, 0x9c, 1, 2, 3, 4, 5])), /zlib data .* corrupt/);
  const b = await tool('bzip2', TEXT);
  await assert.rejects(roundTrip('bzip2', b.subarray(0, b.length - 20)), /bzip2 data .* corrupt or truncated/);
  const x = await tool('xz', TEXT);
  await assert.rejects(roundTrip('xz', x.subarray(0, x.length - 30)), /xz data .* corrupt or truncated/);
});

test('concatenated bzip2 streams are joined', async () => {
  const two = Buffer.concat([await tool('bzip2', Buffer.from('one|')), await tool('bzip2', Buffer.from('two'))]);
  assert.equal((await roundTrip('bzip2', two)).toString(), 'one|two');
  const junk = await decompressDetailed('bzip2', new BufferSource(Buffer.concat([await tool('bzip2', PICKLE), Buffer.from('trailing')])), DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS));
  assert.deepEqual(junk.data, PICKLE);
  assert.match(junk.warnings.join('\n'), /8 bytes after the last complete bzip2 stream were ignored/);
});

test('concatenated xz streams are all decoded (a second stream is not silently dropped)', async () => {
  const first = await tool('xz', Buffer.from('benign|'));
  const second = await tool('xz', PICKLE);
  const both = Buffer.concat([first, Buffer.alloc(8), second]); // stream padding between
  const ranges = splitXzStreams(both);
  assert.deepEqual(ranges?.map((r) => [r.start, r.end]), [[0, first.length], [first.length + 8, both.length]]);
  assert.deepEqual(await roundTrip('xz', both), Buffer.concat([Buffer.from('benign|'), PICKLE]));
});

test('a gzip bomb stops at maxDecompressedBytes, quickly', async () => {
  const bomb = zlib.gzipSync(Buffer.alloc(200 * 1024 * 1024), { level: 9 });
  const limits = resolveLimits({ maxDecompressedBytes: 16 * 1024 * 1024, maxCompressionRatio: 1e9 });
  await assert.rejects(
    decompress('gzip', new BufferSource(bomb), limits, new DecompressionBudget(limits)),
    (e: unknown) => e instanceof LimitExceededError && e.limit === 'maxDecompressedBytes',
  );
});

test('bombs trip maxCompressionRatio: zlib, bzip2, xz', async () => {
  const zeros = Buffer.alloc(64 * 1024 * 1024);
  const limits = resolveLimits({ maxCompressionRatio: 50, ratioCheckAfterBytes: 1024 * 1024 });
  for (const [kind, data] of [
    ['zlib', zlib.deflateSync(zeros)],
    ['bzip2', await tool('bzip2', zeros)],
    ['xz', await tool('xz', zeros)],
  ] as const) {
    await assert.rejects(
      decompress(kind, new BufferSource(data), limits, new DecompressionBudget(limits)),
      (e: unknown) => e instanceof LimitExceededError && e.limit === 'maxCompressionRatio',
      kind,
    );
  }
});

test('xz: the size declared in the index is refused up front', async () => {
  const x = await tool('xz', Buffer.alloc(8 * 1024 * 1024));
  const limits = resolveLimits({ maxDecompressedBytes: 1024 * 1024, maxCompressionRatio: 1e9 });
  const budget = new DecompressionBudget(limits);
  await assert.rejects(decompress('xz', new BufferSource(x), limits, budget), (e: unknown) => e instanceof LimitExceededError && e.limit === 'maxDecompressedBytes');
  assert.equal(budget.used, 0);
});

test('the budget accumulates across decompressions of one file', async () => {
  const limits = resolveLimits({ maxDecompressedBytes: 150_000 });
  const budget = new DecompressionBudget(limits);
  await decompress('gzip', new BufferSource(zlib.gzipSync(Buffer.alloc(100_000, 1))), limits, budget);
  assert.equal(budget.used, 100_000);
  assert.equal(budget.remaining, 50_000);
  await assert.rejects(decompress('zlib', new BufferSource(zlib.deflateSync(Buffer.alloc(100_000, 2))), limits, budget), LimitExceededError);
});

test('DecompressionBudget: ratio checks ignore small outputs', () => {
  const b = new DecompressionBudget(resolveLimits({ maxCompressionRatio: 10, ratioCheckAfterBytes: 1024 * 1024 }));
  b.checkRatio(1000, 1, 'tiny'); // under ratioCheckAfterBytes
  assert.throws(() => b.checkRatio(20 * 1024 * 1024, 1024 * 1024, 'big'), /ratio above the 10:1 limit/);
  b.checkRatio(10 * 1024 * 1024, 1024 * 1024, 'exactly 10:1');
});

test('joblib-style zlib file written by Python decompresses', async () => {
  const path = join(dir, 'j.z');
  execFileSync('/usr/bin/python3', ['-c', `import sys, zlib
open(sys.argv[1], 'wb').write(zlib.compress(bytes([0x80,4,0x95,5,0,0,0,0,0,0,0,0x4b,0x2a,0x2e]), 3))`, path]);
  const data = await readFile(path);
  assert.equal(detectCompression(data), 'zlib');
  assert.deepEqual(await roundTrip('zlib', data), PICKLE);
});

test('fuzz: mutated streams end in data or an Error, within bounds', async () => {
  const seeds: [CompressionKind, Buffer][] = [
    ['gzip', Buffer.concat([zlib.gzipSync(TEXT.subarray(0, 3000)), zlib.gzipSync(PICKLE)])],
    ['zlib', zlib.deflateSync(TEXT.subarray(0, 3000))],
    ['bzip2', await tool('bzip2', TEXT.subarray(0, 3000))],
    ['xz', await tool('xz', TEXT.subarray(0, 3000))],
  ];
  const limits = resolveLimits({ maxDecompressedBytes: 8 * 1024 * 1024 });
  const arb = fc.record({
    seed: fc.nat({ max: seeds.length - 1 }),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
  });
  await fc.assert(
    fc.asyncProperty(arb, async ({ seed, edits, cut }) => {
      const [kind, base] = seeds[seed];
      let buf = Buffer.from(base);
      for (const [pos, v] of edits) buf[pos % buf.length] = v;
      if (cut !== undefined) buf = buf.subarray(0, cut % (buf.length + 1));
      try {
        await decompress(kind, new BufferSource(buf), limits, new DecompressionBudget(limits));
      } catch (e) {
        assert.ok(e instanceof Error, `${kind}: threw a non-Error ${String(e)}`);
      }
    }),
    { numRuns: 300 },
  );
});
