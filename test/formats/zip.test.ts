import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { BufferSource, FileSource, type ByteSource } from '../../src/formats/source.js';
import { DecompressionBudget } from '../../src/formats/compression.js';
import { decodeCp437, looksLikeZip, openZipEntry, readZipDirectory, type ZipDirectory } from '../../src/formats/zip.js';
import { DEFAULT_LIMITS, LimitExceededError, resolveLimits, type Limits } from '../../src/formats/limits.js';

const PY = '/usr/bin/python3';
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ptmscope-zip-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Run a Python snippet that writes archives into the temp dir (argv[1]). */
function py(code: string): void {
  execFileSync(PY, ['-c', code, dir], { stdio: ['ignore', 'ignore', 'inherit'] });
}

const PICKLE = Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]); // protocol 2: empty dict, STOP

interface BuildEntry {
  name: string | Buffer;
  data: Buffer;
  method?: 0 | 8;
  flags?: number;
  crc?: number;
  /** Name written in the local header, when it should differ from the central directory's. */
  localName?: Buffer;
  declaredUncompressed?: number;
}

/** A minimal zip writer for the hostile layouts Python's zipfile refuses to produce. */
function buildZip(entries: BuildEntry[], opts: { eocdCount?: number; prefix?: Buffer; trailing?: Buffer; comment?: Buffer } = {}): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = typeof e.name === 'string' ? Buffer.from(e.name, 'utf8') : e.name;
    const method = e.method ?? 0;
    const body = method === 8 ? zlib.deflateRawSync(e.data) : e.data;
    const crc = e.crc ?? zlib.crc32(e.data);
    const flags = e.flags ?? 0;
    const usize = e.declaredUncompressed ?? e.data.length;
    const localName = e.localName ?? name;
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(flags, 6);
    lh.writeUInt16LE(method, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(usize, 22);
    lh.writeUInt16LE(localName.length, 26);
    parts.push(lh, localName, body);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(flags, 8);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(usize, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    central.push(ch, name);
    offset += 30 + localName.length + body.length;
  }
  const cd = Buffer.concat(central);
  const comment = opts.comment ?? Buffer.alloc(0);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(opts.eocdCount ?? entries.length, 8);
  eocd.writeUInt16LE(opts.eocdCount ?? entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  eocd.writeUInt16LE(comment.length, 20);
  return Buffer.concat([opts.prefix ?? Buffer.alloc(0), ...parts, cd, eocd, comment, opts.trailing ?? Buffer.alloc(0)]);
}

async function readAll(s: ByteSource): Promise<Buffer> {
  return s.read(0, s.size);
}

async function listAndRead(buf: Buffer, limits: Limits = DEFAULT_LIMITS): Promise<{ dir: ZipDirectory; data: Map<string, Buffer> }> {
  const src = new BufferSource(buf, 'test.zip');
  const zdir = await readZipDirectory(src, limits);
  const data = new Map<string, Buffer>();
  for (const e of zdir.entries) {
    if (e.isDirectory) continue;
    data.set(e.name, await readAll(await openZipEntry(src, zdir, e, limits, new DecompressionBudget(limits))));
  }
  return { dir: zdir, data };
}

test('lists and reads a zip written by Python (stored and deflated members)', async () => {
  py(`import sys, zipfile
with zipfile.ZipFile(sys.argv[1] + '/plain.zip', 'w') as z:
    z.writestr('archive/data.pkl', bytes([0x80,2,0x7d,0x71,0,0x2e]))
    z.writestr('archive/text.txt', b'hello world ' * 500, compress_type=zipfile.ZIP_DEFLATED)
    z.writestr('archive/dir/', b'')
`);
  const { dir: zd, data } = await listAndRead(await readFile(join(dir, 'plain.zip')));
  assert.deepEqual(zd.warnings, []);
  assert.deepEqual(zd.entries.map((e) => [e.name, e.method, e.isDirectory]), [
    ['archive/data.pkl', 0, false],
    ['archive/text.txt', 8, false],
    ['archive/dir/', 0, true],
  ]);
  assert.deepEqual(data.get('archive/data.pkl'), PICKLE);
  assert.equal(data.get('archive/text.txt')?.toString(), 'hello world '.repeat(500));
  assert.equal(zd.baseOffset, 0);
  assert.equal(zd.zip64, false);
});

test('a bad CRC is ignored (PyTorch does not check it either)', async () => {
  const { dir: zd, data } = await listAndRead(buildZip([
    { name: 'a/data.pkl', data: PICKLE, crc: 0xdeadbeef },
    { name: 'a/x.txt', data: Buffer.from('abc'.repeat(100)), method: 8, crc: 1 },
  ]));
  assert.equal(zd.entries[0].crc32, 0xdeadbeef);
  assert.deepEqual(data.get('a/data.pkl'), PICKLE);
  assert.equal(data.get('a/x.txt')?.toString(), 'abc'.repeat(100));
});

test('unusual flag bits are accepted, including strong encryption (bit 6) that yauzl would refuse', async () => {
  const { dir: zd, data } = await listAndRead(buildZip([
    { name: 'odd.pkl', data: PICKLE, flags: 0x2000 | 0x0010 | 0x0004 },
    { name: 'strong.pkl', data: PICKLE, flags: 0x0040 },
    { name: 'after.pkl', data: PICKLE },
  ]));
  assert.deepEqual(zd.entries.map((e) => e.flags), [0x2014, 0x40, 0]);
  assert.equal(zd.entries[1].encrypted, true);
  assert.match(zd.entries[1].warnings.join('\n'), /strong-encryption flag \(bit 6\)/);
  // Parsed normally, not through the lenient fallback for malformed records.
  assert.doesNotMatch(zd.entries.flatMap((e) => e.warnings).join('\n'), /malformed/);
  assert.deepEqual([...data.values()], [PICKLE, PICKLE, PICKLE]);
});

test('a record yauzl rejects (corrupt extra field) is read leniently, and the listing goes on', async () => {
  const buf = buildZip([
    { name: 'a.pkl', data: PICKLE },
    { name: 'b.pkl', data: PICKLE },
  ]);
  // Give a.pkl's central record a 4-byte extra field that claims 100 bytes of data.
  const cdAt = buf.readUInt32LE(buf.length - 6);
  const rec = Buffer.from(buf.subarray(cdAt, cdAt + 46 + 5));
  rec.writeUInt16LE(4, 30);
  const extra = Buffer.from([0x99, 0x99, 100, 0]);
  const rest = buf.subarray(cdAt + 46 + 5, buf.length - 22);
  const eocd = Buffer.from(buf.subarray(buf.length - 22));
  eocd.writeUInt32LE(eocd.readUInt32LE(12) + 4, 12);
  const hostile = Buffer.concat([buf.subarray(0, cdAt), rec, extra, rest, eocd]);
  const { dir: zd, data } = await listAndRead(hostile);
  assert.deepEqual(zd.entries.map((e) => e.name), ['a.pkl', 'b.pkl']);
  assert.match(zd.entries[0].warnings.join('\n'), /central directory record is malformed \(extra field length exceeds/);
  assert.deepEqual(zd.entries[1].warnings, []);
  assert.deepEqual([...data.values()], [PICKLE, PICKLE]);
});

test('a stored member flagged encrypted is read raw, with a warning', async () => {
  const buf = buildZip([{ name: 'archive/data.pkl', data: PICKLE, flags: 0x0001 }]);
  const src = new BufferSource(buf);
  const zd = await readZipDirectory(src, DEFAULT_LIMITS);
  const e = zd.entries[0];
  assert.equal(e.encrypted, true);
  const member = await openZipEntry(src, zd, e, DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS));
  assert.deepEqual(await readAll(member), PICKLE);
  assert.match(e.warnings.join('\n'), /flagged encrypted but stored.*read raw/);
});

test('a local header whose name differs from the central directory is read, with a warning', async () => {
  const buf = buildZip([{ name: 'archive/data.pkl', localName: Buffer.from('archive/EVIL.pkl'), data: PICKLE }]);
  const src = new BufferSource(buf);
  const zd = await readZipDirectory(src, DEFAULT_LIMITS);
  const e = zd.entries[0];
  assert.equal(e.name, 'archive/data.pkl');
  assert.deepEqual(await readAll(await openZipEntry(src, zd, e, DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS))), PICKLE);
  assert.match(e.warnings.join('\n'), /local header names the member "archive\/EVIL\.pkl"/);
});

