/**
 * safetensors: the header checked against the format (see
 * formats/safetensors.ts), each problem turned into a finding. A file that is
 * really a pickle or a zip never reaches this scanner: the dispatcher sniffs
 * those first, whatever the file is called.
 */
import type { ByteSource } from '../formats/source.js';
import { readSafetensorsHeader, sniffSafetensors, type SafetensorsProblem, type SafetensorsProblemCode } from '../formats/safetensors.js';
import { addFinding, addFormat, type Place, type ScanContext } from './context.js';
import type { FormatScanner } from './format-scanner.js';
import { reportCapped, type RuleFor } from './capped-findings.js';


const INVALID: RuleFor = {
  ruleId: 'safetensors/invalid-header',
  severity: 'MEDIUM',
  hint: 'The safetensors loader refuses this file; lenient readers may not. Re-download it, or regenerate it with the safetensors library.',
};

const RULES: Record<SafetensorsProblemCode, RuleFor> = {
  'header-too-large': {
    ...INVALID,
    hint: 'A header this large makes naive readers allocate it whole. The safetensors loader refuses it; do not load the file elsewhere.',
  },
  'header-past-eof': { ...INVALID, hint: 'The file is truncated or the length is forged. Download it again and compare checksums.' },
  'header-not-utf8': INVALID,
  'header-not-json': INVALID,
  'header-not-object': INVALID,
  'bad-entry': INVALID,
  'bad-metadata': INVALID,
  'duplicate-key': {
    ruleId: 'safetensors/duplicate-key',
    severity: 'MEDIUM',
    hint: 'JSON readers disagree on which duplicate wins, so tools may see different tensors. Regenerate the file.',
  },
  'unknown-dtype': {
    ruleId: 'safetensors/unknown-dtype',
    severity: 'MEDIUM',
    hint: 'The size of this tensor cannot be checked and the loader refuses it. Re-export with a current safetensors.',
  },
  'size-mismatch': {
    ruleId: 'safetensors/size-mismatch',
    severity: 'MEDIUM',
    hint: 'Readers that trust the shape read outside the tensor. Regenerate the file; do not use lenient readers on it.',
  },
  'out-of-bounds': {
    ruleId: 'safetensors/offset-out-of-bounds',
    severity: 'HIGH',
    hint: 'Readers that map the file and trust these offsets read out of bounds. Do not load it; if it is a partial download, fetch it again.',
  },
  overlap: {
    ruleId: 'safetensors/overlapping-tensors',
    severity: 'MEDIUM',
    hint: 'The safetensors writer never overlaps tensors; this file was made by hand. Regenerate it.',
  },
  gap: {
    ruleId: 'safetensors/gap',
    severity: 'LOW',
    hint: 'Unused bytes inside the data buffer are unusual and the reference loader refuses them. Check which tool wrote the file.',
  },
  'trailing-data': {
    ruleId: 'safetensors/trailing-data',
    severity: 'LOW',
    hint: 'Appended bytes make a file readable as two formats. Cut the file to its declared size or regenerate it.',
  },
};

/** Findings kept per rule before the rest are summarised in one. */

/** What appended or unused bytes raise the severity to MEDIUM. */
const SUSPICIOUS_HIDDEN = new Set(['pickle', 'zip', 'gzip', 'gguf', 'npy', 'script', 'ELF executable', 'Windows executable']);

export const safetensorsScanner: FormatScanner = {
  id: 'safetensors',
  sniff(head: Buffer, size: number): boolean {
    try {
      return sniffSafetensors(head, size);
    } catch {
      return false;
    }
  },
  async scan(src: ByteSource, place: Place, ctx: ScanContext): Promise<void> {
    addFormat(ctx, 'safetensors');
    const h = await readSafetensorsHeader(src);
    reportCapped(ctx, place, h.problems, RULES, 'safetensors', (p, rule) => report(ctx, place, p, rule));
  },
};

function report(ctx: ScanContext, place: Place, p: SafetensorsProblem, rule: RuleFor): void {
  let severity = rule.severity;
  let message = `${capitalise(p.message)}.`;
  if ((p.code === 'gap' || p.code === 'trailing-data') && p.hidden) {
    message += ` The unused bytes start like ${/^[aeiou]/i.test(p.hidden) ? 'an' : 'a'} ${p.hidden}.`;
    if (SUSPICIOUS_HIDDEN.has(p.hidden)) severity = 'MEDIUM';
  }
  addFinding(ctx, `${place.location}|st|${p.code}|${p.tensor ?? ''}|${p.offset ?? ''}`, {
    ruleId: rule.ruleId,
    severity,
    location: place.location,
    ...(p.offset !== undefined ? { offset: p.offset } : {}),
    message,
    ...(p.tensor !== undefined ? { evidence: p.tensor } : {}),
    hint: rule.hint,
  });
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
