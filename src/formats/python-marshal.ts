/**
 * A reader for CPython's `marshal` format, enough to look inside the code
 * objects that Keras Lambda layers carry (base64 of `marshal.dumps(fn.__code__)`)
 * without ever loading them. It parses the object stream into plain values,
 * decodes code objects for the field layouts of Python 2.7 and 3.0–3.14, and
 * lists what the code refers to: names, dotted attribute chains (from the
 * bytecode where the version is known) and string constants.
 *
 * Every length and count is checked against the bytes that remain, nesting and
 * object counts are bounded, and nothing here executes anything.
 */

export type MarshalValue =
  | { t: 'null' }
  | { t: 'none' }
  | { t: 'bool'; v: boolean }
  | { t: 'ellipsis' }
  | { t: 'stopiteration' }
  | { t: 'int'; v: bigint }
  | { t: 'float'; v: number }
  | { t: 'complex'; re: number; im: number }
  | { t: 'str'; v: string }
  | { t: 'bytes'; v: Buffer }
  | { t: 'tuple' | 'list' | 'set' | 'frozenset' | 'slice'; items: MarshalValue[] }
  | { t: 'dict'; entries: Array<[MarshalValue, MarshalValue]> }
  | { t: 'code'; code: CodeObject };

/**
 * Field layouts of marshalled code objects. They differ in how many int32
 * header fields come first and which objects follow, which is all a reader
 * needs to tell them apart.
 */
export type CodeLayout = 'py2' | 'py3.0-3.7' | 'py3.8-3.10' | 'py3.11+';

export interface CodeObject {
  layout: CodeLayout;
  argcount: number;
  flags: number;
  /** The bytecode (co_code). */
  code: Buffer;
  consts: MarshalValue[];
  /** co_names: globals, attributes and imported names the bytecode uses. */
  names: string[];
  /** co_varnames, or the local part of co_localsplusnames (3.11+). */
  varnames: string[];
  filename: string;
  name: string;
  qualname?: string;
  firstlineno: number;
  /** Byte offset of the code object in the marshal data. */
  offset: number;
}

export interface MarshalLimits {
  /** Containers nested inside each other. */
  maxDepth: number;
  /** Objects read in all, counting attempts at each code layout. */
  maxObjects: number;
}

export const DEFAULT_MARSHAL_LIMITS: MarshalLimits = { maxDepth: 200, maxObjects: 1_000_000 };

export class MarshalError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'MarshalError';
  }
}

const FLAG_REF = 0x80;
const LAYOUT_ORDER: readonly CodeLayout[] = ['py3.11+', 'py3.8-3.10', 'py3.0-3.7', 'py2'];

/** Placeholder for a ref slot reserved by a container that is still being read. */
const PENDING: MarshalValue = { t: 'none' };

class Reader {
  pos = 0;
  objects = 0;
  refs: MarshalValue[] = [];
  /** Python 2 interned strings ('t'), which 'R' refers back to. */
  interned: string[] = [];
  preferred: CodeLayout | undefined;

  constructor(
    readonly buf: Buffer,
    readonly limits: MarshalLimits,
  ) {}

  fail(msg: string, at = this.pos): never {
    throw new MarshalError(msg, at);
  }

