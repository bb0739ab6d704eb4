import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { HttpClient, HttpError, newStats, parseContentRange, parseRateLimit, parseRetryAfter } from '../../src/hubs/http.js';
import { startHubServer, type HubServer } from '../support/hub-server/server.js';
import { fixtureRepos, noise, ORG } from '../support/hub-server/repos.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
let server: HubServer;
let blobUrl: string;
let smallUrl: string;
const BLOB = noise(3 * 1024 * 1024 + 123);
const SMALL = noise(5000, 7);

before(async () => {
  server = await startHubServer({ repos: fixtureRepos(ROOT) });
  const sha = server.shaOf('model', `${ORG}/big-file`);
  blobUrl = `${server.url}/${ORG}/big-file/resolve/${sha}/blob.bin`;
  smallUrl = `${server.url}/${ORG}/big-file/resolve/${sha}/small.bin`;
});
after(() => server.close());
beforeEach(() => {
  server.reset();
  server.latencyMs = 0;
});

/** A client that retries fast (the waits asked for by 429s are still honoured). */
function client(extra: ConstructorParameters<typeof HttpClient>[0] = {}): HttpClient {
  return new HttpClient({ baseDelayMs: 20, maxDelayMs: 100, tokenOrigins: [server.url], ...extra });
}

test('RateLimit and RateLimit-Policy in the forms Hugging Face sends', () => {
  assert.deepEqual(parseRateLimit('"api";r=0;t=55'), [{ name: 'api', remaining: 0, resetSeconds: 55 }]);
  assert.deepEqual(parseRateLimit('"fixed window";"api";q=500;w=300'), [{ name: 'api', quota: 500, windowSeconds: 300 }]);
  assert.deepEqual(parseRateLimit('"resolvers";r=2999;t=12, "api";r=0;t=3').map((x) => [x.name, x.remaining, x.resetSeconds]), [
    ['resolvers', 2999, 12],
    ['api', 0, 3],
  ]);
  // The older draft's dictionary form.
  assert.deepEqual(parseRateLimit('limit=100, remaining=0, reset=30'), [{ quota: 100, remaining: 0, resetSeconds: 30 }]);
  assert.deepEqual(parseRateLimit(null), []);
  assert.equal(parseRetryAfter('7'), 7000);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now), 10_000);
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.deepEqual(parseContentRange('bytes 10-19/100'), { start: 10, end: 19, total: 100 });
  assert.deepEqual(parseContentRange('bytes 10-19/*'), { start: 10, end: 19 });
  assert.equal(parseContentRange('bytes 19-10/100'), undefined);
});

test('a range through the CDN redirect: exact bytes; the token goes to the hub and never to the CDN', async () => {
  const c = client({ token: server.token });
  const stats = newStats();
  const r = await c.getRange(blobUrl, 1_000_000, 1_000_100, { stats });
  assert.deepEqual(r.data, BLOB.subarray(1_000_000, 1_000_100));
  assert.equal(r.total, BLOB.length);
  assert.equal(r.rangeIgnored, false);
  assert.equal(stats.requests, 2, 'the resolve and the CDN hop');
  assert.equal(stats.bytesTransferred, 100);
  const hub = server.log.filter((x) => x.server === 'hub');
  const cdn = server.log.filter((x) => x.server === 'cdn');
  assert.equal(hub.length, 1);
  assert.equal(hub[0].authorization, `Bearer ${server.token}`);
  assert.equal(cdn.length, 1);
  assert.equal(cdn[0].authorization, undefined, 'Authorization must not cross to another host');
  assert.equal(cdn[0].range, 'bytes=1000000-1000099');
  assert.equal(cdn[0].status, 206);
});

test('no token is sent to hosts outside tokenOrigins', async () => {
  const c = new HttpClient({ token: server.token, tokenOrigins: ['https://huggingface.co'] });
  await c.getRange(smallUrl, 0, 10);
  assert.equal(server.log[0].authorization, undefined);
  assert.equal(c.sendsTokenTo(server.url), false);
  assert.equal(c.sendsTokenTo('https://huggingface.co/x'), true);
});

test('a server that ignores Range: the bytes are right, the body is aborted, and it is counted', async () => {
  server.addFault({ kind: 'ignore-range', server: 'cdn' });
  const c = client();
  const stats = newStats();
  const r = await c.getRange(blobUrl, 100, 200, { stats });
  assert.deepEqual(r.data, BLOB.subarray(100, 200));
  assert.equal(r.rangeIgnored, true);
  assert.equal(r.total, BLOB.length);
  assert.equal(stats.rangeIgnored, 1);
  assert.equal(server.log.find((x) => x.server === 'cdn')?.status, 200);
  assert.ok(stats.bytesTransferred >= 200, 'the skipped bytes count too');
  assert.ok(stats.bytesTransferred < 1024 * 1024, `the rest of the 3 MB body was not read (${stats.bytesTransferred} B)`);
});

test('a range-ignoring server is not allowed past maxTransfer', async () => {
  server.addFault({ kind: 'ignore-range', server: 'cdn' });
  await assert.rejects(client().getRange(blobUrl, 2_000_000, 2_000_100, { maxTransfer: 1_000_000 }), (e: HttpError) => {
    assert.equal(e.kind, 'budget');
    assert.match(e.message, /ignores Range requests/);
    return true;
  });
});

