import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferSource } from '../../src/formats/source.js';
import { DecompressionBudget } from '../../src/formats/compression.js';
import { InflatingSource } from '../../src/formats/inflating-source.js';
import { INFLATE_WHOLE_MAX, openZipEntry, readZipDirectory } from '../../src/formats/zip.js';
import { resolveLimits } from '../../src/formats/limits.js';

const MB = 1024 * 1024;

/** 24 MiB that compress well but differ everywhere, so misplaced bytes show. */
function pattern(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) b.writeUInt32LE((i / 4) * 2654435761 % 4096, i);
  return b;
}

const data = pattern(24 * MB);

function deflatedZip(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'ptmscope-inflate-'));
  try {
    const raw = join(dir, 'raw');
    const out = join(dir, 'x.zip');
    writeFileSync(raw, data);
    execFileSync('/usr/bin/python3', ['-c', 'import sys, zipfile\nwith zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as z: z.write(sys.argv[1], "big.bin")', raw, out]);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a large deflated member is inflated on demand, forward and backward, byte for byte', async () => {
  const zip = new BufferSource(deflatedZip());
  const limits = resolveLimits();
  const budget = new DecompressionBudget(limits);
  const dir = await readZipDirectory(zip, limits);
  assert.ok(data.length > INFLATE_WHOLE_MAX);
  const src = await openZipEntry(zip, dir, dir.entries[0], limits, budget);
  assert.ok(src instanceof InflatingSource);
  assert.equal(src.size, data.length);

  // A header read inflates a little, not the member.
  assert.deepEqual(await src.read(0, 128), data.subarray(0, 128));
  assert.ok(src.inflated < 2 * MB, `inflated ${src.inflated} bytes to read 128`);

  // Forward reads, across the kept head and into the window.
  for (const [off, len] of [[1000, 5000], [MB - 10, 20], [3 * MB, MB], [12 * MB + 7, 2 * MB]]) {
    assert.ok((await src.read(off, len)).equals(data.subarray(off, off + len)), `at ${off}`);
  }
  assert.equal(src.restarts, 0);
  // Back past the window: inflated again from the start, same bytes.
  assert.ok((await src.read(2 * MB, 4096)).equals(data.subarray(2 * MB, 2 * MB + 4096)));
  assert.equal(src.restarts, 1);
  // The head is kept, so going back to it costs nothing.
  assert.deepEqual(await src.read(10, 10), data.subarray(10, 20));
  // Past the end: what exists.
  assert.ok((await src.read(data.length - 5, 100)).equals(data.subarray(data.length - 5)));
  // The budget is charged for the furthest point reached, once.
  assert.equal(budget.used, data.length);
  src.close();
});
