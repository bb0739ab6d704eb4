import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { GgufType, ggufTensorBytes, ggufValue, readGgufHeader, sniffGguf, type GgufHeader } from '../../src/formats/gguf.js';
import { BufferSource } from '../../src/formats/source.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DIR = join(ROOT, 'test/fixtures/tensors/gguf');
const TEMPLATES = join(ROOT, 'test/fixtures/tensors/templates');
const fixture = (name: string) => readFileSync(join(DIR, name));
const codes = (h: GgufHeader) => h.problems.map((p) => p.code);

/** A minimal GGUF v3 writer for cases the fixtures do not cover. */
function gguf(parts: { kvs?: Buffer[]; tensors?: Buffer[]; nTensors?: bigint; nKv?: bigint; tail?: Buffer; version?: number }): Buffer {
  const head = Buffer.alloc(24);
  head.write('GGUF', 0, 'latin1');
  head.writeUInt32LE(parts.version ?? 3, 4);
  head.writeBigUInt64LE(parts.nTensors ?? BigInt(parts.tensors?.length ?? 0), 8);
  head.writeBigUInt64LE(parts.nKv ?? BigInt(parts.kvs?.length ?? 0), 16);
  const body = Buffer.concat([head, ...(parts.kvs ?? []), ...(parts.tensors ?? [])]);
  const pad = Buffer.alloc((32 - (body.length % 32)) % 32);
  return Buffer.concat([body, pad, parts.tail ?? Buffer.alloc(0)]);
}
const str = (s: string) => {
  const b = Buffer.from(s);
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(b.length));
  return Buffer.concat([n, b]);
};
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const u64 = (v: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
};
const kvString = (k: string, v: string) => Buffer.concat([str(k), u32(GgufType.STRING), str(v)]);
const tensorInfo = (name: string, dims: bigint[], type: number, offset: bigint) => Buffer.concat([str(name), u32(dims.length), ...dims.map(u64), u32(type), u64(offset)]);

test('reads a real-looking v3 file: metadata, vocabulary counts, chat template, tensors', async () => {
  const file = fixture('benign_v3_llama32_template.gguf');
  const src = new BufferSource(file);
  const h = await readGgufHeader(src);
  assert.deepEqual(h.problems, []);
  assert.equal(h.version, 3);
  assert.equal(h.littleEndian, true);
  assert.equal(ggufValue(h, 'general.architecture'), 'llama');
  assert.equal(ggufValue(h, 'llama.context_length'), 4096);
  const tokens = h.kvs.find((k) => k.key === 'tokenizer.ggml.tokens')!;
  assert.equal(tokens.arrayType, GgufType.STRING);
  assert.equal(tokens.count, 600n);
  assert.equal(tokens.value, undefined, 'vocabulary kept as a count, not content');
  assert.equal(h.templates.length, 1, 'vocabulary tokens such as "{{" are not taken for templates');
  assert.equal(h.templates[0].key, 'tokenizer.chat_template');
  assert.equal(h.templates[0].text, readFileSync(join(TEMPLATES, 'llama-3.2-3b-instruct.jinja'), 'utf8'));
  assert.deepEqual(
    h.tensors.map((t) => [t.name, t.type, t.dims]),
    [
      ['token_embd.weight', 1, [16n, 600n]],
      ['blk.0.attn_norm.weight', 0, [16n]],
      ['blk.0.attn_q.weight', 8, [32n, 16n]],
      ['output_norm.weight', 0, [16n]],
    ],
  );
  assert.equal(ggufTensorBytes(h.tensors[2]), 16n * 34n);
  assert.equal(h.dataStart! % 32, 0);
  // Tensor data is never read: everything read lies before the data section.
  assert.ok(src.bytesRead <= h.dataStart!, `${src.bytesRead} bytes read, data starts at ${h.dataStart}`);
  const last = h.tensors[h.tensors.length - 1];
  assert.equal(BigInt(h.dataStart!) + last.offset + ggufTensorBytes(last)!, BigInt(file.length));
});

test('v1 (u32 counts), v2 with alignment 64, and big-endian v3 read the same way', async () => {
  const v1 = await readGgufHeader(new BufferSource(fixture('benign_v1.gguf')));
  assert.deepEqual(v1.problems, []);
  assert.equal(v1.version, 1);
  assert.equal(v1.templates[0].text, readFileSync(join(TEMPLATES, 'llama-2-chat.jinja'), 'utf8'));
  const v2 = await readGgufHeader(new BufferSource(fixture('benign_v2_named_templates.gguf')));
  assert.deepEqual(v2.problems, []);
  assert.equal(v2.alignment, 64);
  assert.deepEqual(v2.templates.map((t) => t.key), ['tokenizer.chat_template', 'tokenizer.chat_template.tool_use', 'tokenizer.chat_template.rag']);
  assert.ok(v2.templates.every((t) => t.chatTemplateKey));
  const be = await readGgufHeader(new BufferSource(fixture('benign_v3_big_endian.gguf')));
  assert.deepEqual(be.problems, []);
  assert.equal(be.littleEndian, false);
  assert.equal(ggufValue(be, 'llama.context_length'), 4096);
  assert.equal(be.tensors.length, 4);
});

