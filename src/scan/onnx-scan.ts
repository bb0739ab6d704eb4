/**
 * ONNX policy: external data that leaves the model's folder, operators that
 * need code from outside the model (custom domains, onnxruntime's PythonOp),
 * model-local functions, and metadata that carries more than text.
 */
import { lstat, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import {
  ONNX_ELEMENT_SIZE,
  ONNX_STANDARD_DOMAINS,
  ONNXRUNTIME_DOMAINS,
  externalLocationProblem,
  readOnnx,
  sniffOnnx,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
} from '../formats/onnx.js';
import { looksLikePickle } from '../formats/pickle/stream.js';
import { BufferSource, FileSource, type ByteSource } from '../formats/source.js';
import { addFinding, type Place, type ScanContext } from './context.js';
import type { FormatScanner } from './format-scanner.js';
import { scanPickleStream } from './pickle-scan.js';

/** Largest external tensor believed: 1 TiB. Bigger lengths or offsets are how allocation bombs look. */
export const MAX_EXTERNAL_BYTES = 2 ** 40;

/** onnxruntime-training ops that call back into Python by name. */
const PYTHON_OPS = new Set(['PythonOp', 'PythonOpGrad']);

const KNOWN_EXTERNAL_KEYS = new Set(['location', 'offset', 'length', 'checksum', 'basepath']);

const MAX_LIST = 20;

function list(xs: string[]): string {
  return xs.length > MAX_LIST ? `${xs.slice(0, MAX_LIST).join(', ')}, … (${xs.length} in all)` : xs.join(', ');
}

function clip(s: string, n = 200): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** A value in double quotes, control characters escaped, backslashes left as they are (Windows paths stay readable). */
function quote(s: string): string {
  return `"${s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}"`;
}

export const onnxScanner: FormatScanner = {
  id: 'onnx',
  sniff(head: Buffer, size: number): boolean {
    try {
      return sniffOnnx(head, size);
    } catch {
      return false;
    }
  },
  async scan(src: ByteSource, place: Place, ctx: ScanContext): Promise<void> {
    const model = await readOnnx(src);
    // Only a model read straight from disk has a folder to resolve external data in
    // (not an archive member, not bytes handed over by name).
    const onDisk = src instanceof FileSource && place.depth === 0;
    await checkExternalData(model, place, ctx, onDisk ? resolve(src.name) : undefined);
    checkOperators(model, place, ctx);
    await checkMetadata(model, place, ctx);
  },
};

// ---------------------------------------------------------------- external data

function externalEntry(t: OnnxTensor, key: string): string | undefined {
  let v: string | undefined;
  for (const e of t.externalData) if (e.key === key) v = e.value; // the last one wins, as in onnx's loader
  return v;
}

async function checkExternalData(model: OnnxModel, place: Place, ctx: ScanContext, modelPath: string | undefined): Promise<void> {
  const files = new Map<string, string[]>();
  const modelDir = modelPath ? dirname(modelPath) : undefined;
  let realDir: string | undefined;
  if (modelDir) realDir = await realpath(modelDir).catch(() => undefined);
  for (const t of model.tensors) {
    if (t.externalData.length === 0) continue;
    const label = `${t.where}${t.name && !t.where.includes(t.name) ? ` (${t.name})` : ''}`;
    const location = externalEntry(t, 'location');
    if (location === undefined || location === '') {
      addFinding(ctx, `${place.location}|onnx-ext-noloc|${t.where}`, {
        ruleId: 'onnx/external-data-invalid',
        severity: 'MEDIUM',
        location: place.location,
        offset: t.offset,
        message: `Tensor ${label} declares external data without a location.`,
        evidence: t.externalData.map((e) => `${e.key}=${clip(e.value)}`).join(', '),
        hint: 'A loader cannot resolve this tensor; a hand-edited model is the usual cause. Do not load it until the external_data entries are explained.',
      });
      continue;
    }
    const problem = externalLocationProblem(location);
    if (problem) {
      addFinding(ctx, `${place.location}|onnx-ext-escape|${location}`, {
        ruleId: 'onnx/external-data-escape',
        severity: 'HIGH',
        location: place.location,
        offset: t.offset,
        message: `Tensor ${label} loads its data from ${quote(location)}, which ${problem}: onnx.load and onnxruntime would read that file into the model.`,
        evidence: `external_data location=${quote(location)}`,
        hint: 'This is how ONNX files exfiltrate local files (CVE-2022-25882, CVE-2024-27318). Do not load the model; external data must be a relative path inside the model folder.',
      });
      continue;
    }
    (files.get(location) ?? files.set(location, []).get(location)!).push(t.name || t.where);
    checkBounds(t, label, location, place, ctx);
    if (modelDir) await checkOnDisk(t, label, location, modelDir, realDir, place, ctx);
    for (const e of t.externalData) {
      if (KNOWN_EXTERNAL_KEYS.has(e.key)) continue;
      addFinding(ctx, `${place.location}|onnx-ext-key|${e.key}`, {
        ruleId: 'onnx/external-data-invalid',
        severity: 'LOW',
        location: place.location,
        offset: t.offset,
        message: `Tensor ${label} has an unknown external_data key ${quote(e.key)}.`,
        evidence: `${e.key}=${clip(e.value)}`,
        hint: "onnx's Python loader copies every key onto an object with setattr; only location, offset, length and checksum are meaningful. Find out what wrote the extra key.",
      });
    }
  }
  if (files.size > 0) {
    addFinding(ctx, `${place.location}|onnx-ext-list`, {
      ruleId: 'onnx/external-data',
      severity: 'INFO',
      location: place.location,
      message: `Tensor data is stored outside the model in ${files.size} file(s): ${list([...files.keys()])}.`,
      evidence: [...files].map(([f, ts]) => `${f}: ${list(ts)}`).join('\n'),
      hint: 'These files are raw tensor bytes and are loaded with the model; ship and verify them together.',
    });
  }
}

function parseCount(v: string | undefined): number | undefined | 'bad' {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v.trim())) return 'bad';
  return Number(v.trim());
}

