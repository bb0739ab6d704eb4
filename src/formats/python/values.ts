/**
 * The abstract values the Python analysis computes for expressions: constants
 * it could fold, references to modules and functions it could resolve, local
 * functions and classes, and "unknown" — each carrying taint (where untrusted or
 * private data came from) and obfuscation signals (how the value was hidden).
 */
import type { MarshalInfo } from './decoders.js';
import type { PyNode } from './parser.js';
import { pyRepr } from './strings.js';

export type TaintKind =
  /** Bytes or text received from the network. */
  | 'network'
  /** A local path holding something downloaded (dl_manager.download, urlretrieve): reading it gives network data. */
  | 'netfile'
  /** Produced by decoding (base64, hex, zlib, marshal, …), statically or at run time. */
  | 'decoded'
  /** Environment variables. */
  | 'env'
  /** Credentials: SSH/AWS/cloud keys, browser cookie and password stores, keychains. */
  | 'secret'
  /** Host, user and OS details. */
  | 'sysinfo'
  /** A socket's file descriptor: handing it to dup2/Popen makes a remote shell. */
  | 'socket'
  /** The text of a file in the repository itself (setup.py's exec(open('version.py').read())). */
  | 'localfile';

export interface Taint {
  kind: TaintKind;
  /** What produced it, as source text: "requests.get('http://…')", "open('~/.aws/credentials')". */
  what: string;
  /** Offset of the source expression in the analysed text. */
  at: number;
  /** Steps from the source to the current value ("data = … (line 5)", "cmd ← run() line 9"), capped. */
  path: string[];
  host?: string;
  /** For env: the whole environment (os.environ, dict(os.environ)) rather than one variable. */
  envAll?: boolean;
  envName?: string;
  /** For decoded: the decoded text (clipped), when decoded statically. */
  payload?: string;
}

export interface FuncInfo {
  node: PyNode;
  name: string;
  params: ParamInfo[];
  /** The scope the function was defined in (closures read it). */
  scope: Scope;
  cls?: ClassInfo;
  isLambda: boolean;
  /** @staticmethod: no self argument. */
  isStatic?: boolean;
  /** Evaluated once with unknown arguments (the way a framework would call it). */
  genericDone: boolean;
  genericReturn?: Val;
  memo: Map<string, Val>;
  /** "module-level", "in a class body", … for messages. */
  line: number;
}

export interface ParamInfo {
  name: string;
  kind: 'pos' | 'star' | 'kwstar' | 'kwonly';
  def?: Val;
}

export interface ClassInfo {
  name: string;
  node: PyNode;
  bases: Val[];
  methods: Map<string, FuncInfo>;
  attrs: Map<string, Val>;
  /** One shared model of "an instance": attributes set through self in any method. */
  instance: Val & { k: 'obj' };
}

export interface Scope {
  vars: Map<string, Val>;
  parent?: Scope;
  /** Names declared `global` in this function. */
  globals?: Set<string>;
  /** True for class bodies, whose names methods do not see. */
  isClass?: boolean;
  fn?: FuncInfo;
}

interface Base {
  t?: Taint[];
  obf?: string[];
}

export type Val = Base &
  (
    | { k: 'str'; v: string; /** Written as one literal (not built). */ lit?: boolean }
    | { k: 'bytes'; v: Buffer; lit?: boolean }
    | { k: 'num'; v: number }
    | { k: 'bool'; v: boolean }
    | { k: 'none' }
    | { k: 'seq'; items: Val[]; kind: 'list' | 'tuple' | 'set' }
    | { k: 'dict'; keys: Val[]; vals: Val[] }
    /** A module, function or attribute path ("os.system"); `self` is the receiver of a bound method; `dict` marks a namespace mapping (__dict__, globals()). */
    | { k: 'ref'; q: string; self?: Val; dict?: boolean }
    | { k: 'obj'; cls: string; props: Map<string, Val>; cdef?: ClassInfo }
    | { k: 'func'; fn: FuncInfo; self?: Val }
    | { k: 'class'; cdef: ClassInfo }
    /** A code object: compile() of source text, or marshal.loads of bytecode. */
    | { k: 'code'; src?: string; /** Source with unknown parts as "…". */ approx?: string; marshal?: MarshalInfo }
    /** Unknown; `approx` is its text with unknown parts as "…" when partly known (f"{home}/.ssh/id_rsa"). */
    | { k: 'unk'; approx?: string }
  );

export const UNK: Val = { k: 'unk' };

export function str(v: string, extra?: Base & { lit?: boolean }): Val {
  return { k: 'str', v, ...extra };
}

export function bytesVal(v: Buffer, extra?: Base & { lit?: boolean }): Val {
  return { k: 'bytes', v, ...extra };
}

