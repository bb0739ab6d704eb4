/**
 * The symbolic pickle machine: reads opcodes one at a time with the semantics of
 * CPython's C unpickler and runs them on symbolic values. Nothing is imported,
 * constructed or called; instead every global and every call is reported through
 * callbacks, so a caller can judge them as they appear (a malicious call after a
 * million benign ones is never dropped from a capped list).
 */
import * as O from './opcodes.js';
import { LineTooLongError, Reader, TruncatedError } from './reader.js';
import {
  FALSE_V,
  NONE_V,
  TRUE_V,
  callsIn,
  constString,
  resolveCallee,
  tupleItems,
  unknown,
  type CallKind,
  type CallRecord,
  type GlobalRef,
  type Value,
} from './values.js';

export type NoteKind =
  | 'frame-mismatch'
  | 'frame-overrun'
  | 'no-proto'
  | 'opcode-above-protocol'
  | 'proto-not-first'
  | 'memoize-after-put'
  | 'memo-overwrite'
  | 'ext-code'
  | 'out-of-band-buffer'
  | 'dotted-name'
  | 'bytes-string-as-name'
  | 'joblib-array'
  | 'computed-global';

export interface Note {
  kind: NoteKind;
  offset: number;
  message: string;
}

export type ErrorKind = 'truncated' | 'invalid-opcode' | 'underflow' | 'mark' | 'memo' | 'value' | 'limit';

export interface RunError {
  kind: ErrorKind;
  offset: number;
  message: string;
}

export interface MachineHooks {
  onGlobal?(ref: GlobalRef): void;
  onCall?(call: CallRecord): void;
  onNote?(note: Note): void;
  /**
   * What the loader's persistent_load returns for a pid, when the caller knows
   * (torch's legacy format returns the class itself for ('module', cls, …) pids).
   */
  persistentLoad?(pid: Value): Value | undefined;
}

export interface MachineLimits {
  maxOpcodes: number;
  /** Live stack depth, and memo entries + stored container items together. */
  maxStackItems: number;
  /** Longest text line or string constant kept in full (longer ones keep a prefix). */
  maxKeptString: number;
}

export interface PickleRun {
  start: number;
  /** Offset just past STOP, or where reading ended. */
  end: number;
  stopped: boolean;
  protocol?: number;
  opcodes: number;
  error?: RunError;
  result?: Value;
}

class RunFailure extends Error {
  constructor(readonly err: RunError) {
    super(err.message);
  }
}

const STRING_PREFIX = 4096;
/** Items a container keeps (its references; the rest are counted in `dropped`). */
const MAX_KEPT_ITEMS = 65_536;
const BYTES_HEAD = 64;
const decoderUtf8 = new TextDecoder('utf-8', { fatal: false });

function isDottedIdentifier(s: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(s);
}

/** Shared budget for one scanned stream (stacked and joblib-nested pickles count together). */
export class Budget {
  opcodes = 0;
  items = 0;
  constructor(readonly limits: MachineLimits) {}
}

export class PickleMachine {
  private stack: Value[] = [];
  private marks: number[] = [];
  private fence = 0;
  private memo = new Map<number, Value>();
  private proto = 0;
  private sawProto = false;
  private frameEnd = -1;
  private frameStart = -1;
  private putSeen = false;
  private opcodes = 0;
  private nextCallId: { n: number };

  constructor(
    private readonly r: Reader,
    private readonly budget: Budget,
    private readonly hooks: MachineHooks,
    callIds?: { n: number },
  ) {
    this.nextCallId = callIds ?? { n: 1 };
  }

  private note(kind: NoteKind, offset: number, message: string): void {
    this.hooks.onNote?.({ kind, offset, message });
  }

  private fail(kind: ErrorKind, offset: number, message: string): never {
    throw new RunFailure({ kind, offset, message });
  }

  private charge(n: number, at: number): void {
    this.budget.items += n;
    if (this.budget.items > this.budget.limits.maxStackItems) {
      this.fail('limit', at, `more than ${this.budget.limits.maxStackItems} stack, memo and container items (an expansion attack, or raise limits.maxStackItems)`);
    }
  }

  private push(v: Value, at: number): void {
    // The live stack is bounded directly; stored items (memo, containers) are charged.
    if (this.stack.length >= this.budget.limits.maxStackItems) this.charge(this.budget.limits.maxStackItems + 1, at);
    this.stack.push(v);
  }

