/**
 * Judges a pickle stream: every global through the policy, every call with its
 * arguments as evidence, trampolines resolved, nested pickles scanned in turn,
 * and read errors reported with everything found before them.
 */
import { BufferSource, type ByteSource } from '../formats/source.js';
import type { Note } from '../formats/pickle/machine.js';
import { readPickleStream, type StreamRun } from '../formats/pickle/stream.js';
import { constString, globalName, renderCall, tupleItems, type CallRecord, type GlobalRef, type Value } from '../formats/pickle/values.js';
import { addFinding, addFormat, type Place, type ScanContext } from './context.js';
import type { Severity } from './finding.js';

/** Callables that deserialise their argument: their bytes are a pickle we scan too. */
const NESTED_LOADERS = new Set([
  'pickle.loads',
  'pickle.load',
  'pickle._loads',
  'pickle._load',
  '_pickle.loads',
  '_pickle.load',
  'cPickle.loads',
  'cPickle.load',
  'dill.loads',
  'dill.load',
  'cloudpickle.loads',
  'joblib.load',
  'torch.load',
  'torch.serialization.load',
  'torch.storage._load_from_bytes',
  'numpy.load',
  'pandas.read_pickle',
]);

const NOTE_SEVERITY: Partial<Record<Note['kind'], Severity>> = {
  'frame-mismatch': 'MEDIUM',
  'frame-overrun': 'MEDIUM',
  'ext-code': 'MEDIUM',
  'no-proto': 'LOW',
  'memoize-after-put': 'LOW',
  'proto-not-first': 'LOW',
  'bytes-string-as-name': 'LOW',
  'opcode-above-protocol': 'LOW',
  'out-of-band-buffer': 'LOW',
  'computed-global': 'HIGH',
};

const MAX_EVIDENCE = 600;

function clip(s: string): string {
  return s.length > MAX_EVIDENCE ? `${s.slice(0, MAX_EVIDENCE)}…` : s;
}

function split(dotted: string): [string, string] {
  const i = dotted.indexOf('.');
  return i < 0 ? [dotted, ''] : [dotted.slice(0, i), dotted.slice(i + 1)];
}

interface NestedRequest {
  via: string;
  offset: number;
  bytes?: Buffer;
  range?: { off: number; len: number };
}

export interface PickleScanOptions {
  /** Stop after this many stacked pickles (the caller knows what follows). */
  maxPickles?: number;
  /** Bytes where the first pickle starts. */
  start?: number;
  /** Called for every persistent_load (torch's storage references). */
  onPersistentLoad?(pid: Value): void;
  /** What persistent_load returns, where the container's loader is known. */
  persistentLoad?(pid: Value): Value | undefined;
}

