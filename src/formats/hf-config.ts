/**
 * Hugging Face configuration files (config.json, tokenizer_config.json,
 * processor/preprocessor configs, generation_config.json…): what they tell a
 * loader to import. Only reads bytes; never runs or imports anything.
 *
 * Parsing follows Python's `json` module, which is what transformers uses:
 * NaN/Infinity are accepted, the last of duplicate keys wins, nesting past
 * Python's recursion limit fails, and anything after the object is an error.
 * Only the top-level keys a caller asks for are materialised; every other
 * value is skipped byte by byte, so a 10 MB tokenizer.json costs one pass.
 */

/** Configs are small; anything past this is not read (tokenizer.json files reach ~10 MB). */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** Python's json recursion ends around here (sys.getrecursionlimit() is 1000). */
const MAX_DEPTH = 1000;

/** Top-level keys that mark a file as a Hugging Face config of some kind. */
export const HF_CONFIG_MARKERS: ReadonlySet<string> = new Set([
  'auto_map',
  'custom_pipelines',
  'trust_remote_code',
  '_name_or_path',
  'architectures',
  'model_type',
  'transformers_version',
  'tokenizer_class',
  'processor_class',
  'feature_extractor_type',
  'image_processor_type',
  'added_tokens_decoder',
  '_from_model_config',
  'model_max_length',
]);

/** Keys whose values say which code a loader imports. */
export const HF_CODE_KEYS: ReadonlySet<string> = new Set(['auto_map', 'custom_pipelines', 'trust_remote_code']);

const isWs = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/**
 * True when `head` is UTF-8 text: no NUL, no control bytes other than tab,
 * LF, CR and form feed, and valid UTF-8 (a sequence cut at the end of the
 * head is fine).
 */
export function isUtf8Text(head: Buffer): boolean {
  for (let i = 0; i < head.length; i++) {
    const c = head[i];
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c) return false;
    if (c === 0x7f) return false;
  }
  // Drop a multi-byte sequence cut off by the 4 KiB window.
  let end = head.length;
  for (let k = 1; k <= 3 && end - k >= 0; k++) {
    const c = head[end - k];
    if ((c & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    if (need > k) end -= k;
    break;
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, end));
    return true;
  } catch {
    return false;
  }
}

/**
 * A JSON object, as Python's json.loads would see it: the first
 * non-whitespace byte is `{` (no byte-order mark: transformers opens configs
 * as plain UTF-8, and json.loads rejects a BOM) followed by `"` or `}`, and
 * the bytes are UTF-8 text.
 */
export function sniffJsonObject(head: Buffer): boolean {
  let i = 0;
  while (i < head.length && isWs(head[i])) i++;
  if (i >= head.length || head[i] !== 0x7b) return false;
  // The next token is a key or the closing brace: Jinja ("{%", "{{") and YAML flow maps are not JSON.
  i++;
  while (i < head.length && isWs(head[i])) i++;
  if (i < head.length && head[i] !== 0x22 && head[i] !== 0x7d) return false;
  return isUtf8Text(head);
}

export interface JsonTopLevel {
  /** Every top-level key, decoded, in order of first appearance. */
  keys: string[];
  /** Values of the wanted keys (the last occurrence, as Python keeps). */
  values: Map<string, unknown>;
  /** Byte offset where each wanted key's (last) value starts. */
  offsets: Map<string, number>;
  /** Keys that appear more than once (readers that keep the first one see other values). */
  duplicates: string[];
  /** The input ended (at the read bound) before the object closed. */
  truncated: boolean;
  /** Why Python's json.loads would reject the bytes, with the byte offset; absent when it would accept them. */
  error?: { message: string; offset: number };
}

class JsonError extends Error {
  constructor(
    message: string,
    readonly offset: number,
    readonly eof: boolean,
  ) {
    super(message);
  }
}

class Reader {
  pos = 0;
  constructor(private readonly b: Buffer) {}

  private fail(message: string): never {
    throw new JsonError(`${message} at byte ${this.pos}`, this.pos, this.pos >= this.b.length);
  }

  ws(): void {
    while (this.pos < this.b.length && isWs(this.b[this.pos])) this.pos++;
  }