  /** A new container holding items taken off the stack: they are now stored. */
  private seq(type: 'list' | 'tuple' | 'set' | 'frozenset', items: Value[], at: number): Value {
    this.charge(items.length, at);
    return { k: 'seq', type, items, dropped: 0 };
  }

  private pop(at: number): Value {
    if (this.stack.length <= this.fence) this.fail('underflow', at, 'unpickling stack underflow');
    return this.stack.pop()!;
  }

  private top(at: number): Value {
    if (this.stack.length <= this.fence) this.fail('underflow', at, 'unpickling stack underflow');
    return this.stack[this.stack.length - 1];
  }

  /** Pops to the last MARK, returning the items above it (C: marker + Pdata_poptuple). */
  private popMark(at: number): Value[] {
    if (this.marks.length === 0) this.fail('mark', at, 'could not find MARK');
    const m = this.marks.pop()!;
    this.fence = this.marks.length ? this.marks[this.marks.length - 1] : 0;
    return this.stack.splice(m);
  }

  private call(kind: CallKind, fn: Value, args: Value, at: number, kwargs?: Value): Value {
    const inputs: number[] = [];
    callsIn(fn, inputs);
    callsIn(args, inputs);
    if (kwargs) callsIn(kwargs, inputs);
    const rec: CallRecord = { id: this.nextCallId.n++, kind, fn, args, kwargs, offset: at, inputs };
    rec.callee = resolveCallee(rec);
    this.hooks.onCall?.(rec);
    return { k: 'call', call: rec };
  }

  private persistent(pid: Value, at: number): Value {
    const result = this.call('persistent_load', unknown('persistent_load'), pid, at);
    return this.hooks.persistentLoad?.(pid) ?? result;
  }

  private global(module: string, name: string, via: string, at: number, fromBytesOp = false): Value {
    if (name.includes('.')) this.note('dotted-name', at, `${via} names '${module}' + '${name}': the loader walks the dotted name one attribute at a time`);
    if (fromBytesOp) this.note('bytes-string-as-name', at, `${via} operands come from byte-string opcodes`);
    const ref: GlobalRef = { module, name, via, offset: at };
    this.hooks.onGlobal?.(ref);
    return { k: 'global', ref };
  }

  private int(s: string, at: number): number | bigint {
    const v = parsePyInt(s);
    if (v === undefined) this.fail('value', at, `invalid literal for int(): '${s.slice(0, 40)}'`);
    return v;
  }

  private async text(max: number): Promise<string> {
    const line = await this.r.line(max);
    return decoderUtf8.decode(line);
  }

  /** Fast path: a string already in the window, decoded without a promise. */
  private strNow(len: number, latin1: boolean): Value {
    const v = this.r.text(len, latin1);
    return latin1 ? { k: 'str', v, truncated: false, len, fromBytes: true } : { k: 'str', v, truncated: false, len };
  }

  private str(len: number, at: number, latin1: boolean): Value | Promise<Value> {
    return len <= this.budget.limits.maxKeptString && this.r.has(len) ? this.strNow(len, latin1) : this.strPayload(len, at, latin1);
  }

  /** A string payload of `len` bytes: kept when short, else a prefix is kept and the rest skipped. */
  private async strPayload(len: number, at: number, latin1: boolean): Promise<Value> {
    if (len > this.r.remaining) throw new TruncatedError(at, `string of ${len} bytes`);
    const keep = len <= this.budget.limits.maxKeptString ? len : STRING_PREFIX;
    await this.r.fill(keep);
    const raw = this.r.take(keep);
    const v = latin1 ? raw.toString('latin1') : decoderUtf8.decode(raw);
    if (keep < len) this.r.skip(len - keep);
    return latin1 ? { k: 'str', v, truncated: keep < len, len, fromBytes: true } : { k: 'str', v, truncated: keep < len, len };
  }

  private async bytesPayload(len: number, at: number, bytearray: boolean): Promise<Value> {
    if (len > this.r.remaining) throw new TruncatedError(at, `bytes of ${len} bytes`);
    const off = this.r.pos;
    const h = Math.min(len, BYTES_HEAD);
    await this.r.fill(h);
    const head = Buffer.from(this.r.take(h));
    this.r.skip(len - h);
    return { k: 'bytes', off, len, head, bytearray };
  }

  private setMemo(key: number, v: Value, at: number): void {
    if (this.memo.has(key)) this.note('memo-overwrite', at, `memo slot ${key} is written twice`);
    else this.charge(1, at);
    this.memo.set(key, v);
  }

