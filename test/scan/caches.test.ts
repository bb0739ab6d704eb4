import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cachePart, hfCacheDir, scanHfCache, scanTorchHubCache, torchHubDir, type CacheScanReport } from '../../src/scan/caches.js';
import { combineResults } from '../../src/scan/remote.js';
import { exitCode } from '../../src/scan/scan-path.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const MARKER = '/tmp/ptmscope_marker';
const fixture = (p: string): string => join(ROOT, 'test/fixtures', p);
const REV1 = '1'.repeat(40);
const REV2 = '2'.repeat(40);
const REV3 = '3'.repeat(40);
let tmp: string;
let hfHome: string;
let hub: string;
let torchHome: string;

/** A cache laid out as huggingface_hub writes it: snapshots link into blobs/. */
function makeHfCache(root: string): void {
  const repo = join(root, 'models--acme--vision');
  mkdirSync(join(repo, 'blobs'), { recursive: true });
  mkdirSync(join(repo, 'refs', 'refs', 'pr'), { recursive: true });
  copyFileSync(fixture('malicious/torch_save_reduce.pt'), join(repo, 'blobs', 'aaaa'));
  writeFileSync(join(repo, 'blobs', 'bbbb'), '{"model_type": "cnn"}\n');
  copyFileSync(fixture('benign/torch_cnn_state_dict.pt'), join(repo, 'blobs', 'cccc'));
  writeFileSync(join(repo, 'blobs', 'dddd.incomplete'), 'partial download');
  writeFileSync(join(repo, 'refs', 'main'), REV2);
  writeFileSync(join(repo, 'refs', 'refs', 'pr', '1'), REV1);
  // Two revisions share the malicious checkpoint; the newer one adds a clean one in a subfolder.
  for (const [rev, files] of [
    [REV1, { 'pytorch_model.bin': 'aaaa', 'config.json': 'bbbb' }],
    [REV2, { 'pytorch_model.bin': 'aaaa', 'config.json': 'bbbb', 'extra/clean.pt': 'cccc' }],
  ] as const) {
    for (const [path, blob] of Object.entries(files)) {
      const p = join(repo, 'snapshots', rev, path);
      mkdirSync(join(p, '..'), { recursive: true });
      symlinkSync(join('..', '..', ...(path.includes('/') ? ['..'] : []), 'blobs', blob), p);
    }
  }
  const ds = join(root, 'datasets--acme--pickles');
  mkdirSync(join(ds, 'blobs'), { recursive: true });
  copyFileSync(fixture('malicious/os_system_p2.pkl'), join(ds, 'blobs', 'eeee'));
  mkdirSync(join(ds, 'snapshots', REV3, 'data'), { recursive: true });
  symlinkSync(join('..', '..', '..', 'blobs', 'eeee'), join(ds, 'snapshots', REV3, 'data', 'train.pkl'));
  // Not a repo folder: ignored.
  mkdirSync(join(root, '.locks'), { recursive: true });
  writeFileSync(join(root, 'version.txt'), '1');
}

function makeTorchHub(root: string): void {
  mkdirSync(join(root, 'checkpoints'), { recursive: true });
  copyFileSync(fixture('malicious/torch_save_reduce.pt'), join(root, 'checkpoints', 'resnet18-evil.pth'));
  copyFileSync(fixture('benign/torch_cnn_state_dict.pt'), join(root, 'checkpoints', 'cnn.pth'));
  const repo = join(root, 'acme_vision_main');
  mkdirSync(repo, { recursive: true });
  writeFileSync(join(repo, 'hubconf.py'), 'dependencies = ["torch"]\n\ndef model():\n    import torch\n    return torch.nn.Linear(2, 2)\n');
  copyFileSync(fixture('benign/torch_cnn_state_dict.pt'), join(repo, 'weights.pt'));
  writeFileSync(join(root, 'trusted_list'), 'acme_vision\n');
}

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ptmscope-caches-'));
  hfHome = join(tmp, 'hf-home');
  hub = join(hfHome, 'hub');
  makeHfCache(hub);
  torchHome = join(tmp, 'torch-home');
  makeTorchHub(join(torchHome, 'hub'));
});
after(() => {
  rmSync(tmp, { recursive: true, force: true });
  assert.equal(existsSync(MARKER), false, 'no payload ever ran');
});

test('cache locations follow huggingface_hub and torch.hub', () => {
  const home = homedir();
  assert.equal(hfCacheDir({}), join(home, '.cache', 'huggingface', 'hub'));
  assert.equal(hfCacheDir({ XDG_CACHE_HOME: '/x' }), '/x/huggingface/hub');
  assert.equal(hfCacheDir({ HF_HOME: '/h' }), '/h/hub');
  assert.equal(hfCacheDir({ HF_HOME: '/h', HF_HUB_CACHE: '/c' }), '/c');
  assert.equal(hfCacheDir({ HUGGINGFACE_HUB_CACHE: '/old' }), '/old');
  assert.equal(hfCacheDir({ HF_HOME: '~/hf' }), join(home, 'hf', 'hub'));
  assert.equal(torchHubDir({}), join(home, '.cache', 'torch', 'hub'));
  assert.equal(torchHubDir({ TORCH_HOME: '/t' }), '/t/hub');
  assert.equal(torchHubDir({ XDG_CACHE_HOME: '/x' }), '/x/torch/hub');
});

function repoOf(c: CacheScanReport, name: string, rev?: string) {
  return c.repos.find((r) => r.name === name && (rev === undefined || r.revision === rev))!;
}

