import type { Finding, ScanError, Severity } from './finding.js';
import type { Limits } from '../formats/limits.js';
import type { Ecosystem, Policy } from './policy/policy.js';
import type { DecompressionBudget } from '../formats/compression.js';

/** Everything a scan of one top-level file shares while it descends into members. */
export interface ScanContext {
  /** The file as the user named it. */
  file: string;
  policy: Policy;
  limits: Limits;
  budget: DecompressionBudget;
  findings: Finding[];
  errors: ScanError[];
  formats: string[];
  members: string[];
  /** Dedupe key → finding, so a global named 10,000 times is one finding. */
  seen: Map<string, Finding>;
}

/** Where in the file: the member path, nested pickles, and which ecosystems' allowlists apply. */
export interface Place {
  /** "model.pt!archive/data.pkl" */
  location: string;
  depth: number;
  ecosystems: readonly Ecosystem[];
}

export function addFinding(ctx: ScanContext, key: string | undefined, f: Omit<Finding, 'file'>): Finding {
  if (key !== undefined) {
    const prev = ctx.seen.get(key);
    if (prev) return prev;
  }
  const finding: Finding = { ...f, file: ctx.file };
  ctx.findings.push(finding);
  if (key !== undefined) ctx.seen.set(key, finding);
  return finding;
}

export function addError(ctx: ScanContext, location: string, message: string): void {
  ctx.errors.push({ file: ctx.file, location, message });
}

export function addFormat(ctx: ScanContext, format: string): void {
  if (!ctx.formats.includes(format)) ctx.formats.push(format);
}

export type { Severity };
