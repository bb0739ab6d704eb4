/**
 * Scanner-level behaviour of pickle findings that the fixture manifest does
 * not pin down: severities, dedupe, evidence and the parser-differential notes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scanBytes } from '../../src/scan/scanner.js';
import type { Finding } from '../../src/scan/finding.js';
import { Asm } from '../support/pickle-asm.js';

function rules(fs: Finding[]): string[] {
  return fs.map((f) => `${f.severity} ${f.ruleId} ${f.global ?? ''}`.trim());
}

test('an odd first opcode the C loader accepts (INT "+1") does not hide the file from sniffing', async () => {
  const b = Buffer.concat([Buffer.from('I+1\n0', 'latin1'), Buffer.from("cos\nsystem\n(S'touch /tmp/ptmscope_marker'\ntR.", 'latin1')]);
  const r = await scanBytes(b, 'odd-int');
  assert.deepEqual(r.formats, ['pickle']);
  assert.ok(r.findings.some((f) => f.severity === 'CRITICAL' && f.evidence === "os.system('touch /tmp/ptmscope_marker')"), rules(r.findings).join('\n'));
});

test('text files that start with opcode letters are not pickles', async () => {
  for (const text of ['I am a model card\n', 'Fine-tuned BERT\n', 'config:\n  a: 1\n', 'import torch\n', 'little', '3\n', 'N/A\n']) {
    const r = await scanBytes(Buffer.from(text), 'text');
    assert.equal(r.skipped, true, text);
    assert.deepEqual(r.findings, [], text);
  }
});

test('STACK_GLOBAL with names computed at load time is HIGH, and str() of a constant is folded', async () => {
  const b = new Asm()
    .proto(4)
    .global('builtins', 'str')
    .shortUnicode('os')
    .tuple1()
    .reduce()
    .shortUnicode('system')
    .stackGlobal()
    .shortUnicode('touch x')
    .tuple1()
    .reduce()
    .stop()
    .build();
  const r = await scanBytes(b, 'computed');
  const got = rules(r.findings);
  assert.ok(got.includes('HIGH pickle/nonstandard-opcode-use'), got.join('\n'));
  assert.ok(got.includes('CRITICAL pickle/dangerous-global os.system'), got.join('\n'));
});

test('a global named many times is one finding; its evidence is the first call with arguments', async () => {
  const a = new Asm().proto(2).op(']').mark();
  for (let i = 0; i < 50; i++) a.call1('os', 'system', `echo ${i}`);
  const r = await scanBytes(a.op('e').stop().build(), 'many');
  const sys = r.findings.filter((f) => f.global === 'os.system');
  assert.equal(sys.length, 1);
  assert.equal(sys[0].evidence, "os.system('echo 0')");
});

test('a call through getattr on a constructed object is a computed call carrying the payload', async () => {
  const b = new Asm()
    .proto(2)
    .global('builtins', 'getattr')
    .global('collections', 'OrderedDict')
    .op(')')
    .reduce()
    .shortUnicode('update')
    .tuple2()
    .reduce()
    .shortUnicode('payload-arg')
    .tuple1()
    .reduce()
    .stop()
    .build();
  const r = await scanBytes(b, 'computed-call');
  const c = r.findings.find((f) => f.ruleId === 'pickle/computed-call');
  assert.ok(c, rules(r.findings).join('\n'));
  assert.equal(c.severity, 'HIGH');
  assert.match(c.evidence ?? '', /'payload-arg'/);
});

test('nested pickles behind base64 are decoded and scanned', async () => {
  const inner = new Asm().proto(2).call1('subprocess', 'getoutput', 'touch /tmp/ptmscope_marker').stop().build();
  const b = new Asm().proto(2).global('pickle', 'loads').global('base64', 'b64decode').shortUnicode(inner.toString('base64')).tuple1().reduce().tuple1().reduce().stop().build();
  const r = await scanBytes(b, 'outer');
  const nested = r.findings.find((f) => f.global === 'subprocess.getoutput');
  assert.ok(nested, rules(r.findings).join('\n'));
  assert.match(nested.location, /^outer@\d+:pickle\.loads$/);
  assert.ok(r.findings.some((f) => f.ruleId === 'pickle/nested-pickle'));
});

test('globals after the point where the loader fails are still reported, and say so', async () => {
  const b = Buffer.concat([new Asm().proto(2).op(']').binget(7).build(), Buffer.from('csubprocess\nPopen\n', 'latin1')]);
  const r = await scanBytes(b, 'after-error');
  const f = r.findings.find((x) => x.global === 'subprocess.Popen');
  assert.ok(f, rules(r.findings).join('\n'));
  assert.match(f.message, /after the point where a loader fails/);
  assert.ok(r.findings.some((x) => x.ruleId === 'pickle/parse-error'));
});
