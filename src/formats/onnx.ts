/**
 * ONNX ModelProto reader: the graph structure (nodes, attributes, initializer
 * headers, functions, training graphs, metadata) without tensor data. Tensor
 * payloads (raw_data and the typed *_data fields) are skipped by length, so a
 * model with gigabytes of inline weights costs the bytes of its structure.
 */
import type { ByteSource } from './source.js';
import { DEFAULT_DECODE_OPTIONS, decodeMessage, topFields, type Decoded, type DecodeOptions } from './proto/decode.js';

export interface OnnxEntry {
  key: string;
  value: string;
}

export interface OnnxTensor {
  /** Path to the tensor inside the model, e.g. "graph.initializer[w1]" or "graph.node[fc1].attribute[value]". */
  where: string;
  name: string;
  /** File offset of the TensorProto. */
  offset: number;
  dataType: number;
  dims: number[];
  /** TensorProto.data_location: 1 = EXTERNAL. */
  dataLocation: number;
  externalData: OnnxEntry[];
  /** Bytes of inline tensor data that were skipped unread. */
  inlineBytes: number;
}

export interface OnnxNode {
  where: string;
  name: string;
  opType: string;
  domain: string;
  offset: number;
  /** String attributes (e.g. PythonOp's func_name), first 4 KiB each. */
  stringAttrs: Record<string, string>;
}

export interface OnnxFunction {
  name: string;
  domain: string;
  offset: number;
  nodeCount: number;
}

export interface OnnxModel {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  domain: string;
  opsetImports: { domain: string; version: number }[];
  metadataProps: (OnnxEntry & { truncated: boolean })[];
  nodes: OnnxNode[];
  tensors: OnnxTensor[];
  functions: OnnxFunction[];
  /** Graphs walked: the main graph, subgraphs in attributes, training graphs. */
  graphCount: number;
}

/** Standard operator-set domains (ONNX itself; "" and "ai.onnx" are the same). */
export const ONNX_STANDARD_DOMAINS: ReadonlySet<string> = new Set(['', 'ai.onnx', 'ai.onnx.ml', 'ai.onnx.training', 'ai.onnx.preview.training']);

/** Domains implemented inside onnxruntime itself (contrib and layout-internal ops). */
export const ONNXRUNTIME_DOMAINS: ReadonlySet<string> = new Set([
  'com.microsoft',
  'com.microsoft.nchwc',
  'com.microsoft.experimental',
  'com.microsoft.dml',
  'com.ms.internal.nhwc',
]);

/** IR versions accepted when sniffing: 1 (2017) to a few past the newest (11 in 2025). */
export const MAX_IR_VERSION = 15;

// The typed data fields hold the tensor's values; the reader never reads them.
const TENSOR_PAYLOAD = {
  float_data: { kind: 'skip' },
  int32_data: { kind: 'skip' },
  string_data: { kind: 'skip' },
  int64_data: { kind: 'skip' },
  raw_data: { kind: 'skip' },
  double_data: { kind: 'skip' },
  uint64_data: { kind: 'skip' },
} as const;

export const ONNX_DECODE_OPTIONS: DecodeOptions = {
  ...DEFAULT_DECODE_OPTIONS,
  payload: { 'onnx.TensorProto': TENSOR_PAYLOAD },
};

// Top-level ModelProto fields and their wire types (0 varint, 2 length-delimited).
const MODEL_FIELDS: Record<number, number> = { 1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2 };

/**
 * Whether `head` starts an ONNX ModelProto: well-formed top-level fields, all
 * ModelProto fields with their proper wire types, an ir_version in range and
 * a graph field whose length fits the file. Protobuf has no magic number, so
 * this is as strict as real files allow.
 */
