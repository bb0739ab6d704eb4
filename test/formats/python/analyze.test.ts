/** The abstract interpreter: what it folds, resolves and follows, reported as events. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzePython, type PyEvent } from '../../../src/formats/python/analyze.js';

async function events(src: string): Promise<PyEvent[]> {
  return (await analyzePython(src)).events;
}

async function one(src: string, kind: PyEvent['kind']): Promise<PyEvent> {
  const evs = await events(src);
  const e = evs.find((x) => x.kind === kind);
  assert.ok(e, `no ${kind} event in:\n${JSON.stringify(evs.map((x) => [x.kind, x.call]))}`);
  return e;
}

test('import forms resolve to canonical names', async () => {
  assert.equal((await one('import subprocess as sp\nsp.check_output(["id"])', 'process')).callee, 'subprocess.check_output');
  assert.equal((await one('from os import popen as p\np("id")', 'process')).callee, 'os.popen');
  assert.equal((await one('import nt\nnt.system("id")', 'process')).callee, 'os.system');
  assert.equal((await one('import commands\ncommands.getoutput("id")', 'process')).callee, 'subprocess.getoutput');
  assert.equal((await one('import ctypes\nctypes.CDLL(None).system(b"id")', 'process')).callee, 'libc.system');
});

test('builtins reached through names, dicts and lambdas', async () => {
  for (const src of [
    'getattr(__builtins__, "ex" + "ec")("x=1")',
    '__builtins__.__dict__["exec"]("x=1")',
    'vars(__import__("builtins"))["exec"]("x=1")',
    '(lambda b: b.exec)(__import__("builtins"))("x=1")',
    'f = eval\nf("1")',
    'import builtins as b\ng = getattr(b, "".join(["e", "x", "e", "c"]))\ng("x=1")',
  ]) {
    const e = await one(src, 'code-exec');
    assert.match(e.callee, /^builtins\.(exec|eval)$/, src);
  }
  const hidden = await one('getattr(__builtins__, "ex" + "ec")("x=1")', 'code-exec');
  assert.ok(hidden.calleeObf.length > 0);
  const plain = await one('exec("x=1")', 'code-exec');
  assert.deepEqual(plain.calleeObf, []);
});

test('constant folding produces the exact text', async () => {
  const cases: [string, string][] = [
    ['import os\nos.system("a" "b" + "c" * 2)', 'abcc'],
    ['import os\nos.system("%(x)s-%d" % {"x": "k", "y": 1} if False else "%s-%d" % ("k", 7))', 'k-7'],
    ['import os\nn = 5\nos.system(f"x{n:03d}{\'y\'!r}")', "x005'y'"],
    ['import os\nos.system("abcdef"[1:4] + "abcdef"[-2:] + "abcdef"[::2])', 'bcdeface'],
    ['import os\nos.system(bytes([105, 100]).decode())', 'id'],
    ['import os\nos.system("".join(map(chr, [105, 100])))', 'id'],
    ['import os\nparts = []\nparts.append("i")\nparts.append("d")\nos.system("".join(parts))', 'id'],
    ['import os\nos.system("id".upper().lower().strip())', 'id'],
    ['import os\nos.system(str(42))', '42'],
    ['import os\nt = str.maketrans("ab", "id")\nos.system("ab".translate(t))', 'id'],
    ['import os\nos.system("".join([chr(ord(c) ^ 1) for c in "he"]))', 'id'],
    ['import os, string\nos.system(string.ascii_lowercase[8] + string.ascii_lowercase[3])', 'id'],
  ];
  for (const [src, text] of cases) {
    const e = await one(src, 'process');
    assert.equal(e.text, text, src);
    assert.equal(e.exact, true, src);
  }
});

test('partly known strings keep their known parts', async () => {
  const e = await one('import os, sys\nos.system("curl " + sys.argv[1] + " | sh")', 'process');
  assert.equal(e.text, 'curl … | sh');
  assert.equal(e.exact, false);
  const p = await one('import os\nhome = os.path.expanduser("~")\nwith open(f"{home}/.aws/credentials") as f:\n    pass', 'credential-read');
  assert.equal(p.path, '~/.aws/credentials');
});

test('taint follows assignments, containers, calls, returns, with-blocks and loops', async () => {
  const e = await one(
    `import urllib.request
def get(u):
    with urllib.request.urlopen(u) as r:
        return r.read()
chunks = []
for part in ["a", "b"]:
    chunks.append(get("http://127.0.0.1/" + part))
code = b"".join(chunks)
exec(code)`,
    'code-exec',
  );
  const net = e.taints.find((t) => t.kind === 'network');
  assert.ok(net, JSON.stringify(e.taints));
  assert.equal(net.host, '127.0.0.1');
  assert.equal(e.importTime, true);
});

test('functions nobody calls are still analysed, as call-time code', async () => {
  const e = await one('import os\nclass B:\n    def _split_generators(self, dl):\n        os.system("id")', 'process');
  assert.equal(e.importTime, false);
});

test('exec of a constant string is analysed as code', async () => {
  const evs = await events('exec("import os\\nos.system(\'id\')")');
  const p = evs.find((e) => e.kind === 'process');
  assert.ok(p);
  assert.equal(p.nesting, 1);
  assert.match(p.via.join(' '), /in code run by builtins\.exec at line 1/);
});

test('decoded literals are decoded statically and the payload analysed', async () => {
  const b64 = Buffer.from("import socket\ns=socket.socket()\ns.connect(('127.0.0.1', 9))").toString('base64');
  const evs = await events(`import base64\nexec(base64.b64decode("${b64}").decode())`);
  const ex = evs.find((e) => e.kind === 'code-exec')!;
  assert.ok(ex.taints.some((t) => t.kind === 'decoded' && t.payload?.includes("s.connect(('127.0.0.1', 9))")));
  const sock = evs.find((e) => e.kind === 'socket')!;
  assert.equal(sock.text, '127.0.0.1:9');
  assert.equal(sock.start, ex.start, 'nested events point at the outer call');
});

test('run-time decoding of untrusted data is tracked; of unknown data it is not', async () => {
  const net = await one('import base64, requests\nexec(base64.b64decode(requests.get("http://127.0.0.1/p").text))', 'code-exec');
  assert.ok(net.taints.some((t) => t.kind === 'network'));
  assert.ok(net.taints.some((t) => t.kind === 'decoded'));
  const local = await one('import zlib\ndef f(data):\n    exec(zlib.decompress(data))', 'code-exec');
  assert.deepEqual(local.taints, []);
});

test('the step budget stops runaway analysis and says so', async () => {
  // Mutual recursion fan-out: bounded by the call stack, memo and budget, never hangs.
  const fns = Array.from({ length: 30 }, (_, i) => `def f${i}(x):\n    f${(i + 1) % 30}(x + "a")\n    f${(i + 2) % 30}(x + "b")\n    return x`).join('\n');
  const r = await analyzePython(fns + '\nf0("s")\n', { stepsPerNode: 1 });
  assert.equal(typeof r.truncated, 'boolean');
});

test('indentation nested hundreds deep is flattened: the payload is still found, and the parser keeps working', async () => {
  // tree-sitter-python 0.25 returns an empty tree (and corrupts its heap) around 600 levels.
  let src = 'import os\n';
  for (let i = 0; i < 800; i++) src += ' '.repeat(i) + 'if x:\n';
  src += ' '.repeat(800) + 'os.system("id")\n';
  const r = await analyzePython(src);
  assert.equal(r.flattenedDepth, 800);
  const e = r.events.find((x) => x.kind === 'process')!;
  assert.equal(src.slice(e.start, e.end), 'os.system("id")', 'positions map back to the original text');
  const after = await analyzePython('import os\nos.system("id")\n');
  assert.equal(after.events.length, 1, 'later files parse normally');
});

test('hostile expression nesting ends in a truncated analysis, not a stack overflow', async () => {
  const deep = await analyzePython('import os\nx = ' + '['.repeat(3000) + 'os.system("id")' + ']'.repeat(3000) + '\n');
  assert.equal(deep.truncated, true);
});