function checkBounds(t: OnnxTensor, label: string, location: string, place: Place, ctx: ScanContext): void {
  const offset = parseCount(externalEntry(t, 'offset'));
  const length = parseCount(externalEntry(t, 'length'));
  const bad: string[] = [];
  if (offset === 'bad') bad.push(`offset ${quote(externalEntry(t, 'offset') ?? '')} is not an integer`);
  else if (offset !== undefined && offset < 0) bad.push(`offset ${offset} is negative`);
  else if (offset !== undefined && offset > MAX_EXTERNAL_BYTES) bad.push(`offset ${offset} is beyond 1 TiB`);
  if (length === 'bad') bad.push(`length ${quote(externalEntry(t, 'length') ?? '')} is not an integer`);
  else if (length !== undefined && length < 0) bad.push(`length ${length} is negative`);
  else if (length !== undefined && length > MAX_EXTERNAL_BYTES) bad.push(`length ${length} is beyond 1 TiB`);
  if (bad.length) {
    addFinding(ctx, `${place.location}|onnx-ext-bounds|${t.where}`, {
      ruleId: 'onnx/external-data-invalid',
      severity: 'MEDIUM',
      location: place.location,
      offset: t.offset,
      message: `Tensor ${label} declares impossible external data bounds: ${bad.join('; ')}.`,
      evidence: `location=${quote(location)} offset=${externalEntry(t, 'offset') ?? '(none)'} length=${externalEntry(t, 'length') ?? '(none)'}`,
      hint: 'Loaders allocate and map what these numbers say; absurd values crash them or exhaust memory. Do not load the model.',
    });
    return;
  }
  const expected = expectedBytes(t);
  if (typeof length === 'number' && expected !== undefined && length !== expected) {
    addFinding(ctx, `${place.location}|onnx-ext-size|${t.where}`, {
      ruleId: 'onnx/external-data-invalid',
      severity: 'LOW',
      location: place.location,
      offset: t.offset,
      message: `Tensor ${label} declares ${length} bytes of external data but its shape [${t.dims.join(', ')}] needs ${expected}.`,
      evidence: `location=${quote(location)} length=${length}`,
      hint: 'Loaders reject or misread such tensors. Re-export the model, or find out why the length was edited.',
    });
  }
}

function expectedBytes(t: OnnxTensor): number | undefined {
  const size = ONNX_ELEMENT_SIZE[t.dataType];
  if (!size || t.dims.some((d) => !Number.isSafeInteger(d) || d < 0)) return undefined;
  return t.dims.reduce((a, d) => a * d, size);
}

