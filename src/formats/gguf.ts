/**
 * GGUF header reader (ggml's docs/gguf.md; checks follow ggml/src/gguf.cpp,
 * the reader llama.cpp uses). Layout: magic "GGUF", u32 version (1, 2, 3;
 * v1 used u32 counts, string lengths and dimensions, v2+ u64; v3 may be
 * big-endian), tensor count, metadata key/value count, the key/value pairs
 * (gguf string key, u32 value type, value), the tensor infos (name, n_dims,
 * dims, ggml type, offset), padding to `general.alignment` (default 32),
 * then tensor data, which is never read.
 *
 * The header is read forward through a small window of range reads. Memory
 * is bounded: string arrays (150k-token vocabularies) are walked by length
 * and kept as counts, long strings are skipped unread unless they are chat
 * templates, and the number of pairs and tensor infos kept is capped. Every
 * length and count is checked against the bytes left before it is used;
 * where the layout can no longer be followed, reading stops with a problem.
 */
import type { ByteSource } from './source.js';
import { looksLikeTemplate } from './jinja-template.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** GGML_MAX_DIMS */
export const GGML_MAX_DIMS = 4;
/** GGML_MAX_NAME: tensor names must be shorter. */
export const GGML_MAX_NAME = 64;
/** gguf.cpp's GGUF_MAX_STRING_LENGTH and GGUF_MAX_ARRAY_ELEMENTS. */
export const GGUF_MAX_STRING = 1024 * 1024 * 1024;
export const GGUF_MAX_ARRAY = 1024 * 1024 * 1024;

export enum GgufType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

const SCALAR_SIZE: Partial<Record<GgufType, number>> = {
  [GgufType.UINT8]: 1,
  [GgufType.INT8]: 1,
  [GgufType.UINT16]: 2,
  [GgufType.INT16]: 2,
  [GgufType.UINT32]: 4,
  [GgufType.INT32]: 4,
  [GgufType.FLOAT32]: 4,
  [GgufType.BOOL]: 1,
  [GgufType.UINT64]: 8,
  [GgufType.INT64]: 8,
  [GgufType.FLOAT64]: 8,
};

/** ggml tensor types: [name, block size, bytes per block] (gguf-py's GGML_QUANT_SIZES). */
export const GGML_TYPES: Readonly<Record<number, readonly [string, number, number]>> = {
  0: ['F32', 1, 4],
  1: ['F16', 1, 2],
  2: ['Q4_0', 32, 18],
  3: ['Q4_1', 32, 20],
  6: ['Q5_0', 32, 22],
  7: ['Q5_1', 32, 24],
  8: ['Q8_0', 32, 34],
  9: ['Q8_1', 32, 40],
  10: ['Q2_K', 256, 84],
  11: ['Q3_K', 256, 110],
  12: ['Q4_K', 256, 144],
  13: ['Q5_K', 256, 176],
  14: ['Q6_K', 256, 210],
  15: ['Q8_K', 256, 292],
  16: ['IQ2_XXS', 256, 66],
  17: ['IQ2_XS', 256, 74],
  18: ['IQ3_XXS', 256, 98],
  19: ['IQ1_S', 256, 50],
  20: ['IQ4_NL', 32, 18],
  21: ['IQ3_S', 256, 110],
  22: ['IQ2_S', 256, 82],
  23: ['IQ4_XS', 256, 136],
  24: ['I8', 1, 1],
  25: ['I16', 1, 2],
  26: ['I32', 1, 4],
  27: ['I64', 1, 8],
  28: ['F64', 1, 8],
  29: ['IQ1_M', 256, 56],
  30: ['BF16', 1, 2],
  34: ['TQ1_0', 256, 54],
  35: ['TQ2_0', 256, 66],
  39: ['MXFP4', 32, 17],
  40: ['NVFP4', 64, 36],
  41: ['Q1_0', 128, 18],
};
/** Ids ggml once used and removed from GGUF files (llama.cpp rejects them: block size 0). */
export const GGML_REMOVED_TYPES: Readonly<Record<number, string>> = {
  4: 'Q4_2',
  5: 'Q4_3',
  31: 'Q4_0_4_4',
  32: 'Q4_0_4_8',
  33: 'Q4_0_8_8',
  36: 'IQ4_NL_4_4',
  37: 'IQ4_NL_4_8',
  38: 'IQ4_NL_8_8',
};

