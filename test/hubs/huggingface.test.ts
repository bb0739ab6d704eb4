import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HfHub, HubError, hubEndpoint, hubToken, parseLinkHeader, type RepoRef } from '../../src/hubs/huggingface.js';
import { newStats } from '../../src/hubs/http.js';
import { startHubServer, type HubServer } from '../support/hub-server/server.js';
import { fixtureRepos, ORG } from '../support/hub-server/repos.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
let server: HubServer;
const repos = fixtureRepos(ROOT);

before(async () => {
  server = await startHubServer({ repos });
});
after(() => server.close());
beforeEach(() => {
  server.reset();
  server.pageSize = 1000;
});

function hub(token?: string): HfHub {
  return HfHub.create({ endpoint: server.url, env: {}, ...(token ? { token } : {}), http: { baseDelayMs: 10, retries: 1 } });
}

const model = (name: string): RepoRef => ({ type: 'model', name: `${ORG}/${name}` });

async function rejectsWith(p: Promise<unknown>, kind: HubError['kind'], message: RegExp): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof HubError, String(e));
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, message);
    return true;
  });
}

test('endpoint and token come from HF_ENDPOINT and HF_TOKEN, as huggingface_hub reads them', () => {
  assert.equal(hubEndpoint({}), 'https://huggingface.co');
  assert.equal(hubEndpoint({ HF_ENDPOINT: 'https://hf-mirror.example/' }), 'https://hf-mirror.example');
  assert.equal(hubEndpoint({ HF_ENDPOINT: 'https://a.example' }, 'http://b.example'), 'http://b.example');
  assert.throws(() => hubEndpoint({ HF_ENDPOINT: 'ftp://x' }), /http\(s\)/);
  assert.throws(() => hubEndpoint({ HF_ENDPOINT: 'https://u:p@x' }), /credentials/);
  assert.equal(hubToken({ HF_TOKEN: 'hf_a' }), 'hf_a');
  assert.equal(hubToken({ HUGGING_FACE_HUB_TOKEN: 'hf_b' }), 'hf_b');
  assert.equal(hubToken({ HF_TOKEN: 'hf_a' }, 'hf_c'), 'hf_c');
  assert.equal(hubToken({ HF_TOKEN: '  ' }), undefined);
});

test('repo info: the exact commit and the Hub security status', async () => {
  const info = await hub().repoInfo(model('evil-torch'));
  assert.equal(info.sha, server.shaOf('model', `${ORG}/evil-torch`));
  assert.deepEqual(info.securityRepoStatus, { scansDone: true, filesWithIssues: [{ path: 'pytorch_model.bin', level: 'unsafe' }] });
  assert.match(server.log[0].path, /\/api\/models\/ptmscope-fixtures\/evil-torch\?securityStatus=true$/);
});

test('repo info at a branch, a tag and an old commit; missing revisions are named', async () => {
  const h = hub();
  const head = server.shaOf('model', `${ORG}/history`);
  assert.equal((await h.repoInfo(model('history'), 'main')).sha, head);
  assert.equal((await h.repoInfo(model('history'), 'v2.0')).sha, head);
  const old = '0123456789abcdef0123456789abcdef01234567';
  assert.equal((await h.repoInfo(model('history'), 'v1.0')).sha, old);
  assert.equal((await h.repoInfo(model('history'), old)).sha, old);
  await rejectsWith(h.repoInfo(model('history'), 'nope'), 'revision-not-found', /revision "nope" not found/);
});

test('a real model_info record is served at its real commit (legacy one-part name too)', async () => {
  const rec = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/hub/model-info/albert-base-v2.json'), 'utf8')) as { sha: string; tags: string[] };
  const info = await hub().repoInfo({ type: 'model', name: 'albert-base-v2' });
  assert.equal(info.sha, rec.sha);
  assert.deepEqual(info.raw.tags, rec.tags);
  const gpt = await hub().repoInfo({ type: 'model', name: 'EleutherAI/gpt-neo-125M' });
  assert.equal(gpt.sha, 'b559e35121e91087f94903c07213d208d2412f68');
});

test('missing, private and gated repos: what the hub says, and what to do', async () => {
  await rejectsWith(hub().repoInfo(model('does-not-exist')), 'repo-not-found', /not found, or it is private and needs a token; .*HF_TOKEN/);
  await rejectsWith(hub().repoInfo(model('private-model')), 'repo-not-found', /private and needs a token/);
  assert.equal((await hub(server.token).repoInfo(model('private-model'))).securityRepoStatus?.filesWithIssues[0].level, 'unsafe');
  await rejectsWith(hub('hf_wrong').repoInfo(model('private-model')), 'unauthorized', /rejected the token/);
  // Gated: metadata is public, files are not.
  const g = hub();
  const info = await g.repoInfo(model('gated-model'));
  assert.equal(info.gated, 'manual');
  await assert.rejects(g.client.getWhole(g.resolveUrl(model('gated-model'), info.sha, 'config.json')), (e: Error) => {
    const he = g.describe(e, model('gated-model'), info.sha, 'config.json');
    assert.equal(he.kind, 'gated');
    assert.match(he.message, /is gated: accept its conditions at .*gated-model, then pass a token/);
    return true;
  });
  const ok = hub(server.token);
  assert.ok((await ok.client.getWhole(ok.resolveUrl(model('gated-model'), info.sha, 'config.json'))).length > 0);
});

