/**
 * Every fixture in test/fixtures/manifest.json (made by test/fixtures/generate.py)
 * and test/fixtures/<format>/manifest.json, made with the real libraries: benign ones must scan clean at the default threshold,
 * malicious ones must reach their severity and name what they hide.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scanFile } from '../../src/scan/scanner.js';
import type { Severity } from '../../src/scan/finding.js';
import type { Limits } from '../../src/formats/limits.js';
import { assertMeets } from '../support/expect.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures');

interface Entry {
  path: string;
  technique: string;
  expect: 'clean' | { minSeverity: Severity; mentions: string[] };
  limits?: Partial<Limits>;
  /** A benign file that is read but is no model format (plain JSON): reported as skipped. */
  skipped?: boolean;
}

// test/fixtures/manifest.json, one manifest.json per format folder, and <folder>.manifest.json
// for folders that must hold nothing but their files (hf-repo/ is laid out like a real repo).
// Paths are relative to the folder.
const sources: Array<{ file: string; dir: string }> = [{ file: join(FIX, 'manifest.json'), dir: FIX }];
for (const d of readdirSync(FIX, { withFileTypes: true }).filter((x) => x.isDirectory())) {
  sources.push({ file: join(FIX, d.name, 'manifest.json'), dir: join(FIX, d.name) }, { file: join(FIX, `${d.name}.manifest.json`), dir: join(FIX, d.name) });
}
const manifest = sources
  .filter((s) => existsSync(s.file))
  .flatMap((s) => (JSON.parse(readFileSync(s.file, 'utf8')) as Entry[]).map((e) => ({ ...e, path: relative(FIX, join(s.dir, e.path)) })));


for (const e of manifest) {
  test(`${e.expect === 'clean' ? 'benign' : 'malicious'}: ${e.path} — ${e.technique}`, async () => {
    const r = await scanFile(join(FIX, e.path), e.limits ? { config: { limits: e.limits } } : undefined);
    assert.deepEqual(r.errors, [], 'no scan errors');
    assert.equal(r.skipped === true, e.skipped === true, e.skipped ? 'plain data, reported as skipped' : 'the file was recognised');
    assertMeets(r.findings, e.expect);
  });
}
