/**
 * Symbolic values of the pickle stack machine. Nothing here is a Python object:
 * constants are kept as far as they are small, containers keep references, and
 * calls are records of "this callable was applied to these arguments".
 */

export type Value =
  | { k: 'none' }
  | { k: 'bool'; v: boolean }
  | { k: 'int'; v: number | bigint }
  | { k: 'float'; v: number }
  /**
   * Text. `truncated` when only a prefix was kept; `len` is the full byte length.
   * `fromBytes` for the byte-string opcodes (STRING, BINSTRING…), which Python 3 decodes to str.
   */
  | { k: 'str'; v: string; truncated: boolean; len: number; fromBytes?: boolean }
  /** Bytes are never copied: `off`/`len` locate them in the stream; `head` is a short prefix. */
  | { k: 'bytes'; off: number; len: number; head: Buffer; bytearray: boolean }
  | { k: 'seq'; type: 'list' | 'tuple' | 'set' | 'frozenset'; items: Value[]; dropped: number }
  | { k: 'dict'; items: Value[]; dropped: number } // key, value, key, value…
  | { k: 'global'; ref: GlobalRef }
  | { k: 'call'; call: CallRecord }
  | { k: 'buffer'; readonly: boolean }
  | { k: 'unknown'; why: string };

export interface GlobalRef {
  module: string;
  name: string;
  /** Opcode that named it: GLOBAL, STACK_GLOBAL, INST, EXT. */
  via: string;
  offset: number;
}

export type CallKind = 'reduce' | 'inst' | 'obj' | 'newobj' | 'newobj_ex' | 'build' | 'persistent_load' | 'ext';

export interface CallRecord {
  id: number;
  kind: CallKind;
  /** The callable (for BUILD: the object whose __setstate__ is reached). */
  fn: Value;
  /** Positional arguments: a tuple value (for BUILD: the state). */
  args: Value;
  kwargs?: Value;
  offset: number;
  /**
   * What the callable really is once trampolines are seen through:
   * getattr(__import__('os'), 'system') resolves to "os.system".
   */
  callee?: string;
  /** Ids of earlier calls whose results flow into this one's callable or arguments. */
  inputs: number[];
  /** State later given to the result by BUILD (numpy dtypes keep their layout here). */
  state?: Value;
  /** A `__setstate__` planted in the result's attributes by a BUILD: the next BUILD calls it. */
  setstate?: Value;
}

export const NONE_V: Value = { k: 'none' };
export const TRUE_V: Value = { k: 'bool', v: true };
export const FALSE_V: Value = { k: 'bool', v: false };

export function unknown(why: string): Value {
  return { k: 'unknown', why };
}

export function globalName(ref: GlobalRef): string {
  return ref.name === '' ? ref.module : `${ref.module}.${ref.name}`;
}

/** A string constant's text, for string-like values (str, or bytes read from STRING ops). */
export function constString(v: Value | undefined): string | undefined {
  if (!v) return undefined;
  if (v.k === 'str') return v.truncated ? undefined : v.v;
  return undefined;
}

export function tupleItems(v: Value | undefined): Value[] | undefined {
  if (v && v.k === 'seq' && (v.type === 'tuple' || v.type === 'list')) return v.items;
  return undefined;
}

const IMPORTERS = new Set([
  'builtins.__import__',
  '__builtin__.__import__',
  'importlib.import_module',
  'importlib.__import__',
  'importlib._bootstrap._gcd_import',
  'importlib._bootstrap.__import__',
]);

/**
 * The dotted name a value stands for, seeing through resolver trampolines:
 * globals, __import__/import_module('m'), getattr(x, 'a'), pkgutil.resolve_name,
 * pydoc.locate, operator.attrgetter('a')(x), functools.partial(f, …).
 */