async function checkOnDisk(t: OnnxTensor, label: string, location: string, modelDir: string, realDir: string | undefined, place: Place, ctx: ScanContext): Promise<void> {
  const target = join(modelDir, location);
  const link = await lstat(target).catch(() => undefined);
  if (!link) return; // missing: the loader fails, nothing is read
  const real = await realpath(target).catch(() => undefined);
  if (real && realDir) {
    const rel = relative(realDir, real);
    if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      addFinding(ctx, `${place.location}|onnx-ext-escape|${location}`, {
        ruleId: 'onnx/external-data-escape',
        severity: 'HIGH',
        location: place.location,
        offset: t.offset,
        message: `Tensor ${label} loads its data from ${quote(location)}, which resolves through a symbolic link to ${real}, outside the model's folder.`,
        evidence: `external_data location=${quote(location)} → ${real}${link.isSymbolicLink() ? ' (symlink)' : ''}`,
        hint: 'A symlink shipped next to a model makes onnx.load read any file the user can read (CVE-2024-27318). Do not load the model; delete the link.',
      });
      return;
    }
  }
  const st = await stat(target).catch(() => undefined);
  if (!st?.isFile()) return;
  const offset = Number(externalEntry(t, 'offset') ?? 0);
  const length = externalEntry(t, 'length') !== undefined ? Number(externalEntry(t, 'length')) : expectedBytes(t);
  if (length !== undefined && Number.isFinite(offset) && offset + length > st.size) {
    addFinding(ctx, `${place.location}|onnx-ext-past-end|${t.where}`, {
      ruleId: 'onnx/external-data-invalid',
      severity: 'LOW',
      location: place.location,
      offset: t.offset,
      message: `Tensor ${label} reads bytes ${offset}–${offset + length} of ${location}, which is only ${st.size} bytes long.`,
      evidence: `location=${quote(location)} offset=${offset} length=${length} file size=${st.size}`,
      hint: 'The data file is truncated or does not belong to this model. Download both again.',
    });
  }
}

// ---------------------------------------------------------------- operators

function checkOperators(model: OnnxModel, place: Place, ctx: ScanContext): void {
  const local = new Set(model.functions.map((f) => `${f.domain}\0${f.name}`));
  const byDomain = new Map<string, OnnxNode[]>();
  const census = new Map<string, number>();
  for (const n of model.nodes) {
    const domain = n.domain === 'ai.onnx' ? '' : n.domain;
    const key = `${domain ? `${domain}.` : ''}${n.opType}`;
    census.set(key, (census.get(key) ?? 0) + 1);
    if (ONNX_STANDARD_DOMAINS.has(domain)) continue;
    if (local.has(`${n.domain}\0${n.opType}`)) continue; // a call of a function defined in the model
    if (ONNXRUNTIME_DOMAINS.has(domain) && PYTHON_OPS.has(n.opType)) {
      const fn = n.stringAttrs.func_name;
      addFinding(ctx, `${place.location}|onnx-python|${n.where}`, {
        ruleId: 'onnx/python-operator',
        severity: 'HIGH',
        location: place.location,
        offset: n.offset,
        global: fn || undefined,
        message: `Node ${n.where} is onnxruntime's ${n.opType}, which calls the Python function${fn ? ` ${fn}` : ''} when the model runs.`,
        evidence: `${domain}.${n.opType}${fn ? ` func_name=${quote(fn)}` : ''}`,
        hint: 'PythonOp runs Python code named by the model (onnxruntime-training with torch interop). Inference models never need it: do not run this model.',
      });
      continue;
    }
    (byDomain.get(domain) ?? byDomain.set(domain, []).get(domain)!).push(n);
  }
  for (const [domain, nodes] of byDomain) {
    const ops = [...new Set(nodes.map((n) => n.opType))];
    const contrib = ONNXRUNTIME_DOMAINS.has(domain);
    addFinding(ctx, `${place.location}|onnx-custom|${domain}`, {
      ruleId: contrib ? 'onnx/contrib-operator' : 'onnx/custom-operator',
      severity: contrib ? 'LOW' : 'MEDIUM',
      location: place.location,
      offset: nodes[0].offset,
      message: contrib
        ? `${nodes.length} node(s) use onnxruntime contrib operators from ${domain}: ${list(ops)}.`
        : `${nodes.length} node(s) use operators from custom domain ${quote(domain)} that neither ONNX nor onnxruntime define: ${list(ops)}.`,
      evidence: list(nodes.map((n) => `${n.where}: ${domain}.${n.opType}`)),
      hint: contrib
        ? 'These ship with onnxruntime; other runtimes may not run the model.'
        : 'Running the model needs a native custom-operator library for this domain (register_custom_ops_library), whose code the model does not contain. Only load that library from a source you trust.',
    });
  }
  const used = new Set(model.nodes.map((n) => (n.domain === 'ai.onnx' ? '' : n.domain)));
  const unusedImports = model.opsetImports.filter((o) => !ONNX_STANDARD_DOMAINS.has(o.domain) && !used.has(o.domain) && !model.functions.some((f) => f.domain === o.domain));
  if (unusedImports.length) {
    addFinding(ctx, `${place.location}|onnx-opset-unused`, {
      ruleId: 'onnx/custom-operator',
      severity: 'INFO',
      location: place.location,
      message: `The model imports operator sets of custom domains that no node uses: ${list(unusedImports.map((o) => `${o.domain} v${o.version}`))}.`,
      hint: 'Harmless by itself; runtimes may still ask for a custom-op library for these domains.',
    });
  }
  if (model.functions.length) {
    addFinding(ctx, `${place.location}|onnx-functions`, {
      ruleId: 'onnx/local-function',
      severity: 'LOW',
      location: place.location,
      offset: model.functions[0].offset,
      message: `The model defines ${model.functions.length} local function(s) that runtimes inline: ${list(model.functions.map((f) => `${f.domain ? `${f.domain}.` : ''}${f.name}`))}.`,
      evidence: model.functions.map((f) => `${f.domain}.${f.name}: ${f.nodeCount} node(s)`).join('\n'),
      hint: 'Functions are graphs of other operators, checked above like the main graph. Review them if a node calling one looks out of place.',
    });
  }
  if (census.size) {
    const ops = [...census].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    addFinding(ctx, `${place.location}|onnx-ops`, {
      ruleId: 'onnx/operators',
      severity: 'INFO',
      location: place.location,
      message: `ONNX IR ${model.irVersion} model${model.producerName ? ` from ${model.producerName}${model.producerVersion ? ` ${model.producerVersion}` : ''}` : ''}: ${model.nodes.length} node(s), ${census.size} operator type(s), ${model.graphCount} graph(s).`,
      evidence: ops.map(([op, n]) => `${op} ×${n}`).join(', '),
      hint: 'For review: the operators this model runs.',
    });
  }
}

