/**
 * A protobuf reader that never reads tensor data. It walks messages field by
 * field with the vendored schemas (protobufjs reflection) and skips the fields
 * named as payload by their length, so a 2 GB ONNX initializer or a frozen
 * graph's weight constants cost a few bytes of tag and length, not a read.
 *
 * Small messages are read whole and decoded in memory; large ones are walked
 * through a ByteSource window so nothing big is ever buffered. Every length is
 * checked against its enclosing message before use, recursion and message
 * counts are bounded, and singular sub-messages that appear twice are merged
 * the way protobuf parsers merge them (a split graph cannot hide nodes).
 */
import protobuf from 'protobufjs';
import type { ByteSource } from '../source.js';
import { PROTO_SCHEMAS } from './schemas.js';

export type Type = protobuf.Type;

/** A decoded message: field name → value, plus where it started in the file. */
export interface Decoded {
  /** Absolute byte offset of the message's first field. */
  $offset: number;
  /** Absolute offset just past the message (of its last occurrence, when a singular message was merged). */
  $end: number;
  /** Fields whose string/bytes value was longer than the cap and kept as a prefix only. */
  $truncated?: string[];
  /** Bytes of payload fields skipped inside this message (not counting sub-messages). */
  $skipped?: number;
  [field: string]: unknown;
}

/** How a payload field is treated. `skip`: never read. `small`: keep a few short elements (file names in string constants). */
export type PayloadPolicy = { kind: 'skip' } | { kind: 'small'; maxItems: number; maxBytes: number };

export interface DecodeOptions {
  /** Fully qualified message name → field name → policy. */
  payload: Record<string, Record<string, PayloadPolicy>>;
  /** Longest string/bytes value kept whole; longer ones keep this many bytes and are listed in $truncated. */
  maxString: number;
  /** All kept strings together; past this, each string keeps at most 4 KiB. */
  maxStringTotal: number;
  /** Nesting depth (protobuf's own parsers stop at 100). */
  maxDepth: number;
  /** Messages decoded per call; hostile files with millions of empty messages stop here. */
  maxMessages: number;
}

export const DEFAULT_DECODE_OPTIONS: Omit<DecodeOptions, 'payload'> = {
  maxString: 16 * 1024 * 1024,
  maxStringTotal: 256 * 1024 * 1024,
  maxDepth: 100,
  maxMessages: 2_000_000,
};

/** Thrown for bytes that are not a valid encoding of the message. */
export class ProtoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtoError';
  }
}

let ROOT: protobuf.Root | undefined;

/** The vendored schemas, parsed once (field names kept as written in the .proto files). */
export function protoRoot(): protobuf.Root {
  if (ROOT) return ROOT;
  const root = new protobuf.Root();
  for (const text of Object.values(PROTO_SCHEMAS)) protobuf.parse(text, root, { keepCase: true });
  root.resolveAll();
  ROOT = root;
  return root;
}

export function messageType(name: string): Type {
  return protoRoot().lookupType(name);
}

// Messages that may hold payload (directly or below) are read whole only when
// this small; bigger ones are walked so their payload is skipped unread.
const INLINE_PAYLOAD = 8 * 1024;
// Messages that cannot hold payload are read whole up to this size.
const INLINE_PLAIN = 1024 * 1024;
// After the string budget is spent, strings keep this much.
const STARVED_STRING = 4096;

const WT_VARINT = 0;
const WT_I64 = 1;
const WT_LEN = 2;
const WT_SGROUP = 3;
const WT_EGROUP = 4;
const WT_I32 = 5;

