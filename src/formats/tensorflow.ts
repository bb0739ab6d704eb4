/**
 * TensorFlow readers: SavedModel (saved_model.pb), frozen GraphDef (.pb) and
 * Keras' keras_metadata.pb (a SavedMetadata proto). They return the graphs'
 * nodes (top-level and every library function), saver and asset settings, and
 * the Keras/user-object JSON, without reading tensor contents: Const weights
 * are skipped by length, only short string constants (file names) are kept.
 */
import { BufferSource, type ByteSource } from './source.js';
import { DEFAULT_DECODE_OPTIONS, decodeMessage, topFields, type Decoded, type DecodeOptions } from './proto/decode.js';

export interface TfNode {
  name: string;
  op: string;
  input: string[];
  device: string;
  attr: Record<string, Decoded>;
  offset: number;
}

export interface TfGraph {
  /** "meta_graphs[0].graph_def", "meta_graphs[0] function __inference_x_12", "graph_def", "function f". */
  where: string;
  /** How many DatasetFromGraph levels down this graph was found (0: in the file itself). */
  nested: number;
  kind: 'graph' | 'function';
  /** Function name ("" for a graph). */
  name: string;
  /** Function input argument names: inputs that come from the caller. */
  args: string[];
  nodes: TfNode[];
  offset: number;
}

export interface TfAsset {
  filename: string;
  tensorName: string;
  metaGraph: number;
}

export interface TfJsonBlob {
  /** Where the JSON sits, e.g. "nodes[3] (root.layer-1)". */
  where: string;
  identifier: string;
  json: string;
  truncated: boolean;
  offset: number;
}

export interface TfModel {
  kind: 'saved-model' | 'graph-def' | 'keras-metadata';
  schemaVersion: number;
  tags: string[][];
  tensorflowVersions: string[];
  graphs: TfGraph[];
  /** Tensor names of SaverDef.filename_tensor_name, per meta graph. */
  saverFilenames: string[];
  assets: TfAsset[];
  /** Keras/user-object JSON: SavedUserObject.metadata and SavedMetadata nodes. */
  json: TfJsonBlob[];
}

const SKIP = { kind: 'skip' } as const;

export const TF_DECODE_OPTIONS: DecodeOptions = {
  ...DEFAULT_DECODE_OPTIONS,
  payload: {
    // Weights of Const nodes; string constants are kept when short, for file names.
    'tensorflow.TensorProto': {
      tensor_content: SKIP,
      half_val: SKIP,
      float_val: SKIP,
      double_val: SKIP,
      int_val: SKIP,
      scomplex_val: SKIP,
      int64_val: SKIP,
      bool_val: SKIP,
      dcomplex_val: SKIP,
      uint32_val: SKIP,
      uint64_val: SKIP,
      float8_val: SKIP,
      string_val: { kind: 'small', maxItems: 64, maxBytes: 4096 },
    },
  },
};

const str = (v: unknown): string => (typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const arr = (v: unknown): Decoded[] => (Array.isArray(v) ? (v as Decoded[]) : []);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.map(str) : []);
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});

// ---------------------------------------------------------------- sniffing

const NODE_NAME = /^[A-Za-z0-9.][A-Za-z0-9_.\-/>]*$/;
const OP_NAME = /^[A-Za-z_][A-Za-z0-9_.>]*$/;

function headString(head: Buffer, at: number, len: number): string | undefined {
  if (at + len > head.length) return undefined;
  return head.toString('latin1', at, at + len);
}

/** SavedModel: field 1 saved_model_schema_version (a small varint) then field 2 meta_graphs, nothing else. */
export function sniffSavedModel(head: Buffer, size: number): boolean {
  const fields = topFields(head, size, 8);
  if (!fields || fields.length < 2) return false;
  const [v, mg] = fields;
  if (v.id !== 1 || v.wt !== 0 || v.value < 1 || v.value > 16) return false;
  if (mg.id !== 2 || mg.wt !== 2 || mg.value < 2) return false;
  if (fields.some((f) => f.id !== 2 && f !== v)) return false;
  // A MetaGraphDef starts with one of its own length-delimited fields 1-7.
  if (mg.at >= head.length) return false;
  const first = head[mg.at];
  return (first & 7) === 2 && first >> 3 >= 1 && first >> 3 <= 7;
}