  get done(): boolean {
    return this.pos >= this.b.length;
  }

  peek(): number {
    if (this.pos >= this.b.length) this.fail('unexpected end of input');
    return this.b[this.pos];
  }

  expect(c: number, what: string): void {
    if (this.peek() !== c) this.fail(`expected ${what}`);
    this.pos++;
  }

  /** A JSON value; materialised only when `keep`. */
  value(depth: number, keep: boolean): unknown {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH} levels (Python's json gives up)`);
    const c = this.peek();
    if (c === 0x22) return this.string(keep);
    if (c === 0x7b) return this.object(depth, keep);
    if (c === 0x5b) return this.array(depth, keep);
    return this.scalar();
  }

  private object(depth: number, keep: boolean): unknown {
    this.pos++;
    const out: Record<string, unknown> | undefined = keep ? Object.create(null) : undefined;
    this.ws();
    if (this.peek() === 0x7d) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.peek() !== 0x22) this.fail('expected a property name in double quotes');
      const k = this.string(keep);
      this.ws();
      this.expect(0x3a, "':'");
      this.ws();
      const v = this.value(depth + 1, keep);
      if (out) out[k as string] = v;
      this.ws();
      const d = this.peek();
      this.pos++;
      if (d === 0x7d) return out;
      if (d !== 0x2c) {
        this.pos--;
        this.fail("expected ',' or '}'");
      }
    }
  }

  private array(depth: number, keep: boolean): unknown {
    this.pos++;
    const out: unknown[] | undefined = keep ? [] : undefined;
    this.ws();
    if (this.peek() === 0x5d) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      const v = this.value(depth + 1, keep);
      if (out) out.push(v);
      this.ws();
      const d = this.peek();
      this.pos++;
      if (d === 0x5d) return out;
      if (d !== 0x2c) {
        this.pos--;
        this.fail("expected ',' or ']'");
      }
    }
  }

  /** A double-quoted string; Python's strict mode rejects raw control characters. */
  string(keep: boolean): string | undefined {
    const b = this.b;
    this.pos++;
    let out = '';
    let run = this.pos;
    for (;;) {
      if (this.pos >= b.length) this.fail('unterminated string');
      const c = b[this.pos];
      if (c === 0x22) {
        if (keep) out += b.toString('utf8', run, this.pos);
        this.pos++;
        return keep ? out : undefined;
      }
      if (c < 0x20) this.fail('control character in string');
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      if (keep) out += b.toString('utf8', run, this.pos);
      this.pos++;
      if (this.pos >= b.length) this.fail('unterminated string');
      const e = b[this.pos++];
      switch (e) {
        case 0x22: out += '"'; break;
        case 0x5c: out += '\\'; break;
        case 0x2f: out += '/'; break;
        case 0x62: out += '\b'; break;
        case 0x66: out += '\f'; break;
        case 0x6e: out += '\n'; break;
        case 0x72: out += '\r'; break;
        case 0x74: out += '\t'; break;
        case 0x75: {
          const hex = b.toString('latin1', this.pos, this.pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('invalid \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          this.pos += 4;
          break;
        }
        default:
          this.pos--;
          this.fail('invalid escape');
      }
      run = this.pos;
    }
  }

  private scalar(): unknown {
    const rest = this.b.toString('latin1', this.pos, Math.min(this.b.length, this.pos + 400));
    const lit = /^(?:true|false|null|NaN|-?Infinity)/.exec(rest);
    if (lit) {
      this.pos += lit[0].length;
      switch (lit[0]) {
        case 'true': return true;
        case 'false': return false;
        case 'null': return null;
        case 'NaN': return NaN;
        case 'Infinity': return Infinity;
        default: return -Infinity;
      }
    }
    const num = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?/.exec(rest);
    if (!num) this.fail('expected a value');
    // A number cut by the read bound would read as a shorter one; treat the end as truncation.
    if (this.pos + num[0].length >= this.b.length) {
      this.pos = this.b.length;
      this.fail('unexpected end of input');
    }
    if (num[0].length >= 400) this.fail('number too long');
    this.pos += num[0].length;
    return Number(num[0]);
  }
}

/**
 * Reads the top-level object of a JSON document, decoding every key and
 * materialising only the values of keys for which `want` is true.
 * `partial` says the buffer is a prefix of a longer file, so running out of
 * bytes is truncation rather than a syntax error. Never throws.
 */
export function readJsonTopLevel(buf: Buffer, want: (key: string) => boolean, partial = false): JsonTopLevel {
  const r = new Reader(buf);
  const out: JsonTopLevel = { keys: [], values: new Map(), offsets: new Map(), duplicates: [], truncated: false };
  const seen = new Set<string>();
  try {
    r.ws();
    r.expect(0x7b, "'{'");
    r.ws();
    if (r.peek() === 0x7d) {
      r.pos++;
    } else {
      for (;;) {
        r.ws();
        if (r.peek() !== 0x22) r.expect(0x22, 'a property name in double quotes');
        const key = r.string(true) as string;
        r.ws();
        r.expect(0x3a, "':'");
        r.ws();
        if (seen.has(key)) {
          if (!out.duplicates.includes(key)) out.duplicates.push(key);
        } else {
          seen.add(key);
          out.keys.push(key);
        }
        const start = r.pos;
        if (want(key)) {
          out.values.set(key, r.value(1, true));
          out.offsets.set(key, start);
        } else {
          r.value(1, false);
        }
        r.ws();
        const d = r.peek();
        r.pos++;
        if (d === 0x7d) break;
        if (d !== 0x2c) {
          r.pos--;
          r.expect(0x2c, "',' or '}'");
        }
      }
    }
    r.ws();
    if (!r.done) out.error = { message: `extra data after the top-level object at byte ${r.pos}`, offset: r.pos };
  } catch (e) {
    if (!(e instanceof JsonError)) throw e;
    if (e.eof && partial) out.truncated = true;
    else out.error = { message: e.message, offset: e.offset };
  }
  return out;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isPythonIdentifier(s: string): boolean {
  return IDENTIFIER.test(s);
}

/**
 * A class reference as transformers' get_class_from_dynamic_module reads it:
 * `[repo_id--]module.ClassName`, where the module is the file `module.py`
 * fetched from `repo_id` (default: the repo being loaded) and imported.
 */
export interface ClassReference {
  raw: string;
  /** The repo before "--": code from another Hub repo (or a local path). */
  repo?: string;
  /** Everything between "--" and the last ".": the file is `module + ".py"`. */
  module: string;
  className: string;
  /** The file the loader fetches and imports. */
  file: string;
  /** Why the reference reaches outside this repo's top folder or cannot be a plain module name; empty when fine. */
  problems: string[];
  /** Problems with the repo part (it is a path, or not a Hub id). */
  repoProblems: string[];
}

const HUB_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*(?:\/[A-Za-z0-9_.-]+)?$/;

export function parseClassReference(raw: string): ClassReference {
  const problems: string[] = [];
  const repoProblems: string[] = [];
  const dashes = raw.split('--');
  let repo: string | undefined;
  let rest = raw;
  if (dashes.length > 1) {
    repo = dashes[0];
    rest = dashes.slice(1).join('--');
    if (dashes.length > 2) problems.push('has more than one "--" (transformers expects "repo--module.Class")');
    if (/^[/\\~]/.test(repo) || /^[A-Za-z]:/.test(repo) || repo.includes('..') || repo.includes('\\') || repo.startsWith('.')) {
      repoProblems.push(`"${repo}" is a file-system path, not a Hub repo id: transformers loads a local folder when the path exists`);
    } else if (!HUB_ID.test(repo) || repo.endsWith('.git')) {
      repoProblems.push(`"${repo}" is not a valid Hub repo id`);
    }
  }
  const dot = rest.lastIndexOf('.');
  const module = dot >= 0 ? rest.slice(0, dot) : rest;
  const className = dot >= 0 ? rest.slice(dot + 1) : '';
  if (dot < 0) problems.push('has no "." between module and class');
  else if (rest.indexOf('.') !== dot) problems.push('has more than one "." (transformers splits "module.Class" on a single dot)');
  if (/^[/\\]/.test(module) || /^[A-Za-z]:/.test(module)) {
    problems.push(`module "${module}" is an absolute path: the loader would import ${module}.py from anywhere on disk`);
  } else if (module.includes('..')) {
    problems.push(`module "${module}" climbs out of the repo folder with ".."`);
  } else if (/[/\\]/.test(module)) {
    problems.push(`module "${module}" is a path into another folder`);
  } else if (!IDENTIFIER.test(module)) {
    problems.push(`module "${module}" is not a Python identifier`);
  }
  if (dot >= 0 && !IDENTIFIER.test(className)) problems.push(`class "${className}" is not a Python identifier`);
  return { raw, repo, module, className, file: `${module}.py`, problems, repoProblems };
}

/** Where in the config a class reference came from, e.g. "auto_map.AutoModel". */
export interface CodeReference {
  source: string;
  /** "auto_map" or "custom_pipelines". */
  kind: 'auto_map' | 'custom_pipelines';
  ref: ClassReference;
}

export interface CodeReferences {
  refs: CodeReference[];
  /** Entries of an unexpected shape (not a string, list or {impl}): the loader would fail on them. */
  odd: string[];
}

function keyPath(base: string, key: string): string {
  return IDENTIFIER.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

/**
 * Every class reference in `auto_map` and `custom_pipelines`:
 *  - auto_map: {AutoX: "module.Class"}; tokenizers {AutoTokenizer: [slow, fast]}
 *    with null for a missing one; legacy tokenizer configs a bare [slow, fast] list;
 *  - custom_pipelines: {task: {impl: "module.Class", pt: [...], tf: [...]}}.
 */
export function collectCodeReferences(values: Map<string, unknown>): CodeReferences {
  const refs: CodeReference[] = [];
  const odd: string[] = [];
  const addRef = (kind: CodeReference['kind'], source: string, v: unknown): void => {
    if (typeof v === 'string') refs.push({ source, kind, ref: parseClassReference(v) });
    else if (v !== null) odd.push(`${source} = ${short(v)}`);
  };
  const autoMap = values.get('auto_map');
  if (Array.isArray(autoMap)) {
    autoMap.forEach((v, i) => addRef('auto_map', `auto_map[${i}]`, v));
  } else if (autoMap && typeof autoMap === 'object') {
    for (const [k, v] of Object.entries(autoMap)) {
      const src = keyPath('auto_map', k);
      if (Array.isArray(v)) v.forEach((x, i) => addRef('auto_map', `${src}[${i}]`, x));
      else addRef('auto_map', src, v);
    }
  } else if (autoMap !== undefined && autoMap !== null) {
    odd.push(`auto_map = ${short(autoMap)}`);
  }
  const pipes = values.get('custom_pipelines');
  if (pipes && typeof pipes === 'object' && !Array.isArray(pipes)) {
    for (const [task, spec] of Object.entries(pipes)) {
      const src = keyPath('custom_pipelines', task);
      if (spec && typeof spec === 'object' && !Array.isArray(spec) && 'impl' in spec) addRef('custom_pipelines', `${src}.impl`, (spec as Record<string, unknown>).impl);
      else odd.push(`${src} = ${short(spec)}`);
    }
  } else if (pipes !== undefined && pipes !== null) {
    odd.push(`custom_pipelines = ${short(pipes)}`);
  }
  return { refs, odd };
}

function short(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/**
 * Modules a custom-code file imports relatively, found the way transformers
 * finds them (get_relative_imports: `import .x` and `from .x import y` at the
 * start of a line); the loader fetches and imports these too. Only plain
 * names are returned (`from .x.y import z` gives "x").
 */
export function relativeImports(source: string): string[] {
  const found = new Set<string>();
  for (const m of source.matchAll(/^\s*import\s+\.(\S+)\s*$/gm)) found.add(m[1]);
  for (const m of source.matchAll(/^\s*from\s+\.(\S+)\s+import/gm)) found.add(m[1]);
  const out: string[] = [];
  for (const f of found) {
    const head = f.split('.')[0];
    if (IDENTIFIER.test(head) && !out.includes(head)) out.push(head);
  }
  return out;
}
