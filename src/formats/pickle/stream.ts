/**
 * Pickle streams: several pickles back to back (torch's legacy format stacks five),
 * bytes left after the last STOP, and a last-resort linear pass that still finds
 * globals after the point where a loader would fail.
 */
import { BufferSource, type ByteSource } from '../source.js';
import * as O from './opcodes.js';
import { Budget, PickleMachine, isDottedIdentifier, parsePyFloat, parsePyInt, type MachineHooks, type MachineLimits, type PickleRun } from './machine.js';
import { Reader } from './reader.js';
import type { GlobalRef } from './values.js';

export interface StreamRun {
  pickles: PickleRun[];
  /** Bytes after the last complete pickle that are not another pickle. */
  trailing?: { offset: number; length: number };
  /** Globals seen by the linear pass after a read error (the loader never gets there). */
  recovered: GlobalRef[];
}

/** Reads one pickle at `start`. */
export async function readPickle(src: ByteSource, start: number, budget: Budget, hooks: MachineHooks, callIds?: { n: number }): Promise<PickleRun> {
  const m = new PickleMachine(new Reader(src, start), budget, hooks, callIds);
  return m.run();
}

/**
 * Reads every pickle from `start` to the end of the source (or `maxPickles`).
 * After a complete pickle, leftover bytes that do not start another pickle are
 * reported as trailing; a pickle that breaks is reported through its run's error.
 */
export async function readPickleStream(
  src: ByteSource,
  start: number,
  limits: MachineLimits,
  hooks: MachineHooks,
  opts: { maxPickles?: number } = {},
): Promise<StreamRun> {
  const budget = new Budget(limits);
  const callIds = { n: 1 };
  const out: StreamRun = { pickles: [], recovered: [] };
  let pos = start;
  const max = opts.maxPickles ?? Infinity;
  while (pos < src.size && out.pickles.length < max) {
    if (out.pickles.length > 0) {
      // Is what follows another pickle, or just bytes? Probe before reporting findings from it.
      const head = await src.read(pos, 4096);
      if (!looksLikePickle(head, src.size - pos)) {
        out.trailing = { offset: pos, length: src.size - pos };
        out.recovered.push(...(await recoverGlobals(src, pos, 1 << 20)));
        break;
      }
    }
    const run = await readPickle(src, pos, budget, hooks, callIds);
    out.pickles.push(run);
    if (run.error) {
      if (run.error.kind !== 'limit') out.recovered.push(...(await recoverGlobals(src, Math.max(run.error.offset + 1, pos + 1), 1 << 20)));
      break;
    }
    pos = run.end;
  }
  return out;
}

const PROBE_OPS = 3;
/**
 * After this many valid opcodes the bytes are a pickle, whatever follows: joblib
 * writes raw array bytes into the stream, and a broken tail is the machine's to report.
 */
const PROBE_ENOUGH = 8;

/**
 * Whether bytes look like the start of a pickle: a valid PROTO, or a few opcodes
 * that a loader would accept. Used for sniffing; `total` is the full length so a
 * probe that ran out of window is not mistaken for a truncated file.
 */
export function looksLikePickle(head: Buffer, total = head.length): boolean {
  if (head.length === 0) return false;
  if (head[0] === O.PROTO) {
    // PROTO alone proves little (a safetensors header length of 640 starts 0x80 0x02);
    // what follows must be opcodes a loader runs, else the loader stops at once.
    // Two valid opcodes after PROTO settle it (a safetensors length can make at most one).
    if (head.length < 3 || head[1] > O.HIGHEST_PROTOCOL) return false;
    let valid = 0;
    return probeOps(head.subarray(2), total - 2, () => ++valid >= 2) || valid >= 2;
  }
  if (!O.OPCODES[head[0]]) return false;
  // Synchronous probe: run the machine over the head. BufferSource reads resolve
  // immediately, but the machine is async, so use a tiny synchronous scan instead.
  return probeSync(head, total);
}

/**
 * A synchronous, structural probe of protocol 0/1 streams (the only ones that
 * can start without PROTO): decode opcodes, track stack depth and marks, and
 * fail on what the loader would reject.
 */
