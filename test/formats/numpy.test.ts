import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { descrHasObjects, looksLikeNpy, parsePyLiteral, PyDict, PyList, PyTuple, readNpyHeader } from '../../src/formats/numpy.js';
import { BufferSource, FileSource } from '../../src/formats/source.js';

let dir: string;
/** name -> header end offset as numpy itself reports it. */
let numpyOffsets: Record<string, number>;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ptmscope-npy-'));
  // Benign arrays only; object arrays hold plain ints/strings.
  const out = execFileSync('/usr/bin/python3', ['-c', `import json, sys, numpy as np
from numpy.lib import format as F
d = sys.argv[1]
def save(name, arr, version=None, **kw):
    with open(f'{d}/{name}', 'wb') as f:
        if version is None:
            np.save(f, arr, **kw)
        else:
            F.write_array(f, arr, version=version, allow_pickle=True)
save('v1.npy', np.arange(12, dtype='<f4').reshape(3, 4))
save('v2.npy', np.zeros((2, 5), dtype='>i8'), version=(2, 0))
save('v3.npy', np.zeros(3, dtype=[('\\u00e9t\\u00e9', '<f4'), ('n', '<i2')]), version=(3, 0))
save('fortran.npy', np.asfortranarray(np.ones((4, 2), dtype='<f8')))
save('object.npy', np.array([1, 'two', None], dtype=object), allow_pickle=True)
save('structobj.npy', np.zeros(2, dtype=[('a', '<i4'), ('b', 'O')]), allow_pickle=True)
save('nested.npy', np.zeros(2, dtype=[('p', [('x', '<f4'), ('y', 'O')]), ('q', '<u1', (2, 3))]), allow_pickle=True)
save('scalar.npy', np.float64(3.5))
offs = {}
for name in ['v1.npy', 'v2.npy', 'v3.npy', 'fortran.npy', 'object.npy', 'structobj.npy', 'nested.npy', 'scalar.npy']:
    with open(f'{d}/{name}', 'rb') as f:
        v = F.read_magic(f)
        F._read_array_header(f, v, max_header_size=10**6)
        offs[name] = f.tell()
print(json.dumps(offs))
`, dir]);
  numpyOffsets = JSON.parse(out.toString()) as Record<string, number>;
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function header(name: string) {
  const src = await FileSource.open(join(dir, name));
  try {
    return await readNpyHeader(src);
  } finally {
    await src.close();
  }
}

test('version 1.0, 2.0 and 3.0 headers written by numpy', async () => {
  const v1 = await header('v1.npy');
  assert.deepEqual([v1.version, v1.descr, v1.fortranOrder, v1.shape, v1.hasObjects], [[1, 0], '<f4', false, [3, 4], false]);
  assert.equal(v1.headerEnd, numpyOffsets['v1.npy']);
  assert.equal(v1.dataLength, 48);
  assert.deepEqual(v1.warnings, []);

  const v2 = await header('v2.npy');
  assert.deepEqual([v2.version, v2.descr, v2.shape, v2.hasObjects, v2.dataLength], [[2, 0], '>i8', [2, 5], false, 80]);
  assert.equal(v2.headerEnd, numpyOffsets['v2.npy']);

  const v3 = await header('v3.npy');
  assert.deepEqual(v3.version, [3, 0]);
  assert.deepEqual(v3.descr, [['été', '<f4'], ['n', '<i2']]);
  assert.equal(v3.hasObjects, false);
  assert.equal(v3.headerEnd, numpyOffsets['v3.npy']);

  const f = await header('fortran.npy');
  assert.equal(f.fortranOrder, true);
  const s = await header('scalar.npy');
  assert.deepEqual([s.shape, s.dataLength], [[], 8]);
});

