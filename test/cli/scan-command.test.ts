import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

let dir: string;
let marker: string;

/**
 * A protocol-0 pickle that would run `touch <marker>` if unpickled. It is only
 * ever handed to the scanner; the marker file must never appear.
 */
function maliciousPickle(markerPath: string): Buffer {
  return Buffer.from(`cos\nsystem\n(S'touch ${markerPath}'\ntR.`, 'latin1');
}
/** pickle.dumps({'a': 1}, protocol=2) */
const CLEAN_PICKLE = Buffer.from('80027d710058010000006171014b01732e', 'hex');

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ptmscope-cli-'));
  marker = join(dir, 'ptmscope_marker');
  writeFileSync(join(dir, 'evil.pkl'), maliciousPickle(marker));
  writeFileSync(join(dir, 'clean.pkl'), CLEAN_PICKLE);
  writeFileSync(join(dir, 'notes.txt'), 'just some text, not a model\n');
  mkdirSync(join(dir, 'tree', 'sub'), { recursive: true });
  writeFileSync(join(dir, 'tree', 'README.md'), '# not a model\n');
  for (let i = 0; i < 7; i++) writeFileSync(join(dir, 'tree', `clean${i}.pkl`), CLEAN_PICKLE);
  writeFileSync(join(dir, 'tree', 'sub', 'evil.pkl'), maliciousPickle(marker));
});

after(() => {
  assert.equal(existsSync(marker), false, 'the payload never ran');
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function ptmscope(args: string[], env: Record<string, string | undefined> = {}): Run {
  const fullEnv: Record<string, string | undefined> = { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, ...env };
  for (const k of Object.keys(fullEnv)) if (fullEnv[k] === undefined) delete fullEnv[k];
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd: dir, env: fullEnv as NodeJS.ProcessEnv, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--version prints the package version', () => {
  const r = ptmscope(['--version']);
  assert.equal(r.status, 0);
  assert.equal(r.stdout.trim(), VERSION);
});

test('text: a malicious pickle is reported and exits 1; piped output has no colour', () => {
  const r = ptmscope(['scan', 'evil.pkl']);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /^evil\.pkl/m);
  assert.match(r.stdout, /pickle\/dangerous-global/);
  assert.match(r.stdout, /system/);
  assert.match(r.stdout, /^Scanned 1 file: 1 finding/m);
  assert.ok(!r.stdout.includes('\u001b['), 'no ANSI codes when piped');
  assert.equal(r.stderr, '', 'nothing on stderr when piped');
});

test('text: FORCE_COLOR colours, NO_COLOR wins over it', () => {
  assert.ok(ptmscope(['scan', 'evil.pkl'], { FORCE_COLOR: '1' }).stdout.includes('\u001b['));
  assert.ok(!ptmscope(['scan', 'evil.pkl'], { FORCE_COLOR: '1', NO_COLOR: '1' }).stdout.includes('\u001b['));
});

test('text: a clean pickle exits 0; --verbose lists it', () => {
  const r = ptmscope(['scan', 'clean.pkl']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^Scanned 1 file: no findings, no errors\./m);
  assert.ok(!r.stdout.includes('clean.pkl'));
  assert.match(ptmscope(['scan', '--verbose', 'clean.pkl']).stdout, /^ok {2}clean\.pkl/m);
});

test('json: stable document with schemaVersion 1 and the finding', () => {
  const r = ptmscope(['scan', '--format', 'json', 'evil.pkl', 'clean.pkl']);
  assert.equal(r.status, 1, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.schemaVersion, 1);
  assert.deepEqual(doc.tool, { name: 'ptmscope', version: VERSION });
  assert.deepEqual(
    doc.files.map((f: { file: string }) => f.file),
    ['evil.pkl', 'clean.pkl'],
  );
  const f = doc.files[0].findings.find((x: { ruleId: string }) => x.ruleId === 'pickle/dangerous-global');
  assert.ok(f, 'dangerous-global finding present');
  assert.equal(f.file, 'evil.pkl');
  assert.match(f.global, /^(os|posix|nt)\.system$/);
  assert.ok(doc.summary.findingsBySeverity[f.severity] >= 1);
  assert.equal(doc.summary.filesScanned, 2);
  assert.equal(doc.summary.errors, 0);
  assert.deepEqual(doc.files[1].findings, []);
});

