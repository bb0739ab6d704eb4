/**
 * Keras findings end to end: every fixture in test/fixtures/keras/manifest.json
 * through scanFile (the real dispatcher and zip walk), and the scanner
 * objects on configs built here for the cases the manifest does not pin down.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { FORMAT_SCANNERS } from '../../src/scan/format-registry.js';
import type { FormatScanner } from '../../src/scan/format-scanner.js';
import { createScanContext, scanBytes, scanFile } from '../../src/scan/scanner.js';
import { hdf5Scanner, judgeKerasConfig, kerasConfigScanner, looksLikeKerasJson } from '../../src/scan/keras-scan.js';
import { KERAS_RULES } from '../../src/scan/rules-keras.js';
import { closeHdf5 } from '../../src/formats/hdf5.js';
import { BufferSource } from '../../src/formats/source.js';
import { severityRank, type Finding, type Severity } from '../../src/scan/finding.js';
import { assertMeets } from '../support/expect.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures/keras');

// Until the registry lists these scanners, add them for this test file's dispatcher.
const registry = FORMAT_SCANNERS as FormatScanner[];
for (const s of [hdf5Scanner, kerasConfigScanner]) if (!registry.some((r) => r.id === s.id)) registry.push(s);

after(() => closeHdf5());

interface Entry {
  path: string;
  technique: string;
  expect: 'clean' | { minSeverity: Severity; mentions: string[] };
}

const manifest = JSON.parse(readFileSync(join(FIX, 'manifest.json'), 'utf8')) as Entry[];

function describe(fs: Finding[]): string {
  return fs.map((f) => `  ${f.severity} ${f.ruleId} ${f.location} ${f.global ?? ''} ${f.evidence ?? ''}`).join('\n') || '  (none)';
}

const at = (fs: Finding[], s: Severity) => fs.filter((f) => severityRank(f.severity) >= severityRank(s));

test('the manifest lists every fixture file', () => {
  const listed = new Set(manifest.map((e) => e.path));
  for (const d of ['benign', 'malicious']) for (const f of readdirSync(join(FIX, d))) assert.ok(listed.has(`${d}/${f}`), `${d}/${f} is not in manifest.json`);
});

for (const e of manifest) {
  test(`${e.expect === 'clean' ? 'benign' : 'malicious'}: ${e.path} — ${e.technique}`, async () => {
    const r = await scanFile(join(FIX, e.path));
    assert.deepEqual(r.errors, []);
    assert.notEqual(r.skipped, true);
    assertMeets(r.findings, e.expect);
  });
}

test('formats reported for .h5 and .keras files', async () => {
  assert.deepEqual((await scanFile(join(FIX, 'benign/sequential_mlp.h5'))).formats, ['hdf5', 'keras-h5']);
  assert.deepEqual((await scanFile(join(FIX, 'benign/mlp_weights.h5'))).formats, ['hdf5', 'keras-h5-weights']);
  assert.deepEqual((await scanFile(join(FIX, 'benign/plain_data.h5'))).formats, ['hdf5']);
  const k = await scanFile(join(FIX, 'benign/sequential_mlp.keras'));
  // Other scanners may claim the JSON members too (a generic JSON config scanner adds "json").
  for (const f of ['zip', 'keras-config', 'keras-metadata', 'hdf5']) assert.ok(k.formats.includes(f), k.formats.join());
  assert.equal(k.members.length, 3);
});

test('the Lambda payload: the dangerous call, the command and where the code came from', async () => {
  const r = await scanFile(join(FIX, 'malicious/lambda_os_system.h5'));
  const f = r.findings.find((x) => x.ruleId === 'keras/lambda-dangerous-code')!;
  assert.ok(f, describe(r.findings));
  assert.equal(f.severity, 'CRITICAL');
  assert.equal(f.global, 'os.system');
  assert.match(f.message, /layer 'lambda' in 'sequential', model_config:config\.layers\[2\]\.config\.function/);
  assert.match(f.evidence!, /references: __import__, os\.system/);
  assert.match(f.evidence!, /"touch \/tmp\/ptmscope_marker"/);
  assert.match(f.evidence!, /Python 3\.11 bytecode/);
});

test('nested Lambdas are each reported, with the layers around them', async () => {
  const r = await scanFile(join(FIX, 'malicious/lambda_nested.h5'));
  const lambdas = r.findings.filter((f) => f.ruleId === 'keras/lambda-dangerous-code');
  assert.equal(lambdas.length, 2, describe(r.findings));
  assert.match(lambdas[0].message, /layer 'td_lambda' in 'model' › 'time_distributed'/);
  assert.match(lambdas[1].message, /layer 'inner_lambda' in 'model' › 'inner'/);
});

test('CVE-2025-9906: the safe-mode switch is CRITICAL and so is the harmless Lambda after it', async () => {
  const r = await scanFile(join(FIX, 'malicious/cve_2025_9906.keras'));
  const sw = r.findings.find((f) => f.ruleId === 'keras/unsafe-deserialization')!;
  assert.equal(sw.severity, 'CRITICAL');
  assert.match(sw.message, /1 Lambda function\(s\)/);
  const lam = r.findings.find((f) => f.ruleId === 'keras/lambda-layer')!;
  assert.equal(lam.severity, 'CRITICAL', describe(r.findings));
  assert.match(lam.message, /switches safe mode off/);
});

// ---------------------------------------------------------------------------
// Configs built here, through the scanner objects.

const VEC = join(FIX, 'marshal');
const b64 = (file: string) => readFileSync(join(VEC, file)).toString('base64').replace(/(.{76})/g, '$1\n');

async function judge(config: unknown, loader: 'h5' | 'keras' = 'h5', allow?: string[]): Promise<Finding[]> {
  const ctx = createScanContext('cfg', allow ? { config: { allow } } : undefined);
  await judgeKerasConfig(config, { label: 'model_config', loader }, { location: 'cfg', depth: 0, ecosystems: ['python'] }, ctx);
  return ctx.findings;
}

const keras2Lambda = (code: string, module = '__main__') => ({
  class_name: 'Sequential',
  config: { name: 's', layers: [{ class_name: 'Lambda', config: { name: 'l', function: [code, null, null], function_type: 'lambda', module, output_shape: null, output_shape_type: 'raw' } }] },
});

const rulesOf = (fs: Finding[]) => fs.map((f) => `${f.severity} ${f.ruleId} ${f.global ?? ''}`.trim());

test('Lambda bytecode from Python 2.7 and 3.6–3.13: os.system is CRITICAL in every version', async () => {
  for (const v of ['2.7', '3.6', '3.7', '3.8', '3.9', '3.10', '3.11', '3.12', '3.13']) {
    for (const kind of ['os_import', 'os_global']) {
      const fs = await judge(keras2Lambda(b64(`${v}-${kind}.bin`)));
      assert.ok(
        fs.some((f) => f.ruleId === 'keras/lambda-dangerous-code' && f.severity === 'CRITICAL' && f.global === 'os.system'),
        `${v} ${kind}:\n${describe(fs)}`,
      );
    }
  }
});

test('a Lambda without dangerous names is HIGH (where the bytecode tells K.eval from eval)', async () => {
  for (const v of ['3.8', '3.9', '3.10', '3.11', '3.12', '3.13']) {
    const fs = await judge(keras2Lambda(b64(`${v}-benign_nested.bin`)));
    assert.deepEqual(rulesOf(fs), ['HIGH keras/lambda-layer'], `${v}:\n${describe(fs)}`);
  }
  // Without bytecode, eval in co_names may be the builtin: the conservative reading is CRITICAL.
  const old = await judge(keras2Lambda(b64('3.6-benign_nested.bin')));
  assert.deepEqual(rulesOf(old), ['CRITICAL keras/lambda-dangerous-code builtins.eval']);
});

test("Keras 2's module key: a bare system() runs with os's globals", async () => {
  assert.deepEqual(rulesOf(await judge(keras2Lambda(b64('3.11-bare_system.bin'), 'os'))), ['CRITICAL keras/lambda-dangerous-code os.system']);
  assert.deepEqual(rulesOf(await judge(keras2Lambda(b64('3.11-bare_system.bin')))), ['HIGH keras/lambda-layer']);
});

test('undecodable Lambda code is still HIGH, with what could be read', async () => {
  const fs = await judge(keras2Lambda('not base64 at all!'));
  assert.deepEqual(rulesOf(fs), ['HIGH keras/lambda-layer']);
  assert.match(fs[0].message, /could not be read/);
  const broken = Buffer.concat([Buffer.from([0xe3, 0xff]), readFileSync(join(VEC, '3.11-os_import.bin')).subarray(40)]).toString('base64');
  const bf = await judge(keras2Lambda(broken));
  assert.equal(bf[0].severity, 'CRITICAL', describe(bf));
});

test('Keras 3 lambdas: HIGH for the .keras loader, and the generic {"value": [...]} form', async () => {
  const code = b64('3.11-benign_nested.bin');
  const fs = await judge({ module: 'keras.layers', class_name: 'Lambda', config: { name: 'l', function: { class_name: '__lambda__', config: { value: [code, null, null] } } } }, 'keras');
  assert.deepEqual(rulesOf(fs), ['HIGH keras/lambda-layer']);
  assert.match(fs[0].message, /safe_mode=False/);
});

test('custom objects: MEDIUM from another module, LOW when only registered, nothing when allowed', async () => {
  const layers = Array.from({ length: 5 }, (_, i) => ({ module: 'my_pkg.layers', class_name: 'MyLayer', config: { name: `m${i}` }, registered_name: 'my_pkg>MyLayer' }));
  const metric = { module: 'builtins', class_name: 'function', config: 'my_metric', registered_name: 'function' };
  const relu = { module: 'builtins', class_name: 'function', config: 'relu', registered_name: 'function' };
  const cfg = {
    module: 'keras',
    class_name: 'Sequential',
    config: { name: 's', layers: [...layers, { class_name: 'Registered', config: { name: 'r', activation: relu } }] },
    compile_config: { loss: 'mse', metrics: [metric] },
  };
  const fs = await judge(cfg, 'keras');
  assert.deepEqual(rulesOf(fs), ['MEDIUM keras/custom-object my_pkg.layers.MyLayer', 'LOW keras/custom-object', 'LOW keras/custom-object builtins.my_metric']);
  assert.deepEqual(rulesOf(await judge(cfg, 'keras', ['my_pkg.layers.MyLayer'])), ['LOW keras/custom-object', 'LOW keras/custom-object builtins.my_metric']);
});

test('Keras and TensorFlow gadgets and names Keras looks up inside its own modules', async () => {
  const fn = (module: string, name: string) => ({ class_name: 'Lambda', config: { name: `lambda_${name}`, function: { module, class_name: 'function', config: name, registered_name: 'function' } } });
  const fs = await judge({
    class_name: 'Sequential',
    config: {
      name: 's',
      layers: [
        fn('keras.utils', 'get_file'),
        fn('keras.src.utils.file_utils', 'rmtree'),
        fn('keras.src.saving.serialization_lib', 'importlib'),
        fn('keras.activations', 'relu'),
        { module: 'keras.layers', class_name: 'TFSMLayer', config: { name: 't', filepath: '/tmp/x' } },
        { class_name: 'TFOpLambda', config: { name: 'op', function: 'raw_ops.ReadFile' } },
        { class_name: 'TFOpLambda', config: { name: 'add', function: '__operators__.add' } },
        { class_name: 'Dense', config: { name: 'd', activation: 'tf.io.gfile.GFile' } },
      ],
    },
  });
  assert.deepEqual(rulesOf(fs).sort(), [
    'CRITICAL keras/dangerous-reference keras.src.utils.file_utils.rmtree',
    'CRITICAL keras/dangerous-reference keras.utils.get_file',
    'CRITICAL keras/dangerous-reference tensorflow.io.gfile.GFile',
    // vars(serialization_lib)['importlib'] is the importlib module itself.
    'HIGH keras/dangerous-reference importlib',
    'HIGH keras/dangerous-reference keras.layers.TFSMLayer',
    'HIGH keras/dangerous-reference tensorflow.raw_ops.ReadFile',
  ]);
});

test('TorchModuleWrapper: the embedded pickle is scanned as a nested file', async () => {
  const pickle = Buffer.from("cos\nsystem\n(S'touch /tmp/ptmscope_marker'\ntR.", 'latin1');
  const cfg = { module: 'keras', class_name: 'Sequential', config: { name: 's', layers: [{ module: 'keras.layers', class_name: 'TorchModuleWrapper', config: { name: 't', module: pickle.toString('base64') } }] } };
  const fs = await judge(cfg, 'keras');
  assert.ok(fs.some((f) => f.ruleId === 'keras/embedded-pickle' && f.severity === 'HIGH'), describe(fs));
  const nested = fs.find((f) => f.ruleId === 'pickle/dangerous-global')!;
  assert.ok(nested, describe(fs));
  assert.equal(nested.global, 'os.system');
  assert.match(nested.location, /^cfg!<model_config config\.layers\[0\]>$/);
  assert.ok(fs.some((f) => f.ruleId === 'keras/dangerous-reference' && f.global === 'keras.layers.TorchModuleWrapper'));
});

test('the JSON scanner: sniffing, metadata, invalid JSON and the size limit', async () => {
  const yes = ['{"module": "keras", "class_name": "Sequential"}', '\ufeff  {"keras_version": "3.3.3"}', '{"class_name":"Functional","config":{}}'];
  const no = ['{"_class_name": "UNet2DConditionModel"}', '{"architectures": ["BertModel"], "model_type": "bert"}', '[{"class_name": "x"}]', 'class_name', ''];
  for (const s of yes) assert.ok(looksLikeKerasJson(Buffer.from(s)), s);
  for (const s of no) assert.ok(!looksLikeKerasJson(Buffer.from(s)), s);

  const mine = (fs: Finding[]) => fs.filter((f) => /^(keras|hdf5)\//.test(f.ruleId));
  const meta = await scanBytes(Buffer.from('{"keras_version": "3.3.3", "date_saved": "2024-05-01@12:00:00"}'), 'metadata.json');
  assert.deepEqual(meta.formats, ['keras-metadata']);
  assert.deepEqual(at(meta.findings, 'LOW'), []);

  const bad = await scanBytes(Buffer.from('{"class_name": "Sequential", "config": {'), 'config.json');
  assert.deepEqual(rulesOf(mine(bad.findings)), ['MEDIUM keras/invalid-config']);

  // Padding cannot push "class_name" out of sight: every JSON object is looked at.
  const lambda = JSON.stringify({ class_name: 'Lambda', config: { function: { class_name: '__lambda__', config: { code: 'x', defaults: null, closure: null } } } });
  const padded = await scanBytes(Buffer.from(`{"aaaa": "${' '.repeat(8192)}", ${lambda.slice(1)}`), 'config.json');
  assert.ok(padded.formats.includes('keras-config'), padded.formats.join());
  assert.ok(mine(padded.findings).some((f) => f.ruleId.startsWith('keras/lambda')), describe(padded.findings));
  // Plain JSON, broken JSON and big JSON that never name a Keras class stay silent.
  for (const text of ['{"vocab": {"a": 1}}', '{"vocab": {', `{"x": "${'y'.repeat(64)}"}`]) {
    const r = await scanBytes(Buffer.from(text), 'other.json');
    assert.deepEqual(mine(r.findings), [], text);
  }
  const bigPlain = createScanContext('tokenizer.json', { config: { limits: { maxConstantBytes: 10 } } });
  await kerasConfigScanner.scan(new BufferSource(Buffer.from('{"model": {"vocab": {}}}')), { location: 'tokenizer.json', depth: 0, ecosystems: ['python'] }, bigPlain);
  assert.deepEqual(bigPlain.findings, []);

  const ctx = createScanContext('big.json', { config: { limits: { maxConstantBytes: 10 } } });
  await kerasConfigScanner.scan(new BufferSource(Buffer.from('{"class_name": "Sequential", "config": {}}')), { location: 'big.json', depth: 0, ecosystems: ['python'] }, ctx);
  assert.deepEqual(rulesOf(ctx.findings), ['MEDIUM keras/limit-exceeded']);
});

test('an .h5 model given as bytes (no file on disk) scans the same', async () => {
  const r = await scanBytes(readFileSync(join(FIX, 'malicious/lambda_os_system.h5')), 'upload.h5');
  assert.ok(r.findings.some((f) => f.ruleId === 'keras/lambda-dangerous-code' && f.global === 'os.system'), describe(r.findings));
});

test('every rule id the scanner emits is in the catalogue and the docs', () => {
  const ids = new Set(KERAS_RULES.map((r) => r.id));
  const docs = readFileSync(join(ROOT, 'docs/rules.md'), 'utf8');
  const src = readFileSync(join(ROOT, 'src/scan/keras-scan.ts'), 'utf8');
  for (const m of src.matchAll(/'((?:keras|hdf5)\/[a-z-]+)'/g)) assert.ok(ids.has(m[1]), `${m[1]} missing from KERAS_RULES`);
  for (const r of KERAS_RULES) {
    assert.ok(docs.includes(`## ${r.id}\n\n**Default severity:** ${r.defaultSeverity}`), `docs/rules.md section for ${r.id}`);
  }
});

test('mutated Keras fixtures: every scan ends in a report', async () => {
  const pool = manifest.map((e) => readFileSync(join(FIX, e.path)));
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: pool.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      fc.option(fc.nat(), { nil: undefined }),
      async (i, edits, cut) => {
        const b = Buffer.from(pool[i]);
        // Most edits land in the first 8 KiB, where the HDF5 superblock, zip headers and configs start.
        for (const [at, v] of edits) b[at % Math.min(b.length, at % 2 ? 8192 : b.length)] = v;
        const input = cut === undefined ? b : b.subarray(0, cut % b.length);
        const r = await scanBytes(input, 'fuzz');
        assert.ok(Array.isArray(r.findings));
      },
    ),
    { numRuns: 200 },
  );
});

test('random configs never make the judge throw', async () => {
  await fc.assert(
    fc.asyncProperty(fc.jsonValue({ maxDepth: 5 }), fc.constantFrom('h5' as const, 'keras' as const), async (v, loader) => {
      await judge(v, loader);
      await judge({ class_name: 'Lambda', config: { name: 'x', function: v, function_type: 'lambda', module: 'os' } }, loader);
      await judge({ module: v, class_name: 'function', config: v }, loader);
    }),
    { numRuns: 300 },
  );
});