test('object dtypes are detected, including fields of structured dtypes', async () => {
  for (const name of ['object.npy', 'structobj.npy', 'nested.npy']) {
    const h = await header(name);
    assert.equal(h.hasObjects, true, name);
    assert.equal(h.headerEnd, numpyOffsets[name], name);
    // The pickle starts right after the header.
    const buf = await readFile(join(dir, name));
    assert.equal(buf[h.headerEnd], 0x80, `${name}: PROTO opcode at the data offset`);
  }
  assert.deepEqual((await header('object.npy')).descr, '|O');
  for (const d of ['O', '|O', '<O8', 'object', 'i4,O', '(2,)O']) assert.equal(descrHasObjects(d), true, d);
  for (const d of ['<f4', '|b1', '<M8[ns]', '|S10', '<U3', '|V16', 'bool']) assert.equal(descrHasObjects(d), false, d);
  // Field names are not dtypes.
  const fields = (text: string) => parsePyLiteral(text);
  assert.equal(descrHasObjects(fields("[('Output', '<f4'), (('Title O', 'n'), '<i2', (2,))]")), false);
  assert.equal(descrHasObjects(fields("[('a', '<f4'), ('b', [('c', '|O')])]")), true);
  assert.equal(descrHasObjects(fields("('|O', (2,))")), true);
});

function npy(headerText: string, version: [number, number] = [1, 0], data = Buffer.alloc(0)): Buffer {
  const h = Buffer.from(headerText, version[0] === 3 ? 'utf8' : 'latin1');
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version[0], version[1]]);
  const len = Buffer.alloc(version[0] === 1 ? 2 : 4);
  if (version[0] === 1) len.writeUInt16LE(h.length);
  else len.writeUInt32LE(h.length);
  return Buffer.concat([pre, len, h, data]);
}

test('hand-built headers: the literal forms numpy and Python 2 wrote', async () => {
  const h = await readNpyHeader(new BufferSource(npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2L, 3L), }   \n", [1, 0], Buffer.alloc(24))));
  assert.deepEqual(h.shape, [2, 3]);
  assert.deepEqual(h.warnings, []);
  const dq = await readNpyHeader(new BufferSource(npy('{"descr": "|O", "shape": (), "fortran_order": True}\n')));
  assert.equal(dq.hasObjects, true);
  assert.equal(dq.fortranOrder, true);
});

test('bad headers are rejected with clear errors', async () => {
  const good = await readFile(join(dir, 'v1.npy'));
  const cases: [Buffer, RegExp][] = [
    [good.subarray(0, 40), /header claims \d+ bytes but the file ends at 40; the file is truncated/],
    [good.subarray(0, 9), /not a \.npy file/],
    [Buffer.from('not numpy at all'), /not a \.npy file/],
    [Buffer.concat([good.subarray(0, 6), Buffer.from([4, 0]), good.subarray(8)]), /unsupported \.npy format version 4\.0/],
    [Buffer.concat([good.subarray(0, 6), Buffer.from([2, 0]), good.subarray(8, 10)]), /truncated|claims/],
    [npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,) \n"), /not a valid Python literal: expected ',' or '}'/],
    [npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}\n"), /exactly the keys descr, fortran_order and shape/],
    [npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (3,)}\n"), /fortran_order is not True\/False/],
    [npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3)}\n"), /shape is not a tuple/],
    [npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}\n"), /not a non-negative integer/],
    [npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)} junk\n"), /unexpected text after the literal/],
    [npy("{'descr': __import__('os'), 'fortran_order': False, 'shape': (3,)}\n"), /unexpected character "_"/],
    [npy("{'descr': 5, 'fortran_order': False, 'shape': (3,)}\n"), /descr is number 5/],
    [npy("['descr', 'fortran_order', 'shape']\n"), /header is not a dict/],
    [npy('{"descr": "<f4\n'), /newline in string/],
    [npy('{"descr": "\u00e9", "fortran_order": False, "shape": ()}\n', [3, 0]).fill(0xff, 12, 13), /not valid UTF-8/],
    [npy(`${'['.repeat(200)}${']'.repeat(200)}\n`), /nesting too deep/],
  ];
  for (const [buf, re] of cases) {
    await assert.rejects(readNpyHeader(new BufferSource(buf, 'x.npy')), re, re.source);
  }
});

