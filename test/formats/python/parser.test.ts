/** The tree-sitter wrapper: plain trees, UTF-16 offsets, error recovery, no stack overflow on deep nesting. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldOf, indentDepth, namedChildren, parsePython, type PyNode } from '../../../src/formats/python/parser.js';

function find(n: PyNode, type: string): PyNode | undefined {
  if (n.type === type) return n;
  for (const c of n.children) {
    const r = find(c, type);
    if (r) return r;
  }
  return undefined;
}

test('parses into named nodes with fields and UTF-16 offsets', async () => {
  const text = 'x = "é"\nos.system("id")\n';
  const { root, errors } = await parsePython(text);
  assert.equal(root.type, 'module');
  assert.deepEqual(errors, []);
  const call = find(root, 'call')!;
  assert.equal(text.slice(call.start, call.end), 'os.system("id")');
  const fn = fieldOf(call, 'function')!;
  assert.equal(fn.type, 'attribute');
  assert.equal(text.slice(fieldOf(fn, 'attribute')!.start, fieldOf(fn, 'attribute')!.end), 'system');
  assert.equal(namedChildren(fieldOf(call, 'arguments')!).length, 1);
});

test('Python 2 statements parse; broken code yields ERROR nodes but keeps the rest', async () => {
  const py2 = await parsePython('print "x"\nexec "y" in d\n');
  assert.ok(find(py2.root, 'print_statement'));
  assert.ok(find(py2.root, 'exec_statement'));
  const broken = await parsePython('def f(:\n  pass\nimport os\nos.system("id")\n');
  assert.ok(broken.errors.length > 0);
  assert.ok(find(broken.root, 'call'), 'the call after the error is still in the tree');
});

test('deeply nested input does not overflow the stack', async () => {
  const depth = 5000;
  const { root } = await parsePython('x = ' + '('.repeat(depth) + '1' + ')'.repeat(depth) + '\n');
  assert.equal(root.type, 'module');
});

test('the parser is reused across calls (one start per process)', async () => {
  const t0 = performance.now();
  for (let i = 0; i < 50; i++) await parsePython(`x${i} = ${i}\n`);
  assert.ok(performance.now() - t0 >= 0);
});

test('indentation depth as the tokenizer counts it', () => {
  assert.equal(indentDepth('a\nif x:\n    b\n    if y:\n        c\nd\n'), 2);
  assert.equal(indentDepth('x = [\n\n  # comment\n]\n'), 0, 'blank and comment lines do not count');
  assert.equal(indentDepth('x = [\n    1,\n]\n'), 1, 'continuation lines count (an over-estimate is harmless)');
  assert.equal(indentDepth(''), 0);
});