const VARINT_TYPES = new Set(['int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'bool']);
const I64_TYPES = new Set(['fixed64', 'sfixed64', 'double']);
const I32_TYPES = new Set(['fixed32', 'sfixed32', 'float']);

/** Wire type a scalar field is written with when not packed; LEN for strings, bytes and messages. */
function scalarWire(field: protobuf.Field): number {
  if (field.resolvedType instanceof protobuf.Enum) return WT_VARINT;
  if (VARINT_TYPES.has(field.type)) return WT_VARINT;
  if (I64_TYPES.has(field.type)) return WT_I64;
  if (I32_TYPES.has(field.type)) return WT_I32;
  return WT_LEN;
}

interface FieldInfo {
  field: protobuf.Field;
  name: string;
  wire: number;
  /** Sub-message type for message fields and map values. */
  sub?: Type;
  isMap: boolean;
  keyWire: number;
  keyType: string;
  valueWire: number;
  valueType: string;
  valueIsEnum: boolean;
  repeated: boolean;
  policy?: PayloadPolicy;
}

interface TypeInfo {
  type: Type;
  fields: Map<number, FieldInfo>;
  mayHavePayload: boolean;
}

function wireOf(typeName: string, resolved: unknown): number {
  if (resolved instanceof protobuf.Enum) return WT_VARINT;
  if (resolved instanceof protobuf.Type) return WT_LEN;
  if (VARINT_TYPES.has(typeName)) return WT_VARINT;
  if (I64_TYPES.has(typeName)) return WT_I64;
  if (I32_TYPES.has(typeName)) return WT_I32;
  return WT_LEN;
}

/** Per-options cache of field tables and of which types can (transitively) hold payload. */
class Schema {
  private infos = new Map<Type, TypeInfo>();
  constructor(readonly opts: DecodeOptions) {}

  info(type: Type): TypeInfo {
    let ti = this.infos.get(type);
    if (ti) return ti;
    const fields = new Map<number, FieldInfo>();
    const policies = this.opts.payload[type.fullName.replace(/^\./, '')] ?? {};
    for (const f of type.fieldsArray) {
      f.resolve();
      const isMap = f instanceof protobuf.MapField;
      const resolved = f.resolvedType;
      const info: FieldInfo = {
        field: f,
        name: f.name,
        wire: isMap ? WT_LEN : scalarWire(f),
        sub: resolved instanceof protobuf.Type ? resolved : undefined,
        isMap,
        keyType: isMap ? (f as protobuf.MapField).keyType : '',
        keyWire: isMap ? wireOf((f as protobuf.MapField).keyType, undefined) : 0,
        valueType: f.type,
        valueWire: wireOf(f.type, resolved),
        valueIsEnum: resolved instanceof protobuf.Enum,
        repeated: f.repeated,
        policy: policies[f.name],
      };
      fields.set(f.id, info);
    }
    ti = { type, fields, mayHavePayload: false };
    this.infos.set(type, ti);
    // Fixed point over the (possibly cyclic) type graph reachable from here.
    const reach: TypeInfo[] = [];
    const seen = new Set<Type>();
    const visit = (t: TypeInfo) => {
      if (seen.has(t.type)) return;
      seen.add(t.type);
      reach.push(t);
      for (const f of t.fields.values()) if (f.sub) visit(this.info(f.sub));
    };
    visit(ti);
    let changed = true;
    while (changed) {
      changed = false;
      for (const t of reach) {
        if (t.mayHavePayload) continue;
        for (const f of t.fields.values()) {
          if (f.policy || (f.sub && this.infos.get(f.sub)?.mayHavePayload)) {
            t.mayHavePayload = true;
            changed = true;
            break;
          }
        }
      }
    }
    return ti;
  }
}

interface State {
  schema: Schema;
  messages: number;
  stringBytes: number;
}

function newMessage(st: State, offset: number, end: number): Decoded {
  if (++st.messages > st.schema.opts.maxMessages) {
    throw new ProtoError(`more than ${st.schema.opts.maxMessages} protobuf messages; the file is not a plausible model`);
  }
  return { $offset: offset, $end: end };
}

function markTruncated(m: Decoded, name: string): void {
  (m.$truncated ??= []).includes(name) || m.$truncated.push(name);
}

function addSkipped(m: Decoded, n: number): void {
  m.$skipped = (m.$skipped ?? 0) + n;
}

/** Longest string/bytes value kept whole right now. */
function stringCap(st: State): number {
  const { maxString, maxStringTotal } = st.schema.opts;
  return st.stringBytes >= maxStringTotal ? STARVED_STRING : maxString;
}

// ---------------------------------------------------------------- varints

/** Reads a varint at `pos` (< end) as [lo, hi, next]; throws on truncation or >10 bytes. */
function varint64(buf: Buffer, pos: number, end: number): [number, number, number] {
  let lo = 0;
  let hi = 0;
  let shift = 0;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new ProtoError('truncated varint');
    const b = buf[pos++];
    if (shift < 28) lo |= (b & 0x7f) << shift;
    else if (shift === 28) {
      lo |= (b & 0x0f) << 28;
      hi |= (b & 0x7f) >>> 4;
    } else hi |= (b & 0x7f) << (shift - 32);
    if (b < 0x80) return [lo >>> 0, hi >>> 0, pos];
    shift += 7;
  }
  throw new ProtoError('varint longer than 10 bytes');
}

/** A length or tag: must fit in 32 bits (protobuf caps messages at 2 GiB). */
function varintSize(buf: Buffer, pos: number, end: number): [number, number] {
  const [lo, hi, next] = varint64(buf, pos, end);
  if (hi !== 0) throw new ProtoError('length or tag does not fit in 32 bits');
  return [lo, next];
}

function varintValue(type: string, isEnum: boolean, lo: number, hi: number): number | boolean {
  if (type === 'bool') return lo !== 0 || hi !== 0;
  if (isEnum || type === 'int32') return lo | 0;
  if (type === 'uint32') return lo >>> 0;
  if (type === 'sint32') return ((lo >>> 1) ^ -(lo & 1)) | 0;
  if (type === 'uint64') return hi * 4294967296 + lo;
  if (type === 'sint64') {
    // zigzag over 64 bits, approximated in a double past 2^53
    const neg = lo & 1;
    const l = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    const h = hi >>> 1;
    const mag = h * 4294967296 + l;
    return neg ? -mag - 1 : mag;
  }
  // int64: two's complement
  return (hi | 0) * 4294967296 + lo;
}

function fixedValue(type: string, buf: Buffer, pos: number): number {
  switch (type) {
    case 'float':
      return buf.readFloatLE(pos);
    case 'fixed32':
      return buf.readUInt32LE(pos);
    case 'sfixed32':
      return buf.readInt32LE(pos);
    case 'double':
      return buf.readDoubleLE(pos);
    case 'fixed64':
      return buf.readUInt32LE(pos + 4) * 4294967296 + buf.readUInt32LE(pos);
    default:
      return buf.readInt32LE(pos + 4) * 4294967296 + buf.readUInt32LE(pos);
  }
}

/** Skips a field's value in memory; returns the next position. */
function skipValue(buf: Buffer, pos: number, end: number, wt: number, depth: number, field: number): number {
  switch (wt) {
    case WT_VARINT:
      return varint64(buf, pos, end)[2];
    case WT_I64:
      if (pos + 8 > end) throw new ProtoError('truncated fixed64');
      return pos + 8;
    case WT_I32:
      if (pos + 4 > end) throw new ProtoError('truncated fixed32');
      return pos + 4;
    case WT_LEN: {
      const [len, p] = varintSize(buf, pos, end);
      if (p + len > end) throw new ProtoError(`field ${field}: length ${len} runs past the end of its message`);
      return p + len;
    }
    case WT_SGROUP: {
      if (depth > 100) throw new ProtoError('groups nested too deeply');
      for (;;) {
        const [tag, p] = varintSize(buf, pos, end);
        pos = p;
        if ((tag & 7) === WT_EGROUP) {
          if (tag >>> 3 !== field) throw new ProtoError('mismatched end-group');
          return pos;
        }
        pos = skipValue(buf, pos, end, tag & 7, depth + 1, tag >>> 3);
      }
    }
    default:
      throw new ProtoError(`invalid wire type ${wt}`);
  }
}

function push(m: Decoded, name: string, v: unknown): void {
  const arr = m[name] as unknown[] | undefined;
  if (arr) arr.push(v);
  else m[name] = [v];
}

function setScalar(m: Decoded, f: FieldInfo, v: unknown): void {
  if (f.repeated) push(m, f.name, v);
  else m[f.name] = v;
}

/** A packed run of numbers in [pos, end). */
function readPacked(buf: Buffer, pos: number, end: number, f: FieldInfo): unknown[] {
  const out: unknown[] = [];
  const w = f.valueWire;
  while (pos < end) {
    if (w === WT_VARINT) {
      const [lo, hi, p] = varint64(buf, pos, end);
      out.push(varintValue(f.valueType, f.valueIsEnum, lo, hi));
      pos = p;
    } else {
      const n = w === WT_I64 ? 8 : 4;
      if (pos + n > end) throw new ProtoError(`packed field '${f.name}' has a partial element`);
      out.push(fixedValue(f.valueType, buf, pos));
      pos += n;
    }
  }
  return out;
}

/** A string/bytes value of `len` bytes at buf[s]; only its first stringCap bytes need to be in buf. */
function stringOrBytes(st: State, type: string, buf: Buffer, s: number, len: number, m: Decoded, name: string): string | Buffer {
  const keep = Math.min(len, stringCap(st));
  st.stringBytes += keep;
  if (keep < len) markTruncated(m, name);
  return type === 'string' ? buf.toString('utf8', s, s + keep) : Buffer.from(buf.subarray(s, s + keep));
}

function mapKey(st: State, f: FieldInfo, buf: Buffer, pos: number, wt: number, end: number): [string, number] {
  if (wt === WT_LEN) {
    const [len, p] = varintSize(buf, pos, end);
    if (p + len > end) throw new ProtoError(`map '${f.name}': key runs past its entry`);
    const keep = Math.min(len, 4096);
    return [buf.toString('utf8', p, p + keep), p + len];
  }
  if (wt === WT_VARINT) {
    const [lo, hi, p] = varint64(buf, pos, end);
    return [String(varintValue(f.keyType, false, lo, hi)), p];
  }
  const n = wt === WT_I64 ? 8 : 4;
  if (pos + n > end) throw new ProtoError('truncated map key');
  return [String(fixedValue(f.keyType, buf, pos)), pos + n];
}

function mapObject(m: Decoded, name: string): Record<string, unknown> {
  let o = m[name] as Record<string, unknown> | undefined;
  if (!o) m[name] = o = Object.create(null) as Record<string, unknown>;
  return o;
}

// ---------------------------------------------------------------- in memory

/**
 * Decodes the message in buf[pos, end) into `m`. `base` is the file offset of
 * buf[0], for $offset. Payload fields are skipped even here (they are in
 * memory already, but keeping them would hold tensor data).
 */
function decodeSync(st: State, ti: TypeInfo, buf: Buffer, pos: number, end: number, base: number, m: Decoded, depth: number): void {
  if (depth > st.schema.opts.maxDepth) throw new ProtoError(`messages nested deeper than ${st.schema.opts.maxDepth}`);
  while (pos < end) {
    const [tag, p0] = varintSize(buf, pos, end);
    pos = p0;
    const id = tag >>> 3;
    const wt = tag & 7;
    if (id === 0) throw new ProtoError('field number 0');
    if (wt === WT_EGROUP) throw new ProtoError('unexpected end-group');
    const f = ti.fields.get(id);
    if (!f || f.policy?.kind === 'skip') {
      const next = skipValue(buf, pos, end, wt, depth, id);
      if (f) addSkipped(m, wt === WT_LEN ? varintSize(buf, pos, end)[0] : next - pos);
      pos = next;
      continue;
    }
    if (wt === WT_LEN) {
      const [len, p] = varintSize(buf, pos, end);
      if (p + len > end) throw new ProtoError(`field '${f.name}': length ${len} runs past the end of its message`);
      decodeLenSync(st, f, buf, p, len, base, m, depth);
      pos = p + len;
      continue;
    }
    if (wt !== f.wire || f.isMap || f.sub) {
      pos = skipValue(buf, pos, end, wt, depth, id);
      continue;
    }
    if (wt === WT_VARINT) {
      const [lo, hi, p] = varint64(buf, pos, end);
      pos = p;
      setScalar(m, f, varintValue(f.valueType, f.valueIsEnum, lo, hi));
    } else {
      const n = wt === WT_I64 ? 8 : 4;
      if (pos + n > end) throw new ProtoError(`field '${f.name}' is truncated`);
      setScalar(m, f, fixedValue(f.valueType, buf, pos));
      pos += n;
    }
  }
  if (pos !== end) throw new ProtoError('message overruns its length');
}

/** One length-delimited field of a known kind, its value in buf[p, p+len). */
function decodeLenSync(st: State, f: FieldInfo, buf: Buffer, p: number, len: number, base: number, m: Decoded, depth: number): void {
  if (f.isMap) {
    decodeMapEntrySync(st, f, buf, p, p + len, base, m, depth);
  } else if (f.sub) {
    decodeSync(st, st.schema.info(f.sub), buf, p, p + len, base, subMessage(st, m, f, base + p, base + p + len), depth + 1);
  } else if (f.wire === WT_LEN) {
    if (f.policy?.kind === 'small') keepSmall(st, m, f, f.policy, buf, p, len);
    else setScalar(m, f, stringOrBytes(st, f.valueType, buf, p, len, m, f.name));
  } else if (f.repeated) {
    // packed numbers; a huge run in a non-payload field keeps only its start
    const keep = Math.min(len, st.schema.opts.maxString);
    const cut = f.valueWire === WT_VARINT ? lastVarintEnd(buf, p, p + keep) : p + keep - (keep % (f.valueWire === WT_I64 ? 8 : 4));
    if (cut < p + len) markTruncated(m, f.name);
    for (const v of readPacked(buf, p, cut, f)) push(m, f.name, v);
  }
  // a LEN value for a singular number is a wire-type mismatch: ignored like an unknown field
}

/** End of the last complete varint in [pos, end). */
function lastVarintEnd(buf: Buffer, pos: number, end: number): number {
  let last = pos;
  for (let i = pos; i < end; i++) if (buf[i] < 0x80) last = i + 1;
  return last;
}

function keepSmall(st: State, m: Decoded, f: FieldInfo, pol: { maxItems: number; maxBytes: number }, buf: Buffer, s: number, len: number): void {
  const have = (m[f.name] as unknown[] | undefined)?.length ?? 0;
  if (have >= pol.maxItems || len > pol.maxBytes) {
    markTruncated(m, f.name);
    addSkipped(m, len);
    return;
  }
  push(m, f.name, stringOrBytes(st, f.valueType, buf, s, len, m, f.name));
}

function subMessage(st: State, m: Decoded, f: FieldInfo, offset: number, end: number): Decoded {
  if (f.repeated) {
    const sub = newMessage(st, offset, end);
    push(m, f.name, sub);
    return sub;
  }
  // a singular message seen again is merged into the first, as protobuf does
  const prev = m[f.name] as Decoded | undefined;
  if (prev) {
    prev.$end = end;
    return prev;
  }
  const sub = newMessage(st, offset, end);
  m[f.name] = sub;
  return sub;
}

function decodeMapEntrySync(st: State, f: FieldInfo, buf: Buffer, pos: number, end: number, base: number, m: Decoded, depth: number): void {
  let key = '';
  let value: unknown;
  let valueMsg: Decoded | undefined;
  while (pos < end) {
    const [tag, p0] = varintSize(buf, pos, end);
    pos = p0;
    const id = tag >>> 3;
    const wt = tag & 7;
    if (id === 1 && wt === f.keyWire) {
      [key, pos] = mapKey(st, f, buf, pos, wt, end);
    } else if (id === 2 && wt === f.valueWire) {
      if (wt === WT_LEN) {
        const [len, p] = varintSize(buf, pos, end);
        if (p + len > end) throw new ProtoError(`map '${f.name}': value runs past its entry`);
        pos = p + len;
        if (f.sub) {
          valueMsg ??= newMessage(st, base + p, base + p + len);
          decodeSync(st, st.schema.info(f.sub), buf, p, p + len, base, valueMsg, depth + 1);
          value = valueMsg;
        } else value = stringOrBytes(st, f.valueType, buf, p, len, m, f.name);
      } else if (wt === WT_VARINT) {
        const [lo, hi, p] = varint64(buf, pos, end);
        pos = p;
        value = varintValue(f.valueType, f.valueIsEnum, lo, hi);
      } else {
        const n = wt === WT_I64 ? 8 : 4;
        if (pos + n > end) throw new ProtoError('truncated map value');
        value = fixedValue(f.valueType, buf, pos);
        pos += n;
      }
    } else pos = skipValue(buf, pos, end, wt, depth, id);
  }
  if (value === undefined && f.sub) value = newMessage(st, base + end, base + end);
  mapObject(m, f.name)[key] = value ?? (f.valueWire === WT_LEN ? '' : 0);
}

// ---------------------------------------------------------------- streaming

/**
 * A forward window over a ByteSource. Reads grow while reading is dense and
 * shrink after a skip, so skipping a tensor costs at most one small read of
 * what follows it.
 */
class Cursor {
  buf: Buffer = Buffer.alloc(0);
  base = 0;
  pos: number;
  private chunk = MIN_CHUNK;
  constructor(
    private readonly src: ByteSource,
    pos: number,
    private readonly limit: number,
  ) {
    this.pos = pos;
  }

  /** Makes at least min(n, limit - pos) bytes from pos available in buf. */
  async ensure(n: number): Promise<void> {
    const want = Math.min(n, this.limit - this.pos);
    if (this.pos >= this.base && this.pos + want <= this.base + this.buf.length) return;
    const len = Math.min(Math.max(want, this.chunk), this.limit - this.pos);
    const got = await this.src.read(this.pos, len);
    if (got.length < want) throw new ProtoError(`file ends at byte ${this.pos + got.length}, inside a message that claims ${want} more bytes`);
    this.buf = got;
    this.base = this.pos;
    this.chunk = Math.min(this.chunk * 2, MAX_CHUNK);
  }

  /** Offset of pos inside buf (after ensure). */
  get at(): number {
    return this.pos - this.base;
  }

  skip(n: number): void {
    this.pos += n;
    if (this.pos > this.base + this.buf.length) this.chunk = MIN_CHUNK;
  }
}

const MIN_CHUNK = 4096;
const MAX_CHUNK = 1024 * 1024;

async function decodeAsync(st: State, ti: TypeInfo, cur: Cursor, end: number, m: Decoded, depth: number): Promise<void> {
  if (depth > st.schema.opts.maxDepth) throw new ProtoError(`messages nested deeper than ${st.schema.opts.maxDepth}`);
  while (cur.pos < end) {
    await cur.ensure(20);
    const bufEnd = Math.min(cur.buf.length, end - cur.base);
    const [tag, p0] = varintSize(cur.buf, cur.at, bufEnd);
    const id = tag >>> 3;
    const wt = tag & 7;
    if (id === 0) throw new ProtoError('field number 0');
    if (wt === WT_EGROUP) throw new ProtoError('unexpected end-group');
    if (wt === WT_SGROUP) throw new ProtoError('groups are not used by these formats');
    const f = ti.fields.get(id);
    if (wt !== WT_LEN) {
      // scalars take at most 10 bytes, already in the window
      const next = skipValue(cur.buf, p0, bufEnd, wt, depth, id);
      if (f && !f.policy && wt === f.wire && !f.isMap && !f.sub) {
        if (wt === WT_VARINT) {
          const [lo, hi] = varint64(cur.buf, p0, bufEnd);
          setScalar(m, f, varintValue(f.valueType, f.valueIsEnum, lo, hi));
        } else setScalar(m, f, fixedValue(f.valueType, cur.buf, p0));
      }
      cur.pos = cur.base + next;
      continue;
    }
    const [len, p] = varintSize(cur.buf, p0, bufEnd);
    const start = cur.base + p;
    if (start + len > end) throw new ProtoError(`field ${f ? `'${f.name}'` : id}: length ${len} runs past the end of its message`);
    cur.pos = start;
    if (!f || f.policy?.kind === 'skip') {
      if (f) addSkipped(m, len);
      cur.skip(len);
      continue;
    }
    const sub = f.sub ? st.schema.info(f.sub) : undefined;
    const inline = len <= (sub?.mayHavePayload ? INLINE_PAYLOAD : INLINE_PLAIN);
    if (inline) {
      // small enough to read whole: decode from memory
      await cur.ensure(len);
      decodeLenSync(st, f, cur.buf, cur.at, len, cur.base, m, depth);
      cur.pos = start + len;
    } else if (f.isMap) {
      await decodeMapEntryAsync(st, f, cur, start + len, m, depth);
    } else if (sub) {
      await decodeAsync(st, sub, cur, start + len, subMessage(st, m, f, start, start + len), depth + 1);
    } else if (f.wire === WT_LEN && f.policy?.kind !== 'small') {
      // a long string or bytes value: keep its start, skip the rest unread
      const keep = Math.min(len, stringCap(st));
      await cur.ensure(keep);
      setScalar(m, f, stringOrBytes(st, f.valueType, cur.buf, cur.at, len, m, f.name));
      cur.skip(len);
    } else if (f.wire === WT_LEN) {
      markTruncated(m, f.name);
      addSkipped(m, len);
      cur.skip(len);
    } else {
      // a long packed run: keep its start
      const keep = Math.min(len, st.schema.opts.maxString);
      await cur.ensure(keep);
      const s = cur.at;
      const cut = f.valueWire === WT_VARINT ? lastVarintEnd(cur.buf, s, s + keep) : s + keep - (keep % (f.valueWire === WT_I64 ? 8 : 4));
      markTruncated(m, f.name);
      if (f.repeated) for (const v of readPacked(cur.buf, s, cut, f)) push(m, f.name, v);
      cur.skip(len);
    }
  }
  if (cur.pos !== end) throw new ProtoError('message overruns its length');
}

/** A map entry too big to read whole (an attr holding a large tensor): key then value, streamed. */
async function decodeMapEntryAsync(st: State, f: FieldInfo, cur: Cursor, end: number, m: Decoded, depth: number): Promise<void> {
  let key = '';
  let value: unknown;
  const sub = f.sub ? st.schema.info(f.sub) : undefined;
  while (cur.pos < end) {
    await cur.ensure(20);
    const bufEnd = Math.min(cur.buf.length, end - cur.base);
    const [tag, p0] = varintSize(cur.buf, cur.at, bufEnd);
    const id = tag >>> 3;
    const wt = tag & 7;
    if (wt !== WT_LEN) {
      if (wt === WT_SGROUP || wt === WT_EGROUP) throw new ProtoError('groups are not used by these formats');
      if (id === 1 && wt === f.keyWire) {
        [key] = mapKey(st, f, cur.buf, p0, wt, bufEnd);
      }
      cur.pos = cur.base + skipValue(cur.buf, p0, bufEnd, wt, depth, id);
      continue;
    }
    const [len, p] = varintSize(cur.buf, p0, bufEnd);
    const start = cur.base + p;
    if (start + len > end) throw new ProtoError(`map '${f.name}': field runs past its entry`);
    cur.pos = start;
    if (id === 1 && f.keyWire === WT_LEN) {
      const keep = Math.min(len, 4096);
      await cur.ensure(keep);
      key = cur.buf.toString('utf8', cur.at, cur.at + keep);
      cur.skip(len);
    } else if (id === 2 && sub) {
      const msg = (value as Decoded | undefined) ?? newMessage(st, start, start + len);
      value = msg;
      if (len <= INLINE_PAYLOAD) {
        await cur.ensure(len);
        decodeSync(st, sub, cur.buf, cur.at, cur.at + len, cur.base, msg, depth + 1);
        cur.pos = start + len;
      } else await decodeAsync(st, sub, cur, start + len, msg, depth + 1);
    } else if (id === 2 && f.valueWire === WT_LEN) {
      const keep = Math.min(len, stringCap(st));
      await cur.ensure(keep);
      value = stringOrBytes(st, f.valueType, cur.buf, cur.at, len, m, f.name);
      cur.skip(len);
    } else cur.skip(len);
  }
  mapObject(m, f.name)[key] = value ?? (sub ? newMessage(st, end, end) : f.valueWire === WT_LEN ? '' : 0);
}

/**
 * Decodes the message `type` occupying [start, end) of `src`, reading only
 * what is not payload. Throws ProtoError for malformed encodings.
 */
export async function decodeMessage(src: ByteSource, typeName: string, opts: DecodeOptions, start = 0, end = src.size): Promise<Decoded> {
  const schema = new Schema(opts);
  const st: State = { schema, messages: 0, stringBytes: 0 };
  const ti = schema.info(messageType(typeName));
  const m = newMessage(st, start, end);
  const cur = new Cursor(src, start, end);
  await decodeAsync(st, ti, cur, end, m, 0);
  return m;
}

/** Decodes a message held in memory (small inputs, tests). */
export function decodeBuffer(buf: Buffer, typeName: string, opts: DecodeOptions): Decoded {
  const schema = new Schema(opts);
  const st: State = { schema, messages: 0, stringBytes: 0 };
  const m = newMessage(st, 0, buf.length);
  decodeSync(st, schema.info(messageType(typeName)), buf, 0, buf.length, 0, m, 0);
  return m;
}

// ---------------------------------------------------------------- sniffing helpers

export interface TopField {
  id: number;
  wt: number;
  /** Offset of the value (after tag and, for LEN, the length). */
  at: number;
  /** LEN fields: declared length; varints: value (low 53 bits). */
  value: number;
}

/** A varint in head[pos..] as [value, next]; null when the head ends inside it or it is over 10 bytes. */
function peekVarint(head: Buffer, pos: number): [number, number] | null {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10 && pos < head.length; i++) {
    const b = head[pos++];
    v += (b & 0x7f) * mul;
    if (b < 0x80) return [v, pos];
    mul *= 128;
  }
  return null;
}

