/**
 * TensorFlow policy: ops that reach files, the network or Python in any graph
 * or library function; checkpoint ops outside the saver (their file name is a
 * constant instead of being fed at load time); assets that point outside the
 * SavedModel; Keras metadata carrying Lambda bytecode; and ops outside the
 * known-ordinary list, reported once per file.
 */
import { TF_ORDINARY_OPS, TF_RISKY_OPS, TF_STRING_PASSTHROUGH, type TfRiskyOp } from '../formats/tensorflow-ops.js';
import {
  attrStrings,
  constStrings,
  expandNestedGraphs,
  NESTED_GRAPH_OPS,
  readGraphDef,
  readKerasMetadata,
  readSavedModel,
  sniffGraphDef,
  sniffKerasMetadata,
  sniffSavedModel,
  tfPathProblem,
  type TfGraph,
  type TfModel,
  type TfNode,
} from '../formats/tensorflow.js';
import type { ByteSource } from '../formats/source.js';
import { addFinding, type Place, type ScanContext } from './context.js';
import type { Severity } from './finding.js';
import type { FormatScanner } from './format-scanner.js';

const MAX_LINES = 20;

function clip(s: string, n = 160): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** A value in double quotes, control characters escaped, backslashes left as they are (Windows paths stay readable). */
function quote(s: string): string {
  return `"${s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}"`;
}

function list(xs: string[], n = MAX_LINES): string {
  return xs.length > n ? `${xs.slice(0, n).join(', ')}, … (${xs.length} in all)` : xs.join(', ');
}

function safely(fn: (h: Buffer, s: number) => boolean): (h: Buffer, s: number) => boolean {
  return (h, s) => {
    try {
      return fn(h, s);
    } catch {
      return false;
    }
  };
}

export const savedModelScanner: FormatScanner = {
  id: 'tensorflow-savedmodel',
  sniff: safely(sniffSavedModel),
  async scan(src: ByteSource, place: Place, ctx: ScanContext): Promise<void> {
    const model = await readSavedModel(src);
    judgeModel(model, place, ctx, await expandNestedGraphs(model, src));
  },
};

export const graphDefScanner: FormatScanner = {
  id: 'tensorflow-graphdef',
  sniff: safely(sniffGraphDef),
  async scan(src: ByteSource, place: Place, ctx: ScanContext): Promise<void> {
    const model = await readGraphDef(src);
    judgeModel(model, place, ctx, await expandNestedGraphs(model, src));
  },
};

export const kerasMetadataScanner: FormatScanner = {
  id: 'keras-metadata',
  sniff: safely(sniffKerasMetadata),
  async scan(src: ByteSource, place: Place, ctx: ScanContext): Promise<void> {
    judgeModel(await readKerasMetadata(src), place, ctx);
  },
};

/** `nested`: what expandNestedGraphs made of each DatasetFromGraph node. */
export function judgeModel(model: TfModel, place: Place, ctx: ScanContext, nested: ReadonlyMap<string, string> = new Map()): void {
  judgeGraphs(model, place, ctx, nested);
  judgeAssets(model, place, ctx);
  judgeKeras(model, place, ctx);
}

// ---------------------------------------------------------------- where file names come from

/** Where a string tensor (a file name) comes from. */
interface Origin {
  /** Parts fed at run time: placeholders, function arguments, SavedModel assets. */
  runtime: string[];
  /** Parts that are string constants in the graph. */
  consts: string[];
  /** Defaults of PlaceholderWithDefault: used when the caller feeds nothing. */
  defaults: string[];
  /** Parts computed by other ops (reads, lookups): not known statically. */
  computed: string[];
}

const emptyOrigin = (): Origin => ({ runtime: [], consts: [], defaults: [], computed: [] });

function merge(into: Origin, o: Origin): void {
  into.runtime.push(...o.runtime);
  into.consts.push(...o.consts);
  into.defaults.push(...o.defaults);
  into.computed.push(...o.computed);
}

