/**
 * Property tests: real fixture files, mutated (bit flips, overwrites, cuts,
 * insertions, duplicated spans), never crash or hang the scanner. Every run
 * must end in a report; errors and findings are fine, exceptions are not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { scanBytes } from '../../src/scan/scanner.js';
import { readPickleBytes } from '../../src/formats/pickle/stream.js';
import { mutate, mutation, settles } from '../support/mutate.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures');
// Small limits keep each case fast; the point is robustness, not depth.
const LIMITS = { maxOpcodes: 200_000, maxStackItems: 200_000, maxDecompressedBytes: 16 * 1024 * 1024, maxEntries: 2_000 };

const files = ['benign', 'malicious']
  .flatMap((d) => readdirSync(join(FIX, d)).map((f) => join(FIX, d, f)))
  .map((p) => ({ p, b: readFileSync(p) }))
  .filter((x) => x.b.length <= 64 * 1024);

// Opcodes that matter to pickle readers are likelier than random bytes.
const pickleMutation = mutation([[0x80], [0x95], [0x93], [0x28], [0x2e], [0x52], [0x62], [0xff]]);

test('mutated real fixtures never crash or hang scanBytes', async () => {
  assert.ok(files.length > 50, 'fixtures present');
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: files.length - 1 }), fc.array(pickleMutation, { minLength: 1, maxLength: 6 }), async (i, ms) => {
      const input = mutate(files[i].b, ms);
      const r = await settles(scanBytes(input, 'fuzz', { config: { limits: LIMITS } }), files[i].p);
      assert.equal(typeof r.bytesRead, 'number');
      assert.ok(Array.isArray(r.findings));
    }),
    { numRuns: 400, seed: 20261125 },
  );
});

test('the pickle machine survives arbitrary bytes after a PROTO', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), async (bytes) => {
      const run = await readPickleBytes(Buffer.concat([Buffer.from([0x80, 0x04]), Buffer.from(bytes)]), { maxOpcodes: 10_000, maxStackItems: 10_000, maxKeptString: 4096 }, {});
      assert.ok(run.pickles.length >= 1);
    }),
    { numRuns: 2000, seed: 7 },
  );
});
