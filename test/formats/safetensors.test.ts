import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { readSafetensorsHeader, sniffSafetensors, SAFETENSORS_DTYPE_BITS, type SafetensorsHeader } from '../../src/formats/safetensors.js';
import { BufferSource, type ByteSource } from '../../src/formats/source.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DIR = join(ROOT, 'test/fixtures/tensors/safetensors');
const fixture = (name: string) => readFileSync(join(DIR, name));

/** A safetensors file built here: header JSON padded to 8, then `data`. */
function build(header: unknown, data: Buffer = Buffer.alloc(0), raw?: string): Buffer {
  let js = raw ?? JSON.stringify(header);
  js += ' '.repeat((8 - (Buffer.byteLength(js) % 8)) % 8);
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(Buffer.byteLength(js)));
  return Buffer.concat([n, Buffer.from(js), data]);
}

const codes = (h: SafetensorsHeader) => h.problems.map((p) => p.code);

test('reads the benign fixture: dtypes, shapes, offsets and metadata', async () => {
  const h = await readSafetensorsHeader(new BufferSource(fixture('benign_many_dtypes.safetensors')));
  assert.deepEqual(h.problems, []);
  assert.deepEqual(h.metadata, { format: 'pt', source: 'ptmscope fixture' });
  const byName = Object.fromEntries(h.tensors.map((t) => [t.name, t]));
  assert.deepEqual(byName['embed.weight'].shape, [32n, 8n]);
  assert.equal(byName['embed.weight'].dtype, 'F32');
  assert.equal(byName['layer.0.bias'].dtype, 'BF16');
  assert.equal(byName['fp8.weight'].dtype, 'F8_E4M3');
  assert.equal(h.tensors.length, 9);
  const total = h.tensors.reduce((a, t) => a + (t.end - t.begin), 0n);
  assert.equal(BigInt(h.dataStart!) + total, BigInt(fixture('benign_many_dtypes.safetensors').length));
});

test('reads the header only: bytes read are the header, never the tensors', async () => {
  const data = Buffer.alloc(1 << 20, 7);
  const file = build({ big: { dtype: 'U8', shape: [1 << 20], data_offsets: [0, 1 << 20] } }, data);
  const src = new BufferSource(file);
  const h = await readSafetensorsHeader(src);
  assert.deepEqual(h.problems, []);
  assert.equal(src.bytesRead, h.dataStart, 'only the 8-byte length and the JSON were read');
});

test('the dtype table matches the Rust crate (bits per element)', () => {
  assert.equal(SAFETENSORS_DTYPE_BITS.F4, 4);
  assert.equal(SAFETENSORS_DTYPE_BITS.F6_E2M3, 6);
  assert.equal(SAFETENSORS_DTYPE_BITS.C64, 64);
  assert.equal(SAFETENSORS_DTYPE_BITS.F8_E8M0, 8);
  for (const d of ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL', 'F8_E5M2', 'F8_E4M3']) assert.ok(d in SAFETENSORS_DTYPE_BITS, d);
});

test('sub-byte dtypes must fill whole bytes', async () => {
  const ok = await readSafetensorsHeader(new BufferSource(build({ a: { dtype: 'F4', shape: [3, 2], data_offsets: [0, 3] } }, Buffer.alloc(3))));
  assert.deepEqual(ok.problems, []);
  const odd = await readSafetensorsHeader(new BufferSource(build({ a: { dtype: 'F4', shape: [3], data_offsets: [0, 2] } }, Buffer.alloc(2))));
  assert.deepEqual(codes(odd), ['size-mismatch']);
  assert.match(odd.problems[0].message, /whole number of bytes/);
});

test('every broken fixture yields the problem it was made for', async () => {
  const expect: Record<string, string[]> = {
    'overlapping_offsets.safetensors': ['overlap'],
    'offsets_past_eof.safetensors': ['out-of-bounds'],
    'begin_after_end.safetensors': ['out-of-bounds', 'trailing-data'],
    'shape_mismatch.safetensors': ['size-mismatch'],
    'huge_header_length.safetensors': ['header-too-large', 'header-past-eof'],
    'header_past_eof.safetensors': ['header-past-eof'],
    'non_utf8_header.safetensors': ['header-not-utf8'],
    'non_object_header.safetensors': ['header-not-object'],
    'invalid_json_header.safetensors': ['header-not-json'],
    'bad_dtype.safetensors': ['unknown-dtype'],
    'metadata_not_string.safetensors': ['bad-metadata'],
    'duplicate_tensor_name.safetensors': ['duplicate-key', 'overlap'],
    'gap_between_tensors.safetensors': ['gap'],
    'trailing_pickle.safetensors': ['trailing-data'],
  };
  for (const [name, want] of Object.entries(expect)) {
    const h = await readSafetensorsHeader(new BufferSource(fixture(name)));
    assert.deepEqual(codes(h), want, name);
  }
  const trailing = await readSafetensorsHeader(new BufferSource(fixture('trailing_pickle.safetensors')));
  assert.equal(trailing.problems[0].hidden, 'pickle');
});

test('strict JSON: what serde_json rejects is a problem, not a crash', async () => {
  const bad = ['{"a":1,}', "{'a':1}", '{"a":NaN}', '{"a":"\\ud800"}', '{"a":"x\u0001"}', '{"a":1} x', `${'['.repeat(200)}${']'.repeat(200)}`, '{"a":01}'];
  for (const raw of bad) {
    const h = await readSafetensorsHeader(new BufferSource(build(null, Buffer.alloc(0), raw)));
    assert.ok(codes(h).includes('header-not-json') || codes(h).includes('header-not-object'), `${raw}: ${JSON.stringify(h.problems)}`);
  }
  // A BOM is not whitespace to serde_json.
  const bom = await readSafetensorsHeader(new BufferSource(build(null, Buffer.alloc(0), '\ufeff{}')));
  assert.deepEqual(codes(bom), ['header-not-json']);
  // 64-bit integers survive (JSON.parse would round them).
  const big = await readSafetensorsHeader(new BufferSource(build(null, Buffer.alloc(0), '{"a":{"dtype":"U8","shape":[9007199254740993],"data_offsets":[0,9007199254740993]}}')));
  assert.equal(big.tensors[0].end, 9007199254740993n);
  assert.deepEqual(codes(big), ['out-of-bounds']);
  // Negative, fractional and non-numeric shapes and offsets are bad entries.
  for (const entry of [{ dtype: 'F32', shape: [-1], data_offsets: [0, 0] }, { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] }, { dtype: 'F32', shape: [1], data_offsets: [0] }, { dtype: 3, shape: [1], data_offsets: [0, 4] }]) {
    const h = await readSafetensorsHeader(new BufferSource(build({ a: entry }, Buffer.alloc(4))));
    assert.ok(codes(h).includes('bad-entry'), JSON.stringify(entry));
  }
  // __metadata__ may be null (the crate's Option).
  const nullMeta = await readSafetensorsHeader(new BufferSource(build({ __metadata__: null })));
  assert.deepEqual(nullMeta.problems, []);
});

