import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HfHub } from '../../src/hubs/huggingface.js';
import { combineResults, hubVerdict, repoPart, scanRemoteRepo, scanRemoteRepos, type RemoteRepoReport, type RemoteScanOptions } from '../../src/scan/remote.js';
import { parseHubTarget } from '../../src/hubs/targets.js';
import { exitCode } from '../../src/scan/scan-path.js';
import { scanFile } from '../../src/scan/scanner.js';
import type { FileReport } from '../../src/scan/finding.js';
import { DEFAULT_TOKEN, startHubServer, type HubServer } from '../support/hub-server/server.js';
import { fixtureRepos, ORG } from '../support/hub-server/repos.js';
import { smallOpcodePickle, writeSparseZip } from '../../bench/sparse.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const MARKER = '/tmp/ptmscope_marker';
/** A valid token of an account that did not accept the gated repo's conditions. */
const OTHER_TOKEN = 'hf_other_account_token';
let server: HubServer;
let tmp: string;

before(async () => {
  server = await startHubServer({ repos: fixtureRepos(ROOT), tokens: [DEFAULT_TOKEN, OTHER_TOKEN] });
  tmp = mkdtempSync(join(tmpdir(), 'ptmscope-remote-'));
});
after(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
  assert.equal(existsSync(MARKER), false, 'no payload ever ran');
});
beforeEach(() => {
  server.reset();
  server.latencyMs = 0;
});

function opts(o: Partial<RemoteScanOptions> & { token?: string } = {}): RemoteScanOptions {
  const { token, ...rest } = o;
  return { hub: HfHub.create({ endpoint: server.url, env: {}, ...(token ? { token } : {}), http: { baseDelayMs: 10, retries: 2 } }), ...rest };
}

async function scan(target: string, o: Partial<RemoteScanOptions> & { token?: string } = {}): Promise<RemoteRepoReport> {
  return scanRemoteRepo(parseHubTarget(target, server.url), opts(o));
}

function fileOf(r: RemoteRepoReport, path: string): FileReport | undefined {
  return r.files.find((f) => f.file.endsWith(`@${r.sha}/${path}`));
}

test('a malicious checkpoint: findings at the resolved commit, the Hub verdict beside ours', async () => {
  const r = await scan(`hf://${ORG}/evil-torch`);
  const sha = server.shaOf('model', `${ORG}/evil-torch`);
  assert.equal(r.sha, sha);
  assert.equal(r.error, undefined);
  const f = fileOf(r, 'pytorch_model.bin')!;
  assert.equal(f.file, `hf://${ORG}/evil-torch@${sha}/pytorch_model.bin`);
  assert.deepEqual(f.formats, ['zip', 'pytorch-zip', 'pickle']);
  const crit = f.findings.find((x) => x.severity === 'CRITICAL')!;
  assert.equal(crit.ruleId, 'pickle/dangerous-global');
  assert.equal(crit.location, `${f.file}!archive/data.pkl`);
  assert.equal(crit.file, f.file);
  assert.deepEqual(r.hubVerdict, { status: 'unsafe', scansDone: true, filesWithIssues: [{ path: 'pytorch_model.bin', level: 'unsafe' }] });
  assert.equal(r.fileStats.find((s) => s.path === 'pytorch_model.bin')?.hubLevel, 'unsafe');
  assert.equal(r.filesScanned, 2, 'pytorch_model.bin, and config.json as a Hugging Face config');
  assert.equal(r.filesSkipped, 1, 'README.md is not a model file');
  assert.equal(r.totalSize, r.fileStats.reduce((n, s) => n + s.size, 0));
  assert.ok(r.requests >= 5 && r.requests <= 8, `${r.requests} requests`);
  assert.ok(r.bytesTransferred > r.fileBytesTransferred, 'hub JSON counts in bytesTransferred only');
});