test('a connection dropped mid-range is retried; one that always drops fails clearly', async () => {
  server.addFault({ kind: 'drop-mid-body', server: 'cdn', times: 1 });
  const stats = newStats();
  const r = await client().getRange(blobUrl, 0, 500_000, { stats });
  assert.deepEqual(r.data, BLOB.subarray(0, 500_000));
  assert.equal(stats.retries, 1);

  server.reset();
  server.addFault({ kind: 'drop-mid-body', server: 'cdn' });
  await assert.rejects(client({ retries: 2 }).getRange(blobUrl, 0, 500_000), (e: HttpError) => {
    assert.equal(e.kind, 'network');
    assert.match(e.message, /dropped|closed after/);
    assert.match(e.message, /\/cdn\/[0-9a-f]{64}/, 'the URL is named');
    assert.ok(!e.message.includes('signature='), 'but not its presigned query');
    return true;
  });
  assert.equal(server.log.filter((x) => x.server === 'cdn').length, 3, 'first try + 2 retries');
});

test('5xx is retried with backoff, then given up on', async () => {
  server.addFault({ kind: 'status', status: 503, times: 2, server: 'hub' });
  const stats = newStats();
  const r = await client().getWhole(smallUrl, 10_000, { stats });
  assert.deepEqual(r, SMALL);
  assert.equal(stats.retries, 2);

  server.reset();
  server.addFault({ kind: 'status', status: 502, server: 'hub' });
  await assert.rejects(client({ retries: 1 }).getWhole(smallUrl), (e: HttpError) => e.kind === 'server' && e.status === 502);
});

test('429: waits for the reset in the RateLimit header, pausing the host for every request', async () => {
  server.addFault({ kind: 'rate-limit', resetSeconds: 1, times: 1, server: 'hub' });
  const c = client();
  const t0 = Date.now();
  const [a, b] = await Promise.all([c.getWhole(smallUrl), c.getWhole(smallUrl)]);
  const waited = Date.now() - t0;
  assert.deepEqual(a, SMALL);
  assert.deepEqual(b, SMALL);
  assert.ok(waited >= 950, `waited ${waited} ms for t=1`);
  assert.equal(server.log.filter((x) => x.status === 429).length, 1);
});

test('429: Retry-After is honoured; a wait longer than allowed fails with the numbers', async () => {
  server.addFault({ kind: 'rate-limit', resetSeconds: 1, retryAfter: true, times: 1, server: 'hub' });
  const t0 = Date.now();
  assert.deepEqual(await client().getWhole(smallUrl), SMALL);
  assert.ok(Date.now() - t0 >= 950);

  server.reset();
  server.addFault({ kind: 'rate-limit', resetSeconds: 120, server: 'hub' });
  await assert.rejects(client({ maxRateLimitWaitMs: 5000 }).getWhole(smallUrl), (e: HttpError) => {
    assert.equal(e.kind, 'rate-limited');
    assert.match(e.message, /retry after 120 s/);
    assert.match(e.message, /0\/500 requests left in the 300 s window/);
    assert.match(e.message, /HF_TOKEN/);
    return true;
  });
});

test('a response saying r=0 pauses the host until the window resets', async () => {
  server.setQuota('resolvers', 2, 1);
  const c = client();
  const t0 = Date.now();
  for (let i = 0; i < 4; i++) await c.getWhole(smallUrl);
  assert.ok(Date.now() - t0 >= 900, 'the third request waited for the next window');
  assert.equal(server.log.filter((x) => x.status === 429).length, 0, 'the pause avoided the 429');
});

test('at most maxPerHost requests are in flight per host', async () => {
  server.latencyMs = 40;
  const c = client({ maxPerHost: 2 });
  await Promise.all(Array.from({ length: 8 }, () => c.getRange(smallUrl, 0, 10)));
  assert.equal(server.maxInFlight.hub, 2);

  server.reset();
  const wide = client({ maxPerHost: 8 });
  await Promise.all(Array.from({ length: 8 }, () => wide.getRange(smallUrl, 0, 10)));
  assert.ok(server.maxInFlight.hub > 2, 'the limit is what held it back');
});

test('4xx answers carry HF error codes and are not retried', async () => {
  const c = client();
  const sha = server.shaOf('model', `${ORG}/big-file`);
  await assert.rejects(c.getWhole(`${server.url}/${ORG}/big-file/resolve/${sha}/nope.bin`), (e: HttpError) => {
    assert.equal(e.kind, 'not-found');
    assert.equal(e.errorCode, 'EntryNotFound');
    return true;
  });
  assert.equal(server.log.length, 1);
  assert.equal(c.stats.retries, 0);
});

test('getWhole refuses bodies over the limit, and a body cut short is an error', async () => {
  await assert.rejects(client().getWhole(smallUrl, 100), (e: HttpError) => e.kind === 'budget');
  server.addFault({ kind: 'drop-mid-body', server: 'hub' });
  await assert.rejects(client({ retries: 1 }).getWhole(smallUrl), (e: HttpError) => e.kind === 'network');
});

test('connection refused is a network error after retries', async () => {
  await assert.rejects(client({ retries: 1 }).getWhole('http://127.0.0.1:1/x'), (e: HttpError) => e.kind === 'network');
});
