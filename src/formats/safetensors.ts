/**
 * safetensors header reader. Layout: an 8-byte little-endian u64 N, then N
 * bytes of UTF-8 JSON ({"__metadata__": {str: str}, "<tensor>": {"dtype",
 * "shape", "data_offsets": [begin, end]}}), then the tensor bytes, offsets
 * relative to the start of that buffer. Only the header is read (one range
 * read of N bytes, plus at most 16 bytes at the start of any unused region to
 * say what it holds); tensor data never is.
 *
 * The checks follow the reference Rust crate (huggingface/safetensors): its
 * 100 MB header limit, strict JSON, the dtype list, shape × dtype size ==
 * end − begin, tensors packed from offset 0 to the end of the file. Where the
 * crate rejects a file, other readers may not, so every departure is
 * reported as a problem instead of stopping at the first.
 */
import type { ByteSource } from './source.js';

/** The crate's MAX_HEADER_SIZE. */
export const SAFETENSORS_MAX_HEADER = 100_000_000;

/** Element width in bits, per dtype the Rust crate accepts (0.6+: sub-byte floats; 0.8: FNUZ fp8s). */
export const SAFETENSORS_DTYPE_BITS: Readonly<Record<string, number>> = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
};

export type SafetensorsProblemCode =
  /** N is larger than the crate's 100 MB limit. */
  | 'header-too-large'
  /** 8 + N runs past the end of the file (or the file is shorter than 8 bytes). */
  | 'header-past-eof'
  | 'header-not-utf8'
  | 'header-not-json'
  | 'header-not-object'
  /** A tensor entry lacks dtype/shape/data_offsets or has values of the wrong type. */
  | 'bad-entry'
  /** `__metadata__` is not an object of string values. */
  | 'bad-metadata'
  | 'duplicate-key'
  | 'unknown-dtype'
  /** shape × dtype size ≠ end − begin (or not a whole number of bytes, or overflowing). */
  | 'size-mismatch'
  /** begin > end, or end past the end of the file. */
  | 'out-of-bounds'
  | 'overlap'
  /** Bytes between tensors (or before the first) that no tensor covers. */
  | 'gap'
  /** Bytes after the last tensor. */
  | 'trailing-data';

export interface SafetensorsProblem {
  code: SafetensorsProblemCode;
  message: string;
  /** Tensor (or key) concerned. */
  tensor?: string;
  /** Absolute file offset the problem is about, when there is one. */
  offset?: number;
  /** For gaps and trailing data: what the unused bytes start with ("pickle", "zip"), if recognisable. */
  hidden?: string;
  /** For gaps and trailing data: how many bytes. */
  bytes?: number;
}

export interface SafetensorsTensor {
  name: string;
  dtype: string;
  shape: bigint[];
  begin: bigint;
  end: bigint;
}

export interface SafetensorsHeader {
  /** N, as declared (may be absurd). */
  headerLength: bigint;
  /** Offset of the tensor buffer in the file (8 + N), when N was usable. */
  dataStart?: number;
  metadata?: Record<string, string>;
  tensors: SafetensorsTensor[];
  problems: SafetensorsProblem[];
}

const SPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * Whether the first bytes look like a safetensors file: a plausible u64
 * header length, and a JSON object (or, for a broken header, array) right
 * after it. Bytes only, never the name.
 */
export function sniffSafetensors(head: Buffer, size: number): boolean {
  if (head.length < 10 || size < 10) return false;
  const n = head.readBigUInt64LE(0);
  if (n < 2n) return false;
  let i = 8;
  while (i < head.length && i < 8 + 64 && SPACE.has(head[i])) i++;
  const first = head[i];
  if (n <= BigInt(size - 8)) return first === 0x7b || first === 0x5b;
  // A length past the end: only an object start right at byte 8 and a length
  // below 2^48 (no text file has six zero bytes there) still claim the file.
  return i === 8 && first === 0x7b && n < 1n << 48n;
}