  private getMemo(key: number, at: number): Value {
    const v = this.memo.get(key);
    if (v === undefined) this.fail('memo', at, `memo value not found at index ${key}`);
    return v;
  }

  /**
   * APPEND(S)/SETITEM(S)/ADDITEMS. Containers keep their first items only: calls
   * are reported when they happen, so later items matter only as evidence. Dict
   * entries with dunder keys are kept past the cap: BUILD state can plant
   * `__setstate__` that way. Items added to constructed objects (list.extend,
   * dict.__setitem__ on a call result) are not kept.
   */
  private addItems(target: Value, items: Value[], at: number): void {
    if (target.k !== 'seq' && target.k !== 'dict') return;
    const room = Math.max(0, MAX_KEPT_ITEMS - target.items.length);
    if (items.length <= room) {
      for (let i = 0; i < items.length; i++) target.items.push(items[i]);
      this.charge(items.length, at);
      return;
    }
    let kept = 0;
    if (target.k === 'dict') {
      for (let i = 0; i + 1 < items.length; i += 2) {
        const key = items[i];
        if (i < room || (key.k === 'str' && key.v.startsWith('__'))) {
          target.items.push(key, items[i + 1]);
          kept += 2;
        }
      }
    } else {
      for (let i = 0; i < room; i++) target.items.push(items[i]);
      kept = room;
    }
    target.dropped += target.k === 'dict' ? (items.length - kept) / 2 : items.length - kept;
    this.charge(kept, at);
  }

  private checkFrame(opStart: number, opEnd: number): void {
    if (this.frameEnd < 0) return;
    if (opStart < this.frameEnd && opEnd > this.frameEnd) {
      this.note('frame-mismatch', opStart, `opcode at byte ${opStart} crosses the end of the FRAME that started at byte ${this.frameStart}`);
      this.frameEnd = -1;
    }
  }

  /**
   * Runs one pickle from the reader's position to its STOP.
   * Never throws for bad data: the error comes back in the run.
   */
  async run(): Promise<PickleRun> {
    const start = this.r.pos;
    const res: PickleRun = { start, end: start, stopped: false, opcodes: 0 };
    try {
      res.result = await this.loop();
      res.stopped = true;
    } catch (e) {
      if (e instanceof RunFailure) res.error = e.err;
      else if (e instanceof TruncatedError) res.error = { kind: 'truncated', offset: e.offset, message: e.message };
      else if (e instanceof LineTooLongError) res.error = { kind: 'limit', offset: e.offset, message: e.message };
      else throw e;
    }
    res.end = this.r.pos;
    res.opcodes = this.opcodes;
    res.protocol = this.sawProto ? this.proto : undefined;
    return res;
  }

