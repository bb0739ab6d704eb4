/**
 * Static analysis of one Python module: an abstract interpreter over the
 * tree-sitter syntax tree. It resolves imports and aliases, folds constants
 * (concatenation, %-/format/f-strings, slicing, chr/join, base64/hex/zlib/…
 * decoding), follows values from sources (network, decoded blobs, environment,
 * credential files, host details) through assignments, containers, calls of
 * the module's own functions and methods, and reports every call that reaches a
 * sink (exec/eval, processes, sockets, HTTP sends, deserialisers, native code,
 * start-up file writes) as a `PyEvent`. Decoded payloads and exec'd strings are
 * analysed again, recursively and with a bound.
 *
 * Nothing is ever executed. Evaluation is bounded by a step budget; branches are
 * all taken; loops run once (or once per item of a short constant list).
 */
import {
  BUILTIN_NAMES,
  DOWNLOAD_TO_FILE,
  HOME_VARS,
  NETWORK_SOURCES,
  SECRET_SOURCES,
  SINKS,
  STAR_EXPORTS,
  SYSINFO_SOURCES,
  canonical,
  credentialPath,
  hostOf,
  persistencePath,
  type SinkKind,
  type SinkSpec,
} from './catalog.js';
import {
  MAX_DECODED,
  a85decode,
  b32decode,
  b64decode,
  b85decode,
  bz2Decompress,
  gzipDecompress,
  hexdecode,
  looksPacked,
  readMarshal,
  rot13,
  unquote,
  urlsafeB64decode,
  zlibDecompress,
  type MarshalInfo,
} from './decoders.js';
import { fieldOf, namedChildren, parsePython, type PyNode } from './parser.js';
import { analyzeShell, type ShellAnalysis } from './shell.js';
import { decodeEscapes, parsePrefix, pyRepr } from './strings.js';
import {
  UNK,
  approxText,
  bytesVal,
  constEqual,
  dictFind,
  dictSet,
  join,
  mergeObf,
  mergeTaints,
  obfDeep,
  render,
  str,
  taintsDeep,
  textOf,
  truthy,
  unk,
  withTaint,
  type ClassInfo,
  type FuncInfo,
  type ParamInfo,
  type Scope,
  type Taint,
  type Val,
} from './values.js';

export type EventKind = SinkKind | 'reverse-shell' | 'credential-read' | 'remote-load';

/** A sink reached: what was called, with what, from where, and how the data got there. */
export interface PyEvent {
  kind: EventKind;
  /** Canonical name of the callable: "os.system", "builtins.exec", "socket.socket.connect". */
  callee: string;
  /** The call as evidence, with folded constants: os.system('touch /tmp/x'). */
  call: string;
  /** UTF-16 offsets of the call in the top-level text (a nested payload's events point at the outer site). */
  start: number;
  end: number;
  /** Runs when the module is imported (top level, class bodies, functions called from there). */
  importTime: boolean;
  taints: Taint[];
  /** Obfuscation signals on the callee and its arguments. */
  obf: string[];
  /** Signals on how the callable itself was reached (getattr with a built name, __dict__, dynamic import). */
  calleeObf: string[];
  /** The payload as text (code, command, URL, path), with unknown parts as "…"; `exact` when fully known. */
  text?: string;
  exact: boolean;
  /** Every payload argument is a constant. */
  argsConst: boolean;
  host?: string;
  /** For file sinks: the path and what it is ("shell start-up file"); `written` the content, when seen. */
  path?: string;
  pathWhat?: string;
  written?: string;
  shell?: ShellAnalysis;
  marshal?: MarshalInfo;
  /** Constant bytes handed to a deserialiser (an embedded pickle): the caller may scan them. */
  bytes?: Buffer;
  /** Call chain and payload nesting: "run() called at line 12", "in code decoded at line 3". */
  via: string[];
  /** For socket/HTTP sends: which arguments carried the tainted data (data, json, headers, url). */
  taintedArgs?: string[];
  /** Depth of payload nesting (0 = the file itself). */
  nesting: number;
}

export interface PyAnalysis {
  events: PyEvent[];
  /** Where the parser had to recover (syntax errors, Python 2 constructs it does not know). */
  parseErrors: { start: number; end: number }[];
  /** Evaluation stopped early at the step budget. */
  truncated: boolean;
  nodeCount: number;
  /** Decoded payloads seen (for evidence), top-level only. */
  decoded: number;
  /** Set when indentation nested this deep made the file be parsed with its indentation removed. */
  flattenedDepth?: number;
}

export interface AnalyzeOptions {
  /** Whether top-level statements run at import (true for .py files, notebooks, setup.py). */
  importTime?: boolean;
  /** Nesting of payloads already (recursion bound). */
  depth?: number;
  /** Evaluation steps per node of the tree (default 60) on top of a fixed base. */
  stepsPerNode?: number;
  /** Names already bound (imports of the module that exec's this code). */
  globals?: Map<string, Val>;
}

const MAX_NESTING = 3;
const MAX_CALL_DEPTH = 6;
const MAX_MEMO = 12;
const MAX_ITER = 200_000;
const MAX_STR = 4 * 1024 * 1024;
const MAX_PATH = 8;
const CLIP = 200;

/** Argument expressions of a call, for evidence that shows the source of non-constant arguments. */
type ArgNodes = PyNode[] & { kw?: Map<string, PyNode> };

interface Cx {
  importTime: boolean;
  via: string[];
  returns?: Val[];
  depth: number;
}

interface Nested {
  code: string;
  start: number;
  end: number;
  importTime: boolean;
  note: string;
  via: string[];
  /** Set for decoded literals that were not seen to run. */
  unreached?: boolean;
  taint?: Taint;
  /** Modules and callables visible where the code runs (exec'd code shares its caller's namespace). */
  env?: Map<string, Val>;
}

function clip(s: string, n = CLIP): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** Last dotted segment. */
function last(q: string): string {
  const i = q.lastIndexOf('.');
  return i < 0 ? q : q.slice(i + 1);
}

const EXPRESSION_TYPES = new Set([
  'identifier', 'attribute', 'call', 'string', 'concatenated_string', 'integer', 'float', 'true', 'false', 'none',
  'binary_operator', 'unary_operator', 'boolean_operator', 'not_operator', 'comparison_operator',
  'conditional_expression', 'parenthesized_expression', 'tuple', 'list', 'set', 'dictionary', 'subscript',
  'lambda', 'list_comprehension', 'set_comprehension', 'dictionary_comprehension', 'generator_expression',
  'named_expression', 'assignment', 'augmented_assignment', 'await', 'yield', 'expression_list', 'ellipsis',
  'keyword_argument', 'list_splat', 'dictionary_splat', 'as_pattern', 'print_statement',
]);

export class Analyzer {
  readonly events: PyEvent[] = [];
  readonly nested: Nested[] = [];
  steps = 0;
  truncated = false;
  decodedCount = 0;
  private readonly maxSteps: number;
  private readonly funcs: FuncInfo[] = [];
  private readonly defined = new Set<PyNode>();
  private readonly module: Scope = { vars: new Map() };
  private readonly starImports: string[] = [];
  private readonly callStack: FuncInfo[] = [];
  private readonly lineStarts: number[];
  private exprDepth = 0;
  /** The scope of the call being evaluated (exec'd code runs in it). */
  private curScope: Scope = this.module;
  /** Credential files copied elsewhere (browsers lock their databases, so thieves copy them first): destination → taint. */
  private readonly copied = new Map<string, Taint>();