export function resolveName(v: Value | undefined, depth = 0): string | undefined {
  if (!v || depth > 16) return undefined;
  if (v.k === 'global') return globalName(v.ref);
  if (v.k !== 'call') return undefined;
  const c = v.call;
  const fn = resolveName(c.fn, depth + 1);
  const args = tupleItems(c.args) ?? [];
  if (c.kind !== 'reduce' && c.kind !== 'inst' && c.kind !== 'obj') return undefined;
  if (fn && IMPORTERS.has(fn)) {
    const m = constString(args[0]);
    // __import__('os.path') returns the top package 'os', import_module returns 'os.path'.
    if (m) return fn.endsWith('__import__') && !fn.startsWith('importlib._bootstrap._gcd') ? m.split('.')[0] : m;
  }
  if (fn === 'builtins.getattr' || fn === '__builtin__.getattr') {
    const base = resolveName(args[0], depth + 1);
    const attr = constString(args[1]);
    if (base && attr) return `${base}.${attr}`;
  }
  if (fn === 'pkgutil.resolve_name' || fn === 'pydoc.locate' || fn === 'pydoc.resolve') {
    const s = constString(args[0]);
    if (s) return s.replace(':', '.');
  }
  if (fn === 'operator.attrgetter') return undefined; // an attrgetter is not itself the target
  // attrgetter('a.b')(x) → x.a.b
  if (c.fn.k === 'call') {
    const inner = c.fn.call;
    const innerFn = resolveName(inner.fn, depth + 1);
    const innerArgs = tupleItems(inner.args) ?? [];
    if (innerFn === 'operator.attrgetter') {
      const base = resolveName(args[0], depth + 1);
      const attr = constString(innerArgs[0]);
      if (base && attr) return `${base}.${attr}`;
    }
  }
  return undefined;
}

/**
 * What a call really invokes: the callee's name, seeing through
 * functools.partial(f, …)(…) and operator.methodcaller('m', …)(x).
 */
export function resolveCallee(c: CallRecord, depth = 0): string | undefined {
  if (depth > 16) return undefined;
  if (c.kind === 'build') return undefined;
  const direct = resolveName(c.fn);
  if (c.fn.k === 'call') {
    const inner = c.fn.call;
    const innerFn = resolveName(inner.fn);
    const innerArgs = tupleItems(inner.args) ?? [];
    if (innerFn === 'functools.partial' && innerArgs[0]) {
      if (innerArgs[0].k === 'call') {
        const deeper = resolveCallee({ ...innerArgs[0].call, kind: 'reduce', fn: innerArgs[0], args: inner.args }, depth + 1);
        if (deeper) return deeper;
      }
      return resolveName(innerArgs[0]) ?? direct;
    }
    if (innerFn === 'operator.methodcaller') {
      const target = resolveName((tupleItems(c.args) ?? [])[0]);
      const method = constString(innerArgs[0]);
      if (target && method) return `${target}.${method}`;
    }
  }
  return direct;
}

// ---------------------------------------------------------------------------
// Rendering values as Python-like source, bounded in size.

const MAX_ITEMS = 8;
const MAX_STR = 200;
const MAX_DEPTH = 6;

