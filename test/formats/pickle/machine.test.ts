import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferSource } from '../../../src/formats/source.js';
import { readPickleStream, looksLikePickle, type StreamRun } from '../../../src/formats/pickle/stream.js';
import { renderCall, type CallRecord, type GlobalRef } from '../../../src/formats/pickle/values.js';
import type { Note } from '../../../src/formats/pickle/machine.js';
import { Asm } from '../../support/pickle-asm.js';

const LIMITS = { maxOpcodes: 1_000_000, maxStackItems: 1_000_000, maxKeptString: 1 << 20 };

interface Seen {
  run: StreamRun;
  globals: string[];
  calls: CallRecord[];
  notes: Note[];
  src: BufferSource;
}

async function read(bytes: Buffer, limits = LIMITS): Promise<Seen> {
  const globals: string[] = [];
  const calls: CallRecord[] = [];
  const notes: Note[] = [];
  const src = new BufferSource(bytes);
  const run = await readPickleStream(src, 0, limits, {
    onGlobal: (g: GlobalRef) => globals.push(`${g.module}.${g.name}`),
    onCall: (c) => calls.push(c),
    onNote: (n) => notes.push(n),
  });
  return { run, globals, calls, notes, src };
}

test('a protocol-0 text pickle: GLOBAL, STRING args, REDUCE', async () => {
  const s = await read(Buffer.from("cos\nsystem\n(S'touch /tmp/ptmscope_marker'\ntR.", 'latin1'));
  assert.deepEqual(s.globals, ['os.system']);
  assert.equal(s.calls.length, 1);
  assert.equal(renderCall(s.calls[0]), "os.system('touch /tmp/ptmscope_marker')");
  assert.equal(s.calls[0].callee, 'os.system');
  assert.equal(s.run.pickles[0].stopped, true);
});

test('STACK_GLOBAL operands may come from SHORT_BINSTRING, BINSTRING, BINUNICODE8 and the memo', async () => {
  const b = new Asm()
    .proto(4)
    .shortBinString('subprocess')
    .binput(0)
    .binUnicode8('check_output')
    .stackGlobal()
    .binget(0)
    .binString('getoutput')
    .stackGlobal()
    .tuple2()
    .stop()
    .build();
  const s = await read(b);
  assert.deepEqual(s.globals, ['subprocess.check_output', 'subprocess.getoutput']);
  assert.ok(s.notes.some((n) => n.kind === 'bytes-string-as-name'));
});

test('MEMOIZE stores at the count of occupied memo slots, as the C loader does', async () => {
  // PUT 5 then MEMOIZE: a naive reader would use index 0 or 6; CPython uses len(memo) = 1.
  const b = new Asm()
    .proto(4)
    .global('builtins', 'list') // benign, at memo 5
    .binput(5)
    .op('0')
    .global('os', 'system')
    .memoize() // index 1
    .op('0')
    .binget(1)
    .shortUnicode('touch /tmp/ptmscope_marker')
    .tuple1()
    .reduce()
    .stop()
    .build();
  const s = await read(b);
  assert.equal(s.run.pickles[0].error, undefined);
  assert.equal(s.calls[0].callee, 'os.system');
  assert.ok(s.notes.some((n) => n.kind === 'memoize-after-put'));
});

test('a GET of a memo key never set is where the loader fails: the payload before it is still seen', async () => {
  const b = new Asm().proto(2).call1('os', 'system', 'touch /tmp/ptmscope_marker').binget(9).stop().build();
  const s = await read(b);
  assert.equal(s.run.pickles[0].error?.kind, 'memo');
  assert.equal(s.calls[0].callee, 'os.system');
});

test('broken pickle: payload first, garbage after', async () => {
  const b = Buffer.concat([new Asm().proto(2).call1('posix', 'system', 'touch /tmp/ptmscope_marker').build(), Buffer.from([0xff, 0xfe, 0x00, 0x13])]);
  const s = await read(b);
  assert.equal(s.run.pickles[0].error?.kind, 'invalid-opcode');
  assert.deepEqual(s.globals, ['posix.system']);
});

