/**
 * GGUF: the header checked against ggml's reader (see formats/gguf.ts), and
 * every chat template (and every other metadata string that looks like a
 * Jinja template) analysed for template injection.
 */
import type { ByteSource } from '../formats/source.js';
import { readGgufHeader, sniffGguf, type GgufProblem, type GgufProblemCode, type GgufTemplate } from '../formats/gguf.js';
import { analyseTemplate, type TemplateAnalysis, type TemplateIssue } from '../formats/jinja-template.js';
import { addFinding, addFormat, type Place, type ScanContext } from './context.js';
import type { Severity } from './finding.js';
import type { FormatScanner } from './format-scanner.js';
import { reportCapped, type RuleFor } from './capped-findings.js';


const INVALID: RuleFor = {
  ruleId: 'gguf/invalid-header',
  severity: 'MEDIUM',
  hint: 'llama.cpp refuses this file; other readers may misread it. Re-download it, or regenerate it with llama.cpp\'s conversion scripts.',
};
const BOUNDS: RuleFor = {
  ruleId: 'gguf/length-out-of-bounds',
  severity: 'HIGH',
  hint: 'Counts and lengths like this overflowed buffers in GGUF readers before 2024 fixes (CVE-2024-21836 and others). Do not load the file with old or third-party readers; if it is a partial download, fetch it again.',
};

const RULES: Record<GgufProblemCode, RuleFor> = {
  'bad-version': INVALID,
  truncated: { ...INVALID, hint: 'The header ends early: a truncated download or a forged header. Download the file again and compare checksums.' },
  'length-out-of-bounds': BOUNDS,
  'bad-value-type': INVALID,
  'empty-key': INVALID,
  'non-ascii-key': INVALID,
  'nested-array': { ...INVALID, severity: 'LOW' },
  'bad-tensor-info': INVALID,
  'too-many-dims': {
    ...BOUNDS,
    hint: 'ggml keeps at most 4 dimensions; older readers wrote the extra ones past a fixed array. Do not load the file with old or third-party readers.',
  },
  'duplicate-key': {
    ruleId: 'gguf/duplicate-key',
    severity: 'MEDIUM',
    hint: 'Readers keep different copies of a duplicated key, so a scanner and a loader can see different chat templates. Regenerate the file.',
  },
  'duplicate-tensor': {
    ruleId: 'gguf/duplicate-key',
    severity: 'MEDIUM',
    hint: 'Readers keep different copies of a duplicated tensor. Regenerate the file.',
  },
  'bad-alignment': { ruleId: 'gguf/misaligned-tensor', severity: 'MEDIUM', hint: 'general.alignment must be a power-of-two UINT32. Regenerate the file.' },
  'misaligned-tensor': { ruleId: 'gguf/misaligned-tensor', severity: 'MEDIUM', hint: 'llama.cpp refuses misaligned tensors. Regenerate the file.' },
  'unknown-tensor-type': {
    ruleId: 'gguf/unknown-tensor-type',
    severity: 'MEDIUM',
    hint: 'Readers index per-type tables with this id. Re-convert the model with a current llama.cpp.',
  },
  'tensor-out-of-bounds': {
    ruleId: 'gguf/tensor-out-of-bounds',
    severity: 'HIGH',
    hint: 'Readers that map the file and trust tensor infos read out of bounds. Do not load it; if it is a partial download, fetch it again.',
  },
  'tensor-overlap': { ruleId: 'gguf/overlapping-tensors', severity: 'MEDIUM', hint: 'GGUF writers never overlap tensors; this file was made by hand. Regenerate it.' },
  'tensor-gap': { ruleId: 'gguf/tensor-gap', severity: 'LOW', hint: 'Unused space in the data section is unusual; llama.cpp refuses it. Check which tool wrote the file.' },
};


export const ggufScanner: FormatScanner = {
  id: 'gguf',
  sniff(head: Buffer): boolean {
    try {
      return sniffGguf(head);
    } catch {
      return false;
    }
  },
  async scan(src: ByteSource, place: Place, ctx: ScanContext): Promise<void> {
    addFormat(ctx, 'gguf');
    const h = await readGgufHeader(src);
    reportCapped(ctx, place, h.problems, RULES, 'GGUF', (p, rule) => report(ctx, place, p, rule));
    for (const t of h.templates) reportTemplate(ctx, place, t);
  },
};