test('HF cache: one report per repo and revision; each blob scanned once', async () => {
  const c = await scanHfCache(hub);
  assert.deepEqual(c.errors, []);
  assert.deepEqual(
    c.repos.map((r) => `${r.kind} ${r.name}@${r.revision} [${r.refs.join(',')}]`),
    [`dataset acme/pickles@${REV3} []`, `model acme/vision@${REV1} [refs/pr/1]`, `model acme/vision@${REV2} [main]`],
  );
  // 5 snapshot files over 4 distinct blobs (the incomplete download is no snapshot's).
  assert.equal(c.blobsScanned, 4);
  const old = repoOf(c, 'acme/vision', REV1);
  const cur = repoOf(c, 'acme/vision', REV2);
  for (const [r, rev] of [
    [old, REV1],
    [cur, REV2],
  ] as const) {
    const bin = r.files.find((f) => f.file.endsWith('pytorch_model.bin'))!;
    assert.equal(bin.file, join(hub, 'models--acme--vision', 'snapshots', rev, 'pytorch_model.bin'));
    const crit = bin.findings.find((f) => f.severity === 'CRITICAL')!;
    assert.equal(crit.file, bin.file, 'findings are named after the snapshot path, not the blob');
    assert.equal(crit.location, `${bin.file}!archive/data.pkl`);
    assert.ok(bin.members.every((m) => m.startsWith(bin.file)));
  }
  // config.json is a Hugging Face config (model_type), read for remote-code references.
  assert.equal(old.filesScanned, 2);
  assert.equal(old.filesSkipped, 0);
  assert.equal(cur.filesScanned, 3);
  const ds = repoOf(c, 'acme/pickles');
  assert.ok(ds.files[0].findings.some((f) => f.severity === 'CRITICAL'));
  // Summary bytes count each blob once.
  const part = cachePart(c);
  assert.equal(part.filesScanned, 6); // every distinct blob, the config included
  assert.equal(exitCode(combineResults([part], 0), 'MEDIUM'), 1);
});

test('HF cache found through HF_HUB_CACHE and HF_HOME, or given HF_HOME itself', async () => {
  for (const env of [{ HF_HUB_CACHE: hub }, { HF_HOME: hfHome }]) {
    const c = await scanHfCache(undefined, { env });
    assert.equal(c.root, hub);
    assert.equal(c.repos.length, 3);
  }
  const viaHome = await scanHfCache(hfHome);
  assert.equal(viaHome.root, hub, 'a folder holding hub/ is taken to mean its hub/');
  const missing = await scanHfCache(join(tmp, 'nope'));
  assert.equal(missing.repos.length, 0);
  assert.match(missing.errors[0].message, /Hugging Face cache does not exist; set HF_HUB_CACHE or HF_HOME, or pass --hf-cache DIR/);
  assert.equal(exitCode(combineResults([cachePart(missing)], 0), 'MEDIUM'), 2);
});

test('PyTorch Hub cache: checkpoints and downloaded repos with their hubconf.py', async () => {
  const c = await scanTorchHubCache(undefined, { env: { TORCH_HOME: torchHome } });
  assert.equal(c.root, join(torchHome, 'hub'));
  assert.deepEqual(
    c.repos.map((r) => [r.kind, r.name, r.hubconf]),
    [
      ['hub-repo', 'acme_vision_main', true],
      ['checkpoints', 'checkpoints', undefined],
    ],
  );
  const ck = repoOf(c, 'checkpoints');
  assert.equal(ck.filesScanned, 2);
  const evil = ck.files.find((f) => f.file.endsWith('resnet18-evil.pth'))!;
  assert.ok(evil.findings.some((f) => f.severity === 'CRITICAL'));
  const repo = repoOf(c, 'acme_vision_main');
  assert.ok(repo.files.some((f) => f.file.endsWith('weights.pt')));
  const missing = await scanTorchHubCache(join(tmp, 'nope'));
  assert.match(missing.errors[0].message, /PyTorch Hub cache does not exist; set TORCH_HOME/);
});

function ptmscope(args: string[], env: Record<string, string | undefined> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const fullEnv: Record<string, string | undefined> = { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, ...env };
    for (const k of Object.keys(fullEnv)) if (fullEnv[k] === undefined) delete fullEnv[k];
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: tmp, env: fullEnv as NodeJS.ProcessEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test('CLI: --hf-cache and --torch-hub-cache, from the environment or a folder', async () => {
  const r = await ptmscope(['scan', '--hf-cache'], { HF_HOME: hfHome, HF_HUB_CACHE: undefined });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, new RegExp(`^Hugging Face cache ${hub.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  assert.match(r.stdout, new RegExp(`models/acme/vision@${REV2} \\(main\\): 3 files scanned, 0 skipped \\(not model files\\); 1 CRITICAL`));
  assert.match(r.stdout, /3 snapshots, 6 files, 4 distinct files scanned\./);
  assert.match(r.stdout, new RegExp(`snapshots/${REV1}/pytorch_model\\.bin`));

  // A relative folder is taken from the current directory.
  const t = await ptmscope(['scan', '--torch-hub-cache=torch-home/hub']);
  assert.equal(t.status, 1, t.stdout + t.stderr);
  assert.match(t.stdout, /acme_vision_main \(hubconf\.py\): \d+ files? scanned/);
  const both = await ptmscope(['scan', '--format', 'json', '--hf-cache', hub, '--torch-hub-cache', join(torchHome, 'hub')]);
  assert.equal(both.status, 1, both.stderr);
  const doc = JSON.parse(both.stdout) as { caches: { source: string; repos: unknown[] }[]; summary: { filesScanned: number } };
  assert.deepEqual(
    doc.caches.map((c) => [c.source, c.repos.length]),
    [
      ['hf-cache', 3],
      ['torch-hub', 2],
    ],
  );
  const none = await ptmscope(['scan', '--hf-cache', join(tmp, 'nope')]);
  assert.equal(none.status, 2);
  assert.match(none.stdout, /does not exist/);
});
