import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  attrStrings,
  constStrings,
  readGraphDef,
  readKerasMetadata,
  readSavedModel,
  sniffGraphDef,
  sniffKerasMetadata,
  sniffSavedModel,
  tfPathProblem,
} from '../../src/formats/tensorflow.js';
import { sniffOnnx } from '../../src/formats/onnx.js';
import { BufferSource, FileSource } from '../../src/formats/source.js';
import { decodeBuffer, messageType, type Decoded } from '../../src/formats/proto/decode.js';
import { TF_DECODE_OPTIONS } from '../../src/formats/tensorflow.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures/graph');
const head = (b: Buffer) => b.subarray(0, 4096);

function fixtures(pred: (name: string) => boolean): string[] {
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : pred(e.name) ? [join(d, e.name)] : []));
  return walk(FIX);
}

function encode(type: string, obj: Record<string, unknown>): Buffer {
  const T = messageType(type);
  return Buffer.from(T.encode(T.fromObject(obj)).finish());
}

test('reads a TF2 SavedModel: graph, library functions, saver, object graph', async () => {
  const src = await FileSource.open(join(FIX, 'benign/tf2_saved_model/saved_model.pb'));
  try {
    const m = await readSavedModel(src);
    assert.equal(m.kind, 'saved-model');
    assert.equal(m.schemaVersion, 1);
    assert.deepEqual(m.tags, [['serve']]);
    assert.deepEqual(m.tensorflowVersions, ['2.15.0']);
    assert.deepEqual(m.saverFilenames, ['saver_filename:0']);
    const names = m.graphs.map((g) => g.where);
    assert.deepEqual(names, [
      'meta_graphs[0].graph_def',
      'meta_graphs[0] function __inference_call_40',
      'meta_graphs[0] function __inference_signature_wrapper_50',
      'meta_graphs[0] function __inference__traced_save_99',
      'meta_graphs[0] function __inference__traced_restore_120',
    ]);
    const save = m.graphs.find((g) => g.name === '__inference__traced_save_99')!;
    assert.deepEqual(save.args.slice(0, 1), ['file_prefix']);
    const saveV2 = save.nodes.find((n) => n.op === 'SaveV2')!;
    assert.equal(saveV2.input[0], 'ShardedFilename:filename:0');
    const names2 = save.nodes.find((n) => n.name === 'SaveV2/tensor_names')!;
    assert.deepEqual(constStrings(names2), ['variables/0/.ATTRIBUTES/VARIABLE_VALUE', 'variables/1/.ATTRIBUTES/VARIABLE_VALUE', '_CHECKPOINTABLE_OBJECT_GRAPH']);
    const top = m.graphs[0];
    assert.equal(attrStrings(top.nodes.find((n) => n.name === 'dense/kernel')!, 'shared_name')[0], 'dense/kernel');
  } finally {
    await src.close();
  }
});

test('reads a TF1 SavedModel with its asset binding', async () => {
  const m = await readSavedModel(new BufferSource(readFileSync(join(FIX, 'benign/tf1_saved_model/saved_model.pb'))));
  assert.deepEqual(m.assets, [{ filename: 'vocab.txt', tensorName: 'asset_path:0', metaGraph: 0 }]);
  assert.deepEqual(m.saverFilenames, ['save/Const:0']);
  assert.equal(m.graphs.length, 1);
});

test('frozen GraphDef: Const weights are skipped unread, names and shapes kept', async () => {
  const bytes = readFileSync(join(FIX, 'benign/frozen_graph.pb'));
  const src = new BufferSource(bytes);
  const m = await readGraphDef(src);
  assert.deepEqual(
    m.graphs[0].nodes.map((n) => n.op),
    ['Placeholder', 'Const', 'MatMul', 'Const', 'BiasAdd', 'Relu', 'Softmax'],
  );
  const kernel = m.graphs[0].nodes[1];
  const t = kernel.attr.value.tensor as Decoded;
  assert.equal(t.tensor_content, undefined, 'weights are not kept');
  assert.equal(t.$skipped, 64 * 64 * 4);
  assert.deepEqual(
    ((t.tensor_shape as Decoded).dim as Decoded[]).map((d) => d.size),
    [64, 64],
  );
  assert.ok(src.bytesRead < bytes.length - 12 * 1024, `read ${src.bytesRead} of ${bytes.length}`);
});

test('keras_metadata.pb: identifiers, paths and JSON', async () => {
  const m = await readKerasMetadata(new BufferSource(readFileSync(join(FIX, 'benign/tf2_saved_model/keras_metadata.pb'))));
  assert.deepEqual(
    m.json.map((j) => j.identifier),
    ['_tf_keras_sequential', '_tf_keras_layer', '_tf_keras_layer'],
  );
  assert.equal(JSON.parse(m.json[0].json).class_name, 'Sequential');
  assert.match(m.json[1].where, /root\.layer_with_weights-0/);
});