export async function scanPickleStream(src: ByteSource, place: Place, ctx: ScanContext, opts: PickleScanOptions = {}): Promise<StreamRun> {
  addFormat(ctx, 'pickle');
  const nested: NestedRequest[] = [];
  const keyFor = (rule: string, name: string) => `${place.location}|${rule}|${name}`;
  const judged = new Map<string, string | undefined>(); // global name → finding key (undefined when allowed)

  const judgeGlobal = (ref: GlobalRef, recovered = false): void => {
    const name = globalName(ref);
    if (judged.has(name) && !recovered) return;
    const v = ctx.policy.classify(ref.module, ref.name, place.ecosystems);
    if (v.verdict === 'allowed') {
      judged.set(name, undefined);
      return;
    }
    const rule = v.verdict === 'dangerous' ? 'pickle/dangerous-global' : 'pickle/unknown-global';
    const key = keyFor(rule, name);
    judged.set(name, key);
    const where = recovered ? ' It sits after the point where a loader fails, so it may never run, but nothing benign puts it there.' : '';
    addFinding(ctx, key, {
      ruleId: rule,
      severity: v.severity,
      location: place.location,
      offset: ref.offset,
      global: name,
      message:
        v.verdict === 'dangerous'
          ? `${v.reason.replace(/\.$/, '')}; unpickling this file imports it.${where}`
          : `Pickle references ${name}, which is not on the allowlist for this kind of file: loading it imports and may call code from '${ref.module}'.${where}`,
      evidence: `${ref.via} at byte ${ref.offset}`,
      hint:
        v.verdict === 'dangerous'
          ? 'Do not load this file with torch.load/pickle/joblib: it runs this code as it loads. Ask the publisher for a safetensors copy, or load with torch.load(weights_only=True) to see it refused.'
          : `If ${name} is expected in this model, add it to "allow" in .ptmscope.yaml; otherwise treat the file as untrusted. torch.load(weights_only=True) refuses unknown globals.`,
    });
  };

  const onCall = (c: CallRecord): void => {
    if (c.kind === 'persistent_load') {
      opts.onPersistentLoad?.(c.args);
      return;
    }
    if (c.kind === 'build') {
      if (c.fn.k === 'global') {
        const name = globalName(c.fn.ref);
        addFinding(ctx, keyFor('pickle/setstate-on-global', name), {
          ruleId: 'pickle/setstate-on-global',
          severity: 'HIGH',
          location: place.location,
          offset: c.offset,
          global: name,
          message: `BUILD writes state into ${name} itself (a module, class or function), which can replace its attributes for everything loaded later.`,
          evidence: clip(renderCall(c)),
          hint: 'No ordinary model file does this. Do not load it.',
        });
      }
      return;
    }
    // Attach the first call as evidence to the finding about its callable.
    const direct = c.fn.k === 'global' ? globalName(c.fn.ref) : undefined;
    if (direct) {
      const key = judged.get(direct);
      const f = key ? ctx.seen.get(key) : undefined;
      if (f && f.evidence?.includes(' at byte ')) {
        f.evidence = clip(renderCall(c));
        f.offset = c.offset;
      }
    }
    const callee = c.callee;
    let reported = false;
    if (callee && callee !== direct) {
      const [m, n] = split(callee);
      const v = ctx.policy.classify(m, n, place.ecosystems);
      if (v.verdict === 'dangerous') {
        addFinding(ctx, keyFor('pickle/dangerous-call', callee), {
          ruleId: 'pickle/dangerous-call',
          severity: v.severity,
          location: place.location,
          offset: c.offset,
          global: callee,
          message: `A call resolves to ${callee} through ${direct ?? 'a computed callable'}: ${v.reason.replace(/\.$/, '')}.`,
          evidence: clip(renderCall(c)),
          hint: 'The file reaches this callable indirectly, a known way to slip past blocklist scanners. Do not load it.',
        });
        reported = true;
      }
    }
    if (!reported && c.fn.k === 'call') {
      addFinding(ctx, keyFor('pickle/computed-call', String(c.offset)), {
        ruleId: 'pickle/computed-call',
        severity: 'HIGH',
        location: place.location,
        offset: c.offset,
        global: callee,
        message: `The pickle calls a callable it computed${callee ? ` (${callee})` : ''} instead of one it imported by name; ordinary model files never do.`,
        evidence: clip(renderCall(c)),
        hint: 'Computed callables reach methods no allowlist names. Do not load this file; the evidence is the call the loader would make.',
      });
    }
    const canon = canonicalLoader(callee ?? direct);
    if (canon) {
      const req = nestedPayload(c, canon);
      if (req) nested.push(req);
    }
  };

  const onNote = (n: Note): void => {
    const sev = NOTE_SEVERITY[n.kind];
    if (!sev) return;
    addFinding(ctx, `${place.location}|pickle/nonstandard|${n.kind}`, {
      ruleId: 'pickle/nonstandard-opcode-use',
      severity: sev,
      location: place.location,
      offset: n.offset,
      message: `${n.message}. Standard picklers never write this; readers disagree on it.`,
      evidence: n.kind,
      hint: 'Parser tricks like this are used to hide payloads from scanners. Review the other findings for this file; do not load it unless you know why it was written this way.',
    });
  };

  const run = await readPickleStream(src, opts.start ?? 0, { maxOpcodes: ctx.limits.maxOpcodes, maxStackItems: ctx.limits.maxStackItems, maxKeptString: 1 << 20 }, { onGlobal: (g) => judgeGlobal(g), onCall, onNote, persistentLoad: opts.persistentLoad }, { maxPickles: opts.maxPickles });

  for (const p of run.pickles) {
    if (!p.error) continue;
    const limit = p.error.kind === 'limit';
    addFinding(ctx, `${place.location}|pickle/error`, {
      ruleId: limit ? 'pickle/limit-exceeded' : 'pickle/parse-error',
      severity: 'MEDIUM',
      location: place.location,
      offset: p.error.offset,
      message: limit
        ? `Stopped reading the pickle: ${p.error.message}.`
        : `The pickle cannot be read to the end: ${p.error.message}. A loader runs every opcode before this point and then fails ("broken pickle").`,
      evidence: `${p.opcodes} opcodes read from byte ${p.start}`,
      hint: limit
        ? 'Hostile files build huge structures to exhaust scanners. If this is a genuine model, raise the limit in .ptmscope.yaml and scan again.'
        : 'A model that does not load is useless; one that fails after running code is an attack. Do not load it; treat any other finding for this file as live.',
    });
  }
  for (const g of run.recovered) judgeGlobal(g, true);
  if (run.trailing) {
    addFinding(ctx, `${place.location}|pickle/trailing`, {
      ruleId: 'pickle/trailing-bytes',
      severity: 'LOW',
      location: place.location,
      offset: run.trailing.offset,
      message: `${run.trailing.length} bytes follow the last pickle and are not another pickle.`,
      hint: 'Loaders ignore these bytes, but data appended to a model file is unusual: check where the file came from.',
    });
  }

  for (const req of nested) await scanNested(src, req, place, ctx);
  return run;
}

