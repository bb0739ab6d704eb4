import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { HttpClient } from '../../src/hubs/http.js';
import { ByteBudgetError, HttpSource, TruncatedFileError } from '../../src/hubs/http-source.js';
import { startHubServer, type HubServer } from '../support/hub-server/server.js';
import { fixtureRepos, noise, ORG } from '../support/hub-server/repos.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BLOB = noise(3 * 1024 * 1024 + 123);
let server: HubServer;
let blobUrl: string;

before(async () => {
  server = await startHubServer({ repos: fixtureRepos(ROOT) });
  blobUrl = `${server.url}/${ORG}/big-file/resolve/${server.shaOf('model', `${ORG}/big-file`)}/blob.bin`;
});
after(() => server.close());
beforeEach(() => server.reset());

const client = (): HttpClient => new HttpClient({ baseDelayMs: 10, retries: 1 });
const source = (o: Partial<ConstructorParameters<typeof HttpSource>[0]> = {}): HttpSource =>
  new HttpSource({ client: client(), url: blobUrl, size: BLOB.length, name: 'blob.bin', ...o });

test('any read returns exactly the bytes of the file (property, small blocks)', async () => {
  const src = source({ blockSize: 4096, cacheBlocks: 8 });
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: -10, max: BLOB.length + 10 }), fc.integer({ min: 0, max: 100_000 }), async (off, len) => {
      const got = await src.read(off, len);
      const start = Math.max(0, off);
      assert.deepEqual(got, BLOB.subarray(start, Math.max(start, Math.min(BLOB.length, off + len))));
    }),
    { numRuns: 150 },
  );
});

test('what the scanner does on a big file (head, tail, a record near the end) costs a few requests', async () => {
  const src = source();
  await src.read(0, 512);
  await src.read(0, 4096);
  await src.read(BLOB.length - 65_557, 65_557);
  await src.read(BLOB.length - 65_557 - 20, 20);
  await src.read(100, 300);
  // The first range goes through the hub's redirect; later ones straight to the CDN URL it gave.
  assert.ok(src.requests <= 4, `${src.requests} requests`);
  assert.equal(server.log.filter((x) => x.server === 'hub').length, 1);
  assert.ok(src.bytesRead < 300_000, `${src.bytesRead} bytes`);
  assert.equal(src.failure, undefined);
});

test('an expired presigned URL is refreshed through the hub', async () => {
  const src = source();
  await src.read(0, 10);
  server.addFault({ kind: 'status', status: 403, server: 'cdn', times: 1 });
  assert.deepEqual(await src.read(2_000_000, 10), BLOB.subarray(2_000_000, 2_000_010));
  assert.deepEqual(
    server.log.map((x) => `${x.server} ${x.status}`),
    ['hub 302', 'cdn 206', 'cdn 403', 'hub 302', 'cdn 206'],
  );
});

test('sequential reads grow the read-ahead: 3 MB in 64 KiB reads takes a handful of requests', async () => {
  const src = source();
  const parts: Buffer[] = [];
  for (let off = 0; off < BLOB.length; off += 65536) parts.push(await src.read(off, 65536));
  assert.deepEqual(Buffer.concat(parts), BLOB);
  assert.ok(src.requests <= 16, `${src.requests} requests for ${parts.length} reads`);
  assert.equal(src.bytesRead, BLOB.length, 'nothing fetched twice');
});

test('bytesRead counts bytes transferred, and outer stats see the same', async () => {
  const outer = { requests: 0, bytesTransferred: 0, retries: 0, rangeIgnored: 0 };
  const src = source({ stats: outer });
  await src.read(10, 10);
  assert.equal(src.bytesRead, 65536, 'one block');
  assert.deepEqual(outer, src.stats);
});

test('a file shorter on the server than the hub lists is reported truncated', async () => {
  const src = source({ size: BLOB.length + 5000 });
  await assert.rejects(src.read(0, 10), (e: Error) => {
    assert.ok(e instanceof TruncatedFileError);
    assert.match(e.message, /lists 3145851 bytes but the server holds 3145851|truncated/);
    return true;
  });
  assert.ok(src.failure instanceof TruncatedFileError, 'the failure is kept for the caller');
});

test('the byte budget stops reads that would fetch too much', async () => {
  const src = source({ maxTransfer: 200_000 });
  await src.read(0, 100);
  await assert.rejects(src.read(1_000_000, 500_000), (e: Error) => {
    assert.ok(e instanceof ByteBudgetError);
    assert.match(e.message, /not scanned \(needs \d+ bytes, budget 200000\)/);
    return true;
  });
});

test('Range ignored: reads still right, later reads served from the prefix, sequential only past the budget', async () => {
  server.addFault({ kind: 'ignore-range', server: 'cdn' });
  const src = source({ maxTransfer: 1024 * 1024 });
  assert.deepEqual(await src.read(0, 512), BLOB.subarray(0, 512));
  assert.equal(src.rangesIgnored, true);
  assert.equal(src.sequential, true, 'the tail is out of reach within the budget');
  const before = src.bytesRead;
  assert.deepEqual(await src.read(1000, 2000), BLOB.subarray(1000, 3000));
  assert.equal(src.bytesRead, before, 'served from what was already read');
  assert.deepEqual(await src.read(200_000, 100), BLOB.subarray(200_000, 200_100));
  await assert.rejects(src.read(BLOB.length - 100, 100), ByteBudgetError);

  const roomy = source();
  assert.deepEqual(await roomy.read(BLOB.length - 100, 100), BLOB.subarray(BLOB.length - 100));
  assert.equal(roomy.sequential, false, 'within the budget the whole file may be read');
});
