import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { graphDefScanner, kerasMetadataScanner, savedModelScanner } from '../../src/scan/tensorflow-scan.js';
import { createScanContext } from '../../src/scan/scanner.js';
import { BufferSource, FileSource } from '../../src/formats/source.js';
import { type Finding, type Severity } from '../../src/scan/finding.js';
import { messageType } from '../../src/formats/proto/decode.js';
import type { FormatScanner } from '../../src/scan/format-scanner.js';
import { GRAPH_RULES } from '../../src/scan/rules-graph.js';
import { TF_ORDINARY_OPS, TF_RISKY_OPS } from '../../src/formats/tensorflow-ops.js';
import { assertMeets } from '../support/expect.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures/graph');
const SCANNERS = [savedModelScanner, graphDefScanner, kerasMetadataScanner];

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
    const claims = SCANNERS.filter((s) => s.sniff(head, src.size));
    assert.equal(claims.length, 1, `${path} is claimed by exactly one TensorFlow scanner`);
    await claims[0].scan(src, { location: path, depth: 0, ecosystems: ['python'] }, ctx);
  } finally {
    await src.close();
  }
  return ctx.findings;
}

async function scanBytes(scanner: FormatScanner, bytes: Buffer): Promise<Finding[]> {
  assert.ok(scanner.sniff(bytes.subarray(0, 4096), bytes.length), `${scanner.id} claims the test input`);
  const ctx = createScanContext('t.pb');
  await scanner.scan(new BufferSource(bytes), { location: 't.pb', depth: 0, ecosystems: ['python'] }, ctx);
  return ctx.findings;
}

const manifest = (JSON.parse(readFileSync(join(FIX, 'manifest.json'), 'utf8')) as Entry[]).filter((e) => e.path.endsWith('.pb'));

for (const e of manifest) {
  test(`${e.expect === 'clean' ? 'benign' : 'malicious'}: ${e.path} — ${e.technique}`, async () => {
    const findings = await scanPath(join(FIX, e.path));
    const rules = new Set(GRAPH_RULES.map((r) => r.id));
    for (const f of findings) assert.ok(rules.has(f.ruleId), `rule ${f.ruleId} is catalogued`);
    assertMeets(findings, e.expect);
  });
}

// ---- small graphs built with the vendored schema

type Attr = Record<string, unknown>;
const S = (v: string) => ({ s: Buffer.from(v) });
const node = (name: string, op: string, input: string[] = [], attr: Attr = {}) => ({ name, op, input, attr });
const constStr = (name: string, ...v: string[]) =>
  node(name, 'Const', [], { dtype: { type: 'DT_STRING' }, value: { tensor: { dtype: 'DT_STRING', string_val: v.map((x) => Buffer.from(x)) } } });
const placeholder = (name: string) => node(name, 'Placeholder', [], { dtype: { type: 'DT_STRING' } });

function graphDef(nodes: unknown[], library?: unknown): Buffer {
  const T = messageType('tensorflow.GraphDef');
  return Buffer.from(T.encode(T.fromObject({ node: [placeholder('input'), ...nodes], ...(library ? { library } : {}) })).finish());
}

function rules(fs: Finding[]): string[] {
  return fs.filter((f) => f.severity !== 'INFO').map((f) => `${f.severity} ${f.ruleId}`);
}

test('a file read whose name is fed at run time is MEDIUM; a relative constant is MEDIUM; an absolute one HIGH', async () => {
  assert.deepEqual(rules(await scanBytes(graphDefScanner, graphDef([node('r', 'ReadFile', ['input'])]))), ['MEDIUM tensorflow/file-read-op']);
  assert.deepEqual(rules(await scanBytes(graphDefScanner, graphDef([constStr('p', 'labels.txt'), node('r', 'ReadFile', ['p'])]))), ['MEDIUM tensorflow/file-read-op']);
  const abs = await scanBytes(graphDefScanner, graphDef([constStr('p', '/home/u/.aws/credentials'), node('j', 'StringJoin', ['p']), node('r', 'ReadFile', ['j:0'])]));
  assert.deepEqual(rules(abs), ['HIGH tensorflow/file-read-op']);
  assert.match(abs[0].evidence!, /"\/home\/u\/.aws\/credentials"/);
});

