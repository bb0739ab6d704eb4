/**
 * Python source → a plain syntax tree, via web-tree-sitter and the
 * tree-sitter-python grammar (both ship WebAssembly, so parsing works offline
 * and never runs the code). Tree-sitter recovers from errors: a file that does
 * not parse still yields a tree whose broken parts are ERROR nodes, and the
 * analysis walks those too.
 *
 * The tree is copied out of WebAssembly memory into ordinary objects once per
 * file: the analysis visits nodes many times, and each access through the
 * binding allocates, so one copy is cheaper than many lookups.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import type { Language as TsLanguage, Parser as TsParser } from 'web-tree-sitter';

export interface PyNode {
  /** Grammar node type: "call", "identifier", "string", "ERROR", or the token text for anonymous nodes ("+", "("). */
  type: string;
  /** Named nodes are grammar rules and identifiers; anonymous ones are punctuation and keywords. */
  named: boolean;
  /** The field this node fills in its parent ("function", "left", …), or null. */
  field: string | null;
  /** UTF-16 code-unit offsets into the parsed text (the same units JavaScript strings use). */
  start: number;
  end: number;
  children: PyNode[];
}

export interface ParsedPython {
  root: PyNode;
  /** The text the tree's offsets refer to: the input, or the input with indentation removed (see `map`). */
  text: string;
  /**
   * Set when the input was re-read with its indentation removed (nesting too
   * deep for the grammar's scanner): offset in `text` → offset in the input.
   */
  map?: Int32Array;
  /** How many indentation levels deep the input nests (reported when it was flattened). */
  indentDepth: number;
  /** ERROR and MISSING nodes: where the parser had to recover. */
  errors: { start: number; end: number }[];
  nodeCount: number;
}

const require = createRequire(import.meta.url);

interface Loaded {
  parser: TsParser;
  /** Per grammar symbol: its type name and whether it is named (looked up once, not per node). */
  types: string[];
  named: boolean[];
  fields: (string | null)[];
}

let ready: Promise<Loaded> | undefined;
let instance = 0;

/** One parser per process (per worker thread), created on first use. */
function parser(): Promise<Loaded> {
  ready ??= (async () => {
    // After a failure the WebAssembly heap cannot be trusted: a fresh module instance (its own heap) replaces it.
    const mod = (
      instance === 0
        ? await import('web-tree-sitter')
        : await import(`${pathToFileURL(join(dirname(require.resolve('web-tree-sitter')), 'tree-sitter.js')).href}?instance=${instance}`)
    ) as typeof import('web-tree-sitter');
    const { Parser, Language } = mod;
    await Parser.init();
    const wasmPath = join(dirname(require.resolve('tree-sitter-python/package.json')), 'tree-sitter-python.wasm');
    const lang: TsLanguage = await Language.load(await readFile(wasmPath));
    const p = new Parser();
    p.setLanguage(lang);
    const types: string[] = [];
    const named: boolean[] = [];
    for (let id = 0; id < lang.nodeTypeCount; id++) {
      types.push(lang.nodeTypeForId(id) ?? 'ERROR');
      named.push(lang.nodeTypeIsNamed(id));
    }
    return { parser: p, types, named, fields: lang.fields };
  })();
  // A failed start (missing .wasm) should be reported each time, not cached forever as a rejection.
  ready.catch(() => {
    ready = undefined;
  });
  return ready;
}

/**
 * Punctuation the analysis never looks at: the walk steps over these without
 * asking the parser for their positions (each question is a call into WebAssembly).
 */
const SKIPPED_TOKENS = new Set(['(', ')', ',', '[', ']', '{', '}', '.', ';', '=', '->', ':=', '@', '"', "'"]);

export function fieldOf(n: PyNode, name: string): PyNode | undefined {
  for (const c of n.children) if (c.field === name) return c;
  return undefined;
}

export function fieldsOf(n: PyNode, name: string): PyNode[] {
  return n.children.filter((c) => c.field === name);
}

export function namedChildren(n: PyNode): PyNode[] {
  return n.children.filter((c) => c.named && c.type !== 'comment');
}

/**
 * Indentation nesting the grammar's external scanner handles safely. Deeper
 * nesting (hundreds of levels, never seen in real code) has made
 * tree-sitter-python 0.25 return an empty tree and corrupt its heap; such input
 * is parsed with its indentation removed instead.
 */
const MAX_INDENT_DEPTH = 100;