function probeSync(b: Buffer, total: number): boolean {
  let valid = 0;
  const r = probeOps(b, total, () => ++valid >= PROBE_ENOUGH);
  return r || valid >= PROBE_ENOUGH;
}

/** `enough` is called after each valid opcode; returning true ends the probe with success. */
function probeOps(b: Buffer, total: number, enough: () => boolean): boolean {
  let pos = 0;
  let depth = 0;
  const marks: number[] = [];
  let ops = 0;
  const fence = () => (marks.length ? marks[marks.length - 1] : 0);
  const line = (): boolean => {
    const i = b.indexOf(0x0a, pos);
    if (i < 0) return false;
    pos = i + 1;
    return true;
  };
  while (pos < b.length) {
    const code = b[pos++];
    const info = O.OPCODES[code];
    if (!info) return false;
    ops++;
    const need = (n: number) => pos + n <= b.length;
    switch (info.arg) {
      case 'line':
      case 'line2': {
        const from = pos;
        if (!line()) return ops > PROBE_OPS && b.length < total;
        if (info.arg === 'line2' && !line()) return ops > PROBE_OPS && b.length < total;
        const text = b.subarray(from, pos - 1).toString('latin1');
        if (code === O.GLOBAL || code === O.INST) {
          const [m, n] = text.split('\n');
          if (!isDottedIdentifier(m) || !isDottedIdentifier(n ?? '')) return false;
        }
        // Exactly what the loader accepts: rejecting more would let a payload hide behind an odd first opcode.
        if (code === O.INT && text !== '00' && text !== '01' && parsePyInt(text) === undefined) return false;
        if (code === O.LONG && parsePyInt(text.replace(/L$/, '')) === undefined) return false;
        if ((code === O.GET || code === O.PUT) && parsePyInt(text, 10) === undefined) return false;
        if (code === O.FLOAT && parsePyFloat(text) === undefined) return false;
        if (code === O.STRING && !(text.length >= 2 && (text[0] === "'" || text[0] === '"') && text[text.length - 1] === text[0])) return false;
        break;
      }
      case 'none':
        break;
      default: {
        const fixed = { u1: 1, u2: 2, i4: 4, u4: 4, u8: 8, f8be: 8, bytes1: 1, bytes4: 4, bytes4s: 4, bytes8: 8 }[info.arg];
        if (!need(fixed)) return ops > PROBE_OPS && b.length < total;
        let len = 0;
        if (info.arg === 'bytes1') len = b[pos];
        else if (info.arg === 'bytes4') len = b.readUInt32LE(pos);
        else if (info.arg === 'bytes4s') len = b.readInt32LE(pos);
        else if (info.arg === 'bytes8') len = Number(b.readBigUInt64LE(pos));
        if (len < 0 || len > total) return false;
        pos += fixed + len;
      }
    }
    // Stack effects that a loader checks immediately.
    switch (code) {
      case O.MARK:
        marks.push(depth);
        break;
      case O.STOP:
        return depth > fence() || depth > 0;
      case O.POP:
        if (marks.length && marks[marks.length - 1] === depth) marks.pop();
        else if (depth <= fence()) return false;
        else depth--;
        break;
      case O.TUPLE:
      case O.LIST:
      case O.DICT:
      case O.FROZENSET:
        if (!marks.length) return false;
        depth = marks.pop()! + 1;
        break;
      case O.POP_MARK:
        if (!marks.length) return false;
        depth = marks.pop()!;
        break;
      case O.APPENDS:
      case O.SETITEMS:
      case O.ADDITEMS:
      case O.INST:
      case O.OBJ: {
        if (!marks.length) return false;
        const m = marks.pop()!;
        if ((code === O.APPENDS || code === O.SETITEMS || code === O.ADDITEMS) && m <= 0) return false;
        depth = code === O.INST || code === O.OBJ ? m + 1 : m;
        break;
      }
      case O.APPEND:
      case O.SETITEM: {
        const n = code === O.APPEND ? 1 : 2;
        if (depth - n <= 0) return false;
        depth -= n;
        break;
      }
      case O.REDUCE:
      case O.NEWOBJ:
      case O.STACK_GLOBAL:
      case O.BUILD:
        if (depth - 2 < fence()) return false;
        depth -= 1;
        break;
      case O.DUP:
      case O.PUT:
      case O.BINPUT:
      case O.LONG_BINPUT:
      case O.MEMOIZE:
      case O.BINPERSID:
      case O.READONLY_BUFFER:
        if (depth <= fence()) return false;
        if (code === O.DUP) depth++;
        break;
      case O.TUPLE1:
      case O.TUPLE2:
      case O.TUPLE3: {
        const n = code - O.TUPLE1 + 1;
        if (depth - n < fence()) return false;
        depth = depth - n + 1;
        break;
      }
      case O.NEWOBJ_EX:
        if (depth - 3 < fence()) return false;
        depth -= 2;
        break;
      case O.FRAME:
      case O.PROTO:
        break;
      default:
        depth++; // pushes a value
    }
    if (enough()) return true;
  }
  return ops > PROBE_OPS;
}