function report(ctx: ScanContext, place: Place, p: GgufProblem, rule: RuleFor): void {
  addFinding(ctx, `${place.location}|gguf|${p.code}|${p.name ?? ''}|${p.offset ?? ''}`, {
    ruleId: rule.ruleId,
    severity: rule.severity,
    location: place.location,
    ...(p.offset !== undefined ? { offset: p.offset } : {}),
    message: `${p.message.charAt(0).toUpperCase()}${p.message.slice(1)}.`,
    ...(p.name !== undefined ? { evidence: p.name } : {}),
    hint: rule.hint,
  });
}

/** Where a template was found, for messages and dedupe keys. */
export interface TemplateSite {
  /** e.g. `GGUF metadata "tokenizer.chat_template"`. */
  label: string;
  /** File offset of the template text. */
  offset?: number;
  /** The key is one loaders render as a chat template (not just a string that looks like one). */
  rendered: boolean;
  /** Only part of the template was available. */
  truncated?: boolean;
}

const ISSUE_RULE: Record<TemplateIssue['kind'], { ruleId: string; severity: Severity; lower: Severity }> = {
  'code-execution': { ruleId: 'jinja/ssti-code-execution', severity: 'CRITICAL', lower: 'HIGH' },
  'object-walk': { ruleId: 'jinja/ssti-object-walk', severity: 'HIGH', lower: 'MEDIUM' },
  'computed-attribute': { ruleId: 'jinja/ssti-computed-attribute', severity: 'HIGH', lower: 'MEDIUM' },
};

const TEMPLATE_HINT =
  'Jinja templates that walk Python objects run code when rendered outside Jinja\'s sandbox, as llama-cpp-python < 0.2.72 did for GGUF chat templates (CVE-2024-34359). ' +
  'Do not load this model with such tools; replace the template with the original publisher\'s.';

/**
 * Analyses one template and reports what it does. Exported so other scanners
 * (tokenizer configs) report templates the same way.
 */
export function reportTemplateText(ctx: ScanContext, place: Place, text: string, site: TemplateSite): TemplateAnalysis {
  const a = analyseTemplate(text);
  const key = `${place.location}|jinja|${site.label}|${site.offset ?? ''}`;
  for (const issue of a.issues) {
    const r = ISSUE_RULE[issue.kind];
    const what =
      issue.kind === 'code-execution'
        ? `reaches code execution through ${issue.names.join(' → ')}`
        : issue.kind === 'object-walk'
          ? `walks Python objects through ${issue.names.join(', ')}`
          : issue.names[0] === 'attr'
            ? 'looks up attributes by names computed at render time'
            : `looks up ${issue.names.join(', ')} through names computed at render time`;
    const how = a.parsed ? '' : ` (found by a token scan: the template parser rejected it: ${a.parseError})`;
    const unrendered = site.rendered ? '' : ' Common loaders do not render this key, so severity is one level lower.';
    addFinding(ctx, `${key}|${issue.kind}`, {
      ruleId: r.ruleId,
      severity: site.rendered ? r.severity : r.lower,
      location: place.location,
      ...(site.offset !== undefined ? { offset: site.offset } : {}),
      message: `The Jinja template in ${site.label} ${what}${how}.${unrendered}`,
      evidence: issue.evidence,
      hint: TEMPLATE_HINT,
    });
  }
  if (site.rendered && (!a.parsed || site.truncated)) {
    const why = site.truncated
      ? 'only its first part was kept (it is over 1 MiB)'
      : `the template parser rejected it (${a.parseError})${a.lexError ? `, and Jinja's lexer rules reject it too (${a.lexError})` : ''}`;
    addFinding(ctx, `${key}|unparsed`, {
      ruleId: 'jinja/unparsed-template',
      severity: 'LOW',
      location: place.location,
      ...(site.offset !== undefined ? { offset: site.offset } : {}),
      message: `The Jinja template in ${site.label} was scanned token by token, not fully analysed: ${why}.`,
      hint: 'Review the template by hand if the model comes from an untrusted source.',
    });
  }
  return a;
}

function reportTemplate(ctx: ScanContext, place: Place, t: GgufTemplate): void {
  const label = `GGUF metadata ${JSON.stringify(t.key)}${t.index !== undefined ? `[${t.index}]` : ''}`;
  reportTemplateText(ctx, place, t.text, { label, offset: t.offset, rendered: t.chatTemplateKey, truncated: t.truncated });
}
