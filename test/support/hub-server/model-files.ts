/**
 * Writers for model files the fixture folders do not have: small safetensors
 * and GGUF files in memory, and multi-GB sparse ones on disk for the
 * benchmarks (the tensor data is a hole, so they cost no disk). Layouts follow
 * the safetensors and GGUF v3 specs closely enough for real loaders.
 */
import { open } from 'node:fs/promises';

export interface TensorSpec {
  name: string;
  dtype: 'F32' | 'F16' | 'I64';
  shape: number[];
}

const DTYPE_BYTES: Record<TensorSpec['dtype'], number> = { F32: 4, F16: 2, I64: 8 };

function tensorBytes(t: TensorSpec): number {
  return t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
}

/** The 8-byte length + JSON header of a safetensors file, padded to 8 bytes. */
function safetensorsHeader(tensors: TensorSpec[], metadata: Record<string, string>): { header: Buffer; dataBytes: number } {
  const obj: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const t of tensors) {
    const n = tensorBytes(t);
    obj[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + n] };
    off += n;
  }
  let json = JSON.stringify(obj);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return { header: Buffer.concat([len, Buffer.from(json)]), dataBytes: off };
}

/** A complete small safetensors file (tensor data filled with a pattern). */
export function safetensorsBytes(tensors: TensorSpec[], metadata: Record<string, string> = { format: 'pt' }): Buffer {
  const { header, dataBytes } = safetensorsHeader(tensors, metadata);
  const data = Buffer.alloc(dataBytes);
  for (let i = 0; i < dataBytes; i++) data[i] = (i * 31) & 0xff;
  return Buffer.concat([header, data]);
}

/** A safetensors file of about `dataBytes` whose tensor data is a hole. Returns its size. */
export async function writeSparseSafetensors(path: string, dataBytes: number): Promise<number> {
  // Split into 1 GiB-ish F16 tensors, as large checkpoints are.
  const tensors: TensorSpec[] = [];
  const per = 1024 * 1024 * 1024;
  for (let left = dataBytes, i = 0; left > 0; i++) {
    const n = Math.min(per, left);
    tensors.push({ name: `model.layers.${i}.weight`, dtype: 'F16', shape: [Math.floor(n / 2 / 1024), 1024] });
    left -= n;
  }
  const { header, dataBytes: real } = safetensorsHeader(tensors, { format: 'pt' });
  return writeHeaderThenHole(path, header, real);
}

// GGUF value types (gguf.h).
const GGUF_UINT32 = 4;
const GGUF_STRING = 8;
const GGUF_TYPE_F16 = 1;

function ggufString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(b.length));
  return Buffer.concat([len, b]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

/** The header (KV pairs + tensor infos + alignment padding) of a GGUF v3 file. */
function ggufHeader(tensorBytesEach: number[], chatTemplate: string): { header: Buffer; dataBytes: number } {
  const kv: Buffer[] = [
    Buffer.concat([ggufString('general.architecture'), u32(GGUF_STRING), ggufString('llama')]),
    Buffer.concat([ggufString('general.name'), u32(GGUF_STRING), ggufString('ptmscope-bench')]),
    Buffer.concat([ggufString('general.alignment'), u32(GGUF_UINT32), u32(32)]),
    Buffer.concat([ggufString('tokenizer.chat_template'), u32(GGUF_STRING), ggufString(chatTemplate)]),
  ];
  const infos: Buffer[] = [];
  let off = 0;
  tensorBytesEach.forEach((n, i) => {
    const elems = Math.floor(n / 2);
    infos.push(Buffer.concat([ggufString(`blk.${i}.weight`), u32(2), u64(1024), u64(Math.floor(elems / 1024)), u32(GGUF_TYPE_F16), u64(off)]));
    off += Math.floor(elems / 1024) * 1024 * 2;
    off = Math.ceil(off / 32) * 32;
  });
  const head = Buffer.concat([Buffer.from('GGUF'), u32(3), u64(tensorBytesEach.length), u64(kv.length), ...kv, ...infos]);
  const pad = (32 - (head.length % 32)) % 32;
  return { header: Buffer.concat([head, Buffer.alloc(pad)]), dataBytes: off };
}

const TEMPLATE = "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";

/** A small complete GGUF file. */
export function ggufBytes(tensorBytes = 4096): Buffer {
  const { header, dataBytes } = ggufHeader([tensorBytes], TEMPLATE);
  return Buffer.concat([header, Buffer.alloc(dataBytes, 7)]);
}

/** A GGUF file of about `dataBytes` whose tensor data is a hole. Returns its size. */
export async function writeSparseGguf(path: string, dataBytes: number): Promise<number> {
  const each: number[] = [];
  for (let left = dataBytes; left > 0; left -= 256 * 1024 * 1024) each.push(Math.min(256 * 1024 * 1024, left));
  const { header, dataBytes: real } = ggufHeader(each, TEMPLATE);
  return writeHeaderThenHole(path, header, real);
}

/** Writes `header`, then leaves `dataBytes` of sparse hole for the tensor data; returns the file size. */
async function writeHeaderThenHole(path: string, header: Buffer, dataBytes: number): Promise<number> {
  const fh = await open(path, 'w');
  try {
    await fh.write(header, 0, header.length, 0);
    await fh.truncate(header.length + dataBytes);
  } finally {
    await fh.close();
  }
  return header.length + dataBytes;
}
