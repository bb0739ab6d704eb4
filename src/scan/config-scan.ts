/**
 * Model-repo configuration: the JSON and YAML files next to the weights that
 * tell a loader which Python code to import.
 *
 *  - `jsonConfigScanner` claims JSON objects. On Hugging Face configs
 *    (config.json, tokenizer_config.json, processor configs…) it lists the
 *    files that `trust_remote_code=True` makes transformers import, from
 *    `auto_map` and `custom_pipelines`; code from another repo and references
 *    that are paths are flagged. Any other JSON (tokenizer.json, vocabularies,
 *    Keras configs) gets no finding.
 *  - `yamlConfigScanner` claims YAML that names callables (HyperPyYAML tags,
 *    PyYAML python tags, Hydra `_target_`) and judges every dotted target with
 *    the same policy as pickle globals.
 */
import { stat, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FileSource, type ByteSource } from '../formats/source.js';
import {
  HF_CODE_KEYS,
  HF_CONFIG_MARKERS,
  MAX_CONFIG_BYTES,
  collectCodeReferences,
  isPythonIdentifier,
  readJsonTopLevel,
  relativeImports,
  sniffJsonObject,
  type CodeReference,
  type JsonTopLevel,
} from '../formats/hf-config.js';
import { MAX_YAML_BYTES, hasCallableMarkers, readYamlConfig, sniffYamlConfig, type YamlCallable } from '../formats/yaml-config.js';
import { addFinding, addFormat, type Place, type ScanContext } from './context.js';
import type { Severity } from './finding.js';
import type { FormatScanner } from './format-scanner.js';
import type { Policy } from './policy/policy.js';

// ------------------------------------------------------------ target policy

/**
 * Libraries whose callables ordinary model configs instantiate
 * (speechbrain recipes, NeMo models, torch optimisers…). A target under one
 * of these that the deny lists do not catch is INFO; anything else that is
 * neither denied nor allowlisted is MEDIUM, as for an unknown pickle global.
 */
export const KNOWN_CONFIG_LIBRARIES: readonly string[] = [
  'speechbrain',
  'torch',
  'torchaudio',
  'torchvision',
  'numpy',
  'sentencepiece',
  'nemo',
  'transformers',
  'pytorch_lightning',
  'lightning',
];
const KNOWN = new Set(KNOWN_CONFIG_LIBRARIES);

/**
 * Helpers inside those libraries that do what the pickle deny list forbids,
 * checked before the library gets the benefit of the doubt.
 */
export const CONFIG_DENY: ReadonlyArray<{ pattern: string; severity: Severity; reason: string }> = [
  { pattern: 'speechbrain.utils.superpowers.*', severity: 'CRITICAL', reason: 'runs shell commands (speechbrain run_shell)' },
  { pattern: 'speechbrain.utils.data_utils.download_file', severity: 'HIGH', reason: 'downloads a file from a URL the config chooses' },
  { pattern: 'speechbrain.utils.fetching.fetch', severity: 'MEDIUM', reason: 'fetches files from a Hub repo or URL the config chooses' },
  { pattern: 'transformers.dynamic_module_utils.*', severity: 'CRITICAL', reason: 'downloads and imports Python code from a Hub repo' },
  { pattern: 'nemo.utils.model_utils.import_class_by_path', severity: 'CRITICAL', reason: 'imports any class named by a string' },
  { pattern: 'hydra.utils.*', severity: 'HIGH', reason: 'imports, instantiates or calls another dotted name given as a string, out of sight of this check' },
  { pattern: 'hydra._internal.*', severity: 'HIGH', reason: 'is Hydra internals that import and call dotted names' },
];

/** Modules whose object alone hands out process, code or file access (`!module:os`, then `!ref <m.system>`). */
const SENSITIVE_MODULES = new Set([
  'os', 'posix', 'nt', 'sys', 'subprocess', 'builtins', '__builtin__', 'importlib', 'pickle', '_pickle', 'shutil',
  'socket', 'ctypes', 'marshal', 'runpy', 'pty', 'code', 'codeop', 'multiprocessing', 'io', 'tempfile', 'urllib',
  'http', 'requests', 'webbrowser', 'pydoc', 'inspect', 'gc', 'types', 'operator', 'functools', 'pathlib', 'glob',
  'signal', 'asyncio', 'dill', 'cloudpickle', 'yaml', 'pip', 'setuptools',
]);

