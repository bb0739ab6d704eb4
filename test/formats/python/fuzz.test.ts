/**
 * Parse robustness: real Python/notebook/shell fixtures, mutated (byte flips,
 * deletions, duplicated spans, inserted Python-significant characters), never
 * make the scanner throw or hang. Findings are fine; exceptions are not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { BufferSource } from '../../../src/formats/source.js';
import { createScanContext } from '../../../src/scan/scanner.js';
import { pythonScanner } from '../../../src/scan/python-scan.js';
import { analyzeShell } from '../../../src/formats/python/shell.js';
import { mutate, mutation, settles } from '../../support/mutate.js';

const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures/python');

function list(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? list(p) : [p];
  });
}

const files = [...list(join(FIX, 'benign')), ...list(join(FIX, 'malicious'))].map((p) => ({ p, b: readFileSync(p) }));

const SIGNIFICANT = ['(', ')', '[', ']', '{', '}', ':', '"', "'", '"""', '\\', '\n', '    ', '\t', '#', 'f"', 'b"', 'lambda', 'exec(', 'import os\n', '`', '|', '$(', '!', '%%'];
const pyMutation = mutation(SIGNIFICANT);

test('mutated fixtures never make the code scanner throw or hang', async () => {
  assert.ok(files.length >= 30);
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: files.length - 1 }), fc.array(pyMutation, { minLength: 1, maxLength: 8 }), async (i, ms) => {
      const input = mutate(files[i].b, ms);
      const name = files[i].p;
      const ctx = createScanContext(name);
      let thrown: unknown;
      try {
        await settles(pythonScanner.scan(new BufferSource(input, name), { location: name, depth: 0, ecosystems: ['python'] }, ctx), name);
      } catch (e) {
        thrown = e;
      }
      // Only a notebook that is no longer JSON may fail, and then with a plain Error saying so.
      if (thrown) {
        assert.ok(name.endsWith('.ipynb'), `${name}: ${(thrown as Error).stack}`);
        assert.match((thrown as Error).message, /notebook JSON/);
      }
      for (const f of ctx.findings) assert.ok(f.line! >= 1 && f.column! >= 1);
    }),
    { numRuns: 300 },
  );
});

test('random text never makes the shell reader or the Python scanner throw', async () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 400 }), (s) => {
      analyzeShell(s);
    }),
    { numRuns: 500 },
  );
  await fc.assert(
    fc.asyncProperty(fc.string({ maxLength: 300 }), async (s) => {
      const ctx = createScanContext('r.py');
      await pythonScanner.scan(new BufferSource(Buffer.from(s), 'r.py'), { location: 'r.py', depth: 0, ecosystems: ['python'] }, ctx);
    }),
    { numRuns: 200 },
  );
});
