import type { Severity } from './finding.js';
import { CONFIG_RULES } from './rules-config.js';
import { GRAPH_RULES } from './rules-graph.js';
import { KERAS_RULES } from './rules-keras.js';
import { PYTHON_RULES } from './rules-python.js';
import { TENSORS_RULES } from './rules-tensors.js';

/**
 * The catalogue of rule ids a scan can report. SARIF's `tool.driver.rules`
 * and docs/rules.md are built from this list, so every ruleId the scanner
 * emits should have an entry here (an unknown id still reports, with a
 * generic description).
 */
export interface RuleInfo {
  /** Stable id, "<area>/<name>". Never rename: SARIF alerts are keyed on it. */
  id: string;
  /** One line, shown next to each result. */
  shortDescription: string;
  /** A few sentences: what triggers the rule and why it matters. */
  fullDescription: string;
  /** Severity a finding of this rule gets unless the scanner/policy says otherwise. */
  defaultSeverity: Severity;
  /** What to do about it. */
  help: string;
}

const CORE_RULES: readonly RuleInfo[] = [
  {
    id: 'pickle/dangerous-global',
    shortDescription: 'Pickle imports a callable that can run code or touch the system',
    fullDescription:
      'The pickle stream references a global (GLOBAL/STACK_GLOBAL/INST/OBJ) such as os.system, subprocess.Popen, ' +
      'builtins.eval/exec, or another name on the deny list. Unpickling the file (torch.load, joblib.load, ' +
      'pickle.load, np.load(allow_pickle=True)) imports and may call it, which executes arbitrary code.',
    defaultSeverity: 'CRITICAL',
    help:
      'Do not load this file. Obtain the model from a trusted source, or a format that cannot carry code ' +
      '(safetensors, ONNX without custom ops). If the global is genuinely needed and trusted, add it to the ' +
      'allow list in your ptmscope config after review.',
  },
  {
    id: 'pickle/unknown-global',
    shortDescription: 'Pickle imports a global that is not on the allow list',
    fullDescription:
      'The pickle stream references a global that is neither known-safe (tensor rebuild helpers, collections, ' +
      'numpy dtypes, ...) nor known-dangerous. Any importable callable can be invoked on load, so an unknown ' +
      'global is a place where code could run.',
    defaultSeverity: 'MEDIUM',
    help:
      'Check what the named module.qualname does when called with the arguments shown in the evidence. If it is ' +
      'harmless (for example a class from your own training code), add it to the allow list in your ptmscope ' +
      'config; otherwise treat the file as untrusted.',
  },
  {
    id: 'pickle/dangerous-call',
    shortDescription: 'A pickle call reaches a dangerous callable indirectly',
    fullDescription:
      'A call in the pickle resolves to a dangerous callable (os.system, builtins.exec, ...) through another ' +
      'object, for example getattr(builtins, "exec") or a method fetched from an imported module, instead of ' +
      'importing it by name. This is a known way to slip past scanners that only check imported names.',
    defaultSeverity: 'CRITICAL',
    help: 'Do not load this file. Obtain the model from a trusted source, or a format that cannot carry code (safetensors).',
  },
  {
    id: 'pickle/setstate-on-global',
    shortDescription: 'Pickle writes state into a module, class or function',
    fullDescription:
      'A BUILD opcode applies state to an imported global itself (a module, class or function) rather than to a ' +
      'new object. That replaces attributes of the global for everything loaded afterwards, which can disable ' +
      'checks or plant code. Ordinary model files never do this.',
    defaultSeverity: 'HIGH',
    help: 'Do not load this file.',
  },
  {
    id: 'pickle/parse-error',
    shortDescription: 'Pickle stream is malformed',
    fullDescription:
      'The pickle could not be parsed to its STOP opcode: an unknown opcode, a truncated argument, or a stack ' +
      'state Python would reject. Python may still execute the part before the error, and malformed streams are ' +
      'a known way to make scanners give up early.',
    defaultSeverity: 'MEDIUM',
    help:
      'Treat the file as not fully scanned. Re-download it (it may be truncated); if it stays malformed, do not ' +
      'load it.',
  },
  {
    id: 'pickle/trailing-bytes',
    shortDescription: 'Bytes follow the end of the pickle stream',
    fullDescription:
      'Data follows the STOP opcode of a pickle where the format does not expect any. pickle.load stops at STOP, ' +
      'but another reader of the same file may not, and trailing data can hide a second payload.',
    defaultSeverity: 'LOW',
    help: 'Find out what wrote the extra bytes. A file produced by torch.save/pickle.dump has none.',
  },
  {
    id: 'pickle/nonstandard-opcode-use',
    shortDescription: 'Pickle uses opcodes in a way the standard pickler never emits',
    fullDescription:
      'The stream contains opcode patterns that Python\'s own pickler does not produce, for example a protocol ' +
      'marker that does not match the opcodes used, globals built from computed strings, or memo tricks. Such ' +
      'streams are usually hand-crafted, often to evade scanners.',
    defaultSeverity: 'MEDIUM',
    help: 'Treat the file as hand-crafted and untrusted unless you know which tool produced it.',
  },
  {
    id: 'pickle/limit-exceeded',
    shortDescription: 'Pickle analysis stopped at a resource limit',
    fullDescription:
      'Interpreting the pickle exceeded a configured limit (opcodes, stack/memo size, constant size). The rest of ' +
      'the stream was not analysed, so anything after that point is unknown. Pickles built to blow up memory or ' +
      'time also land here.',
    defaultSeverity: 'MEDIUM',
    help:
      'Do not load the file on the strength of this scan. If it is a legitimate, very large pickle, raise the ' +
      'limit in the "limits" section of your ptmscope config and scan again.',
  },
  {
    id: 'pickle/computed-call',
    shortDescription: 'Pickle calls the result of another call',
    fullDescription:
      'A REDUCE/INST/OBJ/NEWOBJ calls a callable that the pickle computed (getattr(obj, "m"), ' +
      'operator.attrgetter(...), functools.partial(...)) rather than one it imported by name. Ordinary model ' +
      'pickles only call imported constructors and rebuild helpers; computed callables are how payloads reach ' +
      'methods that no allowlist or denylist names. The evidence shows the whole chain with its arguments.',
    defaultSeverity: 'HIGH',
    help: 'Do not load this file. Read the evidence: it is the call the loader would make.',
  },
  {
    id: 'pickle/nested-pickle',
    shortDescription: 'A pickle carries another pickle inside a constant',
    fullDescription:
      'A string or bytes constant in the pickle is itself a pickle stream. Payloads are nested this way so that ' +
      'an outer pickle looks clean while a call such as pickle.loads(...) unpacks the inner one. ptmscope scans ' +
      'the inner stream too and reports what it finds separately.',
    defaultSeverity: 'HIGH',
    help: 'Review the findings for the inner stream (same file, location ending in the constant). Legitimate models rarely nest pickles.',
  },
  {
    id: 'archive/limit-exceeded',
    shortDescription: 'Archive exceeds a size, ratio, entry-count or nesting limit',
    fullDescription:
      'A container (zip, tar, gzip, xz, bz2, 7z) exceeded a configured limit: decompressed size, compression ' +
      'ratio, number of entries or nesting depth. This is what decompression bombs look like; members past the ' +
      'limit were not scanned.',
    defaultSeverity: 'MEDIUM',
    help:
      'Do not extract or load the file on the strength of this scan. If it is a legitimate large archive, raise ' +
      'the limit in the "limits" section of your ptmscope config and scan again.',
  },
  {
    id: 'archive/parse-error',
    shortDescription: 'Archive is corrupt or truncated',
    fullDescription:
      'The container could not be read: a broken central directory, a bad header or checksum, or a truncated ' +
      'stream. Some members may not have been scanned. Readers disagree about malformed archives, which attackers ' +
      'use to show a scanner different contents than the loader sees.',
    defaultSeverity: 'MEDIUM',
    help: 'Re-download the file. If it stays corrupt, do not load it.',
  },
  {
    id: 'archive/suspicious-member',
    shortDescription: 'Archive member has a suspicious name or type',
    fullDescription:
      'An archive member has a path that escapes the extraction directory (../, absolute paths), is a symlink or ' +
      'device, duplicates another member\'s name, or is an executable/script where only model data is expected.',
    defaultSeverity: 'LOW',
    help: 'Do not extract the archive with a tool that follows member paths blindly. Find out why the member is there.',
  },
  {
    id: 'format/parse-error',
    shortDescription: 'A model file could not be parsed',
    fullDescription:
      'The file was recognised as a model format (safetensors, GGUF, ONNX, HDF5, TensorFlow, a config) from its ' +
      'bytes but its structure could not be read: a bad length, offset, header or encoding. Corrupt files are ' +
      'never reported clean, because loaders may read them differently from the scanner.',
    defaultSeverity: 'MEDIUM',
    help: 'Download the file again. If it stays unreadable, do not load it.',
  },
  {
    id: 'numpy/object-array',
    shortDescription: 'NumPy array has dtype=object (stored as a pickle)',
    fullDescription:
      'A .npy/.npz array with an object dtype is stored as a pickle and can only be loaded with ' +
      'allow_pickle=True, which runs any code the pickle carries. ptmscope scans the embedded pickle and reports ' +
      'its globals separately.',
    defaultSeverity: 'LOW',
    help: 'Prefer numeric dtypes. Load object arrays only from trusted sources, and never with allow_pickle=True otherwise.',
  },
  {
    id: 'torch/legacy-format',
    shortDescription: 'PyTorch file uses the legacy (pre-1.6) serialization format',
    fullDescription:
      'The file is a legacy torch.save stream (a sequence of pickles rather than a zip archive). It is scanned ' +
      'like any pickle; the finding records that the file predates the zip format and its integrity checks.',
    defaultSeverity: 'INFO',
    help: 'Re-save the model with a current PyTorch, or better as safetensors.',
  },
  {
    id: 'torch/torchscript-code',
    shortDescription: 'TorchScript archive contains code that torch.jit.load runs',
    fullDescription:
      'The file is a TorchScript archive whose code/ directory holds TorchScript source that torch.jit.load ' +
      'compiles and runs. TorchScript is not Python, but it can call the operators exposed to it, including ' +
      'file and process operations. The code files are listed in the evidence.',
    defaultSeverity: 'INFO',
    help: 'Review the listed code files if the source of the model is untrusted.',
  },
];

/** The whole catalogue: the pickle and container rules above, then each format family's. */
export const RULES: readonly RuleInfo[] = [...CORE_RULES, ...TENSORS_RULES, ...GRAPH_RULES, ...KERAS_RULES, ...CONFIG_RULES, ...PYTHON_RULES];

const BY_ID = new Map(RULES.map((r) => [r.id, r]));

/** The catalogue entry for `id`, or undefined for an id the catalogue does not know. */
export function getRule(id: string): RuleInfo | undefined {
  return BY_ID.get(id);
}

/** A placeholder entry for a rule id missing from the catalogue, so reporters never drop a finding. */
export function fallbackRule(id: string, severity: Severity): RuleInfo {
  return {
    id,
    shortDescription: `ptmscope rule ${id}`,
    fullDescription: `Finding reported by ptmscope rule ${id}. See docs/rules.md.`,
    defaultSeverity: severity,
    help: 'See the finding message and hint, and docs/rules.md.',
  };
}