/** GraphDef: field 1 node, whose first fields are a plausible node name and op type. */
export function sniffGraphDef(head: Buffer, size: number): boolean {
  const fields = topFields(head, size, 16);
  if (!fields || fields.length < 1) return false;
  const GRAPH_WIRE: Record<number, number> = { 1: 2, 2: 2, 3: 0, 4: 2, 5: 2 };
  if (fields.some((f) => GRAPH_WIRE[f.id] !== f.wt)) return false;
  const first = fields[0];
  if (first.id !== 1) return false;
  const inner = topFields(head.subarray(first.at, Math.min(head.length, first.at + first.value)), first.value, 2);
  if (!inner || inner.length < 2) return false;
  const [name, op] = inner;
  if (name.id !== 1 || name.wt !== 2 || op.id !== 2 || op.wt !== 2) return false;
  if (name.value < 1 || name.value > 1024 || op.value < 1 || op.value > 256) return false;
  const n = headString(head, first.at + name.at, name.value);
  const o = headString(head, first.at + op.at, op.value);
  return n !== undefined && o !== undefined && NODE_NAME.test(n) && OP_NAME.test(o);
}

/** keras_metadata.pb: repeated field 1 SavedObject whose identifier (field 4) starts with "_tf_keras". */
export function sniffKerasMetadata(head: Buffer, size: number): boolean {
  const fields = topFields(head, size, 4);
  if (!fields || fields.length < 1 || fields.some((f) => f.id !== 1 || f.wt !== 2)) return false;
  const first = fields[0];
  const inner = topFields(head.subarray(first.at, Math.min(head.length, first.at + first.value)), first.value, 4);
  if (!inner) return false;
  const WIRE: Record<number, number> = { 1: 2, 2: 0, 3: 2, 4: 2, 5: 2, 6: 2 };
  if (inner.some((f) => WIRE[f.id] !== f.wt)) return false;
  const id = inner.find((f) => f.id === 4);
  if (!id) return false;
  const s = headString(head, first.at + id.at, Math.min(id.value, 64));
  return s !== undefined && s.startsWith('_tf_keras');
}

// ---------------------------------------------------------------- reading

function nodesOf(list: unknown): TfNode[] {
  return arr(list).map((n) => ({
    name: str(n.name),
    op: str(n.op),
    input: strs(n.input),
    device: str(n.device),
    attr: (n.attr as Record<string, Decoded> | undefined) ?? (Object.create(null) as Record<string, Decoded>),
    offset: n.$offset,
  }));
}

function graphsOf(g: Decoded | undefined, prefix: string): TfGraph[] {
  if (!g) return [];
  const out: TfGraph[] = [{ where: prefix ? `${prefix}.graph_def` : 'graph_def', kind: 'graph', name: '', args: [], nodes: nodesOf(g.node), offset: g.$offset, nested: 0 }];
  const lib = g.library as Decoded | undefined;
  for (const f of arr(lib?.function)) {
    const sig = obj(f.signature) as Decoded;
    const name = str(sig.name);
    out.push({
      where: `${prefix ? `${prefix} ` : ''}function ${name}`,
      kind: 'function',
      name,
      args: arr(sig.input_arg).map((a) => str(a.name)),
      nodes: nodesOf(f.node_def),
      offset: f.$offset,
      nested: 0,
    });
  }
  return out;
}

function userObjects(og: Decoded | undefined, metaGraph: number): TfJsonBlob[] {
  const out: TfJsonBlob[] = [];
  arr(og?.nodes).forEach((n, i) => {
    const u = n.user_object as Decoded | undefined;
    if (!u || !u.metadata) return;
    out.push({
      where: `meta_graphs[${metaGraph}].object_graph_def.nodes[${i}]`,
      identifier: str(u.identifier),
      json: str(u.metadata),
      truncated: !!u.$truncated?.includes('metadata'),
      offset: u.$offset,
    });
  });
  return out;
}