test('each corrupt fixture yields its problem', async () => {
  const expect: Record<string, string> = {
    'absurd_kv_count.gguf': 'length-out-of-bounds',
    'absurd_tensor_count.gguf': 'length-out-of-bounds',
    'string_length_past_eof.gguf': 'length-out-of-bounds',
    'bad_version.gguf': 'bad-version',
    'misaligned_tensor.gguf': 'misaligned-tensor',
    'unknown_tensor_type.gguf': 'unknown-tensor-type',
    'removed_tensor_type.gguf': 'unknown-tensor-type',
    'too_many_dims.gguf': 'too-many-dims',
    'tensor_past_eof.gguf': 'tensor-out-of-bounds',
    'overlapping_tensors.gguf': 'tensor-overlap',
    'bad_alignment.gguf': 'bad-alignment',
    'bad_value_type.gguf': 'bad-value-type',
    'duplicate_chat_template.gguf': 'duplicate-key',
  };
  for (const [name, code] of Object.entries(expect)) {
    const h = await readGgufHeader(new BufferSource(fixture(name)));
    assert.equal(codes(h)[0], code, `${name}: ${JSON.stringify(h.problems)}`);
  }
});

test('a string length past the end stops reading without allocating it', async () => {
  const file = gguf({ kvs: [Buffer.concat([str('tokenizer.chat_template'), u32(GgufType.STRING), u64(1n << 60n), Buffer.from('{{ x }}')])] });
  const h = await readGgufHeader(new BufferSource(file));
  assert.deepEqual(codes(h), ['length-out-of-bounds']);
  assert.equal(h.problems[0].offset, 24 + 8 + 23 + 4);
});

test('array counts are checked against the bytes left, for numbers, strings and nested arrays', async () => {
  const numbers = gguf({ kvs: [Buffer.concat([str('x'), u32(GgufType.ARRAY), u32(GgufType.FLOAT32), u64(1n << 40n)])] });
  assert.deepEqual(codes(await readGgufHeader(new BufferSource(numbers))), ['length-out-of-bounds']);
  const strings = gguf({ kvs: [Buffer.concat([str('tokenizer.ggml.tokens'), u32(GgufType.ARRAY), u32(GgufType.STRING), u64(1n << 29n)])] });
  assert.deepEqual(codes(await readGgufHeader(new BufferSource(strings))), ['length-out-of-bounds']);
  const nested = gguf({ kvs: [Buffer.concat([str('n'), u32(GgufType.ARRAY), u32(GgufType.ARRAY), u64(2n), u32(GgufType.UINT8), u64(2n), Buffer.from([1, 2]), u32(GgufType.UINT8), u64(1n), Buffer.from([3])])] });
  const n = await readGgufHeader(new BufferSource(nested));
  assert.deepEqual(codes(n), ['nested-array', 'nested-array']);
  assert.equal(n.kvs[0].count, 2n);
});

test('templates in other keys and arrays are found; the vocabulary is not searched', async () => {
  const file = gguf({
    kvs: [
      kvString('general.description', 'hi {{ lipsum.__globals__ }}'),
      Buffer.concat([str('custom.prompts'), u32(GgufType.ARRAY), u32(GgufType.STRING), u64(3n), str('plain'), str('{% if x %}y{% endif %}'), str('{{')]),
      Buffer.concat([str('tokenizer.ggml.tokens'), u32(GgufType.ARRAY), u32(GgufType.STRING), u64(2n), str('{{ x }}'), str('}}')]),
    ],
  });
  const h = await readGgufHeader(new BufferSource(file));
  assert.deepEqual(h.problems, []);
  assert.deepEqual(
    h.templates.map((t) => [t.key, t.index, t.chatTemplateKey]),
    [
      ['general.description', undefined, false],
      ['custom.prompts', 1, false],
    ],
  );
});

test('duplicate keys, empty keys, long and duplicate tensor names, negative dims, block size', async () => {
  const file = gguf({
    kvs: [kvString('a', '1'), kvString('a', '2'), kvString('', '3')],
    tensors: [
      tensorInfo('t'.repeat(64), [32n], 0, 0n),
      tensorInfo('dup', [32n], 0, 128n),
      tensorInfo('dup', [32n], 0, 256n),
      tensorInfo('neg', [(1n << 64n) - 1n], 0, 384n),
      tensorInfo('q', [33n], 8, 416n),
    ],
    tail: Buffer.alloc(512),
  });
  const h = await readGgufHeader(new BufferSource(file));
  assert.deepEqual(codes(h), ['duplicate-key', 'empty-key', 'bad-tensor-info', 'duplicate-tensor', 'bad-tensor-info', 'bad-tensor-info']);
});

test('sniff by magic only', () => {
  assert.equal(sniffGguf(Buffer.from('GGUF\x03\x00\x00\x00')), true);
  assert.equal(sniffGguf(Buffer.from('GGU')), false);
  assert.equal(sniffGguf(Buffer.from('FUGG\x03\x00\x00\x00')), false);
});

test('fuzz: mutated fixtures never throw and never read past the header', async () => {
  const files = readdirSync(DIR).map(fixture);
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: files.length - 1 }),
      fc.array(fc.tuple(fc.nat({ max: 16_000 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 10 }),
      fc.option(fc.nat(), { nil: undefined }),
      async (i, edits, cut) => {
        const b = Buffer.from(files[i]);
        for (const [at, v] of edits) b[at % b.length] = v;
        const input = cut === undefined ? b : b.subarray(0, cut % b.length);
        const h = await readGgufHeader(new BufferSource(input), { maxKvs: 1000 });
        assert.ok(Array.isArray(h.problems));
        assert.ok(h.headerBytes <= input.length);
      },
    ),
    { numRuns: 800, seed: 4242 },
  );
});
