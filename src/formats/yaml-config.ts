/**
 * YAML configs that name Python callables, read without constructing
 * anything: the `yaml` package parses to an AST whose unknown tags are kept
 * as written, and this module lists what a loader would import and call.
 *
 *  - HyperPyYAML (speechbrain hyperparams.yaml): `!new:mod.Class` (instantiate),
 *    `!name:mod.func` (functools.partial, or the object), `!apply:mod.func`
 *    (call), `!module:mod` (import), `!ref <key.attr>` (getattr), `!include:file`.
 *    Targets are resolved with pydoc.locate.
 *  - PyYAML python tags (yaml.unsafe_load, and HyperPyYAML, which uses the
 *    unsafe yaml.Loader): `!!python/object/apply:f` (call), `/object/new:C`,
 *    `/object:C`, `/name:f`, `/module:m`.
 *  - Hydra / OmegaConf (NeMo model_config.yaml): `_target_: mod.Class` at any
 *    depth, called by hydra.utils.instantiate with `_args_` and the sibling keys;
 *    `_partial_: true` makes it a functools.partial; legacy `cls`/`class` with
 *    `params`; NeMo's top-level `target:` (the model class restore_from imports).
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Node as YamlNode, type Pair } from 'yaml';
import { isUtf8Text } from './hf-config.js';

/** Read at most this much of a YAML config (real ones are kilobytes). */
export const MAX_YAML_BYTES = 16 * 1024 * 1024;
/**
 * Larger texts are searched by pattern only: the `yaml` parser manages well
 * under 1 MB/s on hostile shapes (thousands of aliases, tags or `- - -`), and
 * a padded file must not stall a scan. Real configs are tens of kilobytes.
 */
export const MAX_PARSED_YAML_CHARS = 256 * 1024;
/** Flow nesting (`[[[…`, `{a: {a: …`) past this is searched by pattern: the parser recurses and crawls. */
const MAX_FLOW_DEPTH = 256;

/**
 * Deepest `[`/`{` nesting, counting brackets inside quotes and comments too:
 * an upper bound that quoting tricks cannot lower.
 */
function flowDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) {
      if (++depth > max) max = depth;
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
  }
  return max;
}

export type CallableSyntax = 'hyperpyyaml' | 'pyyaml' | 'hydra' | 'nemo-target' | 'ref-attribute';

export interface YamlCallable {
  syntax: CallableSyntax;
  /** What the loader does with the target: new, name, apply, module (HyperPyYAML); object/apply, object/new, object, name, module (PyYAML); target (Hydra/NeMo); getattr (a !ref attribute). */
  kind: string;
  /** How the file writes it: "!new:os.system", "!!python/object/apply:os.system", "_target_: os.system", "!ref <m.system>". */
  display: string;
  /** Dotted path handed to the importer, %-escapes decoded as the YAML loader decodes them. */
  target: string;
  /** Where in the document, e.g. "encoder.preprocessor" or "modules[2]". */
  path: string;
  /** 1-based line of the key or tag. */
  line: number;
  /** Character offset of that place in the text. */
  index: number;
  /** The call the loader would make, rendered Python-like: `os.system('touch /tmp/x')`. */
  call: string;
  /** Found by pattern in text that did not parse as YAML. */
  loose?: boolean;
}

export interface YamlInclude {
  file: string;
  path: string;
  line: number;
  index: number;
}

/** A `!ref <key.__attr__>` read of an attribute no config needs. */
export interface YamlAttributeRead {
  ref: string;
  attr: string;
  path: string;
  line: number;
  index: number;
}

export interface YamlConfig {
  callables: YamlCallable[];
  includes: YamlInclude[];
  attributeReads: YamlAttributeRead[];
  /** Parse errors (first few); the callables were then also collected by pattern. */
  errors: string[];
  documents: number;
}

const HYPER_TAG = /^!(new|name|apply|module):(.*)$/s;
const PY_TAG = /^tag:yaml\.org,2002:python\/(object\/apply|object\/new|object|name|module):(.*)$/s;
const INCLUDE_TAG = /^!include:(.*)$/s;
const HYDRA_META = new Set(['_target_', '_args_', '_partial_', '_recursive_', '_convert_']);

/** PyYAML decodes %XX escapes in every tag (scan_tag_uri); `yaml` only in `!!` ones. */
export function decodeTagEscapes(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s.replace(/%(?![0-9A-Fa-f]{2})/g, '%25'));
  } catch {
    return s.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
}