export async function readSavedModel(src: ByteSource, opts: DecodeOptions = TF_DECODE_OPTIONS): Promise<TfModel> {
  const m = await decodeMessage(src, 'tensorflow.SavedModel', opts);
  const model: TfModel = { kind: 'saved-model', schemaVersion: num(m.saved_model_schema_version), tags: [], tensorflowVersions: [], graphs: [], saverFilenames: [], assets: [], json: [] };
  arr(m.meta_graphs).forEach((mg, i) => {
    const info = obj(mg.meta_info_def);
    model.tags.push(strs(info.tags));
    if (info.tensorflow_version) model.tensorflowVersions.push(str(info.tensorflow_version));
    model.graphs.push(...graphsOf(mg.graph_def as Decoded | undefined, `meta_graphs[${i}]`));
    const saver = obj(mg.saver_def);
    if (saver.filename_tensor_name) model.saverFilenames.push(str(saver.filename_tensor_name));
    for (const a of arr(mg.asset_file_def)) {
      model.assets.push({ filename: str(a.filename), tensorName: str(obj(a.tensor_info).name), metaGraph: i });
    }
    model.json.push(...userObjects(mg.object_graph_def as Decoded | undefined, i));
  });
  return model;
}

export async function readGraphDef(src: ByteSource, opts: DecodeOptions = TF_DECODE_OPTIONS): Promise<TfModel> {
  const g = await decodeMessage(src, 'tensorflow.GraphDef', opts);
  return { kind: 'graph-def', schemaVersion: 0, tags: [], tensorflowVersions: [], graphs: graphsOf(g, ''), saverFilenames: [], assets: [], json: [] };
}

export async function readKerasMetadata(src: ByteSource, opts: DecodeOptions = TF_DECODE_OPTIONS): Promise<TfModel> {
  const m = await decodeMessage(src, 'third_party.tensorflow.python.keras.protobuf.SavedMetadata', opts);
  const json = arr(m.nodes).map((n, i) => ({
    where: `nodes[${i}] (${str(n.node_path) || `node ${num(n.node_id)}`})`,
    identifier: str(n.identifier),
    json: str(n.metadata),
    truncated: !!n.$truncated?.includes('metadata'),
    offset: n.$offset,
  }));
  return { kind: 'keras-metadata', schemaVersion: 0, tags: [], tensorflowVersions: [], graphs: [], saverFilenames: [], assets: [], json };
}

// ---------------------------------------------------------------- helpers for policy

/** The string values of a Const node (its value tensor's string_val), decoded as UTF-8. */
export function constStrings(n: TfNode): string[] {
  const t = n.attr.value?.tensor as Decoded | undefined;
  return t ? strs(t.string_val) : [];
}

/** A string or list-of-strings attr as text. */
export function attrStrings(n: TfNode, name: string): string[] {
  const a = n.attr[name];
  if (!a) return [];
  if (a.s !== undefined) return [str(a.s)];
  const list = a.list as Decoded | undefined;
  return list ? strs(list.s) : [];
}

/** Function name an attr refers to (f, then_branch, body…), for call graphs. */
export function attrFunctions(n: TfNode): string[] {
  const out: string[] = [];
  for (const a of Object.values(n.attr)) {
    const f = a.func as Decoded | undefined;
    if (f?.name) out.push(str(f.name));
    for (const g of arr((a.list as Decoded | undefined)?.func)) out.push(str(g.name));
  }
  return out;
}

/**
 * Why a file name used by the graph points somewhere a model has no business
 * reading or writing, or undefined. TensorFlow's file system layer also opens
 * URLs (gs://, s3://, hdfs://, http://), so those count too.
 */
