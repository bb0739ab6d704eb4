/** Static decoders: what CPython's base64/binascii/codecs/zlib/bz2/marshal give, never more than the cap. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import {
  MAX_DECODED,
  a85decode,
  b32decode,
  b64decode,
  b85decode,
  bz2Decompress,
  entropy,
  hexdecode,
  looksPacked,
  readMarshal,
  rot13,
  unquote,
  urlsafeB64decode,
  zlibDecompress,
} from '../../../src/formats/python/decoders.js';

const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));

test('base64 family', () => {
  assert.equal(b64decode('aGVsbG8=').toString(), 'hello');
  assert.equal(b64decode('aGVs\nbG8=').toString(), 'hello', 'non-alphabet characters are discarded like validate=False');
  assert.equal(urlsafeB64decode('-_8=').toString('hex'), 'fbff');
  assert.equal(b32decode('NBSWY3DP').toString(), 'hello');
  // Values from CPython: base64.b85encode(b'hello') and base64.a85encode(b'hello')
  assert.equal(b85decode('Xk~0{Zv').toString(), 'hello');
  assert.equal(a85decode('BOu!rDZ').toString(), 'hello');
  assert.equal(hexdecode('68 65 6c6c 6f').toString(), 'hello');
  assert.throws(() => hexdecode('6'));
});

test('rot13 and percent-decoding', () => {
  assert.equal(rot13('Uryyb, jbeyq'), 'Hello, world');
  assert.equal(unquote('%2Fbin%2Fsh+x'), '/bin/sh+x');
  assert.equal(unquote('a+b', true), 'a b');
});

test('zlib with wbits, bz2, and the output cap', () => {
  const data = Buffer.from('import os\n'.repeat(100));
  assert.deepEqual(zlibDecompress(zlib.deflateSync(data)), data);
  assert.deepEqual(zlibDecompress(zlib.deflateRawSync(data), -15), data);
  assert.deepEqual(zlibDecompress(zlib.gzipSync(data), 31), data);
  assert.deepEqual(bz2Decompress(execFileSync('bzip2', ['-c'], { input: data })), data);
  const bomb = zlib.deflateSync(Buffer.alloc(MAX_DECODED + 1024));
  assert.throws(() => zlibDecompress(bomb), /zlib/);
});

test('entropy and packed-literal signal', () => {
  assert.ok(entropy('aaaa') === 0);
  assert.ok(looksPacked(Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7919) % 251)).toString('base64')));
  assert.ok(!looksPacked('This is an ordinary docstring that explains what the function does, in plain English words. '.repeat(3)));
});

test('marshal: names and strings of a code object, read without running it', () => {
  // The fixture holds base64(zlib(marshal.dumps(compile(payload)))) made by CPython 3.11.
  const src = readFileSync(join(ROOT, 'test/fixtures/python/malicious/zlib_marshal_exec.py'), 'utf8');
  const blob = /_BLOB = "([^"]+)"/.exec(src)![1];
  const info = readMarshal(zlib.inflateSync(Buffer.from(blob, 'base64')));
  assert.equal(info.parsed, true);
  assert.deepEqual(info.names, ['os', 'system']);
  assert.ok(info.strings.includes('touch /tmp/ptmscope_marker'));
  const junk = readMarshal(Buffer.from('\xe3garbage system touch', 'latin1'));
  assert.equal(junk.parsed, false);
  assert.ok(junk.names.includes('system'));
});