// ---------------------------------------------------------------- sniffing

const YAML_FIRST_LINE =
  /^(?:---|\.\.\.|%YAML|%TAG|[-?](?:\s|$)|[[{!&]|(?:"[^"]*"|'[^']*'|[A-Za-z0-9_$@./<-][\w.\-/$@<> ]*)\s*:(?:\s|$))/;
const HEAD_MARKERS = [
  /(?:^|[\s:\-[{,])!(?:new|name|apply|module|include):\S/m,
  /!!python\/(?:object|name|module)/,
  /tag:yaml\.org,2002:python\//,
  /(?:^|[\s{,])["']?_target_["']?\s*:/m,
  /^%TAG\s/m,
];

/**
 * A YAML config worth reading: UTF-8 text whose first meaningful line looks
 * like YAML (a key, a list item, a directive, `---`), and whose head holds a
 * HyperPyYAML tag, a PyYAML python tag, a Hydra `_target_` key or a %TAG
 * directive. Other YAML (model cards, CI files) and other text are not claimed.
 */
export function sniffYamlConfig(head: Buffer): boolean {
  let h = head;
  if (h.length >= 3 && h[0] === 0xef && h[1] === 0xbb && h[2] === 0xbf) h = h.subarray(3);
  if (h.length === 0 || !isUtf8Text(h)) return false;
  const text = h.toString('utf8');
  let first: string | undefined;
  for (const raw of text.split(/\r?\n|\r/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    first = line;
    break;
  }
  return first !== undefined && YAML_FIRST_LINE.test(first);
}

/** Whether YAML text names callables anywhere (the tags and keys loaders instantiate). */
export function hasCallableMarkers(text: string): boolean {
  return HEAD_MARKERS.some((re) => re.test(text));
}

// ---------------------------------------------------------------- rendering

function pyStr(s: string): string {
  // Python's repr: single quotes unless the text has a single quote and no double quote.
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  const body = s.replace(/\\/g, '\\\\').replace(q === "'" ? /'/g : /"/g, `\\${q}`).replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
  // Control characters in evidence could forge terminal output.
  return `${q}${body.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}${q}`;
}

const RENDER_LIMIT = 400;

function clip(s: string, n = RENDER_LIMIT): string {
  return s.length > n ? `${s.slice(0, n - 3)}...` : s;
}

function scalarText(node: YamlNode): string {
  if (!isScalar(node)) return '';
  const v = node.value;
  if (typeof v === 'string') return pyStr(v);
  // YAML 1.1 in the `yaml` package reads y/n as booleans; PyYAML keeps them as strings.
  if (typeof v === 'boolean' && /^[yYnN]$/.test(node.source ?? '')) return pyStr(node.source as string);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'number') return Number.isNaN(v) ? 'nan' : !Number.isFinite(v) ? (v > 0 ? 'inf' : '-inf') : String(v);
  return pyStr(String(v));
}

function keyText(node: unknown): string {
  if (isScalar(node)) return String(node.value);
  if (node === null || node === undefined) return '';
  return '?';
}

/** A node as the loader would see it, Python-like and bounded. */
export function renderNode(node: unknown, depth = 0): string {
  if (depth > 4) return '...';
  if (node === null || node === undefined) return 'None';
  if (isAlias(node)) return `*${node.source}`;
  const n = node as YamlNode;
  const tag = typeof n.tag === 'string' ? n.tag : undefined;
  if (tag) {
    const hyper = HYPER_TAG.exec(tag);
    if (hyper) return renderCall('hyperpyyaml', hyper[1], decodeTagEscapes(hyper[2]), n, depth + 1);
    const py = PY_TAG.exec(tag);
    if (py) return renderCall('pyyaml', py[1], decodeTagEscapes(py[2]), n, depth + 1);
    if ((tag === '!ref' || tag === '!copy') && isScalar(n)) return tag === '!ref' ? String(n.value) : `copy(${String(n.value)})`;
  }
  if (isScalar(n)) return scalarText(n);
  if (isSeq(n)) return clip(`[${n.items.map((i) => renderNode(i, depth + 1)).join(', ')}]`);
  if (isMap(n)) {
    if (!tag && n.items.some((p) => keyText(p.key) === '_target_')) {
      const t = n.items.find((p) => keyText(p.key) === '_target_');
      if (t && isScalar(t.value) && typeof t.value.value === 'string') return hydraCall(t.value.value, n, depth + 1);
    }
    return clip(`{${n.items.map((p) => `${renderNode(p.key, depth + 1)}: ${renderNode(p.value, depth + 1)}`).join(', ')}}`);
  }
  return '?';
}

function argsOf(node: YamlNode, depth: number): string {
  if (isSeq(node)) return node.items.map((i) => renderNode(i, depth)).join(', ');
  if (isMap(node)) return node.items.map((p) => `${keyText(p.key)}=${renderNode(p.value, depth)}`).join(', ');
  return '';
}

function mapGet(node: YamlNode, key: string): unknown {
  if (!isMap(node)) return undefined;
  for (let i = node.items.length - 1; i >= 0; i--) if (keyText(node.items[i].key) === key) return node.items[i].value;
  return undefined;
}

function renderCall(syntax: 'hyperpyyaml' | 'pyyaml', kind: string, target: string, node: YamlNode, depth: number): string {
  if (syntax === 'hyperpyyaml') {
    const args = argsOf(node, depth);
    switch (kind) {
      case 'new':
      case 'apply':
        return clip(`${target}(${args})`);
      case 'name':
        return clip(args ? `functools.partial(${target}, ${args})` : target);
      default:
        return `import ${target}`;
    }
  }
  switch (kind) {
    case 'object/apply':
    case 'object/new': {
      let args = '';
      if (isSeq(node)) args = argsOf(node, depth);
      else if (isMap(node)) {
        const a = mapGet(node, 'args');
        const k = mapGet(node, 'kwds');
        args = [a && isSeq(a) ? argsOf(a, depth) : '', k && isMap(k) ? argsOf(k, depth) : ''].filter(Boolean).join(', ');
      }
      return clip(kind === 'object/apply' ? `${target}(${args})` : `${target}.__new__(${target}${args ? `, ${args}` : ''})`);
    }
    case 'object':
      return clip(`${target}.__new__(${target}) with state ${isMap(node) ? renderNode(node, depth) : '{}'}`);
    case 'name':
      return target;
    default:
      return `import ${target}`;
  }
}

function hydraCall(target: string, node: YamlNode, depth: number): string {
  const parts: string[] = [];
  const args = mapGet(node, '_args_');
  if (args && isSeq(args)) parts.push(argsOf(args, depth));
  if (isMap(node)) {
    for (const p of node.items) {
      const k = keyText(p.key);
      if (HYDRA_META.has(k)) continue;
      parts.push(`${k}=${renderNode(p.value, depth)}`);
    }
  }
  const partial = mapGet(node, '_partial_');
  const list = parts.filter(Boolean).join(', ');
  if (isScalar(partial) && partial.value === true) return clip(`functools.partial(${target}${list ? `, ${list}` : ''})`);
  return clip(`${target}(${list})`);
}

// ---------------------------------------------------------------- reading

interface Frame {
  node: unknown;
  path: string;
  /** Offset of the key (or the node itself) for line numbers. */
  at: number;
  depth: number;
}

const MAX_WALK_NODES = 2_000_000;

function childPath(base: string, key: string): string {
  return base ? `${base}.${key}` : key;
}

/**
 * Lists every callable, include and attribute read in `text`. Never throws:
 * parse errors are returned, and then the text is also searched by pattern,
 * because PyYAML may accept what the `yaml` package rejects.
 */
export function readYamlConfig(text: string): YamlConfig {
  const out: YamlConfig = { callables: [], includes: [], attributeReads: [], errors: [], documents: 0 };
  if (text.length > MAX_PARSED_YAML_CHARS) {
    out.errors.push(`it is larger than ${MAX_PARSED_YAML_CHARS / 1024} KiB, so it was searched by pattern only`);
    looseScan(text, out);
    return out;
  }
  if (flowDepth(text) > MAX_FLOW_DEPTH) {
    out.errors.push(`it nests brackets more than ${MAX_FLOW_DEPTH} deep, so it was searched by pattern only`);
    looseScan(text, out);
    return out;
  }
  const lc = new LineCounter();
  const lineOf = (i: number): number => {
    try {
      return lc.linePos(Math.max(0, i)).line;
    } catch {
      return 0;
    }
  };
  // Documents, or an empty stream (also an array); only errors and contents are used.
  let docs: ReadonlyArray<{ errors: ReadonlyArray<{ message: string }>; contents: unknown }>;
  try {
    docs = [...(parseAllDocuments(text, { uniqueKeys: false, strict: false, version: '1.1', lineCounter: lc, prettyErrors: false }) as Iterable<{ errors: Array<{ message: string }>; contents: unknown }>)];
  } catch (e) {
    out.errors.push(`the YAML parser failed: ${(e as Error).message}`);
    looseScan(text, out);
    return out;
  }
  const refReads: Array<{ ref: string; attr: string; path: string; index: number; root: unknown }> = [];
  for (const doc of docs) {
    out.documents++;
    for (const e of doc.errors.slice(0, 3)) out.errors.push(e.message.split('\n')[0]);
    const root = doc.contents as unknown;
    const hydraDoc = isMap(root) && (hasKeyDeep(root, '_target_') || mapGet(root, 'nemo_version') !== undefined);
    const stack: Frame[] = [{ node: root, path: '', at: rangeStart(root), depth: 0 }];
    let visited = 0;
    while (stack.length) {
      const f = stack.pop()!;
      if (++visited > MAX_WALK_NODES) {
        out.errors.push(`more than ${MAX_WALK_NODES} YAML nodes; the rest was not read`);
        break;
      }
      const node = f.node;
      if (node === null || node === undefined || isAlias(node)) continue;
      const n = node as YamlNode;
      const tag = typeof n.tag === 'string' ? n.tag : undefined;
      const where = f.path || '(document root)';
      if (tag) {
        const hyper = HYPER_TAG.exec(tag);
        const py = hyper ? null : PY_TAG.exec(tag);
        const inc = hyper || py ? null : INCLUDE_TAG.exec(tag);
        if (hyper) {
          const target = decodeTagEscapes(hyper[2]);
          out.callables.push({
            syntax: 'hyperpyyaml', kind: hyper[1], display: `!${hyper[1]}:${target}`, target, path: where,
            line: lineOf(f.at), index: f.at, call: renderCall('hyperpyyaml', hyper[1], target, n, 1),
          });
        } else if (py) {
          const target = decodeTagEscapes(py[2]);
          out.callables.push({
            syntax: 'pyyaml', kind: py[1], display: `!!python/${py[1]}:${target}`, target, path: where,
            line: lineOf(f.at), index: f.at, call: renderCall('pyyaml', py[1], target, n, 1),
          });
        } else if (inc) {
          out.includes.push({ file: decodeTagEscapes(inc[1]), path: where, line: lineOf(f.at), index: f.at });
        } else if ((tag === '!ref' || tag === '!copy') && isScalar(n) && typeof n.value === 'string') {
          for (const m of n.value.matchAll(/<([^>]*)>/g)) {
            const inner = m[1];
            const dot = inner.indexOf('.');
            if (dot >= 0) refReads.push({ ref: inner.slice(0, dot), attr: inner.slice(dot + 1), path: where, index: f.at, root });
          }
        }
      }
      if (isMap(n)) {
        let targetPair: Pair | undefined;
        let legacy: Pair | undefined;
        let hasParams = false;
        for (const p of n.items) {
          const k = keyText(p.key);
          if (k === '_target_') targetPair = p;
          else if (k === 'cls' || k === 'class') legacy = p;
          else if (k === 'params' && isMap(p.value)) hasParams = true;
        }
        for (const p of [targetPair, hasParams ? legacy : undefined]) {
          if (!p || !isScalar(p.value) || typeof p.value.value !== 'string') continue;
          const at = rangeStart(p.key) >= 0 ? rangeStart(p.key) : f.at;
          const written = p.value.value.trim();
          // OmegaConf resolves `${a.b}` before Hydra imports the target.
          const target = interpolated(root, written) ?? written;
          out.callables.push({
            syntax: 'hydra', kind: 'target', display: `${keyText(p.key)}: ${written}${target !== written ? ` (= ${target})` : ''}`, target, path: where,
            line: lineOf(at), index: at, call: p === targetPair ? hydraCall(target, n, 1) : legacyCall(target, n),
          });
        }
        if (f.depth === 0 && hydraDoc) {
          const t = n.items.find((p) => keyText(p.key) === 'target');
          if (t && isScalar(t.value) && typeof t.value.value === 'string' && /^[\w.]+\.[\w.]+$/.test(t.value.value.trim())) {
            const at = rangeStart(t.key);
            const target = t.value.value.trim();
            out.callables.push({
              syntax: 'nemo-target', kind: 'target', display: `target: ${target}`, target, path: 'target',
              line: lineOf(at), index: at, call: `${target}  (the model class NeMo imports to restore this checkpoint)`,
            });
          }
        }
        for (let i = n.items.length - 1; i >= 0; i--) {
          const p = n.items[i];
          const k = keyText(p.key);
          const at = rangeStart(p.key);
          // PyYAML constructs keys too (`? !!python/object/apply:...`).
          if (p.key !== null && !isScalar(p.key)) stack.push({ node: p.key, path: childPath(f.path, '?'), at, depth: f.depth + 1 });
          else if (isScalar(p.key) && p.key.tag) stack.push({ node: p.key, path: childPath(f.path, k), at, depth: f.depth + 1 });
          stack.push({ node: p.value, path: childPath(f.path, k), at: at >= 0 ? at : rangeStart(p.value), depth: f.depth + 1 });
        }
      } else if (isSeq(n)) {
        for (let i = n.items.length - 1; i >= 0; i--) {
          const item = n.items[i];
          stack.push({ node: item, path: `${f.path}[${i}]`, at: rangeStart(item), depth: f.depth + 1 });
        }
      }
    }
  }
  resolveRefReads(refReads, out, lineOf);
  if (out.errors.length) looseScan(text, out);
  return out;
}

/** The value of an OmegaConf `${a.b.c}` interpolation when it is a plain string in the same document. */
function interpolated(root: unknown, text: string): string | undefined {
  let t = text;
  for (let hops = 0; hops < 8; hops++) {
    const m = /^\$\{([\w.]+)\}$/.exec(t);
    if (!m) return hops ? t : undefined;
    let node: unknown = root;
    for (const part of m[1].split('.')) node = isMap(node) ? mapGet(node as YamlNode, part) : undefined;
    if (!isScalar(node) || typeof node.value !== 'string') return undefined;
    t = node.value.trim();
  }
  return undefined;
}

function legacyCall(target: string, node: YamlNode): string {
  const params = mapGet(node, 'params');
  return clip(`${target}(${params && isMap(params) ? argsOf(params, 1) : ''})`);
}

function rangeStart(node: unknown): number {
  const r = (node as { range?: [number, number, number] } | null)?.range;
  return Array.isArray(r) ? r[0] : -1;
}

function hasKeyDeep(root: YamlNode, key: string): boolean {
  const stack: unknown[] = [root];
  let budget = 200_000;
  while (stack.length && budget-- > 0) {
    const n = stack.pop();
    if (isMap(n)) {
      for (const p of n.items) {
        if (keyText(p.key) === key) return true;
        stack.push(p.value);
      }
    } else if (isSeq(n)) for (const item of n.items) stack.push(item);
  }
  return false;
}

/** HyperPyYAML's deref: "a[b][c]" walks keys from the document root. */
function lookup(root: unknown, ref: string): unknown {
  let node: unknown = root;
  for (const raw of ref.split('[')) {
    const part = raw.replace(/\]/g, '');
    if (!isMap(node)) return undefined;
    node = mapGet(node as YamlNode, part);
    if (node === undefined) return undefined;
  }
  return node;
}

/**
 * `!ref <key.attr>` becomes getattr(<key>, 'attr'). When <key> is itself a
 * callable (`!module:os`, `!name:x.f`), the attribute is a new dotted target
 * (`os.system`) to judge; a dunder attribute is an interpreter walk whatever
 * it is read from.
 */
function resolveRefReads(
  reads: Array<{ ref: string; attr: string; path: string; index: number; root: unknown }>,
  out: YamlConfig,
  lineOf: (i: number) => number,
): void {
  for (const r of reads) {
    let node = lookup(r.root, r.ref);
    for (let hops = 0; hops < 16; hops++) {
      if (!isScalar(node) || node.tag !== '!ref' || typeof node.value !== 'string') break;
      const m = /^<([^>.]*)>$/.exec(node.value.trim());
      if (!m) break;
      node = lookup(r.root, m[1]);
    }
    const tag = node && !isAlias(node) && typeof (node as YamlNode).tag === 'string' ? ((node as YamlNode).tag as string) : undefined;
    const hyper = tag ? HYPER_TAG.exec(tag) : null;
    const py = tag && !hyper ? PY_TAG.exec(tag) : null;
    const base = hyper ? decodeTagEscapes(hyper[2]) : py ? decodeTagEscapes(py[2]) : undefined;
    if (base !== undefined) {
      const target = `${base}.${r.attr}`;
      out.callables.push({
        syntax: 'ref-attribute', kind: 'getattr', display: `!ref <${r.ref}.${r.attr}>`, target, path: r.path,
        line: lineOf(r.index), index: r.index, call: `getattr(<${r.ref}>, ${pyStr(r.attr)})  # <${r.ref}> is ${tag}`,
      });
    } else if (/__\w+__/.test(r.attr)) {
      out.attributeReads.push({ ref: r.ref, attr: r.attr, path: r.path, line: lineOf(r.index), index: r.index });
    }
  }
}

const LOOSE: Array<{ re: RegExp; syntax: 'hyperpyyaml' | 'pyyaml' | 'hydra' | 'include' }> = [
  { re: /!(new|name|apply|module):([^\s[\]{},#]+)/g, syntax: 'hyperpyyaml' },
  { re: /!!python\/(object\/apply|object\/new|object|name|module):([^\s[\]{},#]+)/g, syntax: 'pyyaml' },
  { re: /tag:yaml\.org,2002:python\/(object\/apply|object\/new|object|name|module):([^\s[\]{},#>]+)/g, syntax: 'pyyaml' },
  { re: /(?:^|[\s{,])["']?(_target_)["']?\s*:\s*["']?([^\s"',}#]+)/gm, syntax: 'hydra' },
  { re: /!(include):([^\s[\]{},#]+)/g, syntax: 'include' },
];

/** Pattern search for text the parser rejected: no arguments, but every target. */
function looseScan(text: string, out: YamlConfig): void {
  const lines: number[] = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines.push(i + 1);
  const lineOf = (idx: number): number => {
    let lo = 0;
    let hi = lines.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lines[mid] <= idx) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const known = new Set(out.callables.map((c) => `${c.line}|${c.target}`));
  const knownInc = new Set(out.includes.map((c) => `${c.line}|${c.file}`));
  // Tags spelled through %TAG handles: expand each use to its full tag and match that.
  const expanded: Array<[RegExpMatchArray, string]> = [];
  for (const d of text.matchAll(/^%TAG[ \t]+(!(?:[\w-]*!)?)[ \t]+(\S+)/gm)) {
    const handle = d[1];
    const prefix = d[2];
    const use = new RegExp(`${handle.replace(/[!-]/g, (c) => `\\${c}`)}([^\\s[\\]{},#]+)`, 'g');
    for (const m of text.matchAll(use)) expanded.push([m, prefix + m[1]]);
  }
  const fromHandles: Array<{ index: number; syntax: 'hyperpyyaml' | 'pyyaml' | 'include'; kind: string; target: string }> = [];
  for (const [m, tag] of expanded) {
    const hyper = HYPER_TAG.exec(tag);
    const py = PY_TAG.exec(tag);
    const inc = INCLUDE_TAG.exec(tag);
    if (hyper) fromHandles.push({ index: m.index ?? 0, syntax: 'hyperpyyaml', kind: hyper[1], target: hyper[2] });
    else if (py) fromHandles.push({ index: m.index ?? 0, syntax: 'pyyaml', kind: py[1], target: py[2] });
    else if (inc) fromHandles.push({ index: m.index ?? 0, syntax: 'include', kind: 'include', target: inc[1] });
  }
  const matches: Array<{ index: number; syntax: 'hyperpyyaml' | 'pyyaml' | 'hydra' | 'include'; kind: string; target: string }> = [...fromHandles];
  for (const { re, syntax } of LOOSE) {
    for (const m of text.matchAll(re)) matches.push({ index: m.index ?? 0, syntax, kind: syntax === 'hydra' ? 'target' : m[1], target: m[2] });
  }
  for (const m of matches) {
    const line = lineOf(m.index);
    const target = decodeTagEscapes(m.target);
    if (m.syntax === 'include') {
      if (!knownInc.has(`${line}|${target}`)) out.includes.push({ file: target, path: `line ${line}`, line, index: m.index });
      continue;
    }
    if (known.has(`${line}|${target}`)) continue;
    known.add(`${line}|${target}`);
    const display = m.syntax === 'hyperpyyaml' ? `!${m.kind}:${target}` : m.syntax === 'pyyaml' ? `!!python/${m.kind}:${target}` : `_target_: ${target}`;
    out.callables.push({ syntax: m.syntax, kind: m.kind, display, target, path: `line ${line}`, line, index: m.index, call: display, loose: true });
  }
}
