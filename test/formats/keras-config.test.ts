/**
 * The Keras config walk: real configs from the fixtures (read back out of
 * their .h5 attributes and .keras archives) and small configs in each of the
 * shapes Keras writes.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  isDottedName,
  isKerasModule,
  KERAS_BUILTIN_CLASSES,
  KERAS_BUILTIN_FUNCTIONS,
  parsePythonJson,
  walkKerasConfig,
  type KerasRef,
} from '../../src/formats/keras-config.js';
import { closeHdf5, readHdf5Root } from '../../src/formats/hdf5.js';
import { FileSource } from '../../src/formats/source.js';
import { openZipEntry, readZipDirectory } from '../../src/formats/zip.js';
import { DecompressionBudget } from '../../src/formats/compression.js';
import { resolveLimits } from '../../src/formats/limits.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures/keras');

after(() => closeHdf5());

async function h5Config(rel: string): Promise<unknown> {
  const src = await FileSource.open(join(FIX, rel));
  try {
    const r = await readHdf5Root(src, { attributes: ['model_config'] });
    const v = r.attributes.model_config;
    assert.equal(v?.kind, 'string');
    return parsePythonJson((v as { value: string }).value);
  } finally {
    await src.close();
  }
}

async function kerasConfig(rel: string): Promise<unknown> {
  const src = await FileSource.open(join(FIX, rel));
  try {
    const limits = resolveLimits();
    const dir = await readZipDirectory(src, limits);
    const entry = dir.entries.find((e) => e.name === 'config.json')!;
    const m = await openZipEntry(src, dir, entry, limits, new DecompressionBudget(limits));
    return parsePythonJson((await m.read(0, m.size)).toString('utf8'));
  } finally {
    await src.close();
  }
}

const kinds = (refs: KerasRef[], kind: KerasRef['kind']) => refs.filter((r) => r.kind === kind);

test('Python JSON: NaN and Infinity outside strings become null; inside strings they stay', () => {
  assert.deepEqual(parsePythonJson('{"a": NaN, "b": [Infinity, -Infinity], "c": "NaN Infinity", "d": 1}'), { a: null, b: [null, null], c: 'NaN Infinity', d: 1 });
  assert.deepEqual(parsePythonJson('{"e\\"NaN": NaN}'), { 'e"NaN': null });
  assert.throws(() => parsePythonJson("{'class_name': 'Sequential'}"), SyntaxError);
  assert.throws(() => parsePythonJson('{"a": NaNa}'), SyntaxError);
});

test('names: dotted paths, Keras modules and the built-in list', () => {
  assert.ok(isDottedName('os.system') && isDottedName('keras.layers.Dense'));
  for (const s of ['os', 'os.', '.x', 'a..b', 'a.b-c', 'x y.z', 'https://example.com/a.b']) assert.ok(!isDottedName(s), s);
  for (const m of ['keras', 'keras.layers', 'keras.src.models.functional', 'tf_keras.layers', 'keras_hub.models', 'tensorflow.keras.layers']) assert.ok(isKerasModule(m), m);
  for (const m of ['kerasx', 'os', 'my_pkg.keras', 'builtins']) assert.ok(!isKerasModule(m), m);
  for (const c of ['Dense', 'LSTM', 'Bidirectional', 'TimeDistributed', 'Sequential', 'Functional', 'Adam', 'GlorotUniform', 'Lambda', 'MultiHeadAttention']) {
    assert.ok(KERAS_BUILTIN_CLASSES.has(c), c);
  }
  for (const f of ['relu', 'softmax', 'categorical_crossentropy', 'mse', 'glorot_uniform']) assert.ok(KERAS_BUILTIN_FUNCTIONS.has(f), f);
  for (const n of ['system', 'exec', 'eval', 'Popen']) assert.ok(!KERAS_BUILTIN_CLASSES.has(n) && !KERAS_BUILTIN_FUNCTIONS.has(n), n);
});

test('benign Keras 2 Functional model: every object is a built-in, nothing loads code', async () => {
  const w = walkKerasConfig(await h5Config('benign/functional_complex.h5'));
  assert.equal(w.rootClass, 'Functional');
  assert.equal(kinds(w.refs, 'lambda').length, 0);
  assert.equal(kinds(w.refs, 'function').length, 0);
  const classes = kinds(w.refs, 'class') as Array<Extract<KerasRef, { kind: 'class' }>>;
  const names = new Set(classes.map((c) => c.className));
  for (const c of ['Functional', 'InputLayer', 'TimeDistributed', 'Bidirectional', 'LSTM', 'Dense', 'Sequential', 'GlorotUniform', 'Orthogonal']) assert.ok(names.has(c), c);
  assert.ok([...names].every((n) => KERAS_BUILTIN_CLASSES.has(n)), [...names].join());
  // Both halves of the Bidirectional wrapper and the nested Sequential's layer are reached.
  const lstm = classes.filter((c) => c.className === 'LSTM').map((c) => c.path);
  assert.deepEqual(lstm, ['config.layers[2].config.layer', 'config.layers[2].config.backward_layer']);
  const head = classes.find((c) => c.path === 'config.layers[4].config.layers[1]')!;
  assert.deepEqual(head.layers, ['model', 'head', 'head_dense']);
});

test('benign Keras 3 Functional archive: module/class_name objects and keras tensors', async () => {
  const w = walkKerasConfig(await kerasConfig('benign/functional_complex.keras'));
  assert.equal(w.rootClass, 'Functional');
  const classes = kinds(w.refs, 'class') as Array<Extract<KerasRef, { kind: 'class' }>>;
  assert.ok(classes.every((c) => c.module && isKerasModule(c.module)), classes.map((c) => c.module).join());
  assert.ok(!classes.some((c) => c.className === '__keras_tensor__'), 'keras tensors are values, not classes');
  assert.ok(w.kerasObjects > 20, `keras objects: ${w.kerasObjects}`);
  assert.equal(kinds(w.refs, 'lambda').length, 0);
});

test('Lambdas in every place Keras 2 and 3 put them', async () => {
  const nested = walkKerasConfig(await h5Config('malicious/lambda_nested.h5'));
  const lambdas = kinds(nested.refs, 'lambda') as Array<Extract<KerasRef, { kind: 'lambda' }>>;
  assert.deepEqual(
    lambdas.map((l) => [l.style, l.path, l.layers.join('/'), l.module]),
    [
      ['keras2', 'config.layers[1].config.layer.config.function', 'model/time_distributed/td_lambda', '__main__'],
      ['keras2', 'config.layers[2].config.layers[1].config.function', 'model/inner/inner_lambda', '__main__'],
    ],
  );
  assert.ok(typeof lambdas[0].code === 'string' && (lambdas[0].code as string).startsWith('4w'));

  const k3 = walkKerasConfig(await kerasConfig('malicious/lambda_keras3.keras'));
  const l3 = kinds(k3.refs, 'lambda') as Array<Extract<KerasRef, { kind: 'lambda' }>>;
  assert.equal(l3.length, 1);
  assert.equal(l3[0].style, 'keras3');
  assert.equal(l3[0].field, 'function');

  // The generic serialize_keras_object form, under output_shape, and Keras 2 with no function_type.
  const code = l3[0].code as string;
  const w = walkKerasConfig({
    class_name: 'Sequential',
    config: {
      layers: [
        { module: 'keras.layers', class_name: 'Lambda', config: { name: 'a', function: { class_name: '__lambda__', config: { value: [code, null, null] } } } },
        { class_name: 'Lambda', config: { name: 'b', function: 'relu', function_type: 'raw', output_shape: [code, null, null], output_shape_type: 'lambda' } },
        { class_name: 'Lambda', config: { name: 'c', function: [code, null, null] } },
      ],
    },
  });
  const got = (kinds(w.refs, 'lambda') as Array<Extract<KerasRef, { kind: 'lambda' }>>).map((l) => `${l.style}:${l.field}:${l.layers.at(-1)}`);
  assert.deepEqual(got, ['keras3-value:function:a', 'keras2:output_shape:b', 'keras2:function:c']);
});

test('function references, TF ops, safe-mode switches and embedded torch modules', () => {
  const w = walkKerasConfig({
    module: 'keras',
    class_name: 'Sequential',
    config: {
      name: 'm',
      layers: [
        { module: 'keras.layers', class_name: 'Lambda', config: { name: 'l', function: { module: 'keras.config', class_name: 'function', config: 'enable_unsafe_deserialization', registered_name: 'function' }, arguments: { safe_mode: false } } },
        { class_name: 'Lambda', config: { name: 'k2', function: 'system', function_type: 'function', module: 'os' } },
        { class_name: 'TFOpLambda', config: { name: 'op', function: 'io.write_file' } },
        { module: 'keras.layers', class_name: 'TorchModuleWrapper', config: { name: 't', module: 'UEsDBA==' } },
        { module: 'keras.layers', class_name: 'Dense', config: { name: 'd', activation: 'os.system', enable_unsafe_deserialization: true } },
      ],
    },
  });
  const fns = kinds(w.refs, 'function') as Array<Extract<KerasRef, { kind: 'function' }>>;
  assert.deepEqual(
    fns.map((f) => [f.module, f.name, f.via]),
    [
      ['keras.config', 'enable_unsafe_deserialization', 'keras3'],
      ['os', 'system', 'keras2-lambda'],
    ],
  );
  assert.deepEqual(
    (kinds(w.refs, 'tf-op') as Array<Extract<KerasRef, { kind: 'tf-op' }>>).map((t) => [t.fn, t.layers.join('/')]),
    [['io.write_file', 'm/op']],
  );
  // The TFOpLambda name is judged as a tf op, not as the dotted string "io.write_file".
  const dotted = (kinds(w.refs, 'dotted') as Array<Extract<KerasRef, { kind: 'dotted' }>>).map((d) => d.value);
  assert.ok(dotted.includes('os.system') && !dotted.includes('io.write_file'), dotted.join());
  assert.deepEqual(
    (kinds(w.refs, 'unsafe-flag') as Array<Extract<KerasRef, { kind: 'unsafe-flag' }>>).map((u) => u.detail),
    ['"safe_mode": false', 'the key "enable_unsafe_deserialization"'],
  );
  assert.equal(kinds(w.refs, 'embedded-torch').length, 1);
});

test('deep and wide configs: iterative walk, bounded', () => {
  let deep: unknown = { class_name: 'Dense', config: { name: 'leaf', activation: 'os.system' } };
  for (let i = 0; i < 100_000; i++) deep = [deep];
  const w = walkKerasConfig(deep);
  assert.equal(kinds(w.refs, 'dotted').length, 1);
  const wide = { layers: Array.from({ length: 50_000 }, (_, i) => ({ class_name: 'Custom', config: { name: `l${i}` } })) };
  const cut = walkKerasConfig(wide, { maxNodes: 1000 });
  assert.match(cut.truncated ?? '', /more than 1000/);
  const few = walkKerasConfig(wide, { maxRefs: 10 });
  assert.equal(few.refs.length, 10);
  assert.match(few.truncated ?? '', /references/);
});

test('any JSON value walks without throwing', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
      walkKerasConfig(v);
      walkKerasConfig({ class_name: 'Lambda', config: { name: 'x', function: v, function_type: 'lambda', output_shape: v, module: v } });
      walkKerasConfig({ class_name: '__lambda__', config: v });
      walkKerasConfig({ class_name: 'function', module: v, config: v, registered_name: v });
    }),
    { numRuns: 500 },
  );
});