export function unk(t?: Taint[], obf?: string[], approx?: string): Val {
  const out: Val = { k: 'unk' };
  if (t?.length) out.t = t;
  if (obf?.length) out.obf = obf;
  if (approx !== undefined) (out as { approx?: string }).approx = approx;
  return out;
}

export function isConstText(v: Val): v is Val & ({ k: 'str' } | { k: 'bytes' }) {
  return v.k === 'str' || v.k === 'bytes';
}

export function textOf(v: Val): string | undefined {
  if (v.k === 'str') return v.v;
  if (v.k === 'bytes') return v.v.toString('latin1');
  return undefined;
}

/** Text with unknown parts shown as "…"; undefined when nothing of it is known. */
export function approxText(v: Val): string | undefined {
  if (v.k === 'str') return v.v;
  if (v.k === 'bytes') return v.v.toString('latin1');
  if (v.k === 'num') return String(v.v);
  if (v.k === 'unk') return v.approx;
  if (v.k === 'seq') {
    const parts = v.items.map((i) => approxText(i) ?? '…');
    return parts.every((p) => p === '…') ? undefined : parts.join(' ');
  }
  return undefined;
}

const MAX_TAINTS = 8;

export function mergeTaints(...lists: (Taint[] | undefined)[]): Taint[] | undefined {
  let out: Taint[] | undefined;
  for (const l of lists) {
    if (!l?.length) continue;
    if (!out) {
      out = [...l];
      continue;
    }
    for (const t of l) {
      if (out.length >= MAX_TAINTS) break;
      if (!out.some((o) => o.kind === t.kind && o.at === t.at)) out.push(t);
    }
  }
  return out;
}

export function mergeObf(...lists: (string[] | undefined)[]): string[] | undefined {
  let out: string[] | undefined;
  for (const l of lists) {
    if (!l?.length) continue;
    out ??= [];
    for (const o of l) if (!out.includes(o) && out.length < 12) out.push(o);
  }
  return out;
}

/**
 * Containers larger than this are not searched item by item for taint: their
 * own `t` holds what was merged into them (mutations add to it), which keeps
 * big literal tables (vocabularies, checksums) cheap.
 */
const DEEP_ITEMS = 64;

/** All taints in a value, including inside containers and bound receivers. */
export function taintsDeep(v: Val, depth = 0): Taint[] | undefined {
  if (depth > 4) return v.t;
  if (v.k === 'seq') return v.items.length ? mergeTaints(v.t, ...v.items.slice(0, DEEP_ITEMS).map((i) => taintsDeep(i, depth + 1))) : v.t;
  if (v.k === 'dict') return v.keys.length ? mergeTaints(v.t, ...v.vals.slice(0, DEEP_ITEMS).map((i) => taintsDeep(i, depth + 1)), ...v.keys.slice(0, DEEP_ITEMS).map((i) => taintsDeep(i, depth + 1))) : v.t;
  if (v.k === 'obj') return mergeTaints(v.t, ...[...v.props.values()].slice(0, 16).map((i) => (i.k === 'obj' ? i.t : taintsDeep(i, depth + 1))));
  if (v.k === 'ref' && v.self) return mergeTaints(v.t, taintsDeep(v.self, depth + 1));
  return v.t;
}

export function obfDeep(v: Val, depth = 0): string[] | undefined {
  if (depth > 4) return v.obf;
  if (v.k === 'seq') return v.items.length ? mergeObf(v.obf, ...v.items.slice(0, DEEP_ITEMS).map((i) => obfDeep(i, depth + 1))) : v.obf;
  if (v.k === 'dict') return v.vals.length ? mergeObf(v.obf, ...v.vals.slice(0, DEEP_ITEMS).map((i) => obfDeep(i, depth + 1))) : v.obf;
  return v.obf;
}

export function withTaint(v: Val, t?: Taint[], obf?: string[]): Val {
  if (!t?.length && !obf?.length) return v;
  return { ...v, t: mergeTaints(v.t, t), obf: mergeObf(v.obf, obf) } as Val;
}

/** The least precise value covering both (branches, loop iterations, several returns). */
export function join(a: Val | undefined, b: Val): Val {
  if (!a) return b;
  if (a === b) return a;
  if (a.k === 'str' && b.k === 'str' && a.v === b.v) return withTaint(a, b.t, b.obf);
  if (a.k === 'ref' && b.k === 'ref' && a.q === b.q) return withTaint(a, b.t, b.obf);
  if (a.k === 'none') return withTaint(b, a.t, a.obf);
  if (b.k === 'none') return withTaint(a, b.t, b.obf);
  if (a.k === 'func' || a.k === 'class' || a.k === 'obj' || a.k === 'code') return withTaint(a, taintsDeep(b), b.obf);
  if (b.k === 'func' || b.k === 'class' || b.k === 'obj' || b.k === 'code') return withTaint(b, taintsDeep(a), a.obf);
  return unk(mergeTaints(taintsDeep(a), taintsDeep(b)), mergeObf(obfDeep(a), obfDeep(b)));
}

