/**
 * Static analysis of Jinja templates (chat templates in GGUF metadata and
 * tokenizer configs) for server-side template injection: the object walks
 * (`cycler.__init__.__globals__.os`, `''.__class__.__mro__`, `|attr('…')`)
 * that let a template escape to Python when it is rendered outside Jinja's
 * sandbox, as llama-cpp-python < 0.2.72 did (CVE-2024-34359).
 *
 * Nothing here renders a template. The template is parsed with
 * @huggingface/jinja and its AST walked; when that parser rejects a template
 * (it supports less syntax than Jinja), a lexer that follows Jinja's own rules
 * (delimiters, whitespace control, raw blocks, comments, Python string
 * escapes) produces a token stream that is scanned for the same patterns, so
 * a template is never called clean just because the parser gave up.
 */
import { parse, tokenize } from '@huggingface/jinja';

/** What a template does that matters for security. */
export type TemplateIssueKind =
  /** An object walk (dunder/private attributes, gadget globals) that reaches a code-execution or file name. */
  | 'code-execution'
  /** Dunder/private attribute access or Jinja globals used as objects, without a visible code-execution name. */
  | 'object-walk'
  /** `|attr()` (or an attribute-taking filter) with a name computed at render time. */
  | 'computed-attribute';

export interface TemplateIssue {
  kind: TemplateIssueKind;
  /** The suspicious names reached, in order of appearance, e.g. ["__init__", "__globals__", "os", "popen"]. */
  names: string[];
  /** The expression involved, rendered back to template syntax (bounded length). */
  evidence: string;
}

export interface TemplateAnalysis {
  /** True when @huggingface/jinja parsed the template and its AST was walked. */
  parsed: boolean;
  /** Why the parser rejected the template (the token scan ran instead). */
  parseError?: string;
  /** Why Jinja's own lexer rules reject the template too (Jinja would refuse to compile it). */
  lexError?: string;
  method: 'ast' | 'tokens';
  issues: TemplateIssue[];
}

/**
 * Beyond these sizes the third-party parser is not used: its preprocessing
 * regex backtracks over every whitespace run (about 2 s for 512 KiB of
 * 4,000-space runs). Real chat templates are tens of KiB with short runs.
 */
const MAX_PARSER_CHARS = 256 * 1024;
const MAX_PARSER_WS_RUN = 1024;
const MAX_EVIDENCE = 240;
/** Possible values tracked per folded string expression. */
const MAX_VALUES = 16;
const MAX_STRING = 4096;
const MAX_DEPTH = 400;

const DUNDER = /^__[A-Za-z0-9_]+__$/;

/** Names whose use after an object walk means running commands, code or opening files. */
const EXEC_NAMES = new Set([
  'os', 'posix', 'nt', 'popen', 'popen2', 'system', 'subprocess', 'Popen', 'check_output', 'check_call', 'getoutput',
  'getstatusoutput', 'pty', 'fork', 'eval', 'exec', 'execfile', 'compile', '__import__', 'import', 'import_module',
  'importlib', 'builtins', '__builtins__', 'open', 'file', 'sys', 'modules', 'load_module', 'commands', 'ctypes',
]);
const EXEC_PATTERN = /^(?:spawn|exec)[lvpe]+$/;

/** Jinja (and Flask) globals whose attributes lead to Python internals when used as objects. */
const GADGETS = new Set([
  'cycler', 'joiner', 'namespace', 'lipsum', 'range', 'self', 'config', 'request', 'url_for', 'get_flashed_messages',
  'session', 'g', 'dict',
]);

/** Words that end an expression operand in Jinja, so a following `[` starts a list, not a subscript. */
const KEYWORDS = new Set(['in', 'not', 'and', 'or', 'is', 'if', 'else', 'elif', 'for', 'set', 'return', 'with', 'import', 'as', 'from', 'recursive', 'print', 'do']);

/** Filters whose named argument is an attribute name. */
const ATTRIBUTE_FILTERS = new Set(['map', 'sort', 'groupby', 'sum', 'unique', 'min', 'max']);
const ATTR_POSITIONAL = new Set(['selectattr', 'rejectattr', 'groupby']);

function isExecName(n: string): boolean {
  return EXEC_NAMES.has(n) || EXEC_PATTERN.test(n);
}

/** Attribute names Jinja's sandbox refuses: dunders and anything private. */
function isUnsafeAttribute(n: string): boolean {
  return n.startsWith('_');
}

function isDunderish(n: string): boolean {
  return DUNDER.test(n) || /^_[A-Za-z][A-Za-z0-9]*__[A-Za-z0-9_]+$/.test(n);
}

function clip(s: string, n = MAX_EVIDENCE): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/** Facts gathered by either analysis, summarised the same way. */
interface Facts {
  /** Attribute/item names reached (constant or folded), with the expression they were found in. */
  accesses: { name: string; kind: 'attr' | 'item' | 'filter'; evidence: string }[];
  /** Jinja globals used as objects: `lipsum.x`, `self._TemplateReference__context`. */
  gadgets: { name: string; evidence: string }[];
  /** `|attr(x)` with a name that cannot be known before rendering. */
  computed: string[];
  /** Subscripts with a non-constant key exist (ordinary in chat templates; only matters with dunder strings). */
  computedSubscripts: string[];
  /** Every string constant (folded) in code positions. */
  constants: Map<string, string>;
}

function newFacts(): Facts {
  return { accesses: [], gadgets: [], computed: [], computedSubscripts: [], constants: new Map() };
}

