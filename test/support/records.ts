/** Builders for hand-made scan records, shared by the reporter tests. */
import { SEVERITIES, type FileReport, type Finding, type ScanResult, type ScanSummary, type Severity } from '../../src/scan/finding.js';

export function finding(over: Partial<Finding> = {}): Finding {
  return {
    ruleId: 'pickle/dangerous-global',
    severity: 'CRITICAL',
    file: 'models/evil.pt',
    location: 'models/evil.pt!archive/data.pkl',
    offset: 58,
    global: 'posix.system',
    message: 'Pickle calls posix.system, which runs a shell command.',
    evidence: "posix.system('touch /tmp/ptmscope_marker')",
    hint: 'Do not load this file.',
    ...over,
  };
}

export function fileReport(file: string, findings: Finding[], over: Partial<FileReport> = {}): FileReport {
  return { file, formats: ['pickle'], size: 100, bytesRead: 100, findings, errors: [], members: [], ...over };
}

/** A result whose summary is counted from `files`, then overridden by `summary`. */
export function scanResult(files: FileReport[], summary: Partial<ScanSummary> = {}, version = '0.1.0'): ScanResult {
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of files) for (const x of f.findings) bySeverity[x.severity]++;
  return {
    tool: { name: 'ptmscope', version },
    files,
    summary: {
      filesScanned: files.length,
      filesSkipped: 0,
      bytesRead: files.reduce((n, f) => n + f.bytesRead, 0),
      bytesTotal: files.reduce((n, f) => n + f.size, 0),
      findingsBySeverity: bySeverity,
      errors: files.reduce((n, f) => n + f.errors.length, 0),
      durationMs: 1,
      ...summary,
    },
  };
}
