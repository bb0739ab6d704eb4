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

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures');
// Small limits keep each case fast; the point is robustness, not depth.
const LIMITS = { maxOpcodes: 200_000, maxStackItems: 200_000, maxDecompressedBytes: 16 * 1024 * 1024, maxEntries: 2_000 };

const files = ['benign', 'malicious']
  .flatMap((d) => readdirSync(join(FIX, d)).map((f) => join(FIX, d, f)))
  .map((p) => ({ p, b: readFileSync(p) }))
  .filter((x) => x.b.length <= 64 * 1024);

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'cut'; at: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'dup'; at: number; len: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x80, 0x95, 0x93, 0x28, 0x2e, 0x52, 0x62, 0xff)) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 16 }) }),
  fc.record({ kind: fc.constant('dup' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
);

function mutate(b: Buffer, ms: Mutation[]): Buffer {
  let out = Buffer.from(b);
  for (const m of ms) {
    if (out.length === 0) break;
    const at = m.at % out.length;
    switch (m.kind) {
      case 'flip':
        out[at] ^= 1 << m.bit;
        break;
      case 'set':
        out[at] = m.value;
        break;
      case 'cut':
        out = out.subarray(0, at);
        break;
      case 'insert':
        out = Buffer.concat([out.subarray(0, at), Buffer.from(m.bytes), out.subarray(at)]);
        break;
      case 'dup':
        out = Buffer.concat([out.subarray(0, at), out.subarray(at, at + m.len), out.subarray(at)]);
        break;
    }
  }
  return out;
}

/** Fails the case if the scan does not settle: a hang check, not a speed target. */
function settles<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`scan did not finish within 20 s: ${what}`)), 20_000);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

test('mutated real fixtures never crash or hang scanBytes', async () => {
  assert.ok(files.length > 50, 'fixtures present');
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: files.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 6 }), async (i, ms) => {
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