test('string constants: short ones kept for file names, long or many ones dropped', () => {
  const long = 'x'.repeat(5000);
  const strs = Array.from({ length: 70 }, (_, i) => `s${i}`);
  const bytes = encode('tensorflow.TensorProto', { dtype: 'DT_STRING', string_val: [Buffer.from('/etc/passwd'), Buffer.from(long), ...strs.map((s) => Buffer.from(s))] });
  const t = decodeBuffer(bytes, 'tensorflow.TensorProto', TF_DECODE_OPTIONS);
  const kept = (t.string_val as Buffer[]).map((b) => b.toString());
  assert.equal(kept[0], '/etc/passwd');
  assert.ok(!kept.includes(long));
  assert.equal(kept.length, 64);
  assert.deepEqual(t.$truncated, ['string_val']);
});

test('sniffers are exclusive and claim only their own fixtures', () => {
  for (const p of fixtures((n) => n.endsWith('.pb') || n.endsWith('.onnx') || n.endsWith('.data') || n.endsWith('.json'))) {
    const b = readFileSync(p);
    const claims = [sniffSavedModel, sniffGraphDef, sniffKerasMetadata, sniffOnnx].filter((f) => f(head(b), b.length)).map((f) => f.name);
    const want = p.endsWith('saved_model.pb')
      ? ['sniffSavedModel']
      : p.endsWith('keras_metadata.pb')
        ? ['sniffKerasMetadata']
        : p.endsWith('.pb')
          ? ['sniffGraphDef']
          : p.endsWith('.onnx')
            ? ['sniffOnnx']
            : [];
    assert.deepEqual(claims, want, p);
  }
});

test('GraphDef sniffing wants a real node name and op', () => {
  const ok = encode('tensorflow.GraphDef', { node: [{ name: 'input', op: 'Placeholder' }] });
  assert.ok(sniffGraphDef(ok, ok.length));
  const badOp = encode('tensorflow.GraphDef', { node: [{ name: 'input', op: 'not an op!' }] });
  assert.ok(!sniffGraphDef(badOp, badOp.length));
  const text = Buffer.from('\n\nhello world, this is text\n');
  assert.ok(!sniffGraphDef(text, text.length));
  // a first node whose Const weights run past the 4 KiB head is still recognised
  const big = encode('tensorflow.GraphDef', {
    node: [{ name: 'w', op: 'Const', attr: { value: { tensor: { dtype: 'DT_FLOAT', tensor_content: Buffer.alloc(100_000) } } } }],
  });
  assert.ok(sniffGraphDef(head(big), big.length));
});

test('random bytes are almost never claimed as TensorFlow', () => {
  let claimed = 0;
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), (b) => {
      const buf = Buffer.from(b);
      if (sniffSavedModel(buf, buf.length) || sniffGraphDef(buf, buf.length) || sniffKerasMetadata(buf, buf.length)) claimed++;
    }),
    { numRuns: 5000, seed: 12 },
  );
  assert.ok(claimed <= 2, `claimed ${claimed} of 5000 random inputs`);
});

test('file names TensorFlow should not touch', () => {
  for (const p of ['/etc/passwd', '~/.bashrc', '../x', 'a/../../x', 'gs://bucket/x', 'hdfs://h/x', 'C:\\x', '\\\\srv\\x', 'x\0y']) assert.ok(tfPathProblem(p), p);
  for (const p of ['vocab.txt', 'assets/vocab.txt', 'model', '_temp/part']) assert.equal(tfPathProblem(p), undefined, p);
});

test('mutated TensorFlow fixtures only ever fail with Error', async () => {
  const inputs = fixtures((n) => n.endsWith('.pb')).map((p) => readFileSync(p));
  const readers = [readSavedModel, readGraphDef, readKerasMetadata];
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: inputs.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.option(fc.nat()),
      fc.integer({ min: 0, max: 2 }),
      async (i, edits, cut, r) => {
        const b = Buffer.from(inputs[i]);
        for (const [at, v] of edits) b[at % b.length] = v;
        const input = cut === null ? b : b.subarray(0, cut % (b.length + 1));
        try {
          await readers[r](new BufferSource(input));
        } catch (e) {
          assert.ok(e instanceof Error, `threw ${String(e)}`);
        }
        sniffSavedModel(head(input), input.length);
        sniffGraphDef(head(input), input.length);
        sniffKerasMetadata(head(input), input.length);
      },
    ),
    { numRuns: 1500, seed: 777 },
  );
});