test('overflowing shapes are reported, not computed wrongly', async () => {
  const h = await readSafetensorsHeader(new BufferSource(build(null, Buffer.alloc(8), '{"a":{"dtype":"F64","shape":[18446744073709551615,4],"data_offsets":[0,8]}}')));
  assert.deepEqual(codes(h), ['size-mismatch']);
  assert.match(h.problems[0].message, /overflows/);
});

test('sniff: structure only', () => {
  for (const f of readdirSync(DIR).filter((n) => !n.startsWith('disguised'))) {
    const b = fixture(f);
    assert.equal(sniffSafetensors(b.subarray(0, 4096), b.length), true, f);
  }
  const pickle = fixture('disguised_pickle.safetensors');
  assert.equal(sniffSafetensors(pickle.subarray(0, 4096), pickle.length), false, 'a pickle named .safetensors is not claimed');
  const zip = fixture('disguised_torch_zip.safetensors');
  assert.equal(sniffSafetensors(zip.subarray(0, 4096), zip.length), false);
  const json = Buffer.from('{"not": "safetensors", "padding": "xxxxxxxxxxxxxxxxxxxxxxxx"}');
  assert.equal(sniffSafetensors(json, json.length), false, 'plain JSON text is not safetensors');
  assert.equal(sniffSafetensors(Buffer.alloc(3), 3), false);
  assert.equal(sniffSafetensors(Buffer.alloc(64), 64), false);
});

test('short and sequential sources', async () => {
  const h = await readSafetensorsHeader(new BufferSource(Buffer.from([1, 2, 3])));
  assert.deepEqual(codes(h), ['header-past-eof']);
  const file = fixture('trailing_pickle.safetensors');
  const seq: ByteSource = Object.assign(new BufferSource(file), { sequential: true });
  const s = await readSafetensorsHeader(seq);
  assert.deepEqual(codes(s), ['trailing-data']);
  assert.equal(s.problems[0].hidden, undefined, 'no look at the end of a sequential source');
});

test('fuzz: mutated fixtures never throw', async () => {
  const files = readdirSync(DIR).map(fixture).filter((b) => b.length < 4096);
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: files.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.nat(), async (i, edits, cut) => {
      const b = Buffer.from(files[i]);
      for (const [at, v] of edits) b[at % b.length] = v;
      const input = b.subarray(0, b.length - (cut % 4 === 0 ? cut % b.length : 0));
      const h = await readSafetensorsHeader(new BufferSource(input));
      assert.ok(Array.isArray(h.problems));
    }),
    { numRuns: 1500, seed: 8080 },
  );
});