test('every fixture file scans the same through HTTP ranges as from disk', async () => {
  for (const [repo, dir] of [
    ['all-malicious', 'malicious'],
    ['all-benign', 'benign'],
  ]) {
    // wholeFileMax 0 and 4 KiB blocks: every read goes through HttpSource's block cache.
    const r = await scan(`hf://${ORG}/${repo}`, { wholeFileMax: 0, blockSize: 4096 });
    assert.equal(r.error, undefined);
    const base = join(ROOT, 'test/fixtures', dir);
    for (const rel of readdirSync(base, { recursive: true }) as string[]) {
      const local = join(base, rel);
      if (!existsSync(local) || readdirSync(base, { withFileTypes: true }).find((d) => d.name === rel)?.isDirectory()) continue;
      let want: FileReport;
      try {
        want = await scanFile(local);
      } catch {
        continue;
      }
      if (want.formats.length === 0 && want.errors.length === 0 && want.findings.length === 0) {
        assert.equal(fileOf(r, rel.split('\\').join('/')), undefined, `${rel} is skipped remotely too`);
        continue;
      }
      const got = fileOf(r, rel.split('\\').join('/'));
      assert.ok(got, `${repo}/${rel} is reported`);
      assert.deepEqual(got.formats, want.formats, rel);
      const key = (file: string) => (f: FileReport['findings'][number]) =>
        `${f.ruleId} ${f.severity} ${f.global ?? ''} ${f.location.slice(file.length)} ${f.offset ?? ''}`;
      assert.deepEqual(got.findings.map(key(got.file)).sort(), want.findings.map(key(want.file)).sort(), rel);
      assert.equal(got.errors.length, want.errors.length, rel);
    }
  }
});

test('a file the Hub calls safe can still be malicious, and a scan still pending is not "safe"', async () => {
  const miss = await scan(`hf://${ORG}/hub-misses`);
  assert.equal(miss.hubVerdict?.status, 'safe');
  assert.equal(fileOf(miss, 'model.pkl')?.findings.some((f) => f.severity === 'CRITICAL'), true);
  const pending = await scan(`hf://${ORG}/pending`);
  assert.equal(pending.hubVerdict?.status, 'pending');
  assert.deepEqual(hubVerdict(undefined), { status: 'unavailable', filesWithIssues: [] });
  assert.equal(hubVerdict({ filesWithIssues: [{ path: 'a', level: 'caution' }] }).status, 'caution');
});

test('a revision is pinned to its commit: an old tag shows a payload main no longer has', async () => {
  const head = await scan(`hf://${ORG}/history`);
  assert.equal(head.files.flatMap((f) => f.findings).filter((f) => f.severity === 'CRITICAL').length, 0);
  const old = await scan(`hf://${ORG}/history@v1.0`);
  assert.equal(old.sha, '0123456789abcdef0123456789abcdef01234567');
  assert.equal(old.revision, 'v1.0');
  const f = fileOf(old, 'pytorch_model.bin')!;
  assert.equal(f.file, `hf://${ORG}/history@0123456789abcdef0123456789abcdef01234567/pytorch_model.bin`);
  assert.ok(f.findings.some((x) => x.severity === 'CRITICAL'));
  // Every file request named the commit, never the tag.
  server.reset();
  await scan(`hf://${ORG}/history@v1.0`);
  assert.ok(server.log.filter((x) => x.path.includes('/resolve/')).every((x) => x.path.includes('/resolve/0123456789abcdef')));
});

test('datasets and spaces', async () => {
  const ds = await scan(`hf://datasets/${ORG}/pickled-data`);
  assert.ok(fileOf(ds, 'data/train.pkl')?.file.startsWith(`hf://datasets/${ORG}/pickled-data@`));
  assert.ok(fileOf(ds, 'data/train.pkl')?.findings.some((f) => f.severity === 'CRITICAL'));
  const sp = await scan(`https://huggingface.co/spaces/${ORG}/demo-space`);
  assert.equal(sp.error, undefined);
  assert.ok(fileOf(sp, 'model.joblib'), 'the space joblib file is scanned');
});