/**
 * Decodes opcodes linearly from `from`, ignoring stack semantics, and returns the
 * globals named by GLOBAL/INST and by STACK_GLOBAL over the two previous string
 * constants. Only well-formed dotted identifiers count, so random bytes stay quiet.
 */
export async function recoverGlobals(src: ByteSource, from: number, maxBytes: number): Promise<GlobalRef[]> {
  const len = Math.min(maxBytes, src.size - from);
  if (len <= 0) return [];
  const b = await src.read(from, len);
  const out: GlobalRef[] = [];
  const strs: string[] = [];
  let pos = 0;
  while (pos < b.length) {
    const at = pos;
    const code = b[pos++];
    const info = O.OPCODES[code];
    if (!info) continue; // resync one byte at a time
    if (info.arg === 'line' || info.arg === 'line2') {
      const i1 = b.indexOf(0x0a, pos);
      if (i1 < 0 || i1 - pos > 512) continue;
      if (info.arg === 'line') {
        const t = b.subarray(pos, i1).toString('latin1');
        if (code === O.STRING || code === O.UNICODE) strs.push(t.replace(/^['"]|['"]$/g, ''));
        pos = i1 + 1;
        continue;
      }
      const i2 = b.indexOf(0x0a, i1 + 1);
      if (i2 < 0 || i2 - i1 > 512) continue;
      const m = b.subarray(pos, i1).toString('latin1');
      const n = b.subarray(i1 + 1, i2).toString('latin1');
      if (isDottedIdentifier(m) && isDottedIdentifier(n)) {
        out.push({ module: m, name: n, via: `${info.name} (after read error)`, offset: from + at });
        pos = i2 + 1;
      }
      continue;
    }
    if (info.arg === 'bytes1' || info.arg === 'bytes4' || info.arg === 'bytes8') {
      const w = info.arg === 'bytes1' ? 1 : info.arg === 'bytes4' ? 4 : 8;
      if (pos + w > b.length) break;
      const n = w === 1 ? b[pos] : w === 4 ? b.readUInt32LE(pos) : Number(b.readBigUInt64LE(pos));
      if (n > 4096 || pos + w + n > b.length) continue;
      if (code !== O.LONG1) strs.push(b.subarray(pos + w, pos + w + n).toString('latin1'));
      pos += w + n;
      continue;
    }
    if (code === O.STACK_GLOBAL && strs.length >= 2) {
      const m = strs[strs.length - 2];
      const n = strs[strs.length - 1];
      if (isDottedIdentifier(m) && isDottedIdentifier(n)) out.push({ module: m, name: n, via: 'STACK_GLOBAL (after read error)', offset: from + at });
    }
  }
  return out;
}

/** Convenience for tests and small inputs. */
export async function readPickleBytes(bytes: Buffer, limits: MachineLimits, hooks: MachineHooks): Promise<StreamRun> {
  return readPickleStream(new BufferSource(bytes), 0, limits, hooks);
}
