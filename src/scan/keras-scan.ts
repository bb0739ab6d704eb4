/**
 * Keras models: legacy HDF5 files (.h5, model_config in the root attributes)
 * and the JSON configs of Keras 3 `.keras` archives (config.json and
 * metadata.json, which the zip walk hands over one member at a time, with
 * model.weights.h5 going to the HDF5 scanner). Both end in the same config
 * walk (formats/keras-config.ts); this module judges what it finds:
 *
 *  - Lambda layers carry marshalled Python bytecode that Keras runs on load
 *    (always for .h5 in tf.keras and older Keras, with safe_mode=False for
 *    .keras): HIGH, CRITICAL when the code reaches process, code, import,
 *    file or network functions;
 *  - functions and classes named by module (Keras 3's {"module", "class_name",
 *    "config"}, Keras 2's Lambda "module"/"function", dotted strings,
 *    TFOpLambda's tf function names) go through the same Policy as pickle
 *    globals, plus a list of Keras/TensorFlow gadgets (load_model, get_file,
 *    enable_unsafe_deserialization, tf.io.write_file, ...);
 *  - anything that switches safe mode off;
 *  - custom objects that need code from outside Keras.
 */
import { hdf5SignatureOffset, readHdf5Root, Hdf5Error, type Hdf5AttributeValue } from '../formats/hdf5.js';
import { BufferSource, type ByteSource } from '../formats/source.js';
import {
  isDottedName,
  isKerasModule,
  KERAS_BUILTIN_CLASSES,
  KERAS_BUILTIN_FUNCTIONS,
  parsePythonJson,
  walkKerasConfig,
  type KerasRef,
} from '../formats/keras-config.js';
import { decodeKerasFunctionText, readMarshal, scavengeStrings, summarizeCode, type CodeSummary } from '../formats/python-marshal.js';
import { addFinding, addFormat, type Place, type ScanContext } from './context.js';
import { maxSeverity, severityRank, type Severity } from './finding.js';
import type { FormatScanner } from './format-scanner.js';

const MAX_EVIDENCE = 600;

function clip(s: string, n = MAX_EVIDENCE): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

function quote(s: string, n = 120): string {
  return JSON.stringify(s.length > n ? `${s.slice(0, n)}…` : s);
}

// ---------------------------------------------------------------------------
// Sniffing.

/** A JSON object whose first 4 KiB name a Keras class or a Keras version (config.json, metadata.json, model.to_json()). */
export function looksLikeKerasJson(head: Buffer): boolean {
  let i = head.length >= 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x0a || head[i] === 0x0d || head[i] === 0x09)) i++;
  if (head[i] !== 0x7b) return false;
  const text = head.toString('latin1', i);
  return /"(?:class_name|keras_version)"\s*:/.test(text);
}

// ---------------------------------------------------------------------------
// Names: Policy, plus what only Keras and TensorFlow make dangerous.

type RuleId = 'keras/dangerous-reference' | 'keras/unsafe-deserialization';

interface Verdict {
  rule: RuleId;
  severity: Severity;
  /** The canonical dotted name, e.g. "os.system". */
  name: string;
  /** Completes a sentence about the name: "starts a process or runs a shell command". */
  reason: string;
  /** The Policy's deny category ('process', 'import', ...), or 'keras' for the gadget list. */
  category: string;
}

interface Gadget {
  pattern: string;
  rule: RuleId;
  severity: Severity;
  reason: string;
}

const KERAS_PREFIXES = ['keras', 'tf_keras', 'tensorflow.keras', 'tensorflow.python.keras'];

function forKeras(names: string[], rule: RuleId, severity: Severity, reason: string): Gadget[] {
  return KERAS_PREFIXES.flatMap((p) => names.map((n) => ({ pattern: `${p}.${n}`, rule, severity, reason })));
}

/**
 * Keras and TensorFlow callables that do harm when a config makes Keras call
 * them (as a Lambda's function, with arguments from the config): the gadgets
 * of CVE-2025-1550, CVE-2025-8747 and CVE-2025-9906, and TensorFlow's file and
 * native-code ops that TFOpLambda names by string.
 */