test('a FRAME whose length lies does not hide the opcodes after it', async () => {
  const payload = new Asm().call1('os', 'system', 'touch /tmp/ptmscope_marker').stop().build();
  // The frame claims 3 bytes; the loader reads linearly anyway.
  const b = Buffer.concat([new Asm().proto(4).frame(3).build(), payload]);
  const s = await read(b);
  assert.equal(s.calls[0].callee, 'os.system');
  assert.ok(s.notes.some((n) => n.kind === 'frame-mismatch'));
  // A frame longer than the stream is noted, and reading goes on.
  const b2 = Buffer.concat([new Asm().proto(4).frame(1_000_000).build(), payload]);
  const s2 = await read(b2);
  assert.equal(s2.calls[0].callee, 'os.system');
  assert.ok(s2.notes.some((n) => n.kind === 'frame-overrun'));
});

test('protocol-2 opcodes without PROTO are read and noted', async () => {
  const s = await read(new Asm().call1('os', 'system', 'x').stop().build());
  assert.equal(s.calls[0].callee, 'os.system');
  assert.ok(s.notes.some((n) => n.kind === 'no-proto'));
});

test('the mark fence: POP cannot reach below a MARK, APPEND can (as in _pickle.c)', async () => {
  const underflow = await read(new Asm().none().mark().op('0').op('0').stop().build());
  // First POP removes the mark, second pops None, then STOP underflows.
  assert.equal(underflow.run.pickles[0].error?.kind, 'underflow');
  const fenceHit = await read(new Asm().none().mark().op(0x85).stop().build());
  assert.equal(fenceHit.run.pickles[0].error?.kind, 'underflow');
  const append = await read(new Asm().op(']').none().mark().op('a').op('1').stop().build());
  assert.equal(append.run.pickles[0].error, undefined);
});

test('INST and OBJ are calls', async () => {
  const inst = await read(Buffer.from("(S'touch /tmp/ptmscope_marker'\nios\nsystem\n.", 'latin1'));
  assert.equal(inst.calls[0].kind, 'inst');
  assert.equal(inst.calls[0].callee, 'os.system');
  const obj = await read(new Asm().mark().global('os', 'system').string('touch x').op('o').stop().build());
  assert.equal(obj.calls[0].kind, 'obj');
  assert.equal(renderCall(obj.calls[0]), "os.system('touch x')");
});

test('trampolines resolve: getattr(__import__("os"), "system")(cmd)', async () => {
  const b = new Asm()
    .proto(2)
    .global('builtins', 'getattr')
    .global('builtins', '__import__')
    .shortUnicode('os')
    .tuple1()
    .reduce()
    .shortUnicode('system')
    .tuple2()
    .reduce()
    .shortUnicode('touch /tmp/ptmscope_marker')
    .tuple1()
    .reduce()
    .stop()
    .build();
  const s = await read(b);
  const last = s.calls[s.calls.length - 1];
  assert.equal(last.callee, 'os.system');
  assert.deepEqual(last.inputs, [2]);
  assert.equal(renderCall(last), "(builtins.getattr(builtins.__import__('os'), 'system'))('touch /tmp/ptmscope_marker')");
});

test('functools.partial chains and operator.methodcaller resolve to the real callee', async () => {
  const partial = new Asm()
    .proto(2)
    .global('functools', 'partial')
    .global('functools', 'partial')
    .global('os', 'system')
    .tuple1()
    .reduce()
    .tuple1()
    .reduce()
    .shortUnicode('touch x')
    .tuple1()
    .reduce()
    .stop()
    .build();
  const p = await read(partial);
  assert.equal(p.calls[p.calls.length - 1].callee, 'os.system');
  const mc = new Asm()
    .proto(2)
    .global('operator', 'methodcaller')
    .shortUnicode('system')
    .shortUnicode('touch x')
    .tuple2()
    .reduce()
    .global('importlib', 'import_module')
    .shortUnicode('os')
    .tuple1()
    .reduce()
    .tuple1()
    .reduce()
    .stop()
    .build();
  const m = await read(mc);
  assert.equal(m.calls[m.calls.length - 1].callee, 'os.system');
});

