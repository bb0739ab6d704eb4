/**
 * Jupyter notebooks (.ipynb, nbformat 3 and 4): the code cells, joined into one
 * Python text (cells share one namespace when run), with a map from every
 * character back to its place in the notebook file, so findings point at the
 * line of the .ipynb itself. IPython magics are separated out: `!cmd`,
 * `%pip …`, `%%bash` cells are shell, which the caller scans as such.
 */

/** A text cut out of a file, with each character's offset in the file (UTF-16 units). */
export interface MappedText {
  text: string;
  map: number[];
}

export interface NotebookCode {
  /** All Python code cells joined by newlines, magics replaced by `pass`. */
  python: MappedText;
  /** Shell commands from `!…` lines, `%pip`/`%system` magics and `%%bash`/`%%sh` cells. */
  shell: MappedText[];
  /** The kernel language, when the notebook says. */
  language?: string;
  cells: number;
}

class JsonStr {
  constructor(
    readonly value: string,
    /** Offset of the opening quote. */
    readonly start: number,
  ) {}
}

type Json = JsonStr | number | boolean | null | Json[] | { [k: string]: Json };

class Reader {
  i = 0;
  depth = 0;
  constructor(private readonly s: string) {}

  fail(what: string): never {
    throw new Error(`notebook JSON: ${what} at offset ${this.i}`);
  }

  ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.i++;
      else break;
    }
  }

  value(): Json {
    this.ws();
    if (++this.depth > 500) this.fail('nesting too deep');
    try {
      const c = this.s[this.i];
      if (c === '{') return this.object();
      if (c === '[') return this.array();
      if (c === '"') return this.string();
      if (c === 't' && this.s.startsWith('true', this.i)) return (this.i += 4), true;
      if (c === 'f' && this.s.startsWith('false', this.i)) return (this.i += 5), false;
      if (c === 'n' && this.s.startsWith('null', this.i)) return (this.i += 4), null;
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(this.s.slice(this.i, this.i + 64));
      if (!m) this.fail('unexpected character');
      this.i += m[0].length;
      return Number(m[0]);
    } finally {
      this.depth--;
    }
  }

  object(): { [k: string]: Json } {
    const out: { [k: string]: Json } = {};
    this.i++;
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail('expected a key');
      const k = this.string().value;
      this.ws();
      if (this.s[this.i] !== ':') this.fail('expected ":"');
      this.i++;
      out[k] = this.value();
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return out;
      if (c !== ',') this.fail('expected "," or "}"');
    }
  }

  array(): Json[] {
    const out: Json[] = [];
    this.i++;
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return out;
      if (c !== ',') this.fail('expected "," or "]"');
    }
  }

  string(): JsonStr {
    const start = this.i;
    const s = this.s;
    let j = this.i + 1;
    // Fast path: no escapes.
    const q = s.indexOf('"', j);
    const b = s.indexOf('\\', j);
    if (q < 0) this.fail('unterminated string');
    if (b < 0 || b > q) {
      this.i = q + 1;
      return new JsonStr(s.slice(j, q), start);
    }
    let out = '';
    while (j < s.length && s[j] !== '"') {
      if (s[j] === '\\') {
        const e = s[j + 1];
        if (e === 'u') {
          const h = s.slice(j + 2, j + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail('bad \\u escape');
          out += String.fromCharCode(parseInt(h, 16));
          j += 6;
        } else {
          out += ({ n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', '/': '/', '\\': '\\', '"': '"' } as Record<string, string>)[e] ?? e;
          j += 2;
        }
      } else out += s[j++];
    }
    if (j >= s.length) this.fail('unterminated string');
    this.i = j + 1;
    return new JsonStr(out, start);
  }
}

/** File offsets of each decoded character of a JSON string (escapes map to where they start). */
function charOffsets(file: string, js: JsonStr): number[] {
  const out: number[] = [];
  let j = js.start + 1;
  while (j < file.length && file[j] !== '"') {
    out.push(j);
    if (file[j] === '\\') j += file[j + 1] === 'u' ? 6 : 2;
    else j++;
  }
  return out;
}

function get(o: Json | undefined, k: string): Json | undefined {
  return o && typeof o === 'object' && !Array.isArray(o) && !(o instanceof JsonStr) ? o[k] : undefined;
}

function strOf(v: Json | undefined): string | undefined {
  return v instanceof JsonStr ? v.value : undefined;
}

/** Cell source as a mapped text (source is a list of lines or one string). */
function cellSource(file: string, src: Json | undefined): MappedText {
  const parts: JsonStr[] = src instanceof JsonStr ? [src] : Array.isArray(src) ? src.filter((x): x is JsonStr => x instanceof JsonStr) : [];
  let text = '';
  const map: number[] = [];
  for (const p of parts) {
    text += p.value;
    const offs = charOffsets(file, p);
    // Offsets and characters line up one to one (a \uXXXX escape is one UTF-16 unit).
    for (let i = 0; i < p.value.length; i++) map.push(offs[i] ?? p.start);
  }
  return { text, map };
}

const NON_PYTHON_CELL = /^%%(javascript|js|html|latex|markdown|svg|perl|ruby|R|julia|sql|writefile\s+\S+\.(?!py\b)\w+)\b/;
const SHELL_CELL = /^%%(bash|sh|script\s+(ba)?sh|system|!)\b/;

export function readNotebook(file: string): NotebookCode {
  const root = new Reader(file).value();
  const meta = get(root, 'metadata');
  const language = strOf(get(get(meta, 'kernelspec'), 'language')) ?? strOf(get(get(meta, 'language_info'), 'name'));
  let cells: Json[] = [];
  const c4 = get(root, 'cells');
  if (Array.isArray(c4)) cells = c4;
  else {
    const ws = get(root, 'worksheets');
    if (Array.isArray(ws)) for (const w of ws) {
      const c = get(w, 'cells');
      if (Array.isArray(c)) cells.push(...c);
    }
  }
  const python: MappedText = { text: '', map: [] };
  const shell: MappedText[] = [];
  let count = 0;
  for (const cell of cells) {
    if (strOf(get(cell, 'cell_type')) !== 'code') continue;
    count++;
    const src = cellSource(file, get(cell, 'source') ?? get(cell, 'input'));
    const first = src.text.split('\n', 1)[0].trim();
    if (SHELL_CELL.test(first)) {
      const nl = src.text.indexOf('\n');
      if (nl >= 0) shell.push({ text: src.text.slice(nl + 1), map: src.map.slice(nl + 1) });
      continue;
    }
    if (NON_PYTHON_CELL.test(first)) continue;
    let text = src.text;
    let map = src.map;
    if (first.startsWith('%%')) {
      // Other cell magics (%%time, %%capture, %%writefile x.py): the rest of the cell is Python.
      const nl = text.indexOf('\n');
      const cut = nl < 0 ? text.length : nl;
      text = ' '.repeat(cut) + text.slice(cut);
    }
    // Line magics and shell escapes: the command goes to the shell scan, the line becomes `pass`.
    const lines = text.split('\n');
    let at = 0;
    const outLines: string[] = [];
    for (const line of lines) {
      const m = /^(\s*)(?:[A-Za-z_][A-Za-z0-9_]*\s*=\s*)?(!!?|%(?:pip|conda|system|sx|sc)\b|%)(.*)$/.exec(line);
      if (m && !/^\s*%%/.test(line)) {
        const [, indent, magic, rest] = m;
        const cmdStart = at + line.length - rest.length;
        if (magic.startsWith('!') || /^%(system|sx|sc)$/.test(magic)) shell.push({ text: rest, map: map.slice(cmdStart, cmdStart + rest.length) });
        else if (magic === '%pip' || magic === '%conda') {
          const s = magic.slice(1) + rest;
          const base = at + indent.length + 1;
          shell.push({ text: s, map: map.slice(base, base + s.length) });
        }
        outLines.push((indent + 'pass').padEnd(line.length, ' '));
      } else outLines.push(line);
      at += line.length + 1;
    }
    text = outLines.join('\n');
    if (python.text.length) {
      python.text += '\n';
      python.map.push(python.map[python.map.length - 1] ?? 0);
    }
    python.text += text;
    for (let i = 0; i < text.length; i++) python.map.push(map[i] ?? map[map.length - 1] ?? 0);
  }
  return { python, shell, language, cells: count };
}