export interface TargetVerdict {
  level: 'dangerous' | 'unknown' | 'known';
  severity: Severity;
  /** One sentence. */
  reason: string;
  /** On the policy's allowlist (or the user's allow list), not just under a known library. */
  allowlisted?: boolean;
  /** The dotted name as judged (empty parts dropped, as pydoc.locate drops them). */
  name: string;
}

function matchExtra(name: string): (typeof CONFIG_DENY)[number] | undefined {
  for (const d of CONFIG_DENY) {
    if (d.pattern.endsWith('.*') ? name.startsWith(d.pattern.slice(0, -1)) : name === d.pattern) return d;
  }
  return undefined;
}

/**
 * Judges a dotted target a config makes a loader import. `module` is true
 * when the target is imported as a module (`!module:`, `!!python/module:`).
 * pydoc.locate resolves a bare name as a builtin (`eval`) or a module (`os`).
 */
export function classifyTarget(policy: Policy, raw: string, module = false): TargetVerdict {
  const parts = raw.trim().split('.').filter((p) => p !== '');
  const name = parts.join('.');
  if (parts.length === 0 || !parts.every(isPythonIdentifier)) {
    return { level: 'unknown', severity: 'MEDIUM', name: raw, reason: `${JSON.stringify(raw)} is not a dotted Python name, so no library wrote it.` };
  }
  const extra = matchExtra(name);
  if (extra) return { level: 'dangerous', severity: extra.severity, name, reason: `${name} ${extra.reason}.` };
  const head = parts[0];
  if (parts.length === 1) {
    if (!module) {
      const b = policy.classify('builtins', head);
      if (b.verdict === 'dangerous') return { level: 'dangerous', severity: b.severity, name, reason: `${head} resolves to builtins.${head}: ${b.reason}` };
    }
    if (SENSITIVE_MODULES.has(head)) {
      return {
        level: 'dangerous',
        severity: 'HIGH',
        name,
        reason: `${head} is the ${head} module itself, from which the config can reach functions such as ${head}.system or ${head}.open by attribute.`,
      };
    }
    if (KNOWN.has(head)) return { level: 'known', severity: 'INFO', name, reason: `${head} is a known model library.` };
    if (!module && policy.classify('builtins', head).verdict === 'allowed') {
      return { level: 'known', severity: 'INFO', name, allowlisted: true, reason: `builtins.${head} is on the allowlist.` };
    }
    return { level: 'unknown', severity: 'MEDIUM', name, reason: `${head} is not a module ptmscope knows; importing it runs its code.` };
  }
  const v = policy.classify(parts.slice(0, -1).join('.'), parts[parts.length - 1]);
  if (v.verdict === 'dangerous') return { level: 'dangerous', severity: v.severity, name, reason: v.reason };
  if (v.verdict === 'allowed') return { level: 'known', severity: 'INFO', name, allowlisted: true, reason: `${name} is on the allowlist.` };
  if (KNOWN.has(head)) return { level: 'known', severity: 'INFO', name, reason: `${head} is a known model library.` };
  return {
    level: 'unknown',
    severity: 'MEDIUM',
    name,
    reason: `${name} is neither on the allowlist nor in a known model library (${KNOWN_CONFIG_LIBRARIES.join(', ')}); importing it runs ${parts.slice(0, -1).join('.')}'s code.`,
  };
}

// ------------------------------------------------------------ JSON / Hugging Face

/** Files followed through relative imports, per config. */
const MAX_CODE_FILES = 64;
/** Bytes read from each local code file to find its relative imports. */
const MAX_CODE_FILE_BYTES = 2 * 1024 * 1024;