test('stacked pickles are all read; bytes after the last STOP are reported', async () => {
  const benign = new Asm().proto(2).op(']').stop().build();
  const evil = new Asm().proto(2).call1('os', 'system', 'x').stop().build();
  const s = await read(Buffer.concat([benign, evil]));
  assert.equal(s.run.pickles.length, 2);
  assert.equal(s.calls[0].callee, 'os.system');
  const t = await read(Buffer.concat([benign, Buffer.from('\x00\x01\x02 junk')]));
  assert.equal(t.run.pickles.length, 1);
  assert.deepEqual(t.run.trailing, { offset: benign.length, length: 8 });
});

test('bulk payloads are skipped, not read', async () => {
  const big = 48 * 1024 * 1024;
  const b = new Asm().proto(4).binBytes8(big).op('0').call1('os', 'system', 'x').stop().build();
  const s = await read(b);
  assert.equal(s.calls[0].callee, 'os.system');
  assert.ok(s.src.bytesRead < 4 * 1024 * 1024, `read ${s.src.bytesRead} bytes of ${b.length}`);
});

test('a length that points past the end is a truncation, not a crash', async () => {
  const b = Buffer.concat([new Asm().proto(4).build(), Buffer.from([0x8e, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0])]);
  const s = await read(b);
  assert.equal(s.run.pickles[0].error?.kind, 'truncated');
});

test('DUP/GET expansion stops at the item limit', async () => {
  const a = new Asm().proto(2).op(']').binput(0);
  for (let i = 0; i < 2000; i++) a.mark().binget(0).binget(0).binget(0).binget(0).op('l').binput(0).op('0');
  const s = await read(a.stop().build(), { ...LIMITS, maxStackItems: 5000 });
  assert.equal(s.run.pickles[0].error?.kind, 'limit');
  const o = await read(a.build(), { ...LIMITS, maxOpcodes: 1000 });
  assert.equal(o.run.pickles[0].error?.kind, 'limit');
});

test('EXT codes and persistent ids are reported', async () => {
  const s = await read(new Asm().proto(2).raw([0x82, 7]).op(')').reduce().stop().build());
  assert.ok(s.notes.some((n) => n.kind === 'ext-code'));
  const p = await read(Buffer.from("Pstorage_0\n.", 'latin1'));
  assert.equal(p.calls[0].kind, 'persistent_load');
});

test('looksLikePickle: pickles yes, text and JSON no', () => {
  assert.equal(looksLikePickle(Buffer.from([0x80, 0x02, 0x5d, 0x2e])), true);
  assert.equal(looksLikePickle(Buffer.from([0x80, 0x04, 0x95, 2, 0, 0, 0, 0, 0, 0, 0, 0x4e, 0x2e])), true);
  // A safetensors header of 640 bytes: 0x80 0x02 then zeros, then '{'. Not a pickle.
  assert.equal(looksLikePickle(Buffer.concat([Buffer.from([0x80, 0x02, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a":1}')])), false);
  assert.equal(looksLikePickle(Buffer.from("cos\nsystem\n(S'x'\ntR.", 'latin1')), true);
  assert.equal(looksLikePickle(Buffer.from('(dp0\nVa\np1\nI1\ns.', 'latin1')), true);
  assert.equal(looksLikePickle(Buffer.from('{"architectures": ["BertModel"]}')), false);
  assert.equal(looksLikePickle(Buffer.from('# Model card\n\nhello')), false);
  assert.equal(looksLikePickle(Buffer.from('import torch\nimport os\n')), false);
  assert.equal(looksLikePickle(Buffer.from('little')), false);
  assert.equal(looksLikePickle(Buffer.from('3\n')), false);
  assert.equal(looksLikePickle(Buffer.from([0x80, 0x09])), false);
});