/** Inputs of pass-through ops that carry the string (not conditions, axes or shard numbers). */
function dataInputs(n: TfNode): string[] {
  const ins = n.input.filter((i) => !i.startsWith('^'));
  switch (n.op) {
    case 'ShardedFilename':
    case 'ShardedFilespec':
    case 'Reshape':
    case 'ExpandDims':
    case 'Squeeze':
    case 'Tile':
    case 'Gather':
    case 'GatherV2':
    case 'Switch':
    case 'StaticRegexReplace':
    case 'StringStrip':
    case 'StringLower':
    case 'StringUpper':
      return ins.slice(0, 1);
    case 'RegexReplace':
      return [ins[0], ins[2]].filter((x): x is string => !!x);
    case 'Select':
    case 'SelectV2':
      return ins.slice(1, 3);
    case 'Fill':
      return ins.slice(1, 2);
    case 'ConcatV2':
      return ins.slice(0, -1);
    case 'Concat':
      return ins.slice(1);
    default:
      return ins;
  }
}

class GraphIndex {
  readonly byName = new Map<string, TfNode>();
  readonly args: Set<string>;
  constructor(
    readonly graph: TfGraph,
    /** Node names bound to SavedModel assets: the loader feeds the asset's real path. */
    readonly assetNodes: ReadonlySet<string>,
  ) {
    for (const n of graph.nodes) this.byName.set(n.name, n);
    this.args = new Set(graph.args);
  }

  origin(ref: string, depth = 0, seen = new Set<string>()): Origin {
    const o = emptyOrigin();
    const name = ref.replace(/^\^/, '').split(':')[0];
    if (this.args.has(name)) {
      o.runtime.push(`argument ${name}`);
      return o;
    }
    const n = this.byName.get(name);
    if (!n) {
      o.computed.push(`unresolved input ${name}`);
      return o;
    }
    if (seen.has(name) || depth > 64) return o;
    seen.add(name);
    switch (n.op) {
      case 'Placeholder':
      case 'PlaceholderV2':
      case '_Arg':
        o.runtime.push(`${n.op} ${name}`);
        return o;
      case 'PlaceholderWithDefault': {
        o.runtime.push(`PlaceholderWithDefault ${name}`);
        const d = this.origin(n.input[0] ?? '', depth + 1, seen);
        o.defaults.push(...d.consts, ...d.defaults);
        return o;
      }
      case 'Const':
        if (this.assetNodes.has(name)) o.runtime.push(`asset ${name}`);
        else o.consts.push(...constStrings(n));
        return o;
    }
    if (!TF_STRING_PASSTHROUGH.has(n.op)) {
      o.computed.push(`${n.op} ${name}`);
      return o;
    }
    for (const i of dataInputs(n)) merge(o, this.origin(i, depth + 1, seen));
    return o;
  }
}

function describe(o: Origin): string {
  const parts: string[] = [];
  if (o.consts.length) parts.push(o.consts.map((c) => quote(clip(c, 120))).join(' + '));
  if (o.runtime.length) parts.push(`fed at run time (${list(o.runtime, 3)})`);
  if (o.defaults.length) parts.push(`default ${o.defaults.map((d) => quote(clip(d, 120))).join(', ')}`);
  if (o.computed.length) parts.push(`computed by ${list(o.computed, 3)}`);
  return parts.join('; ') || 'no file name input';
}

/** A saver-style op is ordinary when its file name is supplied at load time and nothing constant steers it. */
function fedAtRuntime(o: Origin): boolean {
  if (!o.runtime.length || o.computed.length) return false;
  if (o.defaults.some((d) => tfPathProblem(d))) return false;
  return !o.consts.some((c) => c.includes('\0') || c.split(/[\\/]/).includes('..'));
}

// ---------------------------------------------------------------- graphs

interface Hit {
  rule: string;
  severity: Severity;
  op: string;
  line: string;
  why: string;
  offset: number;
}

