import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import type { FileReport, Finding, ScanResult } from '../../../src/scan/finding.js';
import { formatSarif, toSarif, sarifLevel, type SarifLog } from '../../../src/scan/report/sarif.js';
import { fileReport, finding, scanResult } from '../../support/records.js';
import { RULES } from '../../../src/scan/rules.js';

const CWD = resolve(tmpdir(), 'ptmscope-sarif-cwd');

const result = (files: FileReport[]): ScanResult => scanResult(files);
const report = (file: string, findings: Finding[], errors: FileReport['errors'] = []): FileReport => fileReport(file, findings, { errors });

/**
 * The properties GitHub code scanning marks as required
 * (docs.github.com, "SARIF support for code scanning"), plus the SARIF 2.1.0
 * schema constraints on the values we emit. Returns a list of problems.
 */
function githubProblems(log: SarifLog): string[] {
  const p: string[] = [];
  const nonEmpty = (v: unknown, what: string): void => {
    if (typeof v !== 'string' || v.trim() === '') p.push(`${what} must be a non-empty string`);
  };
  nonEmpty(log.$schema, '$schema');
  if (!/^https?:\/\//.test(log.$schema)) p.push('$schema must be a URI');
  if (log.version !== '2.1.0') p.push('version must be 2.1.0');
  if (!Array.isArray(log.runs) || log.runs.length < 1) p.push('runs[] required');
  for (const [ri, run] of log.runs.entries()) {
    const driver = run.tool?.driver;
    nonEmpty(driver?.name, `runs[${ri}].tool.driver.name`);
    if (!Array.isArray(driver?.rules)) p.push('tool.driver.rules[] required');
    const ids = new Set<string>();
    for (const [i, r] of driver.rules.entries()) {
      const at = `rules[${i}]`;
      nonEmpty(r.id, `${at}.id`);
      if (ids.has(r.id)) p.push(`${at}.id duplicated`);
      ids.add(r.id);
      nonEmpty(r.shortDescription?.text, `${at}.shortDescription.text`);
      nonEmpty(r.fullDescription?.text, `${at}.fullDescription.text`);
      nonEmpty(r.help?.text, `${at}.help.text`);
      if (r.shortDescription.text.length > 1024) p.push(`${at}.shortDescription over 1024 chars`);
      if (r.fullDescription.text.length > 1024) p.push(`${at}.fullDescription over 1024 chars`);
      if (r.name !== undefined && r.name.length > 255) p.push(`${at}.name over 255 chars`);
      if (!['note', 'warning', 'error'].includes(r.defaultConfiguration?.level)) p.push(`${at}.defaultConfiguration.level`);
      const sev = r.properties?.['security-severity'];
      if (sev !== undefined) {
        if (typeof sev !== 'string' || !(Number(sev) > 0 && Number(sev) <= 10)) p.push(`${at} security-severity out of range`);
        if (!r.properties.tags?.includes('security')) p.push(`${at} security-severity without the security tag`);
      }
    }
    if (!Array.isArray(run.results)) p.push('results[] required');
    const baseIds = Object.keys(run.originalUriBaseIds ?? {});
    for (const [i, res] of run.results.entries()) {
      const at = `results[${i}]`;
      nonEmpty(res.message?.text, `${at}.message.text`);
      if (driver.rules[res.ruleIndex]?.id !== res.ruleId) p.push(`${at}.ruleIndex does not point at ruleId`);
      if (!['note', 'warning', 'error'].includes(res.level)) p.push(`${at}.level`);
      if (!Array.isArray(res.locations) || res.locations.length < 1 || res.locations.length > 10) {
        p.push(`${at}.locations must have 1..10 entries`);
        continue;
      }
      const phys = res.locations[0].physicalLocation;
      nonEmpty(phys?.artifactLocation?.uri, `${at}.physicalLocation.artifactLocation.uri`);
      const uri = phys.artifactLocation.uri;
      if (uri.includes('\\')) p.push(`${at} uri has backslashes`);
      if (phys.artifactLocation.uriBaseId !== undefined) {
        if (/^[a-z]+:/i.test(uri) || uri.startsWith('/')) p.push(`${at} uriBaseId on an absolute uri`);
        if (!baseIds.includes(phys.artifactLocation.uriBaseId)) p.push(`${at} uriBaseId not in originalUriBaseIds`);
      }
      const region = phys.region;
      if (!region || !Number.isInteger(region.startLine) || region.startLine! < 1) p.push(`${at}.region.startLine required (>= 1)`);
      if (region?.byteOffset !== undefined && !(Number.isInteger(region.byteOffset) && region.byteOffset >= 0)) {
        p.push(`${at}.region.byteOffset must be a non-negative integer`);
      }
      nonEmpty(res.partialFingerprints?.primaryLocationLineHash, `${at}.partialFingerprints.primaryLocationLineHash`);
    }
    const inv = run.invocations?.[0];
    if (typeof inv?.executionSuccessful !== 'boolean') p.push('invocations[0].executionSuccessful must be boolean');
  }
  return p;
}

test('SARIF carries every property GitHub code scanning requires', () => {
  const log = toSarif(
    result([
      report('models/evil.pt', [
        finding({}),
        finding({ ruleId: 'pickle/unknown-global', severity: 'MEDIUM', global: 'mylib.Thing', offset: 3 }),
        finding({ ruleId: 'torch/legacy-format', severity: 'INFO', location: 'models/evil.pt', offset: undefined, global: undefined }),
      ]),
    ]),
    { cwd: CWD },
  );
  assert.deepEqual(githubProblems(log), []);
  const run = log.runs[0];
  assert.equal(log.$schema, 'https://json.schemastore.org/sarif-2.1.0.json');
  assert.equal(run.tool.driver.name, 'ptmscope');
  assert.equal(run.tool.driver.version, '0.1.0');
  assert.ok(run.tool.driver.informationUri.startsWith('https://'));
  assert.deepEqual(
    run.tool.driver.rules.map((r) => r.id),
    RULES.map((r) => r.id),
    'the whole catalogue, in order',
  );
  assert.equal(run.results.length, 3);
  assert.equal(run.invocations[0].executionSuccessful, true);
  assert.deepEqual(run.invocations[0].toolExecutionNotifications, []);
});

test('levels and security-severity follow the severity table', () => {
  assert.equal(sarifLevel('CRITICAL'), 'error');
  assert.equal(sarifLevel('HIGH'), 'error');
  assert.equal(sarifLevel('MEDIUM'), 'warning');
  assert.equal(sarifLevel('LOW'), 'note');
  assert.equal(sarifLevel('INFO'), 'note');
  const rules = toSarif(result([]), { cwd: CWD }).runs[0].tool.driver.rules;
  const byId = new Map(rules.map((r) => [r.id, r]));
  const dg = byId.get('pickle/dangerous-global')!;
  assert.equal(dg.properties['security-severity'], '9.5');
  assert.equal(dg.defaultConfiguration.level, 'error');
  assert.deepEqual(dg.properties.tags, ['security']);
  assert.equal(dg.name, 'PickleDangerousGlobal');
  assert.equal(byId.get('pickle/setstate-on-global')!.properties['security-severity'], '8.0');
  assert.equal(byId.get('pickle/setstate-on-global')!.defaultConfiguration.level, 'error');
  assert.equal(byId.get('pickle/unknown-global')!.properties['security-severity'], '5.5');
  assert.equal(byId.get('pickle/unknown-global')!.defaultConfiguration.level, 'warning');
  assert.equal(byId.get('pickle/trailing-bytes')!.properties['security-severity'], '3.0');
  assert.equal(byId.get('torch/legacy-format')!.properties['security-severity'], undefined);
  assert.equal(byId.get('torch/legacy-format')!.defaultConfiguration.level, 'note');
});

test('locations: relative forward-slash URI under %SRCROOT%, member as logical location, no member offset as byteOffset', () => {
  const run = toSarif(
    result([
      report(join('models', 'sub dir', 'evil.pt'), [
        finding({ file: join('models', 'sub dir', 'evil.pt'), location: `${join('models', 'sub dir', 'evil.pt')}!archive/data.pkl` }),
      ]),
      report('top.pkl', [finding({ file: 'top.pkl', location: 'top.pkl', offset: 7 })]),
    ]),
    { cwd: CWD },
  ).runs[0];
  const [inner, top] = run.results;
  const loc = inner.locations[0];
  assert.equal(loc.physicalLocation.artifactLocation.uri, 'models/sub%20dir/evil.pt');
  assert.equal(loc.physicalLocation.artifactLocation.uriBaseId, '%SRCROOT%');
  assert.deepEqual(loc.physicalLocation.region, { startLine: 1 }, 'member offsets are not file offsets');
  assert.deepEqual(loc.logicalLocations, [
    { name: 'archive/data.pkl', fullyQualifiedName: 'models/sub dir/evil.pt!archive/data.pkl', kind: 'archiveMember' },
  ]);
  assert.equal(inner.properties.offset, 58);
  assert.match(inner.message.text, /^Pickle calls posix\.system, which runs a shell command\. Location: .*!archive\/data\.pkl at byte offset 58\./);
  assert.match(inner.message.text, /Evidence: posix\.system\('touch \/tmp\/ptmscope_marker'\)\. What to do: Do not load this file\.$/);
  assert.deepEqual(top.locations[0].physicalLocation.region, { startLine: 1, byteOffset: 7 });
  assert.equal(top.locations[0].logicalLocations, undefined);
  assert.equal(run.originalUriBaseIds['%SRCROOT%'].uri, `file://${CWD}/`);
});

test('strict binary regions: byteOffset only, no region without a file offset', () => {
  const run = toSarif(
    result([
      report('top.pkl', [finding({ file: 'top.pkl', location: 'top.pkl', offset: 7 })]),
      report('m.pt', [finding({ file: 'm.pt', location: 'm.pt!archive/data.pkl' })]),
    ]),
    { cwd: CWD, githubRegions: false },
  ).runs[0];
  assert.deepEqual(run.results[0].locations[0].physicalLocation.region, { byteOffset: 7 });
  assert.equal(run.results[1].locations[0].physicalLocation.region, undefined);
});

test('the GitHub check rejects what GitHub would (strict regions lack startLine)', () => {
  const strict = toSarif(result([report('top.pkl', [finding({ file: 'top.pkl', location: 'top.pkl', offset: 7 })])]), {
    cwd: CWD,
    githubRegions: false,
  });
  assert.deepEqual(githubProblems(strict), ['results[0].region.startLine required (>= 1)']);
  const broken = toSarif(result([report('top.pkl', [finding({ file: 'top.pkl', location: 'top.pkl' })])]), { cwd: CWD });
  broken.runs[0].results[0].message.text = '';
  broken.runs[0].results[0].ruleIndex = 0;
  broken.runs[0].results[0].ruleId = 'pickle/unknown-global';
  assert.deepEqual(githubProblems(broken), [
    'results[0].message.text must be a non-empty string',
    'results[0].ruleIndex does not point at ruleId',
  ]);
});

test('a file outside the working directory gets an absolute file: URI without uriBaseId', () => {
  const outside = resolve(CWD, '..', 'elsewhere', 'x.pkl');
  const run = toSarif(result([report(outside, [finding({ file: outside, location: outside })])]), { cwd: CWD }).runs[0];
  const art = run.results[0].locations[0].physicalLocation.artifactLocation;
  assert.equal(art.uri, `file://${outside}`);
  assert.equal(art.uriBaseId, undefined);
});

test('partialFingerprints are stable across path spellings and differ by rule, member and global', () => {
  const fp = (f: Finding, cwd = CWD): string =>
    toSarif(result([report(f.file, [f])]), { cwd }).runs[0].results[0].partialFingerprints.primaryLocationLineHash;
  const base = fp(finding({}));
  assert.match(base, /^[0-9a-f]{16}:1$/);
  assert.equal(fp(finding({ file: './models/evil.pt', location: './models/evil.pt!archive/data.pkl' })), base);
  assert.equal(fp(finding({ offset: 999, evidence: 'other' })), base, 'offset/evidence do not change identity');
  assert.notEqual(fp(finding({ global: 'os.system' })), base);
  assert.notEqual(fp(finding({ ruleId: 'pickle/unknown-global' })), base);
  assert.notEqual(fp(finding({ location: 'models/evil.pt!archive/other.pkl' })), base);
  // Same rule/location/global twice in one file: distinct alerts via the occurrence counter.
  const twice = toSarif(result([report('models/evil.pt', [finding({}), finding({ offset: 80 })])]), { cwd: CWD }).runs[0].results;
  assert.equal(twice[0].partialFingerprints.primaryLocationLineHash, base);
  assert.equal(twice[1].partialFingerprints.primaryLocationLineHash, base.replace(/:1$/, ':2'));
});

test('scan errors become tool execution notifications and executionSuccessful=false', () => {
  const log = toSarif(
    result([
      report('bad.pt', [], [{ file: 'bad.pt', location: 'bad.pt!archive/data.pkl', message: 'zip central directory is truncated' }]),
      report('missing.pkl', [], [{ file: 'missing.pkl', location: 'missing.pkl', message: 'missing.pkl: no such file or directory' }]),
    ]),
    { cwd: CWD },
  );
  assert.deepEqual(githubProblems(log), []);
  const inv = log.runs[0].invocations[0];
  assert.equal(inv.executionSuccessful, false);
  assert.equal(inv.toolExecutionNotifications.length, 2);
  const [n0, n1] = inv.toolExecutionNotifications;
  assert.equal(n0.level, 'error');
  assert.equal(n0.message.text, 'zip central directory is truncated');
  assert.equal(n0.locations[0].physicalLocation.artifactLocation.uri, 'bad.pt');
  assert.equal(n0.locations[0].logicalLocations?.[0].name, 'archive/data.pkl');
  assert.equal(n1.locations[0].logicalLocations, undefined);
  assert.equal(log.runs[0].results.length, 0);
});

test('a rule id missing from the catalogue still gets a descriptor and a valid ruleIndex', () => {
  const log = toSarif(result([report('a.pkl', [finding({ ruleId: 'future/new-rule', severity: 'HIGH', file: 'a.pkl', location: 'a.pkl' })])]), {
    cwd: CWD,
  });
  assert.deepEqual(githubProblems(log), []);
  const run = log.runs[0];
  const res = run.results[0];
  assert.equal(res.ruleIndex, RULES.length);
  assert.equal(run.tool.driver.rules[res.ruleIndex].id, 'future/new-rule');
  assert.equal(run.tool.driver.rules[res.ruleIndex].properties['security-severity'], '8.0');
});

test('formatSarif is parseable JSON of the same log', () => {
  const r = result([report('a.pkl', [finding({ file: 'a.pkl', location: 'a.pkl' })])]);
  assert.deepEqual(JSON.parse(formatSarif(r, { cwd: CWD })), JSON.parse(JSON.stringify(toSarif(r, { cwd: CWD }))));
});

test('every catalogue rule is documented in docs/rules.md with its default severity', async () => {
  const { readFile } = await import('node:fs/promises');
  const { fileURLToPath } = await import('node:url');
  const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));
  const doc = await readFile(join(ROOT, 'docs', 'rules.md'), 'utf8');
  for (const r of RULES) {
    const section = doc.split(`\n## ${r.id}\n`)[1];
    assert.ok(section, `docs/rules.md has a "## ${r.id}" section`);
    assert.match(section.split('\n## ')[0], new RegExp(`\\*\\*Default severity:\\*\\* ${r.defaultSeverity}\\b`), r.id);
    assert.ok(doc.includes(`| [\`${r.id}\`]`), `${r.id} is in the table`);
  }
});

test('findings in text files point at their exact lines and columns', () => {
  const f = finding({ file: 'repo/modeling_x.py', location: 'repo/modeling_x.py', offset: 120, line: 7, column: 5, endLine: 7, endColumn: 30 });
  const log = toSarif(result([report('repo/modeling_x.py', [f])]), { cwd: CWD });
  const region = log.runs[0].results[0].locations[0].physicalLocation.region;
  assert.deepEqual(region, { startLine: 7, startColumn: 5, endLine: 7, endColumn: 30 });
});

test('remote files keep their hf:// URI', () => {
  const file = 'hf://org/name@0123456789abcdef0123456789abcdef01234567/weights/model.bin';
  const log = toSarif(result([report(file, [finding({ file, location: `${file}!archive/data.pkl` })])]), { cwd: CWD });
  const loc = log.runs[0].results[0].locations[0].physicalLocation.artifactLocation;
  assert.deepEqual(loc, { uri: file });
});
