/**
 * Graph-format figures: how fast ONNX and TensorFlow graphs are listed, and how
 * little of a file with big tensors is read. Inputs are built in `dir` with the
 * vendored schemas; the 1.5 GB ONNX is sparse (its initializer is a hole).
 */
import { open, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import protobuf from 'protobufjs';
import { messageType } from '../src/formats/proto/decode.js';
import { FileSource } from '../src/formats/source.js';
import { createScanContext } from '../src/scan/scanner.js';
import type { FormatScanner } from '../src/scan/format-scanner.js';
import { onnxScanner } from '../src/scan/onnx-scan.js';
import { graphDefScanner, savedModelScanner } from '../src/scan/tensorflow-scan.js';

const MB = 1024 * 1024;

function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

function encode(type: string, obj: Record<string, unknown>): Buffer {
  const T = messageType(type);
  return Buffer.from(T.encode(T.fromObject(obj)).finish());
}

/** Tag and length of a length-delimited field. */
function lenPrefix(field: number, len: number): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((field << 3) | 2).uint32(len);
  return Buffer.from(w.finish());
}

/** An ONNX model: a chain of `nodes` small ops plus one `bigBytes` initializer, written with a hole for its data when sparse. */
async function writeOnnx(path: string, nodes: number, bigBytes: number, sparse: boolean): Promise<number> {
  const node = Array.from({ length: nodes }, (_, i) => ({
    op_type: ['MatMul', 'Add', 'Relu', 'LayerNormalization'][i % 4],
    name: `n${i}`,
    input: [i ? `t${i - 1}` : 'x', 'big'],
    output: [`t${i}`],
    attribute: i % 4 === 3 ? [{ name: 'epsilon', type: 1, f: 1e-5 }] : [],
  }));
  const small = Array.from({ length: 200 }, (_, i) => ({ name: `s${i}`, data_type: 1, dims: [64], raw_data: Buffer.alloc(256, i) }));
  const graphRest = encode('onnx.GraphProto', {
    name: 'bench',
    node,
    initializer: small,
    input: [{ name: 'x' }],
    output: [{ name: `t${nodes - 1}` }],
  });
  const tensorHead = Buffer.concat([encode('onnx.TensorProto', { name: 'big', data_type: 1, dims: [bigBytes / 4] }), lenPrefix(9, bigBytes)]);
  const tensorLen = tensorHead.length + bigBytes;
  const initField = lenPrefix(5, tensorLen);
  const graphLen = graphRest.length + initField.length + tensorLen;
  const modelHead = Buffer.concat([encode('onnx.ModelProto', { ir_version: 8, producer_name: 'bench', opset_import: [{ domain: '', version: 17 }] }), lenPrefix(7, graphLen)]);
  const prefix = Buffer.concat([modelHead, graphRest, initField, tensorHead]);
  const total = prefix.length + bigBytes;
  const fh = await open(path, 'w');
  try {
    await fh.write(prefix, 0, prefix.length, 0);
    if (sparse) await fh.truncate(total);
    else {
      const chunk = Buffer.alloc(4 * MB, 0x3f);
      for (let at = 0; at < bigBytes; at += chunk.length) await fh.write(chunk, 0, Math.min(chunk.length, bigBytes - at), prefix.length + at);
    }
  } finally {
    await fh.close();
  }
  return total;
}

/** A chain of TensorFlow nodes: a float Const of `constBytes` every `every`th node, compute ops between. */
function tfNodes(n: number, prefix: string, constBytes = 1024, every = 5): Record<string, unknown>[] {
  const attrT = { T: { type: 'DT_FLOAT' } };
  const content = Buffer.alloc(constBytes, 1);
  const ops = ['MatMul', 'BiasAdd', 'Relu', 'Identity', 'AddV2', 'Mul', 'Softmax', 'Reshape', 'ConcatV2'];
  return Array.from({ length: n }, (_, i) => {
    const k = i % every;
    if (k === 0)
      return {
        name: `${prefix}c${i}`,
        op: 'Const',
        attr: { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: constBytes / 4 }] }, tensor_content: content } } },
      };
    return {
      name: `${prefix}n${i}`,
      op: ops[(k - 1) % ops.length],
      input: [`${prefix}${k > 1 ? 'n' : 'c'}${i - 1}`, `${prefix}c${i - k}`],
      attr: attrT,
    };
  });
}