  need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) this.fail(`truncated: ${n} bytes needed at offset ${this.pos}, ${this.buf.length - this.pos} left`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }

  i32(): number {
    this.need(4);
    const v = this.buf.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  take(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** A count that must fit in what is left, each item taking at least `minItem` bytes. */
  count(n: number, minItem: number, what: string): number {
    if (n < 0) this.fail(`negative ${what} length ${n}`);
    if (n * minItem > this.buf.length - this.pos) this.fail(`${what} of ${n} items cannot fit in the ${this.buf.length - this.pos} bytes left`);
    return n;
  }

  object(depth: number): MarshalValue {
    if (depth > this.limits.maxDepth) this.fail(`nested deeper than ${this.limits.maxDepth} levels`);
    if (++this.objects > this.limits.maxObjects) this.fail(`more than ${this.limits.maxObjects} objects`);
    const at = this.pos;
    const code = this.u8();
    const flag = (code & FLAG_REF) !== 0;
    const type = String.fromCharCode(code & ~FLAG_REF);
    // Containers and code objects take their ref slot before their children, as CPython does.
    const reserve = (): number => {
      if (!flag) return -1;
      this.refs.push(PENDING);
      return this.refs.length - 1;
    };
    const done = (v: MarshalValue, slot = -2): MarshalValue => {
      if (slot >= 0) this.refs[slot] = v;
      else if (slot === -2 && flag) this.refs.push(v);
      return v;
    };
    switch (type) {
      case '0':
        return { t: 'null' };
      case 'N':
        return done({ t: 'none' });
      case 'F':
        return done({ t: 'bool', v: false });
      case 'T':
        return done({ t: 'bool', v: true });
      case '.':
        return done({ t: 'ellipsis' });
      case 'S':
        return done({ t: 'stopiteration' });
      case 'i':
        return done({ t: 'int', v: BigInt(this.i32()) });
      case 'I': {
        this.need(8);
        const v = this.buf.readBigInt64LE(this.pos);
        this.pos += 8;
        return done({ t: 'int', v });
      }
      case 'l': {
        const n = this.i32();
        const digits = this.count(Math.abs(n), 2, 'long');
        let v = 0n;
        for (let i = 0; i < digits; i++) {
          const d = this.buf.readUInt16LE(this.pos + 2 * i);
          if (d > 0x7fff) this.fail('long digit out of range', this.pos + 2 * i);
          v |= BigInt(d) << BigInt(15 * i);
        }
        this.pos += 2 * digits;
        return done({ t: 'int', v: n < 0 ? -v : v });
      }
      case 'f':
        return done({ t: 'float', v: this.textFloat() });
      case 'g': {
        this.need(8);
        const v = this.buf.readDoubleLE(this.pos);
        this.pos += 8;
        return done({ t: 'float', v });
      }
      case 'x': {
        const re = this.textFloat();
        return done({ t: 'complex', re, im: this.textFloat() });
      }
      case 'y': {
        this.need(16);
        const re = this.buf.readDoubleLE(this.pos);
        const im = this.buf.readDoubleLE(this.pos + 8);
        this.pos += 16;
        return done({ t: 'complex', re, im });
      }
      case 's':
        return done({ t: 'bytes', v: this.take(this.count(this.i32(), 1, 'bytes')) });
      case 't': {
        // Python 3: an interned str; Python 2: an interned byte string 'R' can refer to.
        const v = this.take(this.count(this.i32(), 1, 'string')).toString('utf8');
        this.interned.push(v);
        return done({ t: 'str', v });
      }
      case 'u':
        return done({ t: 'str', v: this.take(this.count(this.i32(), 1, 'string')).toString('utf8') });
      case 'a':
      case 'A':
        return done({ t: 'str', v: this.take(this.count(this.i32(), 1, 'string')).toString('latin1') });
      case 'z':
      case 'Z':
        return done({ t: 'str', v: this.take(this.u8()).toString('latin1') });
      case 'R': {
        const i = this.u32();
        if (i >= this.interned.length) this.fail(`string reference ${i} to one of ${this.interned.length} interned strings`, at);
        return done({ t: 'str', v: this.interned[i] });
      }
      case 'r': {
        const i = this.u32();
        if (i >= this.refs.length) this.fail(`reference ${i} to one of ${this.refs.length} stored objects`, at);
        return this.refs[i];
      }
      case '(':
      case ')':
      case '[':
      case '<':
      case '>': {
        const n = this.count(type === ')' ? this.u8() : this.i32(), 1, 'container');
        const t = type === '[' ? 'list' : type === '<' ? 'set' : type === '>' ? 'frozenset' : 'tuple';
        const slot = reserve();
        const items: MarshalValue[] = [];
        const v: MarshalValue = { t, items };
        if (slot >= 0) this.refs[slot] = v;
        for (let i = 0; i < n; i++) items.push(this.item(depth, 'container'));
        return done(v, slot);
      }
      case ':': {
        const slot = reserve();
        const items = [this.object(depth + 1), this.object(depth + 1), this.object(depth + 1)];
        return done({ t: 'slice', items }, slot);
      }
      case '{': {
        const slot = reserve();
        const entries: Array<[MarshalValue, MarshalValue]> = [];
        const v: MarshalValue = { t: 'dict', entries };
        if (slot >= 0) this.refs[slot] = v;
        for (;;) {
          const k = this.object(depth + 1);
          if (k.t === 'null') break;
          entries.push([k, this.item(depth, 'dict value')]);
        }
        return done(v, slot);
      }
      case 'c': {
        const slot = reserve();
        const code = this.codeObject(depth, at);
        return done({ t: 'code', code }, slot);
      }
      default:
        return this.fail(`unknown marshal type 0x${code.toString(16).padStart(2, '0')}`, at);
    }
  }

  /** A child that must be a value (NULL only ends dicts). */
  item(depth: number, what: string): MarshalValue {
    const at = this.pos;
    const v = this.object(depth + 1);
    if (v.t === 'null') this.fail(`NULL inside a ${what}`, at);
    return v;
  }

  textFloat(): number {
    const s = this.take(this.u8()).toString('latin1');
    const v = Number(s.trim());
    return Number.isNaN(v) && !/nan/i.test(s) ? this.fail(`bad float text ${JSON.stringify(s)}`) : v;
  }

  /**
   * Tries each field layout in turn (the preferred one, i.e. the one that
   * worked for the outer code object, first) and keeps the first that parses
   * with the right field types.
   */
  codeObject(depth: number, at: number): CodeObject {
    const start = this.pos;
    const refs = this.refs.length;
    const interned = this.interned.length;
    const order = this.preferred ? [this.preferred, ...LAYOUT_ORDER.filter((l) => l !== this.preferred)] : LAYOUT_ORDER;
    const errors: string[] = [];
    for (const layout of order) {
      try {
        const c = this.codeFields(layout, depth, at);
        this.preferred ??= layout;
        return c;
      } catch (e) {
        if (!(e instanceof MarshalError) || /more than \d+ objects/.test(e.message)) throw e;
        errors.push(`${layout}: ${e.message}`);
        this.pos = start;
        this.refs.length = refs;
        this.interned.length = interned;
      }
    }
    throw new MarshalError(`code object matches no known Python layout (${errors.join("; ")})`, at);
  }

  codeFields(layout: CodeLayout, depth: number, at: number): CodeObject {
    const ints = layout === 'py2' ? 4 : layout === 'py3.8-3.10' ? 6 : 5;
    const header: number[] = [];
    for (let i = 0; i < ints; i++) header.push(this.i32());
    const d = depth + 1;
    const py2 = layout === 'py2';
    const code = this.expect(d, 'bytes', 'co_code', py2);
    const consts = this.expect(d, 'tuple', 'co_consts');
    const names = this.strings(d, 'co_names');
    let varnames: string[];
    if (layout === 'py3.11+') {
      varnames = this.strings(d, 'co_localsplusnames');
      this.expect(d, 'bytes', 'co_localspluskinds');
    } else {
      varnames = this.strings(d, 'co_varnames');
      this.strings(d, 'co_freevars');
      this.strings(d, 'co_cellvars');
    }
    const filename = this.text(d, 'co_filename');
    const name = this.text(d, 'co_name');
    const qualname = layout === 'py3.11+' ? this.text(d, 'co_qualname') : undefined;
    const firstlineno = this.i32();
    this.expect(d, 'bytes', layout === 'py3.11+' ? 'co_linetable' : 'co_lnotab', py2);
    if (layout === 'py3.11+') this.expect(d, 'bytes', 'co_exceptiontable');
    const flags = header[ints - 1];
    return {
      layout,
      argcount: header[0],
      flags,
      code: (code as { v: Buffer }).v,
      consts: (consts as { items: MarshalValue[] }).items,
      names,
      varnames,
      filename,
      name,
      ...(qualname !== undefined ? { qualname } : {}),
      firstlineno,
      offset: at,
    };
  }

  expect(depth: number, t: 'bytes' | 'tuple', field: string, py2 = false): MarshalValue {
    const at = this.pos;
    const v = this.object(depth);
    // Python 2's byte strings may be interned ('t'), which this reader decodes as text.
    if (py2 && t === 'bytes' && v.t === 'str') return { t: 'bytes', v: Buffer.from(v.v, 'latin1') };
    if (v.t !== t) this.fail(`${field} is ${v.t}, expected ${t}`, at);
    return v;
  }

  strings(depth: number, field: string): string[] {
    const at = this.pos;
    const v = this.object(depth);
    if (v.t !== 'tuple') this.fail(`${field} is ${v.t}, expected a tuple of names`, at);
    return v.items.map((x) => {
      if (x.t === 'str') return x.v;
      if (x.t === 'bytes') return x.v.toString('latin1'); // Python 2 names are byte strings
      return this.fail(`${field} holds a ${x.t}, expected names`, at);
    });
  }

  text(depth: number, field: string): string {
    const at = this.pos;
    const v = this.object(depth);
    if (v.t === 'str') return v.v;
    if (v.t === 'bytes') return v.v.toString('latin1');
    return this.fail(`${field} is ${v.t}, expected a string`, at);
  }
}

/** Parses one marshalled object from the start of `buf`. */
export function readMarshal(buf: Buffer, limits: Partial<MarshalLimits> = {}): { value: MarshalValue; end: number } {
  const r = new Reader(buf, { ...DEFAULT_MARSHAL_LIMITS, ...limits });
  const value = r.object(0);
  return { value, end: r.pos };
}

// ---------------------------------------------------------------------------
// What a code object refers to.

/** Opcodes that matter for following `a.b.c` chains, per bytecode generation. */
interface OpTable {
  version: string;
  loadGlobal: number;
  loadName: number;
  loadAttr: number;
  loadMethod?: number;
  loadSuperAttr?: number;
  importName: number;
  importFrom: number;
  loadConst: number;
  extendedArg: number;
  /** Right shift of LOAD_GLOBAL / LOAD_ATTR / LOAD_SUPER_ATTR args to get the name index. */
  globalShift: number;
  attrShift: number;
  superShift: number;
  /** Calls: what __import__('os') returns becomes the start of a chain. */
  calls: ReadonlySet<number>;
  /** Instructions that leave a chain in progress alone. */
  passthrough: ReadonlySet<number>;
  /** Inline cache entries (2 bytes each) that follow an instruction, 3.11+. */
  caches: Readonly<Record<number, number>>;
}

// Numbers from each interpreter's `opcode` module (opmap, _inline_cache_entries).
const OPS_38: OpTable = {
  version: '3.8-3.10',
  loadGlobal: 116,
  loadName: 101,
  loadAttr: 106,
  loadMethod: 160,
  importName: 108,
  importFrom: 109,
  loadConst: 100,
  extendedArg: 144,
  globalShift: 0,
  attrShift: 0,
  superShift: 0,
  calls: new Set([131, 141, 142, 161]),
  passthrough: new Set([9, 144]),
  caches: {},
};
const OPS_311: OpTable = {
  version: '3.11',
  loadGlobal: 116,
  loadName: 101,
  loadAttr: 106,
  loadMethod: 160,
  importName: 108,
  importFrom: 109,
  loadConst: 100,
  extendedArg: 144,
  globalShift: 1,
  attrShift: 0,
  superShift: 0,
  calls: new Set([171, 142]),
  passthrough: new Set([0, 2, 9, 144, 151, 166, 172]),
  caches: { 25: 4, 60: 1, 92: 1, 95: 4, 106: 4, 107: 2, 116: 5, 122: 1, 160: 10, 166: 1, 171: 4 },
};
const OPS_312: OpTable = {
  version: '3.12',
  loadGlobal: 116,
  loadName: 101,
  loadAttr: 106,
  loadSuperAttr: 141,
  importName: 108,
  importFrom: 109,
  loadConst: 100,
  extendedArg: 144,
  globalShift: 1,
  attrShift: 1,
  superShift: 2,
  calls: new Set([171, 142, 173, 174]),
  passthrough: new Set([0, 2, 9, 144, 151, 172]),
  caches: { 25: 1, 60: 1, 92: 1, 93: 1, 95: 4, 106: 9, 107: 1, 116: 4, 122: 1, 123: 1, 141: 1, 171: 3 },
};
const OPS_313: OpTable = {
  version: '3.13',
  loadGlobal: 91,
  loadName: 92,
  loadAttr: 82,
  loadSuperAttr: 93,
  importName: 75,
  importFrom: 74,
  loadConst: 83,
  extendedArg: 71,
  globalShift: 1,
  attrShift: 1,
  superShift: 2,
  calls: new Set([53, 54, 55, 56, 57]),
  passthrough: new Set([0, 30, 34, 71, 149]),
  caches: { 5: 1, 39: 1, 40: 3, 45: 1, 53: 3, 58: 1, 59: 1, 72: 1, 77: 1, 82: 9, 91: 4, 93: 1, 97: 1, 98: 1, 99: 1, 100: 1, 104: 1, 108: 4, 117: 1 },
};

/** Which opcode tables can read this code object's bytecode (several when it cannot be told). */
function opTablesFor(c: CodeObject): OpTable[] {
  if (c.layout === 'py3.8-3.10') return [OPS_38];
  if (c.layout !== 'py3.11+' || c.code.length < 2) return [];
  // 3.11+ code starts with RESUME (or COPY_FREE_VARS/MAKE_CELL first): 151 in 3.11/3.12, 149 in 3.13.
  const ops = new Set<number>();
  for (let i = 0; i + 1 < c.code.length; i += 2) ops.add(c.code[i]);
  if (ops.has(149) && !ops.has(151)) return [OPS_313];
  if (!ops.has(151)) return [];
  // 3.11 has PRECALL (166) and LOAD_METHOD (160); 3.12 has RETURN_CONST (121). Ambiguous code is read both ways.
  const is311 = ops.has(166) || ops.has(160);
  const is312 = ops.has(121) || ops.has(141);
  if (is311 && !is312) return [OPS_311];
  if (is312 && !is311) return [OPS_312];
  return [OPS_311, OPS_312];
}

const IMPORTERS = new Set(['__import__', 'builtins.__import__', 'importlib.import_module', 'importlib.__import__']);

/**
 * Follows LOAD_GLOBAL/LOAD_NAME/IMPORT_NAME and the LOAD_ATTR/LOAD_METHOD/IMPORT_FROM
 * runs after them into dotted chains ("os.system"), and `__import__('os')`
 * followed by attributes into "os.system". It reads no stack effects: a chain
 * ends at the first instruction that is not part of it. Returns undefined when
 * the bytecode runs off its end or names an index out of range.
 */
function chainsOf(c: CodeObject, ops: OpTable): { chains: string[]; globals: string[] } | undefined {
  const chains = new Set<string>();
  const globals = new Set<string>();
  const code = c.code;
  let chain: string[] | null = null;
  let importArg: string | undefined;
  let ext = 0;
  const flush = (): void => {
    if (chain && chain.length) chains.add(chain.join('.'));
    chain = null;
  };
  const name = (i: number): string | undefined => c.names[i];
  for (let pc = 0; pc + 1 < code.length; ) {
    const op = code[pc];
    const arg = code[pc + 1] | ext;
    const caches = 2 * (ops.caches[op] ?? 0);
    // marshal writes inline caches zeroed: anything else means this table does not fit the code.
    for (let i = pc + 2; i < pc + 2 + caches; i++) if (i >= code.length || code[i] !== 0) return undefined;
    pc += 2 + caches;
    if (op === ops.extendedArg) {
      ext = arg * 256;
      if (ext > 0x7fffffff) return undefined;
      continue;
    }
    ext = 0;
    if (op === ops.loadGlobal || op === ops.loadName) {
      const n = name(op === ops.loadGlobal ? arg >>> ops.globalShift : arg);
      if (n === undefined) return undefined;
      flush();
      globals.add(n);
      chain = [n];
      importArg = undefined;
    } else if (op === ops.importName) {
      const n = name(arg);
      if (n === undefined) return undefined;
      flush();
      globals.add(n);
      chain = n.split('.');
    } else if (op === ops.importFrom) {
      const n = name(arg);
      if (n === undefined) return undefined;
      const cur = chain as string[] | null;
      if (cur) chains.add([...cur, n].join('.'));
    } else if (op === ops.loadAttr || op === ops.loadMethod || op === ops.loadSuperAttr) {
      const shift = op === ops.loadAttr ? ops.attrShift : op === ops.loadSuperAttr ? ops.superShift : 0;
      const n = name(arg >>> shift);
      if (n === undefined) return undefined;
      const cur = chain as string[] | null;
      if (cur) cur.push(n);
      else chain = ['?', n];
    } else if (op === ops.loadConst) {
      const k = c.consts[arg];
      const cur = chain as string[] | null;
      if (cur && IMPORTERS.has(cur.join('.')) && k && k.t === 'str') {
        importArg ??= k.v;
      } else {
        flush();
      }
    } else if (ops.calls.has(op)) {
      const cur = chain as string[] | null;
      if (cur && importArg !== undefined && IMPORTERS.has(cur.join('.'))) {
        flush();
        chain = importArg.split('.');
      } else {
        flush();
      }
      importArg = undefined;
    } else if (!ops.passthrough.has(op)) {
      flush();
      importArg = undefined;
    }
  }
  flush();
  return { chains: [...chains], globals: [...globals] };
}

export interface CodeSummary {
  /** Layout of the outermost code object. */
  layout: CodeLayout;
  /** The Python version(s) whose bytecode was followed, e.g. "3.11"; absent when only names were read. */
  bytecode?: string;
  /** Function name (co_name), e.g. "<lambda>", and source file the code was compiled from. */
  name: string;
  filename: string;
  /** Every co_names entry of every nested code object, in order of first appearance. */
  names: string[];
  /** Names loaded as globals or imported (from bytecode; all names when the bytecode was not followed). */
  globals: string[];
  /** Dotted chains the bytecode builds: "os.system", "__import__", "tf.math.add". */
  chains: string[];
  /** String and bytes constants (bytes as latin1), in order of first appearance. */
  strings: string[];
  /** Code objects in all, the outermost included. */
  codeObjects: number;
}

/** Walks a code object and everything nested in its constants (bounded; shared refs visited once). */
export function summarizeCode(root: CodeObject, maxItems = 10_000): CodeSummary {
  const names = new Set<string>();
  const globals = new Set<string>();
  const chains = new Set<string>();
  const strings = new Set<string>();
  const versions = new Set<string>();
  let understood = true;
  let codeObjects = 0;
  const seen = new Set<object>();
  const stack: MarshalValue[] = [{ t: 'code', code: root }];
  const add = (set: Set<string>, v: string): void => {
    if (set.size < maxItems) set.add(v);
  };
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    switch (v.t) {
      case 'code': {
        codeObjects++;
        const c = v.code;
        for (const n of c.names) add(names, n);
        const tables = opTablesFor(c);
        let followed = false;
        for (const ops of tables) {
          const r = chainsOf(c, ops);
          if (!r) continue;
          followed = true;
          versions.add(ops.version);
          for (const x of r.chains) add(chains, x);
          for (const x of r.globals) add(globals, x);
        }
        if (!followed) understood = false;
        for (let i = c.consts.length - 1; i >= 0; i--) stack.push(c.consts[i]);
        break;
      }
      case 'str':
        add(strings, v.v);
        break;
      case 'bytes':
        add(strings, v.v.toString('latin1'));
        break;
      case 'tuple':
      case 'list':
      case 'set':
      case 'frozenset':
      case 'slice':
        for (let i = v.items.length - 1; i >= 0; i--) stack.push(v.items[i]);
        break;
      case 'dict':
        for (const [k, x] of v.entries) stack.push(k, x);
        break;
    }
  }
  // Without the bytecode, any name may be a global: assume they all are.
  if (!understood) for (const n of names) add(globals, n);
  return {
    layout: root.layout,
    ...(understood && versions.size ? { bytecode: [...versions].join(' or ') } : {}),
    name: root.qualname ?? root.name,
    filename: root.filename,
    names: [...names],
    globals: [...globals],
    chains: [...chains],
    strings: [...strings],
    codeObjects,
  };
}