test('local name of another length: the data start comes from the local header', async () => {
  const buf = buildZip([{ name: 'a.pkl', localName: Buffer.from('a-much-longer-local-name.pkl'), data: PICKLE }]);
  const { data } = await listAndRead(buf);
  assert.deepEqual(data.get('a.pkl'), PICKLE);
});

test('ZIP64 archives (force_zip64) are read', async () => {
  py(`import sys, zipfile
with zipfile.ZipFile(sys.argv[1] + '/z64.zip', 'w') as z:
    with z.open('archive/data.pkl', 'w', force_zip64=True) as f:
        f.write(bytes([0x80,2,0x7d,0x71,0,0x2e]))
    with z.open('archive/big.txt', 'w', force_zip64=True) as f:
        f.write(b'z' * 100000)
`);
  const buf = await readFile(join(dir, 'z64.zip'));
  const { dir: zd, data } = await listAndRead(buf);
  assert.deepEqual(zd.entries.map((e) => e.name), ['archive/data.pkl', 'archive/big.txt']);
  assert.deepEqual(data.get('archive/data.pkl'), PICKLE);
  assert.equal(data.get('archive/big.txt')?.length, 100000);
  // Python writes a zip64 extra field for these members; the listing must use it.
  assert.equal(zd.entries[1].uncompressedSize, 100000);
});