function summarise(f: Facts): TemplateIssue[] {
  // Accesses are recorded in source order (objects before their attributes).
  const walk = f.accesses.filter((a) => isUnsafeAttribute(a.name) && (a.kind !== 'item' || isDunderish(a.name)));
  const walkNames = walk.map((a) => a.name);
  const gadgetNames = f.gadgets.map((g) => g.name);
  const execAccess = f.accesses.filter((a) => isExecName(a.name));
  const dunderConstants = [...f.constants.keys()].filter(isDunderish);
  const issues: TemplateIssue[] = [];
  const walking = walk.length > 0 || f.gadgets.length > 0;
  if (walking && execAccess.length > 0) {
    // Evidence: an expression that both walks and reaches the code-execution name, when there is one.
    const lead = execAccess.find((a) => walk.some((w) => w.evidence === a.evidence) || f.gadgets.some((g) => g.evidence === a.evidence)) ?? execAccess[0];
    const inLead = (n: { evidence: string }) => n.evidence === lead.evidence;
    const names = unique([
      ...f.gadgets.filter(inLead).map((g) => g.name),
      ...f.accesses.filter((a) => inLead(a) && (walk.includes(a) || isExecName(a.name))).map((a) => a.name),
      ...gadgetNames,
      ...walkNames,
      ...execAccess.map((a) => a.name),
    ]);
    issues.push({ kind: 'code-execution', names, evidence: lead.evidence });
  } else if (walking) {
    const lead = walk[0] ?? f.gadgets[0];
    issues.push({ kind: 'object-walk', names: unique([...gadgetNames, ...walkNames]), evidence: lead.evidence });
  }
  if (f.computed.length > 0) {
    issues.push({ kind: 'computed-attribute', names: ['attr'], evidence: f.computed[0] });
  } else if (!walking && dunderConstants.length > 0 && f.computedSubscripts.length > 0) {
    // Dunder names held in strings and looked up at render time: a walk built in pieces.
    issues.push({ kind: 'computed-attribute', names: dunderConstants, evidence: f.computedSubscripts[0] });
  }
  return issues;
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

// ---------------------------------------------------------------------------
// AST analysis (@huggingface/jinja)
// ---------------------------------------------------------------------------

/** The parts of @huggingface/jinja's AST nodes this walk reads (its classes are not exported). */
interface JNode {
  type: string;
  [k: string]: unknown;
}

function isNode(x: unknown): x is JNode {
  return typeof x === 'object' && x !== null && typeof (x as JNode).type === 'string';
}

class AstWalker {
  readonly facts = newFacts();
  /** Names bound by set/for/macro parameters: a template may call its own variable `config`. */
  private readonly bound = new Set<string>();
  /** Constant string values assigned with {% set name = … %}, flow-insensitively. */
  private readonly consts = new Map<string, string[]>();
  private top: JNode | undefined;

  run(program: JNode): void {
    // Two passes: the first learns assignments, so later uses resolve in any order.
    this.collectBindings(program, 0);
    this.visit(program, 0);
  }

  private children(n: JNode): JNode[] {
    const out: JNode[] = [];
    for (const [k, v] of Object.entries(n)) {
      if (k === 'type') continue;
      if (isNode(v)) out.push(v);
      else if (Array.isArray(v)) for (const x of v) isNode(x) && out.push(x);
      else if (v instanceof Map) for (const [a, b] of v) (isNode(a) && out.push(a), isNode(b) && out.push(b));
    }
    return out;
  }

  private collectBindings(n: JNode, depth: number): void {
    if (depth > MAX_DEPTH) throw new RangeError('template nested too deeply to analyse');
    if (n.type === 'Set' && isNode(n.assignee)) {
      for (const name of this.targetNames(n.assignee)) this.bound.add(name);
      if (n.assignee.type === 'Identifier' && isNode(n.value)) {
        const vals = this.fold(n.value, 0);
        if (vals) {
          const name = n.assignee.value as string;
          this.consts.set(name, unique([...(this.consts.get(name) ?? []), ...vals]).slice(0, MAX_VALUES));
        }
      }
    } else if (n.type === 'For' && isNode(n.loopvar)) {
      for (const name of this.targetNames(n.loopvar)) this.bound.add(name);
      // `{% for p in ['__cla', 'ss__'] %}`: the loop variable takes each literal.
      if (n.loopvar.type === 'Identifier' && isNode(n.iterable) && n.iterable.type === 'ArrayLiteral') {
        const vals = (n.iterable.value as JNode[]).flatMap((e) => this.fold(e, 0) ?? []);
        if (vals.length) this.consts.set(n.loopvar.value as string, unique(vals).slice(0, MAX_VALUES));
      }
    } else if (n.type === 'Macro') {
      this.bound.add((n.name as JNode).value as string);
      for (const a of (n.args as JNode[]) ?? []) {
        if (a.type === 'Identifier') this.bound.add(a.value as string);
        else if (a.type === 'KeywordArgumentExpression') this.bound.add(((a.key as JNode).value as string) ?? '');
      }
    }
    for (const c of this.children(n)) this.collectBindings(c, depth + 1);
  }

  private targetNames(t: JNode): string[] {
    if (t.type === 'Identifier') return [t.value as string];
    if (t.type === 'TupleLiteral' || t.type === 'ArrayLiteral') return (t.value as JNode[]).flatMap((x) => this.targetNames(x));
    return [];
  }

  private visit(n: JNode, depth: number): void {
    if (depth > MAX_DEPTH) throw new RangeError('template nested too deeply to analyse');
    const isExpr = n.type.endsWith('Expression') || n.type.endsWith('Literal') || n.type === 'Identifier' || n.type === 'Ternary';
    const setTop = isExpr && this.top === undefined;
    if (setTop) this.top = n;
    try {
      // Children first: in a chain a.b.c the object's accesses come before the attribute's.
      for (const c of this.children(n)) this.visit(c, depth + 1);
      this.inspect(n);
    } finally {
      if (setTop) this.top = undefined;
    }
  }

  private evidence(n: JNode): string {
    return clip(render(this.top ?? n));
  }

  private inspect(n: JNode): void {
    const f = this.facts;
    switch (n.type) {
      case 'StringLiteral': {
        // A literal at statement level is template text (or a printed constant): not a name.
        const v = n.value as string;
        if (n !== this.top && v.length <= 64) f.constants.set(v, this.evidence(n));
        break;
      }
      case 'BinaryExpression': {
        // Record what string concatenation builds ('__cla' ~ 'ss__').
        const vals = this.fold(n, 0);
        for (const v of vals ?? []) if (v.length <= 64) f.constants.set(v, this.evidence(n));
        break;
      }
      case 'KeywordArgumentExpression': {
        // dict(__class__=1) makes the name a string key.
        const k = (n.key as JNode).value as string;
        if (isDunderish(k)) f.constants.set(k, this.evidence(n));
        break;
      }
      case 'MemberExpression': {
        const obj = n.object as JNode;
        const prop = n.property as JNode;
        if (obj.type === 'Identifier' && GADGETS.has(obj.value as string) && !this.bound.has(obj.value as string)) {
          f.gadgets.push({ name: obj.value as string, evidence: this.evidence(n) });
        }
        if (!n.computed) {
          if (prop.type === 'Identifier') f.accesses.push({ name: prop.value as string, kind: 'attr', evidence: this.evidence(n) });
        } else if (prop.type !== 'SliceExpression') {
          const vals = this.fold(prop, 0);
          if (vals) for (const v of vals) f.accesses.push({ name: v, kind: 'item', evidence: this.evidence(n) });
          else if (!isNumeric(prop)) f.computedSubscripts.push(this.evidence(n));
        }
        break;
      }
      case 'FilterExpression': {
        const filter = n.filter as JNode;
        const fname = (filter.type === 'CallExpression' ? (filter.callee as JNode).value : filter.value) as string;
        const args = filter.type === 'CallExpression' ? ((filter.args as JNode[]) ?? []) : [];
        if (fname === 'attr') this.attributeArg(args[0], n);
        else if (ATTR_POSITIONAL.has(fname) && args[0] && args[0].type !== 'KeywordArgumentExpression') this.attributeArg(args[0], n);
        if (ATTRIBUTE_FILTERS.has(fname) || ATTR_POSITIONAL.has(fname)) {
          for (const a of args) if (a.type === 'KeywordArgumentExpression' && (a.key as JNode).value === 'attribute') this.attributeArg(a.value as JNode, n);
        }
        // x|map('attr', '__class__')
        if (fname === 'map' && args[0] && this.fold(args[0], 0)?.includes('attr')) this.attributeArg(args[1], n);
        break;
      }
      case 'CallExpression': {
        // x.__getattribute__('os'), x.__getitem__('os'), x.get('os')
        const callee = n.callee as JNode;
        if (callee.type === 'MemberExpression' && !callee.computed) {
          const m = (callee.property as JNode).value as string;
          const args = (n.args as JNode[]) ?? [];
          if ((m === '__getattribute__' || m === '__getattr__' || m === '__getitem__' || m === 'get' || m === 'pop') && args[0]) {
            const vals = this.fold(args[0], 0);
            if (vals) for (const v of vals) if (m !== 'get' && m !== 'pop' ? true : isUnsafeAttribute(v) || isExecName(v)) f.accesses.push({ name: v, kind: 'item', evidence: this.evidence(n) });
          }
        }
        break;
      }
    }
  }

  private attributeArg(arg: JNode | undefined, at: JNode): void {
    if (!arg) return;
    const vals = this.fold(arg, 0);
    if (vals) for (const v of vals) this.facts.accesses.push({ name: v, kind: 'filter', evidence: this.evidence(at) });
    else this.facts.computed.push(this.evidence(at));
  }

  /** Possible string values of an expression, when they can be known without rendering. */
  fold(n: JNode, depth: number): string[] | undefined {
    if (depth > 64) return undefined;
    switch (n.type) {
      case 'StringLiteral':
        return [n.value as string];
      case 'IntegerLiteral':
      case 'FloatLiteral':
        return [String(n.value)];
      case 'Identifier':
        return this.consts.get(n.value as string);
      case 'Ternary': {
        const a = this.fold(n.trueExpr as JNode, depth + 1);
        const b = this.fold(n.falseExpr as JNode, depth + 1);
        return a && b ? unique([...a, ...b]).slice(0, MAX_VALUES) : (a ?? b);
      }
      case 'BinaryExpression': {
        const op = (n.operator as { value: string }).value;
        const l = this.fold(n.left as JNode, depth + 1);
        const r = this.fold(n.right as JNode, depth + 1);
        if (!l || !r) return undefined;
        if (op === '+' || op === '~') return cross(l, r, (a, b) => a + b);
        if (op === '*') return cross(l, r, (a, b) => (/^\d+$/.test(b) ? repeat(a, +b) : /^\d+$/.test(a) ? repeat(b, +a) : undefined));
        if (op === '%') return cross(l, r, (a, b) => pyFormat(a, [b]));
        return undefined;
      }
      case 'FilterExpression': {
        const filter = n.filter as JNode;
        const fname = (filter.type === 'CallExpression' ? (filter.callee as JNode).value : filter.value) as string;
        const args = filter.type === 'CallExpression' ? ((filter.args as JNode[]) ?? []) : [];
        const operand = n.operand as JNode;
        if (fname === 'join') {
          const sep = args[0] ? this.fold(args[0], depth + 1)?.[0] : '';
          const parts = this.foldList(operand, depth + 1);
          return parts && sep !== undefined ? [parts.join(sep)] : undefined;
        }
        if (fname === 'format') {
          const fmt = this.fold(operand, depth + 1);
          const vals = args.map((a) => this.fold(a, depth + 1)?.[0]);
          if (!fmt || vals.some((v) => v === undefined)) return undefined;
          return fmt.map((x) => pyFormat(x, vals as string[])).filter((x): x is string => x !== undefined);
        }
        const vals = this.fold(operand, depth + 1);
        if (!vals) return undefined;
        const a0 = args[0] ? this.fold(args[0], depth + 1)?.[0] : undefined;
        const a1 = args[1] ? this.fold(args[1], depth + 1)?.[0] : undefined;
        return mapString(fname, vals, a0, a1);
      }
      case 'CallExpression': {
        // 'x'.join([...]), 'ssalc'.replace(...), '{}{}'.format(...) and friends.
        const callee = n.callee as JNode;
        if (callee.type !== 'MemberExpression' || callee.computed) return undefined;
        const m = (callee.property as JNode).value as string;
        const args = (n.args as JNode[]) ?? [];
        const base = this.fold(callee.object as JNode, depth + 1);
        if (!base) return undefined;
        if (m === 'join' && args[0]) {
          const parts = this.foldList(args[0], depth + 1);
          return parts ? base.map((s) => parts.join(s)) : undefined;
        }
        if (m === 'format') {
          const vals = args.map((a) => this.fold(a, depth + 1)?.[0]);
          if (vals.some((v) => v === undefined)) return undefined;
          return base.map((s) => braceFormat(s, vals as string[]));
        }
        const a0 = args[0] ? this.fold(args[0], depth + 1)?.[0] : undefined;
        const a1 = args[1] ? this.fold(args[1], depth + 1)?.[0] : undefined;
        return mapString(m, base, a0, a1);
      }
      case 'MemberExpression': {
        // 'ssalc__'[::-1], 'x__class__y'[1:-1]
        const prop = n.property as JNode;
        if (!n.computed || prop.type !== 'SliceExpression') return undefined;
        const base = this.fold(n.object as JNode, depth + 1);
        if (!base) return undefined;
        const num = (x: unknown) => (isNode(x) ? numberOf(x) : undefined);
        const [s, e, st] = [prop.start, prop.stop, prop.step].map((x) => (x === undefined || x === null ? null : num(x)));
        if ([s, e, st].some((x) => x === undefined)) return undefined;
        return base.map((b) => pySlice(b, s as number | null, e as number | null, st as number | null));
      }
    }
    return undefined;
  }

  private foldList(n: JNode, depth: number): string[] | undefined {
    if (n.type !== 'ArrayLiteral' && n.type !== 'TupleLiteral') return undefined;
    const out: string[] = [];
    for (const e of n.value as JNode[]) {
      const v = this.fold(e, depth);
      if (!v) return undefined;
      out.push(v[0]);
    }
    return out;
  }
}

function numberOf(n: JNode): number | undefined {
  if (n.type === 'IntegerLiteral' || n.type === 'FloatLiteral') return n.value as number;
  if (n.type === 'UnaryExpression' && (n.operator as { value: string }).value === '-') {
    const v = numberOf(n.argument as JNode);
    return v === undefined ? undefined : -v;
  }
  return undefined;
}

function isNumeric(n: JNode): boolean {
  return numberOf(n) !== undefined;
}

function cross(a: string[], b: string[], f: (x: string, y: string) => string | undefined): string[] | undefined {
  const out: string[] = [];
  for (const x of a) for (const y of b) {
    const v = f(x, y);
    if (v !== undefined && v.length <= MAX_STRING) out.push(v);
    if (out.length >= MAX_VALUES) return out;
  }
  return out.length ? out : undefined;
}

function repeat(s: string, n: number): string | undefined {
  return n >= 0 && s.length * n <= MAX_STRING ? s.repeat(n) : undefined;
}

/** The string filters and methods that keep a value foldable. */
function mapString(name: string, vals: string[], a0?: string, a1?: string): string[] | undefined {
  const f = (s: string): string | undefined => {
    switch (name) {
      case 'lower':
        return s.toLowerCase();
      case 'upper':
        return s.toUpperCase();
      case 'string':
      case 'safe':
      case 'e':
      case 'escape':
        return s;
      case 'trim':
      case 'strip':
        return a0 === undefined ? s.trim() : stripChars(s, a0, true, true);
      case 'lstrip':
        return a0 === undefined ? s.trimStart() : stripChars(s, a0, true, false);
      case 'rstrip':
        return a0 === undefined ? s.trimEnd() : stripChars(s, a0, false, true);
      case 'reverse':
        return [...s].reverse().join('');
      case 'replace':
        return a0 !== undefined && a1 !== undefined && a0 !== '' ? s.split(a0).join(a1) : undefined;
      case 'capitalize':
        return s.charAt(0).toUpperCase() + s.slice(1).toLowerCase();
      case 'title':
        return s.replace(/\w\S*/g, (w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase());
      case 'first':
        return s.charAt(0);
      case 'last':
        return s.charAt(s.length - 1);
      default:
        return undefined;
    }
  };
  const out = vals.map(f);
  return out.every((x) => x !== undefined) ? (out as string[]) : undefined;
}

function stripChars(s: string, chars: string, left: boolean, right: boolean): string {
  let a = 0;
  let b = s.length;
  if (left) while (a < b && chars.includes(s[a])) a++;
  if (right) while (b > a && chars.includes(s[b - 1])) b--;
  return s.slice(a, b);
}

/** Python's %-formatting for %s, %d, %c and %% (enough for name-building tricks). */
function pyFormat(fmt: string, args: string[]): string | undefined {
  let i = 0;
  let bad = false;
  const out = fmt.replace(/%([sdrc%])/g, (_m, c: string) => {
    if (c === '%') return '%';
    const a = args[i++];
    if (a === undefined) {
      bad = true;
      return '';
    }
    if (c === 'c') {
      const n = Number(a);
      if (Number.isInteger(n) && n >= 0 && n <= 0x10ffff) return String.fromCodePoint(n);
      return a.length === 1 ? a : ((bad = true), '');
    }
    return a;
  });
  return bad ? undefined : out;
}

function braceFormat(fmt: string, args: string[]): string {
  let i = 0;
  return fmt.replace(/\{(\d*)\}/g, (_m, d: string) => args[d === '' ? i++ : Number(d)] ?? '');
}

function pySlice(s: string, start: number | null, stop: number | null, step: number | null): string {
  const chars = [...s];
  const n = chars.length;
  const st = step ?? 1;
  if (st === 0) return '';
  const norm = (x: number | null, dflt: number, lo: number, hi: number) => {
    if (x === null) return dflt;
    const v = x < 0 ? x + n : x;
    return Math.max(lo, Math.min(hi, v));
  };
  const out: string[] = [];
  if (st > 0) {
    for (let i = norm(start, 0, 0, n); i < norm(stop, n, 0, n); i += st) out.push(chars[i]);
  } else {
    for (let i = norm(start, n - 1, -1, n - 1); i > norm(stop, -1, -1, n - 1); i += st) out.push(chars[i]);
  }
  return out.join('');
}

/** Renders an AST expression back to template syntax, for evidence. */
function render(n: JNode, depth = 0): string {
  if (depth > 40) return '…';
  const r = (x: unknown) => (isNode(x) ? render(x, depth + 1) : '');
  const list = (xs: unknown) => ((xs as JNode[]) ?? []).map(r).join(', ');
  switch (n.type) {
    case 'Identifier':
      return String(n.value);
    case 'StringLiteral':
      return pyRepr(String(n.value));
    case 'IntegerLiteral':
    case 'FloatLiteral':
      return String(n.value);
    case 'ArrayLiteral':
      return `[${list(n.value)}]`;
    case 'TupleLiteral':
      return `(${list(n.value)})`;
    case 'ObjectLiteral':
      return `{${[...((n.value as Map<JNode, JNode>) ?? new Map())].map(([k, v]) => `${r(k)}: ${r(v)}`).join(', ')}}`;
    case 'MemberExpression':
      return n.computed ? `${r(n.object)}[${r(n.property)}]` : `${r(n.object)}.${r(n.property)}`;
    case 'SliceExpression':
      return `${r(n.start)}:${r(n.stop)}${n.step ? `:${r(n.step)}` : ''}`;
    case 'CallExpression':
      return `${r(n.callee)}(${list(n.args)})`;
    case 'FilterExpression':
      return `${r(n.operand)}|${r(n.filter)}`;
    case 'TestExpression':
      return `${r(n.operand)} is ${n.negate ? 'not ' : ''}${r(n.test)}`;
    case 'BinaryExpression':
      return `${r(n.left)} ${(n.operator as { value: string }).value} ${r(n.right)}`;
    case 'UnaryExpression':
      return `${(n.operator as { value: string }).value} ${r(n.argument)}`;
    case 'KeywordArgumentExpression':
      return `${r(n.key)}=${r(n.value)}`;
    case 'Ternary':
      return `${r(n.trueExpr)} if ${r(n.condition)} else ${r(n.falseExpr)}`;
    case 'SelectExpression':
      return `${r(n.lhs)} if ${r(n.test)}`;
    case 'SpreadExpression':
      return `*${r(n.argument)}`;
    case 'KeywordSpreadExpression':
      return `**${r(n.argument)}`;
    default:
      return n.type;
  }
}

function pyRepr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  const body = s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t').split(q).join(`\\${q}`);
  return q + clip(body, 120) + q;
}

// ---------------------------------------------------------------------------
// Jinja's lexer rules, for templates the parser above rejects
// ---------------------------------------------------------------------------

export type JinjaTokenType = 'data' | 'block_begin' | 'block_end' | 'variable_begin' | 'variable_end' | 'name' | 'string' | 'number' | 'operator';

export interface JinjaToken {
  type: JinjaTokenType;
  value: string;
  /** Offset in the source. */
  pos: number;
}

const OPERATORS = ['//', '**', '==', '!=', '>=', '<=', '+', '-', '/', '*', '%', '~', '[', ']', '(', ')', '{', '}', '>', '<', '=', '.', ':', '|', ',', ';'];
const NAME_RE = /[\p{ID_Start}_][\p{ID_Continue}]*/uy;
const NUMBER_RE = /(?:0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0[xX](?:_?[0-9a-fA-F])+|(?:\d(?:_?\d)*)?\.\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?(?:[eE][+-]?\d(?:_?\d)*)?)/y;
const STRING_RE = /'([^'\\]*(?:\\.[^'\\]*)*)'|"([^"\\]*(?:\\.[^"\\]*)*)"/sy;
const RAW_BEGIN = /\{%[-+]?\s*raw\s*[-+]?%\}/y;
const RAW_END = /\{%[-+]?\s*endraw\s*[-+]?%\}/g;

/**
 * Tokenises a template the way Jinja 3's default lexer does (delimiters
 * `{{ }}`, `{% %}`, `{# #}`; `-`/`+` whitespace control; raw blocks; Python
 * string escapes). Stops at the first error, returning the tokens so far.
 */
export function lexJinja(src: string): { tokens: JinjaToken[]; error?: string } {
  const tokens: JinjaToken[] = [];
  const text = src.replace(/\r\n?/g, '\n');
  let pos = 0;
  const n = text.length;
  while (pos < n) {
    // Data up to the next opening delimiter.
    let next = -1;
    for (let i = text.indexOf('{', pos); i >= 0 && i < n; i = text.indexOf('{', i + 1)) {
      const c = text[i + 1];
      if (c === '{' || c === '%' || c === '#') {
        next = i;
        break;
      }
    }
    if (next < 0) {
      tokens.push({ type: 'data', value: text.slice(pos), pos });
      break;
    }
    if (next > pos) tokens.push({ type: 'data', value: text.slice(pos, next), pos });
    pos = next;
    const kind = text[pos + 1];
    if (kind === '#') {
      const end = text.indexOf('#}', pos + 2);
      if (end < 0) return { tokens, error: `unterminated comment at offset ${pos}` };
      pos = end + 2;
      continue;
    }
    if (kind === '%') {
      RAW_BEGIN.lastIndex = pos;
      if (RAW_BEGIN.test(text)) {
        const start = RAW_BEGIN.lastIndex;
        RAW_END.lastIndex = start;
        const m = RAW_END.exec(text);
        if (!m) return { tokens, error: `raw block at offset ${pos} is never closed` };
        tokens.push({ type: 'data', value: text.slice(start, m.index), pos: start });
        pos = m.index + m[0].length;
        continue;
      }
    }
    const isBlock = kind === '%';
    tokens.push({ type: isBlock ? 'block_begin' : 'variable_begin', value: text.slice(pos, pos + 2), pos });
    pos += 2;
    if (text[pos] === '-' || (isBlock && text[pos] === '+')) pos++;
    const balance: string[] = [];
    let closed = false;
    while (pos < n) {
      const c = text[pos];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') {
        pos++;
        continue;
      }
      if (balance.length === 0) {
        const endTok = isBlock ? /[-+]?%\}/y : /-?\}\}/y;
        endTok.lastIndex = pos;
        if (endTok.test(text)) {
          tokens.push({ type: isBlock ? 'block_end' : 'variable_end', value: text.slice(pos, endTok.lastIndex), pos });
          pos = endTok.lastIndex;
          closed = true;
          break;
        }
      }
      STRING_RE.lastIndex = pos;
      const sm = STRING_RE.exec(text);
      if (sm) {
        const body = sm[1] ?? sm[2] ?? '';
        const value = pyUnescape(body);
        if (value === undefined) return { tokens, error: `invalid escape in string at offset ${pos}` };
        tokens.push({ type: 'string', value, pos });
        pos = STRING_RE.lastIndex;
        continue;
      }
      if (c === "'" || c === '"') return { tokens, error: `unterminated string at offset ${pos}` };
      NUMBER_RE.lastIndex = pos;
      if (/[0-9.]/.test(c) && NUMBER_RE.exec(text) && NUMBER_RE.lastIndex > pos && !(c === '.' && !/[0-9]/.test(text[pos + 1] ?? ''))) {
        tokens.push({ type: 'number', value: text.slice(pos, NUMBER_RE.lastIndex), pos });
        pos = NUMBER_RE.lastIndex;
        continue;
      }
      NAME_RE.lastIndex = pos;
      const nm = NAME_RE.exec(text);
      if (nm) {
        tokens.push({ type: 'name', value: nm[0], pos });
        pos = NAME_RE.lastIndex;
        continue;
      }
      const op = OPERATORS.find((o) => text.startsWith(o, pos));
      if (!op) return { tokens, error: `unexpected character ${JSON.stringify(c)} at offset ${pos}` };
      if (op === '(' || op === '[' || op === '{') balance.push(op === '(' ? ')' : op === '[' ? ']' : '}');
      else if (op === ')' || op === ']' || op === '}') {
        if (balance.pop() !== op) return { tokens, error: `unexpected ${JSON.stringify(op)} at offset ${pos}` };
      }
      tokens.push({ type: 'operator', value: op, pos });
      pos += op.length;
    }
    if (!closed) return { tokens, error: `tag opened at offset ${next} is never closed` };
  }
  return { tokens };
}