/** Depth of the indentation stack Python's tokenizer would build (bracketed and blank lines ignored, roughly). */
export function indentDepth(text: string): number {
  const stack: number[] = [0];
  let max = 0;
  let i = 0;
  while (i < text.length) {
    let w = 0;
    let j = i;
    while (j < text.length && (text[j] === ' ' || text[j] === '\t')) {
      w += text[j] === '\t' ? 8 - (w % 8) : 1;
      j++;
    }
    let e = text.indexOf('\n', j);
    if (e < 0) e = text.length;
    const c = text[j];
    if (j < e && c !== '#' && c !== '\r') {
      if (w > stack[stack.length - 1]) stack.push(w);
      else while (stack.length > 1 && w < stack[stack.length - 1]) stack.pop();
      max = Math.max(max, stack.length - 1);
    }
    i = e + 1;
  }
  return max;
}

/** The text without leading whitespace on any line, with a map back to the original offsets. */
function flatten(text: string): { flat: string; map: Int32Array } {
  const parts: string[] = [];
  const map = new Int32Array(text.length + 1);
  let n = 0;
  let i = 0;
  while (i < text.length) {
    let j = i;
    while (j < text.length && (text[j] === ' ' || text[j] === '\t')) j++;
    let e = text.indexOf('\n', j);
    e = e < 0 ? text.length : e + 1;
    parts.push(text.slice(j, e));
    for (let k = j; k < e; k++) map[n++] = k;
    i = e;
  }
  map[n] = text.length;
  return { flat: parts.join(''), map: map.subarray(0, n + 1) };
}

/** Parses Python source. Never throws for bad syntax; throws only if the parser cannot start or fails on the input. */
export async function parsePython(text: string): Promise<ParsedPython> {
  const depth = indentDepth(text);
  if (depth > MAX_INDENT_DEPTH) {
    const { flat, map } = flatten(text);
    return { ...(await parseChecked(flat)), map, indentDepth: depth };
  }
  return { ...(await parseChecked(text)), indentDepth: depth };
}

/** One parse, with a fresh parser instance and one retry if the parser fails outright (an empty tree for non-empty code, or a trap). */
async function parseChecked(text: string): Promise<Omit<ParsedPython, 'indentDepth'>> {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await parseOnce(text);
      if (r.root.end > 0 || !/\S/.test(text)) return r;
      throw new Error('the parser returned an empty tree');
    } catch (e) {
      ready = undefined;
      instance++;
      if (attempt >= 1) throw new Error(`the Python parser failed on this input (${(e as Error).message}); it was not analysed`);
    }
  }
}

async function parseOnce(text: string): Promise<Omit<ParsedPython, 'indentDepth'>> {
  const { parser: p, types, named, fields } = await parser();
  p.reset();
  const tree = p.parse(text);  if (!tree) throw new Error('tree-sitter returned no tree for this Python source');
  const errors: { start: number; end: number }[] = [];
  let nodeCount = 0;
  const cursor = tree.walk();
  // Files with syntax errors get the full walk, so inserted (MISSING) punctuation is seen too.
  const skip = !tree.rootNode.hasError;
  try {
    const make = (): PyNode | undefined => {
      nodeCount++;
      const id = cursor.nodeTypeId;
      // ERROR has symbol 65535, outside the table.
      const type = types[id] ?? 'ERROR';
      const isNamed = named[id] ?? true;
      if (skip && !isNamed && SKIPPED_TOKENS.has(type)) return undefined;
      const fid = cursor.currentFieldId;
      const node: PyNode = {
        type,
        named: isNamed,
        field: fid ? (fields[fid] ?? null) : null,
        start: cursor.startIndex,
        end: cursor.endIndex,
        children: [],
      };
      if (type === 'ERROR' || (node.start === node.end && cursor.nodeIsMissing)) errors.push({ start: node.start, end: node.end });
      return node;
    };
    const root = make()!;
    // Iterative copy: hostile files nest thousands deep, which would overflow a recursive walk.
    const stack: PyNode[] = [root];
    if (cursor.gotoFirstChild()) {
      walk: for (;;) {
        const node = make();
        if (node) stack[stack.length - 1].children.push(node);
        if (node && cursor.gotoFirstChild()) {
          stack.push(node);
          continue;
        }
        // A leaf: move to the next sibling, climbing while there is none.
        while (!cursor.gotoNextSibling()) {
          if (!cursor.gotoParent()) break walk;
          stack.pop();
          if (stack.length === 0) break walk;
        }
      }
    }
    return { root, text, errors, nodeCount };
  } finally {
    cursor.delete();
    tree.delete();
  }
}
