/**
 * GGUF findings, end to end through the scanner object, checked against
 * test/fixtures/tensors/manifest.json, plus chat-template reporting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { BufferSource } from '../../src/formats/source.js';
import { createScanContext } from '../../src/scan/scanner.js';
import { ggufScanner, reportTemplateText } from '../../src/scan/gguf-scan.js';
import { safetensorsScanner } from '../../src/scan/safetensors-scan.js';
import { type Finding, type Severity } from '../../src/scan/finding.js';
import { TENSORS_RULES } from '../../src/scan/rules-tensors.js';
import { assertMeets } from '../support/expect.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DIR = join(ROOT, 'test/fixtures/tensors');

interface Entry {
  path: string;
  technique: string;
  expect: 'clean' | { minSeverity: Severity; mentions: string[] };
}
const manifest = (JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as Entry[]).filter((e) => e.path.startsWith('gguf/'));

async function scan(path: string): Promise<{ findings: Finding[]; bytesRead: number; size: number }> {
  const bytes = readFileSync(join(DIR, path));
  assert.equal(ggufScanner.sniff(bytes.subarray(0, 4096), bytes.length), true, 'claimed by the GGUF sniff');
  assert.equal(safetensorsScanner.sniff(bytes.subarray(0, 4096), bytes.length), false, 'not claimed by the safetensors sniff');
  const ctx = createScanContext(path);
  const src = new BufferSource(bytes, path);
  await ggufScanner.scan(src, { location: path, depth: 0, ecosystems: ['python'] }, ctx);
  assert.deepEqual(ctx.formats, ['gguf']);
  return { findings: ctx.findings, bytesRead: src.bytesRead, size: bytes.length };
}

function show(fs: Finding[]): string {
  return fs.map((f) => `  ${f.severity} ${f.ruleId} ${f.message} ${f.evidence ?? ''}`).join('\n') || '  (none)';
}

assert.ok(manifest.length >= 25, 'GGUF fixtures present');
for (const e of manifest) {
  test(`${e.expect === 'clean' ? 'benign' : 'malicious'}: ${e.path} — ${e.technique}`, async () => {
    const r = await scan(e.path);
    assertMeets(r.findings, e.expect);
  });
}

test('benign files are fully clean (not even LOW) and read only their header', async () => {
  for (const e of manifest.filter((m) => m.expect === 'clean' && !m.path.includes('raw_block'))) {
    const r = await scan(e.path);
    assert.deepEqual(r.findings, [], e.path);
    assert.ok(r.bytesRead < r.size, `${e.path}: ${r.bytesRead} of ${r.size} bytes read`);
  }
  const raw = await scan('gguf/benign_raw_block_template.gguf');
  assert.deepEqual(raw.findings.map((f) => [f.ruleId, f.severity]), [['jinja/unparsed-template', 'LOW']], 'the raw block is inert; the note says the parser was not used');
});

test('the CVE-2024-34359 payload: rule, severity, offset at the template, whole expression as evidence', async () => {
  const r = await scan('gguf/ssti_cycler_os_popen.gguf');
  assert.equal(r.findings.length, 1, show(r.findings));
  const f = r.findings[0];
  assert.equal(f.ruleId, 'jinja/ssti-code-execution');
  assert.equal(f.severity, 'CRITICAL');
  assert.equal(f.evidence, "cycler.__init__.__globals__.os.popen('touch /tmp/ptmscope_marker').read()");
  assert.match(f.message, /"tokenizer\.chat_template" reaches code execution through cycler → __init__ → __globals__ → os → popen/);
  const bytes = readFileSync(join(DIR, 'gguf/ssti_cycler_os_popen.gguf'));
  assert.equal(bytes.toString('utf8', f.offset!, f.offset! + 12), '{{- bos_toke', 'offset points at the template text');
  assert.match(f.hint, /CVE-2024-34359/);
});

test('templates outside chat-template keys are reported one level lower', async () => {
  const r = await scan('gguf/ssti_in_description.gguf');
  const f = r.findings.find((x) => x.ruleId === 'jinja/ssti-code-execution')!;
  assert.equal(f.severity, 'HIGH');
  assert.match(f.message, /Common loaders do not render this key/);
});

test('reportTemplateText: object walks HIGH, computed attributes HIGH, unparsed templates noted LOW', () => {
  const place = { location: 't', depth: 0, ecosystems: ['python'] as const };
  const ctx = createScanContext('t');
  reportTemplateText(ctx, place, "{{ ''.__class__.__mro__ }}", { label: 'a', rendered: true });
  reportTemplateText(ctx, place, '{{ x|attr(y) }}', { label: 'b', rendered: true });
  reportTemplateText(ctx, place, "{% raw %}{% endraw %}{{ ''.__class__ }}", { label: 'c', rendered: true });
  reportTemplateText(ctx, place, '{% for m in messages %}{{ m.content }}{% endfor %}', { label: 'd', rendered: true });
  assert.deepEqual(
    ctx.findings.map((f) => [f.ruleId, f.severity]),
    [
      ['jinja/ssti-object-walk', 'HIGH'],
      ['jinja/ssti-computed-attribute', 'HIGH'],
      ['jinja/ssti-object-walk', 'HIGH'],
      ['jinja/unparsed-template', 'LOW'],
    ],
  );
  assert.match(ctx.findings[2].message, /found by a token scan/);
});

test('every rule the scanners emit is in the catalogue, with docs', () => {
  const ids = TENSORS_RULES.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length, 'no duplicate ids');
  const docs = readFileSync(join(ROOT, 'docs/rules.md'), 'utf8');
  for (const r of TENSORS_RULES) {
    assert.match(r.id, /^(safetensors|gguf|jinja)\/[a-z-]+$/);
    assert.ok(docs.includes(`## ${r.id}\n`), `docs/rules.md documents ${r.id}`);
    assert.ok(docs.includes(`**Default severity:** ${r.defaultSeverity}`), `severity of ${r.id}`);
  }
  const emitted = [
    ...readFileSync(join(ROOT, 'src/scan/gguf-scan.ts'), 'utf8').matchAll(/'((?:gguf|jinja)\/[a-z-]+)'/g),
    ...readFileSync(join(ROOT, 'src/scan/safetensors-scan.ts'), 'utf8').matchAll(/'(safetensors\/[a-z-]+)'/g),
  ].map((m) => m[1]);
  for (const id of emitted) assert.ok(ids.includes(id), `${id} is catalogued`);
});

/** Fails the case if the scan does not settle: a hang check, not a speed target. */
function settles<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`scan did not finish within 20 s: ${what}`)), 20_000);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

test('fuzz: mutated GGUF fixtures (header and templates) never crash or hang the scanner', async () => {
  const files = manifest.map((e) => ({ p: e.path, b: readFileSync(join(DIR, e.path)) }));
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: files.length - 1 }),
      fc.array(fc.record({ at: fc.nat({ max: 20_000 }), v: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x7b, 0x7d, 0x25, 0x27, 0x5f, 0xff)) }), { minLength: 1, maxLength: 12 }),
      fc.option(fc.nat(), { nil: undefined }),
      async (i, edits, cut) => {
        const b = Buffer.from(files[i].b);
        for (const { at, v } of edits) b[at % b.length] = v;
        const input = cut === undefined ? b : b.subarray(0, cut % b.length);
        const ctx = createScanContext('fuzz');
        await settles(ggufScanner.scan(new BufferSource(input), { location: 'fuzz', depth: 0, ecosystems: ['python'] }, ctx), files[i].p);
        for (const f of ctx.findings) assert.ok(TENSORS_RULES.some((r) => r.id === f.ruleId), f.ruleId);
      },
    ),
    { numRuns: 600, seed: 20261126 },
  );
});