/** Python's unicode-escape decoding, as Jinja applies it to string literals; undefined where Python raises. */
export function pyUnescape(s: string): string | undefined {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const d = s[++i];
    if (d === undefined) return undefined;
    const simple: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\n': '' };
    if (d in simple) {
      out += simple[d];
    } else if (/[0-7]/.test(d)) {
      let oct = d;
      while (oct.length < 3 && /[0-7]/.test(s[i + 1] ?? '')) oct += s[++i];
      out += String.fromCharCode(parseInt(oct, 8));
    } else if (d === 'x' || d === 'u' || d === 'U') {
      const len = d === 'x' ? 2 : d === 'u' ? 4 : 8;
      const hex = s.slice(i + 1, i + 1 + len);
      if (hex.length !== len || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff) return undefined;
      out += String.fromCodePoint(cp);
      i += len;
    } else if (d === 'N') {
      // \N{NAME}: the character database is not available here; keep a placeholder.
      const end = s.indexOf('}', i);
      if (s[i + 1] !== '{' || end < 0) return undefined;
      out += '\ufffd';
      i = end;
    } else {
      out += `\\${d}`;
    }
  }
  return out;
}

/** Scans a Jinja token stream for the same patterns as the AST walk. */
function scanTokens(tokens: JinjaToken[], src: string): Facts {
  const f = newFacts();
  const consts = new Map<string, string[]>();
  const bound = new Set<string>();
  // Split into tags; each tag is scanned on its own (evidence = the tag's source).
  const tags: JinjaToken[][] = [];
  let cur: JinjaToken[] | undefined;
  for (const t of tokens) {
    if (t.type === 'block_begin' || t.type === 'variable_begin') cur = [t];
    else if (t.type === 'block_end' || t.type === 'variable_end') {
      if (cur) (cur.push(t), tags.push(cur));
      cur = undefined;
    } else if (cur) cur.push(t);
  }
  if (cur && cur.length > 1) tags.push(cur);
  const text = src.replace(/\r\n?/g, '\n'); // token positions are in the newline-normalised text
  const tagSource = (tag: JinjaToken[]) => clip(text.slice(tag[0].pos, Math.min(tag[0].pos + MAX_EVIDENCE * 2, tag[tag.length - 1].pos + tag[tag.length - 1].value.length)));

  type Folded = { vals: string[]; end: number };
  /** A folded string expression starting at i: STRING ((+|~) STRING)* or a [..]|join; returns values and the end index. */
  const foldAt = (tag: JinjaToken[], i: number): { vals: string[]; end: number } | undefined => {
    const one = (j: number): { vals: string[]; end: number } | undefined => {
      const t = tag[j];
      if (!t) return undefined;
      if (t.type === 'string') return { vals: [t.value], end: j + 1 };
      if (t.type === 'number') return { vals: [t.value], end: j + 1 };
      if (t.type === 'name' && consts.has(t.value) && !(tag[j + 1]?.value === '(')) return { vals: consts.get(t.value)!, end: j + 1 };
      if (t.value === '(') {
        // A parenthesised string expression: ('_'*2 ~ 'class' ~ '_'*2)
        const inner = foldAt(tag, j + 1);
        if (inner && tag[inner.end]?.value === ')') return { vals: inner.vals, end: inner.end + 1 };
      }
      if (t.value === '[' || t.value === '(') {
        // ['__cla', 'ss__']|join
        const close = t.value === '[' ? ']' : ')';
        const parts: string[] = [];
        let k = j + 1;
        while (tag[k] && tag[k].value !== close) {
          const p = one(k);
          if (!p) return undefined;
          parts.push(p.vals[0]);
          k = p.end;
          if (tag[k]?.value === ',') k++;
        }
        if (tag[k]?.value !== close || tag[k + 1]?.value !== '|' || tag[k + 2]?.value !== 'join') return undefined;
        let sep = '';
        let end = k + 3;
        if (tag[end]?.value === '(' && tag[end + 1]?.type === 'string' && tag[end + 2]?.value === ')') ((sep = tag[end + 1].value), (end += 3));
        return { vals: [parts.join(sep)], end };
      }
      return undefined;
    };
    /** An operand with the postfix operations that bind tighter than `~`/`+`: `*n`, slices, filters. */
    const operand = (j: number): Folded | undefined => {
      let acc: Folded | undefined = one(j);
      if (!acc) return undefined;
      for (;;) {
        const op = tag[acc.end];
        if (op && op.type === 'operator' && op.value === '*' && tag[acc.end + 1]?.type === 'number') {
          const times: number = Number(tag[acc.end + 1].value);
          acc = { vals: acc.vals.map((v) => repeat(v, times) ?? v), end: acc.end + 2 };
          continue;
        }
        if (op && op.value === '[') {
          // '__ssalc__'[::-1], 'x__class__x'[1:-1]
          const nums: (number | null)[] = [];
          let k: number = acc.end + 1;
          let cur: number | null = null;
          let ok = true;
          while (tag[k] && tag[k].value !== ']') {
            const tk = tag[k];
            if (tk.value === ':') (nums.push(cur), (cur = null));
            else if (tk.type === 'number') cur = Number(tk.value);
            else if (tk.value === '-' && tag[k + 1]?.type === 'number') (cur = -Number(tag[k + 1].value), k++);
            else ok = false;
            k++;
          }
          nums.push(cur);
          if (!ok || tag[k]?.value !== ']' || nums.length < 2 || nums.length > 3) break;
          acc = { vals: acc.vals.map((v) => pySlice(v, nums[0], nums[1], nums[2] ?? null)), end: k + 1 };
          continue;
        }
        // '…'|lower, |upper, |reverse, |replace('a','b')
        if (op && op.value === '|' && tag[acc.end + 1]?.type === 'name') {
          const fname = tag[acc.end + 1].value;
          let a0: string | undefined;
          let a1: string | undefined;
          let end: number = acc.end + 2;
          if (tag[end]?.value === '(') {
            const args: string[] = [];
            let k = end + 1;
            while (tag[k] && tag[k].type === 'string') {
              args.push(tag[k].value);
              k++;
              if (tag[k]?.value === ',') k++;
            }
            if (tag[k]?.value !== ')') break;
            [a0, a1] = args;
            end = k + 1;
          }
          const mapped = mapString(fname, acc.vals, a0, a1);
          if (!mapped) break;
          acc = { vals: mapped, end };
          continue;
        }
        break;
      }
      return acc;
    };
    let acc: Folded | undefined = operand(i);
    if (!acc) return undefined;
    // Long chains ('a' + 'a' + … ) are cut: names are short, and the scan must stay linear.
    for (let terms = 1; terms < 64; terms++) {
      const op = tag[acc.end];
      if (op && op.type === 'operator' && (op.value === '+' || op.value === '~')) {
        const r = operand(acc.end + 1);
        if (!r) break;
        acc = { vals: cross(acc.vals, r.vals, (a, b) => a + b) ?? acc.vals, end: r.end };
        continue;
      }
      break;
    }
    return acc;
  };

  // First pass: assignments of constant strings and bound names.
  for (const tag of tags) {
    if (tag[0].type !== 'block_begin') continue;
    const kw = tag[1]?.value;
    if (kw === 'set' && tag[2]?.type === 'name') {
      bound.add(tag[2].value);
      if (tag[3]?.value === '=') {
        const v = foldAt(tag, 4);
        if (v && tag[v.end]?.type === 'block_end') consts.set(tag[2].value, unique([...(consts.get(tag[2].value) ?? []), ...v.vals]).slice(0, MAX_VALUES));
      }
    } else if (kw === 'for') {
      let k = 2;
      for (; tag[k] && tag[k].value !== 'in'; k++) if (tag[k].type === 'name') bound.add(tag[k].value);
      // {% for p in ['__cla', 'ss__'] %}: the loop variable takes each literal.
      if (k === 3 && tag[2].type === 'name' && tag[k + 1]?.value === '[') {
        const vals: string[] = [];
        let j = k + 2;
        while (tag[j] && tag[j].type === 'string') {
          vals.push(tag[j].value);
          j++;
          if (tag[j]?.value === ',') j++;
        }
        if (tag[j]?.value === ']' && vals.length) consts.set(tag[2].value, unique(vals).slice(0, MAX_VALUES));
      }
    } else if (kw === 'macro') {
      for (let k = 2; tag[k]; k++) if (tag[k].type === 'name' && (tag[k + 1]?.value === ',' || tag[k + 1]?.value === ')' || tag[k + 1]?.value === '=' || k === 2)) bound.add(tag[k].value);
    }
  }

  for (const tag of tags) {
    const ev = tagSource(tag);
    for (let i = 1; i < tag.length - 1; i++) {
      const t = tag[i];
      const prev = tag[i - 1];
      // Fold from the first string of a concatenation only (each chain once).
      if (t.type === 'string' && !(prev.type === 'operator' && (prev.value === '+' || prev.value === '~'))) {
        const v = foldAt(tag, i);
        for (const s of v?.vals ?? [t.value]) if (s.length <= 64) f.constants.set(s, ev);
      }
      if (t.type === 'name' && prev.value === '.' && prev.type === 'operator') f.accesses.push({ name: t.value, kind: 'attr', evidence: ev });
      if (t.type === 'name' && GADGETS.has(t.value) && !bound.has(t.value) && (tag[i + 1]?.value === '.' || tag[i + 1]?.value === '[') && prev.value !== '.') {
        f.gadgets.push({ name: t.value, evidence: ev });
      }
      if (t.type === 'name' && isDunderish(t.value) && tag[i + 1]?.value === '=' && prev.value !== 'set') f.constants.set(t.value, ev);
      if (t.type === 'operator' && t.value === '[' && i > 1 && ((prev.type === 'name' && !KEYWORDS.has(prev.value)) || prev.value === ']' || prev.value === ')' || prev.type === 'string')) {
        const v = foldAt(tag, i + 1);
        if (v && tag[v.end]?.value === ']') for (const s of v.vals) f.accesses.push({ name: s, kind: 'item', evidence: ev });
        else if (!(tag[i + 1]?.type === 'number' || (tag[i + 1]?.value === '-' && tag[i + 2]?.type === 'number') || tag[i + 1]?.value === ':')) f.computedSubscripts.push(ev);
      }
      if (t.type === 'name' && prev.value === '|' && tag[i + 1]?.value === '(') {
        const fname = t.value;
        if (fname === 'attr' || (ATTR_POSITIONAL.has(fname) && tag[i + 2]?.type === 'string')) {
          const v = foldAt(tag, i + 2);
          if (v && (tag[v.end]?.value === ')' || tag[v.end]?.value === ',')) for (const s of v.vals) f.accesses.push({ name: s, kind: 'filter', evidence: ev });
          else if (fname === 'attr') f.computed.push(ev);
        }
        if (ATTRIBUTE_FILTERS.has(fname) || ATTR_POSITIONAL.has(fname)) {
          for (let k = i + 2; tag[k] && tag[k].value !== ')'; k++) {
            if (tag[k].value === 'attribute' && tag[k + 1]?.value === '=') {
              const v = foldAt(tag, k + 2);
              if (v) for (const s of v.vals) f.accesses.push({ name: s, kind: 'filter', evidence: ev });
              else f.computed.push(ev);
            }
          }
        }
        if (fname === 'map' && tag[i + 2]?.type === 'string' && tag[i + 2].value === 'attr' && tag[i + 3]?.value === ',') {
          const v = foldAt(tag, i + 4);
          if (v) for (const s of v.vals) f.accesses.push({ name: s, kind: 'filter', evidence: ev });
          else f.computed.push(ev);
        }
      }
      // {% import 'os' as os %}, {% from 'x' import y %}: Jinja template imports, reported by name.
      if (t.type === 'name' && (t.value === 'import' || t.value === 'include' || t.value === 'extends') && tag[0].type === 'block_begin' && (i === 1 || tag[1].value === 'from')) {
        f.constants.set('import', ev);
      }
    }
  }
  return f;
}

