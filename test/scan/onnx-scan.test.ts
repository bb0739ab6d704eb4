import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { onnxScanner } from '../../src/scan/onnx-scan.js';
import { createScanContext } from '../../src/scan/scanner.js';
import { BufferSource, FileSource } from '../../src/formats/source.js';
import { type Finding, type Severity } from '../../src/scan/finding.js';
import { messageType } from '../../src/formats/proto/decode.js';
import { GRAPH_RULES } from '../../src/scan/rules-graph.js';
import { assertMeets } from '../support/expect.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures/graph');

interface Entry {
  path: string;
  technique: string;
  expect: 'clean' | { minSeverity: Severity; mentions: string[] };
}

async function scanPath(path: string): Promise<Finding[]> {
  const ctx = createScanContext(path);
  const src = await FileSource.open(path);
  try {
    const head = await src.read(0, 4096);
    assert.ok(onnxScanner.sniff(head, src.size), `${path} is sniffed as ONNX`);
    await onnxScanner.scan(src, { location: path, depth: 0, ecosystems: ['python'] }, ctx);
  } finally {
    await src.close();
  }
  return ctx.findings;
}

function describe(fs: Finding[]): string {
  return fs.map((f) => `  ${f.severity} ${f.ruleId} ${f.message} ${f.evidence ?? ''}`).join('\n') || '  (none)';
}

const manifest = (JSON.parse(readFileSync(join(FIX, 'manifest.json'), 'utf8')) as Entry[]).filter((e) => e.path.endsWith('.onnx'));

for (const e of manifest) {
  test(`${e.expect === 'clean' ? 'benign' : 'malicious'}: ${e.path} — ${e.technique}`, async () => {
    const findings = await scanPath(join(FIX, e.path));
    const rules = new Set(GRAPH_RULES.map((r) => r.id));
    for (const f of findings) assert.ok(rules.has(f.ruleId) || f.ruleId.startsWith('pickle/'), `rule ${f.ruleId} is catalogued`);
    assertMeets(findings, e.expect);
  });
}

test('a symlink next to the model that leaves its folder is an escape', async () => {
  const outer = mkdtempSync(join(tmpdir(), 'ptmscope-onnx-'));
  try {
    const dir = join(outer, 'model');
    mkdirSync(dir);
    writeFileSync(join(outer, 'secret.bin'), Buffer.alloc(268, 7));
    copyFileSync(join(FIX, 'benign/mlp_external.onnx'), join(dir, 'mlp_external.onnx'));
    symlinkSync(join(outer, 'secret.bin'), join(dir, 'mlp_external.onnx.data'));
    const findings = await scanPath(join(dir, 'mlp_external.onnx'));
    const esc = findings.find((f) => f.ruleId === 'onnx/external-data-escape');
    assert.ok(esc, describe(findings));
    assert.equal(esc.severity, 'HIGH');
    assert.match(esc.message, /symbolic link/);
    assert.ok(esc.evidence?.includes('secret.bin'));
  } finally {
    rmSync(outer, { recursive: true, force: true });
  }
});