export function sniffOnnx(head: Buffer, size: number): boolean {
  const fields = topFields(head, size);
  if (!fields || fields.length < 2) return false;
  let ir = 0;
  let graph = false;
  for (const f of fields) {
    const wt = MODEL_FIELDS[f.id];
    if (wt === undefined) {
      // fields newer than this reader are fine if length-delimited or varint
      if (f.id > 64 || (f.wt !== 0 && f.wt !== 2)) return false;
      continue;
    }
    if (wt !== f.wt) return false;
    if (f.id === 1) {
      if (ir) return false;
      ir = f.value;
    }
    if (f.id === 7) graph = true;
  }
  return ir >= 1 && ir <= MAX_IR_VERSION && graph;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const arr = (v: unknown): Decoded[] => (Array.isArray(v) ? (v as Decoded[]) : []);
const bytesText = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8', 0, Math.min(v.length, 4096)) : '');

function entries(v: unknown): OnnxEntry[] {
  return arr(v).map((e) => ({ key: str(e.key), value: str(e.value) }));
}

class Walker {
  nodes: OnnxNode[] = [];
  tensors: OnnxTensor[] = [];
  graphCount = 0;

  tensor(t: Decoded | undefined, where: string): void {
    if (!t) return;
    this.tensors.push({
      where,
      name: str(t.name),
      offset: t.$offset,
      dataType: num(t.data_type),
      dims: Array.isArray(t.dims) ? (t.dims as number[]) : [],
      dataLocation: num(t.data_location),
      externalData: entries(t.external_data),
      inlineBytes: t.$skipped ?? 0,
    });
  }

  sparse(s: Decoded | undefined, where: string): void {
    if (!s) return;
    this.tensor(s.values as Decoded | undefined, `${where}.values`);
    this.tensor(s.indices as Decoded | undefined, `${where}.indices`);
  }

  attributes(attrs: Decoded[], where: string): Record<string, string> {
    const strings: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const a of attrs) {
      const name = str(a.name);
      const at = `${where}.attribute[${name}]`;
      if (a.s !== undefined) strings[name] = bytesText(a.s);
      this.tensor(a.t as Decoded | undefined, at);
      arr(a.tensors).forEach((t, i) => this.tensor(t, `${at}.tensors[${i}]`));
      this.sparse(a.sparse_tensor as Decoded | undefined, `${at}.sparse_tensor`);
      arr(a.sparse_tensors).forEach((t, i) => this.sparse(t, `${at}.sparse_tensors[${i}]`));
      if (a.g) this.graph(a.g as Decoded, `${at}.g`);
      arr(a.graphs).forEach((g, i) => this.graph(g, `${at}.graphs[${i}]`));
    }
    return strings;
  }

  node(n: Decoded, where: string): void {
    const name = str(n.name);
    const at = `${where}.node[${name || this.nodes.length}]`;
    const stringAttrs = this.attributes(arr(n.attribute), at);
    this.nodes.push({ where: at, name, opType: str(n.op_type), domain: str(n.domain), offset: n.$offset, stringAttrs });
  }

  graph(g: Decoded, where: string): void {
    this.graphCount++;
    for (const n of arr(g.node)) this.node(n, where);
    for (const t of arr(g.initializer)) this.tensor(t, `${where}.initializer[${str(t.name)}]`);
    arr(g.sparse_initializer).forEach((s, i) => this.sparse(s, `${where}.sparse_initializer[${i}]`));
  }
}

/** Reads a ModelProto from `src` without reading tensor data. Throws for malformed protobuf. */
export async function readOnnx(src: ByteSource, opts: DecodeOptions = ONNX_DECODE_OPTIONS): Promise<OnnxModel> {
  const m = await decodeMessage(src, 'onnx.ModelProto', opts);
  const w = new Walker();
  if (m.graph) w.graph(m.graph as Decoded, 'graph');
  arr(m.training_info).forEach((t, i) => {
    if (t.initialization) w.graph(t.initialization as Decoded, `training_info[${i}].initialization`);
    if (t.algorithm) w.graph(t.algorithm as Decoded, `training_info[${i}].algorithm`);
  });
  const functions: OnnxFunction[] = [];
  for (const f of arr(m.functions)) {
    const name = str(f.name);
    const domain = str(f.domain);
    const where = `functions[${domain ? `${domain}.` : ''}${name}]`;
    const before = w.nodes.length;
    for (const n of arr(f.node)) w.node(n, where);
    w.attributes(arr(f.attribute_proto), where);
    functions.push({ name, domain, offset: f.$offset, nodeCount: w.nodes.length - before });
  }
  return {
    irVersion: num(m.ir_version),
    producerName: str(m.producer_name),
    producerVersion: str(m.producer_version),
    domain: str(m.domain),
    opsetImports: arr(m.opset_import).map((o) => ({ domain: str(o.domain), version: num(o.version) })),
    metadataProps: arr(m.metadata_props).map((e) => ({ key: str(e.key), value: str(e.value), truncated: !!e.$truncated?.includes('value') })),
    nodes: w.nodes,
    tensors: w.tensors,
    functions,
    graphCount: w.graphCount,
  };
}

/** Bytes per element of ONNX TensorProto.DataType values with a fixed size (undefined: strings, sub-byte types). */
export const ONNX_ELEMENT_SIZE: Readonly<Record<number, number>> = {
  1: 4, // FLOAT
  2: 1, // UINT8
  3: 1, // INT8
  4: 2, // UINT16
  5: 2, // INT16
  6: 4, // INT32
  7: 8, // INT64
  9: 1, // BOOL
  10: 2, // FLOAT16
  11: 8, // DOUBLE
  12: 4, // UINT32
  13: 8, // UINT64
  14: 8, // COMPLEX64
  15: 16, // COMPLEX128
  16: 2, // BFLOAT16
  17: 1, // FLOAT8E4M3FN
  18: 1, // FLOAT8E4M3FNUZ
  19: 1, // FLOAT8E5M2
  20: 1, // FLOAT8E5M2FNUZ
};

/**
 * Why an external_data location could reach outside the model's folder, or
 * undefined when it is a plain relative path. Mirrors what loaders do with it:
 * onnx and onnxruntime join it to the model's directory.
 */
export function externalLocationProblem(location: string): string | undefined {
  if (location.includes('\0')) return 'contains a NUL byte, which truncates the path in C/C++ loaders';
  if (/^[A-Za-z][A-Za-z0-9+.-]+:/.test(location)) return 'is a URL';
  if (/^[A-Za-z]:/.test(location)) return 'is an absolute Windows path (drive letter)';
  if (location.startsWith('\\\\') || location.startsWith('//')) return 'is a UNC/network path';
  if (location.startsWith('/') || location.startsWith('\\')) return 'is an absolute path';
  if (location.split(/[\\/]/).includes('..')) return "climbs out of the model's folder with '..'";
  return undefined;
}