/**
 * Collects every string that parses out of a marshal stream that is not a
 * well-formed code object: the fallback when the layout is unknown. Reads
 * objects from each offset that holds a string type code, skipping garbage.
 */
export function scavengeStrings(buf: Buffer, maxItems = 10_000): string[] {
  const out = new Set<string>();
  for (let i = 0; i < buf.length && out.size < maxItems; i++) {
    const t = String.fromCharCode(buf[i] & ~FLAG_REF);
    let len = -1;
    let start = i + 1;
    if ((t === 'z' || t === 'Z') && i + 1 < buf.length) {
      len = buf[i + 1];
      start = i + 2;
    } else if ('sutaA'.includes(t) && i + 5 <= buf.length) {
      len = buf.readInt32LE(i + 1);
      start = i + 5;
    }
    if (len <= 0 || start + len > buf.length || len > 1 << 20) continue;
    const s = buf.subarray(start, start + len).toString('latin1');
    // Names and constants are printable; random bytes rarely are for long.
    if (/^[\x20-\x7e\t\n\r]+$/.test(s) && (len >= 2 || /\w/.test(s))) {
      out.add(s);
      i = start + len - 1;
    }
  }
  return [...out];
}

/**
 * Decodes the text Keras stores for a function: base64 of the marshal data as
 * `codecs.decode(s.encode('ascii'), 'base64')` reads it (characters outside the
 * alphabet are skipped), and, as Keras falls back to when that fails, the
 * string's own characters as bytes (`raw_unicode_escape`).
 */
