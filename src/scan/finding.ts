/**
 * The records a scan produces. These are the stable JSON forms documented in
 * docs/json-schema.md: add fields, never rename or remove them.
 */

export const SEVERITIES = ['INFO', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Numeric rank for comparisons: INFO=0 … CRITICAL=4. */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export function maxSeverity(a: Severity, b: Severity): Severity {
  return severityRank(a) >= severityRank(b) ? a : b;
}

export function parseSeverity(text: string): Severity | undefined {
  const up = text.toUpperCase();
  return (SEVERITIES as readonly string[]).includes(up) ? (up as Severity) : undefined;
}

export interface Finding {
  /** Stable rule id, e.g. "pickle/dangerous-global"; see docs/rules.md. */
  ruleId: string;
  severity: Severity;
  /** The file on disk (or URL) that was scanned, as the user named it. */
  file: string;
  /**
   * Where inside the file: archive members joined with "!", e.g.
   * "model.pt!archive/data.pkl". Equal to `file` for a top-level finding.
   */
  location: string;
  /** Byte offset of the evidence inside the innermost member, when known. */
  offset?: number;
  /** For text files (source code, configs): 1-based line and column of the evidence. */
  line?: number;
  column?: number;
  endLine?: number;
  endColumn?: number;
  /** Python global "module.qualname" the finding is about, when there is one. */
  global?: string;
  /** One sentence: what is wrong. */
  message: string;
  /** What was seen, e.g. the reconstructed call `os.system('touch /tmp/x')`. */
  evidence?: string;
  /** What to do about it. */
  hint: string;
}

/** A file, or part of one, that could not be scanned at all (exit code 2). */
export interface ScanError {
  file: string;
  location: string;
  message: string;
}

export interface FileReport {
  file: string;
  /** Formats recognised, outermost first, e.g. ["zip", "pytorch-zip", "pickle"]. */
  formats: string[];
  /** Size of the file in bytes. */
  size: number;
  /** Bytes actually read from the file (tensor data is never read). */
  bytesRead: number;
  findings: Finding[];
  errors: ScanError[];
  /** Embedded members that were scanned, e.g. "model.pt!archive/data.pkl". */
  members: string[];
  /** True when the file was not a model format ptmscope reads (walks skip these). */
  skipped?: boolean;
}

export interface ScanSummary {
  filesScanned: number;
  filesSkipped: number;
  bytesRead: number;
  bytesTotal: number;
  findingsBySeverity: Record<Severity, number>;
  errors: number;
  durationMs: number;
}

export interface ScanResult {
  tool: { name: 'ptmscope'; version: string };
  files: FileReport[];
  summary: ScanSummary;
}
