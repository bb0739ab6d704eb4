import type { ByteSource } from './source.js';

/*
 * The .npy header: '\x93NUMPY', major, minor, header length (u16 for 1.0,
 * u32 for 2.0 and 3.0), then a Python dict literal (latin-1, or UTF-8 in 3.0)
 * padded with spaces and a newline. The literal is parsed by a small strict
 * parser, never evaluated.
 */

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

/** Headers larger than this are refused (numpy's own default cap is 10,000 bytes). */
export const MAX_NPY_HEADER = 16 * 1024 * 1024;

export interface NpyHeader {
  version: [number, number];
  /** The dtype description as parsed: a string, or lists/tuples (as arrays) for structured dtypes. */
  descr: unknown;
  fortranOrder: boolean;
  shape: number[];
  /** Offset where the array data begins. */
  headerEnd: number;
  /** The dtype holds Python objects, so the data is a pickle (np.load needs allow_pickle). */
  hasObjects: boolean;
  /** Bytes of array data implied by descr and shape, when the dtype is a simple one we can size. */
  dataLength?: number;
  warnings: string[];
}

export function looksLikeNpy(head: Buffer): boolean {
  return head.length >= 8 && head.subarray(0, 6).equals(NPY_MAGIC) && head[6] >= 1 && head[6] <= 3;
}