const GADGETS: readonly Gadget[] = [
  ...forKeras(['config.enable_unsafe_deserialization', 'src.saving.serialization_lib.enable_unsafe_deserialization', 'saving.serialization_lib.enable_unsafe_deserialization', 'src.backend.common.global_state.set_global_attribute', 'backend.common.global_state.set_global_attribute'], 'keras/unsafe-deserialization', 'CRITICAL', 'switches Keras safe mode off while the model loads, so Lambda bytecode later in the file runs (CVE-2025-9906)'),
  ...forKeras(['models.load_model', 'saving.load_model', 'src.saving.saving_api.load_model', 'src.saving.saving_lib.load_model', 'saving.saving_api.load_model', 'src.legacy.saving.legacy_h5_format.load_model_from_hdf5', 'src.models.model.saving_lib.load_model'], 'keras/dangerous-reference', 'CRITICAL', 'loads another model file named by the config, with arguments (such as safe_mode=False) the config chooses'),
  ...forKeras(['models.model_from_json', 'models.model_from_config', 'saving.deserialize_keras_object', 'utils.deserialize_keras_object', 'src.saving.serialization_lib.deserialize_keras_object', 'layers.deserialize', 'src.layers.deserialize'], 'keras/dangerous-reference', 'HIGH', 'deserialises a second configuration chosen by the file'),
  ...forKeras(['utils.get_file', 'src.utils.file_utils.get_file', 'utils.data_utils.get_file'], 'keras/dangerous-reference', 'CRITICAL', 'downloads a URL and writes it to a path the config chooses (CVE-2025-8747)'),
  ...forKeras(['src.utils.file_utils.*', 'utils.image_utils.save_img', 'utils.save_img', 'src.utils.image_utils.save_img', 'src.utils.io_utils.*'], 'keras/dangerous-reference', 'CRITICAL', 'reads, writes or deletes files'),
  ...forKeras(['layers.TFSMLayer', 'src.export.export_lib.TFSMLayer', 'src.export.tfsm_layer.TFSMLayer'], 'keras/dangerous-reference', 'HIGH', 'loads an external TensorFlow SavedModel from a path in the config and runs its graph'),
  ...forKeras(['layers.TorchModuleWrapper', 'src.utils.torch_utils.TorchModuleWrapper'], 'keras/dangerous-reference', 'HIGH', 'torch.load()s a pickled PyTorch module embedded in the config'),
  ...['io.write_file', 'io.gfile.*', 'raw_ops.WriteFile', 'raw_ops.Save', 'raw_ops.SaveV2', 'raw_ops.SaveSlices', 'raw_ops.DeleteFile', 'compat.v1.io.write_file', 'compat.v1.gfile.*', 'gfile.*', 'summary.create_file_writer', 'data.experimental.save', 'train.write_graph'].map((n) => ({ pattern: `tensorflow.${n}`, rule: 'keras/dangerous-reference' as const, severity: 'CRITICAL' as const, reason: 'writes or deletes files when the model runs' })),
  ...['io.read_file', 'io.matching_files', 'raw_ops.ReadFile', 'raw_ops.MatchingFiles', 'raw_ops.Restore', 'raw_ops.RestoreV2', 'compat.v1.io.read_file', 'data.experimental.load', 'data.TFRecordDataset', 'data.TextLineDataset'].map((n) => ({ pattern: `tensorflow.${n}`, rule: 'keras/dangerous-reference' as const, severity: 'HIGH' as const, reason: 'reads files from the host when the model runs' })),
  ...['load_op_library', 'load_library', 'experimental.register_filesystem_plugin', 'raw_ops.PyFunc', 'raw_ops.PyFuncStateless', 'raw_ops.EagerPyFunc', 'py_function', 'numpy_function', 'compat.v1.py_func', 'saved_model.load', 'keras.models.load_model', 'keras.utils.get_file'].map((n) => ({ pattern: `tensorflow.${n}`, rule: 'keras/dangerous-reference' as const, severity: 'CRITICAL' as const, reason: 'loads native code, other models, or calls back into Python from the model graph' })),
];

const GADGET_EXACT = new Map<string, Gadget>();
const GADGET_PREFIX = new Map<string, Gadget>();
for (const g of GADGETS) {
  if (g.pattern.endsWith('.*')) GADGET_PREFIX.set(g.pattern.slice(0, -2), g);
  else GADGET_EXACT.set(g.pattern, g);
}

/** Import aliases configs and lambdas use for their libraries. */
const ALIASES: ReadonlyArray<[string, string]> = [
  ['tf', 'tensorflow'],
  ['np', 'numpy'],
  ['K', 'keras.backend'],
];

function canonical(dotted: string): string {
  for (const [a, full] of ALIASES) if (dotted === a || dotted.startsWith(`${a}.`)) return full + dotted.slice(a.length);
  return dotted;
}

