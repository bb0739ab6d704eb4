/**
 * Root attributes through the HDF5 library on its worker: real h5py files,
 * every kind of ByteSource, and the failure paths (corrupt files, library
 * crashes, stalls, source errors) each followed by a file that must still read.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { closeHdf5, Hdf5Error, hdf5SignatureOffset, readHdf5Root, HDF5_SIGNATURE } from '../../src/formats/hdf5.js';
import { BufferSource, FileSource, type ByteSource } from '../../src/formats/source.js';
import { openZipEntry, readZipDirectory } from '../../src/formats/zip.js';
import { DecompressionBudget } from '../../src/formats/compression.js';
import { LimitExceededError, resolveLimits } from '../../src/formats/limits.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures/keras');
const KERAS = ['model_config', 'training_config', 'keras_version', 'backend'];

after(() => closeHdf5());

const fixture = (rel: string) => readFileSync(join(FIX, rel));

async function stillWorks(): Promise<void> {
  const r = await readHdf5Root(new BufferSource(fixture('benign/sequential_mlp.h5')), { attributes: ['keras_version'] });
  assert.deepEqual(r.attributes.keras_version, { kind: 'string', value: '2.15.0' });
}

test('signature at 0 or after a 512/1024/2048-byte user block', () => {
  for (const off of [0, 512, 1024, 2048]) {
    const head = Buffer.alloc(4096, 0x20);
    HDF5_SIGNATURE.copy(head, off);
    assert.equal(hdf5SignatureOffset(head), off);
  }
  const at300 = Buffer.alloc(4096);
  HDF5_SIGNATURE.copy(at300, 300);
  assert.equal(hdf5SignatureOffset(at300), -1);
  assert.equal(hdf5SignatureOffset(HDF5_SIGNATURE.subarray(0, 7)), -1);
  assert.equal(hdf5SignatureOffset(Buffer.alloc(0)), -1);
});

test('a tf.keras .h5 file: Keras attributes as strings, metadata read, weights not', async () => {
  const src = await FileSource.open(join(FIX, 'benign/functional_complex.h5'));
  try {
    const r = await readHdf5Root(src, { attributes: KERAS });
    assert.deepEqual(r.attributeNames.sort(), ['backend', 'keras_version', 'model_config', 'training_config']);
    assert.equal(r.attributeCount, 4);
    const mc = r.attributes.model_config;
    assert.equal(mc.kind, 'string');
    assert.equal((JSON.parse((mc as { value: string }).value) as { class_name: string }).class_name, 'Functional');
    assert.deepEqual(r.attributes.backend, { kind: 'string', value: 'tensorflow' });
    // Weight data is most of the file; the library only asked for metadata.
    assert.ok(r.bytesRequested < src.size / 2, `${r.bytesRequested} of ${src.size} bytes`);
    assert.ok(src.bytesRead <= r.bytesRequested && src.bytesRead > 0);
  } finally {
    await src.close();
  }
});

test('a model.weights.h5 inside a .keras zip reads through the zip member source', async () => {
  const src = await FileSource.open(join(FIX, 'benign/sequential_mlp.keras'));
  try {
    const limits = resolveLimits();
    const dir = await readZipDirectory(src, limits);
    const entry = dir.entries.find((e) => e.name === 'model.weights.h5')!;
    const member = await openZipEntry(src, dir, entry, limits, new DecompressionBudget(limits));
    const r = await readHdf5Root(member, { attributes: KERAS });
    assert.deepEqual(r.attributes, {});
    assert.equal(r.attributeCount, 0);
  } finally {
    await src.close();
  }
});

test('user block, fixed-length strings, non-string attributes and the size bound', async () => {
  const ub = await readHdf5Root(new BufferSource(fixture('benign/user_block.h5')), { attributes: ['model_config'] });
  assert.equal(ub.attributes.model_config.kind, 'string');
  // save_weights files carry layer_names as an array of fixed-length byte strings.
  const w = await readHdf5Root(new BufferSource(fixture('benign/mlp_weights.h5')), { attributes: ['layer_names', 'backend'] });
  assert.deepEqual(w.attributes.layer_names, { kind: 'other', description: 'string array of shape [2]' });
  assert.deepEqual(w.attributes.backend, { kind: 'string', value: 'tensorflow' });
  const plain = await readHdf5Root(new BufferSource(fixture('benign/plain_data.h5')), { attributes: ['version', 'title', 'missing'] });
  assert.deepEqual(plain.attributes.version, { kind: 'other', description: 'integer' });
  assert.deepEqual(plain.attributes.title, { kind: 'string', value: 'measurements' });
  assert.ok(!('missing' in plain.attributes));
  const small = await readHdf5Root(new BufferSource(fixture('benign/sequential_mlp.h5')), { attributes: ['model_config'], maxAttributeBytes: 100 });
  assert.equal(small.attributes.model_config.kind, 'too-large');
});

test('not HDF5, or damaged: Hdf5Error with the library\'s reason', async () => {
  await assert.rejects(readHdf5Root(new BufferSource(fixture('malicious/corrupt.h5')), { attributes: KERAS }), (e: unknown) => e instanceof Hdf5Error && /superblock/.test(e.message));
  await assert.rejects(readHdf5Root(new BufferSource(Buffer.from('plain text, not hdf5')), { attributes: KERAS }), Hdf5Error);
  await assert.rejects(readHdf5Root(new BufferSource(Buffer.alloc(0)), { attributes: KERAS }), Hdf5Error);
  await stillWorks();
});

test('a library crash (abort in WebAssembly) fails that file only', async () => {
  // Three bytes of sequential_mlp.h5 changed so that the library aborts inside its global heap code.
  const b = Buffer.from(fixture('benign/sequential_mlp.h5'));
  for (const [at, v] of [[164, 111], [2051, 99], [368, 202]]) b[at] = v;
  // Whether the library aborts or only errors depends on its heap, so start from a fresh one.
  await closeHdf5();
  await assert.rejects(readHdf5Root(new BufferSource(b), { attributes: ['model_config'] }), (e: unknown) => e instanceof Hdf5Error && /crashed/.test(e.message));
  await stillWorks();
});

test('a source that never answers is cut off by the watchdog', async () => {
  const good = fixture('benign/sequential_mlp.h5');
  const stuck: ByteSource = { size: good.length, name: 'stuck', bytesRead: 0, read: () => new Promise<Buffer>(() => {}) };
  const t = Date.now();
  await assert.rejects(readHdf5Root(stuck, { attributes: ['model_config'], stallMs: 500 }), /no progress/);
  assert.ok(Date.now() - t < 5000);
  await stillWorks();
});

test('errors from the source reach the caller unchanged', async () => {
  const good = fixture('benign/sequential_mlp.h5');
  const limit = new LimitExceededError('maxDecompressedBytes', 'decompressed too much');
  const failing: ByteSource = {
    size: good.length,
    name: 'failing',
    bytesRead: 0,
    read: async (off) => {
      if (off > 0) throw limit;
      return good.subarray(0, 512);
    },
  };
  await assert.rejects(readHdf5Root(failing, { attributes: ['model_config'] }), (e: unknown) => e === limit);
  await stillWorks();
});

test('jobs from many callers at once are queued on the one worker', async () => {
  const files = ['benign/sequential_mlp.h5', 'benign/functional_complex.h5', 'malicious/corrupt.h5', 'benign/plain_data.h5'];
  const results = await Promise.allSettled(files.flatMap((f) => [f, f]).map((f) => readHdf5Root(new BufferSource(fixture(f)), { attributes: ['model_config', 'title'] })));
  assert.deepEqual(
    results.map((r) => (r.status === 'fulfilled' ? Object.keys(r.value.attributes).join() : 'error')),
    ['model_config', 'model_config', 'model_config', 'model_config', 'error', 'error', 'title', 'title'],
  );
});

test('mutated real HDF5 files: a result or an Hdf5Error, never anything else', async () => {
  const pool = ['benign/sequential_mlp.h5', 'benign/functional_complex.h5', 'benign/plain_data.h5', 'malicious/lambda_os_system.h5'].map(fixture);
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: pool.length - 1 }),
      fc.array(fc.tuple(fc.nat(4095), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.option(fc.nat(), { nil: undefined }),
      async (i, edits, cut) => {
        const b = Buffer.from(pool[i]);
        for (const [at, v] of edits) b[at % b.length] = v;
        const input = cut === undefined ? b : b.subarray(0, cut % b.length);
        try {
          await readHdf5Root(new BufferSource(input), { attributes: KERAS, stallMs: 8000 });
        } catch (e) {
          if (!(e instanceof Hdf5Error)) throw e;
        }
      },
    ),
    { numRuns: 150 },
  );
  await stillWorks();
});