test('ZIP64 end records (more entries than a 32-bit record describes) are used', async () => {
  py(`import sys, zipfile
zipfile.ZIP_FILECOUNT_LIMIT = 3  # makes Python write the zip64 end records for a small archive
with zipfile.ZipFile(sys.argv[1] + '/z64end.zip', 'w') as z:
    for i in range(5):
        z.writestr(f'f{i}.txt', str(i))
`);
  const { dir: zd, data } = await listAndRead(await readFile(join(dir, 'z64end.zip')));
  assert.equal(zd.zip64, true);
  assert.equal(zd.entries.length, 5);
  assert.equal(data.get('f4.txt')?.toString(), '4');
});

test('hostile names: "../evil" and invalid UTF-8 are listed, with warnings', async () => {
  const bad = Buffer.from([0x61, 0xff, 0xfe, 0x2e, 0x70, 0x6b, 0x6c]); // 'a\xff\xfe.pkl'
  const { dir: zd, data } = await listAndRead(buildZip([
    { name: '../evil', data: PICKLE },
    { name: bad, data: PICKLE, flags: 0x0800 },
    { name: Buffer.from([0x63, 0x61, 0x66, 0x82]), data: PICKLE }, // cp437 0x82 = 'é'
    { name: '/abs/path.pkl', data: PICKLE },
  ]));
  assert.deepEqual(zd.entries.map((e) => e.name), ['../evil', 'a\ufffd\ufffd.pkl', 'café', '/abs/path.pkl']);
  assert.deepEqual(zd.entries[1].rawName, bad);
  assert.match(zd.entries[0].warnings.join('\n'), /"\.\." path component/);
  assert.match(zd.entries[1].warnings.join('\n'), /not valid UTF-8/);
  assert.match(zd.entries[3].warnings.join('\n'), /absolute path/);
  assert.equal(data.size, 4);
});

test('a stored member is a slice: opening a small member of a 20 MB archive reads little', async () => {
  py(`import sys, zipfile
with zipfile.ZipFile(sys.argv[1] + '/large.zip', 'w') as z:
    z.writestr('archive/data/0', b'\\x00' * (20 * 1024 * 1024))
    z.writestr('archive/data.pkl', bytes([0x80,2,0x7d,0x71,0,0x2e]))
    z.writestr('archive/data/1', b'\\x01' * (1024 * 1024))
`);
  const src = await FileSource.open(join(dir, 'large.zip'));
  try {
    assert.ok(src.size > 21 * 1024 * 1024);
    const zd = await readZipDirectory(src, DEFAULT_LIMITS);
    const pkl = zd.entries.find((e) => e.name === 'archive/data.pkl');
    assert.ok(pkl);
    const member = await openZipEntry(src, zd, pkl, DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS));
    assert.deepEqual(await readAll(member), PICKLE);
    const big = await openZipEntry(src, zd, zd.entries[0], DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS));
    assert.equal(big.size, 20 * 1024 * 1024);
    const lastBytes = await big.read(big.size - 4, 100);
    assert.deepEqual(lastBytes, Buffer.alloc(4));
    assert.ok(src.bytesRead < 512 * 1024, `read ${src.bytesRead} bytes of a ${src.size}-byte archive`);
  } finally {
    await src.close();
  }
});