  private async loop(): Promise<Value> {
    const r = this.r;
    const lim = this.budget.limits;
    for (;;) {
      if (!r.has(9)) await r.fill(9);
      if (r.remaining <= 0) throw new TruncatedError(r.pos, 'no STOP opcode');
      const at = r.pos;
      const code = r.u8();
      const info = O.OPCODES[code];
      if (!info) this.fail('invalid-opcode', at, `invalid load key, '\\x${code.toString(16).padStart(2, '0')}' at byte ${at}`);
      if (++this.opcodes > 0 && ++this.budget.opcodes > lim.maxOpcodes) {
        this.fail('limit', at, `more than ${lim.maxOpcodes} opcodes (raise limits.maxOpcodes to read further)`);
      }
      if (info.proto >= 2 && !this.sawProto && code !== O.PROTO) {
        this.note('no-proto', at, `${info.name} (protocol ${info.proto}) appears before any PROTO opcode`);
        this.sawProto = true; // say it once
      } else if (this.sawProto && info.proto > this.proto && code !== O.PROTO && this.proto >= 2) {
        this.note('opcode-above-protocol', at, `${info.name} needs protocol ${info.proto} but the stream declared ${this.proto}`);
      }
      // Fixed-size arguments: the 9-byte fill above covers them unless we are at the end.
      const fixed = O.FIXED_ARG_BYTES[code];
      if (fixed && r.remaining < fixed) throw new TruncatedError(at, info.name);

      switch (code) {
        case O.MARK:
          this.marks.push(this.stack.length);
          this.fence = this.stack.length;
          break;
        case O.STOP: {
          if (this.frameEnd >= 0 && r.pos !== this.frameEnd) {
            this.note('frame-mismatch', at, `STOP at byte ${at} but the FRAME that started at byte ${this.frameStart} ends at byte ${this.frameEnd}`);
          }
          return this.pop(at);
        }
        case O.POP:
          if (this.marks.length > 0 && this.marks[this.marks.length - 1] === this.stack.length) {
            this.marks.pop();
            this.fence = this.marks.length ? this.marks[this.marks.length - 1] : 0;
          } else this.pop(at);
          break;
        case O.POP_MARK:
          this.popMark(at);
          break;
        case O.DUP:
          this.push(this.top(at), at);
          break;
        case O.FLOAT: {
          const s = await this.text(lim.maxKeptString);
          const f = parsePyFloat(s);
          if (f === undefined) this.fail('value', at, `could not convert string to float: '${s.slice(0, 40)}'`);
          this.push({ k: 'float', v: f }, at);
          break;
        }
        case O.INT: {
          const s = await this.text(lim.maxKeptString);
          if (s === '00' || s === '01') {
            this.push(s === '01' ? TRUE_V : FALSE_V, at);
            break;
          }
          this.push({ k: 'int', v: this.int(s, at) }, at);
          break;
        }
        case O.LONG: {
          let s = await this.text(lim.maxKeptString);
          if (s.endsWith('L')) s = s.slice(0, -1);
          this.push({ k: 'int', v: this.int(s, at) }, at);
          break;
        }
        case O.BININT:
          this.push({ k: 'int', v: r.i32() }, at);
          break;
        case O.BININT1:
          this.push({ k: 'int', v: r.u8() }, at);
          break;
        case O.BININT2:
          this.push({ k: 'int', v: r.u16() }, at);
          break;
        case O.LONG1:
        case O.LONG4: {
          const n = code === O.LONG1 ? r.u8() : r.i32();
          if (n < 0) this.fail('value', at, 'LONG pickle has negative byte count');
          if (n > r.remaining) throw new TruncatedError(at, 'LONG');
          if (n <= 64) {
            await r.fill(n);
            this.push({ k: 'int', v: decodeLong(r.take(n)) }, at);
          } else {
            r.skip(n);
            this.push(unknown(`${n * 8}-bit integer`), at);
          }
          break;
        }
        case O.NONE:
          this.push(NONE_V, at);
          break;
        case O.NEWTRUE:
          this.push(TRUE_V, at);
          break;
        case O.NEWFALSE:
          this.push(FALSE_V, at);
          break;
        case O.BINFLOAT:
          this.push({ k: 'float', v: r.f64be() }, at);
          break;
        case O.STRING: {
          const raw = await r.line(lim.maxKeptString);
          let s = raw;
          // C: strip trailing whitespace? No: only the newline; quotes must match.
          if (s.length >= 2 && s[0] === s[s.length - 1] && (s[0] === 0x27 || s[0] === 0x22)) s = s.subarray(1, s.length - 1);
          else this.fail('value', at, 'the STRING opcode argument must be quoted');
          this.push({ k: 'str', v: escapeDecode(s), truncated: false, len: s.length, fromBytes: true }, at);
          break;
        }
        case O.BINSTRING: {
          const n = r.i32();
          if (n < 0) this.fail('value', at, 'BINSTRING pickle has negative byte count');
          {
            const v = this.str(n, at, true);
            this.push(v instanceof Promise ? await v : v, at);
          }
          break;
        }
        case O.SHORT_BINSTRING:
          {
            const v = this.str(r.u8(), at, true);
            this.push(v instanceof Promise ? await v : v, at);
          }
          break;
        case O.UNICODE: {
          const raw = await r.line(lim.maxKeptString);
          this.push({ k: 'str', v: rawUnicodeEscape(raw), truncated: false, len: raw.length }, at);
          break;
        }
        case O.BINUNICODE:
          {
            const v = this.str(r.u32(), at, false);
            this.push(v instanceof Promise ? await v : v, at);
          }
          break;
        case O.SHORT_BINUNICODE:
          {
            const v = this.str(r.u8(), at, false);
            this.push(v instanceof Promise ? await v : v, at);
          }
          break;
        case O.BINUNICODE8: {
          const n = r.u64();
          if (!Number.isFinite(n)) this.fail('value', at, 'BINUNICODE8 exceeds system\'s maximum size');
          this.push(await this.strPayload(n, at, false), at);
          break;
        }
        case O.BINBYTES:
          this.push(await this.bytesPayload(r.u32(), at, false), at);
          break;
        case O.SHORT_BINBYTES:
          this.push(await this.bytesPayload(r.u8(), at, false), at);
          break;
        case O.BINBYTES8:
        case O.BYTEARRAY8: {
          const n = r.u64();
          if (!Number.isFinite(n)) this.fail('value', at, `${info.name} exceeds system's maximum size`);
          this.push(await this.bytesPayload(n, at, code === O.BYTEARRAY8), at);
          break;
        }
        case O.NEXT_BUFFER:
          this.note('out-of-band-buffer', at, 'NEXT_BUFFER refers to out-of-band data (the loader fails unless it is given buffers)');
          this.push({ k: 'buffer', readonly: false }, at);
          break;
        case O.READONLY_BUFFER: {
          const v = this.top(at);
          if (v.k === 'buffer') this.stack[this.stack.length - 1] = { k: 'buffer', readonly: true };
          break;
        }
        case O.EMPTY_TUPLE:
          this.push({ k: 'seq', type: 'tuple', items: [], dropped: 0 }, at);
          break;
        case O.TUPLE:
          this.push(this.seq('tuple', this.popMark(at), at), at);
          break;
        case O.TUPLE1:
        case O.TUPLE2:
        case O.TUPLE3: {
          const n = code - O.TUPLE1 + 1;
          if (this.stack.length - n < this.fence) this.fail('underflow', at, 'unpickling stack underflow');
          this.push(this.seq('tuple', this.stack.splice(this.stack.length - n), at), at);
          break;
        }
        case O.EMPTY_LIST:
          this.push({ k: 'seq', type: 'list', items: [], dropped: 0 }, at);
          break;
        case O.LIST:
          this.push(this.seq('list', this.popMark(at), at), at);
          break;
        case O.EMPTY_DICT:
          this.push({ k: 'dict', items: [], dropped: 0 }, at);
          break;
        case O.DICT: {
          const items = this.popMark(at);
          if (items.length % 2) this.fail('value', at, 'odd number of items for DICT');
          this.charge(items.length, at);
          this.push({ k: 'dict', items, dropped: 0 }, at);
          break;
        }
        case O.EMPTY_SET:
          this.push({ k: 'seq', type: 'set', items: [], dropped: 0 }, at);
          break;
        case O.FROZENSET:
          this.push(this.seq('frozenset', this.popMark(at), at), at);
          break;
        case O.APPEND:
        case O.SETITEM: {
          // C's do_append/do_setitems index below the fence without checking it.
          const n = code === O.APPEND ? 1 : 2;
          const x = this.stack.length - n;
          if (x <= 0) this.fail('underflow', at, 'unpickling stack underflow');
          const items = this.stack.splice(x);
          this.addItems(this.stack[x - 1], items, at);
          break;
        }
        case O.APPENDS:
        case O.SETITEMS:
        case O.ADDITEMS: {
          if (this.marks.length === 0) this.fail('mark', at, 'could not find MARK');
          const m = this.marks[this.marks.length - 1];
          const items = this.popMark(at);
          if (m <= 0) this.fail('underflow', at, 'unpickling stack underflow');
          if (code === O.SETITEMS && items.length % 2) this.fail('value', at, 'odd number of items for SETITEMS');
          this.addItems(this.stack[m - 1], items, at);
          break;
        }
        case O.PUT: {
          const s = await this.text(64);
          const parsed = parsePyInt(s, 10);
          if (parsed === undefined) this.fail('value', at, `invalid PUT argument '${s.slice(0, 20)}'`);
          const key = Number(parsed);
          if (key < 0) this.fail('value', at, 'negative PUT argument');
          this.setMemo(key, this.top(at), at);
          this.putSeen = true;
          break;
        }
        case O.BINPUT:
        case O.LONG_BINPUT: {
          const key = code === O.BINPUT ? r.u8() : r.u32();
          this.setMemo(key, this.top(at), at);
          this.putSeen = true;
          break;
        }
        case O.MEMOIZE: {
          // The key is the number of occupied memo slots, not a count of MEMOIZE opcodes.
          if (this.putSeen) this.note('memoize-after-put', at, `MEMOIZE after explicit PUTs stores at index ${this.memo.size}`);
          this.setMemo(this.memo.size, this.top(at), at);
          break;
        }
        case O.GET: {
          const s = await this.text(64);
          const key = parsePyInt(s, 10);
          if (key === undefined) this.fail('value', at, `invalid GET argument '${s.slice(0, 20)}'`);
          this.push(this.getMemo(Number(key), at), at);
          break;
        }
        case O.BINGET:
          this.push(this.getMemo(r.u8(), at), at);
          break;
        case O.LONG_BINGET:
          this.push(this.getMemo(r.u32(), at), at);
          break;
        case O.GLOBAL: {
          const module = await this.text(lim.maxKeptString);
          const name = await this.text(lim.maxKeptString);
          this.push(this.global(module, name, 'GLOBAL', at), at);
          break;
        }
        case O.STACK_GLOBAL: {
          const nameV = this.pop(at);
          const modV = this.pop(at);
          const name = constString(nameV);
          const module = constString(modV);
          if (name === undefined || module === undefined) {
            const constant = (v: Value) => v.k !== 'call' && v.k !== 'unknown';
            if (constant(nameV) && constant(modV) && (nameV.k !== 'str' || modV.k !== 'str')) {
              this.fail('value', at, 'STACK_GLOBAL requires str');
            }
            // Names computed at load time (str(...) of something, a call result): no pickler writes this.
            this.note('computed-global', at, `STACK_GLOBAL takes its module or name from a value computed at load time (${nameV.k === 'call' || modV.k === 'call' ? 'a call result' : 'not a constant'})`);
            this.push(this.global(module ?? foldString(modV) ?? '<computed>', name ?? foldString(nameV) ?? '<computed>', 'STACK_GLOBAL', at), at);
          } else {
            const fromBytes = (nameV.k === 'str' && nameV.fromBytes === true) || (modV.k === 'str' && modV.fromBytes === true);
            this.push(this.global(module, name, 'STACK_GLOBAL', at, fromBytes), at);
          }
          break;
        }
        case O.INST: {
          const module = await this.text(lim.maxKeptString);
          const name = await this.text(lim.maxKeptString);
          const cls = this.global(module, name, 'INST', at);
          const args = this.popMark(at);
          this.push(this.call('inst', cls, { k: 'seq', type: 'tuple', items: args, dropped: 0 }, at), at);
          break;
        }
        case O.OBJ: {
          const items = this.popMark(at);
          if (items.length === 0) this.fail('underflow', at, 'unpickling stack underflow');
          const cls = items[0];
          this.push(this.call('obj', cls, { k: 'seq', type: 'tuple', items: items.slice(1), dropped: 0 }, at), at);
          break;
        }
        case O.REDUCE: {
          const args = this.pop(at);
          const fn = this.pop(at);
          this.push(this.call('reduce', fn, args, at), at);
          break;
        }
        case O.NEWOBJ: {
          const args = this.pop(at);
          const cls = this.pop(at);
          this.push(this.call('newobj', cls, args, at), at);
          break;
        }
        case O.NEWOBJ_EX: {
          const kwargs = this.pop(at);
          const args = this.pop(at);
          const cls = this.pop(at);
          this.push(this.call('newobj_ex', cls, args, at, kwargs), at);
          break;
        }
        case O.BUILD: {
          if (this.stack.length - 2 < this.fence) this.fail('underflow', at, 'unpickling stack underflow');
          const state = this.stack.pop()!;
          const inst = this.stack[this.stack.length - 1];
          if (inst.k === 'call') {
            // The loader looks __setstate__ up on the instance, so an earlier BUILD can plant one.
            const planted = inst.call.setstate;
            if (planted) this.call('reduce', planted, this.seq('tuple', [state], at), at);
            inst.call.state = state;
            const fn = plantedSetstate(state);
            if (fn) inst.call.setstate = fn;
          }
          this.call('build', inst, state, at);
          if (isJoblibWrapper(inst)) await this.joblibArray(inst, state, at);
          break;
        }
        case O.PERSID: {
          const pid = await this.text(lim.maxKeptString);
          this.push(this.persistent({ k: 'str', v: pid, truncated: false, len: pid.length }, at), at);
          break;
        }
        case O.BINPERSID:
          this.push(this.persistent(this.pop(at), at), at);
          break;
        case O.EXT1:
        case O.EXT2:
        case O.EXT4: {
          const codeArg = code === O.EXT1 ? r.u8() : code === O.EXT2 ? r.u16() : r.i32();
          this.note('ext-code', at, `${info.name} ${codeArg} names a global through the copyreg extension registry (empty unless a program registers codes)`);
          const ref: GlobalRef = { module: '<copyreg extension>', name: String(codeArg), via: info.name, offset: at };
          this.hooks.onGlobal?.(ref);
          this.push({ k: 'global', ref }, at);
          break;
        }
        case O.PROTO: {
          const p = r.u8();
          if (p > O.HIGHEST_PROTOCOL) this.fail('value', at, `unsupported pickle protocol: ${p}`);
          if (at !== this.r.pos - 2 || this.opcodes > 1) this.note('proto-not-first', at, `PROTO ${p} is not the first opcode`);
          this.proto = p;
          this.sawProto = true;
          break;
        }
        case O.FRAME: {
          const n = r.u64();
          if (this.frameEnd >= 0 && at !== this.frameEnd) {
            this.note('frame-mismatch', at, `FRAME at byte ${at} starts before the previous frame (from byte ${this.frameStart}) ended at byte ${this.frameEnd}`);
          }
          if (n > r.remaining) {
            this.note('frame-overrun', at, `FRAME at byte ${at} declares ${n} bytes but only ${r.remaining} follow (the C loader fails here; reading on)`);
            this.frameEnd = -1;
          } else {
            this.frameStart = at;
            this.frameEnd = r.pos + n;
          }
          break;
        }
        default:
          this.fail('invalid-opcode', at, `opcode ${info.name} is not handled`);
      }
      if (this.frameEnd >= 0) this.checkFrame(at, r.pos);
    }
  }