/** Reads and checks the header. Never throws for malformed input; problems say what is wrong. */
export async function readSafetensorsHeader(src: ByteSource): Promise<SafetensorsHeader> {
  const problems: SafetensorsProblem[] = [];
  const prefix = await src.read(0, 8);
  if (prefix.length < 8) {
    problems.push({ code: 'header-past-eof', message: `file is ${src.size} bytes, shorter than the 8-byte header length` });
    return { headerLength: 0n, tensors: [], problems };
  }
  const n = prefix.readBigUInt64LE(0);
  const out: SafetensorsHeader = { headerLength: n, tensors: [], problems };
  if (n > BigInt(SAFETENSORS_MAX_HEADER)) {
    problems.push({ code: 'header-too-large', offset: 0, message: `header length is ${n} bytes, over the 100,000,000 the safetensors loader accepts` });
    if (n > BigInt(src.size - 8)) problems.push({ code: 'header-past-eof', offset: 0, message: `header length ${n} runs past the end of the ${src.size}-byte file` });
    return out;
  }
  if (n > BigInt(src.size - 8)) {
    problems.push({ code: 'header-past-eof', offset: 0, message: `header length ${n} runs past the end of the ${src.size}-byte file` });
    return out;
  }
  const len = Number(n);
  out.dataStart = 8 + len;
  const raw = await src.read(8, len);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw);
  } catch {
    problems.push({ code: 'header-not-utf8', offset: 8 + firstBadUtf8(raw), message: 'header is not valid UTF-8' });
    return out;
  }
  let doc: JsonValue;
  const dups: string[] = [];
  try {
    doc = new StrictJson(text, dups).parseDocument();
  } catch (e) {
    problems.push({ code: 'header-not-json', offset: 8, message: `header is not valid JSON: ${(e as Error).message}` });
    return out;
  }
  for (const d of dups.slice(0, 20)) problems.push({ code: 'duplicate-key', tensor: d, message: `key ${JSON.stringify(d)} appears more than once in the header; readers disagree on which one counts` });
  if (dups.length > 20) problems.push({ code: 'duplicate-key', message: `${dups.length - 20} more duplicate keys` });
  if (doc.kind !== 'object') {
    problems.push({ code: 'header-not-object', offset: 8, message: `header is a JSON ${doc.kind}, not an object` });
    return out;
  }

  for (const [key, value] of doc.entries) {
    if (key === '__metadata__') {
      if (value.kind === 'null') continue;
      if (value.kind !== 'object') {
        problems.push({ code: 'bad-metadata', tensor: key, message: `__metadata__ is a JSON ${value.kind}, not an object of strings` });
        continue;
      }
      const md: Record<string, string> = {};
      for (const [k, v] of value.entries) {
        if (v.kind === 'string') md[k] = v.value;
        else problems.push({ code: 'bad-metadata', tensor: k, message: `__metadata__ value for ${JSON.stringify(k)} is a JSON ${v.kind}, not a string` });
      }
      out.metadata = md;
      continue;
    }
    const t = tensorEntry(key, value, problems);
    if (t) out.tensors.push(t);
  }
  checkLayout(out, src.size);
  await describeUnused(out, src);
  return out;
}

function tensorEntry(name: string, v: JsonValue, problems: SafetensorsProblem[]): SafetensorsTensor | undefined {
  const bad = (what: string) => {
    problems.push({ code: 'bad-entry', tensor: name, message: `tensor ${JSON.stringify(name)}: ${what}` });
    return undefined;
  };
  if (v.kind !== 'object') return bad(`entry is a JSON ${v.kind}, not an object`);
  const get = (k: string) => v.entries.find(([kk]) => kk === k)?.[1];
  const dtype = get('dtype');
  const shape = get('shape');
  const offsets = get('data_offsets');
  if (!dtype || dtype.kind !== 'string') return bad('missing or non-string "dtype"');
  if (!shape || shape.kind !== 'array') return bad('missing or non-array "shape"');
  if (!offsets || offsets.kind !== 'array' || offsets.items.length !== 2) return bad('"data_offsets" is not a pair [begin, end]');
  const dims: bigint[] = [];
  for (const d of shape.items) {
    const x = unsigned(d);
    if (x === undefined) return bad(`shape entry ${describe(d)} is not a non-negative integer`);
    dims.push(x);
  }
  const begin = unsigned(offsets.items[0]);
  const end = unsigned(offsets.items[1]);
  if (begin === undefined || end === undefined) return bad(`data_offsets ${describe(offsets)} are not non-negative integers`);
  return { name, dtype: dtype.value, shape: dims, begin, end };
}

const U64_MAX = (1n << 64n) - 1n;

function unsigned(v: JsonValue): bigint | undefined {
  if (v.kind !== 'number' || !/^(0|[1-9]\d*)$/.test(v.text)) return undefined;
  const x = BigInt(v.text);
  return x <= U64_MAX ? x : undefined;
}

function describe(v: JsonValue): string {
  switch (v.kind) {
    case 'number':
      return v.text;
    case 'string':
      return JSON.stringify(v.value.slice(0, 40));
    case 'array':
      return `[${v.items.slice(0, 4).map(describe).join(', ')}${v.items.length > 4 ? ', …' : ''}]`;
    default:
      return v.kind;
  }
}