// ---------------------------------------------------------------- metadata

const BASE64 = /^[A-Za-z0-9+/\r\n]+={0,2}\s*$/;
const CODE_HINTS = /__import__|\bos\.system\b|\bsubprocess\b|\beval\s*\(|\bexec\s*\(|\bpickle\.loads\b|\bmarshal\.loads\b/;
const LARGE_METADATA = 1024 * 1024;

async function checkMetadata(model: OnnxModel, place: Place, ctx: ScanContext): Promise<void> {
  for (const { key, value, truncated } of model.metadataProps) {
    const where = `metadata_props[${quote(key)}]`;
    const trimmed = value.trim();
    const reasons: string[] = [];
    let decoded: Buffer | undefined;
    if (trimmed.length >= 64 && BASE64.test(trimmed)) {
      decoded = Buffer.from(trimmed, 'base64');
      if (decoded.length >= 2 && decoded[0] === 0x80 && decoded[1] <= 5 && looksLikePickle(decoded)) reasons.push('is a base64-encoded Python pickle');
      else if (trimmed.length >= 1024) reasons.push(`is a ${trimmed.length}-character base64 blob`);
    }
    if (value.length > LARGE_METADATA || truncated) reasons.push(`is very large (${truncated ? 'over 16 MiB' : `${value.length} characters`})`);
    if (CODE_HINTS.test(value)) reasons.push('contains Python code');
    if (!reasons.length) continue;
    addFinding(ctx, `${place.location}|onnx-meta|${key}`, {
      ruleId: 'onnx/suspicious-metadata',
      severity: 'LOW',
      location: place.location,
      message: `Metadata entry ${quote(key)} ${reasons.join(' and ')}; ONNX runtimes ignore it, but the application reading the model may decode it.`,
      evidence: `${key}=${clip(value, 120)}`,
      hint: 'Metadata is meant for short text. Find out which code reads this entry and what it does with it; never unpickle or eval it.',
    });
    if (decoded && reasons[0]?.includes('pickle')) {
      const location = `${place.location}!${where}`;
      ctx.members.push(location);
      await scanPickleStream(new BufferSource(decoded, location), { location, depth: place.depth + 1, ecosystems: place.ecosystems }, ctx);
    }
  }
}