  /**
   * joblib writes numpy array bytes straight into the pickle stream after each
   * NumpyArrayWrapper's BUILD; object arrays are a nested pickle at that point.
   */
  private async joblibArray(inst: Value, state: Value, at: number): Promise<void> {
    const info = joblibLayout(state);
    if (!info) this.fail('value', at, 'joblib array wrapper with a state this reader does not understand');
    // joblib closes the frame before writing array bytes; the next FRAME follows them.
    this.frameEnd = -1;
    if (info.hasObject) {
      this.note('joblib-array', at, 'joblib object array: a nested pickle follows');
      const sub = new PickleMachine(this.r, this.budget, this.hooks, this.nextCallId);
      const run = await sub.run();
      if (run.error) throw new RunFailure(run.error);
    } else {
      if (info.aligned) {
        if (this.r.remaining < 1) throw new TruncatedError(this.r.pos, 'joblib padding');
        await this.r.fill(1);
        const pad = this.r.u8();
        if (pad > this.r.remaining) throw new TruncatedError(this.r.pos, 'joblib padding');
        this.r.skip(pad);
      }
      if (info.bytes > this.r.remaining) throw new TruncatedError(this.r.pos, `joblib array of ${info.bytes} bytes`);
      this.r.skip(info.bytes);
    }
    // The loader replaces the wrapper with the array.
    this.stack[this.stack.length - 1] = unknown('numpy array');
    void inst;
  }
}