/** A TF2-style SavedModel: `topNodes` nodes in the graph and `fns` library functions of `fnNodes` nodes each. */
function savedModel(topNodes: number, fns: number, fnNodes: number): Buffer {
  const functions = Array.from({ length: fns }, (_, f) => ({
    signature: { name: `__inference_layer_${f}`, input_arg: [{ name: 'x', type: 'DT_FLOAT' }] },
    node_def: tfNodes(fnNodes, ''),
    ret: { out: `n${fnNodes - 1}:output:0` },
  }));
  return encode('tensorflow.SavedModel', {
    saved_model_schema_version: 1,
    meta_graphs: [{ meta_info_def: { tags: ['serve'], tensorflow_version: '2.15.0' }, graph_def: { node: tfNodes(topNodes, 'top/'), library: { function: functions } } }],
  });
}

async function measure(scanner: FormatScanner, path: string): Promise<{ ms: number; bytesRead: number; ops: number; size: number; loud: number }> {
  const ctx = createScanContext(path);
  const src = await FileSource.open(path);
  try {
    const head = await src.read(0, 4096);
    if (!scanner.sniff(head, src.size)) throw new Error(`${scanner.id} does not recognise ${path}`);
    const t = performance.now();
    await scanner.scan(src, { location: path, depth: 0, ecosystems: ['python'] }, ctx);
    const ms = performance.now() - t;
    const census = ctx.findings.find((f) => f.ruleId === 'onnx/operators' || f.ruleId === 'tensorflow/operators');
    const ops = Number(/(\d+) node\(s\)/.exec(census?.message ?? '')?.[1] ?? 0);
    const loud = ctx.findings.filter((f) => f.severity !== 'INFO' && f.severity !== 'LOW').length;
    return { ms, bytesRead: src.bytesRead, ops, size: src.size, loud };
  } finally {
    await src.close();
  }
}

export async function benchGraph(dir: string): Promise<void> {
  console.log('\n## Graph formats: ops listed and bytes read (median of 3 runs after a warm-up)');
  console.log('| input | size | nodes listed | time | nodes/s | bytes read | read / size |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  const rows: { label: string; scanner: FormatScanner; make: (p: string) => Promise<void> }[] = [
    { label: 'ONNX, 48 MB initializer + 200 small, 2,000 nodes', scanner: onnxScanner, make: async (p) => void (await writeOnnx(p, 2000, 48 * MB, false)) },
    { label: 'ONNX, 1.5 GB initializer (sparse), 20,000 nodes', scanner: onnxScanner, make: async (p) => void (await writeOnnx(p, 20_000, 1536 * MB, true)) },
    { label: 'SavedModel, 50,000 graph nodes + 100 functions × 1,000', scanner: savedModelScanner, make: (p) => writeFile(p, savedModel(50_000, 100, 1000)) },
    {
      label: 'frozen GraphDef, 20,000 nodes, a 64 KiB Const every 10th',
      scanner: graphDefScanner,
      make: (p) => writeFile(p, encode('tensorflow.GraphDef', { node: tfNodes(20_000, '', 64 * 1024, 10) })),
    },
    {
      label: 'frozen GraphDef, 200,000 nodes, a 1 KiB Const every 5th',
      scanner: graphDefScanner,
      make: (p) => writeFile(p, encode('tensorflow.GraphDef', { node: tfNodes(200_000, '') })),
    },
  ];
  for (const [i, row] of rows.entries()) {
    const path = join(dir, `graph-${i}.bin`);
    await row.make(path);
    await measure(row.scanner, path); // warm-up: the first run pays for JIT compilation
    const runs = [await measure(row.scanner, path), await measure(row.scanner, path), await measure(row.scanner, path)];
    const r = runs.sort((a, b) => a.ms - b.ms)[1];
    const size = (await stat(path)).size;
    console.log(
      `| ${row.label} | ${fmt(size / MB)} MB | ${fmt(r.ops, 0)} | ${fmt(r.ms)} ms | ${fmt(r.ops / (r.ms / 1000), 0)} | ${fmt(r.bytesRead / 1024)} KiB | ${(r.bytesRead / size).toExponential(2)} |`,
    );
    if (r.loud) console.log(`  (unexpected: ${r.loud} finding(s) at MEDIUM or above)`);
    await rm(path);
  }
}