test('sarif: GitHub-shaped log with a relative URI and an error-level result', () => {
  const r = ptmscope(['scan', '--format', 'sarif', 'evil.pkl']);
  assert.equal(r.status, 1, r.stderr);
  const log = JSON.parse(r.stdout);
  assert.equal(log.version, '2.1.0');
  assert.match(log.$schema, /sarif-2\.1\.0/);
  const run = log.runs[0];
  assert.equal(run.tool.driver.name, 'ptmscope');
  const res = run.results.find((x: { ruleId: string }) => x.ruleId === 'pickle/dangerous-global');
  assert.ok(res);
  assert.equal(run.tool.driver.rules[res.ruleIndex].id, 'pickle/dangerous-global');
  assert.equal(res.level, 'error');
  assert.equal(res.locations[0].physicalLocation.artifactLocation.uri, 'evil.pkl');
  assert.equal(res.locations[0].physicalLocation.artifactLocation.uriBaseId, '%SRCROOT%');
  assert.equal(res.locations[0].physicalLocation.region.startLine, 1);
  assert.match(res.partialFingerprints.primaryLocationLineHash, /^[0-9a-f]{16}:1$/);
  assert.equal(run.invocations[0].executionSuccessful, true);
});

test('--fail-on sets the threshold; none never exits 1', () => {
  assert.equal(ptmscope(['scan', '--fail-on', 'none', 'evil.pkl']).status, 0);
  assert.equal(ptmscope(['scan', '--fail-on', 'low', 'evil.pkl']).status, 1, 'case-insensitive');
  assert.equal(ptmscope(['scan', '--fail-on', 'CRITICAL', 'clean.pkl']).status, 0);
});

test('a missing path is a scan error: exit 2, listed in the report', () => {
  const r = ptmscope(['scan', 'nope.pkl', 'clean.pkl']);
  assert.equal(r.status, 2);
  assert.match(r.stdout, /nope\.pkl: no such file or directory/);
  const j = JSON.parse(ptmscope(['scan', '--format', 'json', 'nope.pkl']).stdout);
  assert.equal(j.summary.errors, 1);
  assert.equal(j.files[0].errors[0].file, 'nope.pkl');
});

test('findings at the threshold win over errors: exit 1 with the error still listed', () => {
  const r = ptmscope(['scan', 'evil.pkl', 'nope.pkl']);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /pickle\/dangerous-global/);
  assert.match(r.stdout, /ERROR.*nope\.pkl/);
  const s = JSON.parse(ptmscope(['scan', '--format', 'sarif', 'evil.pkl', 'nope.pkl']).stdout);
  assert.equal(s.runs[0].invocations[0].executionSuccessful, false);
  assert.equal(s.runs[0].invocations[0].toolExecutionNotifications.length, 1);
});

test('an explicitly named non-model file is an error; in a directory it is only counted', () => {
  const named = ptmscope(['scan', 'notes.txt']);
  assert.equal(named.status, 2, named.stdout);
  assert.match(named.stdout, /unsupported format/);

  const tree = ptmscope(['scan', '--format', 'json', '--jobs', '2', 'tree']);
  assert.equal(tree.status, 1, tree.stderr);
  const doc = JSON.parse(tree.stdout);
  const files = doc.files.map((f: { file: string }) => f.file);
  assert.ok(!files.some((f: string) => f.endsWith('README.md')), 'skipped file not listed');
  assert.equal(doc.summary.filesSkipped, 1);
  assert.equal(doc.summary.filesScanned, 8);
  assert.equal(doc.summary.errors, 0);
  assert.deepEqual(files, [
    ...Array.from({ length: 7 }, (_, i) => join('tree', `clean${i}.pkl`)),
    join('tree', 'sub', 'evil.pkl'),
  ]);
  assert.equal(tree.stderr, '', 'no progress bar when stderr is not a terminal');
});

test('--output writes the report to a file and nothing to stdout', () => {
  const out = join(dir, 'report.sarif');
  const r = ptmscope(['scan', '-f', 'sarif', '-o', out, 'evil.pkl']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /wrote sarif report to/);
  assert.equal(JSON.parse(readFileSync(out, 'utf8')).version, '2.1.0');
  const q = ptmscope(['scan', '-f', 'json', '-o', out, '--quiet', 'evil.pkl']);
  assert.equal(q.stderr, '');
});