export function tfPathProblem(p: string): string | undefined {
  if (p.includes('\0')) return 'contains a NUL byte';
  if (/^[A-Za-z][A-Za-z0-9+.-]+:\/\//.test(p)) return 'is a URL, which TensorFlow opens over the network or a remote file system';
  if (/^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\')) return 'is an absolute Windows path';
  if (p.startsWith('/') || p.startsWith('\\')) return 'is an absolute path';
  if (p.startsWith('~')) return "is in the user's home directory";
  if (p.split(/[\\/]/).includes('..')) return "climbs out of the model's folder with '..'";
  return undefined;
}

// ---------------------------------------------------------------- graphs inside string constants

/** Ops that run a serialized GraphDef taken from a string input, by input index. */
export const NESTED_GRAPH_OPS: Readonly<Record<string, number>> = { DatasetFromGraph: 0 };

const MAX_NESTED_DEPTH = 4;
const MAX_NESTED_BYTES = 64 * 1024 * 1024;
const MAX_NESTED_TOTAL = 256 * 1024 * 1024;
/** Constants opened per file: each may mean re-inflating a compressed member from its start. */
const MAX_NESTED_GRAPHS = 64;

const NESTED_TENSOR_OPTIONS: DecodeOptions = {
  ...TF_DECODE_OPTIONS,
  maxString: MAX_NESTED_BYTES,
  payload: {
    'tensorflow.TensorProto': { ...TF_DECODE_OPTIONS.payload['tensorflow.TensorProto'], string_val: { kind: 'small', maxItems: 1, maxBytes: MAX_NESTED_BYTES } },
  },
};

/** The Const node a tensor reference resolves to through Identity-like ops, if any. */
function constFeeding(byName: Map<string, TfNode>, ref: string | undefined): TfNode | undefined {
  let name = ref?.replace(/^\^/, '').split(':')[0];
  for (let hops = 0; name !== undefined && hops < 16; hops++) {
    const n = byName.get(name);
    if (!n) return undefined;
    if (n.op === 'Const') return n;
    if (!['Identity', 'Snapshot', 'StopGradient', 'IdentityN'].includes(n.op)) return undefined;
    name = n.input[0]?.replace(/^\^/, '').split(':')[0];
  }
  return undefined;
}

/**
 * Decodes the graphs that DatasetFromGraph nodes run from string constants
 * and appends them (and their functions) to `model.graphs`, so their ops are
 * judged like any other: a WriteFile nested this way runs when the dataset
 * is built, and scanners that stop at the outer graph miss it. Returns, per
 * node ("<graph where>|<node name>"), "expanded" or why it could not be.
 */
export async function expandNestedGraphs(model: TfModel, src: ByteSource): Promise<Map<string, string>> {
  const status = new Map<string, string>();
  // offsets of nested graphs' tensors point into the string they were decoded from
  const sourceOf = new Map<TfGraph, ByteSource>();
  // each constant is opened once, and all of them together are bounded: nesting multiplies otherwise
  const opened = new Map<ByteSource, Set<number>>();
  let budget = MAX_NESTED_TOTAL;
  let count = 0;
  for (let i = 0; i < model.graphs.length; i++) {
    const g = model.graphs[i];
    const nestedOps = g.nodes.filter((n) => Object.hasOwn(NESTED_GRAPH_OPS, n.op));
    if (!nestedOps.length) continue;
    const byName = new Map(g.nodes.map((n) => [n.name, n]));
    for (const n of nestedOps) {
      const key = `${g.where}|${n.name}`;
      if (g.nested >= MAX_NESTED_DEPTH) {
        status.set(key, `graphs nested more than ${MAX_NESTED_DEPTH} levels deep are not opened`);
        continue;
      }
      const c = constFeeding(byName, n.input[NESTED_GRAPH_OPS[n.op]]);
      const t = c?.attr.value?.tensor as Decoded | undefined;
      if (!c || !t) {
        status.set(key, 'its graph is computed at run time, not a constant');
        continue;
      }
      const from = sourceOf.get(g) ?? src;
      const seen = opened.get(from) ?? opened.set(from, new Set()).get(from)!;
      if (seen.has(t.$offset)) {
        status.set(key, 'expanded');
        continue;
      }
      if (t.$end - t.$offset > budget || count >= MAX_NESTED_GRAPHS) {
        status.set(key, `nested graphs beyond ${MAX_NESTED_GRAPHS} or ${MAX_NESTED_TOTAL / 1024 / 1024} MiB in all are not opened`);
        continue;
      }
      count++;
      seen.add(t.$offset);
      budget -= t.$end - t.$offset;
      try {
        const tensor = await decodeMessage(from, 'tensorflow.TensorProto', NESTED_TENSOR_OPTIONS, t.$offset, t.$end);
        const bytes = (tensor.string_val as Buffer[] | undefined)?.[0];
        if (!bytes || tensor.$truncated?.includes('string_val')) throw new Error(`the constant ${c.name} holds no serialized graph of at most ${MAX_NESTED_BYTES} bytes`);
        const where = `${g.where} » ${n.name}`;
        const innerSrc = new BufferSource(bytes, where);
        const inner = await decodeMessage(innerSrc, 'tensorflow.GraphDef', TF_DECODE_OPTIONS);
        for (const ng of graphsOf(inner, where)) {
          const added = { ...ng, nested: g.nested + 1 };
          sourceOf.set(added, innerSrc);
          model.graphs.push(added);
        }
        status.set(key, 'expanded');
      } catch (e) {
        status.set(key, `its graph constant could not be decoded: ${(e as Error).message}`);
      }
    }
  }
  return status;
}