function isJoblibWrapper(v: Value): boolean {
  if (v.k !== 'call') return false;
  const fn = v.call.fn;
  return fn.k === 'global' && fn.ref.name === 'NumpyArrayWrapper' && /(^|\.)numpy_pickle$/.test(fn.ref.module);
}

/** Item sizes of numpy dtype strings ('f8', 'i4', 'U3', 'O8', …). */
function dtypeInfo(dtype: Value | undefined): { itemsize: number; hasObject: boolean } | undefined {
  if (!dtype || dtype.k !== 'call') return undefined;
  const args = tupleItems(dtype.call.args);
  const descr = constString(args?.[0]);
  if (!descr) return undefined;
  const st = tupleItems(dtype.call.state);
  const elsize = st?.[5]?.k === 'int' ? Number(st[5].v) : -1;
  const flags = st?.[7]?.k === 'int' ? Number(st[7].v) : 0;
  const m = /^[<>|=]?([a-zA-Z?])(\d*)$/.exec(descr);
  if (!m) return undefined;
  const kind = m[1];
  const n = m[2] ? Number(m[2]) : 0;
  const hasObject = kind === 'O' || (flags & 1) === 1;
  let itemsize: number;
  if (elsize > 0) itemsize = elsize;
  else if (kind === 'U') itemsize = n * 4;
  else if (kind === '?') itemsize = 1;
  else itemsize = n;
  if (!hasObject && !(itemsize > 0)) return undefined;
  return { itemsize, hasObject };
}