test('duplicate keys: the last wins as in Python, with a warning', async () => {
  const h = await readNpyHeader(new BufferSource(npy("{'descr': '<f4', 'descr': '|O', 'fortran_order': False, 'shape': (1,)}\n")));
  assert.equal(h.descr, '|O');
  assert.equal(h.hasObjects, true);
  assert.match(h.warnings.join('\n'), /duplicate key "descr"/);
});

test('truncated data and trailing bytes are noted', async () => {
  const short = await readNpyHeader(new BufferSource(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (10,)}\n", [1, 0], Buffer.alloc(16))));
  assert.match(short.warnings.join('\n'), /array data is truncated: 80 bytes expected, 16 present/);
  const long = await readNpyHeader(new BufferSource(npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2,)}\n", [1, 0], Buffer.alloc(10))));
  assert.match(long.warnings.join('\n'), /8 bytes follow the array data/);
});

test('parsePyLiteral', () => {
  const t = parsePyLiteral("(1, 'a', \"b\\\\n\\x41\\u00e9\", True, None, [2, (3,)], (), -4, 1.5e3)");
  assert.ok(t instanceof PyTuple);
  assert.deepEqual(t.items.slice(0, 5), [1, 'a', 'b\\nAé', true, null]);
  assert.ok(t.items[5] instanceof PyList);
  assert.ok((t.items[5] as PyList).items[1] instanceof PyTuple);
  assert.deepEqual((t.items[6] as PyTuple).items, []);
  assert.deepEqual(t.items.slice(7), [-4, 1500]);
  assert.equal(parsePyLiteral('(7)'), 7);
  assert.equal(parsePyLiteral("b'\\x00'"), '\x00');
  const d = parsePyLiteral("{'a': 1, 'b': {'c': [1, 2,],},}");
  assert.ok(d instanceof PyDict);
  assert.throws(() => parsePyLiteral('99999999999999999999'), /too large/);
  assert.throws(() => parsePyLiteral("'abc"), /unterminated string/);
  assert.throws(() => parsePyLiteral('{[1]: 2}'), /unhashable/);
  assert.throws(() => parsePyLiteral(''), /unexpected end/);
});

test('looksLikeNpy', async () => {
  assert.equal(looksLikeNpy(await readFile(join(dir, 'v1.npy'))), true);
  assert.equal(looksLikeNpy(Buffer.from('\x93NUMPY\x09\x00', 'latin1')), false);
  assert.equal(looksLikeNpy(Buffer.from('PK\x03\x04')), false);
});

test('fuzz: mutated real headers never throw non-Errors and never hang', async () => {
  const seeds = await Promise.all(['v1.npy', 'v3.npy', 'nested.npy', 'structobj.npy'].map((n) => readFile(join(dir, n))));
  const arb = fc.record({
    seed: fc.nat({ max: seeds.length - 1 }),
    edits: fc.array(fc.tuple(fc.nat({ max: 200 }), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
    cut: fc.option(fc.nat({ max: 300 }), { nil: undefined }),
  });
  await fc.assert(
    fc.asyncProperty(arb, async ({ seed, edits, cut }) => {
      let buf = Buffer.from(seeds[seed]);
      for (const [pos, v] of edits) if (pos < buf.length) buf[pos] = v;
      if (cut !== undefined) buf = buf.subarray(0, cut);
      try {
        const h = await readNpyHeader(new BufferSource(buf));
        assert.ok(h.headerEnd <= buf.length);
      } catch (e) {
        assert.ok(e instanceof Error, `threw a non-Error: ${String(e)}`);
        if (e instanceof assert.AssertionError) throw e;
      }
    }),
    { numRuns: 1000 },
  );
});