/** A deflate stream of `mib` MiB of zeros built from one compressed block, in well under a second. */
function zeroBomb(mib: number): Buffer {
  const block = zlib.deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: zlib.constants.Z_FULL_FLUSH, level: 9 });
  return Buffer.concat([...Array.from({ length: mib }, () => block), Buffer.from([0x03, 0x00])]);
}

/** A zip whose single deflated member is `deflated`, declaring `declared` uncompressed bytes. */
function rawDeflateZip(deflated: Buffer, declared: number): Buffer {
  const b = buildZip([{ name: 'bomb.pkl', data: Buffer.alloc(0), method: 0 }]);
  // Re-assemble with the prepared stream: patch method, sizes and data.
  const name = Buffer.from('bomb.pkl');
  const lh = Buffer.from(b.subarray(0, 30));
  lh.writeUInt16LE(8, 8);
  lh.writeUInt32LE(deflated.length, 18);
  lh.writeUInt32LE(declared, 22);
  const ch = Buffer.from(b.subarray(30 + name.length, 30 + name.length + 46));
  ch.writeUInt16LE(8, 10);
  ch.writeUInt32LE(deflated.length, 20);
  ch.writeUInt32LE(declared, 24);
  const eocd = Buffer.from(b.subarray(b.length - 22));
  eocd.writeUInt32LE(30 + name.length + deflated.length, 16);
  return Buffer.concat([lh, name, deflated, ch, name, eocd]);
}

test('a zip bomb that lies about its size stops at maxDecompressedBytes, quickly', async () => {
  const buf = rawDeflateZip(zeroBomb(1024), 1000); // 1 GiB of zeros declared as 1000 bytes
  const limits = resolveLimits({ maxDecompressedBytes: 32 * 1024 * 1024, maxCompressionRatio: 1e9 });
  const src = new BufferSource(buf);
  const zd = await readZipDirectory(src, limits);
  await assert.rejects(
    openZipEntry(src, zd, zd.entries[0], limits, new DecompressionBudget(limits)),
    (e: unknown) => e instanceof LimitExceededError && e.limit === 'maxDecompressedBytes',
  );
});

test('a zip bomb trips maxCompressionRatio while inflating', async () => {
  const buf = rawDeflateZip(zeroBomb(1024), 1000);
  const limits = resolveLimits({ maxCompressionRatio: 100 });
  const src = new BufferSource(buf);
  const zd = await readZipDirectory(src, limits);
  await assert.rejects(
    openZipEntry(src, zd, zd.entries[0], limits, new DecompressionBudget(limits)),
    (e: unknown) => e instanceof LimitExceededError && e.limit === 'maxCompressionRatio',
  );
});

test('an honestly declared oversize member is refused before inflating anything', async () => {
  const buf = rawDeflateZip(zeroBomb(4), 0xfffffff0);
  const limits = resolveLimits({ maxDecompressedBytes: 1024 * 1024 * 1024 });
  const src = new BufferSource(buf);
  const zd = await readZipDirectory(src, limits);
  const budget = new DecompressionBudget(limits);
  await assert.rejects(openZipEntry(src, zd, zd.entries[0], limits, budget), (e: unknown) => e instanceof LimitExceededError && e.limit === 'maxDecompressedBytes');
  assert.equal(budget.used, 0);
});

test('the budget spans all members of a file', async () => {
  const big = Buffer.alloc(3 * 1024 * 1024, 0x41);
  const buf = buildZip([
    { name: 'a', data: big, method: 8 },
    { name: 'b', data: big, method: 8 },
  ]);
  const limits = resolveLimits({ maxDecompressedBytes: 5 * 1024 * 1024, maxCompressionRatio: 1e9 });
  const src = new BufferSource(buf);
  const zd = await readZipDirectory(src, limits);
  const budget = new DecompressionBudget(limits);
  await openZipEntry(src, zd, zd.entries[0], limits, budget);
  assert.equal(budget.used, big.length);
  await assert.rejects(openZipEntry(src, zd, zd.entries[1], limits, budget), LimitExceededError);
});