  constructor(
    private readonly text: string,
    nodeCount: number,
    private readonly opts: AnalyzeOptions = {},
  ) {
    this.maxSteps = 200_000 + nodeCount * (opts.stepsPerNode ?? 60);
    if (opts.globals) for (const [k, v] of opts.globals) this.module.vars.set(k, v);
    this.lineStarts = [0];
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  line(offset: number): number {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  private src(n: PyNode): string {
    return this.text.slice(n.start, n.end);
  }

  private tick(): boolean {
    if (++this.steps > this.maxSteps) {
      this.truncated = true;
      return false;
    }
    return true;
  }

  // ------------------------------------------------------------ driver

  run(root: PyNode): void {
    const cx: Cx = { importTime: this.opts.importTime ?? true, via: [], depth: 0 };
    this.block(root.children, this.module, cx);
    // Functions nobody in this file calls still run when a framework calls them
    // (forward, _generate_examples, hub entry points): evaluate each once with unknown arguments.
    for (let i = 0; i < this.funcs.length && !this.truncated; i++) this.generic(this.funcs[i]);
  }

  private generic(fn: FuncInfo): Val {
    if (fn.genericDone) return fn.genericReturn ?? UNK;
    fn.genericDone = true;
    const self = fn.cls ? fn.cls.instance : undefined;
    // setuptools command classes (cmdclass={"install": PostInstall}) run during `pip install`: install time counts as import time.
    const install = fn.name === 'run' && fn.cls?.bases.some((b) => b.k === 'ref' && INSTALL_COMMANDS.test(b.q));
    fn.genericReturn = this.invoke(fn, self, [], new Map(), undefined, { importTime: !!install, via: install ? [`${fn.cls!.name}.run(), a setuptools command run by pip install`] : [], depth: 0 }, true);
    return fn.genericReturn;
  }

  // ------------------------------------------------------------ statements

  private block(nodes: PyNode[], scope: Scope, cx: Cx): void {
    for (const n of nodes) {
      if (this.truncated) return;
      this.stmt(n, scope, cx);
    }
  }

  private stmt(n: PyNode, scope: Scope, cx: Cx): void {
    if (!this.tick()) return;
    // Hostile nesting (thousands of blocks) must not exhaust the JavaScript stack.
    if (this.exprDepth > 400) {
      this.truncated = true;
      return;
    }
    this.exprDepth++;
    try {
      this.stmtInner(n, scope, cx);
    } finally {
      this.exprDepth--;
    }
  }

  private stmtInner(n: PyNode, scope: Scope, cx: Cx): void {
    switch (n.type) {
      case 'comment':
      case 'pass_statement':
      case 'break_statement':
      case 'continue_statement':
      case 'future_import_statement':
        return;
      case 'block':
      case 'module':
        this.block(n.children, scope, cx);
        return;
      case 'expression_statement':
        for (const c of namedChildren(n)) this.ev(c, scope, cx);
        return;
      case 'import_statement':
        this.importStmt(n, scope);
        return;
      case 'import_from_statement':
        this.importFrom(n, scope);
        return;
      case 'function_definition':
        this.defineFunction(n, scope, cx, []);
        return;
      case 'class_definition':
        this.defineClass(n, scope, cx);
        return;
      case 'decorated_definition': {
        const decos: string[] = [];
        for (const c of n.children) {
          if (c.type !== 'decorator') continue;
          const e = namedChildren(c)[0];
          if (e) {
            this.ev(e, scope, cx);
            decos.push(this.src(e));
          }
        }
        const def = fieldOf(n, 'definition');
        if (def?.type === 'function_definition') this.defineFunction(def, scope, cx, decos);
        else if (def) this.stmt(def, scope, cx);
        return;
      }
      case 'if_statement': {
        const cond = fieldOf(n, 'condition');
        const main = cond ? /__name__\s*==\s*['"]__main__['"]|['"]__main__['"]\s*==\s*__name__/.test(this.src(cond)) : false;
        if (cond) this.ev(cond, scope, cx);
        const inner: Cx = main ? { ...cx, importTime: false } : cx;
        for (const c of n.children) {
          if (c.field === 'consequence') this.stmt(c, scope, inner);
          else if (c.type === 'elif_clause') {
            const ec = fieldOf(c, 'condition');
            if (ec) this.ev(ec, scope, cx);
            const body = fieldOf(c, 'consequence');
            if (body) this.stmt(body, scope, cx);
          } else if (c.type === 'else_clause') {
            const body = fieldOf(c, 'body');
            if (body) this.stmt(body, scope, cx);
          }
        }
        return;
      }
      case 'for_statement': {
        const right = fieldOf(n, 'right');
        const left = fieldOf(n, 'left');
        const body = fieldOf(n, 'body');
        const it = right ? this.ev(right, scope, cx) : UNK;
        const items = this.iterItems(it, 8);
        if (items && left && body) {
          for (const item of items) {
            this.bind(left, item, scope, cx);
            this.stmt(body, scope, cx);
          }
        } else {
          if (left) this.bind(left, this.elementOf(it), scope, cx);
          if (body) this.stmt(body, scope, cx);
        }
        for (const c of n.children) if (c.type === 'else_clause') this.stmtChildren(c, scope, cx);
        return;
      }
      case 'while_statement': {
        const cond = fieldOf(n, 'condition');
        if (cond) this.ev(cond, scope, cx);
        const body = fieldOf(n, 'body');
        if (body) this.stmt(body, scope, cx);
        for (const c of n.children) if (c.type === 'else_clause') this.stmtChildren(c, scope, cx);
        return;
      }
      case 'try_statement':
        for (const c of n.children) {
          if (c.type === 'block') this.stmt(c, scope, cx);
          else if (c.type === 'except_clause' || c.type === 'except_group_clause') {
            for (const e of c.children) {
              if (e.type === 'as_pattern') {
                const first = namedChildren(e)[0];
                if (first) this.ev(first, scope, cx);
                const alias = fieldOf(e, 'alias');
                if (alias) this.bind(alias, UNK, scope, cx);
              } else if (e.type === 'block') this.stmt(e, scope, cx);
              else if (e.named) this.ev(e, scope, cx);
            }
          } else if (c.type === 'else_clause' || c.type === 'finally_clause') this.stmtChildren(c, scope, cx);
        }
        return;
      case 'with_statement': {
        for (const c of n.children) {
          if (c.type === 'with_clause') {
            for (const item of c.children) {
              if (item.type !== 'with_item') continue;
              const v = fieldOf(item, 'value');
              if (!v) continue;
              if (v.type === 'as_pattern') {
                const e = namedChildren(v)[0];
                const val = e ? this.ev(e, scope, cx) : UNK;
                const alias = fieldOf(v, 'alias');
                if (alias) this.bind(alias, val, scope, cx);
              } else this.ev(v, scope, cx);
            }
          } else if (c.type === 'block') this.stmt(c, scope, cx);
        }
        return;
      }
      case 'return_statement': {
        const e = namedChildren(n)[0];
        const v = e ? this.ev(e, scope, cx) : ({ k: 'none' } as Val);
        cx.returns?.push(v);
        return;
      }
      case 'global_statement':
      case 'nonlocal_statement':
        if (n.type === 'global_statement' && scope.fn) {
          scope.globals ??= new Set();
          for (const c of namedChildren(n)) if (c.type === 'identifier') scope.globals.add(this.src(c));
        }
        return;
      case 'exec_statement': {
        // Python 2: exec "code" in ns
        const code = fieldOf(n, 'code');
        if (code) {
          const v = this.ev(code, scope, cx);
          this.curScope = scope;
          this.codeExec('builtins.exec', { k: 'ref', q: 'builtins.exec' }, [v], n, cx, [code]);
        }
        return;
      }
      case 'print_statement':
      case 'delete_statement':
      case 'raise_statement':
      case 'assert_statement':
      case 'type_alias_statement':
        for (const c of namedChildren(n)) this.ev(c, scope, cx);
        return;
      case 'match_statement':
        for (const c of n.children) {
          if (c.field === 'subject') this.ev(c, scope, cx);
          else if (c.type === 'block') this.stmtChildren(c, scope, cx);
        }
        return;
      case 'case_clause':
        this.stmtChildren(n, scope, cx);
        return;
      case 'ERROR':
        this.errorNode(n, scope, cx);
        return;
      default:
        // Anything unknown: scan what is inside, as far as it parses.
        if (EXPRESSION_TYPES.has(n.type)) this.ev(n, scope, cx);
        else this.stmtChildren(n, scope, cx);
    }
  }

  /**
   * Inside an ERROR node the parser leaves loose pieces: `os.system`, `(`, a
   * string, and no `)` when the call was never closed. Such runs are read as
   * the call they spell; every other piece is scanned as a statement.
   */
  private errorNode(n: PyNode, scope: Scope, cx: Cx): void {
    const kids = n.children;
    for (let i = 0; i < kids.length; i++) {
      const c = kids[i];
      const next = kids[i + 1];
      if (next && !next.named && next.type === '(' && (c.type === 'identifier' || c.type === 'attribute' || c.type === 'subscript' || c.type === 'call')) {
        const callee = this.ev(c, scope, cx);
        const pos: Val[] = [];
        const argNodes: ArgNodes = [];
        argNodes.kw = new Map();
        const kw = new Map<string, Val>();
        let j = i + 2;
        let end = next.end;
        for (; j < kids.length; j++) {
          const a = kids[j];
          if (!a.named && a.type === ')') {
            end = a.end;
            break;
          }
          if (!a.named) continue;
          if (a.type === 'keyword_argument') {
            const name = fieldOf(a, 'name');
            const value = fieldOf(a, 'value');
            if (name && value) {
              kw.set(this.src(name), this.ev(value, scope, cx));
              argNodes.kw.set(this.src(name), value);
            }
          } else if (EXPRESSION_TYPES.has(a.type)) {
            pos.push(this.ev(a, scope, cx));
            argNodes.push(a);
          } else this.stmt(a, scope, cx);
          end = a.end;
        }
        const saved = this.curScope;
        this.curScope = scope;
        try {
          this.apply(callee, pos, kw, { type: 'call', named: true, field: null, start: c.start, end, children: [] }, cx, argNodes);
        } finally {
          this.curScope = saved;
        }
        i = j;
        continue;
      }
      if (c.named) this.stmt(c, scope, cx);
    }
  }

  /** The imports and resolved callables visible from a scope, for code run in that namespace. */
  private refEnv(scope: Scope): Map<string, Val> {
    const out = new Map<string, Val>();
    const chain: Scope[] = [];
    for (let s: Scope | undefined = scope; s; s = s.parent) chain.unshift(s);
    if (chain[0] !== this.module) chain.unshift(this.module);
    for (const s of chain) for (const [k, v] of s.vars) if (v.k === 'ref' && !v.self) out.set(k, v);
    return out;
  }

  private stmtChildren(n: PyNode, scope: Scope, cx: Cx): void {
    for (const c of n.children) if (c.named) this.stmt(c, scope, cx);
  }

  // ------------------------------------------------------------ imports

  private importStmt(n: PyNode, scope: Scope): void {
    for (const c of n.children) {
      if (c.field !== 'name') continue;
      if (c.type === 'aliased_import') {
        const name = fieldOf(c, 'name');
        const alias = fieldOf(c, 'alias');
        if (name && alias) this.setVar(scope, this.src(alias), { k: 'ref', q: canonical(this.dotted(name)) });
      } else {
        const dotted = this.dotted(c);
        const top = dotted.split('.')[0];
        this.setVar(scope, top, { k: 'ref', q: canonical(top) });
      }
    }
  }

  private dotted(n: PyNode): string {
    return this.src(n).replace(/\s+/g, '');
  }

  private importFrom(n: PyNode, scope: Scope): void {
    const modNode = fieldOf(n, 'module_name');
    const mod = modNode ? this.dotted(modNode) : '';
    for (const c of n.children) {
      if (c.type === 'wildcard_import') {
        if (!mod.startsWith('.')) this.starImports.push(canonical(mod));
        continue;
      }
      if (c.field !== 'name') continue;
      let name: string;
      let alias: string;
      if (c.type === 'aliased_import') {
        const nn = fieldOf(c, 'name');
        const an = fieldOf(c, 'alias');
        if (!nn || !an) continue;
        name = this.dotted(nn);
        alias = this.src(an);
      } else {
        name = this.dotted(c);
        alias = name.split('.')[0];
      }
      // Relative imports name the repo's own modules: unknown, not library code.
      const q = mod.startsWith('.') ? `${mod}${mod.endsWith('.') ? '' : '.'}${name}` : canonical(`${mod}.${name}`);
      this.setVar(scope, alias, { k: 'ref', q });
    }
  }

  // ------------------------------------------------------------ definitions

  private params(n: PyNode | undefined, scope: Scope, cx: Cx): ParamInfo[] {
    const out: ParamInfo[] = [];
    if (!n) return out;
    let kwonly = false;
    for (const p of n.children) {
      if (!p.named) {
        if (p.type === '*') kwonly = true;
        continue;
      }
      switch (p.type) {
        case 'identifier':
          out.push({ name: this.src(p), kind: kwonly ? 'kwonly' : 'pos' });
          break;
        case 'typed_parameter': {
          const id = namedChildren(p)[0];
          if (id?.type === 'identifier') out.push({ name: this.src(id), kind: kwonly ? 'kwonly' : 'pos' });
          else if (id?.type === 'list_splat_pattern') out.push({ name: this.src(id).replace(/^\*/, ''), kind: 'star' });
          else if (id?.type === 'dictionary_splat_pattern') out.push({ name: this.src(id).replace(/^\*\*/, ''), kind: 'kwstar' });
          break;
        }
        case 'default_parameter':
        case 'typed_default_parameter': {
          const name = fieldOf(p, 'name');
          const value = fieldOf(p, 'value');
          // Defaults are evaluated where the function is defined (at import time for top-level functions).
          const def = value ? this.ev(value, scope, cx) : UNK;
          if (name) out.push({ name: this.src(name), kind: kwonly ? 'kwonly' : 'pos', def });
          break;
        }
        case 'list_splat_pattern':
          kwonly = true;
          out.push({ name: this.src(p).replace(/^\*/, ''), kind: 'star' });
          break;
        case 'dictionary_splat_pattern':
          out.push({ name: this.src(p).replace(/^\*\*/, ''), kind: 'kwstar' });
          break;
        case 'keyword_separator':
          kwonly = true;
          break;
        default:
          break;
      }
    }
    return out;
  }

  private defineFunction(n: PyNode, scope: Scope, cx: Cx, decorators: string[]): void {
    const nameNode = fieldOf(n, 'name');
    const name = nameNode ? this.src(nameNode) : '<function>';
    const fn: FuncInfo = {
      node: n,
      name,
      params: this.params(fieldOf(n, 'parameters'), scope, cx),
      scope: scope.isClass ? (scope.parent ?? this.module) : scope,
      isLambda: false,
      genericDone: false,
      memo: new Map(),
      line: this.line(n.start),
    };
    if (decorators.includes('staticmethod')) fn.isStatic = true;
    // A nested def is re-created each time its outer function is evaluated; analyse its body once on its own.
    if (!this.defined.has(n)) {
      this.defined.add(n);
      this.funcs.push(fn);
    }
    const val: Val = { k: 'func', fn };
    if (scope.isClass) (scope as Scope & { cdef?: ClassInfo }).cdef?.methods.set(name, fn);
    if (scope.isClass) fn.cls = (scope as Scope & { cdef?: ClassInfo }).cdef;
    this.setVar(scope, name, val);
  }

  private defineClass(n: PyNode, scope: Scope, cx: Cx): void {
    const nameNode = fieldOf(n, 'name');
    const name = nameNode ? this.src(nameNode) : '<class>';
    const bases: Val[] = [];
    const sup = fieldOf(n, 'superclasses');
    if (sup) for (const b of namedChildren(sup)) bases.push(this.ev(b.type === 'keyword_argument' ? (fieldOf(b, 'value') ?? b) : b, scope, cx));
    const cdef: ClassInfo = {
      name,
      node: n,
      bases,
      methods: new Map(),
      attrs: new Map(),
      instance: { k: 'obj', cls: `<local>.${name}`, props: new Map() },
    };
    cdef.instance.cdef = cdef;
    this.setVar(scope, name, { k: 'class', cdef });
    const body = fieldOf(n, 'body');
    const cscope: Scope & { cdef?: ClassInfo } = { vars: cdef.attrs, parent: scope, isClass: true, cdef };
    // Class bodies run at import time, like the module's top level.
    if (body) this.stmt(body, cscope, cx);
  }

  // ------------------------------------------------------------ variables

  private setVar(scope: Scope, name: string, v: Val): void {
    if (scope.globals?.has(name)) this.module.vars.set(name, v);
    else scope.vars.set(name, v);
  }

  private lookup(name: string, scope: Scope): Val {
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      if (s.isClass && s !== scope) continue;
      const v = s.vars.get(name);
      if (v) return v;
    }
    const m = this.module.vars.get(name);
    if (m) return m;
    if (name === '__builtins__' || name === '__builtin__' || name === 'builtins') return { k: 'ref', q: 'builtins' };
    if (name === '__name__') return str('__main__');
    // The module's own path: paths built from it (os.path.dirname(__file__)) name files of the repository.
    if (name === '__file__') return str('./__file__');
    for (const mod of this.starImports) if (STAR_EXPORTS[mod]?.includes(name)) return { k: 'ref', q: `${mod}.${name}` };
    if (BUILTIN_NAMES.has(name)) return { k: 'ref', q: `builtins.${name}` };
    return UNK;
  }

  /** Binds an assignment target; taints gain a path step naming the variable. */
  private bind(target: PyNode, v: Val, scope: Scope, cx: Cx): void {
    switch (target.type) {
      case 'identifier': {
        const name = this.src(target);
        this.setVar(scope, name, this.step(v, `${name} = … (line ${this.line(target.start)})`));
        return;
      }
      case 'pattern_list':
      case 'tuple_pattern':
      case 'list_pattern':
      case 'expression_list':
      case 'tuple':
      case 'list': {
        const targets = namedChildren(target);
        const items = v.k === 'seq' ? v.items : undefined;
        targets.forEach((t, i) => {
          if (t.type === 'list_splat_pattern' || t.type === 'list_splat') {
            const inner = namedChildren(t)[0];
            if (inner) this.bind(inner, items ? { k: 'seq', kind: 'list', items: items.slice(i) } : this.elementOf(v), scope, cx);
          } else this.bind(t, items?.[i] ?? this.elementOf(v), scope, cx);
        });
        return;
      }
      case 'parenthesized_expression':
      case 'as_pattern_target': {
        const inner = namedChildren(target)[0];
        if (inner) this.bind(inner, v, scope, cx);
        return;
      }
      case 'attribute': {
        const obj = fieldOf(target, 'object');
        const attr = fieldOf(target, 'attribute');
        if (!obj || !attr) return;
        const o = this.ev(obj, scope, cx);
        const name = this.src(attr);
        if (o.k === 'obj') {
          const prev = o.props.get(name);
          o.props.set(name, prev && prev.k !== 'none' && !(prev.k === 'unk' && !prev.t) ? join(prev, v) : v);
        } else if (o.k === 'class') o.cdef.attrs.set(name, v);
        return;
      }
      case 'subscript': {
        const base = fieldOf(target, 'value');
        if (!base) return;
        const o = this.ev(base, scope, cx);
        const key = fieldOf(target, 'subscript');
        const k = key ? this.ev(key, scope, cx) : UNK;
        if (o.k === 'dict') dictSet(o, k, v);
        else if (o.k === 'seq' && k.k === 'num' && Number.isInteger(k.v) && o.items.length > 0) {
          const i = k.v < 0 ? o.items.length + k.v : k.v;
          if (i >= 0 && i < o.items.length) o.items[i] = v;
          if (v.t?.length) o.t = mergeTaints(o.t, v.t);
        } else if (o.k === 'seq' && v.t?.length) o.t = mergeTaints(o.t, v.t); else if (o.k === 'obj' && taintsDeep(v)) {
          o.t = mergeTaints(o.t, taintsDeep(v));
        }
        return;
      }
      default:
        for (const c of namedChildren(target)) if (c.type === 'identifier') this.bind(c, this.elementOf(v), scope, cx);
    }
  }

  /** Adds a path step to every taint of a value (bounded). */
  private step(v: Val, note: string): Val {
    if (!v.t?.length) return v;
    const t = v.t.map((x) => {
      if (x.path[x.path.length - 1] === note) return x;
      const path = x.path.length >= MAX_PATH ? [...x.path.slice(0, 3), '…', ...x.path.slice(-3), note] : [...x.path, note];
      return { ...x, path };
    });
    return { ...v, t } as Val;
  }

  // ------------------------------------------------------------ expressions

  ev(n: PyNode, scope: Scope, cx: Cx): Val {
    if (!this.tick()) return UNK;
    if (this.exprDepth > 400) {
      this.truncated = true;
      return UNK;
    }
    this.exprDepth++;
    try {
      return this.evInner(n, scope, cx);
    } finally {
      this.exprDepth--;
    }
  }

  private evInner(n: PyNode, scope: Scope, cx: Cx): Val {
    switch (n.type) {
      case 'identifier':
        return this.lookup(this.src(n), scope);
      case 'string':
        return this.stringLiteral(n, scope, cx);
      case 'concatenated_string': {
        let acc: Val | undefined;
        for (const c of namedChildren(n)) {
          const v = this.stringLiteral(c, scope, cx);
          acc = acc ? this.binop('+', acc, v) : v;
        }
        if (acc && (acc.k === 'str' || acc.k === 'bytes')) return { ...acc, lit: true } as Val;
        return acc ?? UNK;
      }
      case 'integer':
        return this.intLiteral(this.src(n));
      case 'float': {
        const f = Number(this.src(n).replace(/_/g, ''));
        return Number.isFinite(f) ? { k: 'num', v: f } : UNK;
      }
      case 'true':
        return { k: 'bool', v: true };
      case 'false':
        return { k: 'bool', v: false };
      case 'none':
      case 'ellipsis':
        return { k: 'none' };
      case 'parenthesized_expression': {
        const inner = namedChildren(n);
        return inner.length ? this.ev(inner[inner.length - 1], scope, cx) : UNK;
      }
      case 'attribute': {
        const obj = fieldOf(n, 'object');
        const attr = fieldOf(n, 'attribute');
        if (!obj || !attr) return this.evChildren(n, scope, cx);
        return this.getAttr(this.ev(obj, scope, cx), this.src(attr), n, false);
      }
      case 'subscript': {
        const base = fieldOf(n, 'value');
        const subs = n.children.filter((c) => c.field === 'subscript');
        if (!base) return this.evChildren(n, scope, cx);
        const b = this.ev(base, scope, cx);
        if (subs.length !== 1) {
          for (const s of subs) this.ev(s, scope, cx);
          return unk(taintsDeep(b));
        }
        return this.subscript(b, subs[0], scope, cx);
      }
      case 'call':
        return this.call(n, scope, cx);
      case 'binary_operator': {
        const l = fieldOf(n, 'left');
        const r = fieldOf(n, 'right');
        const op = fieldOf(n, 'operator');
        if (!l || !r || !op) return this.evChildren(n, scope, cx);
        return this.binop(op.type, this.ev(l, scope, cx), this.ev(r, scope, cx));
      }
      case 'unary_operator': {
        const a = fieldOf(n, 'argument');
        const op = fieldOf(n, 'operator');
        const v = a ? this.ev(a, scope, cx) : UNK;
        if (v.k === 'num' && op) {
          if (op.type === '-') return { k: 'num', v: -v.v };
          if (op.type === '+') return v;
          if (op.type === '~' && Number.isInteger(v.v)) return { k: 'num', v: ~v.v };
        }
        return unk(taintsDeep(v));
      }
      case 'not_operator': {
        const a = namedChildren(n)[0];
        const v = a ? this.ev(a, scope, cx) : UNK;
        const t = truthy(v);
        return t === undefined ? unk() : { k: 'bool', v: !t };
      }
      case 'boolean_operator': {
        const l = fieldOf(n, 'left');
        const r = fieldOf(n, 'right');
        const op = fieldOf(n, 'operator');
        const lv = l ? this.ev(l, scope, cx) : UNK;
        const rv = r ? this.ev(r, scope, cx) : UNK;
        const t = truthy(lv);
        if (op?.type === 'or') return t === true ? lv : t === false ? rv : join(lv, rv);
        return t === false ? lv : t === true ? rv : join(lv, rv);
      }
      case 'comparison_operator': {
        const vals = namedChildren(n).map((c) => this.ev(c, scope, cx));
        return unk(mergeTaints(...vals.map((v) => v.t)));
      }
      case 'conditional_expression': {
        const parts = namedChildren(n);
        const vals = parts.map((c) => this.ev(c, scope, cx));
        if (vals.length === 3) {
          const t = truthy(vals[1]);
          return t === true ? vals[0] : t === false ? vals[2] : join(vals[0], vals[2]);
        }
        return UNK;
      }
      case 'tuple':
      case 'expression_list':
      case 'list':
      case 'set':
      case 'pattern_list': {
        const items: Val[] = [];
        for (const c of namedChildren(n)) {
          if (c.type === 'list_splat') {
            const inner = namedChildren(c)[0];
            const v = inner ? this.ev(inner, scope, cx) : UNK;
            const its = this.iterItems(v, 10_000);
            if (its) items.push(...its);
            else items.push(unk(taintsDeep(v)));
          } else items.push(this.ev(c, scope, cx));
        }
        return { k: 'seq', kind: n.type === 'list' ? 'list' : n.type === 'set' ? 'set' : 'tuple', items };
      }
      case 'dictionary': {
        const keys: Val[] = [];
        const vals: Val[] = [];
        let t: Taint[] | undefined;
        for (const c of namedChildren(n)) {
          if (c.type === 'pair') {
            const k = fieldOf(c, 'key');
            const v = fieldOf(c, 'value');
            keys.push(k ? this.ev(k, scope, cx) : UNK);
            vals.push(v ? this.ev(v, scope, cx) : UNK);
          } else if (c.type === 'dictionary_splat') {
            const inner = namedChildren(c)[0];
            const v = inner ? this.ev(inner, scope, cx) : UNK;
            if (v.k === 'dict') {
              keys.push(...v.keys);
              vals.push(...v.vals);
            } else t = mergeTaints(t, taintsDeep(v));
          } else this.ev(c, scope, cx);
        }
        const d: Val = { k: 'dict', keys, vals };
        if (t) d.t = t;
        return d;
      }
      case 'list_comprehension':
      case 'set_comprehension':
      case 'generator_expression':
      case 'dictionary_comprehension':
        return this.comprehension(n, scope, cx);
      case 'lambda': {
        const fn: FuncInfo = {
          node: n,
          name: '<lambda>',
          params: this.params(fieldOf(n, 'parameters'), scope, cx),
          scope,
          isLambda: true,
          genericDone: false,
          memo: new Map(),
          line: this.line(n.start),
        };
        // Lambdas handed to frameworks (callbacks, atexit) run later: their bodies are analysed once on their own too.
        if (!this.defined.has(n)) {
          this.defined.add(n);
          this.funcs.push(fn);
        }
        return { k: 'func', fn };
      }
      case 'named_expression': {
        const name = fieldOf(n, 'name');
        const value = fieldOf(n, 'value');
        const v = value ? this.ev(value, scope, cx) : UNK;
        if (name) this.bind(name, v, scope, cx);
        return v;
      }
      case 'assignment': {
        const left = fieldOf(n, 'left');
        const right = fieldOf(n, 'right');
        const v = right ? this.ev(right, scope, cx) : UNK;
        if (left && right) this.bind(left, v, scope, cx);
        return v;
      }
      case 'augmented_assignment': {
        const left = fieldOf(n, 'left');
        const right = fieldOf(n, 'right');
        const op = fieldOf(n, 'operator');
        if (!left || !right) return UNK;
        const cur = this.ev(left, scope, cx);
        const v = this.binop(op ? op.type.replace(/=$/, '') : '+', cur, this.ev(right, scope, cx));
        // In-place += on a list keeps the same object (parts += [...]).
        if (cur.k === 'seq' && v.k === 'seq') {
          cur.items.splice(0, cur.items.length, ...v.items);
          return cur;
        }
        this.bind(left, v, scope, cx);
        return v;
      }
      case 'await':
      case 'yield':
      case 'keyword_argument':
      case 'list_splat':
      case 'dictionary_splat':
      case 'as_pattern':
        return this.evChildren(n, scope, cx);
      case 'print_statement':
        this.stmt(n, scope, cx);
        return UNK;
      default:
        return this.evChildren(n, scope, cx);
    }
  }

  /** Evaluates every named child (side effects: nested calls) and returns an unknown carrying their taint. */
  private evChildren(n: PyNode, scope: Scope, cx: Cx): Val {
    let t: Taint[] | undefined;
    let last: Val = UNK;
    for (const c of n.children) {
      if (!c.named || c.type === 'comment') continue;
      if (EXPRESSION_TYPES.has(c.type)) {
        last = this.ev(c, scope, cx);
        t = mergeTaints(t, taintsDeep(last));
      } else if (c.type === 'ERROR' || c.type === 'block') this.stmt(c, scope, cx);
      else this.evChildren(c, scope, cx);
    }
    return n.type === 'keyword_argument' || n.type === 'await' ? last : unk(t);
  }

  private intLiteral(s: string): Val {
    const t = s.replace(/_/g, '').replace(/[lL]$/, '');
    let v: number;
    if (/^0[xX]/.test(t)) v = parseInt(t.slice(2), 16);
    else if (/^0[oO]/.test(t)) v = parseInt(t.slice(2), 8);
    else if (/^0[bB]/.test(t)) v = parseInt(t.slice(2), 2);
    else if (/^0\d+$/.test(t)) v = parseInt(t, 8); // Python 2 octal
    else if (/[jJ]$/.test(t)) return UNK;
    else v = Number(t);
    return Number.isFinite(v) ? { k: 'num', v } : UNK;
  }

  private stringLiteral(n: PyNode, scope: Scope, cx: Cx): Val {
    if (n.type !== 'string') return this.ev(n, scope, cx);
    const startTok = n.children.find((c) => c.type === 'string_start');
    const prefix = parsePrefix(startTok ? this.src(startTok) : '"');
    if (startTok && this.src(startTok).startsWith('`')) {
      // Python 2 backticks: repr() of an expression, which runs; the expression is analysed as code.
      const inner = n.children.filter((c) => c.type === 'string_content').map((c) => this.src(c)).join('');
      if (inner.trim() && (this.opts.depth ?? 0) < MAX_NESTING)
        this.nested.push({ code: inner, start: n.start, end: n.end, importTime: cx.importTime, note: `in a Python 2 backtick expression at line ${this.line(n.start)}`, via: cx.via, env: this.refEnv(scope) });
      return unk();
    }
    let out = '';
    let known = true;
    let t: Taint[] | undefined;
    let obf: string[] | undefined;
    let escapes = 0;
    for (const c of n.children) {
      if (c.type === 'string_content') {
        const raw = this.src(c);
        if (!prefix.raw) escapes += (raw.match(/\\(x[0-9a-fA-F]{2}|[0-7]{3}|u[0-9a-fA-F]{4})/g) ?? []).length;
        const body = prefix.format ? raw.replace(/\{\{/g, '{').replace(/\}\}/g, '}') : raw;
        out += decodeEscapes(body, prefix);
      } else if (c.type === 'interpolation') {
        const e = fieldOf(c, 'expression');
        const v = e ? this.ev(e, scope, cx) : UNK;
        const conv = fieldOf(c, 'type_conversion');
        const spec = fieldOf(c, 'format_specifier');
        const s = this.formatValue(v, conv ? this.src(conv).slice(1) : undefined, spec ? this.src(spec).slice(1) : '');
        if (s === undefined) {
          known = false;
          out += '…';
        } else out += s;
        t = mergeTaints(t, taintsDeep(v));
        obf = mergeObf(obf, v.obf);
      }
    }
    // Letters spelled as \x escapes in a text literal hide names from greps.
    if (escapes >= 4 && /[A-Za-z]{3}/.test(out)) obf = mergeObf(obf, ['escaped characters']);
    if (looksPacked(out)) obf = mergeObf(obf, ['long high-entropy literal']);
    if (!known) return unk(t, obf, out);
    if (out.length > MAX_STR) return unk(t, obf);
    if (prefix.bytes) return bytesVal(Buffer.from(out, 'latin1'), { t, obf, lit: !prefix.format });
    const v = str(out, { t, obf });
    if (!prefix.format) (v as { lit?: boolean }).lit = true;
    return v;
  }

  /** str()/format() of a folded value; undefined when unknown. */
  private formatValue(v: Val, conv: string | undefined, spec: string): string | undefined {
    let s: string | undefined;
    if (conv === 'r' || conv === 'a') s = v.k === 'str' ? pyRepr(v.v, false, 1e9) : v.k === 'num' ? String(v.v) : undefined;
    else if (v.k === 'str') s = v.v;
    else if (v.k === 'num') {
      const m = /^(0?)(\d*)([xXobdc]?)$/.exec(spec);
      if (spec && m && Number.isInteger(v.v)) {
        const [, zero, width, type] = m;
        let body = type === 'x' ? v.v.toString(16) : type === 'X' ? v.v.toString(16).toUpperCase() : type === 'o' ? v.v.toString(8) : type === 'b' ? v.v.toString(2) : type === 'c' ? String.fromCodePoint(v.v & 0x1fffff) : String(v.v);
        if (width) body = body.padStart(Number(width), zero ? '0' : ' ');
        return body;
      }
      s = String(v.v);
    } else if (v.k === 'bool') s = v.v ? 'True' : 'False';
    else if (v.k === 'none') s = 'None';
    else if (v.k === 'bytes') s = pyRepr(v.v.toString('latin1'), true, 1e9);
    else if (v.k === 'unk' && v.approx !== undefined) return undefined;
    // Width and alignment specs on text are ignored: padding never hides a payload.
    return s;
  }

  // ------------------------------------------------------------ operators

  binop(op: string, l: Val, r: Val): Val {
    const t = mergeTaints(taintsDeep(l), taintsDeep(r));
    const obf = mergeObf(l.obf, r.obf);
    const keep = (v: Val): Val => withTaint(v, t, obf);
    if (op === '+') {
      if (l.k === 'str' && r.k === 'str') return l.v.length + r.v.length > MAX_STR ? unk(t, obf) : keep(str(l.v + r.v));
      if (l.k === 'bytes' && r.k === 'bytes') return keep(bytesVal(Buffer.concat([l.v, r.v])));
      if (l.k === 'num' && r.k === 'num') return keep({ k: 'num', v: l.v + r.v });
      if (l.k === 'seq' && r.k === 'seq') return keep({ k: 'seq', kind: l.kind, items: [...l.items, ...r.items] });
      const la = approxText(l);
      const ra = approxText(r);
      if ((l.k === 'str' || l.k === 'unk') && (r.k === 'str' || r.k === 'unk') && (la !== undefined || ra !== undefined))
        return unk(t, obf, (la ?? '…') + (ra ?? '…'));
      return unk(t, obf);
    }
    if (op === '%' && (l.k === 'str' || l.k === 'bytes')) {
      const s = this.percentFormat(textOf(l)!, r);
      if (s === undefined) return unk(t, obf, textOf(l));
      return keep(l.k === 'bytes' ? bytesVal(Buffer.from(s, 'latin1')) : str(s));
    }
    if (op === '*') {
      const [s, n] = l.k === 'num' ? [r, l] : [l, r];
      if (n.k === 'num' && Number.isInteger(n.v) && n.v >= 0) {
        if (s.k === 'str' && s.v.length * n.v <= MAX_STR) return keep(str(s.v.repeat(n.v)));
        if (s.k === 'seq' && s.items.length * n.v <= 100_000) return keep({ k: 'seq', kind: s.kind, items: Array.from({ length: n.v }, () => s.items).flat() });
      }
    }
    if (op === '/' && (l.k === 'str' || l.k === 'unk') && (r.k === 'str' || r.k === 'unk') && (l.k === 'str' || r.k === 'str')) {
      // pathlib: Path.home() / ".ssh" / "id_rsa" (paths are modelled as strings)
      const la = approxText(l) ?? '…';
      const ra = approxText(r) ?? '…';
      const joined = ra.startsWith('/') ? ra : `${la.replace(/\/+$/, '')}/${ra}`;
      return l.k === 'str' && r.k === 'str' ? keep(str(joined)) : unk(t, obf, joined);
    }
    if (l.k === 'num' && r.k === 'num') {
      const a = l.v;
      const b = r.v;
      const int32 = Number.isInteger(a) && Number.isInteger(b) && Math.abs(a) < 2 ** 31 && Math.abs(b) < 2 ** 31;
      let v: number | undefined;
      switch (op) {
        case '-':
          v = a - b;
          break;
        case '*':
          v = a * b;
          break;
        case '/':
          v = b === 0 ? undefined : a / b;
          break;
        case '//':
          v = b === 0 ? undefined : Math.floor(a / b);
          break;
        case '%':
          v = b === 0 ? undefined : ((a % b) + b) % b;
          break;
        case '**':
          v = Math.abs(b) < 64 ? a ** b : undefined;
          break;
        case '^':
          v = int32 ? a ^ b : undefined;
          break;
        case '&':
          v = int32 ? a & b : undefined;
          break;
        case '|':
          v = int32 ? a | b : undefined;
          break;
        case '<<':
          v = int32 && b < 31 && b >= 0 ? a * 2 ** b : undefined;
          break;
        case '>>':
          v = int32 && b >= 0 ? Math.floor(a / 2 ** b) : undefined;
          break;
      }
      if (v !== undefined && Number.isFinite(v)) return keep({ k: 'num', v });
    }
    return unk(t, obf);
  }

  private percentFormat(fmt: string, arg: Val): string | undefined {
    const args = arg.k === 'seq' && arg.kind === 'tuple' ? arg.items : [arg];
    let i = 0;
    let failed = false;
    const out = fmt.replace(/%(\(([^)]*)\))?([-+ #0]*)(\d*|\*)(\.\d+)?([sdirxXoc%fFeEgGab])/g, (_m, _p, key: string | undefined, flags: string, width: string, _prec, type: string) => {
      if (type === '%') return '%';
      let v: Val | undefined;
      if (key !== undefined && arg.k === 'dict') {
        const j = arg.keys.findIndex((k) => k.k === 'str' && k.v === key);
        v = j >= 0 ? arg.vals[j] : undefined;
      } else v = args[i++];
      if (!v) {
        failed = true;
        return '';
      }
      let s: string | undefined;
      if (type === 's' || type === 'a' || type === 'b') s = this.formatValue(v, undefined, '');
      else if (type === 'r') s = this.formatValue(v, 'r', '');
      else if (v.k === 'num') {
        if (type === 'x') s = Math.trunc(v.v).toString(16);
        else if (type === 'X') s = Math.trunc(v.v).toString(16).toUpperCase();
        else if (type === 'o') s = Math.trunc(v.v).toString(8);
        else if (type === 'c') s = String.fromCodePoint(Math.trunc(v.v) & 0x1fffff);
        else s = String(type === 'd' || type === 'i' ? Math.trunc(v.v) : v.v);
      } else if (type === 'c' && v.k === 'str') s = v.v;
      if (s === undefined) {
        failed = true;
        return '';
      }
      if (/^\d+$/.test(width)) s = s.padStart(Number(width), flags.includes('0') ? '0' : ' ');
      return s;
    });
    return failed ? undefined : out;
  }

  // ------------------------------------------------------------ attributes and items

  getAttr(o: Val, name: string, n: PyNode | undefined, computed: boolean): Val {
    const obfAdd = computed ? ['attribute fetched with getattr and a computed name'] : undefined;
    switch (o.k) {
      case 'ref': {
        const q = o.q;
        if (name === '__dict__') return { k: 'ref', q, dict: true, t: o.t, obf: mergeObf(o.obf, ['namespace __dict__ lookup']) };
        if (name === '__builtins__') return { k: 'ref', q: 'builtins', obf: mergeObf(o.obf, ['__builtins__ lookup']) };
        if (name === '__globals__' || name === 'func_globals') return { k: 'ref', q: '<module>', dict: true, obf: mergeObf(o.obf, ['function __globals__']) };
        if (/^__(class|base|bases|mro|subclasses|code|closure|getattribute|reduce|reduce_ex|loader|spec)__$/.test(name))
          return unk(o.t, mergeObf(o.obf, [`introspection through ${name}`]));
        const full = canonical(`${q}.${name}`);
        if (full === 'sys.executable') return str('python');
        if (full === 'site.USER_SITE') return unk(undefined, undefined, '~/.local/lib/python3/site-packages');
        if (full === 'os.sep' || full === 'os.path.sep') return str('/');
        if (full === 'os.environ' || full === 'os.environb') {
          return { k: 'ref', q: 'os.environ', t: [{ kind: 'env', what: 'os.environ', at: n?.start ?? 0, path: [], envAll: true }], obf: o.obf };
        }
        const s = STRING_CONSTANTS[full];
        if (s !== undefined) return str(s);
        return { k: 'ref', q: full, ...(o.self ? { self: o.self } : {}), t: o.t, obf: mergeObf(o.obf, interesting(full) ? obfAdd : undefined) };
      }
      case 'obj': {
        const p = o.props.get(name);
        if (p) return p;
        if (o.cdef) {
          const m = this.findMethod(o.cdef, name);
          if (m) return { k: 'func', fn: m, self: o };
          const a = this.findClassAttr(o.cdef, name);
          if (a) return a;
          return unk(o.t);
        }
        return { k: 'ref', q: `${o.cls}.${name}`, self: o, t: o.t, obf: mergeObf(o.obf, interesting(`${o.cls}.${name}`) ? obfAdd : undefined) };
      }
      case 'class': {
        const m = this.findMethod(o.cdef, name);
        if (m) return { k: 'func', fn: m };
        return this.findClassAttr(o.cdef, name) ?? UNK;
      }
      case 'str':
      case 'bytes':
        if (o.k === 'str' && name === 'parent') return str(o.v.replace(/\/+$/, '').replace(/\/[^/]*$/, '') || '.');
        if (o.k === 'str' && name === 'name') return str(o.v.replace(/\/+$/, '').split('/').pop() ?? '');
        return { k: 'ref', q: `${o.k}.${name}`, self: o, t: o.t, obf: o.obf };
      case 'seq':
        return { k: 'ref', q: `list.${name}`, self: o, t: o.t, obf: o.obf };
      case 'dict':
        return { k: 'ref', q: `dict.${name}`, self: o, t: o.t, obf: o.obf };
      case 'code':
        return unk(o.t, o.obf);
      case 'func':
        if (name === '__globals__' || name === 'func_globals') return { k: 'ref', q: '<module>', dict: true, obf: ['function __globals__'] };
        return unk(o.t, o.obf);
      default:
        // Unknown receivers still have method names worth knowing (dl_manager.download, r.text).
        return { k: 'ref', q: `?.${name}`, self: o, t: o.t, obf: o.obf };
    }
  }

  private findMethod(c: ClassInfo, name: string, depth = 0): FuncInfo | undefined {
    const m = c.methods.get(name);
    if (m || depth > 8) return m;
    for (const b of c.bases) if (b.k === 'class') {
      const r = this.findMethod(b.cdef, name, depth + 1);
      if (r) return r;
    }
    return undefined;
  }

  private findClassAttr(c: ClassInfo, name: string, depth = 0): Val | undefined {
    const a = c.attrs.get(name);
    if (a || depth > 8) return a;
    for (const b of c.bases) if (b.k === 'class') {
      const r = this.findClassAttr(b.cdef, name, depth + 1);
      if (r) return r;
    }
    return undefined;
  }

  private subscript(b: Val, s: PyNode, scope: Scope, cx: Cx): Val {
    if (s.type === 'slice') {
      const parts: (Val | undefined)[] = [undefined, undefined, undefined];
      let idx = 0;
      for (const c of s.children) {
        if (!c.named && c.type === ':') idx++;
        else if (c.named && idx < 3) parts[idx] = this.ev(c, scope, cx);
      }
      return this.slice(b, parts);
    }
    const k = this.ev(s, scope, cx);
    return this.item(b, k, s);
  }

  item(b: Val, k: Val, at?: PyNode): Val {
    const t = mergeTaints(b.t, k.t);
    if ((b.k === 'str' || b.k === 'bytes') && k.k === 'num' && Number.isInteger(k.v)) {
      const len = b.k === 'str' ? b.v.length : b.v.length;
      const i = k.v < 0 ? len + k.v : k.v;
      if (i < 0 || i >= len) return unk(t);
      return withTaint(b.k === 'str' ? str(b.v[i]) : { k: 'num', v: b.v[i] }, t, b.obf);
    }
    if (b.k === 'seq' && k.k === 'num' && Number.isInteger(k.v)) {
      const i = k.v < 0 ? b.items.length + k.v : k.v;
      const v = b.items[i];
      return v ? withTaint(v, b.t) : unk(taintsDeep(b));
    }
    if (b.k === 'dict') {
      const i = dictFind(b, k);
      if (i >= 0) return withTaint(b.vals[i], b.t);
      return unk(taintsDeep(b));
    }
    if (b.k === 'ref' && k.k === 'str') {
      if (b.q === 'os.environ') return this.envVar(k.v, at);
      if (b.q === 'sys.modules') return { k: 'ref', q: canonical(k.v), obf: interesting(canonical(k.v)) ? ['module fetched from sys.modules'] : undefined };
      if (b.q === '<module>') {
        const v = k.v === '__builtins__' ? ({ k: 'ref', q: 'builtins' } as Val) : this.lookup(k.v, this.module);
        return withTaint(v, undefined, ['name fetched from globals()']);
      }
      if (b.dict || b.q === 'builtins')
        return { k: 'ref', q: canonical(`${b.q}.${k.v}`), t: b.t, obf: mergeObf(b.obf, [k.lit ? 'name fetched from a namespace dict' : 'name fetched from a namespace dict with a computed key']) };
    }
    if (b.k === 'ref' && b.q === 'os.environ') return this.envVar(undefined, at);
    return unk(mergeTaints(t, taintsDeep(b)));
  }

  private envVar(name: string | undefined, at?: PyNode): Val {
    if (name && HOME_VARS.has(name)) return str('~');
    return unk([{ kind: 'env', what: name ? `os.environ[${pyRepr(name)}]` : 'os.environ[…]', at: at?.start ?? 0, path: [], envName: name }]);
  }

  private slice(b: Val, parts: (Val | undefined)[]): Val {
    const num = (v: Val | undefined): number | undefined | null => (v === undefined || v.k === 'none' ? undefined : v.k === 'num' && Number.isInteger(v.v) ? v.v : null);
    const [a, z, st] = parts.map(num);
    const t = mergeTaints(b.t, ...parts.map((p) => p?.t));
    if (a === null || z === null || st === null || st === 0) return unk(mergeTaints(t, taintsDeep(b)), b.obf);
    const step = st ?? 1;
    const pick = <T,>(len: number, get: (i: number) => T): T[] => {
      const out: T[] = [];
      const norm = (x: number | undefined, dflt: number) => (x === undefined ? dflt : x < 0 ? Math.max(step < 0 ? -1 : 0, len + x) : Math.min(x, step < 0 ? len - 1 : len));
      if (step > 0) for (let i = norm(a, 0); i < norm(z, len); i += step) out.push(get(i));
      else for (let i = norm(a, len - 1); i > norm(z, -1); i += step) out.push(get(i));
      return out;
    };
    const rev = step < 0 ? ['reversed string ([::-1])'] : undefined;
    // UTF-16 units stand in for code points: close enough for folding (payloads are ASCII).
    if (b.k === 'str') return withTaint(str(pick(b.v.length, (i) => b.v[i]).join('')), t, mergeObf(b.obf, rev && b.v.length >= 3 ? rev : undefined));
    if (b.k === 'bytes') return withTaint(bytesVal(Buffer.from(pick(b.v.length, (i) => b.v[i]))), t, mergeObf(b.obf, rev));
    if (b.k === 'seq') return withTaint({ k: 'seq', kind: b.kind, items: pick(b.items.length, (i) => b.items[i]) }, t, mergeObf(b.obf, rev));
    return unk(mergeTaints(t, taintsDeep(b)), b.obf);
  }

  /** Items of a constant iterable (≤ max), or undefined. */
  private iterItems(v: Val, max: number): Val[] | undefined {
    if (v.k === 'seq') return v.items.length <= max ? v.items.map((i) => withTaint(i, v.t)) : undefined;
    if (v.k === 'str') return v.v.length <= max ? [...v.v].map((c) => withTaint(str(c), v.t, v.obf)) : undefined;
    if (v.k === 'bytes') return v.v.length <= max ? [...v.v].map((b) => withTaint({ k: 'num', v: b }, v.t, v.obf)) : undefined;
    if (v.k === 'dict') return v.keys.length <= max ? v.keys : undefined;
    return undefined;
  }

  private elementOf(v: Val): Val {
    if (v.k === 'seq' && v.items.length) return v.items.reduce<Val | undefined>((a, b) => join(a, b), undefined) ?? UNK;
    if (v.k === 'obj' && v.cls === 'socket.socket') return v;
    return unk(taintsDeep(v), v.obf);
  }

  private comprehension(n: PyNode, scope: Scope, cx: Cx): Val {
    const body = fieldOf(n, 'body');
    const clauses = n.children.filter((c) => c.type === 'for_in_clause' || c.type === 'if_clause');
    const inner: Scope = { vars: new Map(), parent: scope, fn: scope.fn };
    const results: Val[] = [];
    let exact = true;
    let count = 0;
    let taint: Taint[] | undefined;
    const run = (ci: number): void => {
      if (!exact || this.truncated) return;
      if (ci === clauses.length) {
        if (++count > MAX_ITER) {
          exact = false;
          return;
        }
        if (body?.type === 'pair') {
          const k = fieldOf(body, 'key');
          const v = fieldOf(body, 'value');
          results.push({ k: 'seq', kind: 'tuple', items: [k ? this.ev(k, inner, cx) : UNK, v ? this.ev(v, inner, cx) : UNK] });
        } else results.push(body ? this.ev(body, inner, cx) : UNK);
        return;
      }
      const c = clauses[ci];
      if (c.type === 'if_clause') {
        const cond = namedChildren(c)[0];
        const v = cond ? this.ev(cond, inner, cx) : UNK;
        const t = truthy(v);
        if (t === undefined) {
          // Filters on comparisons of constants fold; anything else makes the result inexact.
          const f = this.condFold(cond, inner, cx);
          if (f === undefined) exact = false;
          else if (f) run(ci + 1);
          return;
        }
        if (t) run(ci + 1);
        return;
      }
      const left = fieldOf(c, 'left');
      const right = fieldOf(c, 'right');
      const it = right ? this.ev(right, ci === 0 ? scope : inner, cx) : UNK;
      const items = this.iterItems(it, MAX_ITER) ?? this.rangeItems(it);
      if (!items || !left) {
        exact = false;
        taint = mergeTaints(taint, taintsDeep(it));
        if (left) this.bind(left, this.elementOf(it), inner, cx);
        if (body) results.push(this.ev(body, inner, cx));
        return;
      }
      for (const item of items) {
        this.bind(left, item, inner, cx);
        run(ci + 1);
        if (!exact) return;
      }
    };
    run(0);
    if (!exact) return unk(mergeTaints(taint, ...results.slice(0, 8).map((r) => taintsDeep(r))), mergeObf(...results.slice(0, 8).map((r) => obfDeep(r))));
    if (n.type === 'dictionary_comprehension')
      return { k: 'dict', keys: results.map((r) => (r.k === 'seq' ? r.items[0] : UNK)), vals: results.map((r) => (r.k === 'seq' ? r.items[1] : UNK)) };
    return { k: 'seq', kind: n.type === 'set_comprehension' ? 'set' : 'list', items: results };
  }

  /** Comparisons in comprehension filters that fold (c != ' '). */
  private condFold(cond: PyNode | undefined, scope: Scope, cx: Cx): boolean | undefined {
    if (!cond || cond.type !== 'comparison_operator') return undefined;
    const kids = cond.children;
    if (kids.length !== 3) return undefined;
    const a = this.ev(kids[0], scope, cx);
    const b = this.ev(kids[2], scope, cx);
    const op = kids[1].type;
    if (!(a.k === 'str' || a.k === 'num') || !(b.k === 'str' || b.k === 'num')) return undefined;
    const eq = constEqual(a, b);
    if (op === '==') return eq;
    if (op === '!=') return !eq;
    return undefined;
  }

  private rangeItems(v: Val): Val[] | undefined {
    if (v.k === 'obj' && v.cls === 'range') {
      const r = v.props.get('items');
      return r && r.k === 'seq' ? r.items : undefined;
    }
    return undefined;
  }

  // ------------------------------------------------------------ calls

  private call(n: PyNode, scope: Scope, cx: Cx): Val {
    const fnNode = fieldOf(n, 'function');
    const argsNode = fieldOf(n, 'arguments');
    const callee = fnNode ? this.ev(fnNode, scope, cx) : UNK;
    const pos: Val[] = [];
    const argNodes: ArgNodes = [];
    argNodes.kw = new Map();
    const kw = new Map<string, Val>();
    let splat: Taint[] | undefined;
    if (argsNode?.type === 'generator_expression') {
      pos.push(this.ev(argsNode, scope, cx));
      argNodes.push(argsNode);
    } else if (argsNode) {
      for (const a of argsNode.children) {
        if (!a.named || a.type === 'comment') continue;
        if (a.type === 'keyword_argument') {
          const name = fieldOf(a, 'name');
          const value = fieldOf(a, 'value');
          if (name) {
            kw.set(this.src(name), value ? this.ev(value, scope, cx) : UNK);
            if (value) argNodes.kw!.set(this.src(name), value);
          }
        } else if (a.type === 'list_splat') {
          const inner = namedChildren(a)[0];
          const v = inner ? this.ev(inner, scope, cx) : UNK;
          const items = this.iterItems(v, 64);
          if (items) {
            pos.push(...items);
            for (let i = 0; i < items.length; i++) argNodes.push(a);
          } else splat = mergeTaints(splat, taintsDeep(v));
        } else if (a.type === 'dictionary_splat') {
          const inner = namedChildren(a)[0];
          const v = inner ? this.ev(inner, scope, cx) : UNK;
          if (v.k === 'dict') v.keys.forEach((k, i) => k.k === 'str' && kw.set(k.v, v.vals[i]));
          else splat = mergeTaints(splat, taintsDeep(v));
        } else {
          pos.push(this.ev(a, scope, cx));
          argNodes.push(a);
        }
      }
    }
    if (splat) kw.set('**', unk(splat));
    const saved = this.curScope;
    this.curScope = scope;
    try {
      return this.apply(callee, pos, kw, n, cx, argNodes);
    } finally {
      this.curScope = saved;
    }
  }

  /** Calls a value: local functions are evaluated, library callables folded or judged. */
  apply(callee: Val, pos: Val[], kw: Map<string, Val>, n: PyNode, cx: Cx, argNodes: ArgNodes = []): Val {
    switch (callee.k) {
      case 'func':
        return this.invoke(callee.fn, callee.self, pos, kw, n, cx, false, callee.obf);
      case 'class': {
        const inst = callee.cdef.instance;
        const init = this.findMethod(callee.cdef, '__init__');
        if (init) this.invoke(init, inst, pos, kw, n, cx, false);
        return inst;
      }
      case 'ref':
        return this.callRef(callee, pos, kw, n, cx, argNodes);
      case 'code':
        return unk(callee.t);
      default: {
        const t = mergeTaints(taintsDeep(callee), ...pos.map((p) => taintsDeep(p)), ...[...kw.values()].map((p) => taintsDeep(p)));
        return unk(t, callee.obf);
      }
    }
  }

  /** Evaluates a local function body with bound arguments (memoised per argument shape). */
  private invoke(fn: FuncInfo, self: Val | undefined, pos: Val[], kw: Map<string, Val>, n: PyNode | undefined, cx: Cx, generic: boolean, calleeObf?: string[]): Val {
    if (this.callStack.includes(fn) || this.callStack.length >= MAX_CALL_DEPTH || this.truncated) {
      const t = mergeTaints(...pos.map((p) => taintsDeep(p)), ...[...kw.values()].map((p) => taintsDeep(p)));
      return unk(t);
    }
    const args = self && !fn.isLambda && !fn.isStatic ? [self, ...pos] : pos;
    const key = generic ? 'generic' : `${cx.importTime ? 'I' : 'F'}|${args.map(sig).join(',')}|${[...kw].map(([k, v]) => `${k}=${sig(v)}`).join(',')}`;
    const memo = fn.memo.get(key);
    if (memo) return memo;
    if (!generic && !cx.importTime && fn.memo.size >= MAX_MEMO) return fn.genericDone ? (fn.genericReturn ?? UNK) : this.generic(fn);
    fn.memo.set(key, UNK); // provisional, for recursion through other paths
    const scope: Scope = { vars: new Map(), parent: fn.scope, fn };
    const site = n ? ` (line ${this.line(n.start)})` : '';
    const note = (p: string) => `${p} ← argument of ${fn.name}()${site}`;
    let i = 0;
    const extra: Val[] = [];
    for (const p of fn.params) {
      if (p.kind === 'pos') {
        const v = i < args.length ? args[i++] : kw.get(p.name) ?? p.def ?? UNK;
        scope.vars.set(p.name, this.step(v, note(p.name)));
      } else if (p.kind === 'kwonly') scope.vars.set(p.name, this.step(kw.get(p.name) ?? p.def ?? UNK, note(p.name)));
      else if (p.kind === 'star') {
        while (i < args.length) extra.push(args[i++]);
        scope.vars.set(p.name, { k: 'seq', kind: 'tuple', items: extra });
      } else scope.vars.set(p.name, { k: 'dict', keys: [], vals: [], t: mergeTaints(...[...kw.values()].map((v) => taintsDeep(v))) });
    }
    const returns: Val[] = [];
    const inner: Cx = {
      importTime: cx.importTime,
      via: n && !generic ? [...cx.via, `${fn.name}() called at line ${this.line(n.start)}`].slice(-4) : cx.via,
      returns,
      depth: cx.depth + 1,
    };
    this.callStack.push(fn);
    try {
      if (fn.isLambda) {
        const body = fieldOf(fn.node, 'body');
        if (body) returns.push(this.ev(body, scope, inner));
      } else {
        const body = fieldOf(fn.node, 'body');
        if (body) this.stmt(body, scope, inner);
      }
    } finally {
      this.callStack.pop();
    }
    let ret: Val = returns.length ? returns.reduce<Val | undefined>((a, b) => join(a, b), undefined)! : { k: 'none' };
    if (fn.isLambda && (args.some((a) => a.k === 'ref' && /^(builtins|os|subprocess)\b/.test(a.q)) || (ret.k === 'ref' && /^(builtins|os|subprocess)\b/.test(ret.q))))
      ret = withTaint(ret, undefined, ['lambda indirection over builtins/os']);
    if (calleeObf) ret = withTaint(ret, undefined, calleeObf);
    fn.memo.set(key, ret);
    return ret;
  }

  // ------------------------------------------------------------ library calls

  private callRef(callee: Val & { k: 'ref' }, pos: Val[], kw: Map<string, Val>, n: PyNode, cx: Cx, argNodes: ArgNodes): Val {
    const q = callee.q;
    const self = callee.self;
    const allT = () => mergeTaints(taintsDeep(callee), ...pos.map((p) => taintsDeep(p)), ...[...kw.values()].map((p) => taintsDeep(p)));
    const allObf = () => mergeObf(callee.obf, ...pos.map((p) => obfDeep(p)), ...[...kw.values()].map((p) => obfDeep(p)));

    // Methods on constants: 'ex'.join(...), b'...'.decode(), parts.append(...)
    if (self && (self.k === 'str' || self.k === 'bytes' || self.k === 'seq' || self.k === 'dict')) {
      const r = this.constMethod(last(q), self, pos, kw, n, cx);
      if (r) return r;
    }
    const folded = this.foldCall(q, callee, pos, kw, n, cx, argNodes);
    if (folded) return folded;

    // Code from another repository, loaded and run: trust_remote_code=True, torch.hub.load of a GitHub repo.
    const trc = kw.get('trust_remote_code');
    if ((trc && truthy(trc) === true) || (q === 'torch.hub.load' && textOrUndef(kw.get('source')) !== 'local')) {
      const repo = pos[0] ? approxText(pos[0]) : undefined;
      this.emit('remote-load', q, callee, pos, kw, n, cx, argNodes, { text: repo, dataArgs: pos.slice(0, 1) });
    }
    const spec = SINKS[q];
    if (spec) {
      const r = this.sink(q, spec, callee, pos, kw, n, cx, argNodes);
      if (r) return r;
    }
    const name = last(q);
    // Code handed to a thread, timer, process or exit hook runs as if called here.
    const deferred = DEFERRED_CALLS[q];
    if (deferred) {
      const target = kw.get(deferred.kw) ?? pos[deferred.pos];
      if (target && (target.k === 'func' || target.k === 'ref')) {
        const args = kw.get('args') ?? (deferred.argsFrom !== undefined ? ({ k: 'seq', kind: 'tuple', items: pos.slice(deferred.argsFrom) } as Val) : undefined);
        const items = args?.k === 'seq' ? args.items : [];
        this.apply(target, items, new Map(), n, cx);
      }
    }
    if (self?.k === 'obj' && self.cls === 'file' && (name === 'write' || name === 'writelines')) {
      if (pos[0]) this.noteWrite(self, pos[0]);
      return UNK;
    }
    if (NETWORK_SOURCES.has(q)) {
      const url = this.argText(pos, kw, q.startsWith('requests.request') || q.endsWith('.request') ? [1, 'url'] : [0, 'url']);
      const host = url ? hostOf(url) : self?.k === 'obj' ? (textOrUndef(self.props.get('host'))) : undefined;
      return unk(mergeTaints([{ kind: 'network', what: this.renderCall(q, pos, kw, argNodes), at: n.start, path: [], host }], allT()), allObf());
    }
    if (DOWNLOAD_TO_FILE.has(name) && (q.startsWith('?.') || !q.includes('.') || /download|hub|urllib|gdown|wget|datasets|torchvision|cached_path/.test(q))) {
      const url = this.argText(pos, kw, [0, 'url', 'url_or_urls', 'repo_id']);
      return unk(mergeTaints([{ kind: 'netfile', what: this.renderCall(q.replace(/^\?\./, '….'), pos, kw, argNodes), at: n.start, path: [], host: url ? hostOf(url) : undefined }], allT()));
    }
    if (SYSINFO_SOURCES.has(q)) return unk(mergeTaints([{ kind: 'sysinfo', what: `${q}()`, at: n.start, path: [] }], allT()));
    if (SECRET_SOURCES.has(q)) {
      this.emit('credential-read', q, callee, pos, kw, n, cx, argNodes, { text: q, pathWhat: q.startsWith('browser') ? 'browser cookies' : 'stored secrets' });
      return unk([{ kind: 'secret', what: `${q}()`, at: n.start, path: [] }]);
    }
    // Unknown library call: its result carries its inputs' taint (how the callee was found is not the data's business).
    return unk(allT());
  }

  /** Calls with a known, side-effect-free meaning: folded to a value. */
  private foldCall(q: string, callee: Val & { k: 'ref' }, pos: Val[], kw: Map<string, Val>, n: PyNode, cx: Cx, argNodes: ArgNodes): Val | undefined {
    const a0 = pos[0];
    const t = () => mergeTaints(...pos.map((p) => taintsDeep(p)), ...[...kw.values()].map((p) => taintsDeep(p)), callee.t);
    const ob = () => mergeObf(callee.obf, ...pos.map((p) => p.obf));
    switch (q) {
      case 'builtins.chr':
      case 'builtins.unichr':
        if (a0?.k === 'num' && Number.isInteger(a0.v) && a0.v >= 0 && a0.v <= 0x10ffff) return str(String.fromCodePoint(a0.v), { t: a0.t, obf: mergeObf(a0.obf, ['chr() character building']) });
        return unk(t(), mergeObf(ob(), ['chr() character building']));
      case 'builtins.ord':
        if (a0?.k === 'str' && a0.v.length >= 1) return { k: 'num', v: a0.v.codePointAt(0)! };
        if (a0?.k === 'bytes' && a0.v.length === 1) return { k: 'num', v: a0.v[0] };
        return unk(t());
      case 'builtins.str':
      case 'builtins.unicode': {
        if (!a0) return str('');
        const enc = pos[1] ?? kw.get('encoding');
        if (a0.k === 'bytes' && enc?.k === 'str') return this.decodeBytes(a0, enc.v, n);
        const s = this.formatValue(a0, undefined, '');
        return s !== undefined ? withTaint(str(s), a0.t, a0.obf) : unk(taintsDeep(a0), a0.obf, approxText(a0));
      }
      case 'builtins.repr':
        return a0?.k === 'str' ? str(pyRepr(a0.v, false, 1e9), { t: a0.t }) : unk(t());
      case 'builtins.bytes':
      case 'builtins.bytearray': {
        if (!a0) return bytesVal(Buffer.alloc(0));
        if (a0.k === 'str') {
          const enc = pos[1] ?? kw.get('encoding');
          return withTaint(bytesVal(encodeStr(a0.v, enc?.k === 'str' ? enc.v : 'utf-8')), a0.t, a0.obf);
        }
        if (a0.k === 'bytes') return a0;
        const items = this.iterItems(a0, MAX_DECODED);
        if (items && items.every((i) => i.k === 'num')) {
          const b = Buffer.from(items.map((i) => (i as { v: number }).v & 0xff));
          // Text spelled as integers hides it from greps; short binary constants (protocol bytes) do not.
          const hides = b.length >= 4 && printableText(b.toString('latin1'));
          return withTaint(bytesVal(b), taintsDeep(a0), mergeObf(obfDeep(a0), hides ? ['bytes built from integers'] : undefined));
        }
        return unk(taintsDeep(a0), obfDeep(a0));
      }
      case 'builtins.int': {
        const base = pos[1] ?? kw.get('base');
        if (a0?.k === 'str') {
          const b = base?.k === 'num' ? base.v : 10;
          const v = parseInt(a0.v.trim().replace(/^0[xob]/i, ''), b);
          return Number.isFinite(v) ? { k: 'num', v } : UNK;
        }
        if (a0?.k === 'num') return { k: 'num', v: Math.trunc(a0.v) };
        return unk(t());
      }
      case 'builtins.hex':
        return a0?.k === 'num' && Number.isInteger(a0.v) ? str((a0.v < 0 ? '-0x' : '0x') + Math.abs(a0.v).toString(16)) : unk(t());
      case 'builtins.len':
        if (a0?.k === 'str' || a0?.k === 'bytes') return { k: 'num', v: a0.v.length };
        if (a0?.k === 'seq') return { k: 'num', v: a0.items.length };
        return unk();
      case 'builtins.range': {
        const nums = pos.map((p) => (p.k === 'num' && Number.isInteger(p.v) ? p.v : undefined));
        if (nums.length && nums.every((x) => x !== undefined)) {
          const [s, e, st] = nums.length === 1 ? [0, nums[0]!, 1] : [nums[0]!, nums[1]!, nums[2] ?? 1];
          if (st !== 0 && Math.abs((e - s) / st) <= 100_000) {
            const items: Val[] = [];
            for (let i = s; st > 0 ? i < e : i > e; i += st) items.push({ k: 'num', v: i });
            return { k: 'obj', cls: 'range', props: new Map([['items', { k: 'seq', kind: 'list', items } as Val]]) };
          }
        }
        return unk();
      }
      case 'builtins.reversed':
        if (a0?.k === 'str') return withTaint(str([...a0.v].reverse().join('')), a0.t, mergeObf(a0.obf, a0.v.length >= 3 ? ['reversed string'] : undefined));
        if (a0?.k === 'seq') {
          const chars = a0.items.length >= 3 && a0.items.every((i) => i.k === 'str' && i.v.length <= 2);
          return withTaint({ k: 'seq', kind: 'list', items: [...a0.items].reverse() }, a0.t, mergeObf(a0.obf, chars ? ['reversed string'] : undefined));
        }
        return unk(t(), ob());
      case 'builtins.list':
      case 'builtins.tuple':
      case 'builtins.set':
      case 'builtins.sorted': {
        if (!a0) return { k: 'seq', kind: 'list', items: [] };
        const items = this.iterItems(a0, MAX_ITER) ?? this.rangeItems(a0);
        if (items) {
          const its = q === 'builtins.sorted' && items.every((i) => i.k === 'str' || i.k === 'num') ? [...items].sort((x, y) => String(textOf(x) ?? (x as { v: number }).v).localeCompare(String(textOf(y) ?? (y as { v: number }).v))) : items;
          return withTaint({ k: 'seq', kind: q === 'builtins.tuple' ? 'tuple' : 'list', items: its }, undefined, obfDeep(a0));
        }
        return unk(taintsDeep(a0), obfDeep(a0));
      }
      case 'builtins.dict':
        if (!a0) return { k: 'dict', keys: [...kw.keys()].map((k) => str(k)), vals: [...kw.values()] };
        if (a0.k === 'dict') return { ...a0, keys: [...a0.keys], vals: [...a0.vals] };
        return unk(taintsDeep(a0), a0.obf);
      case 'builtins.map': {
        const f = pos[0];
        const it = pos[1];
        const items = it ? (this.iterItems(it, MAX_ITER) ?? this.rangeItems(it)) : undefined;
        if (f && items && pos.length === 2) {
          const out: Val[] = [];
          for (const item of items) {
            if (this.truncated) return unk();
            out.push(this.apply(f, [item], new Map(), n, cx));
          }
          return { k: 'seq', kind: 'list', items: out, obf: f.obf };
        }
        return unk(t(), mergeObf(ob(), f?.k === 'ref' && f.q === 'builtins.chr' ? ['chr() character building'] : undefined));
      }
      case 'builtins.getattr': {
        const o = pos[0];
        const name = pos[1];
        if (o && name?.k === 'str') {
          const r = this.getAttr(o, name.v, n, !name.lit);
          // getattr with a literal name is ordinary Python; it only hides something when it yields a dangerous callable.
          return r.k === 'ref' && interesting(r.q) ? withTaint(r, undefined, mergeObf(name.obf, ['getattr() indirection'])) : r;
        }
        return unk(t(), mergeObf(ob(), ['getattr() with an unknown name']));
      }
      case 'builtins.vars':
        if (!a0) return { k: 'ref', q: '<module>', dict: true };
        if (a0.k === 'ref') return { k: 'ref', q: a0.q, dict: true, obf: interesting(a0.q) ? ['vars() namespace lookup'] : undefined };
        return unk(t());
      case 'builtins.globals':
      case 'builtins.locals':
        return { k: 'ref', q: '<module>', dict: true };
      case 'builtins.__import__':
      case 'importlib.import_module': {
        if (a0?.k === 'str') {
          const name = q === 'builtins.__import__' ? a0.v.split('.')[0] : a0.v;
          const fromlist = pos[3] ?? kw.get('fromlist');
          const full = q === 'builtins.__import__' && fromlist && truthy(fromlist) ? a0.v : name;
          const mod = canonical(full);
          return { k: 'ref', q: mod, obf: interesting(mod) ? mergeObf(callee.obf, a0.obf, [a0.lit ? 'dynamic import' : 'dynamic import of a computed name']) : undefined };
        }
        return unk(t(), mergeObf(ob(), ['dynamic import of an unknown name']));
      }
      case 'builtins.compile': {
        const src = pos[0] ?? kw.get('source');
        const mode = pos[2] ?? kw.get('mode');
        const text = src ? textOf(src) : undefined;
        const decodedSrc = src ? taintsDeep(src)?.some((x) => x.kind === 'decoded') : false;
        const obf = mergeObf(obfDeep(src ?? UNK), decodedSrc && mode?.k === 'str' && mode.v === 'exec' ? ['compile(..., "exec") of decoded data'] : undefined);
        if (src?.k === 'code') return src;
        if (text !== undefined) return { k: 'code', src: text, t: taintsDeep(src!), obf };
        const approx = src ? approxText(src) : undefined;
        return { k: 'code', t: src ? taintsDeep(src) : undefined, obf, ...(approx !== undefined ? { approx } : {}) };
      }
      case 'bytes.fromhex':
      case 'builtins.bytes.fromhex':
      case 'builtins.bytearray.fromhex':
      case 'binascii.unhexlify':
      case 'binascii.a2b_hex':
      case 'base64.b16decode':
        return this.decode(q, a0, (b) => hexdecode(b), n);
      case 'base64.b64decode':
      case 'base64.standard_b64decode':
      case 'base64.decodebytes':
      case 'base64.decodestring':
      case 'binascii.a2b_base64': {
        const alt = pos[1] ?? kw.get('altchars');
        return this.decode(q, a0, (b) => b64decode(b, alt ? textOf(alt) : undefined), n);
      }
      case 'base64.urlsafe_b64decode':
        return this.decode(q, a0, (b) => urlsafeB64decode(b), n);
      case 'base64.b32decode':
        return this.decode(q, a0, (b) => b32decode(b), n);
      case 'base64.b85decode':
        return this.decode(q, a0, (b) => b85decode(b), n);
      case 'base64.a85decode':
        return this.decode(q, a0, (b) => a85decode(b), n);
      case 'zlib.decompress': {
        const w = pos[1] ?? kw.get('wbits');
        return this.decode(q, a0, (b) => zlibDecompress(b, w?.k === 'num' ? w.v : undefined), n);
      }
      case 'gzip.decompress':
        return this.decode(q, a0, (b) => gzipDecompress(b), n);
      case 'bz2.decompress':
        return this.decode(q, a0, (b) => bz2Decompress(b), n);
      case 'lzma.decompress':
        // LZMA is not decoded here (no synchronous decoder); a literal still counts as a hidden payload.
        if (a0?.k === 'bytes' || a0?.k === 'str')
          return unk([{ kind: 'decoded', what: `lzma.decompress(${clip(render(a0), 60)})`, at: n.start, path: [], payload: '<lzma data, not decoded>' }], mergeObf(a0.obf, ['decoded literal (lzma, not decoded)']));
        return this.decode(q, undefined, () => Buffer.alloc(0), n, a0);
      case 'codecs.decode':
      case 'codecs.encode': {
        const enc = (pos[1] ?? kw.get('encoding'))?.k === 'str' ? textOf(pos[1] ?? kw.get('encoding')!)!.toLowerCase().replace(/-/g, '_') : 'utf_8';
        if (enc === 'rot13' || enc === 'rot_13') {
          if (a0?.k === 'str') return this.decodedText(q, str(rot13(a0.v)), a0, n, 'rot13');
          return unk(t(), mergeObf(ob(), ['rot13']));
        }
        if (q === 'codecs.encode') return a0?.k === 'str' ? bytesVal(encodeStr(a0.v, enc)) : unk(t());
        if (enc === 'hex' || enc === 'hex_codec') return this.decode(q, a0, (b) => hexdecode(b), n);
        if (enc === 'base64' || enc === 'base_64' || enc === 'base64_codec') return this.decode(q, a0, (b) => b64decode(b), n);
        if (enc === 'zlib' || enc === 'zip' || enc === 'zlib_codec') return this.decode(q, a0, (b) => zlibDecompress(b), n);
        if (enc === 'bz2' || enc === 'bz2_codec') return this.decode(q, a0, (b) => bz2Decompress(b), n);
        if (a0?.k === 'bytes') return this.decodeBytes(a0, enc, n);
        return unk(t(), ob());
      }
      // Where Python packages live: paths built on these are site-packages paths.
      case 'site.getsitepackages':
        return { k: 'seq', kind: 'list', items: [unk(undefined, undefined, '…/site-packages')] };
      case 'site.getusersitepackages':
        return unk(undefined, undefined, '~/.local/lib/python3/site-packages');
      case 'sysconfig.get_path':
      case 'distutils.sysconfig.get_python_lib':
        return unk(undefined, undefined, '…/site-packages');
      case 'sysconfig.get_paths':
        return { k: 'dict', keys: [str('purelib'), str('platlib')], vals: [unk(undefined, undefined, '…/site-packages'), unk(undefined, undefined, '…/site-packages')] };
      case 'textwrap.dedent':
      case 'inspect.cleandoc':
        if (a0?.k === 'str') return withTaint(str(q === 'textwrap.dedent' ? dedent(a0.v) : dedent(a0.v.replace(/^[^\n]*\n?/, (l) => (l.trim() ? l.trimStart() + '\n' : ''))).trim()), a0.t, a0.obf);
        return unk(t(), ob(), a0 ? approxText(a0) : undefined);
      case 'urllib.parse.unquote':
      case 'urllib.parse.unquote_plus':
      case 'urllib.unquote':
        if (a0?.k === 'str') return withTaint(str(unquote(a0.v, q.endsWith('plus'))), a0.t, a0.obf);
        return unk(t());
      case 'marshal.loads': {
        const data = pos[0];
        const info = data?.k === 'bytes' ? readMarshal(data.v) : undefined;
        this.emit('deserialize', q, callee, pos, kw, n, cx, argNodes, { marshal: info, bytes: data?.k === 'bytes' ? data.v : undefined });
        return { k: 'code', marshal: info, t: mergeTaints(data ? taintsDeep(data) : undefined, [{ kind: 'decoded', what: 'marshal.loads(…)', at: n.start, path: [] }]), obf: mergeObf(data?.obf, ['marshalled bytecode']) };
      }
      case 'os.path.expanduser':
      case 'os.path.abspath':
      case 'os.path.realpath':
      case 'os.path.normpath':
      case 'os.fspath':
      case 'pathlib.Path':
      case 'pathlib.PurePath':
      case 'pathlib.PosixPath':
      case 'pathlib.WindowsPath':
      case 'builtins.os.fspath': {
        if (q.startsWith('pathlib') && pos.length > 1) return this.pathJoin(pos);
        return a0 ?? str('.');
      }
      case 'os.path.expandvars':
        if (a0?.k === 'str') return withTaint(str(a0.v.replace(/\$\{?(HOME|USERPROFILE)\}?|%(USERPROFILE|APPDATA|LOCALAPPDATA)%/g, '~')), a0.t);
        return a0 ?? UNK;
      case 'os.path.join':
      case 'posixpath.join':
      case 'ntpath.join':
        return this.pathJoin(pos);
      case 'os.path.dirname':
        return a0?.k === 'str' ? str(a0.v.replace(/\/[^/]*$/, '')) : unk(t());
      case 'os.path.basename':
        return a0?.k === 'str' ? str(a0.v.split('/').pop() ?? '') : unk(t());
      case 'pathlib.Path.home':
      case 'os.path.expanduser.home':
        return str('~');
      case 'pathlib.Path.cwd':
      case 'os.getcwd':
        return unk(undefined, undefined, '.');
      case 'os.getenv':
      case 'os.environ.get':
      case 'os.getenvb': {
        const name = a0?.k === 'str' ? a0.v : undefined;
        if (name && HOME_VARS.has(name)) return str('~');
        return unk([{ kind: 'env', what: `${q}(${a0 ? render(a0) : ''})`, at: n.start, path: [], envName: name }]);
      }
      case 'os.environ.copy':
      case 'os.environ.items':
      case 'os.environ.values':
      case 'os.environ.keys':
      case 'os.environ.__str__':
        return unk([{ kind: 'env', what: `${q}()`, at: n.start, path: [], envAll: true }]);
      case 'os.dup2': {
        const fd = pos[0];
        const ft = fd ? taintsDeep(fd) : undefined;
        if (ft?.some((x) => x.kind === 'socket')) this.emit('reverse-shell', q, callee, pos, kw, n, cx, argNodes, { text: `os.dup2(${render(fd!)}, ${pos[1] ? render(pos[1]) : '…'})` });
        return UNK;
      }
      case 'socket.socket':
      case 'socket.socket.accept':
      case 'socket.fromfd': {
        const s: Val = { k: 'obj', cls: 'socket.socket', props: new Map() };
        if (q === 'socket.socket.accept') {
          if (callee.self?.k === 'obj') s.props = new Map(callee.self.props);
          return { k: 'seq', kind: 'tuple', items: [s, unk()] };
        }
        return s;
      }
      case 'socket.socket.fileno':
      case 'socket.socket.makefile': {
        const host = callee.self?.k === 'obj' ? textOrUndef(callee.self.props.get('host')) : undefined;
        return unk([{ kind: 'socket', what: `socket${host ? ` connected to ${host}` : ''}`, at: n.start, path: [], host }]);
      }
      case 'requests.Session':
      case 'requests.session':
      case 'httpx.Client':
      case 'aiohttp.ClientSession':
      case 'urllib3.PoolManager':
        return { k: 'obj', cls: q === 'requests.session' ? 'requests.Session' : q, props: new Map() };
      case 'http.client.HTTPConnection':
      case 'http.client.HTTPSConnection': {
        const host = a0 ? approxText(a0) : undefined;
        return { k: 'obj', cls: q, props: new Map(host ? [['host', str(host)]] : []) };
      }
      case 'ctypes.CDLL':
      case 'ctypes.cdll.LoadLibrary':
      case 'ctypes.PyDLL': {
        const name = a0 ? approxText(a0) : undefined;
        this.emit('native', q, callee, pos, kw, n, cx, argNodes, {});
        if (!a0 || a0.k === 'none' || (name && /libc|msvcrt/.test(name))) return { k: 'ref', q: 'libc' };
        return { k: 'ref', q: 'ctypes.lib', t: a0 ? taintsDeep(a0) : undefined };
      }
      case 'sqlite3.connect': {
        const p = a0 ? approxText(a0) : undefined;
        const cred = p !== undefined ? credentialPath(stripGlob(p)) : undefined;
        const conn: Val & { k: 'obj' } = { k: 'obj', cls: 'sqlite3.Connection', props: new Map() };
        if (cred) {
          this.emit('credential-read', q, callee, pos, kw, n, cx, argNodes, { path: p, pathWhat: cred, text: p });
          conn.t = [{ kind: 'secret', what: `sqlite3.connect(${pyRepr(p!)})`, at: n.start, path: [] }];
        } else if (p !== undefined && this.copied.has(p)) conn.t = [this.copied.get(p)!];
        return conn;
      }
      case 'io.BytesIO':
      case 'io.StringIO':
        return a0 ?? UNK;
      case 'json.dumps':
      case 'json.loads':
      case 'pickle.dumps':
      case 'urllib.parse.urlencode':
      case 'base64.b64encode':
      case 'base64.urlsafe_b64encode':
      case 'binascii.hexlify':
        return unk(t(), ob(), a0 ? approxText(a0) : undefined);
      case 'getpass.getuser':
      case 'os.getlogin':
        return unk([{ kind: 'sysinfo', what: `${q}()`, at: n.start, path: [] }]);
      case 'str.maketrans':
      case 'builtins.str.maketrans':
      case 'string.maketrans': {
        const [x, y] = pos;
        if (x?.k === 'str' && y?.k === 'str' && x.v.length === y.v.length) {
          const keys: Val[] = [];
          const vals: Val[] = [];
          for (let i = 0; i < x.v.length; i++) {
            keys.push({ k: 'num', v: x.v.codePointAt(i)! });
            vals.push({ k: 'num', v: y.v.codePointAt(i)! });
          }
          return { k: 'dict', keys, vals, obf: ['character substitution table'] };
        }
        return unk(t());
      }
    }
    // open() and pathlib-style reads/writes on path strings.
    if (q === 'builtins.open' || q === 'io.open' || q === 'codecs.open' || q === 'builtins.file') return this.open(q, callee, pos[0] ?? kw.get('file'), pos[1] ?? kw.get('mode'), pos, kw, n, cx);
    if (q.startsWith('str.') && callee.self?.k === 'str') return undefined; // handled in constMethod
    return undefined;
  }

  private pathJoin(parts: Val[]): Val {
    let out = '';
    let exact = true;
    let t: Taint[] | undefined;
    for (const p of parts) {
      const s = approxText(p);
      t = mergeTaints(t, taintsDeep(p));
      if (p.k !== 'str') exact = false;
      const seg = s ?? '…';
      out = seg.startsWith('/') || !out ? seg : `${out.replace(/\/+$/, '')}/${seg}`;
    }
    return exact ? withTaint(str(out), t) : unk(t, undefined, out);
  }

  private open(q: string, callee: Val & { k: 'ref' }, path: Val | undefined, mode: Val | undefined, pos: Val[], kw: Map<string, Val>, n: PyNode, cx: Cx): Val {
    const p = path ? approxText(path) : undefined;
    const m = mode?.k === 'str' ? mode.v : 'r';
    const writes = /[wax+]/.test(m);
    const file: Val & { k: 'obj' } = { k: 'obj', cls: 'file', props: new Map() };
    if (p !== undefined) file.props.set('path', str(p));
    const pt = path ? taintsDeep(path) : undefined;
    const copy = p !== undefined ? this.copied.get(p) : undefined;
    if (copy && !writes) file.t = [copy];
    if (pt?.some((x) => x.kind === 'netfile')) file.t = pt.map((x) => (x.kind === 'netfile' ? { ...x, kind: 'network' as const } : x));
    if (p !== undefined) {
      const cred = credentialPath(stripGlob(p));
      if (cred && !writes) {
        this.emit('credential-read', q, callee, pos, kw, n, cx, [], { path: p, pathWhat: cred, text: p });
        file.t = mergeTaints(file.t, [{ kind: 'secret', what: `open(${pyRepr(p)})`, at: n.start, path: [] }]);
      }
      const persist = persistencePath(p);
      if (persist && writes) {
        const ev = this.emit('file-write', q, callee, pos, kw, n, cx, [], { path: p, pathWhat: persist, text: p });
        file.props.set('__event', { k: 'num', v: this.events.indexOf(ev) });
      }
      if (!cred && !writes && path?.k === 'str' && !p.startsWith('/') && !p.startsWith('~') && !pt?.length && !copy)
        file.t = mergeTaints(file.t, [{ kind: 'localfile', what: `open(${pyRepr(p)})`, at: n.start, path: [] }]);
    }
    return file;
  }

  /** Decoding of a literal (statically) or of a runtime value (marked as decoded). */
  private decode(q: string, a0: Val | undefined, fn: (b: Buffer) => Buffer, n: PyNode, runtime?: Val): Val {
    const input = runtime ?? a0;
    const bytes = a0?.k === 'bytes' ? a0.v : a0?.k === 'str' ? Buffer.from(a0.v, 'latin1') : undefined;
    if (bytes && !runtime) {
      try {
        const out = fn(bytes);
        if (out.length <= MAX_DECODED) {
          const text = out.toString('latin1');
          return this.decodedText(q, bytesVal(out), a0!, n, q, text);
        }
      } catch {
        // Not valid for this decoder (Python would raise too): treat as a run-time value.
      }
    }
    // Decoding data of unknown origin is ordinary (archives, caches); it matters when the data is tainted.
    const it = input ? taintsDeep(input) : undefined;
    if (!it?.length) return unk(undefined, input?.obf);
    return unk(mergeTaints(it, [{ kind: 'decoded', what: `${q}(${input ? clip(render(input), 60) : '…'})`, at: n.start, path: [] }]), mergeObf(input?.obf, ['run-time decoding']));
  }

  /** A statically decoded value: tainted "decoded", signalled, and queued for analysis when it looks like code. */
  private decodedText(q: string, v: Val, input: Val, n: PyNode, how: string, text?: string): Val {
    const s = text ?? textOf(v) ?? '';
    this.decodedCount++;
    const printable = printableText(s);
    const taint: Taint = { kind: 'decoded', what: `${q}(${clip(render(input), 60)})`, at: n.start, path: [], payload: printable ? clip(s, 400) : `<${s.length} bytes>` };
    const obf = mergeObf(input.obf, [`decoded literal (${how})`], looksPacked(textOf(input) ?? '') ? ['long high-entropy literal'] : undefined);
    const out = withTaint(v, mergeTaints(input.t, [taint]), obf);
    if (printable && looksLikeCode(s) && (this.opts.depth ?? 0) < MAX_NESTING) {
      this.nested.push({ code: s, start: n.start, end: n.end, importTime: false, note: `in text decoded by ${q} at line ${this.line(n.start)}`, via: [], unreached: true, taint });
    }
    return out;
  }

  private decodeBytes(b: Val & { k: 'bytes' }, enc: string, n: PyNode): Val {
    const e = enc.toLowerCase().replace(/-/g, '_');
    if (e === 'base64' || e === 'base64_codec') return this.decode('bytes.decode(base64)', b, (x) => b64decode(x), n);
    if (e === 'hex' || e === 'hex_codec') return this.decode('bytes.decode(hex)', b, (x) => hexdecode(x), n);
    if (e === 'zlib' || e === 'zlib_codec') return this.decode('bytes.decode(zlib)', b, (x) => zlibDecompress(x), n);
    if (e === 'rot13' || e === 'rot_13') return this.decodedText('str.decode(rot13)', str(rot13(b.v.toString('latin1'))), b, n, 'rot13');
    if (e === 'unicode_escape' || e === 'string_escape' || e === 'raw_unicode_escape')
      return withTaint(str(decodeEscapes(b.v.toString('latin1'), { raw: false, bytes: false, format: false })), b.t, mergeObf(b.obf, ['escaped characters']));
    const s = e === 'latin_1' || e === 'latin1' || e === 'iso_8859_1' || e === 'ascii' ? b.v.toString('latin1') : b.v.toString('utf8');
    return withTaint(str(s), b.t, b.obf);
  }

  /** Methods of constant strings, bytes, lists and dicts. */
  private constMethod(name: string, self: Val, pos: Val[], kw: Map<string, Val>, n: PyNode, cx: Cx): Val | undefined {
    const a0 = pos[0];
    const keep = (v: Val) => withTaint(v, mergeTaints(self.t, ...pos.map((p) => taintsDeep(p))), mergeObf(self.obf, ...pos.map((p) => p.obf)));
    if (self.k === 'str' || self.k === 'bytes') {
      const s = self.k === 'str' ? self.v : self.v.toString('latin1');
      const wrap = (x: string) => (self.k === 'str' ? str(x) : bytesVal(Buffer.from(x, 'latin1')));
      switch (name) {
        case 'join': {
          if (!a0) return undefined;
          const items = this.iterItems(a0, MAX_ITER) ?? this.rangeItems(a0);
          if (items && items.every((i) => i.k === 'str' || i.k === 'bytes')) {
            const parts = items.map((i) => textOf(i)!);
            const total = parts.reduce((acc, p) => acc + p.length, 0);
            if (total > MAX_STR) return unk();
            const charJoin = parts.length >= 4 && total / parts.length <= 2 ? ['join of single characters'] : undefined;
            return withTaint(wrap(parts.join(s)), mergeTaints(self.t, taintsDeep(a0)), mergeObf(self.obf, obfDeep(a0), charJoin));
          }
          const ap = items ? items.map((i) => approxText(i) ?? '…').join(s) : undefined;
          return unk(mergeTaints(self.t, taintsDeep(a0)), mergeObf(self.obf, obfDeep(a0)), ap);
        }
        case 'replace':
          if (a0 && pos[1] && isTextVal(a0) && isTextVal(pos[1])) {
            const out = s.split(textOf(a0)!).join(textOf(pos[1])!);
            return out.length > MAX_STR ? unk() : keep(wrap(out));
          }
          return undefined;
        case 'upper':
          return keep(wrap(s.toUpperCase()));
        case 'lower':
        case 'casefold':
          return keep(wrap(s.toLowerCase()));
        case 'strip':
        case 'lstrip':
        case 'rstrip': {
          const chars = a0 && isTextVal(a0) ? textOf(a0)! : ' \t\n\r\x0b\x0c';
          let a = 0;
          let z = s.length;
          if (name !== 'rstrip') while (a < z && chars.includes(s[a])) a++;
          if (name !== 'lstrip') while (z > a && chars.includes(s[z - 1])) z--;
          return keep(wrap(s.slice(a, z)));
        }
        case 'split':
        case 'rsplit': {
          const sep = a0 && isTextVal(a0) ? textOf(a0)! : undefined;
          const parts = sep === undefined ? s.split(/\s+/).filter(Boolean) : s.split(sep);
          if (parts.length > MAX_ITER) return unk();
          return keep({ k: 'seq', kind: 'list', items: parts.map(wrap) });
        }
        case 'splitlines':
          return keep({ k: 'seq', kind: 'list', items: s.split(/\r?\n/).map(wrap) });
        case 'encode':
          if (self.k === 'str') {
            const enc = a0?.k === 'str' ? a0.v : kw.get('encoding')?.k === 'str' ? textOf(kw.get('encoding')!)! : 'utf-8';
            const e = enc.toLowerCase().replace(/-/g, '_');
            if (e === 'rot13' || e === 'rot_13') return this.decodedText('str.encode(rot13)', str(rot13(s)), self, n, 'rot13');
            if (e === 'hex' || e === 'base64') return undefined;
            return keep(bytesVal(encodeStr(s, enc)));
          }
          return undefined;
        case 'decode': {
          const enc = a0?.k === 'str' ? a0.v : kw.get('encoding')?.k === 'str' ? textOf(kw.get('encoding')!)! : 'utf-8';
          // Python 2 str.decode('base64'/'hex'/'zlib'/'rot13') and bytes.decode(...).
          return this.decodeBytes(self.k === 'bytes' ? self : (bytesVal(Buffer.from(s, 'latin1'), { t: self.t, obf: self.obf }) as Val & { k: 'bytes' }), enc, n);
        }
        case 'format': {
          const out = this.strFormat(s, pos, kw);
          if (out === undefined) return unk(mergeTaints(self.t, ...pos.map((p) => taintsDeep(p)), ...[...kw.values()].map((p) => taintsDeep(p))), self.obf, s.replace(/\{[^{}]*\}/g, '…'));
          return withTaint(str(out), mergeTaints(self.t, ...pos.map((p) => taintsDeep(p)), ...[...kw.values()].map((p) => taintsDeep(p))), mergeObf(self.obf, ...pos.map((p) => p.obf)));
        }
        case 'translate': {
          if (a0?.k === 'dict' && self.k === 'str') {
            let out = '';
            for (const ch of s) {
              const i = a0.keys.findIndex((k) => k.k === 'num' && k.v === ch.codePointAt(0));
              if (i < 0) out += ch;
              else {
                const v = a0.vals[i];
                out += v.k === 'num' ? String.fromCodePoint(v.v) : v.k === 'str' ? v.v : '';
              }
            }
            return keep(withTaint(str(out), undefined, ['character substitution (translate)']));
          }
          return undefined;
        }
        case 'hex':
          return self.k === 'bytes' ? keep(str(self.v.toString('hex'))) : undefined;
        case 'zfill':
          return a0?.k === 'num' ? keep(wrap(s.padStart(a0.v, '0'))) : undefined;
        case 'removeprefix':
          return a0 && isTextVal(a0) ? keep(wrap(s.startsWith(textOf(a0)!) ? s.slice(textOf(a0)!.length) : s)) : undefined;
        case 'removesuffix':
          return a0 && isTextVal(a0) ? keep(wrap(textOf(a0)! && s.endsWith(textOf(a0)!) ? s.slice(0, -textOf(a0)!.length) : s)) : undefined;
        case 'title':
          return keep(wrap(s.replace(/\w\S*/g, (w) => w[0].toUpperCase() + w.slice(1).toLowerCase())));
        case 'capitalize':
          return keep(wrap(s.charAt(0).toUpperCase() + s.slice(1).toLowerCase()));
        case 'swapcase':
          return keep(wrap([...s].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('')));
        case 'ljust':
          return a0?.k === 'num' ? keep(wrap(s.padEnd(a0.v))) : undefined;
        case 'rjust':
          return a0?.k === 'num' ? keep(wrap(s.padStart(a0.v))) : undefined;
        // pathlib methods on path-like strings
        case 'expanduser':
        case 'resolve':
        case 'absolute':
          return self;
        case 'joinpath':
          return this.pathJoin([self, ...pos]);
        case 'home':
          return str('~');
        case 'read_text':
        case 'read_bytes':
        case 'open': {
          const mode = name === 'open' ? (a0 ?? kw.get('mode')) : undefined;
          const f = this.open(`pathlib.Path.${name}`, { k: 'ref', q: `pathlib.Path.${name}` }, self, mode, [self, ...pos], kw, n, cx);
          return name === 'open' ? f : unk(taintsDeep(f));
        }
        case 'write_text':
        case 'write_bytes': {
          const persist = persistencePath(s);
          if (persist) this.emit('file-write', `pathlib.Path.${name}`, { k: 'ref', q: `pathlib.Path.${name}` }, [self, ...pos], kw, n, cx, [], { path: s, pathWhat: persist, text: s, written: a0 ? approxText(a0) : undefined });
          return UNK;
        }
        case 'startswith':
        case 'endswith':
          if (a0 && isTextVal(a0)) return { k: 'bool', v: name === 'startswith' ? s.startsWith(textOf(a0)!) : s.endsWith(textOf(a0)!) };
          return undefined;
        case 'count':
          return a0 && isTextVal(a0) && textOf(a0)! ? { k: 'num', v: s.split(textOf(a0)!).length - 1 } : undefined;
        case 'find':
        case 'index':
          return a0 && isTextVal(a0) ? { k: 'num', v: s.indexOf(textOf(a0)!) } : undefined;
        default:
          return undefined;
      }
    }
    if (self.k === 'seq') {
      switch (name) {
        case 'append':
          if (a0 && self.items.length < 100_000) self.items.push(a0);
          if (a0?.t?.length) self.t = mergeTaints(self.t, a0.t);
          return { k: 'none' };
        case 'extend': {
          const items = a0 ? this.iterItems(a0, 100_000) : undefined;
          if (items && self.items.length + items.length <= 100_000) self.items.push(...items);
          if (a0) self.t = mergeTaints(self.t, taintsDeep(a0));
          else if (a0) self.t = mergeTaints(self.t, taintsDeep(a0));
          return { k: 'none' };
        }
        case 'insert':
          if (pos[0]?.k === 'num' && pos[1]) self.items.splice(pos[0].v, 0, pos[1]);
          return { k: 'none' };
        case 'reverse':
          self.items.reverse();
          self.obf = mergeObf(self.obf, ['reversed list']);
          return { k: 'none' };
        case 'pop':
          return self.items.length ? self.items[self.items.length - 1] : UNK;
        case 'copy':
          return { ...self, items: [...self.items] };
        default:
          return undefined;
      }
    }
    if (self.k === 'dict') {
      switch (name) {
        case 'get': {
          const i = a0 ? dictFind(self, a0) : -1;
          return i >= 0 ? self.vals[i] : (pos[1] ?? unk(taintsDeep(self)));
        }
        case 'update':
          if (a0?.k === 'dict') a0.keys.forEach((k, i) => dictSet(self, k, a0.vals[i]));
          else if (a0) self.t = mergeTaints(self.t, taintsDeep(a0));
          for (const [k, v] of kw) dictSet(self, str(k), v);
          return { k: 'none' };
        case 'copy':
          return { ...self, keys: [...self.keys], vals: [...self.vals] };
        case 'items':
          return { k: 'seq', kind: 'list', items: self.keys.map((k, i) => ({ k: 'seq', kind: 'tuple', items: [k, self.vals[i]] }) as Val), t: self.t };
        case 'values':
          return { k: 'seq', kind: 'list', items: [...self.vals], t: self.t };
        case 'keys':
          return { k: 'seq', kind: 'list', items: [...self.keys], t: self.t };
        default:
          return undefined;
      }
    }
    return undefined;
  }

  private strFormat(fmt: string, pos: Val[], kw: Map<string, Val>): string | undefined {
    let auto = 0;
    let failed = false;
    const out = fmt.replace(/\{\{|\}\}|\{([^{}!:]*)(?:!([rsa]))?(?::([^{}]*))?\}/g, (m, field: string | undefined, conv: string | undefined, spec: string | undefined) => {
      if (m === '{{') return '{';
      if (m === '}}') return '}';
      let v: Val | undefined;
      if (field === undefined || field === '') v = pos[auto++];
      else if (/^\d+$/.test(field)) v = pos[Number(field)];
      else v = kw.get(field);
      const s = v ? this.formatValue(v, conv, spec ?? '') : undefined;
      if (s === undefined) failed = true;
      return s ?? '';
    });
    return failed ? undefined : out;
  }

  // ------------------------------------------------------------ sinks

  private argVals(spec: SinkSpec, pos: Val[], kw: Map<string, Val>): { name: string; v: Val }[] {
    const out: { name: string; v: Val }[] = [];
    for (const a of spec.args) {
      const v = typeof a === 'number' ? pos[a] : kw.get(a);
      if (v) out.push({ name: typeof a === 'number' ? `arg${a}` : a, v });
    }
    const splat = kw.get('**');
    if (splat) out.push({ name: '**kwargs', v: splat });
    return out;
  }

  private argText(pos: Val[], kw: Map<string, Val>, which: (number | string)[]): string | undefined {
    for (const w of which) {
      const v = typeof w === 'number' ? pos[w] : kw.get(w);
      if (!v) continue;
      if (v.k === 'obj') {
        const u = v.props.get('url');
        if (u) return approxText(u);
      }
      const t = approxText(v);
      if (t !== undefined) return t;
    }
    return undefined;
  }

  private renderCall(q: string, pos: Val[], kw: Map<string, Val>, argNodes: ArgNodes): string {
    const parts = pos.map((p, i) => {
      if (p.k === 'str' || p.k === 'bytes' || p.k === 'num' || p.k === 'seq' || p.k === 'bool' || p.k === 'none') return clip(render(p), 160);
      if (p.k === 'unk' && p.approx !== undefined) return clip(render(p), 160);
      const node = argNodes[i];
      return node ? clip(this.src(node).replace(/\s+/g, ' '), 80) : '…';
    });
    for (const [k, v] of kw) {
      if (k === '**') continue;
      const node = argNodes.kw?.get(k);
      const constish = v.k === 'str' || v.k === 'bytes' || v.k === 'num' || v.k === 'bool' || v.k === 'none' || (v.k === 'unk' && v.approx !== undefined);
      parts.push(`${k}=${constish || !node ? clip(render(v), 80) : clip(this.src(node).replace(/\s+/g, ' '), 80)}`);
    }
    return `${q}(${parts.join(', ')})`;
  }

  private sink(q: string, spec: SinkSpec, callee: Val & { k: 'ref' }, pos: Val[], kw: Map<string, Val>, n: PyNode, cx: Cx, argNodes: ArgNodes): Val | undefined {
    switch (spec.kind) {
      case 'code-exec':
        return this.codeExec(q, callee, pos.length ? pos : [kw.get('source') ?? kw.get('object') ?? UNK], n, cx, argNodes);
      case 'process': {
        const args = this.argVals(spec, pos, kw);
        const cmdVals = spec.argv ? args.map((a) => a.v) : args.slice(0, 1).map((a) => a.v);
        let text: string | undefined;
        let exact = true;
        const pieces: string[] = [];
        for (const v of cmdVals) {
          if (v.k === 'seq') {
            for (const it of v.items) {
              const s = approxText(it);
              if (it.k !== 'str') exact = false;
              pieces.push(s !== undefined ? shellQuote(s, v.items.length > 1) : '…');
            }
          } else {
            const s = approxText(v);
            if (v.k !== 'str' && v.k !== 'bytes') exact = false;
            pieces.push(s ?? '…');
          }
        }
        if (spec.argv === 'exec' && pieces.length > 1 && q.startsWith('os.exec')) pieces.splice(1, 1); // argv[0] repeats the program
        if (pieces.length) text = pieces.join(' ');
        if (q === 'pty.spawn' && !text) text = '…';
        const shell = text ? analyzeShell(text) : undefined;
        for (const p of shell?.python ?? []) if ((this.opts.depth ?? 0) < MAX_NESTING) this.nested.push({ code: p.code, start: n.start, end: n.end, importTime: cx.importTime, note: `in Python code run by ${q} at line ${this.line(n.start)}`, via: cx.via });
        // Popen(..., stdin=s.fileno(), stdout=…): a shell wired to a socket.
        const stdio = ['stdin', 'stdout', 'stderr'].map((k) => kw.get(k)).filter((v): v is Val => !!v);
        if (stdio.some((v) => taintsDeep(v)?.some((t) => t.kind === 'socket')))
          this.emit('reverse-shell', q, callee, pos, kw, n, cx, argNodes, { text: `${q}(${text ?? '…'}) with its stdin/stdout connected to a socket` });
        this.emit('process', q, callee, pos, kw, n, cx, argNodes, { text, exact: exact && !!text, shell, dataArgs: args.map((a) => a.v) });
        // Output of recon commands is host detail; of credential reads, a secret.
        const progs = shell?.commands.map((c) => c.program) ?? [];
        const out: Taint[] = [];
        if (progs.some((p) => ['whoami', 'hostname', 'id', 'uname', 'ifconfig', 'ip', 'ps', 'w', 'last', 'systeminfo', 'ipconfig'].includes(p)))
          out.push({ kind: 'sysinfo', what: `${q}(${clip(text ?? '…', 60)})`, at: n.start, path: [] });
        if (shell?.hits.some((h) => h.rule === 'credential-access')) out.push({ kind: 'secret', what: `${q}(${clip(text ?? '…', 60)})`, at: n.start, path: [] });
        return unk(mergeTaints(out, ...args.map((a) => taintsDeep(a.v))));
      }
      case 'deserialize': {
        const args = this.argVals(spec, pos, kw);
        const data = args[0]?.v;
        if (q === 'numpy.load') {
          const ap = kw.get('allow_pickle');
          if (!ap || truthy(ap) !== true) return undefined;
        }
        if (q === 'yaml.load') {
          const loader = kw.get('Loader') ?? pos[1];
          if (loader?.k === 'ref' && /(Safe|CSafe|Base)Loader$/.test(loader.q)) return undefined;
        }
        if (q === 'torch.load' && truthy(kw.get('weights_only') ?? UNK) === true) return undefined;
        const t = data ? taintsDeep(data) : undefined;
        if (t?.some((x) => x.kind === 'network' || x.kind === 'netfile' || x.kind === 'decoded') || data?.k === 'bytes')
          this.emit('deserialize', q, callee, pos, kw, n, cx, argNodes, { bytes: data?.k === 'bytes' ? data.v : undefined, dataArgs: data ? [data] : [] });
        return unk(t?.length ? mergeTaints(t, [{ kind: 'decoded', what: `${q}(…)`, at: n.start, path: [] }]) : undefined, data?.obf);
      }
      case 'native': {
        this.emit('native', q, callee, pos, kw, n, cx, argNodes, { dataArgs: this.argVals(spec, pos, kw).map((a) => a.v) });
        return undefined;
      }
      case 'socket': {
        const args = this.argVals(spec, pos, kw);
        const addr = args[0]?.v;
        let host: string | undefined;
        if (addr?.k === 'seq' && addr.items[0]) host = approxText(addr.items[0]);
        else if (addr) host = approxText(addr);
        if (q.endsWith('.connect') || q.endsWith('.connect_ex') || q === 'socket.create_connection') {
          const port = addr?.k === 'seq' ? addr.items[1] : undefined;
          const target = host ? `${host}${port?.k === 'num' ? `:${port.v}` : ''}` : undefined;
          if (callee.self?.k === 'obj' && target) callee.self.props.set('host', str(target));
          this.emit('socket', q, callee, pos, kw, n, cx, argNodes, { host, text: target, dataArgs: [] });
          if (q === 'socket.create_connection') return { k: 'obj', cls: 'socket.socket', props: new Map(target ? [['host', str(target)]] : []) };
          return UNK;
        }
        const h = callee.self?.k === 'obj' ? textOrUndef(callee.self.props.get('host')) : host;
        this.emit('socket', q, callee, pos, kw, n, cx, argNodes, { host: h, text: h, dataArgs: args.map((a) => a.v) });
        return UNK;
      }
      case 'http': {
        const args = this.argVals(spec, pos, kw);
        let url = this.argText(pos, kw, spec.args.filter((a) => a === 0 || a === 1 || a === 'url').filter((a) => a !== 1 || q.endsWith('.request')));
        let dataArgs = args.filter((a) => !(a.name === 'arg0' && !q.endsWith('request')) && a.name !== 'url');
        // urlopen(Request(url, data=…)) sends what the Request holds.
        const req = pos[0];
        if (req?.k === 'obj' && req.cls === 'urllib.request.Request') {
          url = textOrUndef(req.props.get('url'));
          const d = req.props.get('data');
          dataArgs = d ? [{ name: 'data', v: d }] : [];
        }
        if (q === 'urllib.request.Request') {
          const obj: Val = { k: 'obj', cls: q, props: new Map() };
          if (pos[0]) obj.props.set('url', pos[0]);
          const d = pos[1] ?? kw.get('data');
          if (d) obj.props.set('data', d);
          return obj;
        }
        if (callee.self?.k === 'obj' && callee.self.props.get('host') && !url) url = `http://${textOrUndef(callee.self.props.get('host'))}`;
        const method = q.endsWith('.request') ? textOrUndef(pos[0]) : last(q);
        const sends = /^(post|put|patch)$/i.test(method ?? '') || dataArgs.some((a) => ['data', 'json', 'files', 'body', 'content', 'fields', 'arg1', 'arg2'].includes(a.name));
        const tainted = dataArgs.some((a) => taintsDeep(a.v)?.some((t) => t.kind !== 'localfile' && t.kind !== 'network' && t.kind !== 'netfile'));
        const urlT = [pos[0], kw.get('url')].some((v) => v && taintsDeep(v)?.some((t) => t.kind === 'secret' || t.kind === 'env' || t.kind === 'sysinfo'));
        if (sends || tainted || urlT)
          this.emit('http', q, callee, pos, kw, n, cx, argNodes, {
            host: url ? hostOf(url) : undefined,
            text: url,
            dataArgs: [...dataArgs.map((a) => a.v), ...(urlT ? [pos[0] ?? kw.get('url')!] : [])],
            taintedArgs: [...dataArgs.filter((a) => taintsDeep(a.v)?.length).map((a) => a.name), ...(urlT ? ['url'] : [])],
          });
        return undefined; // the result is also a network source (callRef continues)
      }
      case 'dns': {
        const a = pos[0];
        if (a && taintsDeep(a)?.some((t) => t.kind === 'secret' || t.kind === 'env'))
          this.emit('dns', q, callee, pos, kw, n, cx, argNodes, { text: approxText(a), dataArgs: [a], taintedArgs: ['hostname'] });
        return undefined;
      }
      case 'file-copy': {
        const src = pos[0] ? approxText(pos[0]) : undefined;
        const dst = pos[1] ? approxText(pos[1]) : undefined;
        const cred = src ? credentialPath(stripGlob(src)) : undefined;
        if (cred) this.emit('credential-read', q, callee, pos, kw, n, cx, argNodes, { path: src, pathWhat: cred, text: src });
        if (cred && dst) this.copied.set(dst, { kind: 'secret', what: `${q}(${pyRepr(src!)}, ${pyRepr(dst)})`, at: n.start, path: [] });
        const persist = dst ? persistencePath(dst) : undefined;
        if (persist) this.emit('file-write', q, callee, pos, kw, n, cx, argNodes, { path: dst, pathWhat: persist, text: dst, written: src ? `contents of ${src}` : undefined });
        return cred ? unk([{ kind: 'secret', what: `${q}(${pyRepr(src!)})`, at: n.start, path: [] }]) : UNK;
      }
      case 'file-write': {
        if (q === 'winreg.SetValueEx') {
          const key = pos.map((p) => approxText(p) ?? '').join(' ');
          if (/currentversion\\run/i.test(key) || /run/i.test(approxText(pos[1] ?? UNK) ?? ''))
            this.emit('file-write', q, callee, pos, kw, n, cx, argNodes, { path: 'HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run', pathWhat: 'Windows Run key', text: approxText(pos[4] ?? UNK) });
          return undefined;
        }
        if (q === 'os.open') {
          const p = pos[0] ? approxText(pos[0]) : undefined;
          const persist = p ? persistencePath(p) : undefined;
          if (persist) this.emit('file-write', q, callee, pos, kw, n, cx, argNodes, { path: p, pathWhat: persist, text: p });
          return UNK;
        }
        return undefined;
      }
    }
    return undefined;
  }

  /** exec/eval/compile-family sink: constant code is analysed in turn. */
  private codeExec(q: string, callee: Val, pos: Val[], n: PyNode, cx: Cx, argNodes: ArgNodes): Val {
    const code = pos[0] ?? UNK;
    let text: string | undefined;
    let marshal: MarshalInfo | undefined;
    if (code.k === 'code') {
      text = code.src;
      marshal = code.marshal;
    } else text = textOf(code);
    const ev = this.emit('code-exec', q, callee as Val & { k: 'ref' }, pos, new Map(), n, cx, argNodes, {
      text: text ?? (code.k === 'code' ? code.approx : approxText(code)),
      exact: text !== undefined,
      marshal,
      dataArgs: [code],
    });
    const runsText = q !== 'runpy.run_path' && q !== 'builtins.execfile' && q !== 'runpy.run_module';
    // A template with holes (exec(f"…{name}…")) is analysed with the holes as a placeholder name.
    const approx = text === undefined && (code.k === 'unk' || code.k === 'code') ? code.approx : undefined;
    const nestedCode = text ?? (approx !== undefined && approx.replace(/…/g, '').trim().length >= 8 ? approx.replace(/…/g, '__unknown__') : undefined);
    if (nestedCode !== undefined && (this.opts.depth ?? 0) < MAX_NESTING && runsText) {
      const decoded = [...ev.taints].reverse().find((t) => t.kind === 'decoded' && t.payload !== undefined) ?? ev.taints.find((t) => t.kind === 'decoded');
      this.nested.push({ code: nestedCode, start: n.start, end: n.end, importTime: cx.importTime, note: `in code run by ${q} at line ${this.line(n.start)}${decoded ? ` (decoded by ${decoded.what})` : ''}`, via: cx.via, taint: decoded, env: this.refEnv(this.curScope) });
    }
    if (marshal) for (const s of marshal.strings) {
      const sh = analyzeShell(s);
      if (sh.hits.length) ev.shell = { hits: [...(ev.shell?.hits ?? []), ...sh.hits], commands: [...(ev.shell?.commands ?? []), ...sh.commands], python: [] };
    }
    return unk(taintsDeep(code));
  }

  private emit(
    kind: PyEvent['kind'],
    q: string,
    callee: Val & { k: 'ref' } | Val,
    pos: Val[],
    kw: Map<string, Val>,
    n: PyNode,
    cx: Cx,
    argNodes: ArgNodes,
    extra: Partial<PyEvent> & { dataArgs?: Val[] },
  ): PyEvent {
    const data = extra.dataArgs ?? [...pos, ...kw.values()];
    const taints = mergeTaints(...data.map((d) => taintsDeep(d))) ?? [];
    const obf = mergeObf(callee.obf, ...data.map((d) => obfDeep(d))) ?? [];
    const calleeObf = callee.obf ?? [];
    const ev: PyEvent = {
      kind,
      callee: q,
      call: this.renderCall(q, pos, kw, argNodes),
      start: n.start,
      end: n.end,
      importTime: cx.importTime,
      taints,
      obf,
      calleeObf,
      exact: extra.exact ?? (extra.text !== undefined),
      argsConst: data.every((d) => d.k === 'str' || d.k === 'bytes' || d.k === 'num' || d.k === 'none' || d.k === 'bool' || (d.k === 'seq' && d.items.every((i) => i.k === 'str' || i.k === 'num'))),
      via: cx.via,
      nesting: 0,
    };
    for (const [k, v] of Object.entries(extra)) if (k !== 'dataArgs' && v !== undefined) (ev as unknown as Record<string, unknown>)[k] = v;
    // A persistence file object: later .write(x) calls add what is written.
    this.events.push(ev);
    return ev;
  }

  /** Called for file.write(...) on objects opened for persistence. */
  noteWrite(file: Val, content: Val): void {
    if (file.k !== 'obj') return;
    const idx = file.props.get('__event');
    if (idx?.k !== 'num') return;
    const ev = this.events[idx.v];
    if (!ev) return;
    const s = approxText(content);
    if (s !== undefined) ev.written = ev.written ? `${ev.written}${s}` : s;
    ev.taints = mergeTaints(ev.taints, taintsDeep(content)) ?? [];
  }
}

/** setuptools/distutils command base classes whose run() executes during installation. */
const INSTALL_COMMANDS = /(^|\.)(install|develop|egg_info|build_py|build_ext|build|sdist|bdist_wheel|bdist_egg|install_lib|install_scripts)$/;

/** Callables that run a function later: where the function is and where its arguments start. */
const DEFERRED_CALLS: Record<string, { pos: number; kw: string; argsFrom?: number }> = {
  'atexit.register': { pos: 0, kw: 'func', argsFrom: 1 },
  'threading.Thread': { pos: 1, kw: 'target' },
  'threading.Timer': { pos: 1, kw: 'function' },
  'multiprocessing.Process': { pos: 1, kw: 'target' },
  'signal.signal': { pos: 1, kw: 'handler' },
  '_thread.start_new_thread': { pos: 0, kw: 'function' },
  'thread.start_new_thread': { pos: 0, kw: 'function' },
  'sys.settrace': { pos: 0, kw: 'function' },
  'sys.setprofile': { pos: 0, kw: 'function' },
};

/** Modules and callables whose being reached indirectly is worth a signal (hiding os.system, not getattr(self, f"layer{i}")). */
const INTERESTING = /^(builtins\.(exec|eval|compile|__import__|open|getattr|execfile|vars|globals)$|builtins$|os(\.|$)|subprocess(\.|$)|socket(\.|$)|pty(\.|$)|ctypes(\.|$)|marshal(\.|$)|pickle(\.|$)|base64(\.|$)|zlib(\.|$)|codecs(\.|$)|importlib(\.|$)|runpy(\.|$)|code(\.|$)|requests(\.|$)|urllib(\.|$)|http(\.|$)|shutil(\.|$)|sys\.modules|libc(\.|$)|platform\.popen|commands(\.|$)|webbrowser(\.|$)|<module>$)/;

function interesting(q: string): boolean {
  return INTERESTING.test(q) || q in SINKS;
}

function sig(v: Val): string {
  const t = taintsDeep(v);
  const tk = t?.length ? `t${[...new Set(t.map((x) => x.kind))].sort().join('')}` : '';
  if (v.k === 'str' || v.k === 'bytes') return `c${tk}${clip(textOf(v)!, 40)}`;
  if (v.k === 'ref') return `r${tk}${v.q}`;
  if (v.k === 'func') return `f${v.fn.line}`;
  if (v.k === 'obj') return `o${tk}${v.cls}`;
  if (v.k === 'code') return 'k';
  if (v.k === 'seq') return `s${tk}${v.items.length}`;
  return tk ? `u${tk}` : 'u';
}

/** textwrap.dedent: remove the whitespace prefix common to all non-blank lines. */
function dedent(s: string): string {
  const lines = s.split('\n');
  let prefix: string | undefined;
  for (const l of lines) {
    if (!l.trim()) continue;
    const ws = /^[ \t]*/.exec(l)![0];
    if (prefix === undefined) prefix = ws;
    else {
      let i = 0;
      while (i < prefix.length && i < ws.length && prefix[i] === ws[i]) i++;
      prefix = prefix.slice(0, i);
    }
  }
  if (!prefix) return lines.map((l) => (l.trim() ? l : '')).join('\n');
  return lines.map((l) => (l.trim() ? l.slice(prefix!.length) : '')).join('\n');
}

function textOrUndef(v: Val | undefined): string | undefined {
  return v ? approxText(v) : undefined;
}

function isTextVal(v: Val): boolean {
  return v.k === 'str' || v.k === 'bytes';
}

function encodeStr(s: string, enc: string): Buffer {
  const e = enc.toLowerCase().replace(/-/g, '_');
  if (e === 'latin_1' || e === 'latin1' || e === 'iso_8859_1' || e === 'ascii') return Buffer.from(s, 'latin1');
  if (e === 'utf_16' || e === 'utf_16_le') return Buffer.from(s, 'utf16le');
  return Buffer.from(s, 'utf8');
}

function stripGlob(p: string): string {
  return p.replace(/(\/\*\*?)+$/, '').replace(/\*+$/, '');
}

function shellQuote(s: string, many: boolean): string {
  return many && /[\s'"]/.test(s) ? `'${s.replace(/'/g, "'\\''")}'` : s;
}

function printableText(s: string): boolean {
  if (!s.length) return false;
  let ok = 0;
  for (let i = 0; i < Math.min(s.length, 4096); i++) {
    const c = s.charCodeAt(i);
    if ((c >= 0x20 && c < 0x7f) || c === 9 || c === 10 || c === 13 || c >= 0xa0) ok++;
  }
  return ok >= Math.min(s.length, 4096) * 0.95;
}

/** Decoded text worth analysing as Python: has calls or imports, not just prose or data. */
function looksLikeCode(s: string): boolean {
  return /\b(import|exec|eval|__import__|os\.|subprocess|socket|getattr|lambda|def |system|popen)\b|\w\(.*\)/.test(s) && s.length >= 6;
}

const STRING_CONSTANTS: Record<string, string> = {
  'string.ascii_lowercase': 'abcdefghijklmnopqrstuvwxyz',
  'string.ascii_uppercase': 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  'string.ascii_letters': 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
  'string.lowercase': 'abcdefghijklmnopqrstuvwxyz',
  'string.uppercase': 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  'string.letters': 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
  'string.digits': '0123456789',
  'string.hexdigits': '0123456789abcdefABCDEF',
  'string.octdigits': '01234567',
  'string.punctuation': '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
  'string.whitespace': ' \t\n\r\x0b\x0c',
  'string.printable': '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r\x0b\x0c',
};

// ------------------------------------------------------------------ driver

/**
 * Parses and analyses Python source; code found inside it (exec'd strings,
 * decoded payloads, python -c commands) is analysed too, up to a nesting
 * bound, and its events are reported at the outer call site.
 */
export async function analyzePython(text: string, opts: AnalyzeOptions = {}): Promise<PyAnalysis> {
  const parsed = await parsePython(text);
  const a = new Analyzer(parsed.text, parsed.nodeCount, opts);
  a.run(parsed.root);
  // Offsets in a flattened text go back to the input's.
  const m = parsed.map;
  const back = (i: number) => (m ? m[Math.max(0, Math.min(i, m.length - 1))] : i);
  const events = a.events.map((e) => (m ? { ...e, start: back(e.start), end: back(e.end) } : e));
  let truncated = a.truncated;
  const depth = opts.depth ?? 0;
  const seen = new Set<string>();
  // Code seen to run goes first, so a payload that is both decoded and exec'd keeps its import-time context.
  const queue = [...a.nested.filter((x) => !x.unreached), ...a.nested.filter((x) => x.unreached)];
  for (const nest of queue) {
    if (depth + 1 > MAX_NESTING || seen.has(nest.code)) continue;
    seen.add(nest.code);
    const inner = await analyzePython(nest.code, { ...opts, depth: depth + 1, importTime: nest.importTime, globals: nest.env });
    truncated ||= inner.truncated;
    for (const e of inner.events) {
      events.push({
        ...e,
        start: back(nest.start),
        end: back(nest.end),
        importTime: nest.importTime && e.importTime,
        via: [...nest.via, nest.note, ...e.via].slice(-6),
        taints: nest.taint ? (mergeTaints(e.taints, [nest.taint]) ?? []) : e.taints,
        obf: nest.taint ? (mergeObf(e.obf, ['code hidden in an encoded literal']) ?? []) : e.obf,
        nesting: e.nesting + 1,
      });
    }
  }
  // "unreached" payloads: code decoded but not seen to run is reported as not run at import.
  return {
    events,
    parseErrors: parsed.errors.map((e) => ({ start: back(e.start), end: back(e.end) })),
    truncated,
    nodeCount: parsed.nodeCount,
    decoded: a.decodedCount,
    ...(m ? { flattenedDepth: parsed.indentDepth } : {}),
  };
}
