import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, symlink, rm } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { walk } from '../../src/scan/walk.js';

async function tree(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'ptmscope-walk-'));
  await mkdir(join(root, 'models', 'deep'), { recursive: true });
  await mkdir(join(root, '.git', 'objects'), { recursive: true });
  await writeFile(join(root, 'models', 'b.pt'), 'x');
  await writeFile(join(root, 'models', 'a.pkl'), 'x');
  await writeFile(join(root, 'models', 'deep', 'c.bin'), 'x');
  await writeFile(join(root, '.git', 'objects', 'blob.pkl'), 'x');
  await writeFile(join(root, 'README.md'), 'x');
  return root;
}

test('expands directories recursively, sorted, skipping .git; named files are explicit', async () => {
  const root = await tree();
  try {
    const r = await walk([root, join(root, 'README.md')]);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      r.files.map((f) => [f.path.slice(root.length + 1), f.explicit]),
      [
        ['README.md', true], // found by walking first, then named: named wins
        ['models/a.pkl', false],
        ['models/b.pt', false],
        ['models/deep/c.bin', false],
      ],
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a missing path is an error record, not a throw, and the rest is still walked', async () => {
  const root = await tree();
  try {
    const missing = join(root, 'nope.pt');
    const r = await walk([missing, join(root, 'models', 'a.pkl')]);
    assert.equal(r.files.length, 1);
    assert.equal(r.files[0].explicit, true);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].file, missing);
    assert.match(r.errors[0].message, /no such file or directory/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('symlink loops end; links out of the tree are not followed; linked files inside are scanned once', async () => {
  const root = await tree();
  const outside = await mkdtemp(join(tmpdir(), 'ptmscope-walk-out-'));
  try {
    await writeFile(join(outside, 'secret.pkl'), 'x');
    await symlink(root, join(root, 'models', 'loop')); // loop back to the root
    await symlink(outside, join(root, 'models', 'out')); // directory outside the tree
    await symlink(join(root, 'models', 'a.pkl'), join(root, 'alias.pkl')); // same file twice
    await symlink(join(outside, 'secret.pkl'), join(root, 'file-out.pkl')); // a file link is scanned
    await symlink(join(root, 'gone'), join(root, 'dangling.pkl'));
    const r = await walk([root]);
    assert.deepEqual(r.errors, []);
    const rel = r.files.map((f) => f.path.slice(root.length + 1));
    assert.deepEqual(rel, ['README.md', 'alias.pkl', 'file-out.pkl', 'models/b.pt', 'models/deep/c.bin']);
    assert.ok(!rel.some((p) => p.includes('secret') && p.startsWith('models/out')));
  } finally {
    await rm(root, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  }
});

test('FIFOs are an error when named and ignored when found', async (t) => {
  const root = await tree();
  try {
    const fifo = join(root, 'models', 'pipe.pkl');
    try {
      execFileSync('mkfifo', [fifo]);
    } catch {
      t.skip('mkfifo not available');
      return;
    }
    const walked = await walk([root]);
    assert.ok(!walked.files.some((f) => f.path === fifo));
    assert.deepEqual(walked.errors, []);
    const named = await walk([fifo]);
    assert.equal(named.files.length, 0);
    assert.equal(named.errors.length, 1);
    assert.match(named.errors[0].message, /not a regular file/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('the same file named twice is listed once', async () => {
  const root = await tree();
  try {
    const a = join(root, 'models', 'a.pkl');
    const r = await walk([a, a]);
    assert.equal(r.files.length, 1);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
