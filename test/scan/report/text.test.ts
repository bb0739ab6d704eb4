import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ScanResult } from '../../../src/scan/finding.js';
import { fileReport, finding, scanResult } from '../../support/records.js';
import { formatText, safe } from '../../../src/scan/report/text.js';

function sample(): ScanResult {
  const evil = fileReport(
    'models/evil.pt',
    [
      finding({
        ruleId: 'pickle/unknown-global',
        severity: 'MEDIUM',
        offset: 12,
        global: 'mylib.Thing',
        message: 'Pickle imports mylib.Thing, which is not on the allow list.',
        evidence: undefined,
        hint: 'Review mylib.Thing.',
      }),
      finding(),
    ],
    {
      formats: ['zip', 'pytorch-zip', 'pickle'],
      size: 2048,
      bytesRead: 600,
      errors: [{ file: 'models/evil.pt', location: 'models/evil.pt!archive/extra.bin', message: 'corrupt member' }],
      members: ['models/evil.pt!archive/data.pkl'],
    },
  );
  return scanResult([evil, fileReport('models/clean.pt', [])], { filesSkipped: 3, bytesRead: 700, bytesTotal: 2148, durationMs: 42 }, '9.9.9');
}

test('groups findings by file, most severe first, with location, offset, rule, global, evidence, hint', () => {
  const out = formatText(sample());
  const lines = out.split('\n');
  assert.equal(lines[0], 'models/evil.pt  [zip > pytorch-zip > pickle]');
  const crit = out.indexOf('CRITICAL');
  const med = out.indexOf('MEDIUM');
  assert.ok(crit > 0 && med > crit, 'CRITICAL listed before MEDIUM');
  assert.match(out, /CRITICAL\s+pickle\/dangerous-global/);
  assert.match(out, /models\/evil\.pt!archive\/data\.pkl @ offset 58 \(0x3a\)/);
  assert.match(out, /global:\s+posix\.system/);
  assert.match(out, /evidence: posix\.system\('touch \/tmp\/ptmscope_marker'\)/);
  assert.match(out, /hint:\s+Do not load this file\./);
  assert.match(out, /ERROR\s+models\/evil\.pt!archive\/extra\.bin: corrupt member/);
  assert.match(
    out,
    /^Scanned 2 files, 3 skipped \(not model files\): 2 findings \(1 CRITICAL, 1 MEDIUM\), 1 error\. Read 700 B of 2\.1 KiB in 42 ms\.$/m,
  );
  assert.ok(!out.includes('\u001b['), 'no colour unless asked');
  assert.ok(!out.includes('clean.pt'), 'clean files only with verbose');
});

test('verbose lists clean files on one line; quiet drops the summary and clean files', () => {
  const verbose = formatText(sample(), { verbose: true });
  assert.match(verbose, /^ok  models\/clean\.pt  \[pickle\]$/m);
  const quiet = formatText(sample(), { quiet: true, verbose: true });
  assert.ok(!quiet.includes('clean.pt'));
  assert.ok(!quiet.includes('Scanned'));
  assert.match(quiet, /pickle\/dangerous-global/);
});

test('colour codes only when asked, per severity', () => {
  const out = formatText(sample(), { color: true });
  assert.ok(out.includes('\u001b[1;35mCRITICAL'), 'critical is bold magenta');
  assert.ok(out.includes('\u001b[33mMEDIUM'), 'medium is yellow');
});

test('a clean scan prints just the summary', () => {
  const r = sample();
  r.files = [r.files[1]];
  r.summary = { ...r.summary, findingsBySeverity: { INFO: 0, LOW: 0, MEDIUM: 0, HIGH: 0, CRITICAL: 0 }, errors: 0, filesSkipped: 0 };
  assert.equal(formatText(r), 'Scanned 2 files: no findings, no errors. Read 700 B of 2.1 KiB in 42 ms.\n');
  assert.equal(formatText(r, { quiet: true }), '');
});

test('terminal control characters from a hostile file are neutralised', () => {
  const r = sample();
  r.files[0].findings[1].evidence = "os.system('x')\u001b[2K\u001b[1A\rclean\u0007\u202e";
  const out = formatText(r);
  assert.ok(!out.includes('\u001b'), 'no raw ESC in output');
  assert.ok(!out.includes('\r'), 'no raw CR in output');
  assert.ok(!out.includes('\u202e'), 'no bidi override in output');
  assert.match(out, /\\x1b\[2K\\x1b\[1A\\x0dclean\\x07\\u202e/);
  assert.equal(safe('a\nb\tc'), 'a\\nb\\tc');
});
