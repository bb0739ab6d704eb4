/** Python literal decoding: prefixes and escapes as CPython reads them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEscapes, parsePrefix, pyRepr } from '../../../src/formats/python/strings.js';

test('prefixes', () => {
  assert.deepEqual(parsePrefix('rb"'), { raw: true, bytes: true, format: false });
  assert.deepEqual(parsePrefix("F'''"), { raw: false, bytes: false, format: true });
  assert.deepEqual(parsePrefix('"'), { raw: false, bytes: false, format: false });
});

test('escapes in text and bytes literals', () => {
  const s = { raw: false, bytes: false, format: false };
  const b = { raw: false, bytes: true, format: false };
  assert.equal(decodeEscapes('\\x6f\\163\\n\\t\\\\\\\'', s), 'os\n\t\\\'');
  assert.equal(decodeEscapes('\\u00e9\\U0001F600', s), 'é😀');
  assert.equal(decodeEscapes('\\u00e9', b), '\\u00e9', 'no \\u in bytes');
  assert.equal(decodeEscapes('\\q', s), '\\q', 'unknown escapes stay');
  assert.equal(decodeEscapes('a\\\nb', s), 'ab', 'line continuation');
  assert.equal(decodeEscapes('\\x41\\n', { raw: true, bytes: false, format: false }), '\\x41\\n');
  assert.equal(decodeEscapes('\\777', b), '\xff', 'octal escapes in bytes wrap to a byte');
});

test('repr for evidence', () => {
  assert.equal(pyRepr("it's"), '"it\'s"');
  assert.equal(pyRepr('a\nb'), "'a\\nb'");
  assert.equal(pyRepr('\x00\xff', true), "b'\\x00\\xff'");
  assert.equal(pyRepr('x'.repeat(10), false, 4), "'xxxx'…");
});