function checkLayout(h: SafetensorsHeader, fileSize: number): void {
  const p = h.problems;
  const dataLen = BigInt(fileSize - (h.dataStart ?? 0));
  const usable: SafetensorsTensor[] = [];
  for (const t of h.tensors) {
    const bits = SAFETENSORS_DTYPE_BITS[t.dtype];
    if (t.begin > t.end) {
      p.push({ code: 'out-of-bounds', tensor: t.name, message: `tensor ${JSON.stringify(t.name)} has data_offsets [${t.begin}, ${t.end}]: begin is after end` });
      continue;
    }
    if (t.end > dataLen) {
      p.push({
        code: 'out-of-bounds',
        tensor: t.name,
        offset: h.dataStart,
        message: `tensor ${JSON.stringify(t.name)} ends at buffer offset ${t.end}, past the end of the ${dataLen}-byte data buffer`,
      });
    }
    if (bits === undefined) {
      p.push({ code: 'unknown-dtype', tensor: t.name, message: `tensor ${JSON.stringify(t.name)} has dtype ${JSON.stringify(t.dtype.slice(0, 40))}, which safetensors does not define` });
    } else {
      const elements = t.shape.reduce((a, b) => a * b, 1n);
      const totalBits = elements * BigInt(bits);
      const shape = `[${t.shape.join(', ')}]`;
      if (totalBits / 8n > U64_MAX) {
        p.push({ code: 'size-mismatch', tensor: t.name, message: `tensor ${JSON.stringify(t.name)} shape ${shape} overflows a 64-bit size` });
      } else if (totalBits % 8n !== 0n) {
        p.push({ code: 'size-mismatch', tensor: t.name, message: `tensor ${JSON.stringify(t.name)} of ${t.dtype} ${shape} is not a whole number of bytes (${totalBits} bits)` });
      } else if (totalBits / 8n !== t.end - t.begin) {
        p.push({
          code: 'size-mismatch',
          tensor: t.name,
          message: `tensor ${JSON.stringify(t.name)} is ${t.dtype} ${shape} = ${totalBits / 8n} bytes, but data_offsets [${t.begin}, ${t.end}] span ${t.end - t.begin}`,
        });
      }
    }
    usable.push(t);
  }
  // Overlaps and gaps over the tensors sorted by offset (empty tensors take no room).
  const sorted = usable.filter((t) => t.end > t.begin).sort((a, b) => (a.begin < b.begin ? -1 : a.begin > b.begin ? 1 : a.end < b.end ? -1 : 1));
  let reach = 0n;
  let reachName = '';
  for (const t of sorted) {
    if (t.begin < reach) {
      p.push({
        code: 'overlap',
        tensor: t.name,
        message: `tensor ${JSON.stringify(t.name)} [${t.begin}, ${t.end}) overlaps ${JSON.stringify(reachName)}, which reaches ${reach}`,
      });
    } else if (t.begin > reach) {
      p.push({ code: 'gap', tensor: t.name, offset: toOffset(h, reach), bytes: Number(t.begin - reach), message: `${t.begin - reach} bytes before tensor ${JSON.stringify(t.name)} belong to no tensor` });
    }
    if (t.end > reach) ((reach = t.end), (reachName = t.name));
  }
  if (h.dataStart !== undefined && reach < dataLen) {
    p.push({ code: 'trailing-data', offset: toOffset(h, reach), bytes: Number(dataLen - reach), message: `${dataLen - reach} bytes after the last tensor belong to no tensor` });
  }
}

function toOffset(h: SafetensorsHeader, rel: bigint): number {
  return (h.dataStart ?? 0) + Number(rel);
}

/** Names what unused regions start with: a pickle or an archive hidden after the tensors is worth saying. */
async function describeUnused(h: SafetensorsHeader, src: ByteSource): Promise<void> {
  if (src.sequential) return;
  let looked = 0;
  for (const p of h.problems) {
    if ((p.code !== 'gap' && p.code !== 'trailing-data') || p.offset === undefined || looked++ >= 16) continue;
    const b = await src.read(p.offset, 16);
    const kind = magicOf(b);
    if (kind) p.hidden = kind;
  }
}

function magicOf(b: Buffer): string | undefined {
  if (b.length >= 2 && b[0] === 0x80 && b[1] >= 2 && b[1] <= 5) return 'pickle';
  if (b.length >= 4 && b.readUInt32LE(0) === 0x04034b50) return 'zip';
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b.length >= 4 && b.toString('latin1', 0, 4) === 'GGUF') return 'gguf';
  if (b.length >= 6 && b.toString('latin1', 1, 6) === 'NUMPY' && b[0] === 0x93) return 'npy';
  if (b.length >= 2 && b[0] === 0x23 && b[1] === 0x21) return 'script';
  if (b.length >= 4 && b.toString('latin1', 0, 4) === '\x7fELF') return 'ELF executable';
  if (b.length >= 2 && b.toString('latin1', 0, 2) === 'MZ') return 'Windows executable';
  return undefined;
}

function firstBadUtf8(b: Buffer): number {
  // Position of the first byte that breaks UTF-8, for the finding's offset.
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    const need = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (need < 0) return i;
    for (let k = 1; k <= need; k++) if (i + k >= b.length || (b[i + k] & 0xc0) !== 0x80) return i;
    i += need + 1;
  }
  return i;
}

