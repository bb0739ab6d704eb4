/** The fixture-manifest check, shared by every manifest-driven test. */
import assert from 'node:assert/strict';
import { severityRank, type Finding, type Severity } from '../../src/scan/finding.js';

/** "clean": nothing at MEDIUM or above. Otherwise the top finding reaches minSeverity and each mention appears. */
export type Expectation = 'clean' | { minSeverity: Severity; mentions: string[] };

type Field = 'global' | 'evidence' | 'message';

export function describeFindings(fs: readonly Finding[]): string {
  return fs.map((f) => `  ${f.severity} ${f.ruleId} ${f.location} ${f.global ?? ''} ${f.message} ${f.evidence ?? ''}`).join('\n') || '  (none)';
}

export function assertMeets(findings: readonly Finding[], expect: Expectation, fields: readonly Field[] = ['global', 'evidence', 'message']): void {
  if (expect === 'clean') {
    const loud = findings.filter((f) => severityRank(f.severity) >= severityRank('MEDIUM'));
    assert.equal(loud.length, 0, `expected clean, got:\n${describeFindings(loud)}`);
    return;
  }
  const top = findings.reduce((m, f) => Math.max(m, severityRank(f.severity)), -1);
  assert.ok(top >= severityRank(expect.minSeverity), `expected ≥ ${expect.minSeverity}, got:\n${describeFindings(findings)}`);
  for (const m of expect.mentions) {
    assert.ok(
      findings.some((f) => fields.some((k) => f[k]?.includes(m))),
      `no finding mentions "${m}":\n${describeFindings(findings)}`,
    );
  }
}
