/**
 * The marshal reader against real marshal.dumps() output of Python 2.7 and
 * 3.6–3.13 (test/fixtures/keras/marshal, made by generate.py with pyenv's
 * interpreters), plus hand-built streams for the types and the failure modes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { decodeKerasFunctionText, MarshalError, readMarshal, scavengeStrings, summarizeCode, type MarshalValue } from '../../src/formats/python-marshal.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DIR = join(ROOT, 'test/fixtures/keras/marshal');

const vectors = readdirSync(DIR)
  .filter((f) => f.endsWith('.bin'))
  .map((f) => {
    const [version, kind] = f.replace(/\.bin$/, '').split('-');
    return { file: f, version, kind, bytes: readFileSync(join(DIR, f)) };
  });

const LAYOUT: Record<string, string> = {
  '2.7': 'py2',
  '3.6': 'py3.0-3.7',
  '3.7': 'py3.0-3.7',
  '3.8': 'py3.8-3.10',
  '3.9': 'py3.8-3.10',
  '3.10': 'py3.8-3.10',
  '3.11': 'py3.11+',
  '3.12': 'py3.11+',
  '3.13': 'py3.11+',
};
const followed = (v: string): boolean => !['2.7', '3.6', '3.7'].includes(v);

function code(v: MarshalValue) {
  assert.equal(v.t, 'code');
  return (v as Extract<MarshalValue, { t: 'code' }>).code;
}

test('vectors from every interpreter version are present', () => {
  const versions = new Set(vectors.map((v) => v.version));
  for (const v of Object.keys(LAYOUT)) assert.ok(versions.has(v), `missing marshal vectors for Python ${v}`);
});

for (const v of vectors) {
  test(`Python ${v.version} ${v.kind}: parses to the end with the ${LAYOUT[v.version]} layout`, () => {
    const { value, end } = readMarshal(v.bytes);
    assert.equal(end, v.bytes.length);
    const c = code(value);
    assert.equal(c.layout, LAYOUT[v.version]);
    assert.equal(c.name, '<lambda>');
    const s = summarizeCode(c);
    assert.equal(Boolean(s.bytecode), followed(v.version), `bytecode followed: ${s.bytecode}`);
    if (v.kind === 'os_import') {
      assert.ok(s.names.includes('__import__') && s.names.includes('system'), s.names.join());
      assert.ok(s.strings.includes('os') && s.strings.includes('touch /tmp/ptmscope_marker'));
      if (followed(v.version)) assert.ok(s.chains.includes('os.system') && s.chains.includes('__import__'), s.chains.join());
    }
    if (v.kind === 'os_global' && followed(v.version)) {
      assert.deepEqual(s.chains, ['os.system']);
      assert.deepEqual(s.globals, ['os']);
    }
    if (v.kind === 'benign_nested') {
      // The list comprehension (up to 3.11) and the inner lambda are nested code objects.
      assert.ok(s.codeObjects >= 2, `code objects: ${s.codeObjects}`);
      if (followed(v.version)) {
        assert.ok(s.chains.includes('K.eval'), s.chains.join());
        assert.ok(!s.globals.includes('eval'), 'K.eval is an attribute, not the eval builtin');
      }
    }
    if (v.kind === 'bare_system' && followed(v.version)) assert.deepEqual(s.globals, ['system']);
  });
}

/** A tiny marshal writer for the cases real dumps do not show. */
const w = {
  i32: (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    return b;
  },
  str: (s: string, ref = false) => Buffer.concat([Buffer.from([0x7a | (ref ? 0x80 : 0), s.length]), Buffer.from(s, 'latin1')]),
  tuple: (...items: Buffer[]) => Buffer.concat([Buffer.from([0x29, items.length]), ...items]),
};

test('refs, dicts, sets, longs, floats and complex numbers', () => {
  const b = Buffer.concat([
    Buffer.from('(', 'latin1'),
    w.i32(8),
    w.str('os', true), // ref 0
    Buffer.from('r', 'latin1'),
    w.i32(0),
    Buffer.from('{', 'latin1'),
    w.str('k'),
    Buffer.from('N0', 'latin1'),
    Buffer.from('<', 'latin1'),
    w.i32(1),
    Buffer.from('T', 'latin1'),
    Buffer.from('l', 'latin1'),
    w.i32(-2),
    Buffer.from([0x01, 0x00, 0x01, 0x00]), // -(1 + 2**15)
    Buffer.from('g', 'latin1'),
    Buffer.from(new Float64Array([1.5]).buffer),
    Buffer.from('y', 'latin1'),
    Buffer.from(new Float64Array([1, -2]).buffer),
    Buffer.from('f\x043.25', 'latin1'),
  ]);
  const { value, end } = readMarshal(b);
  assert.equal(end, b.length);
  assert.equal(value.t, 'tuple');
  const items = (value as Extract<MarshalValue, { items: MarshalValue[] }>).items;
  assert.deepEqual(items[0], { t: 'str', v: 'os' });
  assert.equal(items[1], items[0], 'a ref returns the stored object');
  assert.deepEqual(items[2], { t: 'dict', entries: [[{ t: 'str', v: 'k' }, { t: 'none' }]] });
  assert.deepEqual(items[3], { t: 'set', items: [{ t: 'bool', v: true }] });
  assert.deepEqual(items[4], { t: 'int', v: -(1n + (1n << 15n)) });
  assert.deepEqual(items[5], { t: 'float', v: 1.5 });
  assert.deepEqual(items[6], { t: 'complex', re: 1, im: -2 });
  assert.deepEqual(items[7], { t: 'float', v: 3.25 });
});