const RULE_OF: Record<TfRiskyOp['risk'], string> = {
  python: 'tensorflow/python-op',
  write: 'tensorflow/file-write-op',
  read: 'tensorflow/file-read-op',
  network: 'tensorflow/network-op',
};

function judgeNode(idx: GraphIndex, n: TfNode, spec: TfRiskyOp): Hit | undefined {
  const at = `${idx.graph.where}: ${n.name} = ${n.op}`;
  const hit = (risk: TfRiskyOp['risk'], severity: Severity, detail: string, why: string): Hit => ({
    rule: RULE_OF[risk],
    severity,
    op: n.op,
    line: `${at}(${detail})`,
    why,
    offset: n.offset,
  });
  if (spec.risk === 'python') {
    const token = attrStrings(n, 'token')[0];
    return hit('python', 'HIGH', token ? `token=${quote(token)}` : '', spec.does);
  }
  if (spec.conditional) {
    const values = (spec.pathAttrs ?? []).flatMap((a) => attrStrings(n, a).map((v) => [a, v] as const)).filter(([, v]) => v !== '');
    switch (spec.conditional) {
      case 'debug-urls': {
        // debug_ops_spec entries read "<op>;<url>;<gated>"; dump_root is a directory
        const urls = values.filter(([a, v]) => a === 'dump_root' || v.includes('://'));
        if (!urls.length) return undefined;
        const net = urls.some(([a, v]) => a !== 'dump_root' && /:\/\//.test(v.replace(/file:\/\//g, '')));
        const detail = urls.map(([a, v]) => `${a}=${quote(clip(v, 120))}`).join(', ');
        return hit(net ? 'network' : 'write', 'HIGH', detail, net ? 'streams tensors to a debug server' : 'dumps tensors to files');
      }
      case 'print-stream': {
        const file = values.find(([, v]) => v.startsWith('file://'));
        return file ? hit('write', 'HIGH', `output_stream=${quote(clip(file[1], 120))}`, 'appends printed tensors to a file') : undefined;
      }
      case 'descriptor-source': {
        const path = values.find(([, v]) => v !== 'local://');
        if (!path) return undefined;
        return hit('read', tfPathProblem(path[1]) ? 'HIGH' : 'MEDIUM', `descriptor_source=${quote(clip(path[1], 120))}`, spec.does);
      }
      case 'memory-region': {
        const path = values.find(([, v]) => !v.startsWith('memmapped_package://'));
        if (!path) return undefined;
        return hit('read', tfPathProblem(path[1]) ? 'HIGH' : 'MEDIUM', `memory_region_name=${quote(clip(path[1], 120))}`, spec.does);
      }
      case 'cache-filename': {
        const o = idx.origin(n.input[1] ?? '');
        if (!o.runtime.length && !o.computed.length && o.consts.every((c) => c === '')) return undefined; // in-memory cache
        return hit('write', 'HIGH', `filename=${describe(o)}`, spec.does);
      }
    }
  }
  const origin = emptyOrigin();
  for (const i of spec.pathInputs ?? []) if (n.input[i] !== undefined) merge(origin, idx.origin(n.input[i]));
  if (spec.saver && fedAtRuntime(origin)) return undefined;
  const detail = describe(origin);
  const constProblem = [...origin.consts, ...origin.defaults].map(tfPathProblem).find(Boolean);
  const why = `${spec.does}${spec.saver ? ' from a file name the graph fixes, not one the loader feeds' : ''}${constProblem ? `; the path ${constProblem}` : ''}`;
  if (spec.risk === 'read') return hit('read', constProblem ? 'HIGH' : 'MEDIUM', detail, why);
  return hit(spec.risk, 'HIGH', detail, why);
}

function judgeGraphs(model: TfModel, place: Place, ctx: ScanContext, nested: ReadonlyMap<string, string>): void {
  const functions = new Set(model.graphs.filter((g) => g.kind === 'function').map((g) => g.name));
  const assetNodes = new Set(model.assets.map((a) => a.tensorName.split(':')[0]).filter(Boolean));
  const hits = new Map<string, Hit[]>();
  const unknown = new Map<string, string[]>();
  const census = new Map<string, number>();
  let nodes = 0;
  for (const g of model.graphs) {
    const idx = new GraphIndex(g, assetNodes);
    for (const n of g.nodes) {
      nodes++;
      census.set(n.op, (census.get(n.op) ?? 0) + 1);
      const spec = Object.hasOwn(TF_RISKY_OPS, n.op) ? TF_RISKY_OPS[n.op] : undefined;
      if (spec) {
        const h = judgeNode(idx, n, spec);
        if (h) {
          const key = `${h.rule}|${h.op}|${h.severity}`;
          (hits.get(key) ?? hits.set(key, []).get(key)!).push(h);
        }
        continue;
      }
      if (Object.hasOwn(NESTED_GRAPH_OPS, n.op)) {
        const st = nested.get(`${g.where}|${n.name}`) ?? 'it was not examined';
        if (st === 'expanded') continue; // its graph is among model.graphs, judged node by node
        const h: Hit = { rule: 'tensorflow/nested-graph', severity: 'MEDIUM', op: n.op, line: `${g.where}: ${n.name} = ${n.op} (${st})`, why: 'runs a serialized graph that ptmscope could not inspect', offset: n.offset };
        const key = `${h.rule}|${h.op}|${h.severity}`;
        (hits.get(key) ?? hits.set(key, []).get(key)!).push(h);
        continue;
      }
      if (TF_ORDINARY_OPS.has(n.op) || functions.has(n.op)) continue;
      (unknown.get(n.op) ?? unknown.set(n.op, []).get(n.op)!).push(`${g.where}: ${n.name}`);
    }
  }
  for (const [key, hs] of hits) {
    const h = hs[0];
    addFinding(ctx, `${place.location}|tf|${key}`, {
      ruleId: h.rule,
      severity: h.severity,
      location: place.location,
      offset: h.offset,
      message: `${hs.length} ${h.op} node(s): the op ${h.why}. First: ${clip(h.line, 300)}.`,
      evidence: hs.slice(0, MAX_LINES).map((x) => x.line).join('\n') + (hs.length > MAX_LINES ? `\n… ${hs.length - MAX_LINES} more` : ''),
      hint: HINTS[h.rule],
    });
  }
  if (unknown.size) {
    const ops = [...unknown.keys()].sort();
    addFinding(ctx, `${place.location}|tf-unknown`, {
      ruleId: 'tensorflow/unknown-op',
      severity: 'LOW',
      location: place.location,
      message: `${ops.length} op type(s) outside ptmscope's list of ordinary TensorFlow ops: ${list(ops)}.`,
      evidence: ops.map((op) => `${op}: ${list(unknown.get(op)!, 3)}`).join('\n'),
      hint: 'Custom ops need a native library loaded with tf.load_op_library, whose code the model does not contain; other ops here are rare and worth a look. If they are expected, this finding is informational.',
    });
  }
  if (nodes) {
    const ops = [...census].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    const fnCount = model.graphs.filter((g) => g.kind === 'function').length;
    addFinding(ctx, `${place.location}|tf-ops`, {
      ruleId: 'tensorflow/operators',
      severity: 'INFO',
      location: place.location,
      message: `${model.kind === 'saved-model' ? `SavedModel${model.tensorflowVersions.length ? ` (TensorFlow ${[...new Set(model.tensorflowVersions)].join(', ')})` : ''}` : 'GraphDef'}: ${nodes} node(s) in ${model.graphs.length - fnCount} graph(s) and ${fnCount} function(s), ${census.size} op type(s).`,
      evidence: ops.map(([op, k]) => `${op} ×${k}`).join(', '),
      hint: 'For review: the ops this model runs.',
    });
  }
}

const HINTS: Record<string, string> = {
  'tensorflow/python-op':
    'PyFunc ops call Python functions registered by the program that built the graph; a model that needs them only runs with that code. Do not serve this model unless you wrote it.',
  'tensorflow/file-write-op': 'Models do not need to write files to compute outputs. Do not load or serve this model until you know why the graph writes there.',
  'tensorflow/file-read-op':
    'Reading files from inside a model is how graphs exfiltrate data through their outputs. Check that the path is one the model legitimately needs; do not serve it otherwise.',
  'tensorflow/network-op': 'A model that talks to the network can leak inputs or receive instructions. Do not serve it unless the endpoint is yours.',
  'tensorflow/nested-graph':
    'DatasetFromGraph runs a whole graph stored in a string, which is how file and Python ops are hidden from scanners. Do not load the model until that graph is accounted for.',
};

// ---------------------------------------------------------------- assets

function judgeAssets(model: TfModel, place: Place, ctx: ScanContext): void {
  for (const a of model.assets) {
    const f = a.filename;
    const problem = f.includes('\0')
      ? 'contains a NUL byte'
      : /^[A-Za-z]:[\\/]/.test(f) || f.startsWith('/') || f.startsWith('\\')
        ? 'is an absolute path'
        : f.split(/[\\/]/).includes('..')
          ? "climbs out of assets/ with '..'"
          : undefined;
    if (!problem) continue;
    addFinding(ctx, `${place.location}|tf-asset|${f}`, {
      ruleId: 'tensorflow/asset-path-escape',
      severity: 'HIGH',
      location: place.location,
      message: `Asset file name ${quote(clip(f))} ${problem}: loading the SavedModel feeds that path to the graph (vocabularies, tables), so it reads a file outside the model.`,
      evidence: `meta_graphs[${a.metaGraph}].asset_file_def filename=${quote(f)} tensor=${a.tensorName}`,
      hint: 'Asset names are plain file names inside assets/. Do not load this SavedModel.',
    });
  }
}

// ---------------------------------------------------------------- Keras metadata

/** tf.* functions a TFOpLambda layer may name that read or write files, run Python or change the process. */
const RISKY_TF_SYMBOL =
  /^(io\.(read_file|write_file|matching_files|gfile\.)|compat\.v1\.(io\.|gfile\.|read_file|write_file|py_func|train\.|summary\.|debugging\.|data\.)|py_function|numpy_function|raw_ops\.|summary\.|saved_model\.|train\.|data\.|debugging\.experimental\.|config\.|load_op_library|load_library|experimental\.dlpack)/;

interface KerasHit {
  severity: Severity;
  rule: string;
  line: string;
}

/** Printable runs in marshalled bytecode: names and constants it uses. */
function bytecodeStrings(b64: string): string {
  let bytes: Buffer;
  try {
    bytes = Buffer.from(b64.replace(/\s+/g, ''), 'base64');
  } catch {
    return '';
  }
  const runs = bytes.toString('latin1').match(/[\x20-\x7e]{3,}/g) ?? [];
  return list([...new Set(runs)].map((r) => quote(clip(r, 80))), 12);
}

function walkKeras(v: unknown, where: string, out: KerasHit[], depth = 0): void {
  if (depth > 200 || !v || typeof v !== 'object') return;
  if (Array.isArray(v)) {
    for (const x of v) walkKeras(x, where, out, depth + 1);
    return;
  }
  const o = v as Record<string, unknown>;
  const cls = typeof o.class_name === 'string' ? o.class_name : '';
  const cfg = o.config && typeof o.config === 'object' ? (o.config as Record<string, unknown>) : undefined;
  const layer = typeof cfg?.name === 'string' ? cfg.name : '?';
  if (cfg && (cls === 'Lambda' || cls.endsWith('>Lambda'))) {
    for (const [field, typeField, moduleField] of [
      ['function', 'function_type', 'module'],
      ['output_shape', 'output_shape_type', 'output_shape_module'],
    ] as const) {
      const fn = cfg[field];
      const kind = cfg[typeField];
      const code =
        Array.isArray(fn) && typeof fn[0] === 'string'
          ? fn[0]
          : fn && typeof fn === 'object' && typeof (fn as { config?: { code?: unknown } }).config?.code === 'string'
            ? ((fn as { config: { code: string } }).config.code as string)
            : undefined;
      if (code !== undefined || kind === 'lambda') {
        out.push({
          severity: 'HIGH',
          rule: 'tensorflow/keras-lambda',
          line: `${where}: Lambda layer ${quote(layer)} ${field} is marshalled Python bytecode${code ? ` (strings: ${bytecodeStrings(code)})` : ''}`,
        });
      } else if (typeof fn === 'string' && field === 'function') {
        const mod = typeof cfg[moduleField] === 'string' ? `${cfg[moduleField] as string}.` : '';
        out.push({ severity: 'MEDIUM', rule: 'tensorflow/keras-lambda', line: `${where}: Lambda layer ${quote(layer)} calls the Python function ${mod}${fn}` });
      }
    }
  }
  if (cfg && (cls === 'TFOpLambda' || cls === 'SlicingOpLambda') && typeof cfg.function === 'string') {
    const sym = cfg.function.replace(/^tf\./, '');
    if (RISKY_TF_SYMBOL.test(sym)) {
      out.push({ severity: 'HIGH', rule: 'tensorflow/keras-tf-op', line: `${where}: ${cls} layer ${quote(layer)} calls tf.${sym}` });
    }
  }
  for (const x of Object.values(o)) walkKeras(x, where, out, depth + 1);
}

function judgeKeras(model: TfModel, place: Place, ctx: ScanContext): void {
  const hits: KerasHit[] = [];
  for (const blob of model.json) {
    if (!blob.json) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(blob.json);
    } catch {
      // truncated or broken JSON: fall back to a textual look for Lambda layers
      if (/"class_name"\s*:\s*"Lambda"/.test(blob.json)) {
        hits.push({ severity: 'HIGH', rule: 'tensorflow/keras-lambda', line: `${blob.where}: Lambda layer in metadata that could not be parsed as JSON` });
      }
      continue;
    }
    walkKeras(parsed, blob.where, hits);
  }
  const groups = new Map<string, KerasHit[]>();
  for (const h of hits) {
    const key = `${h.rule}|${h.severity}`;
    const prev = groups.get(key);
    if (!prev) groups.set(key, [h]);
    else if (!prev.some((p) => p.line.slice(p.line.indexOf(':')) === h.line.slice(h.line.indexOf(':')))) prev.push(h);
  }
  for (const [key, hs] of groups) {
    const h = hs[0];
    const lambda = h.rule === 'tensorflow/keras-lambda';
    addFinding(ctx, `${place.location}|keras|${key}`, {
      ruleId: h.rule,
      severity: h.severity,
      location: place.location,
      message: lambda
        ? h.severity === 'HIGH'
          ? `Keras metadata holds ${hs.length} Lambda layer function(s) stored as Python bytecode, which tf.keras.models.load_model unmarshals and runs.`
          : `Keras metadata holds ${hs.length} Lambda layer(s) that call Python functions by name when the model runs.`
        : `Keras metadata holds ${hs.length} TFOpLambda layer(s) calling TensorFlow functions that touch files or run Python.`,
      evidence: hs.slice(0, MAX_LINES).map((x) => x.line).join('\n'),
      hint: lambda
        ? 'Lambda layers are code, not weights. Load only the SavedModel signatures (tf.saved_model.load), or rebuild the model in code and load its weights; never keras.models.load_model on an untrusted file.'
        : 'These layers call the named TensorFlow function with arguments stored in the model config. Do not load the model with Keras until you know why.',
    });
  }
}