test('too many entries trips maxEntries, even when the end record under-counts', async () => {
  const entries = Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, data: Buffer.from(String(i)) }));
  const limits = resolveLimits({ maxEntries: 10 });
  for (const eocdCount of [50, 3]) {
    await assert.rejects(
      readZipDirectory(new BufferSource(buildZip(entries, { eocdCount })), limits),
      (e: unknown) => e instanceof LimitExceededError && e.limit === 'maxEntries',
    );
  }
  const ok = await readZipDirectory(new BufferSource(buildZip(entries.slice(0, 10))), limits);
  assert.equal(ok.entries.length, 10);
});

test('an end record that under-counts: every record in the directory is listed, with a warning', async () => {
  const entries = Array.from({ length: 5 }, (_, i) => ({ name: `f${i}`, data: Buffer.from(String(i)) }));
  const zd = await readZipDirectory(new BufferSource(buildZip(entries, { eocdCount: 2 })), DEFAULT_LIMITS);
  assert.equal(zd.entries.length, 5);
  assert.match(zd.warnings.join('\n'), /end record says 2 entries but the central directory holds 5/);
});

test('data before the archive (a pickle with a zip appended) is handled as Python does', async () => {
  py(`import sys, zipfile
with zipfile.ZipFile(sys.argv[1] + '/inner.zip', 'w') as z:
    z.writestr('x/data.pkl', b'PAYLOAD')
`);
  const prefix = Buffer.concat([PICKLE, Buffer.alloc(1000, 0x20)]);
  const buf = Buffer.concat([prefix, await readFile(join(dir, 'inner.zip'))]);
  const { dir: zd, data } = await listAndRead(buf);
  assert.equal(zd.baseOffset, prefix.length);
  assert.match(zd.warnings.join('\n'), /1006 bytes precede the zip archive/);
  assert.equal(data.get('x/data.pkl')?.toString(), 'PAYLOAD');
});

test('trailing bytes after the end record and comments are tolerated', async () => {
  const withJunk = buildZip([{ name: 'a.pkl', data: PICKLE }], { trailing: Buffer.from('JUNKJUNK') });
  const r1 = await listAndRead(withJunk);
  assert.deepEqual(r1.data.get('a.pkl'), PICKLE);
  assert.match(r1.dir.warnings.join('\n'), /8 bytes follow the zip end record/);
  const withComment = buildZip([{ name: 'a.pkl', data: PICKLE }], { comment: Buffer.from('hello \x81', 'latin1') });
  const r2 = await listAndRead(withComment);
  assert.equal(r2.dir.comment, 'hello ü');
  assert.deepEqual(r2.dir.warnings, []);
});

test('unsupported methods are listed but refuse to open, naming the method', async () => {
  py(`import sys, zipfile
with zipfile.ZipFile(sys.argv[1] + '/bz.zip', 'w', compression=zipfile.ZIP_BZIP2) as z:
    z.writestr('a.pkl', b'x' * 100)
`);
  const src = new BufferSource(await readFile(join(dir, 'bz.zip')));
  const zd = await readZipDirectory(src, DEFAULT_LIMITS);
  assert.equal(zd.entries[0].method, 12);
  await assert.rejects(openZipEntry(src, zd, zd.entries[0], DEFAULT_LIMITS, new DecompressionBudget(DEFAULT_LIMITS)), /method 12 \(bzip2\) is not supported/);
});

