import { addFinding, type Place, type ScanContext } from './context.js';
import type { Severity } from './finding.js';

/** How a header problem is reported: its rule, default severity and hint. */
export interface RuleFor {
  ruleId: string;
  severity: Severity;
  hint: string;
}

/** Findings per rule and file before the rest are folded into one "N more" finding. */
export const PER_RULE = 10;

/**
 * Reports header problems through `report`, at most PER_RULE per rule: a hostile
 * header can hold millions of bad entries, and one finding saying how many more
 * there are is what a reader needs.
 */
export function reportCapped<P extends { code: string }>(
  ctx: ScanContext,
  place: Place,
  problems: readonly P[],
  rules: Readonly<Record<string, RuleFor>>,
  format: string,
  report: (p: P, rule: RuleFor) => void,
): void {
  const counts = new Map<string, number>();
  const overflow = new Map<string, { rule: RuleFor; n: number }>();
  for (const p of problems) {
    const rule = rules[p.code];
    const n = (counts.get(rule.ruleId) ?? 0) + 1;
    counts.set(rule.ruleId, n);
    if (n > PER_RULE) overflow.set(rule.ruleId, { rule, n: n - PER_RULE });
    else report(p, rule);
  }
  for (const [ruleId, { rule, n }] of overflow) {
    addFinding(ctx, `${place.location}|${format}|${ruleId}|more`, {
      ruleId,
      severity: rule.severity,
      location: place.location,
      message: `${n} more problems of this kind in the ${format} header (the first ${PER_RULE} are reported separately).`,
      hint: rule.hint,
    });
  }
}
