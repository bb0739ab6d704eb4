import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecompressionBudget } from '../../src/formats/compression.js';
import { looksLike7z, read7z } from '../../src/formats/sevenzip.js';
import { BufferSource } from '../../src/formats/source.js';
import { DEFAULT_LIMITS, LimitExceededError, resolveLimits } from '../../src/formats/limits.js';

const PICKLE = Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]);
const BIN = randomBytes(200_000);
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ptmscope-7z-'));
  await mkdir(join(dir, 'src', 'archive', 'data'), { recursive: true });
  await writeFile(join(dir, 'src', 'archive', 'data.pkl'), PICKLE);
  await writeFile(join(dir, 'src', 'archive', 'data', '0'), BIN);
  await writeFile(join(dir, 'zeros'), Buffer.alloc(32 * 1024 * 1024));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Make a 7z archive with the system 7z; `files` are relative to `cwd`. */
async function make7z(name: string, files: string[], extra: string[] = [], cwd = join(dir, 'src')): Promise<Buffer> {
  const out = join(dir, name);
  execFileSync('7z', ['a', '-bd', '-y', ...extra, out, ...files], { cwd, stdio: 'ignore' });
  return readFile(out);
}

test('lists and extracts a 7z archive in memory', async () => {
  const buf = await make7z('a.7z', ['archive']);
  assert.equal(looksLike7z(buf), true);
  const budget = new DecompressionBudget(DEFAULT_LIMITS);
  const r = await read7z(new BufferSource(buf, 'a.7z'), DEFAULT_LIMITS, budget);
  assert.deepEqual(r.warnings, []);
  const byName = new Map(r.entries.map((e) => [e.name, e]));
  assert.deepEqual([...byName.keys()].sort(), ['archive/data.pkl', 'archive/data/0']);
  assert.deepEqual(byName.get('archive/data.pkl')?.data, PICKLE);
  assert.deepEqual(byName.get('archive/data/0')?.data, BIN);
  assert.equal(budget.used, PICKLE.length + BIN.length);
  // A second archive reuses the loaded module and its own scratch directory.
  const again = await read7z(new BufferSource(await make7z('b.7z', ['archive/data.pkl'])), DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS));
  assert.deepEqual(again.entries.map((e) => e.name), ['archive/data.pkl']);
});

test('the listed sizes are checked against the budget before extracting', async () => {
  const buf = await make7z('budget.7z', ['archive']);
  const limits = resolveLimits({ maxDecompressedBytes: 100_000 });
  const budget = new DecompressionBudget(limits);
  await assert.rejects(read7z(new BufferSource(buf), limits, budget), (e: unknown) => e instanceof LimitExceededError && e.limit === 'maxDecompressedBytes');
  assert.equal(budget.used, 0, 'nothing was extracted');
});

test('a 7z bomb is refused by ratio before extracting', async () => {
  const buf = await make7z('bomb.7z', ['zeros'], ['-mx=9'], dir);
  assert.ok(buf.length < 100_000);
  const limits = { ...DEFAULT_LIMITS, maxCompressionRatio: 1000, ratioCheckAfterBytes: 1024 * 1024 };
  const budget = new DecompressionBudget(limits);
  await assert.rejects(read7z(new BufferSource(buf), limits, budget), (e: unknown) => e instanceof LimitExceededError && e.limit === 'maxCompressionRatio');
  assert.equal(budget.used, 0);
});

test('maxEntries counts listed entries', async () => {
  const buf = await make7z('entries.7z', ['archive']);
  const limits = resolveLimits({ maxEntries: 2 });
  await assert.rejects(read7z(new BufferSource(buf), limits, new DecompressionBudget(limits)), (e: unknown) => e instanceof LimitExceededError && e.limit === 'maxEntries');
});

test('encrypted members are skipped with a warning, never prompted for', async () => {
  const buf = await make7z('enc.7z', ['archive/data.pkl'], ['-psecret']);
  const r = await read7z(new BufferSource(buf), DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS));
  assert.deepEqual(r.entries, []);
  assert.match(r.warnings.join('\n'), /"archive\/data\.pkl" is encrypted/);
});

test('encrypted headers and non-7z data fail with an Error', async () => {
  const hidden = await make7z('hidden.7z', ['archive/data.pkl'], ['-psecret', '-mhe=on']);
  await assert.rejects(read7z(new BufferSource(hidden), DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS)), /corrupt or (its headers are )?encrypted/);
  await assert.rejects(read7z(new BufferSource(Buffer.from('7z\xbc\xaf\x27\x1cgarbage', 'latin1')), DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS)), /cannot list the archive/);
  // A zip is not read as 7z even though 7-Zip could open it.
  const zip = execFileSync('/usr/bin/python3', ['-c', 'import io,sys,zipfile\nb=io.BytesIO()\nwith zipfile.ZipFile(b,"w") as z: z.writestr("a","b")\nsys.stdout.buffer.write(b.getvalue())']);
  await assert.rejects(read7z(new BufferSource(zip), DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS)), Error);
  // 7-Zip's exit status does not leak into the process's exit code.
  assert.equal(process.exitCode, undefined);
  // And the module still works afterwards.
  const ok = await read7z(new BufferSource(await make7z('after.7z', ['archive/data.pkl'])), DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS));
  assert.deepEqual(ok.entries[0]?.data, PICKLE);
});

test('looksLike7z', () => {
  assert.equal(looksLike7z(Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4])), true);
  assert.equal(looksLike7z(Buffer.from('7z')), false);
  assert.equal(looksLike7z(PICKLE), false);
});