/** The folder a config was read from, when it is a file on disk (not an archive member or a buffer). */
function folderOf(src: ByteSource, place: Place): string | undefined {
  return place.depth === 0 && src instanceof FileSource ? dirname(src.name) : undefined;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function readHead(path: string, max: number): Promise<string | undefined> {
  try {
    const fh = await open(path, 'r');
    try {
      const len = Math.min(max, (await fh.stat()).size);
      const buf = Buffer.alloc(len);
      const { bytesRead } = await fh.read(buf, 0, len, 0);
      return buf.toString('utf8', 0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
}

interface CodeFiles {
  present: string[];
  missing: string[];
  /** "modeling_x.py imports .configuration_x" lines. */
  imports: string[];
}

/** The module files and, through relative imports, every file the loader copies and imports with them. */
async function resolveCodeFiles(dir: string, modules: string[]): Promise<CodeFiles> {
  const present: string[] = [];
  const missing: string[] = [];
  const imports: string[] = [];
  const queue = [...new Set(modules)];
  const seen = new Set(queue);
  while (queue.length && present.length + missing.length < MAX_CODE_FILES) {
    const mod = queue.shift()!;
    const file = `${mod}.py`;
    const path = join(dir, file);
    if (!(await isFile(path))) {
      missing.push(file);
      continue;
    }
    present.push(file);
    const text = await readHead(path, MAX_CODE_FILE_BYTES);
    for (const dep of relativeImports(text ?? '')) {
      imports.push(`${file} imports .${dep} → ${dep}.py`);
      if (!seen.has(dep)) {
        seen.add(dep);
        queue.push(dep);
      }
    }
  }
  return { present, missing, imports };
}

function describe(r: CodeReference): string {
  return `${r.source} = ${JSON.stringify(r.ref.raw)}`;
}

function via(refs: CodeReference[]): string {
  const auto = refs.filter((r) => r.kind === 'auto_map').map((r) => r.source.replace(/^auto_map\.?/, '').replace(/\[\d+\]$/, ''));
  const pipes = refs.filter((r) => r.kind === 'custom_pipelines').map((r) => r.source.replace(/^custom_pipelines\./, '').replace(/\.impl$/, ''));
  const parts: string[] = [];
  if (auto.length) parts.push(`auto_map: ${[...new Set(auto)].join(', ') || '(list)'}`);
  if (pipes.length) parts.push(`custom pipeline${pipes.length > 1 ? 's' : ''}: ${[...new Set(pipes)].join(', ')}`);
  return parts.join('; ');
}

export const jsonConfigScanner: FormatScanner = {
  id: 'json',
  // Every JSON object is looked at; only Hugging Face configs are named (hf-config).
  reportsOwnFormats: true,
  sniff(head: Buffer): boolean {
    return sniffJsonObject(head);
  },
  async scan(src: ByteSource, place: Place, ctx: ScanContext): Promise<void> {
    const n = Math.min(src.size, MAX_CONFIG_BYTES);
    const buf = await src.read(0, n);
    const top = readJsonTopLevel(buf, (k) => HF_CODE_KEYS.has(k), src.size > buf.length);
    if (!top.keys.some((k) => HF_CONFIG_MARKERS.has(k))) return; // not a Hugging Face config: nothing to say
    addFormat(ctx, 'hf-config');
    await reportHfConfig(src, place, ctx, top, buf);
    // Python's json.loads rejects these bytes; a loader that reads them differently may still run what they name.
    if (top.error) throw new Error(`invalid JSON (Python's json.loads would reject it): ${top.error.message}`);
  },
};

/** 1-based line and column (UTF-16 code units) of a byte offset in UTF-8 text. */
function lineColumn(buf: Buffer, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = buf.indexOf(0x0a); i >= 0 && i < offset; i = buf.indexOf(0x0a, i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: buf.toString('utf8', start, offset).length + 1 };
}

async function reportHfConfig(src: ByteSource, place: Place, ctx: ScanContext, top: JsonTopLevel, buf: Buffer): Promise<void> {
  const loc = place.location;
  /** Where a key's value starts: byte offset, line and column. */
  const offset = (key: string): { offset?: number; line?: number; column?: number } => {
    const o = top.offsets.get(key);
    return o === undefined ? {} : { offset: o, ...lineColumn(buf, o) };
  };

  if (top.truncated) {
    addFinding(ctx, `${loc}|config|truncated`, {
      ruleId: 'config/truncated',
      severity: 'LOW',
      location: loc,
      message: `Only the first ${MAX_CONFIG_BYTES / 1024 / 1024} MiB of this ${src.size.toLocaleString('en-US')}-byte config were read; keys after that were not checked.`,
      hint: 'Real configs are kilobytes. Find out why this one is so large before loading it with trust_remote_code=True.',
    });
  }

  if (top.values.get('trust_remote_code') === true) {
    addFinding(ctx, `${loc}|config|trust-remote-code`, {
      ruleId: 'config/trust-remote-code',
      severity: 'INFO',
      location: loc,
      ...offset('trust_remote_code'),
      message: 'The config sets "trust_remote_code": true: it expects loaders to run the custom code it names.',
      evidence: '"trust_remote_code": true',
      hint: 'transformers does not take the flag from the config, but wrappers that forward it will run the repo\'s code. Review the code files listed by the other findings.',
    });
  }

  const { refs } = collectCodeReferences(top.values);
  const keyOf = (r: CodeReference): string => r.kind;
  const bad = refs.filter((r) => r.ref.problems.length > 0 || r.ref.repoProblems.length > 0);
  const remote = refs.filter((r) => !bad.includes(r) && r.ref.repo !== undefined);
  const local = refs.filter((r) => !bad.includes(r) && r.ref.repo === undefined);

  for (const r of bad) {
    const why = [...r.ref.problems, ...r.ref.repoProblems];
    addFinding(ctx, `${loc}|config|bad-ref|${r.source}|${r.ref.raw}`, {
      ruleId: 'config/remote-code-bad-reference',
      severity: 'HIGH',
      location: loc,
      ...offset(keyOf(r)),
      message: `${r.source} names ${JSON.stringify(r.ref.raw)}, which ${why.join('; ')}. transformers builds the path of the code file it imports from this string.`,
      evidence: describe(r),
      hint: 'transformers writes plain "module.Class" (or "org/repo--module.Class") references; a path or odd name here aims trust_remote_code=True at a file outside the repo. Do not load this model with trust_remote_code=True.',
    });
  }

  const byRepo = new Map<string, CodeReference[]>();
  for (const r of remote) {
    const list = byRepo.get(r.ref.repo!) ?? [];
    list.push(r);
    byRepo.set(r.ref.repo!, list);
  }
  for (const [repo, list] of byRepo) {
    const files = [...new Set(list.map((r) => r.ref.file))];
    addFinding(ctx, `${loc}|config|other-repo|${repo}`, {
      ruleId: 'config/remote-code-other-repo',
      severity: 'HIGH',
      location: loc,
      ...offset(keyOf(list[0])),
      message:
        `With trust_remote_code=True, transformers downloads ${files.join(', ')} from the Hub repo ${repo} and runs ${files.length > 1 ? 'them' : 'it'} (${via(list)}). ` +
        `That code is not in this repo, and unless code_revision is pinned it comes from ${repo}'s main branch, so it can change after any review.`,
      evidence: list.map(describe).join('\n'),
      hint: `Check that ${repo} is the repo you expect (fine-tunes point back at their base model this way), review the code at a fixed commit and load with code_revision=<that commit>, or copy the files into this repo.`,
    });
  }

  if (local.length === 0) return;
  const modules = [...new Set(local.map((r) => r.ref.module))];
  const dir = folderOf(src, place);
  const sources = local.map((r) => `${describe(r)} → ${r.ref.file}`);
  if (dir === undefined) {
    const files = modules.map((m) => `${m}.py`);
    addFinding(ctx, `${loc}|config|remote-code`, {
      ruleId: 'config/remote-code',
      severity: 'INFO',
      location: loc,
      ...offset(keyOf(local[0])),
      message: `Loading with trust_remote_code=True runs ${files.join(', ')} from this repo (${via(local)}). Whether the files are present was not checked: the config was not read from a folder.`,
      evidence: [`runs: ${files.join(', ')}`, ...sources].join('\n'),
      hint: 'Read these files before loading with trust_remote_code=True, and pin the revision you reviewed (revision=<commit>).',
    });
    return;
  }
  const found = await resolveCodeFiles(dir, modules);
  if (found.present.length) {
    addFinding(ctx, `${loc}|config|remote-code`, {
      ruleId: 'config/remote-code',
      severity: 'INFO',
      location: loc,
      ...offset(keyOf(local[0])),
      message: `Loading with trust_remote_code=True runs ${found.present.join(', ')} from this repo (${via(local)}).`,
      evidence: [`runs: ${found.present.join(', ')}`, ...sources, ...found.imports].join('\n'),
      hint: 'Read these files before loading with trust_remote_code=True (ptmscope lists them; it does not judge the Python here), and pin the revision you reviewed (revision=<commit>).',
    });
  }
  if (found.missing.length) {
    addFinding(ctx, `${loc}|config|remote-code-missing`, {
      ruleId: 'config/remote-code-missing',
      severity: 'MEDIUM',
      location: loc,
      ...offset(keyOf(local[0])),
      message: `${found.missing.join(', ')} ${found.missing.length > 1 ? 'are' : 'is'} named by this config (${via(local)}) but not in its folder: with trust_remote_code=True, transformers fetches ${found.missing.length > 1 ? 'them' : 'it'} from the repo the model is loaded from (code nobody reviewed here) or fails.`,
      evidence: [`missing: ${found.missing.join(', ')}`, ...sources, ...found.imports].join('\n'),
      hint: 'Scan the complete repo (every file the config names), or do not load it with trust_remote_code=True.',
    });
  }
}

// ------------------------------------------------------------ YAML

const LOADER: Record<YamlCallable['syntax'], string> = {
  hyperpyyaml: 'HyperPyYAML (speechbrain load_hyperpyyaml)',
  pyyaml: "PyYAML's unsafe loaders (yaml.unsafe_load, yaml.load with yaml.Loader, HyperPyYAML)",
  hydra: 'hydra.utils.instantiate (NeMo and other Hydra apps)',
  'nemo-target': 'NeMo restore_from',
  'ref-attribute': 'HyperPyYAML',
};

function verb(c: YamlCallable): string {
  switch (c.kind) {
    case 'new':
    case 'object/new':
    case 'object':
      return 'instantiates';
    case 'apply':
    case 'object/apply':
      return 'calls';
    case 'name':
      return 'imports (for recipe code to call)';
    case 'module':
      return 'imports the module';
    case 'getattr':
      return 'reads';
    default:
      return c.syntax === 'nemo-target' ? 'imports' : c.call.startsWith('functools.partial(') ? 'binds (for later calls)' : 'calls';
  }
}

function occurrence(c: YamlCallable): string {
  return `line ${c.line} ${c.path}: ${c.display}  →  ${c.call}`.slice(0, 600);
}

/** Includes that leave the config's folder (absolute, `..`, `~`). */
function includeEscapes(file: string): boolean {
  return /^[/\\~]/.test(file) || /^[A-Za-z]:/.test(file) || file.split(/[/\\]/).includes('..');
}

interface Group {
  rule: string;
  severity: Severity;
  reason: string;
  name: string;
  items: YamlCallable[];
}

export const yamlConfigScanner: FormatScanner = {
  id: 'yaml',
  // Any YAML-looking text is searched whole for callable tags, so padding cannot
  // push them out of the sniffed head; the format is named only when some are found.
  reportsOwnFormats: true,
  sniff(head: Buffer): boolean {
    return sniffYamlConfig(head);
  },
  async scan(src: ByteSource, place: Place, ctx: ScanContext): Promise<void> {
    const buf = await src.read(0, Math.min(src.size, MAX_YAML_BYTES));
    let text = buf.toString('utf8');
    const bom = text.charCodeAt(0) === 0xfeff;
    if (bom) text = text.slice(1);
    if (!hasCallableMarkers(text)) return;
    addFormat(ctx, 'yaml-config');
    const cfg = readYamlConfig(text);
    const loc = place.location;
    const byteOffset = (index: number): number | undefined => (index >= 0 ? Buffer.byteLength(text.slice(0, index)) + (bom ? 3 : 0) : undefined);
    // 1-based column in UTF-16 code units (SARIF's default column kind).
    const column = (index: number): number | undefined => (index >= 0 ? index - text.lastIndexOf('\n', index - 1) : undefined);
    const at = (index: number, line: number): { offset?: number; line?: number; column?: number } =>
      line > 0 ? { offset: byteOffset(index), line, column: column(index) } : { offset: byteOffset(index) };
    if (cfg.callables.some((c) => c.syntax === 'hyperpyyaml' || c.syntax === 'ref-attribute')) addFormat(ctx, 'hyperpyyaml');
    if (cfg.callables.some((c) => c.syntax === 'hydra' || c.syntax === 'nemo-target')) addFormat(ctx, 'hydra-config');
    const parseNote = cfg.errors.length ? ` (The file did not parse as YAML, ${cfg.errors[0].replace(/\.$/, '')}; this was found by pattern.)` : '';

    if (src.size > buf.length) {
      addFinding(ctx, `${loc}|config|truncated`, {
        ruleId: 'config/truncated',
        severity: 'LOW',
        location: loc,
        message: `Only the first ${MAX_YAML_BYTES / 1024 / 1024} MiB of this ${src.size.toLocaleString('en-US')}-byte YAML file were read; the rest was not checked.`,
        hint: 'Real configs are kilobytes. Find out why this one is so large before loading it.',
      });
    }

    const groups = new Map<string, Group>();
    const known: YamlCallable[] = [];
    for (const c of cfg.callables) {
      const v = classifyTarget(ctx.policy, c.target, c.kind === 'module');
      let rule: string;
      let severity: Severity;
      if (v.level === 'dangerous') {
        rule = 'config/yaml-dangerous-callable';
        severity = v.severity;
      } else if (c.syntax === 'pyyaml') {
        rule = 'config/yaml-python-tag';
        severity = v.allowlisted ? 'LOW' : 'HIGH';
      } else if (v.level === 'unknown') {
        rule = 'config/yaml-unknown-callable';
        severity = 'MEDIUM';
      } else {
        known.push(c);
        continue;
      }
      const key = `${rule}|${c.syntax}|${c.kind}|${v.name}`;
      const g = groups.get(key);
      if (g) g.items.push(c);
      else groups.set(key, { rule, severity, reason: v.reason, name: v.name, items: [c] });
    }

    for (const [key, g] of groups) {
      const c = g.items[0];
      const times = g.items.length > 1 ? ` (${g.items.length} places)` : '';
      const where = `${c.display} at line ${c.line}${c.path.startsWith('line ') ? '' : `, ${c.path}`}${times}`;
      let message: string;
      let hint: string;
      if (g.rule === 'config/yaml-dangerous-callable') {
        message = `${LOADER[c.syntax]} ${verb(c)} ${g.name} when this file is loaded (${where}): ${g.reason.replace(/\.$/, '')}.`;
        hint = 'Do not load this config. Model configs instantiate model classes; they have no reason to reach processes, code evaluation, files or the network.';
      } else if (g.rule === 'config/yaml-python-tag') {
        message =
          `A PyYAML python tag makes ${LOADER.pyyaml} ${verb(c)} ${g.name} (${where}). ` +
          (g.severity === 'LOW' ? `${g.name} is on the allowlist, but the tag means the file is meant for an unsafe loader.` : `${g.reason.replace(/\.$/, '')}; any importable callable could sit here.`);
        hint = 'Load YAML with yaml.safe_load (or OmegaConf), which rejects python tags. If the file must be loaded unsafely, review every python tag in it first.';
      } else {
        message = `${LOADER[c.syntax]} ${verb(c)} ${g.name} when this file is loaded (${where}): ${g.reason.replace(/\.$/, '')}`;
        hint = `Check what ${g.name} does when called with the arguments in the evidence. If it is your own trusted code, add it to the allow list in .ptmscope.yaml.`;
      }
      addFinding(ctx, `${loc}|${key}`, {
        ruleId: g.rule,
        severity: g.severity,
        location: loc,
        ...at(c.index, c.line),
        global: g.name,
        message: message + parseNote,
        evidence: g.items.slice(0, 5).map(occurrence).join('\n') + (g.items.length > 5 ? `\n… and ${g.items.length - 5} more` : ''),
        hint,
      });
    }

    for (const a of cfg.attributeReads) {
      addFinding(ctx, `${loc}|config|attr|${a.ref}|${a.attr}`, {
        ruleId: 'config/yaml-dangerous-callable',
        severity: 'HIGH',
        location: loc,
        ...at(a.index, a.line),
        message: `HyperPyYAML reads the special attribute ${a.attr} of <${a.ref}> (!ref at line ${a.line}, ${a.path}): getattr walks on dunder attributes are how sandbox escapes reach builtins.`,
        evidence: `line ${a.line} ${a.path}: !ref <${a.ref}.${a.attr}>  →  getattr(<${a.ref}>, '${a.attr}')`,
        hint: 'No model config needs special attributes. Do not load this file.',
      });
    }

    const localIncludes: string[] = [];
    for (const inc of cfg.includes) {
      if (!includeEscapes(inc.file)) {
        localIncludes.push(`line ${inc.line} ${inc.path}: !include:${inc.file}`);
        continue;
      }
      addFinding(ctx, `${loc}|config|include|${inc.file}`, {
        ruleId: 'config/yaml-include',
        severity: 'MEDIUM',
        location: loc,
        ...at(inc.index, inc.line),
        message: `HyperPyYAML includes ${JSON.stringify(inc.file)}, a file outside this config's folder (line ${inc.line}, ${inc.path}); its own tags run too, and ptmscope did not scan it.`,
        evidence: `!include:${inc.file}`,
        hint: 'A model repo should carry every YAML it includes. Find out what that file holds on the machines that will load this config.',
      });
    }

    if (known.length || localIncludes.length) {
      const libs = new Map<string, number>();
      for (const c of known) {
        const lib = c.target.trim().split('.').filter(Boolean)[0] ?? c.target;
        libs.set(lib, (libs.get(lib) ?? 0) + 1);
      }
      const loaders = [...new Set(known.map((c) => LOADER[c.syntax]))];
      const libText = [...libs].map(([l, k]) => `${l} (${k})`).join(', ');
      const parts: string[] = [];
      if (known.length) parts.push(`This config names ${known.length} callable${known.length > 1 ? 's' : ''} from known libraries that ${loaders.join(' and ')} import${loaders.length > 1 ? '' : 's'} and call${loaders.length > 1 ? '' : 's'} when it is loaded: ${libText}.`);
      if (localIncludes.length) parts.push(`It includes ${localIncludes.length} other YAML file${localIncludes.length > 1 ? 's' : ''} from its folder, whose tags run too.`);
      known.sort((a, b) => a.line - b.line);
      const lines = [...known.map(occurrence), ...localIncludes];
      addFinding(ctx, `${loc}|config|yaml-callables`, {
        ruleId: 'config/yaml-callables',
        severity: 'INFO',
        location: loc,
        ...(known.length ? at(known[0].index, known[0].line) : {}),
        message: parts.join(' ') + parseNote,
        evidence: lines.slice(0, 40).join('\n') + (lines.length > 40 ? `\n… and ${lines.length - 40} more` : ''),
        hint: 'Loading a config like this runs the listed constructors with the listed arguments; they are ordinary for this kind of model. Review them if the model comes from someone you do not trust.',
      });
    }
  },
};

/** Both scanners, in the order to register them. */
export const CONFIG_SCANNERS: readonly FormatScanner[] = [jsonConfigScanner, yamlConfigScanner];