function canonicalLoader(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const n = name.replace(/^_pickle\./, 'pickle.').replace(/^cPickle\./, 'pickle.');
  return NESTED_LOADERS.has(name) || NESTED_LOADERS.has(n) ? n : undefined;
}

/** Finds the serialized bytes given to a loader: b'…', io.BytesIO(b'…'), _codecs.encode('…', 'latin1'), base64. */
function nestedPayload(c: CallRecord, via: string): NestedRequest | undefined {
  const arg = (tupleItems(c.args) ?? [])[0];
  const found = constBytes(arg, 0);
  if (!found) return undefined;
  return { via, offset: c.offset, ...found };
}

function constBytes(v: Value | undefined, depth: number): Pick<NestedRequest, 'bytes' | 'range'> | undefined {
  if (!v || depth > 4) return undefined;
  if (v.k === 'bytes') return { range: { off: v.off, len: v.len } };
  if (v.k === 'str' && !v.truncated) return { bytes: Buffer.from(v.v, 'latin1') };
  if (v.k !== 'call') return undefined;
  const fn = v.call.fn.k === 'global' ? globalName(v.call.fn.ref) : v.call.callee;
  const args = tupleItems(v.call.args) ?? [];
  switch (fn) {
    case 'io.BytesIO':
    case '_io.BytesIO':
    case 'builtins.bytes':
    case 'builtins.bytearray':
    case '__builtin__.bytearray':
      return constBytes(args[0], depth + 1);
    case '_codecs.encode':
    case 'codecs.encode': {
      const s = constString(args[0]);
      const enc = (constString(args[1]) ?? 'utf-8').toLowerCase();
      if (s === undefined) return undefined;
      return { bytes: Buffer.from(s, enc === 'latin1' || enc === 'latin-1' || enc === 'iso-8859-1' ? 'latin1' : 'utf8') };
    }
    case 'base64.b64decode':
    case 'base64.standard_b64decode':
    case 'binascii.a2b_base64': {
      const s = constString(args[0]);
      return s === undefined ? undefined : { bytes: Buffer.from(s, 'base64') };
    }
    case 'bytes.fromhex':
    case 'builtins.bytes.fromhex': {
      const s = constString(args[0]);
      return s === undefined ? undefined : { bytes: Buffer.from(s.replace(/\s+/g, ''), 'hex') };
    }
  }
  return undefined;
}

async function scanNested(src: ByteSource, req: NestedRequest, place: Place, ctx: ScanContext): Promise<void> {
  const location = `${place.location}@${req.offset}:${req.via}`;
  if (place.depth + 1 > ctx.limits.maxDepth) {
    addFinding(ctx, `${location}|depth`, {
      ruleId: 'archive/limit-exceeded',
      severity: 'MEDIUM',
      location,
      offset: req.offset,
      message: `Pickles nested deeper than ${ctx.limits.maxDepth} levels were not read.`,
      hint: 'Deep nesting is a way to exhaust scanners; treat the file as hostile.',
    });
    return;
  }
  let bytes = req.bytes;
  if (!bytes && req.range) {
    if (req.range.len > ctx.limits.maxConstantBytes) return;
    bytes = await src.read(req.range.off, req.range.len);
  }
  if (!bytes || bytes.length === 0) return;
  ctx.members.push(location);
  addFinding(ctx, `${location}|nested`, {
    ruleId: 'pickle/nested-pickle',
    severity: 'HIGH',
    location: place.location,
    offset: req.offset,
    global: req.via,
    message: `A ${bytes.length}-byte constant is handed to ${req.via}, which unpickles it; its findings are reported under ${location}.`,
    hint: 'Outer pickles that unpack inner ones hide payloads from single-pass scanners. Do not load this file.',
  });
  await scanPickleStream(new BufferSource(bytes, location), { location, depth: place.depth + 1, ecosystems: place.ecosystems }, ctx);
}