function gadget(name: string): Gadget | undefined {
  const exact = GADGET_EXACT.get(name);
  if (exact) return exact;
  const parts = name.split('.');
  for (let k = parts.length - 1; k > 0; k--) {
    const g = GADGET_PREFIX.get(parts.slice(0, k).join('.'));
    if (g) return g;
  }
  const last = parts[parts.length - 1];
  // Whatever module a config names, these are the safe-mode switches.
  if (last === 'enable_unsafe_deserialization' || (last === 'set_global_attribute' && isKerasModule(name))) {
    return { pattern: name, rule: 'keras/unsafe-deserialization', severity: 'CRITICAL', reason: 'switches Keras safe mode off while the model loads, so Lambda bytecode later in the file runs (CVE-2025-9906)' };
  }
  return undefined;
}

/** Judges a dotted name with the gadget list and the Policy (deny rules only count here). */
function judgeName(dotted: string, ctx: ScanContext): Verdict | undefined {
  if (!isDottedName(dotted)) return undefined;
  const name = canonical(dotted);
  const g = gadget(name);
  if (g) return { rule: g.rule, severity: g.severity, name, reason: g.reason, category: 'keras' };
  const i = name.indexOf('.');
  const v = ctx.policy.classify(name.slice(0, i), name.slice(i + 1), []);
  if (v.verdict !== 'dangerous') return undefined;
  const canon = v.canonical ?? name;
  // Policy reasons read "<name> (<canonical>) <predicate>."; keep the predicate.
  const reason = v.reason.replace(/\.$/, '').replace(/^\S+(?: \([^)]*\))? /, '');
  return { rule: 'keras/dangerous-reference', severity: v.severity, name: canon, reason, category: v.category ?? 'config' };
}

// Among equally severe names, the one that does the harm reads best as "the" finding: os.system over __import__.
const CATEGORY_ORDER = ['process', 'code', 'network', 'system', 'file', 'keras', 'deserialize', 'config', 'import', 'gadget', 'attribute-walk'];

function worst(vs: Verdict[]): Verdict | undefined {
  const rank = (v: Verdict): number => severityRank(v.severity) * 100 - (CATEGORY_ORDER.indexOf(v.category) + 1 || 99);
  let best: Verdict | undefined;
  for (const v of vs) if (!best || rank(v) > rank(best)) best = v;
  return best;
}

/** stdlib modules a Keras module may have imported names from (`from os import remove`). */
const REEXPORT_MODULES = ['os', 'subprocess', 'shutil', 'builtins', 'socket', 'pickle', 'marshal', 'importlib', 'urllib.request', 'tempfile', 'io', 'sys', 'zipfile', 'tarfile', 'requests'];

type RefJudgement = { verdict: Verdict } | { custom: { severity: Severity; why: string } } | undefined;