test('the recursive tree follows Link pages and keeps sizes and LFS oids', async () => {
  server.pageSize = 3;
  const stats = newStats();
  const h = hub();
  const sha = server.shaOf('model', `${ORG}/mixed`);
  const tree = await h.listTree(model('mixed'), sha, { stats });
  const files = tree.filter((e) => e.type === 'file').map((e) => e.path);
  assert.deepEqual(files.sort(), [
    'README.md',
    'arrays/data.npy',
    'arrays/objects.npy',
    'legacy/old.pt',
    'model.gguf',
    'model.safetensors',
    'sklearn/model.joblib',
    'weights/disguised.safetensors',
  ]);
  assert.ok(tree.some((e) => e.type === 'directory' && e.path === 'arrays'));
  assert.equal(stats.requests, Math.ceil(tree.length / 3), 'one request per page');
  assert.ok(server.log.slice(1).every((x) => x.path.includes('cursor=')), 'later pages come from the Link header');
  const npy = tree.find((e) => e.path === 'arrays/data.npy')!;
  assert.equal(npy.size, readFileSync(join(ROOT, 'test/fixtures/benign/npy_float32.npy')).length);
  assert.match(npy.lfs!.oid, /^[0-9a-f]{64}$/);
  assert.equal(tree.find((e) => e.path === 'README.md')!.lfs, undefined);
});

test('listing repos follows Link pages', async () => {
  server.pageSize = 4;
  const ids: string[] = [];
  for await (const r of hub().listRepos('model', { search: ORG, limit: 4 })) ids.push(String(r.id));
  const expected = repos.filter((r) => r.type === 'model' && r.name.startsWith(ORG) && !r.private).map((r) => r.name).sort();
  assert.deepEqual(ids.sort(), expected);
  assert.ok(server.log.length >= Math.ceil(expected.length / 4));
  const datasets: string[] = [];
  for await (const r of hub().listRepos('dataset')) datasets.push(String(r.id));
  assert.deepEqual(datasets, [`${ORG}/pickled-data`]);
});

test('datasets and spaces: info, tree and resolve URLs', async () => {
  const h = hub();
  const ds: RepoRef = { type: 'dataset', name: `${ORG}/pickled-data` };
  const info = await h.repoInfo(ds);
  assert.match(server.log[0].path, /^\/api\/datasets\//);
  const tree = await h.listTree(ds, info.sha);
  assert.ok(tree.some((e) => e.path === 'data/train.pkl'));
  assert.equal(h.resolveUrl(ds, info.sha, 'data/train.pkl'), `${server.url}/datasets/${ORG}/pickled-data/resolve/${info.sha}/data/train.pkl`);
  const body = await h.client.getWhole(h.resolveUrl(ds, info.sha, 'data/train.pkl'));
  assert.deepEqual(body, readFileSync(join(ROOT, 'test/fixtures/malicious/os_system_p2.pkl')));
  const sp: RepoRef = { type: 'space', name: `${ORG}/demo-space` };
  const spInfo = await h.repoInfo(sp);
  assert.ok((await h.listTree(sp, spInfo.sha)).some((e) => e.path === 'app.py'));
});

test('resolve URLs encode paths and revisions', () => {
  const h = new HfHub(hub().client, 'https://huggingface.co');
  assert.equal(h.resolveUrl({ type: 'model', name: 'a/b' }, 'refs/pr/1', 'dir one/ü#.bin'), 'https://huggingface.co/a/b/resolve/refs%2Fpr%2F1/dir%20one/%C3%BC%23.bin');
  assert.throws(() => h.resolveUrl({ type: 'model', name: 'a/b' }, 'main', '../x'), /"\.\." part/);
  assert.throws(() => h.resolveUrl({ type: 'model', name: 'a/../b' }, 'main', 'x'), /more than two parts/);
});

test('names are validated before any request is made', async () => {
  const h = hub();
  await assert.rejects(h.repoInfo({ type: 'model', name: '../../etc' }));
  await assert.rejects(h.repoInfo(model('x'), 'a/../b'));
  await assert.rejects(h.listTree(model('x'), '..'));
  assert.equal(server.log.length, 0);
});

test('Link headers', () => {
  assert.deepEqual(parseLinkHeader('<https://h/api/models?cursor=abc>; rel="next"'), { next: 'https://h/api/models?cursor=abc' });
  assert.deepEqual(parseLinkHeader('<https://h/1>; rel="prev", <https://h/3>; rel=next'), { prev: 'https://h/1', next: 'https://h/3' });
  assert.deepEqual(parseLinkHeader(''), {});
});