test('checkpoint ops: ordinary when the prefix is fed, flagged when a constant or default steers it', async () => {
  const save = (prefixInput: string) => node('s', 'SaveV2', [prefixInput, 'names', 'slices', 'input']);
  const base = [constStr('names', 'v'), constStr('slices', '')];
  assert.deepEqual(rules(await scanBytes(graphDefScanner, graphDef([...base, save('input')]))), []);
  const joined = [...base, constStr('part', '_temp/part'), node('j', 'StringJoin', ['input', 'part']), save('j')];
  assert.deepEqual(rules(await scanBytes(graphDefScanner, graphDef(joined))), []);
  const badDefault = [...base, constStr('d', '/etc/cron.d/job'), node('f', 'PlaceholderWithDefault', ['d']), save('f')];
  assert.deepEqual(rules(await scanBytes(graphDefScanner, graphDef(badDefault))), ['HIGH tensorflow/file-write-op']);
  const okDefault = [...base, constStr('d', 'model'), node('f', 'PlaceholderWithDefault', ['d']), save('f')];
  assert.deepEqual(rules(await scanBytes(graphDefScanner, graphDef(okDefault))), []);
  const climbing = [...base, constStr('part', '/../../x'), node('j', 'StringJoin', ['input', 'part']), save('j')];
  assert.deepEqual(rules(await scanBytes(graphDefScanner, graphDef(climbing))), ['HIGH tensorflow/file-write-op']);
  const computed = [...base, node('v', 'ReadVariableOp', ['input']), save('v')];
  assert.deepEqual(rules(await scanBytes(graphDefScanner, graphDef(computed))), ['HIGH tensorflow/file-write-op']);
  const restoreConst = [...base, constStr('ck', 'other_model/ckpt'), node('r', 'RestoreV2', ['ck', 'names', 'slices'])];
  assert.deepEqual(rules(await scanBytes(graphDefScanner, graphDef(restoreConst))), ['MEDIUM tensorflow/file-read-op']);
});

test('ops that only matter with certain attrs', async () => {
  const quiet = graphDef([
    node('c', 'CacheDataset', ['input', 'empty'], {}),
    constStr('empty', ''),
    node('m', 'ImmutableConst', [], { memory_region_name: S('memmapped_package://weights') }),
    node('d', 'DebugIdentity', ['input'], { debug_urls: { list: { s: [] } } }),
    node('p', 'PrintV2', ['input'], { output_stream: S('stderr') }),
    node('e', 'DecodeProtoV2', ['input'], { descriptor_source: S('local://') }),
  ]);
  assert.deepEqual(rules(await scanBytes(graphDefScanner, quiet)), []);
  const loud = graphDef([
    constStr('cache', '/tmp/cache'),
    node('c', 'CacheDataset', ['input', 'cache']),
    node('d', 'DebugIdentityV2', ['input'], { dump_root: S('/tmp/dumps') }),
    node('e', 'DecodeProtoV2', ['input'], { descriptor_source: S('/etc/descriptors.bin') }),
  ]);
  assert.deepEqual(rules(await scanBytes(graphDefScanner, loud)).sort(), ['HIGH tensorflow/file-read-op', 'HIGH tensorflow/file-write-op', 'HIGH tensorflow/file-write-op']);
});

test('function calls by name are not unknown ops; unknown ops are one LOW finding for the file', async () => {
  const lib = {
    function: [{ signature: { name: 'my_fn', input_arg: [{ name: 'a', type: 'DT_FLOAT' }] }, node_def: [node('z', 'ZzOne', ['a'])] }],
  };
  const fs = await scanBytes(graphDefScanner, graphDef([node('call', 'my_fn', ['input']), node('x', 'ZzOne', ['input']), node('y', 'ZzTwo', ['input'])], lib));
  const unknown = fs.filter((f) => f.ruleId === 'tensorflow/unknown-op');
  assert.equal(unknown.length, 1);
  assert.equal(unknown[0].severity, 'LOW');
  assert.match(unknown[0].message, /2 op type\(s\).*ZzOne, ZzTwo/);
  assert.ok(!unknown[0].message.includes('my_fn'));
  assert.match(unknown[0].evidence!, /function my_fn: z/);
});

test('file names passed into a function are traced as run-time arguments', async () => {
  const lib = {
    function: [{ signature: { name: 'loader', input_arg: [{ name: 'path', type: 'DT_STRING' }] }, node_def: [node('r', 'ReadFile', ['path'])] }],
  };
  const fs = await scanBytes(graphDefScanner, graphDef([], lib));
  assert.deepEqual(rules(fs), ['MEDIUM tensorflow/file-read-op']);
  assert.match(fs[0].evidence!, /function loader: r = ReadFile\(fed at run time \(argument path\)\)/);
});

test('many nodes of one risky op are one finding listing them', async () => {
  const nodes = Array.from({ length: 30 }, (_, i) => node(`w${i}`, 'WriteFile', ['input', 'input']));
  const fs = (await scanBytes(graphDefScanner, graphDef(nodes))).filter((f) => f.ruleId === 'tensorflow/file-write-op');
  assert.equal(fs.length, 1);
  assert.match(fs[0].message, /^30 WriteFile node/);
  assert.match(fs[0].evidence!, /… 10 more$/);
});

