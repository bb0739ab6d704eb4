import { SEVERITIES } from '../finding.js';
import type { FileReport, Finding, ScanResult, Severity } from '../finding.js';

export interface TextOptions {
  /** ANSI colours; the CLI turns this on only for a TTY without NO_COLOR. */
  color?: boolean;
  /** Also list clean files, one line each. */
  verbose?: boolean;
  /** Only findings and errors: no clean files, no summary line. */
  quiet?: boolean;
}

const ESC = '\u001b[';
const RESET = `${ESC}0m`;
const SEVERITY_STYLE: Record<Severity, string> = {
  CRITICAL: `${ESC}1;35m`,
  HIGH: `${ESC}1;31m`,
  MEDIUM: `${ESC}33m`,
  LOW: `${ESC}36m`,
  INFO: `${ESC}2m`,
};
const BOLD = `${ESC}1m`;
const DIM = `${ESC}2m`;
const ERROR_STYLE = `${ESC}1;31m`;
const OK_STYLE = `${ESC}32m`;

/** Longest evidence shown in text mode; the JSON output keeps all of it. */
const MAX_EVIDENCE = 400;

/**
 * Human-readable report: files with findings or errors, grouped by file and
 * most severe first, then a summary line.
 */
export function formatText(result: ScanResult, opts: TextOptions = {}): string {
  const paint = (style: string, text: string): string => (opts.color ? `${style}${text}${RESET}` : text);
  const out: string[] = [];

  for (const file of result.files) {
    const clean = file.findings.length === 0 && file.errors.length === 0;
    if (clean) {
      if (opts.verbose && !opts.quiet) out.push(`${paint(OK_STYLE, 'ok')}  ${safe(file.file)}${formatsSuffix(file)}`);
      continue;
    }
    out.push(`${paint(BOLD, safe(file.file))}${formatsSuffix(file)}`);
    const findings = [...file.findings].sort(bySeverityThenOffset);
    for (const f of findings) out.push(...formatFinding(f, paint));
    for (const e of file.errors) {
      // Inner locations (archive members) are named; the file itself is the heading already.
      const where = e.location && e.location !== e.file ? `${safe(e.location)}: ` : '';
      out.push(`  ${paint(ERROR_STYLE, 'ERROR'.padEnd(8))}  ${where}${safe(e.message)}`);
    }
    out.push('');
  }

  if (!opts.quiet) out.push(summaryLine(result, paint));
  else if (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out.length === 0 ? '' : out.join('\n') + '\n';
}

function formatFinding(f: Finding, paint: (style: string, text: string) => string): string[] {
  const pad = ' '.repeat(12);
  const head = `  ${paint(SEVERITY_STYLE[f.severity], f.severity.padEnd(8))}  ${f.ruleId}`;
  const where =
    f.line !== undefined
      ? `${safe(f.location)}:${f.line}${f.column !== undefined ? `:${f.column}` : ''}`
      : `${safe(f.location)}${f.offset !== undefined ? ` @ offset ${f.offset} (0x${f.offset.toString(16)})` : ''}`;
  const lines = [head, `${pad}${where}`, `${pad}${safe(f.message)}`];
  if (f.global) lines.push(`${pad}${paint(DIM, 'global:  ')} ${safe(f.global)}`);
  if (f.evidence) {
    // Multi-line evidence (a source→sink path, a file list) stays on its own lines, each escaped.
    const [first, ...rest] = truncate(f.evidence, MAX_EVIDENCE).split('\n').slice(0, 12);
    lines.push(`${pad}${paint(DIM, 'evidence:')} ${safe(first)}`);
    for (const l of rest) lines.push(`${pad}          ${safe(l)}`);
  }
  if (f.hint) lines.push(`${pad}${paint(DIM, 'hint:    ')} ${safe(f.hint)}`);
  return lines;
}

function summaryLine(result: ScanResult, paint: (style: string, text: string) => string): string {
  const s = result.summary;
  const counts = [...SEVERITIES]
    .reverse()
    .filter((sev) => s.findingsBySeverity[sev] > 0)
    .map((sev) => paint(SEVERITY_STYLE[sev], `${s.findingsBySeverity[sev]} ${sev}`));
  const totalFindings = SEVERITIES.reduce((n, sev) => n + s.findingsBySeverity[sev], 0);
  const findings = totalFindings === 0 ? 'no findings' : `${plural(totalFindings, 'finding')} (${counts.join(', ')})`;
  const errors = s.errors === 0 ? 'no errors' : paint(ERROR_STYLE, plural(s.errors, 'error'));
  const skipped = s.filesSkipped > 0 ? `, ${s.filesSkipped} skipped (not model files)` : '';
  return (
    `Scanned ${plural(s.filesScanned, 'file')}${skipped}: ${findings}, ${errors}. ` +
    `Read ${formatBytes(s.bytesRead)} of ${formatBytes(s.bytesTotal)} in ${formatDuration(s.durationMs)}.`
  );
}

function formatsSuffix(file: FileReport): string {
  return file.formats.length > 0 ? `  [${file.formats.map(safe).join(' > ')}]` : '';
}

function bySeverityThenOffset(a: Finding, b: Finding): number {
  const bySev = SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity);
  if (bySev !== 0) return bySev;
  if (a.location !== b.location) return a.location < b.location ? -1 : 1;
  return (a.offset ?? 0) - (b.offset ?? 0);
}

/**
 * Neutralise terminal control characters. Messages and evidence carry bytes
 * from the scanned (possibly hostile) file, and an embedded escape sequence
 * could otherwise rewrite or hide lines of this report.
 */
export function safe(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  }).replace(/\n/g, '\\n').replace(/\t/g, '\\t');
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters; see --format json)`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}