/** Python-like text for evidence. */
export function render(v: Val, depth = 0): string {
  switch (v.k) {
    case 'str':
      return pyRepr(v.v);
    case 'bytes':
      return pyRepr(v.v.toString('latin1'), true);
    case 'num':
      return String(v.v);
    case 'bool':
      return v.v ? 'True' : 'False';
    case 'none':
      return 'None';
    case 'seq': {
      if (depth > 2) return '[…]';
      const items = v.items.slice(0, 12).map((i) => render(i, depth + 1));
      if (v.items.length > 12) items.push('…');
      return v.kind === 'tuple' ? `(${items.join(', ')}${v.items.length === 1 ? ',' : ''})` : v.kind === 'set' ? `{${items.join(', ')}}` : `[${items.join(', ')}]`;
    }
    case 'dict': {
      if (depth > 2) return '{…}';
      const items = v.keys.slice(0, 8).map((k, i) => `${render(k, depth + 1)}: ${render(v.vals[i], depth + 1)}`);
      return `{${items.join(', ')}${v.keys.length > 8 ? ', …' : ''}}`;
    }
    case 'ref':
      return v.q;
    case 'obj':
      return `<${v.cls}>`;
    case 'func':
      return `<function ${v.fn.name}>`;
    case 'class':
      return `<class ${v.cdef.name}>`;
    case 'code':
      return v.src !== undefined ? `<code ${pyRepr(v.src, false, 120)}>` : '<marshalled code>';
    case 'unk':
      return v.approx !== undefined ? `‹${v.approx.length > 200 ? v.approx.slice(0, 200) + '…' : v.approx}›` : '…';
  }
}

export function truthy(v: Val): boolean | undefined {
  switch (v.k) {
    case 'str':
      return v.v.length > 0;
    case 'bytes':
      return v.v.length > 0;
    case 'num':
      return v.v !== 0;
    case 'bool':
      return v.v;
    case 'none':
      return false;
    case 'seq':
      return v.items.length > 0;
    case 'dict':
      return v.keys.length > 0;
    default:
      return undefined;
  }
}

export function constEqual(a: Val, b: Val): boolean {
  if (a.k === 'str' && b.k === 'str') return a.v === b.v;
  if (a.k === 'num' && b.k === 'num') return a.v === b.v;
  if (a.k === 'bytes' && b.k === 'bytes') return a.v.equals(b.v);
  if (a.k === 'bool' && b.k === 'bool') return a.v === b.v;
  return false;
}

type DictVal = Val & { k: 'dict' };

function keyString(k: Val): string | undefined {
  if (k.k === 'str') return `s${k.v}`;
  if (k.k === 'num') return `n${k.v}`;
  if (k.k === 'bool') return `n${k.v ? 1 : 0}`;
  if (k.k === 'bytes') return `b${k.v.toString('latin1')}`;
  return undefined;
}

const dictIndexes = new WeakMap<DictVal, Map<string, number>>();

function dictIndex(d: DictVal): Map<string, number> {
  let idx = dictIndexes.get(d);
  if (!idx || idx.size > d.keys.length) {
    idx = new Map();
    d.keys.forEach((k, i) => {
      const s = keyString(k);
      if (s !== undefined) idx!.set(s, i);
    });
    dictIndexes.set(d, idx);
  }
  return idx;
}

/** Index of a constant key in a dict value, or -1 (a hash lookup: dict literals can be vocabulary-sized). */
export function dictFind(d: DictVal, k: Val): number {
  const s = keyString(k);
  if (s === undefined) return -1;
  if (d.keys.length <= 8) return d.keys.findIndex((x) => constEqual(x, k));
  return dictIndex(d).get(s) ?? -1;
}

/** d[k] = v: constant keys are stored; any other key only adds its value's taint to the dict. */
export function dictSet(d: DictVal, k: Val, v: Val): void {
  const i = dictFind(d, k);
  if (v.t?.length) d.t = mergeTaints(d.t, v.t);
  if (i >= 0) {
    d.vals[i] = v;
    return;
  }
  const s = keyString(k);
  if (s === undefined || d.keys.length >= 100_000) return;
  d.keys.push(k);
  d.vals.push(v);
  dictIndexes.get(d)?.set(s, d.keys.length - 1);
}