test('a symlink that stays inside the folder, and a plain data file, are fine', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptmscope-onnx-'));
  try {
    mkdirSync(join(dir, 'blobs'));
    copyFileSync(join(FIX, 'benign/mlp_external.onnx.data'), join(dir, 'blobs/real.data'));
    copyFileSync(join(FIX, 'benign/mlp_external.onnx'), join(dir, 'mlp_external.onnx'));
    symlinkSync(join(dir, 'blobs/real.data'), join(dir, 'mlp_external.onnx.data'));
    const viaLink = await scanPath(join(dir, 'mlp_external.onnx'));
    assert.deepEqual(
      viaLink.filter((f) => f.severity !== 'INFO'),
      [],
    );
    const plain = await scanPath(join(FIX, 'benign/mlp_external.onnx'));
    assert.deepEqual(
      plain.filter((f) => f.severity !== 'INFO'),
      [],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a data file shorter than the declared range is reported at LOW', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptmscope-onnx-'));
  try {
    copyFileSync(join(FIX, 'benign/mlp_external.onnx'), join(dir, 'mlp_external.onnx'));
    writeFileSync(join(dir, 'mlp_external.onnx.data'), Buffer.alloc(100));
    const findings = await scanPath(join(dir, 'mlp_external.onnx'));
    const past = findings.filter((f) => f.ruleId === 'onnx/external-data-invalid');
    assert.ok(past.length >= 1, describe(findings));
    assert.ok(past.every((f) => f.severity === 'LOW'));
    assert.match(past[0].message, /only 100 bytes long/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('inside an archive (no folder on disk) only the declared paths are judged', async () => {
  const bytes = readFileSync(join(FIX, 'malicious/external_traversal.onnx'));
  const ctx = createScanContext('bundle.zip');
  await onnxScanner.scan(new BufferSource(bytes), { location: 'bundle.zip!m.onnx', depth: 1, ecosystems: ['python'] }, ctx);
  assert.ok(ctx.findings.some((f) => f.ruleId === 'onnx/external-data-escape' && f.location === 'bundle.zip!m.onnx'));
});

test('the pickle in metadata is scanned as a member and judged by the pickle rules', async () => {
  const path = join(FIX, 'malicious/metadata_pickle.onnx');
  const ctx = createScanContext(path);
  const src = await FileSource.open(path);
  try {
    await onnxScanner.scan(src, { location: path, depth: 0, ecosystems: ['python'] }, ctx);
  } finally {
    await src.close();
  }
  const crit = ctx.findings.find((f) => f.ruleId === 'pickle/dangerous-global');
  assert.ok(crit);
  assert.equal(crit.location, `${path}!metadata_props["preprocessor"]`);
  assert.deepEqual(ctx.members, [`${path}!metadata_props["preprocessor"]`]);
  assert.ok(!ctx.findings.some((f) => f.ruleId === 'onnx/suspicious-metadata' && f.message.includes('"author"')));
});

test('ordinary metadata and ordinary models raise nothing above INFO', async () => {
  const T = messageType('onnx.ModelProto');
  const bytes = Buffer.from(
    T.encode(
      T.fromObject({
        ir_version: 9,
        graph: { node: [{ op_type: 'Relu', input: ['x'], output: ['y'] }] },
        opset_import: [{ domain: '', version: 18 }, { domain: 'ai.onnx.ml', version: 3 }],
        metadata_props: [
          { key: 'license', value: 'Apache-2.0' },
          { key: 'description', value: 'A small classifier. '.repeat(20) },
        ],
      }),
    ).finish(),
  );
  const ctx = createScanContext('m.onnx');
  await onnxScanner.scan(new BufferSource(bytes), { location: 'm.onnx', depth: 0, ecosystems: ['python'] }, ctx);
  assert.deepEqual(
    ctx.findings.filter((f) => f.severity !== 'INFO').map((f) => f.ruleId),
    [],
  );
  assert.ok(ctx.findings.some((f) => f.ruleId === 'onnx/operators' && f.evidence === 'Relu ×1'));
});

test('mutated ONNX fixtures never make the scanner throw anything but Error', async () => {
  const inputs = ['benign/mlp.onnx', 'benign/mlp_local_function.onnx', 'malicious/metadata_pickle.onnx', 'malicious/external_sparse.onnx'].map((p) => readFileSync(join(FIX, p)));
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: inputs.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), async (i, edits) => {
      const b = Buffer.from(inputs[i]);
      for (const [at, v] of edits) b[at % b.length] = v;
      const ctx = createScanContext('fuzz.onnx');
      try {
        await onnxScanner.scan(new BufferSource(b), { location: 'fuzz.onnx', depth: 0, ecosystems: ['python'] }, ctx);
      } catch (e) {
        assert.ok(e instanceof Error, `threw ${String(e)}`);
      }
    }),
    { numRuns: 800, seed: 99 },
  );
});