export type GgufProblemCode =
  | 'bad-version'
  | 'truncated'
  /** A string length, array count or header count that cannot fit in the file or exceeds llama.cpp's limits. */
  | 'length-out-of-bounds'
  | 'bad-value-type'
  | 'empty-key'
  | 'non-ascii-key'
  | 'duplicate-key'
  | 'nested-array'
  | 'bad-alignment'
  /** n_dims > GGML_MAX_DIMS. */
  | 'too-many-dims'
  | 'bad-tensor-info'
  | 'duplicate-tensor'
  | 'unknown-tensor-type'
  | 'misaligned-tensor'
  | 'tensor-out-of-bounds'
  | 'tensor-overlap'
  | 'tensor-gap';

export interface GgufProblem {
  code: GgufProblemCode;
  message: string;
  /** Absolute file offset the problem is about. */
  offset?: number;
  /** Key or tensor name concerned. */
  name?: string;
}

export type GgufScalar = number | bigint | boolean | string;

export interface GgufKv {
  key: string;
  type: GgufType;
  /** File offset of the key. */
  offset: number;
  /** Scalars and strings that were kept (long strings are not). */
  value?: GgufScalar;
  /** Length in bytes of a string value, kept or not. */
  stringLength?: number;
  /** Arrays: element type and count (elements are not kept). */
  arrayType?: GgufType;
  count?: bigint;
}

export interface GgufTemplate {
  /** Metadata key, e.g. "tokenizer.chat_template" or "tokenizer.chat_template.tool_use". */
  key: string;
  /** Array index when the template is an element of a string array. */
  index?: number;
  /** File offset of the string bytes. */
  offset: number;
  text: string;
  /** The string was longer than what was kept. */
  truncated: boolean;
  /** The key is one loaders render as a chat template (not just a string that looks like one). */
  chatTemplateKey: boolean;
}

export interface GgufTensorInfo {
  name: string;
  dims: bigint[];
  type: number;
  /** Offset relative to the start of the data section. */
  offset: bigint;
  /** File offset of the tensor info. */
  infoOffset: number;
}

export interface GgufHeader {
  version: number;
  littleEndian: boolean;
  tensorCount: bigint;
  kvCount: bigint;
  kvs: GgufKv[];
  /** Pairs read but not kept (over the cap). */
  kvsOmitted: number;
  tensors: GgufTensorInfo[];
  tensorsOmitted: number;
  alignment: number;
  /** File offset of the data section, when the tensor infos were read to the end. */
  dataStart?: number;
  /** Chat templates and template-looking strings found in the metadata. */
  templates: GgufTemplate[];
  problems: GgufProblem[];
  /** Bytes of header walked (magic to the end of the tensor infos, or to where reading stopped). */
  headerBytes: number;
}

export interface GgufReadOptions {
  /** Pairs kept in `kvs` (all are read). */
  maxKvs?: number;
  /** Tensor infos kept (all are read and checked for layout while kept). */
  maxTensors?: number;
  /** Longest string value kept (chat templates up to this size are analysed). */
  maxString?: number;
  /** Non-template strings longer than this are skipped unread. */
  maxPlainString?: number;
  /** Template-looking strings kept per array. */
  maxTemplatesPerArray?: number;
}

const DEFAULTS: Required<GgufReadOptions> = {
  maxKvs: 100_000,
  maxTensors: 1_000_000,
  maxString: 1024 * 1024,
  maxPlainString: 64 * 1024,
  maxTemplatesPerArray: 16,
};

/** Stop reading: the layout cannot be followed past this point. */
class Stop extends Error {}

/**
 * Forward reader over a ByteSource through a window of range reads. It reads
 * ahead only as far as `floor`, a position the reader knows is still header
 * (from the counts left, each item's minimum size), so tensor data is never
 * touched however the header is laid out.
 */
