import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ScanResult } from '../../../src/scan/finding.js';
import { fileReport, finding, scanResult } from '../../support/records.js';
import { formatJson, toJson, JSON_SCHEMA_VERSION } from '../../../src/scan/report/json.js';

const result: ScanResult = scanResult(
  [
    fileReport('a.pkl', [
      finding({ file: 'a.pkl', location: 'a.pkl', offset: 0, global: 'os.system', message: 'Pickle calls os.system.', evidence: "os.system('touch /tmp/ptmscope_marker')" }),
    ], { size: 40, bytesRead: 40 }),
  ],
  { durationMs: 3 },
  '1.2.3',
);

test('JSON is the ScanResult as is, with schemaVersion 1 first', () => {
  const text = formatJson(result);
  assert.ok(text.endsWith('\n'));
  const parsed = JSON.parse(text);
  assert.equal(JSON_SCHEMA_VERSION, 1);
  assert.deepEqual(Object.keys(parsed), ['schemaVersion', 'tool', 'files', 'summary']);
  assert.equal(parsed.schemaVersion, 1);
  const { schemaVersion, ...rest } = parsed;
  assert.equal(schemaVersion, 1);
  assert.deepEqual(rest, result);
  // offset 0 must survive (not dropped as falsy)
  assert.equal(parsed.files[0].findings[0].offset, 0);
  assert.deepEqual(toJson(result).summary, result.summary);
});

test('every field of the JSON output is documented in docs/json-schema.md', async () => {
  const { readFile } = await import('node:fs/promises');
  const { fileURLToPath } = await import('node:url');
  const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));
  const doc = await readFile(ROOT + 'docs/json-schema.md', 'utf8');
  const withAll = structuredClone(result);
  withAll.files[0].skipped = true;
  withAll.files[0].errors.push({ file: 'a.pkl', location: 'a.pkl', message: 'x' });
  const doc1 = toJson(withAll);
  const keys = new Set<string>([
    ...Object.keys(doc1),
    ...Object.keys(doc1.tool).map((k) => `tool.${k}`),
    ...Object.keys(doc1.files[0]),
    ...Object.keys(doc1.files[0].findings[0]),
    ...Object.keys(doc1.files[0].errors[0]),
    ...Object.keys(doc1.summary),
  ]);
  for (const k of keys) assert.ok(doc.includes(`| \`${k}\` |`), `docs/json-schema.md documents "${k}"`);
  // The example in the document is valid JSON of the documented shape.
  const example = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(doc)![1]);
  assert.equal(example.schemaVersion, 1);
  assert.deepEqual(Object.keys(example), ['schemaVersion', 'tool', 'files', 'summary']);
  assert.deepEqual(Object.keys(example.summary).sort(), Object.keys(result.summary).sort());
});
