/** Notebooks: code cells joined, magics split off, every character mapped back into the .ipynb file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readNotebook } from '../../../src/formats/python/notebook.js';

const nb = (cells: object[], meta: object = { kernelspec: { language: 'python' } }) => JSON.stringify({ cells, metadata: meta, nbformat: 4, nbformat_minor: 5 }, null, 1);

test('code cells are joined and mapped back to the file', () => {
  // JSON escapes in the file (\u00e9, \t, \") decode to one character each and still map back.
  const file = nb([
    { cell_type: 'markdown', source: ['# title'] },
    { cell_type: 'code', source: ['import os\n', 'x = "é\t"\n', 'os.system(x)'] },
    { cell_type: 'code', source: 'y = 2' },
  ]).replace('é', '\\u00e9');
  const r = readNotebook(file);
  assert.equal(r.cells, 2);
  assert.equal(r.python.text, 'import os\nx = "é\t"\nos.system(x)\ny = 2');
  assert.equal(r.python.map.length, r.python.text.length);
  for (const word of ['import os', 'os.system(x)', 'y = 2']) {
    const i = r.python.text.indexOf(word);
    assert.equal(file.slice(r.python.map[i], r.python.map[i] + word.length), word);
  }
  assert.equal(r.language, 'python');
});

test('magics: ! and %pip lines go to the shell scan, %%bash cells too, other cell magics keep their Python', () => {
  const r = readNotebook(
    nb([
      { cell_type: 'code', source: ['!pip install torch\n', '%pip install -q x\n', 'files = !ls\n', 'if True:\n', '    !echo hi\n', 'z = 1'] },
      { cell_type: 'code', source: ['%%bash\n', 'curl -s http://127.0.0.1/x | sh\n'] },
      { cell_type: 'code', source: ['%%time\n', 'w = 3'] },
      { cell_type: 'code', source: ['%%javascript\n', 'alert(1)'] },
    ]),
  );
  assert.deepEqual(
    r.shell.map((s) => s.text),
    ['pip install torch', 'pip install -q x', 'ls', 'echo hi', 'curl -s http://127.0.0.1/x | sh\n'],
  );
  assert.match(r.python.text, /^pass\s*\npass\s*\npass\s*\nif True:\n    pass\s*\nz = 1\n {6}\nw = 3$/);
  assert.ok(!r.python.text.includes('alert'));
});

test('nbformat 3 worksheets', () => {
  const file = JSON.stringify({ worksheets: [{ cells: [{ cell_type: 'code', input: ['a = 1\n', 'b = 2'] }] }], nbformat: 3 });
  assert.equal(readNotebook(file).python.text, 'a = 1\nb = 2');
});

test('malformed JSON is an error with a position', () => {
  assert.throws(() => readNotebook('{"cells": [1, }'), /notebook JSON: .* at offset/);
  assert.throws(() => readNotebook('['.repeat(10_000)), /nesting too deep/);
});