class Cursor {
  pos = 0;
  /** Absolute offset up to which the bytes are certainly header (a lower bound). */
  floor = 0;
  private buf: Buffer = Buffer.alloc(0);
  private bufStart = 0;
  private wide = true;
  constructor(
    private readonly src: ByteSource,
    private readonly le: boolean,
    private readonly chunk = 64 * 1024,
  ) {}

  setWide(wide: boolean): void {
    this.wide = wide;
  }

  get remaining(): number {
    return this.src.size - this.pos;
  }

  /** Makes [pos, pos+n) available; false when the file ends first. */
  private async fill(n: number): Promise<boolean> {
    if (this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.buf.length) return true;
    if (this.pos + n > this.src.size) return false;
    const want = Math.max(n, Math.min(this.chunk, this.floor - this.pos));
    this.buf = await this.src.read(this.pos, Math.min(want, this.src.size - this.pos));
    this.bufStart = this.pos;
    return this.buf.length >= n;
  }

  async bytes(n: number): Promise<Buffer> {
    if (!(await this.fill(n))) throw new Stop(`the file ends at ${this.src.size}, inside a ${n}-byte field at ${this.pos}`);
    const off = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(off, off + n);
  }

  async u32(): Promise<number> {
    const b = await this.bytes(4);
    return this.le ? b.readUInt32LE(0) : b.readUInt32BE(0);
  }

  async u64(): Promise<bigint> {
    const b = await this.bytes(8);
    return this.le ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0);
  }

  /** A length read from the window without awaiting, when the window holds it (the hot path of 150k-string arrays). */
  lenSync(): bigint | undefined {
    const n = this.wide ? 8 : 4;
    const off = this.pos - this.bufStart;
    if (off < 0 || off + n > this.buf.length) return undefined;
    this.pos += n;
    if (this.wide) return this.le ? this.buf.readBigUInt64LE(off) : this.buf.readBigUInt64BE(off);
    return BigInt(this.le ? this.buf.readUInt32LE(off) : this.buf.readUInt32BE(off));
  }

  /** Bytes from the window without awaiting, when the window holds them. */
  bytesSync(n: number): Buffer | undefined {
    const off = this.pos - this.bufStart;
    if (off < 0 || off + n > this.buf.length) return undefined;
    this.pos += n;
    return this.buf.subarray(off, off + n);
  }

  /** A count or length: u32 in v1, u64 after. */
  async len(): Promise<bigint> {
    return this.wide ? this.u64() : BigInt(await this.u32());
  }

  get lenSize(): number {
    return this.wide ? 8 : 4;
  }

  async scalar(t: GgufType): Promise<GgufScalar> {
    const b = await this.bytes(SCALAR_SIZE[t]!);
    const le = this.le;
    switch (t) {
      case GgufType.UINT8:
        return b[0];
      case GgufType.INT8:
        return b.readInt8(0);
      case GgufType.UINT16:
        return le ? b.readUInt16LE(0) : b.readUInt16BE(0);
      case GgufType.INT16:
        return le ? b.readInt16LE(0) : b.readInt16BE(0);
      case GgufType.UINT32:
        return le ? b.readUInt32LE(0) : b.readUInt32BE(0);
      case GgufType.INT32:
        return le ? b.readInt32LE(0) : b.readInt32BE(0);
      case GgufType.FLOAT32:
        return le ? b.readFloatLE(0) : b.readFloatBE(0);
      case GgufType.BOOL:
        return b[0] !== 0;
      case GgufType.UINT64:
        return le ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0);
      case GgufType.INT64:
        return le ? b.readBigInt64LE(0) : b.readBigInt64BE(0);
      case GgufType.FLOAT64:
        return le ? b.readDoubleLE(0) : b.readDoubleBE(0);
      default:
        throw new Stop(`value type ${t} has no fixed size`);
    }
  }

  /** Marks the next `bytes` bytes as certainly header (read-ahead may cover them). */
  atLeast(bytes: bigint): void {
    const end = BigInt(this.pos) + bytes;
    this.floor = Number(end < BigInt(this.src.size) ? end : BigInt(this.src.size));
  }

  /** Moves forward without reading (the bytes were checked to exist). */
  skip(n: number): void {
    this.pos += n;
  }
}

