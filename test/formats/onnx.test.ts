import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { externalLocationProblem, readOnnx, sniffOnnx } from '../../src/formats/onnx.js';
import { BufferSource, FileSource } from '../../src/formats/source.js';
import { messageType, ProtoError } from '../../src/formats/proto/decode.js';
import { sniffGraphDef, sniffKerasMetadata, sniffSavedModel } from '../../src/formats/tensorflow.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures/graph');

function fixtures(ext: string): string[] {
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith(ext) ? [join(d, e.name)] : []));
  return walk(FIX);
}

const head = (b: Buffer) => b.subarray(0, 4096);

/** A ModelProto built with the vendored schema, for shapes the fixtures do not have. */
function encodeModel(obj: Record<string, unknown>): Buffer {
  const T = messageType('onnx.ModelProto');
  return Buffer.from(T.encode(T.fromObject(obj)).finish());
}

function mlpWith(rawBytes: number, extra: Record<string, unknown> = {}): Buffer {
  return encodeModel({
    ir_version: 8,
    producer_name: 'test',
    graph: {
      name: 'g',
      node: [{ op_type: 'MatMul', input: ['x', 'w'], output: ['y'], name: 'mm' }],
      initializer: [{ name: 'w', data_type: 1, dims: [rawBytes / 4], raw_data: Buffer.alloc(rawBytes, 1) }],
    },
    opset_import: [{ domain: '', version: 13 }],
    ...extra,
  });
}

test('reads nodes and initializer headers of a real onnx.helper model', async () => {
  const src = await FileSource.open(join(FIX, 'benign/mlp.onnx'));
  try {
    const m = await readOnnx(src);
    assert.equal(m.irVersion, 8);
    assert.equal(m.producerName, 'ptmscope-fixtures');
    assert.deepEqual(
      m.nodes.map((n) => n.opType),
      ['Gemm', 'Relu', 'Gemm', 'Softmax'],
    );
    assert.deepEqual(m.opsetImports, [{ domain: '', version: 13 }]);
    const w1 = m.tensors.find((t) => t.name === 'w1')!;
    assert.deepEqual(w1.dims, [4, 8]);
    assert.equal(w1.dataType, 1);
    assert.equal(w1.inlineBytes, 4 * 8 * 4, 'raw_data was skipped, its length counted');
    assert.equal(m.nodes.find((n) => n.opType === 'Softmax')!.name, 'softmax');
  } finally {
    await src.close();
  }
});

test('reads external_data entries written by onnx.save_model(save_as_external_data=True)', async () => {
  const src = await FileSource.open(join(FIX, 'benign/mlp_external.onnx'));
  try {
    const m = await readOnnx(src);
    const ext = m.tensors.filter((t) => t.externalData.length);
    assert.equal(ext.length, 4);
    for (const t of ext) {
      assert.equal(t.dataLocation, 1);
      assert.equal(t.externalData.find((e) => e.key === 'location')!.value, 'mlp_external.onnx.data');
      assert.equal(t.inlineBytes, 0);
    }
  } finally {
    await src.close();
  }
});

test('finds tensors in attributes, sparse initializers and function bodies', async () => {
  const attr = await readOnnx(new BufferSource(readFileSync(join(FIX, 'malicious/external_in_attribute.onnx'))));
  assert.ok(attr.tensors.some((t) => t.where === 'graph.node[leak].attribute[value]' && t.externalData.some((e) => e.value === '/etc/shadow')));
  const sparse = await readOnnx(new BufferSource(readFileSync(join(FIX, 'malicious/external_sparse.onnx'))));
  assert.ok(sparse.tensors.some((t) => t.where === 'graph.sparse_initializer[0].values'));
  assert.ok(sparse.tensors.some((t) => t.where === 'graph.sparse_initializer[0].indices'));
  const fn = await readOnnx(new BufferSource(readFileSync(join(FIX, 'malicious/function_custom_domain.onnx'))));
  assert.deepEqual(fn.functions.map((f) => [f.domain, f.name, f.nodeCount]), [['com.evil.funcs', 'Innocent', 1]]);
  assert.ok(fn.nodes.some((n) => n.domain === 'com.evil' && n.opType === 'ShellOut' && n.where.startsWith('functions[')));
});

test('tensor data is skipped, not read: an 8 MiB initializer costs a few KiB', async () => {
  const bytes = mlpWith(8 * 1024 * 1024);
  const src = new BufferSource(bytes);
  const m = await readOnnx(src);
  assert.equal(m.tensors[0].inlineBytes, 8 * 1024 * 1024);
  assert.ok(src.bytesRead < 16 * 1024, `read ${src.bytesRead} bytes of ${bytes.length}`);
});

test('a graph split over two fields is merged, as protobuf parsers do', async () => {
  const a = encodeModel({ ir_version: 8, graph: { node: [{ op_type: 'Relu', input: ['x'], output: ['y'] }] } });
  const b = encodeModel({ graph: { node: [{ op_type: 'Exec', domain: 'com.evil', input: ['y'], output: ['z'] }] } });
  const m = await readOnnx(new BufferSource(Buffer.concat([a, b])));
  assert.deepEqual(
    m.nodes.map((n) => n.opType),
    ['Relu', 'Exec'],
  );
  assert.equal(m.graphCount, 1);
});

