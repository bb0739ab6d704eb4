import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatTarget, isHubTarget, parseHubTarget, TargetError } from '../../src/hubs/targets.js';
import { HfHub, validateRepoName, validateRevision, HubNameError } from '../../src/hubs/huggingface.js';
import { HttpClient } from '../../src/hubs/http.js';

test('hf:// targets: models, datasets, spaces, revisions', () => {
  assert.deepEqual(parseHubTarget('hf://org/name'), { input: 'hf://org/name', type: 'model', name: 'org/name' });
  assert.deepEqual(parseHubTarget('hf://org/name@v1.0'), { input: 'hf://org/name@v1.0', type: 'model', name: 'org/name', revision: 'v1.0' });
  assert.equal(parseHubTarget('hf://bert-base-uncased').name, 'bert-base-uncased');
  assert.equal(parseHubTarget('hf://datasets/org/data').type, 'dataset');
  assert.equal(parseHubTarget('hf://spaces/org/app@main').type, 'space');
  // A revision may contain "/" (refs/pr/1), written plainly or %-encoded.
  assert.equal(parseHubTarget('hf://org/name@refs/pr/1').revision, 'refs/pr/1');
  assert.equal(parseHubTarget('hf://org/name@refs%2Fpr%2F1').revision, 'refs/pr/1');
  const sha = 'a'.repeat(40);
  assert.equal(parseHubTarget(`hf://org/name@${sha}`).revision, sha);
});

test('https URLs: repo, tree, blob, resolve, datasets and spaces, mirrors', () => {
  const t = parseHubTarget('https://huggingface.co/org/name');
  assert.deepEqual([t.type, t.name, t.revision, t.path], ['model', 'org/name', undefined, undefined]);
  const tree = parseHubTarget('https://huggingface.co/org/name/tree/dev/sub/dir');
  assert.deepEqual([tree.revision, tree.path], ['dev', 'sub/dir']);
  const blob = parseHubTarget('https://hf.co/org/name/blob/main/weights/model.bin?download=true');
  assert.deepEqual([blob.revision, blob.path], ['main', 'weights/model.bin']);
  assert.equal(parseHubTarget('https://huggingface.co/org/name/resolve/refs%2Fpr%2F3/a.pt').revision, 'refs/pr/3');
  assert.equal(parseHubTarget('https://huggingface.co/datasets/org/data/tree/main').type, 'dataset');
  assert.equal(parseHubTarget('https://huggingface.co/spaces/org/app').type, 'space');
  assert.equal(parseHubTarget('https://huggingface.co/bert-base-uncased/tree/main').name, 'bert-base-uncased');
  assert.equal(parseHubTarget('https://huggingface.co/org/name/').name, 'org/name');
  // A mirror named by HF_ENDPOINT, even under a path prefix.
  assert.equal(parseHubTarget('https://mirror.example/hf/org/name/tree/v2', 'https://mirror.example/hf').revision, 'v2');
  assert.equal(parseHubTarget('http://127.0.0.1:9999/org/name', 'http://127.0.0.1:9999').name, 'org/name');
});

test('bad targets are refused with a message naming them', () => {
  const bad: [string, RegExp][] = [
    ['hf://', /empty model name/],
    ['hf://../etc/passwd', /more than two parts|\.\./],
    ['hf://org/../name', /".."|more than two parts/],
    ['hf://..', /\.\./],
    ['hf://org/name/extra', /org\/name\[@revision\]/],
    ['hf://org//name', /empty part|more than two/],
    ['hf://org/name@', /empty revision/],
    ['hf://org/name@../../x', /".."/],
    ['hf://org/name@main;rm -rf', /letters, digits/],
    ['hf://org/name@-x', /starts with "-"/],
    ['hf://-org/name', /not starting or ending/],
    ['hf://org--x/name', /"--"/],
    ['hf://org/na me', /letters, digits/],
    ['hf://org/name%2F..', /letters, digits|".."/],
    ['hf://spaces/app', /needs an owner/],
    ['hf://org/name?x=1', /no query/],
    ['hf://' + 'a'.repeat(97), /longer than 96/],
    ['https://evil.example/org/name', /not a Hugging Face URL/],
    ['https://user:pw@huggingface.co/org/name', /credentials/],
    ['https://huggingface.co/', /names no repo/],
    ['https://huggingface.co/org/name/commits/main', /expected \/tree/],
    ['https://huggingface.co/org/name/blob/main', /needs a file path/],
    ['https://huggingface.co/org/name/tree/ma%ZZin', /bad %-escape/],
    ['https://huggingface.co/org/name/tree/main/a%2F..%2Fb', /"\.\."|\.\. part/],
  ];
  for (const [input, why] of bad) {
    assert.throws(() => parseHubTarget(input), (e: Error) => {
      assert.ok(e instanceof TargetError, `${input}: ${e.constructor.name}`);
      assert.ok(e.message.startsWith(input), `${input}: the message names the target: ${e.message}`);
      assert.match(e.message, why, input);
      return true;
    });
  }
});

test('isHubTarget tells hub targets from local paths', () => {
  assert.ok(isHubTarget('hf://a/b'));
  assert.ok(isHubTarget('https://huggingface.co/a/b'));
  assert.ok(!isHubTarget('models/hf:/a'));
  assert.ok(!isHubTarget('./model.pt'));
});

test('formatTarget round-trips through parseHubTarget', () => {
  for (const s of ['hf://org/name', 'hf://datasets/org/d@v1', 'hf://spaces/o/s@refs/pr/2', 'hf://bert-base-uncased@main']) {
    const t = parseHubTarget(s);
    assert.equal(formatTarget(t, t.revision), s);
  }
});

test('any parsed target builds URLs that stay under the endpoint (property)', () => {
  const hub = new HfHub(new HttpClient(), 'https://huggingface.co');
  const part = fc.stringMatching(/^[A-Za-z0-9_.\-/%@:?#~ ]{0,20}$/);
  fc.assert(
    fc.property(fc.constantFrom('hf://', 'hf://datasets/', 'https://huggingface.co/'), part, part, (scheme, a, b) => {
      let t;
      try {
        t = parseHubTarget(`${scheme}${a}/${b}`);
      } catch (e) {
        assert.ok(e instanceof TargetError, String(e));
        return;
      }
      validateRepoName(t.type, t.name);
      const url = new URL(hub.resolveUrl(t, t.revision ?? 'main', t.path ?? 'x.bin'));
      assert.equal(url.origin, 'https://huggingface.co');
      const prefix = t.type === 'model' ? '' : `/${t.type}s`;
      assert.ok(url.pathname.startsWith(`${prefix}/${t.name}/resolve/`), url.pathname);
      assert.ok(!url.pathname.split('/').includes('..'));
    }),
    { numRuns: 2000 },
  );
});

test('validateRevision and validateRepoName are strict', () => {
  for (const ok of ['main', 'v1.0', 'refs/pr/1', 'release_2024-01', 'a'.repeat(40)]) assert.equal(validateRevision(ok), ok);
  for (const bad of ['', '..', 'a/../b', '/main', 'main/', 'a//b', 'ma in', 'x\u0000', '-rf', 'a'.repeat(256)]) {
    assert.throws(() => validateRevision(bad), HubNameError, JSON.stringify(bad));
  }
  for (const ok of ['a/b', 'gpt2', 'Org_1/model.v2-x']) assert.equal(validateRepoName('model', ok), ok);
  for (const bad of ['a/b/c', '.a/b', 'a./b', 'a/b-', 'a/', '/b', 'a..b/c', 'ü/b']) assert.throws(() => validateRepoName('model', bad), HubNameError, bad);
});