/** Whether these bytes start a GGUF file (the magic alone: a broken header still gets reported). */
export function sniffGguf(head: Buffer): boolean {
  return head.length >= 4 && head.readUInt32LE(0) === GGUF_MAGIC;
}

const TEMPLATE_KEY = /(^|\.)chat_template(\.|$)/;

/** Bytes of a key or tensor name kept (real ones are under 100; the rest is skipped unread). */
const MAX_KEPT_NAME = 4096;
/** Keys and names remembered for duplicate checks (bounded memory on hostile counts). */
const MAX_NAMES = 1_000_000;

/** Vocabulary arrays: walked by length, never searched for templates (tokens such as "{{" are ordinary there). */
const VOCAB_KEYS = /^tokenizer\.ggml\.(tokens|merges|added_tokens|token_type|scores)$/;

export async function readGgufHeader(src: ByteSource, options: GgufReadOptions = {}): Promise<GgufHeader> {
  const opt = { ...DEFAULTS, ...options };
  const h: GgufHeader = {
    version: 0,
    littleEndian: true,
    tensorCount: 0n,
    kvCount: 0n,
    kvs: [],
    kvsOmitted: 0,
    tensors: [],
    tensorsOmitted: 0,
    alignment: GGUF_DEFAULT_ALIGNMENT,
    templates: [],
    problems: [],
    headerBytes: 0,
  };
  const head = await src.read(0, 8);
  if (head.length < 8 || head.readUInt32LE(0) !== GGUF_MAGIC) {
    h.problems.push({ code: 'truncated', offset: 0, message: `file is ${src.size} bytes: too short for a GGUF header, or no GGUF magic` });
    return h;
  }
  let version = head.readUInt32LE(4);
  // A big-endian file (GGUF v3) shows its version in the high bytes when read little-endian.
  if (version !== 0 && (version & 0xffff) === 0) {
    const be = head.readUInt32BE(4);
    if (be >= 1 && be <= 3) {
      version = be;
      h.littleEndian = false;
    }
  }
  h.version = version;
  if (version < 1 || version > 3) {
    h.problems.push({ code: 'bad-version', offset: 4, message: `GGUF version ${version} is not one of 1, 2, 3; the rest of the header cannot be read reliably` });
    h.headerBytes = 8;
    return h;
  }
  const cur = new Cursor(src, h.littleEndian);
  cur.setWide(version >= 2);
  cur.pos = 8;
  try {
    h.tensorCount = await cur.len();
    h.kvCount = await cur.len();
    await readKvs(cur, h, opt);
    await readTensorInfos(cur, h, opt);
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    if (!(e instanceof StopReported)) h.problems.push({ code: 'truncated', offset: cur.pos, message: `header ends early: ${e.message}` });
  }
  h.headerBytes = cur.pos;
  if (h.dataStart !== undefined) checkTensorLayout(h, src.size);
  return h;
}

function stop(h: GgufHeader, p: GgufProblem): never {
  h.problems.push(p);
  throw new StopReported();
}

/** A stop whose problem is already recorded. */
class StopReported extends Stop {
  constructor() {
    super('');
  }
}