/** str('os') and the like: a string a call would return, where the call is a plain conversion. */
function foldString(v: Value): string | undefined {
  if (v.k !== 'call') return undefined;
  const fn = v.call.fn.k === 'global' ? `${v.call.fn.ref.module}.${v.call.fn.ref.name}` : undefined;
  if (fn !== 'builtins.str' && fn !== '__builtin__.str' && fn !== '__builtin__.unicode') return undefined;
  return constString(tupleItems(v.call.args)?.[0]);
}

/** BUILD state is a dict, or a (dict, slots) pair; either can set `__setstate__`. */
function plantedSetstate(state: Value): Value | undefined {
  const parts = state.k === 'seq' && state.type === 'tuple' && state.items.length === 2 ? state.items : [state];
  for (const p of parts) {
    const v = dictGet(p, '__setstate__');
    if (v) return v;
  }
  return undefined;
}

function dictGet(d: Value, key: string): Value | undefined {
  if (d.k !== 'dict') return undefined;
  for (let i = 0; i + 1 < d.items.length; i += 2) if (constString(d.items[i]) === key) return d.items[i + 1];
  return undefined;
}

function joblibLayout(state: Value): { bytes: number; hasObject: boolean; aligned: boolean } | undefined {
  const dt = dtypeInfo(dictGet(state, 'dtype'));
  const shape = tupleItems(dictGet(state, 'shape'));
  if (!dt || !shape) return undefined;
  let count = 1;
  for (const s of shape) {
    if (s.k !== 'int') return undefined;
    count *= Number(s.v);
  }
  const align = dictGet(state, 'numpy_array_alignment_bytes');
  return { bytes: count * dt.itemsize, hasObject: dt.hasObject, aligned: align !== undefined && align.k === 'int' };
}