/** Last resort when even Jinja's lexer rules fail: look for walk names in the raw text. */
function scanRaw(src: string): Facts {
  const f = newFacts();
  const ev = (i: number) => clip(src.slice(Math.max(0, i - 40), i + 80).replace(/\s+/g, ' '));
  for (const m of src.matchAll(/\.\s*([A-Za-z_][A-Za-z0-9_]*)/g)) {
    if (isDunderish(m[1]) || isExecName(m[1])) f.accesses.push({ name: m[1], kind: 'attr', evidence: ev(m.index ?? 0) });
  }
  for (const m of src.matchAll(/\|\s*attr\s*\(/g)) f.computed.push(ev(m.index ?? 0));
  for (const m of src.matchAll(/['"](__[A-Za-z0-9_]+__)['"]/g)) f.accesses.push({ name: m[1], kind: 'item', evidence: ev(m.index ?? 0) });
  return f;
}

function parserCanTake(src: string): string | undefined {
  if (src.length > MAX_PARSER_CHARS) return `template is ${src.length} characters, more than the parser is given (${MAX_PARSER_CHARS})`;
  // Longest whitespace run, in one pass (a regex here would backtrack the same way).
  let run = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src.charCodeAt(i);
    if (c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x2028 || c === 0x2029 || c === 0xfeff) {
      if (++run > MAX_PARSER_WS_RUN) return `template has a run of more than ${MAX_PARSER_WS_RUN} whitespace characters at offset ${i - run + 1}`;
    } else run = 0;
  }
  return undefined;
}

export interface AnalyseOptions {
  /** Skip @huggingface/jinja and use the token scan alone (tests the fallback on its own). */
  tokensOnly?: boolean;
}

/** Analyses one template; never throws. */
export function analyseTemplate(source: string, opts: AnalyseOptions = {}): TemplateAnalysis {
  let parseError = opts.tokensOnly ? 'token scan requested' : parserCanTake(source);
  if (parseError === undefined) {
    try {
      const program = parse(tokenize(source)) as unknown as JNode;
      const walker = new AstWalker();
      walker.run(program);
      // The lexer pass also runs: parser and Jinja may read a template differently.
      const lexed = lexJinja(source);
      const facts = merge(walker.facts, lexed.error ? scanRaw(source) : scanTokens(lexed.tokens, source));
      return { parsed: true, method: 'ast', issues: summarise(facts), ...(lexed.error ? { lexError: lexed.error } : {}) };
    } catch (e) {
      parseError = e instanceof Error ? e.message : String(e);
    }
  }
  const lexed = lexJinja(source);
  const facts = scanTokens(lexed.tokens, source);
  if (lexed.error) {
    const raw = scanRaw(source.slice(lexed.tokens.length ? lexed.tokens[lexed.tokens.length - 1].pos : 0));
    facts.accesses.push(...raw.accesses);
    facts.computed.push(...raw.computed);
  }
  return { parsed: false, parseError: clip(parseError, 200), method: 'tokens', issues: summarise(facts), ...(lexed.error ? { lexError: lexed.error } : {}) };
}

/**
 * Adds what the token scan saw to the AST facts. Only walk names are taken
 * from the tokens: the AST is more precise about everything else, and the
 * token scan is here to catch what a parser differential might hide.
 */
function merge(ast: Facts, tok: Facts): Facts {
  const extra = tok.accesses.filter((a) => isUnsafeAttribute(a.name) && (a.kind !== 'item' || isDunderish(a.name)) && !ast.accesses.some((b) => b.name === a.name));
  ast.accesses.push(...extra);
  if (extra.length) {
    for (const a of tok.accesses) if (isExecName(a.name)) ast.accesses.push(a);
  }
  return ast;
}

/** Whether a string looks like a Jinja template (has an expression or statement tag). */
export function looksLikeTemplate(s: string): boolean {
  const a = s.indexOf('{{');
  if (a >= 0 && s.indexOf('}}', a + 2) > a) return true;
  const b = s.indexOf('{%');
  return b >= 0 && s.indexOf('%}', b + 2) > b;
}