async function readKvs(cur: Cursor, h: GgufHeader, opt: Required<GgufReadOptions>): Promise<void> {
  // The smallest pair: key length, an (invalid) empty key, the type, a 1-byte value.
  const minKv = cur.lenSize + 4 + 1;
  if (h.kvCount > BigInt(Math.floor(cur.remaining / minKv))) {
    h.problems.push({
      code: 'length-out-of-bounds',
      offset: 8 + cur.lenSize,
      message: `header declares ${h.kvCount} metadata pairs; the ${cur.remaining} bytes left can hold at most ${Math.floor(cur.remaining / minKv)}`,
    });
  }
  const seen = new Set<string>();
  for (let i = 0n; i < h.kvCount; i++) {
    if (cur.remaining <= 0) stop(h, { code: 'truncated', offset: cur.pos, message: `file ends after ${i} of ${h.kvCount} metadata pairs` });
    cur.atLeast((h.kvCount - i) * BigInt(minKv) + h.tensorCount * BigInt(cur.lenSize + 16));
    const offset = cur.pos;
    const key = await readString(cur, h, 'key', offset, MAX_KEPT_NAME, false);
    if (key === '') h.problems.push({ code: 'empty-key', offset, message: `metadata pair ${i} has an empty key` });
    else if (/[^\x20-\x7e]/.test(key)) h.problems.push({ code: 'non-ascii-key', offset, name: key, message: `metadata key ${JSON.stringify(key.slice(0, 80))} is not printable ASCII` });
    if (seen.has(key)) h.problems.push({ code: 'duplicate-key', offset, name: key, message: `metadata key ${JSON.stringify(key.slice(0, 80))} appears more than once` });
    else if (seen.size < MAX_NAMES) seen.add(key);
    const type = (await cur.u32()) as GgufType;
    const kv: GgufKv = { key, type, offset };
    await readValue(cur, h, kv, type, opt, 0);
    if (h.kvs.length < opt.maxKvs) h.kvs.push(kv);
    else h.kvsOmitted++;
    if (key === 'general.alignment') {
      if (type !== GgufType.UINT32 || typeof kv.value !== 'number') {
        h.problems.push({ code: 'bad-alignment', offset, message: `Metadata key general.alignment has type ${GgufType[type] ?? type}, not UINT32 (llama.cpp refuses the file)` });
      } else if (kv.value === 0 || (kv.value & (kv.value - 1)) !== 0) {
        h.problems.push({ code: 'bad-alignment', offset, message: `Metadata key general.alignment is ${kv.value}, not a power of two (llama.cpp refuses the file)` });
      } else h.alignment = kv.value;
    }
  }
}

/** Reads a gguf string; keeps up to `keep` bytes of text, skipping the rest unread. */
async function readString(cur: Cursor, h: GgufHeader, what: string, at: number, keep: number, skipLong: boolean): Promise<string> {
  const lenAt = cur.pos;
  const n = await cur.len();
  if (n > BigInt(cur.remaining)) {
    stop(h, { code: 'length-out-of-bounds', offset: lenAt, message: `${what} at ${at} declares a length of ${n} bytes; only ${cur.remaining} bytes are left in the file` });
  }
  if (n > BigInt(GGUF_MAX_STRING)) stop(h, { code: 'length-out-of-bounds', offset: lenAt, message: `${what} at ${at} is ${n} bytes, over llama.cpp's 1 GiB string limit` });
  const len = Number(n);
  if (len > keep && skipLong) {
    cur.skip(len);
    return '';
  }
  const take = Math.min(len, keep);
  const text = (await cur.bytes(take)).toString('utf8');
  cur.skip(len - take);
  return text;
}