function pyStr(s: string, truncated: boolean): string {
  let body = s.length > MAX_STR ? s.slice(0, MAX_STR) : s;
  body = body.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
  // eslint-disable-next-line no-control-regex
  body = body.replace(/[\x00-\x1f\x7f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `'${body}'${s.length > MAX_STR || truncated ? '…' : ''}`;
}

function pyBytes(head: Buffer, len: number): string {
  let out = '';
  for (const b of head.subarray(0, 48)) {
    if (b === 0x5c) out += '\\\\';
    else if (b === 0x27) out += "\\'";
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return `b'${out}'${len > Math.min(head.length, 48) ? `…(${len} bytes)` : ''}`;
}

/** Nodes rendered per top-level call: shared references (DUP/GET) must not multiply the work. */
const MAX_NODES = 200;
let nodes = 0;

export function render(v: Value | undefined, depth = 0): string {
  if (depth === 0) nodes = 0;
  if (!v) return '?';
  if (depth > MAX_DEPTH || ++nodes > MAX_NODES) return '…';
  switch (v.k) {
    case 'none':
      return 'None';
    case 'bool':
      return v.v ? 'True' : 'False';
    case 'int':
      return String(v.v);
    case 'float':
      return Number.isInteger(v.v) ? `${v.v}.0` : String(v.v);
    case 'str':
      return pyStr(v.v, v.truncated);
    case 'bytes':
      return `${v.bytearray ? 'bytearray(' : ''}${pyBytes(v.head, v.len)}${v.bytearray ? ')' : ''}`;
    case 'seq': {
      const parts = v.items.slice(0, MAX_ITEMS).map((x) => render(x, depth + 1));
      const more = v.items.length + v.dropped - MAX_ITEMS;
      if (more > 0) parts.push(`…+${more}`);
      const body = parts.join(', ');
      if (v.type === 'tuple') return v.items.length === 1 && v.dropped === 0 ? `(${body},)` : `(${body})`;
      if (v.type === 'list') return `[${body}]`;
      return `${v.type}({${body}})`;
    }
    case 'dict': {
      const parts: string[] = [];
      for (let i = 0; i + 1 < v.items.length && parts.length < MAX_ITEMS; i += 2) {
        parts.push(`${render(v.items[i], depth + 1)}: ${render(v.items[i + 1], depth + 1)}`);
      }
      const more = v.items.length / 2 + v.dropped - parts.length;
      if (more > 0) parts.push(`…+${Math.ceil(more)}`);
      return `{${parts.join(', ')}}`;
    }
    case 'global':
      return globalName(v.ref);
    case 'call':
      return renderCall(v.call, depth);
    case 'buffer':
      return v.readonly ? '<readonly buffer>' : '<out-of-band buffer>';
    case 'unknown':
      return `<${v.why}>`;
  }
}

function argList(args: Value, depth: number): string {
  if (args.k === 'seq' && args.type === 'tuple') {
    const parts = args.items.slice(0, MAX_ITEMS).map((x) => render(x, depth + 1));
    if (args.items.length + args.dropped > MAX_ITEMS) parts.push('…');
    return parts.join(', ');
  }
  return `*${render(args, depth + 1)}`;
}

export function renderCall(c: CallRecord, depth = 0): string {
  if (depth === 0) nodes = 0;
  if (depth > MAX_DEPTH || ++nodes > MAX_NODES) return '…';
  switch (c.kind) {
    case 'build':
      return `${render(c.fn, depth + 1)}.__setstate__(${render(c.args, depth + 1)})`;
    case 'persistent_load':
      return `persistent_load(${render(c.args, depth + 1)})`;
    case 'newobj':
    case 'newobj_ex': {
      const kw = c.kwargs && c.kwargs.k === 'dict' && c.kwargs.items.length > 0 ? `, **${render(c.kwargs, depth + 1)}` : '';
      const a = argList(c.args, depth);
      return `${render(c.fn, depth + 1)}.__new__(${render(c.fn, depth + 1)}${a ? `, ${a}` : ''}${kw})`;
    }
    default: {
      const fn = c.fn.k === 'call' ? `(${render(c.fn, depth + 1)})` : render(c.fn, depth + 1);
      return `${fn}(${argList(c.args, depth)})`;
    }
  }
}

/** Ids of calls reachable from a value (bounded walk). */
export function callsIn(v: Value, out: number[], budget = { n: 256 }): number[] {
  if (budget.n-- <= 0) return out;
  if (v.k === 'call') {
    if (!out.includes(v.call.id)) out.push(v.call.id);
  } else if (v.k === 'seq' || v.k === 'dict') {
    for (const x of v.items) {
      if (budget.n <= 0) break;
      callsIn(x, out, budget);
    }
  }
  return out;
}
