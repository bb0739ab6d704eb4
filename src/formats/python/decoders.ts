/**
 * Static decoders for the encodings that hide payloads in Python source:
 * base64/32/16/85, hex, rot13, percent-encoding, zlib/gzip/bz2, and the strings
 * and names inside a marshalled code object. Everything here is pure data
 * transformation with an output cap: nothing decoded is ever run.
 */
import { createRequire } from 'node:module';
import zlib from 'node:zlib';

const require = createRequire(import.meta.url);

/** Largest output one static decode may produce (larger payloads are left undecoded). */
export const MAX_DECODED = 8 * 1024 * 1024;

export class DecodeError extends Error {}

function text(b: Buffer | string): string {
  return typeof b === 'string' ? b : b.toString('latin1');
}

/** base64.b64decode with validate=False: characters outside the alphabet are discarded, as CPython does. */
export function b64decode(input: Buffer | string, altchars?: string): Buffer {
  let s = text(input);
  if (altchars && altchars.length >= 2) s = s.split(altchars[0]).join('+').split(altchars[1]).join('/');
  s = s.replace(/[^A-Za-z0-9+/]/g, '');
  if (s.length % 4 === 1) throw new DecodeError('invalid base64 length');
  return Buffer.from(s, 'base64');
}

export function urlsafeB64decode(input: Buffer | string): Buffer {
  return b64decode(text(input).replace(/-/g, '+').replace(/_/g, '/'));
}