/**
 * Lists the top-level fields visible in `head` of a message of total `size`
 * bytes; stops quietly where the head ends. Returns undefined when the bytes
 * cannot be a protobuf message: field 0, a group or invalid wire type, or a
 * length running past the end of the file.
 */
export function topFields(head: Buffer, size: number, max = 64): TopField[] | undefined {
  const out: TopField[] = [];
  let pos = 0;
  while (pos < head.length && pos < size && out.length < max) {
    const t = peekVarint(head, pos);
    if (!t) return head.length >= size ? undefined : out;
    const [tag, p] = t;
    const id = Math.floor(tag / 8);
    const wt = tag % 8;
    if (id === 0 || id > 536870911 || (wt !== WT_VARINT && wt !== WT_I64 && wt !== WT_LEN && wt !== WT_I32)) return undefined;
    if (wt === WT_I64 || wt === WT_I32) {
      const n = wt === WT_I64 ? 8 : 4;
      if (p + n > size) return undefined;
      out.push({ id, wt, at: p, value: 0 });
      pos = p + n;
      continue;
    }
    const v = peekVarint(head, p);
    if (!v) return head.length >= size ? undefined : out;
    if (wt === WT_LEN && v[1] + v[0] > size) return undefined;
    out.push({ id, wt, at: v[1], value: v[0] });
    pos = wt === WT_LEN ? v[1] + v[0] : v[1];
  }
  return out;
}