async function readValue(cur: Cursor, h: GgufHeader, kv: GgufKv, type: GgufType, opt: Required<GgufReadOptions>, depth: number): Promise<void> {
  const isTemplateKey = TEMPLATE_KEY.test(kv.key);
  if (type === GgufType.STRING) {
    const lenAt = cur.pos;
    const n = await cur.len();
    cur.pos = lenAt; // re-read by readString
    const len = n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
    kv.stringLength = len;
    const keep = isTemplateKey ? opt.maxString : opt.maxPlainString;
    const dataAt = lenAt + cur.lenSize;
    const text = await readString(cur, h, `value of ${JSON.stringify(kv.key.slice(0, 80))}`, kv.offset, keep, !isTemplateKey);
    if (len <= keep) kv.value = text;
    if (isTemplateKey || (len <= keep && looksLikeTemplate(text))) {
      h.templates.push({ key: kv.key, offset: dataAt, text, truncated: len > keep, chatTemplateKey: isTemplateKey });
    }
    return;
  }
  if (type === GgufType.ARRAY) {
    const elemType = (await cur.u32()) as GgufType;
    const countAt = cur.pos;
    const count = await cur.len();
    kv.arrayType = elemType;
    kv.count = count;
    if (depth > 0) h.problems.push({ code: 'nested-array', offset: countAt, name: kv.key, message: `metadata ${JSON.stringify(kv.key)} holds nested arrays, which llama.cpp does not read` });
    if (count > BigInt(GGUF_MAX_ARRAY)) stop(h, { code: 'length-out-of-bounds', offset: countAt, name: kv.key, message: `array ${JSON.stringify(kv.key)} declares ${count} elements, over llama.cpp's limit of 2^30` });
    const size = SCALAR_SIZE[elemType];
    if (size !== undefined) {
      const bytes = count * BigInt(size);
      if (bytes > BigInt(cur.remaining)) {
        stop(h, { code: 'length-out-of-bounds', offset: countAt, name: kv.key, message: `array ${JSON.stringify(kv.key)} declares ${count} × ${size}-byte elements; only ${cur.remaining} bytes are left in the file` });
      }
      cur.skip(Number(bytes));
      return;
    }
    if (elemType === GgufType.STRING) {
      if (count * BigInt(cur.lenSize) > BigInt(cur.remaining)) {
        stop(h, { code: 'length-out-of-bounds', offset: countAt, name: kv.key, message: `array ${JSON.stringify(kv.key)} declares ${count} strings; the ${cur.remaining} bytes left cannot hold their lengths` });
      }
      const search = !VOCAB_KEYS.test(kv.key);
      let kept = 0;
      const total = Number(count);
      for (let i = 0; i < total; i++) {
        // The rest of this array is at least one length field per element.
        if (cur.pos + cur.lenSize > cur.floor) cur.atLeast(BigInt(total - i) * BigInt(cur.lenSize));
        const lenAt = cur.pos;
        const n = cur.lenSync() ?? (await cur.len());
        if (n > BigInt(cur.remaining)) {
          stop(h, { code: 'length-out-of-bounds', offset: lenAt, name: kv.key, message: `element ${i} of ${JSON.stringify(kv.key)} declares a length of ${n} bytes; only ${cur.remaining} bytes are left in the file` });
        }
        const len = Number(n);
        if (search && kept < opt.maxTemplatesPerArray && len <= opt.maxString && len >= 4) {
          const raw = cur.bytesSync(len) ?? (await cur.bytes(len));
          // Only strings with a "{" can be templates: skip decoding the rest.
          const text = raw.includes(0x7b) || isTemplateKey ? raw.toString('utf8') : '';
          if (isTemplateKey || looksLikeTemplate(text)) {
            h.templates.push({ key: kv.key, index: i, offset: lenAt + cur.lenSize, text, truncated: false, chatTemplateKey: isTemplateKey });
            kept++;
          }
        } else cur.skip(len);
      }
      return;
    }
    if (elemType === GgufType.ARRAY) {
      if (depth >= 3) stop(h, { code: 'nested-array', offset: countAt, name: kv.key, message: `arrays in ${JSON.stringify(kv.key)} nest deeper than 3 levels` });
      if (count * BigInt(4 + cur.lenSize) > BigInt(cur.remaining)) {
        stop(h, { code: 'length-out-of-bounds', offset: countAt, name: kv.key, message: `array ${JSON.stringify(kv.key)} declares ${count} arrays; only ${cur.remaining} bytes are left in the file` });
      }
      // Each element is itself an array value: element type, count, values.
      for (let i = 0n; i < count; i++) await readValue(cur, h, { key: kv.key, type: GgufType.ARRAY, offset: kv.offset }, GgufType.ARRAY, opt, depth + 1);
      return;
    }
    stop(h, { code: 'bad-value-type', offset: countAt - 4, name: kv.key, message: `array ${JSON.stringify(kv.key)} has element type ${elemType}, which GGUF does not define` });
  }
  if (SCALAR_SIZE[type] === undefined) {
    stop(h, { code: 'bad-value-type', offset: cur.pos - 4, name: kv.key, message: `metadata ${JSON.stringify(kv.key.slice(0, 80))} has value type ${type}, which GGUF does not define` });
  }
  kv.value = await cur.scalar(type);
}