export function decodeKerasFunctionText(s: string): { bytes: Buffer; encoding: 'base64' | 'raw' } {
  const b64 = pythonBase64(s);
  if (b64) return { bytes: b64, encoding: 'base64' };
  const out: number[] = [];
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x100) out.push(cp);
    else {
      const esc = cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
      for (const c of esc) out.push(c.charCodeAt(0));
    }
  }
  return { bytes: Buffer.from(out), encoding: 'raw' };
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

/** binascii.a2b_base64 in its default (non-strict) mode; undefined where Python raises. */
function pythonBase64(s: string): Buffer | undefined {
  // str.encode('ascii') fails on anything outside ASCII.
  if (!/^[\x00-\x7f]*$/.test(s)) return undefined;
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  let quad = 0;
  let pads = 0;
  for (const ch of s) {
    if (ch === '=') {
      // Padding ends the data once a quad has at least two characters in it.
      if (quad >= 2 && quad + ++pads >= 4) {
        quad = 0;
        break;
      }
      continue;
    }
    const v = B64_INDEX.get(ch);
    if (v === undefined) continue;
    pads = 0;
    acc = (acc << 6) | v;
    bits += 6;
    quad = (quad + 1) & 3;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
      acc &= (1 << bits) - 1;
    }
  }
  // A partial quad without enough padding is "Incorrect padding".
  if (quad !== 0) return undefined;
  return Buffer.from(out);
}