// ---------------------------------------------------------------------------
// Strict JSON (RFC 8259, as serde_json reads it): numbers kept as text so
// 64-bit integers survive, duplicate keys recorded, nesting bounded like
// serde_json's recursion limit of 128.
// ---------------------------------------------------------------------------

export type JsonValue =
  | { kind: 'object'; entries: [string, JsonValue][] }
  | { kind: 'array'; items: JsonValue[] }
  | { kind: 'string'; value: string }
  | { kind: 'number'; text: string }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'null' };

const MAX_NESTING = 128;
/** JSON values materialised at most: a real header has about six per tensor; a 100 MB array of numbers would take gigabytes. */
const MAX_VALUES = 4_000_000;

class StrictJson {
  private i = 0;
  private values = 0;
  constructor(
    private readonly s: string,
    private readonly dups: string[],
  ) {}

  parseDocument(): JsonValue {
    this.ws();
    const v = this.value(0, '');
    this.ws();
    if (this.i < this.s.length) this.fail('trailing characters after the JSON value');
    return v;
  }

  private fail(what: string): never {
    throw new Error(`${what} at character ${this.i}`);
  }

  private ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i++;
      else break;
    }
  }

  private value(depth: number, path: string): JsonValue {
    if (++this.values > MAX_VALUES) this.fail(`more than ${MAX_VALUES.toLocaleString('en-US')} JSON values (not read further)`);
    const c = this.s[this.i];
    if (c === '{' || c === '[') {
      if (depth >= MAX_NESTING) this.fail(`nesting deeper than ${MAX_NESTING} levels`);
      return c === '{' ? this.object(depth, path) : this.array(depth, path);
    }
    if (c === '"') return { kind: 'string', value: this.string() };
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    for (const [word, v] of [
      ['true', { kind: 'boolean', value: true }],
      ['false', { kind: 'boolean', value: false }],
      ['null', { kind: 'null' }],
    ] as const) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    this.fail(c === undefined ? 'unexpected end of input' : `unexpected ${JSON.stringify(c)}`);
  }

  private object(depth: number, path: string): JsonValue {
    this.i++;
    const entries: [string, JsonValue][] = [];
    const seen = new Set<string>();
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return { kind: 'object', entries };
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail('expected a string key');
      const k = this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.fail('expected ":"');
      this.i++;
      this.ws();
      const full = path ? `${path}.${k}` : k;
      const v = this.value(depth + 1, full);
      if (seen.has(k)) this.dups.push(full);
      else seen.add(k);
      entries.push([k, v]);
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return { kind: 'object', entries };
      if (c !== ',') this.fail('expected "," or "}"');
    }
  }

  private array(depth: number, path: string): JsonValue {
    this.i++;
    const items: JsonValue[] = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return { kind: 'array', items };
    }
    for (;;) {
      this.ws();
      items.push(this.value(depth + 1, path));
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return { kind: 'array', items };
      if (c !== ',') this.fail('expected "," or "]"');
    }
  }

  private string(): string {
    const s = this.s;
    this.i++;
    let out = '';
    let run = this.i;
    for (;;) {
      if (this.i >= s.length) this.fail('unterminated string');
      const c = s.charCodeAt(this.i);
      if (c === 0x22) {
        out += s.slice(run, this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) this.fail('control character in string');
      if (c !== 0x5c) {
        this.i++;
        continue;
      }
      out += s.slice(run, this.i);
      const e = s[this.i + 1];
      this.i += 2;
      const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (e !== undefined && e in simple) out += simple[e];
      else if (e === 'u') {
        const cu = this.hex4();
        if (cu >= 0xd800 && cu <= 0xdbff) {
          if (s[this.i] !== '\\' || s[this.i + 1] !== 'u') this.fail('lone leading surrogate in \\u escape');
          this.i += 2;
          const lo = this.hex4();
          if (lo < 0xdc00 || lo > 0xdfff) this.fail('invalid trailing surrogate in \\u escape');
          out += String.fromCharCode(cu, lo);
        } else if (cu >= 0xdc00 && cu <= 0xdfff) this.fail('lone trailing surrogate in \\u escape');
        else out += String.fromCharCode(cu);
      } else this.fail('invalid escape');
      run = this.i;
    }
  }

  private hex4(): number {
    const h = this.s.slice(this.i, this.i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail('invalid \\u escape');
    this.i += 4;
    return parseInt(h, 16);
  }

  private number(): JsonValue {
    const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    m.lastIndex = this.i;
    const r = m.exec(this.s);
    if (!r) this.fail('invalid number');
    this.i = m.lastIndex;
    return { kind: 'number', text: r[0] };
  }
}