test('malformed streams fail with MarshalError and an offset', () => {
  const bad: Array<[string, Buffer, RegExp]> = [
    ['unknown type', Buffer.from('?'), /unknown marshal type/],
    ['truncated string', Buffer.concat([Buffer.from('s'), w.i32(100), Buffer.from('abc')]), /cannot fit|truncated/],
    ['negative length', Buffer.concat([Buffer.from('s'), w.i32(-5)]), /negative/],
    ['ref out of range', Buffer.concat([Buffer.from('r'), w.i32(3)]), /reference 3/],
    ['huge tuple', Buffer.concat([Buffer.from('('), w.i32(0x7fffffff)]), /cannot fit/],
    ['NULL in a tuple', Buffer.from([0x29, 1, 0x30]), /NULL inside/],
    ['code matching no layout', Buffer.concat([Buffer.from('c'), Buffer.alloc(40, 0x41)]), /no known Python layout/],
    ['empty input', Buffer.alloc(0), /truncated/],
  ];
  for (const [what, b, re] of bad) {
    assert.throws(() => readMarshal(b), (e: unknown) => e instanceof MarshalError && re.test(e.message) && e.offset >= 0, what);
  }
});

test('nesting and object counts are bounded', () => {
  const deep = Buffer.concat([...Array.from({ length: 500 }, () => Buffer.from([0x29, 1])), Buffer.from('N')]);
  assert.throws(() => readMarshal(deep), /nested deeper than 200/);
  assert.equal(readMarshal(deep, { maxDepth: 1000 }).end, deep.length);
  const wide = Buffer.concat([Buffer.from('['), w.i32(5000), Buffer.alloc(5000, 0x4e)]);
  assert.throws(() => readMarshal(wide, { maxObjects: 1000 }), /more than 1000 objects/);
});

test('a self-referencing container does not loop the summary', () => {
  // A list that contains itself (ref 0 reserved for the list before its items).
  const b = Buffer.concat([Buffer.from([0x5b | 0x80]), w.i32(2), Buffer.from('r'), w.i32(0), Buffer.from('N')]);
  const { value } = readMarshal(b);
  const items = (value as Extract<MarshalValue, { items: MarshalValue[] }>).items;
  assert.equal(items[0], value);
  const os = vectors.find((v) => v.version === '3.11' && v.kind === 'os_import')!;
  const c = code(readMarshal(os.bytes).value);
  c.consts.push(value);
  assert.ok(summarizeCode(c).strings.includes('os'));
});

test('Keras function text: base64 as Python decodes it, else the raw characters', () => {
  const raw = Buffer.from([0xe3, 0, 1, 2, 0xff, 0x10]);
  // codecs.encode(raw, 'base64') wraps lines; Python skips the newlines.
  assert.deepEqual(decodeKerasFunctionText(`${raw.toString('base64')}\n`), { bytes: raw, encoding: 'base64' });
  assert.deepEqual(decodeKerasFunctionText('4wAB\nAv8Q\n'), { bytes: raw, encoding: 'base64' });
  // Data after complete padding is ignored, as binascii does.
  assert.deepEqual(decodeKerasFunctionText('4wA=garbage').bytes, Buffer.from([0xe3, 0]));
  // "Incorrect padding" and non-ASCII text fall back to raw_unicode_escape of the string.
  assert.deepEqual(decodeKerasFunctionText('abcde'), { bytes: Buffer.from('abcde', 'latin1'), encoding: 'raw' });
  assert.deepEqual(decodeKerasFunctionText('\u00e3\u0100').bytes, Buffer.from('\u00e3\\u0100', 'latin1'));
});

test('string scavenging finds names in marshal data it cannot parse', () => {
  const os = vectors.find((v) => v.version === '3.11' && v.kind === 'os_import')!;
  const broken = Buffer.concat([Buffer.from([0xe3, 0xff, 0xff]), os.bytes.subarray(30)]);
  const found = scavengeStrings(broken);
  assert.ok(found.includes('system') && found.includes('touch /tmp/ptmscope_marker'), found.join(' | '));
});

test('mutated real code objects only ever throw MarshalError', () => {
  const pool = vectors.map((v) => v.bytes);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: pool.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.nat(), (i, edits, cut) => {
      const b = Buffer.from(pool[i]);
      for (const [at, v] of edits) b[at % b.length] = v;
      const input = cut % 3 === 0 ? b.subarray(0, cut % b.length) : b;
      try {
        const { value } = readMarshal(input);
        if (value.t === 'code') summarizeCode(value.code);
      } catch (e) {
        if (!(e instanceof MarshalError)) throw e;
      }
    }),
    { numRuns: 2000 },
  );
});