test('Keras Lambda naming a function is MEDIUM; unparseable metadata with a Lambda is still caught', async () => {
  const T = messageType('third_party.tensorflow.python.keras.protobuf.SavedMetadata');
  const meta = (metadata: string) =>
    Buffer.from(T.encode(T.fromObject({ nodes: [{ node_path: 'root', identifier: '_tf_keras_network', metadata }] })).finish());
  const named = JSON.stringify({ class_name: 'Functional', config: { layers: [{ class_name: 'Lambda', config: { name: 'l', function: 'system', module: 'os', function_type: 'function' } }] } });
  const fs = await scanBytes(kerasMetadataScanner, meta(named));
  assert.deepEqual(rules(fs), ['MEDIUM tensorflow/keras-lambda']);
  assert.match(fs[0].evidence!, /os\.system/);
  const broken = await scanBytes(kerasMetadataScanner, meta('{"class_name": "Lambda", "config": {"function": ["4wEAAA'));
  assert.deepEqual(rules(broken), ['HIGH tensorflow/keras-lambda']);
  const plain = await scanBytes(kerasMetadataScanner, meta(JSON.stringify({ class_name: 'Dense', config: { name: 'd', units: 3 } })));
  assert.deepEqual(rules(plain), []);
});

test('the op tables do not overlap', () => {
  for (const op of Object.keys(TF_RISKY_OPS)) assert.ok(!TF_ORDINARY_OPS.has(op), `${op} is both risky and ordinary`);
  assert.ok(TF_ORDINARY_OPS.size > 500);
});

test('mutated TensorFlow fixtures never make the scanners throw anything but Error', async () => {
  const inputs = ['benign/tf2_saved_model/saved_model.pb', 'malicious/graphdef_readfile.pb', 'malicious/keras_lambda/keras_metadata.pb'].map((p) => readFileSync(join(FIX, p)));
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: inputs.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      async (i, edits) => {
        const b = Buffer.from(inputs[i]);
        for (const [at, v] of edits) b[at % b.length] = v;
        const ctx = createScanContext('fuzz.pb');
        for (const s of [SCANNERS[i === 2 ? 2 : i === 1 ? 1 : 0]]) {
          try {
            await s.scan(new BufferSource(b), { location: 'fuzz.pb', depth: 0, ecosystems: ['python'] }, ctx);
          } catch (e) {
            assert.ok(e instanceof Error, `threw ${String(e)}`);
          }
        }
      },
    ),
    { numRuns: 800, seed: 2024 },
  );
});

test('DatasetFromGraph: a constant graph is opened and judged; a computed or broken one is MEDIUM', async () => {
  const inner = graphDef([constStr('p', '/etc/hosts'), node('r', 'ReadFile', ['p'])]);
  const T = messageType('tensorflow.TensorProto');
  const strConst = (name: string, bytes: Buffer) => node(name, 'Const', [], { dtype: { type: 'DT_STRING' }, value: { tensor: T.toObject(T.fromObject({ dtype: 'DT_STRING', string_val: [bytes] })) } });
  const opened = await scanBytes(graphDefScanner, graphDef([strConst('g', inner), node('id', 'Identity', ['g']), node('ds', 'DatasetFromGraph', ['id'])]));
  assert.deepEqual(rules(opened), ['HIGH tensorflow/file-read-op']);
  assert.match(opened[0].evidence!, /^graph_def » ds\.graph_def: r = ReadFile\("\/etc\/hosts"\)$/);
  // two levels down
  const twice = graphDef([strConst('g2', graphDef([strConst('g', inner), node('ds', 'DatasetFromGraph', ['g'])])), node('outer', 'DatasetFromGraph', ['g2'])]);
  const deep = await scanBytes(graphDefScanner, twice);
  assert.deepEqual(rules(deep), ['HIGH tensorflow/file-read-op']);
  assert.match(deep[0].evidence!, /graph_def » outer\.graph_def » ds\.graph_def: r = ReadFile/);
  // one constant run by many nodes is opened once
  const shared = await scanBytes(graphDefScanner, graphDef([strConst('g', inner), ...['a', 'b', 'c'].map((n) => node(n, 'DatasetFromGraph', ['g']))]));
  assert.deepEqual(rules(shared), ['HIGH tensorflow/file-read-op']);
  assert.match(shared[0].message, /^1 ReadFile node/);
  const computed = await scanBytes(graphDefScanner, graphDef([node('ds', 'DatasetFromGraph', ['input'])]));
  assert.deepEqual(rules(computed), ['MEDIUM tensorflow/nested-graph']);
  assert.match(computed[0].evidence!, /computed at run time/);
  const broken = await scanBytes(graphDefScanner, graphDef([strConst('g', Buffer.from([0x0a, 0xff, 0xff, 0x7f])), node('ds', 'DatasetFromGraph', ['g'])]));
  assert.deepEqual(rules(broken), ['MEDIUM tensorflow/nested-graph']);
  assert.match(broken[0].evidence!, /could not be decoded/);
});