test('not a zip: a clear error', async () => {
  await assert.rejects(readZipDirectory(new BufferSource(Buffer.from('just some text')), DEFAULT_LIMITS), /no zip end-of-central-directory record/);
  const cut = buildZip([{ name: 'a.pkl', data: PICKLE }]);
  // An end record pointing past the end of the file is no end record.
  const past = Buffer.from(cut);
  past.writeUInt32LE(0xffffff00, past.length - 6);
  await assert.rejects(readZipDirectory(new BufferSource(past), DEFAULT_LIMITS), /no zip end-of-central-directory record/);
  // One pointing at the wrong place inside the file.
  const wrong = Buffer.from(cut);
  wrong.writeUInt32LE(0, wrong.length - 10); // central directory size
  wrong.writeUInt32LE(3, wrong.length - 6); // central directory offset
  await assert.rejects(readZipDirectory(new BufferSource(wrong), DEFAULT_LIMITS), /central directory not found \(end record at \d+ points to offset 3/);
});

test('duplicate names are reported', async () => {
  const zd = await readZipDirectory(new BufferSource(buildZip([
    { name: 'archive/data.pkl', data: PICKLE },
    { name: 'archive/data.pkl', data: Buffer.from('other') },
  ])), DEFAULT_LIMITS);
  assert.match(zd.warnings.join('\n'), /duplicate entry name "archive\/data\.pkl"/);
});

test('looksLikeZip: local header at 0, or an end record in the tail', () => {
  const z = buildZip([{ name: 'a', data: PICKLE }]);
  assert.equal(looksLikeZip(z.subarray(0, 512), z), true);
  const appended = Buffer.concat([PICKLE, z]);
  assert.equal(looksLikeZip(appended.subarray(0, 512), appended, appended.length), true);
  assert.equal(looksLikeZip(PICKLE, PICKLE), false);
  assert.equal(looksLikeZip(Buffer.from('PK\x05'), Buffer.from('PK\x05\x06')), false); // too short for a record
});

test('cp437 decoding matches Python', () => {
  assert.equal(decodeCp437(Buffer.from([0x41, 0x80, 0xe1, 0xff])), 'AÇß\u00a0');
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const python = execFileSync(PY, ['-c', 'import sys; sys.stdout.buffer.write(bytes(range(256)).decode("cp437").encode("utf-8"))']).toString('utf8');
  assert.equal(decodeCp437(all), python);
});

/** Never anything but Error (LimitExceededError included), never a hang. */
async function mustSettle(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    const r = await Promise.race([p.then(() => 'ok' as const, (e: unknown) => e), timeout]);
    assert.notEqual(r, 'timeout', 'reader did not settle in time');
    if (r !== 'ok') assert.ok(r instanceof Error, `threw a non-Error: ${String(r)}`);
  } finally {
    clearTimeout(timer);
  }
}

test('fuzz: mutated real zips never throw non-Errors and never hang', async () => {
  py(`import sys, zipfile
with zipfile.ZipFile(sys.argv[1] + '/fuzz.zip', 'w') as z:
    z.writestr('archive/data.pkl', bytes([0x80,2,0x7d,0x71,0,0x2e]))
    z.writestr('archive/text.txt', b'hello ' * 200, compress_type=zipfile.ZIP_DEFLATED)
    with z.open('archive/z64', 'w', force_zip64=True) as f:
        f.write(b'q' * 300)
`);
  const seed = await readFile(join(dir, 'fuzz.zip'));
  const limits = resolveLimits({ maxDecompressedBytes: 4 * 1024 * 1024, maxEntries: 1000 });
  const mutation = fc.record({
    edits: fc.array(fc.tuple(fc.nat({ max: seed.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }),
    cut: fc.option(fc.nat({ max: seed.length }), { nil: undefined }),
    prefix: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
  });
  await fc.assert(
    fc.asyncProperty(mutation, async ({ edits, cut, prefix }) => {
      let buf = Buffer.from(seed);
      for (const [pos, v] of edits) buf[pos] = v;
      if (cut !== undefined) buf = buf.subarray(0, cut);
      if (prefix) buf = Buffer.concat([Buffer.from(prefix), buf]);
      const src = new BufferSource(buf);
      const work = (async () => {
        const zd = await readZipDirectory(src, limits);
        const budget = new DecompressionBudget(limits);
        for (const e of zd.entries) {
          try {
            const m = await openZipEntry(src, zd, e, limits, budget);
            await m.read(0, Math.min(m.size, 1 << 20));
          } catch (err) {
            if (!(err instanceof Error)) throw err;
          }
        }
      })();
      await mustSettle(work, 5000);
    }),
    { numRuns: 400 },
  );
});