test('one file or folder of a repo, from a blob or tree URL', async () => {
  const one = await scan(`https://huggingface.co/${ORG}/mixed/blob/main/sklearn/model.joblib`);
  assert.deepEqual(one.fileStats.map((s) => s.path), ['sklearn/model.joblib']);
  const dir = await scan(`https://huggingface.co/${ORG}/mixed/tree/main/arrays`);
  assert.deepEqual(dir.fileStats.map((s) => s.path).sort(), ['arrays/data.npy', 'arrays/objects.npy']);
  const readme = await scan(`https://huggingface.co/${ORG}/mixed/blob/main/README.md`);
  assert.match(readme.files[0].errors[0].message, /unsupported format/, 'a file named on its own that is not a model file is an error');
  const none = await scan(`https://huggingface.co/${ORG}/mixed/blob/main/nope.bin`);
  assert.match(none.error!, /no file or folder "nope.bin"/);
});

test('gated and private repos without a token fail clearly; with one they scan', async () => {
  const gated = await scan(`hf://${ORG}/gated-model`);
  assert.match(gated.error!, /is gated: accept its conditions at .*then pass a token of that account \(HF_TOKEN or --token\)/);
  assert.equal(gated.files.length, 1, 'one error for the repo, not one per file');
  assert.equal(gated.files[0].errors[0].message, gated.error);
  assert.ok((await scan(`hf://${ORG}/gated-model`, { token: server.token })).filesScanned > 0);
  const denied = await scan(`hf://${ORG}/gated-granted`, { token: OTHER_TOKEN });
  assert.match(denied.error!, /is gated and the token given has no access: accept the repo's conditions/);
  assert.equal(denied.files.length, 1, 'one error for the repo');
  assert.ok(server.log.filter((x) => x.status === 403).length <= 4, 'no file is started after the first 403 (4 were in flight)');
  assert.ok((await scan(`hf://${ORG}/gated-granted`, { token: server.token })).filesScanned > 0);
  const priv = await scan(`hf://${ORG}/private-model`);
  assert.match(priv.error!, /not found, or it is private and needs a token/);
  const privOk = await scan(`hf://${ORG}/private-model`, { token: server.token });
  assert.ok(fileOf(privOk, 'model.pkl')?.findings.some((f) => f.severity === 'CRITICAL'));
  // The token went to the hub and never to the CDN.
  assert.ok(server.log.some((x) => x.server === 'hub' && x.authorization));
  assert.ok(server.log.filter((x) => x.server === 'cdn').every((x) => x.authorization === undefined));
});

test('missing repo and missing revision', async () => {
  assert.match((await scan(`hf://${ORG}/no-such-repo`)).error!, /repository not found/);
  assert.match((await scan(`hf://${ORG}/clean-torch@v9`)).error!, /revision "v9" not found/);
});

test('a truncated file is an error, whether fetched whole or by ranges', async () => {
  for (const wholeFileMax of [1024 * 1024, 0]) {
    const r = await scan(`hf://${ORG}/truncated`, { wholeFileMax });
    const f = fileOf(r, 'pytorch_model.bin')!;
    assert.equal(f.errors.length, 1, `wholeFileMax ${wholeFileMax}`);
    assert.match(f.errors[0].message, /hub lists 8779 bytes but the server (sent|holds) 1000: the file is truncated/);
    assert.equal(f.findings.filter((x) => /parse-error/.test(x.ruleId)).length, 0, 'no misleading "could not parse" finding');
  }
});

test('a connection dropped mid-range fails that repo; the others still scan', async () => {
  server.addFault({ kind: 'drop-mid-body', server: 'cdn' });
  const [dropped] = await scanRemoteRepos([`hf://${ORG}/clean-torch`], { ...opts(), wholeFileMax: 0 });
  const f = fileOf(dropped, 'pytorch_model.bin')!;
  assert.match(f.errors[0].message, /connection (was dropped|closed after)/);
  assert.equal(exitCode(combineResults([repoPart(dropped)], 0), 'MEDIUM'), 2);

  // Repos that fail (truncated file, bad name, missing) and one that scans, in one run.
  server.reset();
  const reps = await scanRemoteRepos([`hf://${ORG}/truncated`, `hf://${ORG}/evil-torch`, 'hf://../bad', `hf://${ORG}/nope`], opts());
  assert.ok(fileOf(reps[0], 'pytorch_model.bin')?.errors.length);
  assert.ok(fileOf(reps[1], 'pytorch_model.bin')?.findings.some((x) => x.severity === 'CRITICAL'));
  assert.match(reps[2].error!, /hf:\/\/\.\.\/bad/);
  assert.match(reps[3].error!, /repository not found/);
  const all = combineResults(reps.map(repoPart), 0);
  assert.equal(exitCode(all, 'MEDIUM'), 1, 'a finding wins over errors');
  assert.equal(exitCode(all, 'none'), 2);
});

test('a server that ignores Range: scans still work, reading only what is needed', async () => {
  // A 20 MB .npy: the header is all the scanner needs.
  const npy = Buffer.alloc(20 * 1024 * 1024);
  const head = readFileSync(join(ROOT, 'test/fixtures/malicious/npy_object_reduce.npy'));
  head.copy(npy);
  server.addRepo({ type: 'model', name: `${ORG}/range-npy`, files: [{ path: 'arrays/big.npy', data: npy, lfs: true }] });
  server.addFault({ kind: 'ignore-range', server: 'cdn' });
  const r = await scan(`hf://${ORG}/range-npy`, { byteBudget: 4 * 1024 * 1024 });
  const f = fileOf(r, 'arrays/big.npy')!;
  assert.deepEqual(f.errors, []);
  assert.ok(f.findings.some((x) => x.severity === 'CRITICAL'), 'the object array pickle is found');
  assert.ok(f.bytesRead < 2 * 1024 * 1024, `read ${f.bytesRead} of ${npy.length} bytes`);
  assert.ok(server.log.some((x) => x.server === 'cdn' && x.range && x.status === 200));

  // A ZIP needs its end: within the budget the fallback reads it all and still finds the payload.
  const pt = join(tmp, 'big.pt');
  const pkl = readFileSync(join(ROOT, 'test/fixtures/malicious/torch_save_reduce.pt'));
  const { readZipDirectory, openZipEntry } = await import('../../src/formats/zip.js');
  const { BufferSource } = await import('../../src/formats/source.js');
  const { resolveLimits } = await import('../../src/formats/limits.js');
  const { DecompressionBudget } = await import('../../src/formats/compression.js');
  const zsrc = new BufferSource(pkl);
  const dir = await readZipDirectory(zsrc, resolveLimits());
  const entry = dir.entries.find((e) => e.name.endsWith('data.pkl'))!;
  const m = await openZipEntry(zsrc, dir, entry, resolveLimits(), new DecompressionBudget(resolveLimits()));
  await writeSparseZip(pt, [
    { name: 'archive/data.pkl', data: await m.read(0, m.size) },
    { name: 'archive/data/0', data: 6 * 1024 * 1024 },
  ]);
  server.addRepo({ type: 'model', name: `${ORG}/range-zip`, files: [{ path: 'model.pt', file: pt }] });
  const zr = await scan(`hf://${ORG}/range-zip`);
  const zf = fileOf(zr, 'model.pt')!;
  assert.deepEqual(zf.errors, []);
  assert.ok(zf.findings.some((x) => x.severity === 'CRITICAL'));
  // With a budget smaller than the file, the end is out of reach: not scanned, and it says why.
  const small = await scan(`hf://${ORG}/range-zip`, { byteBudget: 1024 * 1024 });
  const sf = fileOf(small, 'model.pt')!;
  assert.match(sf.errors[0].message, /not scanned.*budget 1048576/);
  assert.equal(small.fileStats[0].strategy, 'not-scanned');

  // With Range honoured, the same 6 MB checkpoint costs a few KB.
  server.clearFaults();
  const fast = await scan(`hf://${ORG}/range-zip`);
  assert.ok(fileOf(fast, 'model.pt')!.bytesRead < 300 * 1024, `${fileOf(fast, 'model.pt')!.bytesRead} B`);
});

test('the byte budget: a scan that would fetch more is "not scanned (needs N bytes, budget M)"', async () => {
  // A pickle has to be read through; 3 MB of small opcodes against a 1 MiB budget.
  server.addRepo({ type: 'model', name: `${ORG}/big-pickle`, files: [{ path: 'model.pkl', data: smallOpcodePickle(300_000), lfs: true }] });
  const r = await scan(`hf://${ORG}/big-pickle`, { byteBudget: 1024 * 1024 });
  const f = fileOf(r, 'model.pkl')!;
  assert.match(f.errors[0].message, /model\.pkl: not scanned \(needs \d+ bytes, budget 1048576\); raise --byte-budget/);
  assert.ok(f.bytesRead <= 1024 * 1024);
  const ok = await scan(`hf://${ORG}/big-pickle`, { byteBudget: 16 * 1024 * 1024 });
  assert.deepEqual(fileOf(ok, 'model.pkl')!.errors, []);
});

test('429 with RateLimit headers: the scan waits and completes', async () => {
  server.addFault({ kind: 'rate-limit', resetSeconds: 1, times: 1, match: '/api/' });
  const t0 = Date.now();
  const r = await scan(`hf://${ORG}/evil-torch`);
  assert.equal(r.error, undefined);
  assert.ok(Date.now() - t0 >= 950);
  assert.ok(fileOf(r, 'pytorch_model.bin')?.findings.length);
});

test('many repos at once stay within a quota and all complete', async () => {
  const names = fixtureRepos(ROOT).filter((x) => x.type === 'model' && !x.private && !x.gated && !/truncated|all-/.test(x.name));
  server.setQuota('api', 12, 1);
  const reps = await scanRemoteRepos(names.map((x) => `hf://${x.name}`), { ...opts(), repoConcurrency: 8 });
  assert.deepEqual(reps.filter((x) => x.error).map((x) => x.error), []);
  // Requests already in flight when the window runs out get 429s; the pause on r=0 keeps them few.
  const limited = server.log.filter((x) => x.status === 429).length;
  assert.ok(limited < names.length, `${limited} answers were 429`);
});

test('invalid names never reach the network', async () => {
  const bad = ['hf://../../etc/passwd', 'hf://a/b/c', 'hf://org/name@../x', 'https://huggingface.co/a/b/tree/%2e%2e%2fx', 'https://evil.example/a/b'];
  const reps = await scanRemoteRepos(bad, opts());
  assert.ok(reps.every((r) => r.error));
  assert.equal(server.log.length, 0);
});

function ptmscope(args: string[], env: Record<string, string | undefined> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const fullEnv: Record<string, string | undefined> = { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, HF_TOKEN: undefined, HF_ENDPOINT: server.url, ...env };
    for (const k of Object.keys(fullEnv)) if (fullEnv[k] === undefined) delete fullEnv[k];
    // Async spawn: the hub server runs in this process and must keep answering.
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: tmp, env: fullEnv as NodeJS.ProcessEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test('CLI: hf:// targets and local paths together; the Hub verdict and bytes fetched are printed', async () => {
  writeFileSync(join(tmp, 'clean.pkl'), Buffer.from('80027d710058010000006171014b01732e', 'hex'));
  const r = await ptmscope(['scan', `hf://${ORG}/mixed`, 'clean.pkl', `https://huggingface.co/${ORG}/clean-torch/tree/main`]);
  assert.equal(r.status, 1, r.stderr);
  const sha = server.shaOf('model', `${ORG}/mixed`);
  assert.match(r.stdout, new RegExp(`^hf://${ORG}/mixed@${sha}/weights/disguised.safetensors`, 'm'));
  assert.match(r.stdout, new RegExp(`^hf://${ORG}/mixed@${sha}$`, 'm'));
  assert.match(r.stdout, /Hugging Face: unsafe — sklearn\/model\.joblib \(unsafe\), legacy\/old\.pt \(caution\)/);
  assert.match(r.stdout, /weights\/disguised\.safetensors +hub: ok +ptmscope: CRITICAL pickle\/dangerous-global/);
  assert.match(r.stdout, /legacy\/old\.pt +hub: caution +ptmscope: ok/);
  assert.match(r.stdout, /Fetched .* of .* of file data, plus .* of hub metadata, in \d+ requests/);
  assert.match(r.stdout, new RegExp(`^hf://${ORG}/clean-torch@[0-9a-f]{40} \\(revision main\\)$`, 'm'));
  assert.match(r.stdout.trimEnd().split('\n').pop()!, /^Scanned \d+ files/);
});

test('CLI: gated without a token exits 2 with the reason; --token and HF_TOKEN open it, and the token is never printed', async () => {
  const r = await ptmscope(['scan', `hf://${ORG}/gated-model`]);
  assert.equal(r.status, 2);
  assert.match(r.stdout, /is gated: accept its conditions/);
  const withFlag = await ptmscope(['scan', `hf://${ORG}/gated-model`, '--token', server.token]);
  assert.equal(withFlag.status, 0, withFlag.stdout);
  const withEnv = await ptmscope(['scan', `hf://${ORG}/gated-model`], { HF_TOKEN: server.token });
  assert.equal(withEnv.status, 0);
  for (const x of [r, withFlag, withEnv]) assert.ok(!(x.stdout + x.stderr).includes(server.token));
});

test('CLI: --from scans a list of repos; one failure gives 2 when nothing reaches --fail-on', async () => {
  const list = join(tmp, 'repos.txt');
  writeFileSync(list, `# repos to check\nhf://${ORG}/clean-torch\n\nhf://${ORG}/no-such-repo   # gone\nhf://datasets/${ORG}/pickled-data\n`);
  const r = await ptmscope(['scan', '--from', list, '--format', 'json']);
  assert.equal(r.status, 1);
  const doc = JSON.parse(r.stdout) as { repos: { target: string; error?: string; sha?: string; requests: number; hubVerdict?: { status: string } }[]; files: FileReport[] };
  assert.deepEqual(
    doc.repos.map((x) => x.target),
    [`hf://${ORG}/clean-torch`, `hf://${ORG}/no-such-repo`, `hf://datasets/${ORG}/pickled-data`],
  );
  assert.match(doc.repos[1].error!, /repository not found/);
  assert.equal(doc.repos[2].hubVerdict?.status, 'unsafe');
  assert.ok(doc.files.some((f) => f.file.startsWith(`hf://${ORG}/no-such-repo`) && f.errors.length === 1));
  const noFail = await ptmscope(['scan', '--from', list, '--fail-on', 'none']);
  assert.equal(noFail.status, 2);
});

test('CLI: bad targets and budgets are usage errors or per-target errors', async () => {
  const bad = await ptmscope(['scan', 'hf://../../etc']);
  assert.equal(bad.status, 2);
  assert.match(bad.stdout, /"\." and "\.\." are not allowed/);
  const budget = await ptmscope(['scan', '--byte-budget', 'lots', `hf://${ORG}/evil-torch`]);
  assert.equal(budget.status, 2);
  assert.match(budget.stderr, /500M, 2G/);
  const nothing = await ptmscope(['scan']);
  assert.equal(nothing.status, 2);
  assert.match(nothing.stderr, /nothing to scan/);
  assert.equal(server.log.length, 0);
});
