import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { sniffContainers, type ContainerFormat } from '../../src/formats/sniff.js';
import { BufferSource } from '../../src/formats/source.js';

const PY = '/usr/bin/python3';
// A protocol-2 pickle of a dict; inert.
const PICKLE = Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x58, 0x01, 0, 0, 0, 0x61, 0x71, 0x01, 0x4b, 0x01, 0x73, 0x2e]);
let dir: string;
const samples = new Map<string, Buffer>();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ptmscope-sniff-'));
  const text = Buffer.from('model weights and such\n'.repeat(200));
  await writeFile(join(dir, 'payload'), text);
  execFileSync(PY, ['-c', `import sys, zipfile, numpy as np
d = sys.argv[1]
with zipfile.ZipFile(d + '/m.zip', 'w') as z:
    z.writestr('archive/data.pkl', bytes([0x80,2,0x7d,0x71,0,0x2e]))
np.save(d + '/a.npy', np.arange(10))
np.savez(d + '/a.npz', x=np.arange(3))
`, dir]);
  samples.set('zip', await readFile(join(dir, 'm.zip')));
  samples.set('npy', await readFile(join(dir, 'a.npy')));
  samples.set('npz', await readFile(join(dir, 'a.npz')));
  samples.set('tar', execFileSync('tar', ['-cf', '-', '-C', dir, 'payload']));
  samples.set('tgz', execFileSync('tar', ['-czf', '-', '-C', dir, 'payload']));
  samples.set('gzip', execFileSync('gzip', ['-c'], { input: text }));
  samples.set('bzip2', execFileSync('bzip2', ['-c'], { input: text }));
  samples.set('xz', execFileSync('xz', ['-c'], { input: text }));
  samples.set('zlib', zlib.deflateSync(text, { level: 3 }));
  execFileSync('7z', ['a', '-bd', '-y', join(dir, 'a.7z'), 'payload'], { cwd: dir, stdio: 'ignore' });
  samples.set('7z', await readFile(join(dir, 'a.7z')));
  samples.set('pickle', PICKLE);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sniff(buf: Buffer): Promise<ContainerFormat[]> {
  return sniffContainers(new BufferSource(buf));
}

test('each format is recognised from its bytes', async () => {
  const expected: Record<string, ContainerFormat[]> = {
    zip: ['zip'],
    npz: ['zip'],
    npy: ['npy'],
    tar: ['tar'],
    tgz: ['gzip'],
    gzip: ['gzip'],
    bzip2: ['bzip2'],
    xz: ['xz'],
    zlib: ['zlib'],
    '7z': ['7z'],
    pickle: [],
  };
  for (const [name, want] of Object.entries(expected)) {
    const buf = samples.get(name);
    assert.ok(buf, name);
    assert.deepEqual(await sniff(buf), want, name);
  }
  assert.deepEqual(await sniff(Buffer.alloc(0)), []);
  assert.deepEqual(await sniff(Buffer.alloc(4096)), []);
});

test('polyglot: a pickle followed by a zip is a zip by its end record only', async () => {
  const poly = Buffer.concat([PICKLE, samples.get('zip') as Buffer]);
  assert.notEqual(poly.readUInt32LE(0), 0x04034b50);
  assert.deepEqual(await sniff(poly), ['zip']);
});

test('polyglot: a tar whose first name starts with the zip magic is both, magic first', async () => {
  const tarZip = execFileSync(PY, ['-c', `import io, sys, tarfile
b = io.BytesIO()
with tarfile.open(fileobj=b, mode='w', format=tarfile.USTAR_FORMAT) as t:
    ti = tarfile.TarInfo('PK\\x03\\x04x'); ti.size = 1
    t.addfile(ti, io.BytesIO(b'a'))
sys.stdout.buffer.write(b.getvalue())`]);
  assert.deepEqual(await sniff(tarZip), ['zip', 'tar']);
});

test('reads only the head and the zip end-record window', async () => {
  const big = Buffer.concat([randomBytes(3 * 1024 * 1024), samples.get('zip') as Buffer]);
  const src = new BufferSource(big);
  assert.deepEqual(await sniffContainers(src), ['zip']);
  assert.ok(src.bytesRead <= 512 + 22 + 0xffff, `read ${src.bytesRead} bytes`);
});

test('fuzz: mutated samples never make sniffing throw or hang', async () => {
  const names = [...samples.keys()];
  const arb = fc.record({
    name: fc.constantFrom(...names),
    edits: fc.array(fc.tuple(fc.nat({ max: 1 << 16 }), fc.integer({ min: 0, max: 255 })), { maxLength: 16 }),
    cut: fc.option(fc.nat({ max: 1 << 16 }), { nil: undefined }),
  });
  await fc.assert(
    fc.asyncProperty(arb, async ({ name, edits, cut }) => {
      let buf = Buffer.from(samples.get(name) as Buffer);
      for (const [pos, v] of edits) if (buf.length > 0) buf[pos % buf.length] = v;
      if (cut !== undefined) buf = buf.subarray(0, cut);
      const r = await sniff(buf);
      assert.ok(Array.isArray(r));
      assert.equal(new Set(r).size, r.length);
    }),
    { numRuns: 500 },
  );
});