async function readTensorInfos(cur: Cursor, h: GgufHeader, opt: Required<GgufReadOptions>): Promise<void> {
  // The smallest info: name length, an empty name, n_dims, type, offset.
  const minInfo = cur.lenSize + 4 + 4 + 8;
  if (h.tensorCount > BigInt(Math.floor(cur.remaining / minInfo))) {
    h.problems.push({
      code: 'length-out-of-bounds',
      offset: 8,
      message: `header declares ${h.tensorCount} tensors; the ${cur.remaining} bytes left can hold at most ${Math.floor(cur.remaining / minInfo)} tensor infos`,
    });
  }
  const names = new Set<string>();
  for (let i = 0n; i < h.tensorCount; i++) {
    if (cur.remaining <= 0) stop(h, { code: 'truncated', offset: cur.pos, message: `file ends after ${i} of ${h.tensorCount} tensor infos` });
    cur.atLeast((h.tensorCount - i) * BigInt(minInfo));
    const infoOffset = cur.pos;
    const name = await readString(cur, h, `tensor name ${i}`, infoOffset, MAX_KEPT_NAME, false);
    if (Buffer.byteLength(name) >= GGML_MAX_NAME) {
      h.problems.push({ code: 'bad-tensor-info', offset: infoOffset, name, message: `tensor name ${JSON.stringify(name.slice(0, 80))} is ${Buffer.byteLength(name)} bytes; ggml allows at most ${GGML_MAX_NAME - 1}` });
    }
    if (names.has(name)) h.problems.push({ code: 'duplicate-tensor', offset: infoOffset, name, message: `tensor ${JSON.stringify(name.slice(0, 80))} is declared more than once` });
    else if (names.size < MAX_NAMES) names.add(name);
    const nDims = await cur.u32();
    if (nDims > GGML_MAX_DIMS) {
      const p: GgufProblem = { code: 'too-many-dims', offset: infoOffset, name, message: `tensor ${JSON.stringify(name.slice(0, 80))} declares ${nDims} dimensions; ggml has room for ${GGML_MAX_DIMS}` };
      // Beyond a sane count the dimensions cannot be skipped reliably.
      if (nDims > 64 || nDims * cur.lenSize > cur.remaining) stop(h, p);
      h.problems.push(p);
    }
    const dims: bigint[] = [];
    for (let d = 0; d < nDims; d++) dims.push(await cur.len());
    const type = await cur.u32();
    const offset = await cur.u64();
    const t: GgufTensorInfo = { name, dims, type, offset, infoOffset };
    checkTensorInfo(t, h);
    if (h.tensors.length < opt.maxTensors) h.tensors.push(t);
    else h.tensorsOmitted++;
  }
  // The data section starts at the next multiple of the alignment.
  if (h.tensorCount > 0n) {
    const a = h.alignment;
    h.dataStart = Math.ceil(cur.pos / a) * a;
  }
}

const INT64_MAX = (1n << 63n) - 1n;

function checkTensorInfo(t: GgufTensorInfo, h: GgufHeader): void {
  const q = JSON.stringify(t.name.slice(0, 80));
  // Dimensions are int64 in ggml: a set top bit is a negative size.
  for (const d of t.dims) {
    if (d > INT64_MAX) {
      h.problems.push({ code: 'bad-tensor-info', offset: t.infoOffset, name: t.name, message: `tensor ${q} has a negative dimension (${d - (1n << 64n)})` });
      return;
    }
  }
  const elements = t.dims.reduce((a, b) => a * b, 1n);
  if (elements > INT64_MAX) {
    h.problems.push({ code: 'bad-tensor-info', offset: t.infoOffset, name: t.name, message: `tensor ${q} shape [${t.dims.join(', ')}] has more elements than ggml can count` });
    return;
  }
  const info = GGML_TYPES[t.type];
  if (!info) {
    const removed = GGML_REMOVED_TYPES[t.type];
    h.problems.push({
      code: 'unknown-tensor-type',
      offset: t.infoOffset,
      name: t.name,
      message: removed ? `tensor ${q} has ggml type ${t.type} (${removed}), which was removed from GGUF` : `tensor ${q} has ggml type ${t.type}, which ggml does not define`,
    });
    return;
  }
  const [tname, block] = info;
  const row = t.dims[0] ?? 1n;
  if (row % BigInt(block) !== 0n) {
    h.problems.push({ code: 'bad-tensor-info', offset: t.infoOffset, name: t.name, message: `tensor ${q} of type ${tname} has ${row} elements per row, not a multiple of the block size ${block}` });
  }
}