test('truncated and overlong lengths are errors, not silent stops', async () => {
  const bytes = mlpWith(4096);
  await assert.rejects(readOnnx(new BufferSource(bytes.subarray(0, bytes.length - 10))), ProtoError);
  // graph field claiming more bytes than the file has
  const bad = Buffer.from([0x08, 0x08, 0x3a, 0xff, 0xff, 0x03, 0x0a, 0x00]);
  await assert.rejects(readOnnx(new BufferSource(bad)), /runs past|ends at/);
});

test('sniffs every ONNX fixture and nothing else', () => {
  for (const p of fixtures('.onnx')) {
    const b = readFileSync(p);
    assert.ok(sniffOnnx(head(b), b.length), p);
    assert.ok(!sniffSavedModel(head(b), b.length) && !sniffGraphDef(head(b), b.length) && !sniffKerasMetadata(head(b), b.length), p);
  }
  for (const p of [...fixtures('.pb'), ...fixtures('.data'), ...fixtures('.json')]) {
    const b = readFileSync(p);
    assert.ok(!sniffOnnx(head(b), b.length), p);
  }
  // an ONNX TensorProto file (what onnx's test data .pb files are) is not a model
  const T = messageType('onnx.TensorProto');
  const tensor = Buffer.from(T.encode(T.fromObject({ dims: [2, 2], data_type: 1, raw_data: Buffer.alloc(16) })).finish());
  assert.ok(!sniffOnnx(tensor, tensor.length));
  // ir_version out of range, or no graph
  assert.ok(!sniffOnnx(encodeModel({ ir_version: 99, graph: { name: 'g' } }), 100));
  const noGraph = encodeModel({ ir_version: 8, producer_name: 'x' });
  assert.ok(!sniffOnnx(noGraph, noGraph.length));
});

test('random bytes are almost never claimed as ONNX', () => {
  let claimed = 0;
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), (b) => {
      if (sniffOnnx(Buffer.from(b), b.length)) claimed++;
    }),
    { numRuns: 5000, seed: 11 },
  );
  assert.ok(claimed <= 2, `claimed ${claimed} of 5000 random inputs`);
});

test('external data locations: what escapes the model folder', () => {
  const escapes = ['/etc/passwd', '../../etc/passwd', 'a/../../b', 'C:\\Windows\\win.ini', 'c:/x', '\\\\server\\share\\x', '//server/share', 'file:///etc/passwd', 'http://127.0.0.1/w', 'w.bin\0.txt', '\\etc\\passwd', 'sub\\..\\..\\x'];
  for (const l of escapes) assert.ok(externalLocationProblem(l), l);
  for (const l of ['weights.bin', 'sub/dir/w.bin', './w.bin', 'model.onnx.data', '..weights', 'a..b/c']) assert.equal(externalLocationProblem(l), undefined, l);
});

test('mutated ONNX fixtures only ever fail with Error', async () => {
  const inputs = fixtures('.onnx').map((p) => readFileSync(p));
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: inputs.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.option(fc.nat()),
      async (i, edits, cut) => {
        const b = Buffer.from(inputs[i]);
        for (const [at, v] of edits) b[at % b.length] = v;
        const input = cut === null ? b : b.subarray(0, cut % (b.length + 1));
        try {
          await readOnnx(new BufferSource(input));
        } catch (e) {
          assert.ok(e instanceof Error, `threw ${String(e)}`);
        }
        sniffOnnx(head(input), input.length);
      },
    ),
    { numRuns: 1500, seed: 4242 },
  );
});

test('subgraphs nested past the protobuf depth limit are an error, not a stack overflow', async () => {
  // GraphProto{node: If{attribute: then_branch{g: GraphProto{…}}}}, written by hand (protobufjs's own encoder stops at depth 32)
  const ld = (id: number, b: Buffer) => Buffer.concat([varint((id << 3) | 2), varint(b.length), b]);
  const nest = (levels: number) => {
    let g = ld(1, ld(4, Buffer.from('Relu')));
    for (let i = 0; i < levels; i++) g = ld(1, Buffer.concat([ld(4, Buffer.from('If')), ld(5, Buffer.concat([ld(1, Buffer.from('then_branch')), Buffer.from([0xa0, 0x01, 0x05]), ld(6, g)]))]));
    return Buffer.concat([Buffer.from([0x08, 0x08]), ld(7, g)]);
  };
  await assert.rejects(readOnnx(new BufferSource(nest(200))), /nested deeper than 100/);
  const m = await readOnnx(new BufferSource(nest(20)));
  assert.equal(m.nodes.length, 21);
  assert.equal(m.graphCount, 21);
});

test('a flood of empty messages stops at the message limit', async () => {
  // 3 million empty NodeProto fields: 6 MB of bytes 0x0a 0x00
  const flood = Buffer.alloc(3_000_000 * 2);
  for (let i = 0; i < flood.length; i += 2) flood[i] = 0x0a;
  const graph = Buffer.concat([Buffer.from([0x3a]), varint(flood.length), flood]);
  const bytes = Buffer.concat([Buffer.from([0x08, 0x08]), graph]);
  await assert.rejects(readOnnx(new BufferSource(bytes)), /more than 2000000 protobuf messages/);
});

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}