/** A function or class named by (module, name), as Keras would resolve it. */
function judgeRef(module: string | null, name: string, kind: 'function' | 'class', registeredName: string | null | undefined, ctx: ScanContext): RefJudgement {
  if (!name) return undefined;
  const full = module ? `${module}.${name}` : name;
  const direct = judgeName(full, ctx) ?? (registeredName && module ? judgeName(`${module}.${registeredName}`, ctx) : undefined);
  if (direct) return { verdict: direct };
  if (name === 'enable_unsafe_deserialization') {
    return { verdict: { rule: 'keras/unsafe-deserialization', severity: 'CRITICAL', name: full, reason: 'switches Keras safe mode off while the model loads (CVE-2025-9906)', category: 'keras' } };
  }
  const builtin = KERAS_BUILTIN_CLASSES.has(name) || KERAS_BUILTIN_FUNCTIONS.has(name);
  if (module && isKerasModule(module)) {
    if (builtin || !IDENTIFIER.test(name)) return undefined;
    // Keras falls back to vars(module)[name]: a stdlib function the module imported is reachable too.
    for (const m of REEXPORT_MODULES) {
      const v = judgeName(`${m}.${name}`, ctx);
      if (v) return { verdict: { ...v, name: full, reason: `is not a Keras API name; Keras looks it up in ${module}'s namespace, and if that module imported ${v.name} it ${v.reason}` } };
    }
    return undefined;
  }
  // No module to import: Keras can only find these among custom objects the loading code registers.
  if (!module || module === '__main__' || module === 'builtins') {
    if (builtin) return undefined;
    const how =
      registeredName && registeredName.includes('>')
        ? `registered as ${quote(registeredName)}`
        : module === '__main__'
          ? 'defined in the saving script (__main__)'
          : module === 'builtins'
            ? "under the module 'builtins' (a plain function of the saving script)"
            : 'with no module';
    return { custom: { severity: 'LOW', why: `${kind} ${quote(name)} ${how} is not part of Keras: loading needs custom_objects or a registration from your own code` } };
  }
  const v = IDENTIFIER.test(name) && isDottedName(full) ? ctx.policy.classify(module, name, []) : undefined;
  if (v?.verdict === 'allowed') return undefined;
  return { custom: { severity: 'MEDIUM', why: `${kind} ${full} comes from outside Keras: loading imports ${module} and calls ${name} with values from the config` } };
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

// ---------------------------------------------------------------------------
// Lambdas.

const SHELL_OR_URL = /(?:[a-z][a-z0-9+.-]*:\/\/|\b(?:sh|bash|zsh|cmd|powershell)\b|\/bin\/|\b(?:curl|wget|nc|ncat|touch|chmod|rm|python[0-9.]*|perl|base64)\s|[;|&]\s*\w|\$\(|`|\b\d{1,3}(?:\.\d{1,3}){3}\b|\/tmp\/|\\\\)/i;

interface LambdaAnalysis {
  summary?: CodeSummary;
  /** Why the bytecode could not be read, when it could not. */
  decodeError?: string;
  dangerous: Verdict[];
  /** Every name the code refers to, for the evidence. */
  references: string[];
  notable: string[];
}

function jsonStrings(v: unknown, out: string[], depth = 0): void {
  if (out.length >= 200 || depth > 20) return;
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) jsonStrings(x, out, depth + 1);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) jsonStrings(x, out, depth + 1);
}

function analyzeLambda(ref: Extract<KerasRef, { kind: 'lambda' }>, ctx: ScanContext): LambdaAnalysis {
  const extra: string[] = [];
  jsonStrings(ref.defaults, extra);
  jsonStrings(ref.closure, extra);
  let summary: CodeSummary | undefined;
  let decodeError: string | undefined;
  let names: string[] = [];
  let strings: string[] = [];
  if (typeof ref.code !== 'string') {
    decodeError = `the code is ${ref.code === undefined ? 'missing' : `a JSON ${Array.isArray(ref.code) ? 'array' : typeof ref.code}`}, not a string`;
  } else {
    const { bytes, encoding } = decodeKerasFunctionText(ref.code);
    try {
      const { value } = readMarshal(bytes);
      if (value.t !== 'code') throw new Error(`the marshal data holds a ${value.t}, not a code object`);
      summary = summarizeCode(value.code);
      names = summary.names;
      strings = summary.strings;
    } catch (e) {
      decodeError = `${encoding === 'raw' ? 'the text is not base64, and its raw bytes' : 'the base64 decodes, but the bytes'} are not a readable code object (${(e as Error).message})`;
      strings = scavengeStrings(bytes);
      names = strings.filter((s) => IDENTIFIER.test(s));
    }
  }
  strings = [...strings, ...extra];
  const found = new Map<string, Verdict>();
  const consider = (dotted: string): void => {
    const v = judgeName(dotted, ctx);
    if (v && !found.has(v.name)) found.set(v.name, v);
  };
  const hint = ref.module && ref.module !== '__main__' && ref.module !== 'builtins' && !isKerasModule(ref.module) ? ref.module : undefined;
  let references: string[];
  if (summary?.bytecode) {
    // The bytecode says which names are globals and which chains they start.
    references = summary.chains.filter((c) => !c.startsWith('?.'));
    for (const c of references) consider(c.includes('.') ? c : `builtins.${c}`);
    if (hint) for (const g of summary.globals) consider(`${hint}.${g}`);
  } else {
    // Names only: any name may be a global, and any pair may be module.attribute.
    references = names.slice(0, 50);
    // Bounded: a lambda names a handful of things; hostile ones must not cost millions of lookups.
    const modules = [...new Set([...names, ...strings.filter((s) => isDottedName(s) || IDENTIFIER.test(s))])].slice(0, 80);
    const attrs = names.slice(0, 80);
    for (const n of attrs) consider(`builtins.${n}`);
    for (const m of modules) for (const n of attrs) if (m !== n) consider(`${m}.${n}`);
    if (hint) for (const n of attrs) consider(`${hint}.${n}`);
  }
  // Dotted names in string constants (e.g. handed to a resolver) count too.
  for (const s of strings) if (isDottedName(s)) consider(s);
  const notable = [...new Set(strings.filter((s) => s.length <= 2000 && SHELL_OR_URL.test(s)))].slice(0, 10);
  return { ...(summary ? { summary } : {}), ...(decodeError ? { decodeError } : {}), dangerous: [...found.values()], references, notable };
}

// ---------------------------------------------------------------------------
// Judging one config.

export interface KerasConfigOrigin {
  /** Where the config came from, for messages: "model_config", "training_config", "config.json". */
  label: string;
  /** 'h5': legacy loader (code runs regardless of safe_mode); 'keras': .keras / JSON loader. */
  loader: 'h5' | 'keras';
}

function describe(ref: { path: string; layers: string[] }, origin: KerasConfigOrigin): string {
  const layer = ref.layers.length ? `layer '${ref.layers[ref.layers.length - 1]}'${ref.layers.length > 1 ? ` in ${ref.layers.slice(0, -1).map((l) => `'${l}'`).join(' › ')}` : ''}, ` : '';
  return `${layer}${origin.label}:${ref.path}`;
}

const LAMBDA_HINT_H5 =
  'Do not load this model with Keras: the legacy HDF5 loader runs Lambda bytecode as it rebuilds the model (tf.keras always; Keras 3 ignored safe_mode for .h5 files before the CVE-2025-9905 fix). Ask for a version without Lambda layers, or rebuild the model in code and load only its weights.';
const LAMBDA_HINT_KERAS =
  'Never load this model with safe_mode=False or after keras.config.enable_unsafe_deserialization(): Keras would run this bytecode. Ask for a version without Lambda layers (subclass Layer and register it instead).';

/** Runs the walk over a parsed config and adds its findings. */
export async function judgeKerasConfig(root: unknown, origin: KerasConfigOrigin, place: Place, ctx: ScanContext): Promise<void> {
  const walk = walkKerasConfig(root);
  const key = (...parts: string[]): string => [place.location, 'keras', origin.label, ...parts].join('|');
  if (walk.truncated) {
    addFinding(ctx, key('truncated'), {
      ruleId: 'keras/limit-exceeded',
      severity: 'MEDIUM',
      location: place.location,
      message: `Stopped walking the Keras ${origin.label} after ${walk.truncated}; the rest was not checked.`,
      hint: 'Configs this large are not normal. Treat the model as not fully scanned.',
    });
  }

  // First the safe-mode switches: they decide how bad every Lambda is.
  const unsafe: Array<{ ref: KerasRef; verdict?: Verdict; detail: string }> = [];
  const judged = new Map<KerasRef, RefJudgement>();
  for (const ref of walk.refs) {
    let j: RefJudgement;
    if (ref.kind === 'function') j = judgeRef(ref.module, ref.name, 'function', ref.registeredName, ctx);
    else if (ref.kind === 'class') j = judgeRef(ref.module, ref.className, 'class', ref.registeredName, ctx);
    else if (ref.kind === 'dotted') {
      const v = judgeName(ref.value, ctx);
      j = v ? { verdict: v } : undefined;
    } else if (ref.kind === 'tf-op') {
      const v = judgeName(`tensorflow.${ref.fn}`, ctx);
      j = v ? { verdict: v } : undefined;
    } else continue;
    judged.set(ref, j);
    if (j && 'verdict' in j && j.verdict.rule === 'keras/unsafe-deserialization') unsafe.push({ ref, verdict: j.verdict, detail: j.verdict.name });
  }
  for (const ref of walk.refs) if (ref.kind === 'unsafe-flag') unsafe.push({ ref, detail: ref.detail });
  const lambdas = walk.refs.filter((r): r is Extract<KerasRef, { kind: 'lambda' }> => r.kind === 'lambda');
  const safeModeOff = unsafe.some((u) => u.verdict);

  for (const u of unsafe) {
    const called = u.verdict !== undefined;
    const tail = lambdas.length
      ? ` The same config holds ${lambdas.length} Lambda function(s) with bytecode, which then run even when the model is loaded with the default safe_mode=True (the CVE-2025-9906 pattern).`
      : '';
    addFinding(ctx, key('unsafe', u.detail), {
      ruleId: 'keras/unsafe-deserialization',
      severity: called ? u.verdict!.severity : 'HIGH',
      location: place.location,
      ...(called ? { global: u.verdict!.name } : {}),
      message: called
        ? `The Keras config refers to ${u.verdict!.name} (${describe(u.ref, origin)}), which ${u.verdict!.reason}.${tail}`
        : `The Keras config carries ${u.detail} (${describe(u.ref, origin)}): something in it is meant to switch safe mode off for a nested load.${tail}`,
      evidence: clip(`${u.detail} at ${u.ref.path}`),
      hint: 'No genuine model turns off Keras safe mode. Do not load this file; upgrade Keras to 3.11 or later, which ignores this switch during loading.',
    });
  }

  for (const ref of lambdas) {
    const a = analyzeLambda(ref, ctx);
    const top = worst(a.dangerous);
    const codeDanger = top && severityRank(top.severity) >= severityRank('HIGH') ? top : undefined;
    let severity: Severity = 'HIGH';
    if (codeDanger) severity = maxSeverity(severity, codeDanger.severity);
    if (safeModeOff) severity = 'CRITICAL';
    const critical = severity === 'CRITICAL' && codeDanger?.severity === 'CRITICAL';
    const what = ref.field === 'function' ? 'Lambda layer function' : `Lambda ${ref.field} function`;
    const runs =
      origin.loader === 'h5'
        ? 'Keras runs it when it loads this .h5 model'
        : safeModeOff
          ? 'this config also switches safe mode off, so Keras runs it on a default load'
          : 'Keras runs it when the model is loaded with safe_mode=False';
    const names = codeDanger ? [codeDanger.name, ...a.dangerous.filter((v) => v !== codeDanger).map((v) => v.name)] : a.dangerous.map((v) => v.name);
    const uses = a.dangerous.length ? ` The code uses ${names.slice(0, 6).join(', ')}: ${codeDanger ? `${codeDanger.name} ${codeDanger.reason}` : a.dangerous[0].reason}.` : '';
    const undecoded = a.decodeError ? ` Its bytecode could not be read: ${a.decodeError}.` : '';
    const s = a.summary;
    const evidence = [
      a.references.length ? `references: ${a.references.slice(0, 20).join(', ')}` : undefined,
      a.notable.length ? `strings: ${a.notable.map((x) => quote(x)).join(', ')}` : undefined,
      s ? `code: ${s.name} from ${quote(s.filename, 80)}, ${s.bytecode ? `Python ${s.bytecode} bytecode` : `${s.layout} layout, names only`}, ${s.codeObjects} code object(s)` : undefined,
      ref.module ? `module: ${ref.module}` : undefined,
    ]
      .filter(Boolean)
      .join(' | ');
    addFinding(ctx, key('lambda', ref.path), {
      ruleId: critical ? 'keras/lambda-dangerous-code' : 'keras/lambda-layer',
      severity,
      location: place.location,
      ...(codeDanger ? { global: codeDanger.name } : {}),
      message: `${what} stored as Python bytecode (${describe(ref, origin)}): ${runs}.${uses}${undecoded}`,
      evidence: clip(evidence || 'no readable names'),
      hint: origin.loader === 'h5' ? LAMBDA_HINT_H5 : LAMBDA_HINT_KERAS,
    });
  }

  const reported = new Set<string>();
  for (const [ref, j] of judged) {
    if (!j) continue;
    if ('verdict' in j) {
      const v = j.verdict;
      if (v.rule === 'keras/unsafe-deserialization') continue; // reported above
      if (reported.has(v.name)) continue;
      reported.add(v.name);
      const { how, seen } = refText(ref);
      addFinding(ctx, key('ref', v.name), {
        ruleId: 'keras/dangerous-reference',
        severity: v.severity,
        location: place.location,
        global: v.name,
        message: `The Keras config names ${v.name} through ${how} (${describe(ref, origin)}); it ${v.reason}.${ref.kind === 'dotted' ? ' No genuine model names this.' : ' Keras imports it while rebuilding the model and can call it with values from the config.'}`,
        evidence: clip(`${seen} at ${ref.path}`),
        hint: 'Do not load this model: the config makes Keras reach code that can touch your system. Upgrade Keras (3.9+ refuses modules outside Keras in safe mode) and get the model from a trusted source.',
      });
    } else {
      const c = j.custom;
      if (ref.kind !== 'function' && ref.kind !== 'class') continue;
      const short = ref.kind === 'function' ? ref.name : ref.className;
      const name = ref.module ? `${ref.module}.${short}` : short;
      addFinding(ctx, key('custom', name), {
        ruleId: 'keras/custom-object',
        severity: c.severity,
        location: place.location,
        ...(ref.module ? { global: name } : {}),
        message: `Custom object in the Keras config (${describe(ref, origin)}): ${c.why}.`,
        evidence: clip(`module: ${ref.module ?? '(none)'}, class_name: ${ref.kind === 'class' ? ref.className : 'function'}${ref.kind === 'function' ? `, config: ${ref.name}` : ''}${ref.registeredName ? `, registered_name: ${ref.registeredName}` : ''}`),
        hint:
          c.severity === 'MEDIUM'
            ? `Check that ${name} is code you trust before loading; if it is, add it to "allow" in .ptmscope.yaml.`
            : 'Keras only resolves this through custom objects you register yourself; make sure the code you pass in is yours.',
      });
    }
  }

  for (const ref of walk.refs) {
    if (ref.kind !== 'embedded-torch') continue;
    const { bytes } = decodeKerasFunctionText(ref.data);
    addFinding(ctx, key('torch', ref.path), {
      ruleId: 'keras/embedded-pickle',
      severity: 'HIGH',
      location: place.location,
      message: `TorchModuleWrapper (${describe(ref, origin)}) embeds a ${bytes.length}-byte torch.save() of a PyTorch module, which Keras torch.load()s (a pickle) when it rebuilds the layer with safe_mode=False. Its contents are scanned as a nested file.`,
      evidence: clip(`${ref.data.length} base64 characters at ${ref.path}`),
      hint: 'Pickled modules can run code on load. Load such models only from publishers you trust, and only with safe_mode left on.',
    });
    const location = `${place.location}!<${origin.label} ${ref.path}>`;
    ctx.members.push(location);
    // Imported here, not at the top: scanner.ts imports the registry, which imports this module.
    const { scanSource } = await import('./scanner.js');
    await scanSource(new BufferSource(bytes, location), { ...place, location, depth: place.depth + 1 }, ctx);
  }
}

/** How a reference appears in the config, for messages and evidence. */
function refText(ref: KerasRef): { how: string; seen: string } {
  switch (ref.kind) {
    case 'tf-op':
      return { how: `a ${ref.className} layer calling tf.${ref.fn}`, seen: `function: ${ref.fn}` };
    case 'dotted':
      return { how: `the string ${quote(ref.value)}`, seen: `${ref.key || 'value'}: ${ref.value}` };
    case 'function':
      return { how: `a function reference${ref.via === 'keras2-lambda' ? ' in a Lambda layer' : ''}`, seen: `module: ${ref.module ?? '(none)'}, function: ${ref.name}` };
    case 'class':
      return { how: 'a class reference', seen: `module: ${ref.module ?? '(none)'}, class_name: ${ref.className}` };
    default:
      return { how: ref.kind, seen: ref.kind };
  }
}

function invalidConfig(ctx: ScanContext, place: Place, label: string, why: string): void {
  addFinding(ctx, `${place.location}|keras|${label}|invalid`, {
    ruleId: 'keras/invalid-config',
    severity: 'MEDIUM',
    location: place.location,
    message: `The Keras ${label} ${why}, so it could not be checked.`,
    hint: 'Keras cannot rebuild a model from this either; a malformed config in a model file is unusual. Do not load it until you know why it is there.',
  });
}

function parseConfig(text: string): { value: unknown } | { error: string } {
  try {
    return { value: parsePythonJson(text) };
  } catch (e) {
    return { error: `is not valid JSON (${(e as Error).message})` };
  }
}

// ---------------------------------------------------------------------------
// The scanners.

const H5_ATTRIBUTES = ['model_config', 'training_config', 'keras_version', 'backend'];

async function scanHdf5(src: ByteSource, place: Place, ctx: ScanContext): Promise<void> {
  const off = hdf5SignatureOffset(await src.read(0, 4096));
  if (off > 0) {
    addFinding(ctx, `${place.location}|hdf5|user-block`, {
      ruleId: 'hdf5/user-block',
      severity: 'LOW',
      location: place.location,
      offset: 0,
      message: `The HDF5 data starts at byte ${off}, after a ${off}-byte user block that HDF5 readers skip.`,
      hint: 'Keras and h5py never write a user block. Other tools may read those bytes as a file of their own (a polyglot); find out why it is there.',
    });
  }
  let root;
  try {
    root = await readHdf5Root(src, { attributes: H5_ATTRIBUTES, maxAttributeBytes: ctx.limits.maxConstantBytes });
  } catch (e) {
    // The dispatcher reports what could not be parsed; limits and source errors pass through as they are.
    if (e instanceof Hdf5Error) throw new Error(e.message);
    throw e;
  }
  const attrs = root.attributes;
  const configs: Array<[string, Hdf5AttributeValue]> = [];
  for (const name of ['model_config', 'training_config']) if (attrs[name]) configs.push([name, attrs[name]]);
  if (!configs.length) {
    if (attrs.keras_version || root.attributeNames.includes('layer_names')) addFormat(ctx, 'keras-h5-weights');
    return;
  }
  addFormat(ctx, 'keras-h5');
  for (const [name, value] of configs) {
    if (value.kind === 'too-large') {
      addFinding(ctx, `${place.location}|keras|${name}|too-large`, {
        ruleId: 'keras/limit-exceeded',
        severity: 'MEDIUM',
        location: place.location,
        message: `The ${name} attribute is larger than limits.maxConstantBytes (${ctx.limits.maxConstantBytes} bytes) and was not read.`,
        hint: 'Model configs are kilobytes to a few megabytes. If this one is genuine, raise limits.maxConstantBytes in .ptmscope.yaml and scan again.',
      });
      continue;
    }
    if (value.kind === 'other') {
      invalidConfig(ctx, place, name, `attribute is a ${value.description}, not a JSON string`);
      continue;
    }
    const parsed = parseConfig(value.value);
    if ('error' in parsed) {
      invalidConfig(ctx, place, name, parsed.error);
      continue;
    }
    await judgeKerasConfig(parsed.value, { label: name, loader: 'h5' }, place, ctx);
  }
}

async function scanKerasJson(src: ByteSource, place: Place, ctx: ScanContext): Promise<void> {
  if (src.size > ctx.limits.maxConstantBytes) {
    // Large JSON is ordinary (tokenizer.json, vocabularies); only a Keras-looking head is a finding.
    if (!looksLikeKerasJson(await src.read(0, 4096))) return;
    addFinding(ctx, `${place.location}|keras|json|too-large`, {
      ruleId: 'keras/limit-exceeded',
      severity: 'MEDIUM',
      location: place.location,
      message: `This ${src.size}-byte Keras JSON config is larger than limits.maxConstantBytes (${ctx.limits.maxConstantBytes} bytes) and was not read.`,
      hint: 'Model configs are kilobytes to a few megabytes. If this one is genuine, raise limits.maxConstantBytes in .ptmscope.yaml and scan again.',
    });
    return;
  }
  let text = (await src.read(0, src.size)).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  // Any JSON object is looked at, so padding cannot push "class_name" out of the sniffed head;
  // only text that names a Keras class anywhere is parsed, and only a Keras-looking head
  // makes a broken file a Keras finding.
  const strong = looksLikeKerasJson(Buffer.from(text.slice(0, 4096), 'latin1'));
  if (!strong && !/"(?:class_name|keras_version)"\s*:/.test(text)) return;
  const parsed = parseConfig(text);
  if ('error' in parsed) {
    if (strong) invalidConfig(ctx, place, 'JSON config', parsed.error);
    return;
  }
  const v = parsed.value;
  if (!isKerasTopLevel(v)) return;
  if (!(v && typeof v === 'object' && !Array.isArray(v) && 'keras_version' in v && !('class_name' in v))) addFormat(ctx, 'keras-config');
  if (v && typeof v === 'object' && !Array.isArray(v) && 'keras_version' in v && !('class_name' in v)) {
    // metadata.json: the saving Keras version and date; nothing that loads code.
    addFormat(ctx, 'keras-metadata');
    return;
  }
  const label = place.location.slice(Math.max(place.location.lastIndexOf('!'), place.location.lastIndexOf('/')) + 1) || 'config';
  await judgeKerasConfig(v, { label, loader: 'keras' }, place, ctx);
}

/** A Keras model config, Keras 3 metadata.json, or a TF.js topology, by its top-level keys. */
function isKerasTopLevel(v: unknown): boolean {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  if (typeof o.class_name === 'string' || typeof o.keras_version === 'string') return true;
  const topology = o.modelTopology as Record<string, unknown> | undefined;
  return !!topology && typeof topology === 'object' && (typeof topology.class_name === 'string' || typeof (topology.model_config as Record<string, unknown> | undefined)?.class_name === 'string');
}

/** HDF5 files: Keras legacy models (root attribute model_config) and Keras 3 weight files. */
export const hdf5Scanner: FormatScanner = {
  id: 'hdf5',
  sniff(head: Buffer): boolean {
    return hdf5SignatureOffset(head) >= 0;
  },
  scan: scanHdf5,
};

/** Keras JSON: config.json and metadata.json of a .keras archive, or a model.to_json() file. */
export const kerasConfigScanner: FormatScanner = {
  id: 'keras-config',
  // Claims every JSON object; names the format only for Keras configs (see scanKerasJson).
  reportsOwnFormats: true,
  sniff(head: Buffer): boolean {
    let i = head.length >= 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
    while (i < head.length && (head[i] === 0x20 || head[i] === 0x0a || head[i] === 0x0d || head[i] === 0x09)) i++;
    return head[i] === 0x7b;
  },
  scan: scanKerasJson,
};