/** Parse and validate the header; throws Error saying what is wrong. */
export async function readNpyHeader(src: ByteSource): Promise<NpyHeader> {
  const pre = await src.read(0, 12);
  if (pre.length < 10 || !pre.subarray(0, 6).equals(NPY_MAGIC)) {
    throw new Error(`${src.name}: not a .npy file (no \\x93NUMPY magic at offset 0)`);
  }
  const major = pre[6];
  const minor = pre[7];
  if (!((major === 1 || major === 2 || major === 3) && minor === 0)) {
    throw new Error(`${src.name}: unsupported .npy format version ${major}.${minor} (numpy knows 1.0, 2.0 and 3.0)`);
  }
  let headerStart: number;
  let headerLength: number;
  if (major === 1) {
    headerStart = 10;
    headerLength = pre.readUInt16LE(8);
  } else {
    if (pre.length < 12) throw new Error(`${src.name}: .npy ${major}.0 preamble is truncated (needs 12 bytes)`);
    headerStart = 12;
    headerLength = pre.readUInt32LE(8);
  }
  if (headerLength > MAX_NPY_HEADER) {
    throw new Error(`${src.name}: .npy header length ${headerLength} is implausibly large (limit ${MAX_NPY_HEADER})`);
  }
  const headerEnd = headerStart + headerLength;
  if (headerEnd > src.size) {
    throw new Error(`${src.name}: .npy header claims ${headerLength} bytes but the file ends at ${src.size}; the file is truncated`);
  }
  const raw = await src.read(headerStart, headerLength);
  let text: string;
  if (major === 3) {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      throw new Error(`${src.name}: .npy 3.0 header is not valid UTF-8`);
    }
  } else {
    text = raw.toString('latin1');
  }

  const warnings: string[] = [];
  let value: PyValue;
  try {
    value = parsePyLiteral(text, warnings);
  } catch (e) {
    throw new Error(`${src.name}: .npy header is not a valid Python literal: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!(value instanceof PyDict)) throw new Error(`${src.name}: .npy header is not a dict`);
  const keys = [...value.map.keys()].sort();
  if (keys.length !== 3 || keys[0] !== 'descr' || keys[1] !== 'fortran_order' || keys[2] !== 'shape') {
    throw new Error(`${src.name}: .npy header must have exactly the keys descr, fortran_order and shape (found ${keys.map(String).join(', ') || 'none'})`);
  }
  const descr = value.map.get('descr');
  const fortran = value.map.get('fortran_order');
  const shapeV = value.map.get('shape');
  if (typeof fortran !== 'boolean') throw new Error(`${src.name}: .npy header fortran_order is not True/False`);
  if (!(shapeV instanceof PyTuple)) throw new Error(`${src.name}: .npy header shape is not a tuple`);
  const shape: number[] = [];
  for (const d of shapeV.items) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new Error(`${src.name}: .npy header shape holds ${describe(d)}, not a non-negative integer`);
    }
    shape.push(d);
  }
  if (!(typeof descr === 'string' || descr instanceof PyList || descr instanceof PyTuple)) {
    throw new Error(`${src.name}: .npy header descr is ${describe(descr)}, not a dtype string or field list`);
  }
  const hasObjects = descrHasObjects(descr);
  const header: NpyHeader = {
    version: [major, minor],
    descr: toPlain(descr),
    fortranOrder: fortran,
    shape,
    headerEnd,
    hasObjects,
    warnings,
  };
  const itemsize = typeof descr === 'string' ? simpleItemSize(descr) : undefined;
  if (itemsize !== undefined && !hasObjects) {
    const n = shape.reduce((a, b) => a * b, 1);
    header.dataLength = n * itemsize;
    const present = src.size - headerEnd;
    if (header.dataLength > present) warnings.push(`array data is truncated: ${header.dataLength} bytes expected, ${present} present`);
    else if (header.dataLength < present) warnings.push(`${present - header.dataLength} bytes follow the array data`);
  }
  if (!text.endsWith('\n')) warnings.push('header does not end with a newline as numpy writes it');
  return header;
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyTuple) return 'a tuple';
  if (v instanceof PyList) return 'a list';
  if (v instanceof PyDict) return 'a dict';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/**
 * 'O' anywhere a type code can be: '|O', '<O8', 'object', 'i4,O', '(2,)O', or
 * the dtype of any field of a structured dtype (field names are not looked at).
 * Conservative: what numpy would refuse anyway may still count as objects.
 */
export function descrHasObjects(descr: unknown): boolean {
  if (typeof descr === 'string') {
    // No numpy type code or name other than object uses a capital O.
    return descr.includes('O') || /object/i.test(descr);
  }
  const items = descr instanceof PyList || descr instanceof PyTuple ? descr.items : Array.isArray(descr) ? (descr as unknown[]) : undefined;
  if (!items) return descr instanceof PyDict ? [...descr.map.values()].some(descrHasObjects) : false;
  if (descr instanceof PyTuple) {
    // A subarray dtype: (base, shape).
    return items.length === 2 ? descrHasObjects(items[0]) : items.some(descrHasObjects);
  }
  // A field list: (name, dtype) or (name, dtype, shape), name possibly (title, name).
  return items.some((f) => {
    const parts = f instanceof PyTuple || f instanceof PyList ? f.items : Array.isArray(f) ? (f as unknown[]) : undefined;
    if (parts && (parts.length === 2 || parts.length === 3) && (typeof parts[0] === 'string' || parts[0] instanceof PyTuple)) {
      return descrHasObjects(parts[1]);
    }
    return descrHasObjects(f);
  });
}

function simpleItemSize(descr: string): number | undefined {
  const m = /^[<>|=]?([biufcSUVa?])(\d*)$/.exec(descr);
  if (!m) return undefined;
  const n = m[2] === '' ? undefined : Number(m[2]);
  switch (m[1]) {
    case '?':
      return n ?? 1;
    case 'b':
      return n ?? 1;
    case 'U':
      return n === undefined ? undefined : 4 * n;
    default:
      return n;
  }
}

// ---------------------------------------------------------------- Python literal parser

export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}
export class PyList {
  constructor(readonly items: PyValue[]) {}
}
export class PyDict {
  constructor(readonly map: Map<PyValue, PyValue>) {}
}
export type PyValue = string | number | boolean | null | PyTuple | PyList | PyDict;

/** Tuples and lists become arrays, dicts plain objects, for the NpyHeader consumer. */
function toPlain(v: PyValue): unknown {
  if (v instanceof PyTuple || v instanceof PyList) return v.items.map(toPlain);
  if (v instanceof PyDict) {
    const o: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const [k, val] of v.map) o[String(k)] = toPlain(val);
    return o;
  }
  return v;
}

const MAX_DEPTH = 64;

/**
 * Parse one Python literal (strings, ints, floats, True/False/None, tuples,
 * lists, dicts) followed only by whitespace. Throws Error with the offset.
 */
export function parsePyLiteral(text: string, warnings?: string[]): PyValue {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`${what} at offset ${i}`);
  };
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };

  const parseString = (): string => {
    let j = i;
    while (j < text.length && /[bBuUrR]/.test(text[j]) && j - i < 2) j++;
    const prefix = text.slice(i, j).toLowerCase();
    const raw = prefix.includes('r');
    const q = text[j];
    if (q !== "'" && q !== '"') fail('expected a string');
    const triple = text.startsWith(q.repeat(3), j);
    i = j + (triple ? 3 : 1);
    let out = '';
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text[i];
      if (triple ? text.startsWith(q.repeat(3), i) : c === q) {
        i += triple ? 3 : 1;
        return out;
      }
      if (!triple && (c === '\n' || c === '\r')) fail('newline in string');
      if (c === '\\' && !raw) {
        const e = text[i + 1];
        if (e === undefined) fail('unterminated escape');
        i += 2;
        const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '\n': '' };
        if (e in simple) {
          out += simple[e];
        } else if (e === 'x' || e === 'u' || e === 'U') {
          const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
          const hex = text.slice(i, i + len);
          if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) fail(`bad \\${e} escape`);
          const cp = parseInt(hex, 16);
          if (cp > 0x10ffff) fail('escape out of range');
          out += String.fromCodePoint(cp);
          i += len;
        } else if (/[0-7]/.test(e)) {
          let oct = e;
          while (oct.length < 3 && /[0-7]/.test(text[i] ?? '')) oct += text[i++];
          out += String.fromCharCode(parseInt(oct, 8));
        } else {
          out += '\\' + e; // Python keeps unknown escapes as written
        }
        continue;
      }
      out += c;
      i++;
    }
  };

  const parseNumber = (): number => {
    const m = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[lL]?/.exec(text.slice(i, i + 400));
    if (!m) return fail('expected a number');
    i += m[0].length;
    const body = m[0].replace(/[lL]$/, '');
    const n = Number(body);
    if (/^[+-]?\d+$/.test(body) && !Number.isSafeInteger(n)) fail(`integer ${body} is too large`);
    return n;
  };

  const parseSeq = (close: string, depth: number): { items: PyValue[]; trailingComma: boolean } => {
    const items: PyValue[] = [];
    let trailingComma = false;
    ws();
    if (text[i] === close) {
      i++;
      return { items, trailingComma };
    }
    for (;;) {
      items.push(parseValue(depth + 1));
      ws();
      if (text[i] === ',') {
        i++;
        ws();
        trailingComma = true;
        if (text[i] === close) {
          i++;
          return { items, trailingComma };
        }
        trailingComma = false;
        continue;
      }
      if (text[i] === close) {
        i++;
        return { items, trailingComma };
      }
      return fail(`expected ',' or '${close}'`);
    }
  };

  const parseValue = (depth: number): PyValue => {
    if (depth > MAX_DEPTH) fail('nesting too deep');
    ws();
    const c = text[i];
    if (c === undefined) return fail('unexpected end of header');
    if (c === '(') {
      i++;
      const { items, trailingComma } = parseSeq(')', depth);
      // '(x)' is just x; a tuple needs a comma or no items.
      if (items.length === 1 && !trailingComma) return items[0];
      return new PyTuple(items);
    }
    if (c === '[') {
      i++;
      return new PyList(parseSeq(']', depth).items);
    }
    if (c === '{') {
      i++;
      const map = new Map<PyValue, PyValue>();
      ws();
      if (text[i] === '}') {
        i++;
        return new PyDict(map);
      }
      for (;;) {
        const k = parseValue(depth + 1);
        if (k instanceof PyList || k instanceof PyDict) fail('unhashable dict key');
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        const v = parseValue(depth + 1);
        // Python keeps the last of duplicate keys; so do we, and say so.
        if (map.has(k)) warnings?.push(`duplicate key ${JSON.stringify(k)} (the last one wins, as in Python)`);
        map.set(k, v);
        ws();
        if (text[i] === ',') {
          i++;
          ws();
          if (text[i] === '}') {
            i++;
            return new PyDict(map);
          }
          continue;
        }
        if (text[i] === '}') {
          i++;
          return new PyDict(map);
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === "'" || c === '"' || (/[bBuUrR]/.test(c) && /['"]|[bBuUrR]['"]/.test(text.slice(i + 1, i + 3)))) {
      return parseString();
    }
    if (/[0-9+\-.]/.test(c)) return parseNumber();
    for (const [word, v] of [['True', true], ['False', false], ['None', null]] as const) {
      if (text.startsWith(word, i) && !/[A-Za-z0-9_]/.test(text[i + word.length] ?? '')) {
        i += word.length;
        return v;
      }
    }
    return fail(`unexpected character ${JSON.stringify(c)}`);
  };

  const v = parseValue(0);
  ws();
  if (i !== text.length) fail('unexpected text after the literal');
  return v;
}
