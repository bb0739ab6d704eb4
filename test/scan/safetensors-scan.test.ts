/**
 * safetensors findings, end to end through the scanner object (and, for files
 * that only carry the name, through the dispatcher), checked against
 * test/fixtures/tensors/manifest.json.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { BufferSource } from '../../src/formats/source.js';
import { createScanContext, scanFile } from '../../src/scan/scanner.js';
import { safetensorsScanner } from '../../src/scan/safetensors-scan.js';
import { type Finding, type Severity } from '../../src/scan/finding.js';
import { TENSORS_RULES } from '../../src/scan/rules-tensors.js';
import { assertMeets } from '../support/expect.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DIR = join(ROOT, 'test/fixtures/tensors');

interface Entry {
  path: string;
  technique: string;
  expect: 'clean' | { minSeverity: Severity; mentions: string[] };
}
const manifest = (JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as Entry[]).filter((e) => e.path.startsWith('safetensors/'));

async function scan(path: string): Promise<{ findings: Finding[]; claimed: boolean; formats: string[] }> {
  const bytes = readFileSync(join(DIR, path));
  if (!safetensorsScanner.sniff(bytes.subarray(0, 4096), bytes.length)) {
    const r = await scanFile(join(DIR, path));
    return { findings: r.findings, claimed: false, formats: r.formats };
  }
  const ctx = createScanContext(path);
  await safetensorsScanner.scan(new BufferSource(bytes, path), { location: path, depth: 0, ecosystems: ['python'] }, ctx);
  return { findings: ctx.findings, claimed: true, formats: ctx.formats };
}


assert.ok(manifest.length >= 15, 'safetensors fixtures present');
for (const e of manifest) {
  test(`${e.expect === 'clean' ? 'benign' : 'malicious'}: ${e.path} — ${e.technique}`, async () => {
    const r = await scan(e.path);
    if (e.expect === 'clean') assert.equal(r.claimed, true, 'recognised as safetensors');
    assertMeets(r.findings, e.expect);
  });
}

test('files named .safetensors that are a pickle or a zip go down the pickle/zip path', async () => {
  const pickle = await scan('safetensors/disguised_pickle.safetensors');
  assert.equal(pickle.claimed, false);
  assert.ok(pickle.formats.includes('pickle'));
  assert.ok(pickle.findings.some((f) => f.severity === 'CRITICAL' && f.ruleId === 'pickle/dangerous-global'));
  const zip = await scan('safetensors/disguised_torch_zip.safetensors');
  assert.equal(zip.claimed, false);
  assert.deepEqual(zip.formats.slice(0, 2), ['zip', 'pytorch-zip']);
  assert.ok(zip.findings.some((f) => f.severity === 'CRITICAL'));
});

test('findings carry rule ids from the catalogue, offsets and hints', async () => {
  const ids = new Set(TENSORS_RULES.map((r) => r.id));
  for (const e of manifest.filter((m) => m.expect !== 'clean' && !m.path.includes('disguised'))) {
    for (const f of (await scan(e.path)).findings) {
      assert.ok(ids.has(f.ruleId), `${f.ruleId} is catalogued`);
      assert.ok(f.hint.length > 20);
      assert.equal(f.location, e.path);
    }
  }
  const past = await scan('safetensors/offsets_past_eof.safetensors');
  assert.equal(past.findings[0].ruleId, 'safetensors/offset-out-of-bounds');
  assert.equal(past.findings[0].severity, 'HIGH');
  assert.equal(past.findings[0].evidence, 'b');
});

test('appended pickle raises trailing-data to MEDIUM; plain gaps stay LOW', async () => {
  const t = await scan('safetensors/trailing_pickle.safetensors');
  assert.deepEqual(t.findings.map((f) => [f.ruleId, f.severity]), [['safetensors/trailing-data', 'MEDIUM']]);
  assert.match(t.findings[0].message, /start like a pickle/);
  const g = await scan('safetensors/gap_between_tensors.safetensors');
  assert.deepEqual(g.findings.map((f) => [f.ruleId, f.severity]), [['safetensors/gap', 'LOW']]);
});

test('many problems of one kind are summarised after ten', async () => {
  const header: Record<string, unknown> = {};
  for (let i = 0; i < 25; i++) header[`t${i}`] = { dtype: 'X9', shape: [1], data_offsets: [0, 1] };
  let js = JSON.stringify(header);
  js += ' '.repeat((8 - (js.length % 8)) % 8);
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(js.length));
  const ctx = createScanContext('many');
  await safetensorsScanner.scan(new BufferSource(Buffer.concat([n, Buffer.from(js), Buffer.alloc(1)])), { location: 'many', depth: 0, ecosystems: ['python'] }, ctx);
  const dtype = ctx.findings.filter((f) => f.ruleId === 'safetensors/unknown-dtype');
  assert.equal(dtype.length, 11);
  assert.match(dtype[10].message, /15 more/);
});

test('fuzz: mutated safetensors fixtures never crash the scanner; what it claims it reports on', async () => {
  const files = manifest.filter((e) => !e.path.includes('disguised')).map((e) => readFileSync(join(DIR, e.path)));
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: files.length - 1 }),
      fc.array(fc.record({ at: fc.nat(), v: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x22, 0x2c, 0x7b, 0x7d, 0x5b, 0x5d, 0x30, 0x39)) }), { minLength: 1, maxLength: 8 }),
      async (i, edits) => {
        const b = Buffer.from(files[i]);
        for (const { at, v } of edits) b[at % b.length] = v;
        if (!safetensorsScanner.sniff(b.subarray(0, 4096), b.length)) return;
        const ctx = createScanContext('fuzz');
        await safetensorsScanner.scan(new BufferSource(b), { location: 'fuzz', depth: 0, ecosystems: ['python'] }, ctx);
        for (const f of ctx.findings) assert.ok(TENSORS_RULES.some((r) => r.id === f.ruleId), f.ruleId);
      },
    ),
    { numRuns: 1500, seed: 77 },
  );
});