export function b32decode(input: Buffer | string): Buffer {
  const s = text(input).replace(/=+$/, '').toUpperCase();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of s) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new DecodeError(`invalid base32 character ${JSON.stringify(ch)}`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** bytes.fromhex / binascii.unhexlify / base64.b16decode (whitespace allowed between pairs, as fromhex does). */
export function hexdecode(input: Buffer | string): Buffer {
  const s = text(input).replace(/\s+/g, '');
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new DecodeError('not a hex string');
  return Buffer.from(s, 'hex');
}

const B85 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~';

/** base64.b85decode (the git/Mercurial alphabet). */
export function b85decode(input: Buffer | string): Buffer {
  const s = text(input);
  const pad = (5 - (s.length % 5)) % 5;
  const padded = s + '~'.repeat(pad);
  const out: number[] = [];
  for (let i = 0; i < padded.length; i += 5) {
    let acc = 0;
    for (let j = 0; j < 5; j++) {
      const v = B85.indexOf(padded[i + j]);
      if (v < 0) throw new DecodeError('invalid base85 character');
      acc = acc * 85 + v;
    }
    if (acc > 0xffffffff) throw new DecodeError('base85 overflow');
    out.push((acc >>> 24) & 0xff, (acc >>> 16) & 0xff, (acc >>> 8) & 0xff, acc & 0xff);
  }
  return Buffer.from(out.slice(0, out.length - pad));
}

/** base64.a85decode (Adobe framing optional). */
export function a85decode(input: Buffer | string): Buffer {
  let s = text(input).replace(/\s+/g, '');
  if (s.startsWith('<~')) s = s.slice(2);
  if (s.endsWith('~>')) s = s.slice(0, -2);
  const out: number[] = [];
  let group: number[] = [];
  const flush = (g: number[], full: boolean) => {
    const n = g.length;
    while (g.length < 5) g.push(84);
    let acc = 0;
    for (const v of g) acc = acc * 85 + v;
    const bytes = [(acc >>> 24) & 0xff, (acc >>> 16) & 0xff, (acc >>> 8) & 0xff, acc & 0xff];
    out.push(...(full ? bytes : bytes.slice(0, n - 1)));
  };
  for (const ch of s) {
    if (ch === 'z' && group.length === 0) {
      out.push(0, 0, 0, 0);
      continue;
    }
    const v = ch.charCodeAt(0) - 33;
    if (v < 0 || v > 84) throw new DecodeError('invalid ascii85 character');
    group.push(v);
    if (group.length === 5) {
      flush(group, true);
      group = [];
    }
  }
  if (group.length) flush(group, false);
  return Buffer.from(out);
}

export function rot13(s: string): string {
  return s.replace(/[A-Za-z]/g, (c) => {
    const base = c <= 'Z' ? 65 : 97;
    return String.fromCharCode(((c.charCodeAt(0) - base + 13) % 26) + base);
  });
}

/** urllib.parse.unquote / unquote_to_bytes. */
export function unquote(s: string, plus = false): string {
  const t = plus ? s.replace(/\+/g, ' ') : s;
  const bytes: number[] = [];
  for (let i = 0; i < t.length; i++) {
    if (t[i] === '%' && /^[0-9a-fA-F]{2}$/.test(t.slice(i + 1, i + 3))) {
      bytes.push(parseInt(t.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      for (const b of Buffer.from(t[i], 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * zlib.decompress(data, wbits): zlib-wrapped by default; negative wbits mean
 * raw deflate, 16+ means gzip, 32+ means either (as in CPython).
 */
export function zlibDecompress(data: Buffer, wbits?: number): Buffer {
  const opts = { maxOutputLength: MAX_DECODED };
  try {
    if (wbits !== undefined && wbits < 0) return zlib.inflateRawSync(data, opts);
    if (wbits !== undefined && wbits >= 16 && wbits < 32) return zlib.gunzipSync(data, opts);
    if (wbits !== undefined && wbits >= 32) return zlib.unzipSync(data, opts);
    return zlib.inflateSync(data, opts);
  } catch (e) {
    throw new DecodeError(`zlib: ${(e as Error).message}`);
  }
}

export function gzipDecompress(data: Buffer): Buffer {
  try {
    return zlib.gunzipSync(data, { maxOutputLength: MAX_DECODED });
  } catch (e) {
    throw new DecodeError(`gzip: ${(e as Error).message}`);
  }
}

interface SeekBzip {
  decode(input: unknown, output: unknown, multistream?: boolean): unknown;
}
let bunzip: SeekBzip | undefined;

export function bz2Decompress(data: Buffer): Buffer {
  bunzip ??= require('seek-bzip') as SeekBzip;
  const chunks: Buffer[] = [];
  let cur = Buffer.allocUnsafe(64 * 1024);
  let pos = 0;
  let total = 0;
  const out = {
    writeByte(b: number): void {
      if (++total > MAX_DECODED) throw new DecodeError('bz2 output over the static-decode cap');
      cur[pos++] = b;
      if (pos === cur.length) {
        chunks.push(cur);
        cur = Buffer.allocUnsafe(64 * 1024);
        pos = 0;
      }
    },
  };
  try {
    bunzip.decode(data, out, true);
  } catch (e) {
    throw new DecodeError(`bz2: ${(e as Error).message}`);
  }
  chunks.push(cur.subarray(0, pos));
  return Buffer.concat(chunks);
}

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  if (!s.length) return 0;
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** A long literal that looks like packed data (base64, hex, compressed bytes): an obfuscation signal. */
export function looksPacked(s: string): boolean {
  if (s.length < 120) return false;
  // Prose and code (docstrings, templates) have spaces; packed data has next to none.
  let spaces = 0;
  for (let i = 0; i < s.length && i < 2000; i++) if (s.charCodeAt(i) === 32) spaces++;
  if (spaces > Math.min(s.length, 2000) * 0.03) return false;
  if (/^[A-Za-z0-9+/=\s_-]+$/.test(s) && entropy(s) > 4.5) return true;
  if (/^[0-9a-fA-F\s]+$/.test(s) && s.length >= 200) return true;
  return entropy(s) > 5.5;
}

// ------------------------------------------------------------------ marshal

/** What a marshalled code object names and holds: enough to say what it does, without running it. */
export interface MarshalInfo {
  /** co_names of every code object: the globals and attributes it uses (os, system, …). */
  names: string[];
  /** String constants. */
  strings: string[];
  /** co_name of every code object. */
  functions: string[];
  /** False when the layout was not recognised and strings were carved from the raw bytes instead. */
  parsed: boolean;
}

const FLAG_REF = 0x80;

/** Code object header/tail layouts across CPython versions (marshal has no version field). */
const CODE_LAYOUTS = [
  { name: '3.11+', ints: 5, objsBeforeLine: 8, objsAfterLine: 2 }, // code, consts, names, localsplusnames, localspluskinds, filename, name, qualname | linetable, exceptiontable
  { name: '3.8-3.10', ints: 6, objsBeforeLine: 8, objsAfterLine: 1 }, // code, consts, names, varnames, freevars, cellvars, filename, name | lnotab
  { name: '3.0-3.7', ints: 5, objsBeforeLine: 8, objsAfterLine: 1 },
  { name: '2.x', ints: 4, objsBeforeLine: 8, objsAfterLine: 1 },
];

class MarshalReader {
  pos = 0;
  refs: unknown[] = [];
  names: string[] = [];
  strings: string[] = [];
  functions: string[] = [];
  depth = 0;
  constructor(
    private readonly b: Buffer,
    private readonly layout: (typeof CODE_LAYOUTS)[number],
  ) {}

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.b.length) throw new DecodeError('marshal data truncated');
  }
  private u8(): number {
    this.need(1);
    return this.b[this.pos++];
  }
  private i32(): number {
    this.need(4);
    const v = this.b.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  private raw(n: number): Buffer {
    if (n < 0) throw new DecodeError('negative marshal length');
    this.need(n);
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  obj(): unknown {
    if (++this.depth > 200) throw new DecodeError('marshal nesting too deep');
    try {
      const code = this.u8();
      const flag = code & FLAG_REF;
      const type = String.fromCharCode(code & 0x7f);
      let slot = -1;
      if (flag) {
        slot = this.refs.length;
        this.refs.push(undefined);
      }
      const v = this.body(type);
      if (slot >= 0) this.refs[slot] = v;
      return v;
    } finally {
      this.depth--;
    }
  }

  private str(n: number, enc: BufferEncoding): string {
    const s = this.raw(n).toString(enc);
    this.strings.push(s);
    return s;
  }

  private seq(n: number): unknown[] {
    if (n < 0 || n > this.b.length) throw new DecodeError('bad marshal sequence length');
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.push(this.obj());
    return out;
  }

  private body(type: string): unknown {
    switch (type) {
      case '0':
      case 'N':
      case 'F':
      case 'T':
      case 'S':
      case '.':
        return null;
      case 'i':
        return this.i32();
      case 'I':
        this.raw(8);
        return 0;
      case 'l': {
        const n = this.i32();
        this.raw(Math.abs(n) * 2);
        return 0;
      }
      case 'f':
        this.raw(this.u8());
        return 0;
      case 'g':
        this.raw(8);
        return 0;
      case 'x':
        this.raw(this.u8());
        this.raw(this.u8());
        return 0;
      case 'y':
        this.raw(16);
        return 0;
      case 's':
      case 't':
        return this.str(this.i32(), 'latin1');
      case 'u':
        return this.str(this.i32(), 'utf8');
      case 'a':
      case 'A':
        return this.str(this.i32(), 'latin1');
      case 'z':
      case 'Z':
        return this.str(this.u8(), 'latin1');
      case '(':
      case '[':
      case '<':
      case '>':
        return this.seq(this.i32());
      case ')':
        return this.seq(this.u8());
      case '{': {
        const out: unknown[] = [];
        for (let i = 0; i < 1_000_000; i++) {
          if (this.b[this.pos] === 0x30) {
            this.pos++;
            return out;
          }
          out.push(this.obj(), this.obj());
        }
        throw new DecodeError('marshal dict too long');
      }
      case 'r': {
        const i = this.i32();
        if (i < 0 || i >= this.refs.length) throw new DecodeError('bad marshal ref');
        return this.refs[i];
      }
      case 'c':
        return this.code();
      default:
        throw new DecodeError(`unknown marshal type ${JSON.stringify(type)}`);
    }
  }

  private code(): unknown {
    for (let i = 0; i < this.layout.ints; i++) this.i32();
    const fields: unknown[] = [];
    for (let i = 0; i < this.layout.objsBeforeLine; i++) fields.push(this.obj());
    this.i32();
    for (let i = 0; i < this.layout.objsAfterLine; i++) this.obj();
    const names = fields[2];
    if (Array.isArray(names)) for (const n of names) if (typeof n === 'string') this.names.push(n);
    const name = this.layout.name === '3.11+' ? fields[6] : fields[7];
    if (typeof name === 'string') this.functions.push(name);
    return { code: true };
  }
}

/** Reads what a marshal.dumps(code) blob names and holds. Never executes it. */
export function readMarshal(b: Buffer): MarshalInfo {
  for (const layout of CODE_LAYOUTS) {
    const r = new MarshalReader(b, layout);
    try {
      r.obj();
      if (r.pos !== b.length) continue;
      const uniq = (xs: string[]) => [...new Set(xs)];
      // co_code and line tables are bytes objects too; keep only text-like strings.
      const codeish = (s: string) => s.length > 0 && (s.match(/[\x20-\x7e\t\n\r]/g)?.length ?? 0) >= s.length * 0.9;
      return { names: uniq(r.names), strings: uniq(r.strings.filter(codeish)), functions: uniq(r.functions), parsed: true };
    } catch {
      // try the next layout
    }
  }
  // Unknown layout: carve printable strings so the payload still says something.
  const strings = (b.toString('latin1').match(/[\x20-\x7e]{2,}/g) ?? []).slice(0, 2000);
  const names = strings.flatMap((s) => s.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []);
  return { names: [...new Set(names)], strings: [...new Set(strings)], functions: [], parsed: false };
}