test('--quiet prints only findings and errors', () => {
  assert.equal(ptmscope(['scan', '--quiet', 'clean.pkl']).stdout, '');
  const r = ptmscope(['scan', '--quiet', 'evil.pkl']);
  assert.match(r.stdout, /pickle\/dangerous-global/);
  assert.ok(!r.stdout.includes('Scanned'));
});

test('bad usage exits 2 with a clear message', () => {
  const cases: [string[], RegExp][] = [
    [['scan', '--format', 'xml', 'evil.pkl'], /argument 'xml' is invalid/],
    [['scan', '--fail-on', 'severe', 'evil.pkl'], /INFO, LOW, MEDIUM, HIGH, CRITICAL or none/],
    [['scan', '--jobs', '0', 'evil.pkl'], /whole number of worker threads/],
    [['scan', '--jobs', 'many', 'evil.pkl'], /whole number of worker threads/],
    [['scan'], /nothing to scan/],
    [['scan', '--bogus', 'evil.pkl'], /unknown option '--bogus'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ];
  for (const [args, message] of cases) {
    const r = ptmscope(args);
    assert.equal(r.status, 2, `${args.join(' ')} → ${r.status}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stdout, '');
  }
  const help = ptmscope(['scan', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--fail-on <severity>/);
});

test('a config file that cannot be loaded exits 2', () => {
  const r = ptmscope(['scan', '--config', 'missing-config.yaml', 'evil.pkl']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /missing-config\.yaml/);
  assert.equal(r.stdout, '');
});

test('progress bar: drawn on a terminal stderr for more than a handful of files, then erased', async () => {
  const { runScanCommand } = await import('../../src/cli/scan-command.js');
  const { renderProgress } = await import('../../src/cli/progress.js');
  assert.equal(renderProgress(3, 12, 'tree/a.pkl', 80), '[######------------------]  3/12  25%  tree/a.pkl');
  assert.equal(renderProgress(1, 1, 'x'.repeat(100), 50).length, 49);
  assert.ok(renderProgress(1, 1, 'abc\u001b[2Jdef', 80).endsWith('abc\\x1b[2Jdef'), 'file names are escaped');

  const capture = (isTTY: boolean) => {
    const chunks: string[] = [];
    return { chunks, stream: { isTTY, columns: 80, write: (c: string) => (chunks.push(c), true) } };
  };
  const run = async (paths: string[], stderrTTY: boolean, progress = true) => {
    const out = capture(false);
    const err = capture(stderrTTY);
    const code = await runScanCommand(
      paths,
      { format: 'json', progress, failOn: 'none' },
      { stdout: out.stream, stderr: err.stream, env: {}, cwd: dir },
    );
    return { code, out: out.chunks.join(''), err: err.chunks.join('') };
  };
  const tty = await run([join(dir, 'tree')], true);
  assert.equal(tty.code, 0);
  assert.match(tty.err, /\r\u001b\[K\[#{24}\] 9\/9 100%/, 'final state drawn');
  assert.ok(tty.err.endsWith('\r\u001b[K'), 'bar erased at the end');
  assert.equal(JSON.parse(tty.out).summary.filesScanned, 8, 'report still on stdout');
  assert.equal((await run([join(dir, 'tree')], true, false)).err, '', '--no-progress');
  assert.equal((await run([join(dir, 'tree')], false)).err, '', 'not a terminal');
  assert.equal((await run([join(dir, 'evil.pkl'), join(dir, 'clean.pkl')], true)).err, '', 'a handful of files');
});

test('failOn from the config file applies unless --fail-on overrides it; an invalid config exits 2', () => {
  writeFileSync(join(dir, 'lenient.yaml'), 'failOn: none\n');
  writeFileSync(join(dir, 'invalid.yaml'), 'failOn: severe\n');
  assert.equal(ptmscope(['scan', '--config', 'lenient.yaml', 'evil.pkl']).status, 0);
  assert.equal(ptmscope(['scan', '--config', 'lenient.yaml', '--fail-on', 'HIGH', 'evil.pkl']).status, 1);
  const bad = ptmscope(['scan', '--config', 'invalid.yaml', 'evil.pkl']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /invalid\.yaml: "failOn" is "severe"/);
  assert.equal(bad.stdout, '');
});