/**
 * int(text, 0) as PyLong_FromString reads it for INT/LONG (GET/PUT use base 10):
 * surrounding whitespace, a sign, 0x/0o/0b prefixes and single underscores between digits.
 */
export function parsePyInt(s: string, base: 0 | 10 = 0): number | bigint | undefined {
  const t = s.trim();
  const ok = base === 10 ? /^[+-]?\d(_?\d)*$/ : /^[+-]?(0[xX](_?[0-9a-fA-F])+|0[oO](_?[0-7])+|0[bB](_?[01])+|0(_?0)*|[1-9](_?\d)*)$/;
  if (!ok.test(t)) return undefined;
  const neg = t.startsWith('-');
  const body = t.replace(/^[+-]/, '').replace(/_/g, '');
  const big = BigInt(body);
  const v = neg ? -big : big;
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** float(text) for the FLOAT opcode. */
export function parsePyFloat(s: string): number | undefined {
  const t = s.trim();
  if (/^[+-]?(inf|infinity)$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(t)) return NaN;
  if (!/^[+-]?((\d(_?\d)*)?\.?\d(_?\d)*|\d(_?\d)*\.)([eE][+-]?\d(_?\d)*)?$/.test(t)) return undefined;
  return Number(t.replace(/_/g, ''));
}

/** Little-endian two's complement, as LONG1/LONG4 encode. */
function decodeLong(b: Buffer): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(b.length * 8);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Python's bytes escape decoding (codecs.escape_decode), as STRING uses, read as latin-1. */
function escapeDecode(b: Buffer): string {
  let out = '';
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c !== 0x5c || i + 1 >= b.length) {
      out += String.fromCharCode(c);
      continue;
    }
    const n = String.fromCharCode(b[++i]);
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', "'": "'", '"': '"', '\n': '' };
    if (n in simple) out += simple[n];
    else if (n === 'x' && i + 2 < b.length + 1) {
      out += String.fromCharCode(Number.parseInt(b.subarray(i + 1, i + 3).toString('latin1'), 16) || 0);
      i += 2;
    } else if (n >= '0' && n <= '7') {
      let j = i;
      let oct = '';
      while (j < b.length && oct.length < 3 && b[j] >= 0x30 && b[j] <= 0x37) oct += String.fromCharCode(b[j++]);
      out += String.fromCharCode(Number.parseInt(oct, 8) & 0xff);
      i = j - 1;
    } else out += `\\${n}`;
  }
  return out;
}

/** raw-unicode-escape: \uXXXX and \UXXXXXXXX, everything else latin-1. */
function rawUnicodeEscape(b: Buffer): string {
  const s = b.toString('latin1');
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, u4: string | undefined, u8: string | undefined) => {
    const cp = Number.parseInt((u4 ?? u8)!, 16);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
  });
}

export { isDottedIdentifier };