/** Bytes a tensor occupies, or undefined when its type or shape is unusable. */
export function ggufTensorBytes(t: GgufTensorInfo): bigint | undefined {
  const info = GGML_TYPES[t.type];
  if (!info || t.dims.some((d) => d > INT64_MAX)) return undefined;
  const elements = t.dims.reduce((a, b) => a * b, 1n);
  return (elements / BigInt(info[1])) * BigInt(info[2]);
}

function checkTensorLayout(h: GgufHeader, fileSize: number): void {
  const start = BigInt(h.dataStart!);
  const dataLen = BigInt(fileSize) - start;
  const spans: { t: GgufTensorInfo; begin: bigint; end: bigint }[] = [];
  for (const t of h.tensors) {
    const q = JSON.stringify(t.name.slice(0, 80));
    if (t.offset % BigInt(h.alignment) !== 0n) {
      h.problems.push({ code: 'misaligned-tensor', offset: t.infoOffset, name: t.name, message: `tensor ${q} starts at data offset ${t.offset}, not a multiple of the alignment ${h.alignment}` });
    }
    const bytes = ggufTensorBytes(t);
    if (bytes === undefined) continue;
    const end = t.offset + bytes;
    if (end > dataLen) {
      h.problems.push({
        code: 'tensor-out-of-bounds',
        offset: t.infoOffset,
        name: t.name,
        message: `tensor ${q} spans data bytes [${t.offset}, ${end}), past the end of the ${dataLen < 0n ? 0n : dataLen}-byte data section`,
      });
    }
    if (bytes > 0n) spans.push({ t, begin: t.offset, end });
  }
  // Gaps are only meaningful when every tensor's size is known, its offset inside the file and the alignment valid.
  const gapsMeaningful =
    spans.length === h.tensors.length - h.tensors.filter((t) => ggufTensorBytes(t) === 0n).length &&
    spans.every((s) => s.end <= dataLen) &&
    !h.problems.some((p) => p.code === 'bad-alignment');
  spans.sort((a, b) => (a.begin < b.begin ? -1 : a.begin > b.begin ? 1 : 0));
  let reach = 0n;
  let reachName = '';
  let gaps = 0;
  for (const s of spans) {
    const q = JSON.stringify(s.t.name.slice(0, 80));
    if (s.begin < reach) {
      h.problems.push({ code: 'tensor-overlap', offset: s.t.infoOffset, name: s.t.name, message: `tensor ${q} [${s.begin}, ${s.end}) overlaps ${JSON.stringify(reachName.slice(0, 80))}, which reaches ${reach}` });
    } else {
      // Padding up to the alignment is expected between tensors; more is a gap.
      const padded = ((reach + BigInt(h.alignment) - 1n) / BigInt(h.alignment)) * BigInt(h.alignment);
      if (gapsMeaningful && s.begin > padded && gaps++ < 20) {
        h.problems.push({ code: 'tensor-gap', offset: s.t.infoOffset, name: s.t.name, message: `${s.begin - padded} bytes of the data section before tensor ${q} belong to no tensor` });
      }
    }
    if (s.end > reach) ((reach = s.end), (reachName = s.t.name));
  }
}

/** Looks up a kept metadata value. */
export function ggufValue(h: GgufHeader, key: string): GgufScalar | undefined {
  return h.kvs.find((k) => k.key === key)?.value;
}
