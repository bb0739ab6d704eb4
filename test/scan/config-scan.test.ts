/**
 * The config scanners end to end, called directly (as the dispatcher will once
 * they are registered): the fixtures in test/fixtures/config and the
 * Hugging Face repo layout in test/fixtures/hf-repo.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { BufferSource, FileSource, type ByteSource } from '../../src/formats/source.js';
import { readTar } from '../../src/formats/tar.js';
import { createScanContext, scanBytes } from '../../src/scan/scanner.js';
import { CONFIG_SCANNERS, classifyTarget, jsonConfigScanner, yamlConfigScanner } from '../../src/scan/config-scan.js';
import { severityRank, type Finding, type Severity } from '../../src/scan/finding.js';
import type { ScanContext } from '../../src/scan/context.js';
import { Policy } from '../../src/scan/policy/policy.js';
import { CONFIG_RULES } from '../../src/scan/rules-config.js';
import { assertMeets } from '../support/expect.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures');

interface Entry {
  path: string;
  technique: string;
  expect: 'clean' | { minSeverity: Severity; mentions: string[] };
}

async function scanSource(src: ByteSource, location: string, depth: number, ctx: ScanContext): Promise<boolean> {
  const head = await src.read(0, 4096);
  let claimed = false;
  for (const s of CONFIG_SCANNERS) {
    if (!s.sniff(head, src.size)) continue;
    claimed = true;
    ctx.formats.push(s.id);
    await s.scan(src, { location, depth, ecosystems: ['python', 'torch', 'numpy', 'sklearn', 'joblib'] }, ctx);
  }
  return claimed;
}

/** A file through the config scanners; .nemo archives (tar, maybe gzipped) member by member, as scanner.ts does. */
async function scanPath(path: string, ctx = createScanContext(path)): Promise<{ ctx: ScanContext; claimed: boolean }> {
  if (path.endsWith('.nemo')) {
    let b = readFileSync(path);
    if (b[0] === 0x1f && b[1] === 0x8b) b = gunzipSync(b);
    const { entries } = await readTar(new BufferSource(b), ctx.limits, ctx.budget);
    let claimed = false;
    for (const e of entries) claimed = (await scanSource(new BufferSource(e.data, e.name), `${path}!${e.name}`, 1, ctx)) || claimed;
    return { ctx, claimed };
  }
  const src = await FileSource.open(path);
  try {
    return { ctx, claimed: await scanSource(src, path, 0, ctx) };
  } finally {
    await src.close();
  }
}

const show = (fs: Finding[]): string => fs.map((f) => `  ${f.severity} ${f.ruleId} ${f.message}`).join('\n') || '  (none)';
const loud = (fs: Finding[]): Finding[] => fs.filter((f) => severityRank(f.severity) >= severityRank('MEDIUM'));

for (const dir of ['config', 'hf-repo']) {
  const file = dir === 'hf-repo' ? join(FIX, 'hf-repo.manifest.json') : join(FIX, dir, 'manifest.json');
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as Entry[];
  for (const e of manifest) {
    if (/\.(bin|pt|safetensors)$/.test(e.path)) continue; // weights: other scanners' business
    test(`${dir}/${e.path}: ${e.technique}`, async () => {
      const { ctx, claimed } = await scanPath(join(FIX, dir, e.path));
      assert.ok(claimed, 'claimed by a config scanner');
      assert.deepEqual(ctx.errors, []);
      assertMeets(ctx.findings, e.expect);
    });
  }
}

/** The files a config/remote-code finding says the loader runs. */
function runs(f: Finding): string[] {
  const line = (f.evidence ?? '').split('\n').find((l) => l.startsWith('runs: '));
  return line ? line.slice('runs: '.length).split(', ') : [];
}

test('hf-repo: the custom-code findings list exactly modeling_custom.py and configuration_custom.py', async () => {
  const files = ['config.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json'];
  const all: Finding[] = [];
  for (const f of files) {
    const { ctx, claimed } = await scanPath(join(FIX, 'hf-repo', f));
    assert.ok(claimed, f);
    assert.deepEqual(loud(ctx.findings), [], `${f} stays below MEDIUM:\n${show(ctx.findings)}`);
    all.push(...ctx.findings);
  }
  const code = all.filter((f) => f.ruleId === 'config/remote-code');
  assert.deepEqual(code.map((f) => f.location.split('/').pop()).sort(), ['config.json', 'tokenizer_config.json']);
  assert.deepEqual([...new Set(code.flatMap(runs))].sort(), ['configuration_custom.py', 'modeling_custom.py']);
  // config.json alone reaches configuration_custom.py twice: via AutoConfig and via modeling_custom.py's relative import.
  const cfg = code.find((f) => f.location.endsWith('/config.json'))!;
  assert.deepEqual(runs(cfg), ['configuration_custom.py', 'modeling_custom.py']);
  assert.match(cfg.evidence!, /modeling_custom\.py imports \.configuration_custom/);
  assert.match(cfg.message, /trust_remote_code=True runs configuration_custom\.py, modeling_custom\.py/);
  const tok = code.find((f) => f.location.endsWith('/tokenizer_config.json'))!;
  assert.deepEqual(runs(tok), ['modeling_custom.py', 'configuration_custom.py'], 'the tokenizer module imports the config module');
});

test('local code found through relative imports; missing ones reported', async () => {
  const { ctx } = await scanPath(join(FIX, 'config/benign/local-code/config.json'));
  const f = ctx.findings.find((x) => x.ruleId === 'config/remote-code')!;
  assert.deepEqual(runs(f), ['configuration_local.py', 'modeling_local.py', 'gating_utils.py']);
  const missing = await scanPath(join(FIX, 'config/malicious/missing-code/config.json'));
  assert.deepEqual(
    missing.ctx.findings.map((x) => `${x.severity} ${x.ruleId}`),
    ['MEDIUM config/remote-code-missing'],
  );
});

test('a config that is not a file in a folder: files listed, presence not claimed', async () => {
  const bytes = readFileSync(join(FIX, 'hf-repo/config.json'));
  const ctx = createScanContext('repo.tar');
  await jsonConfigScanner.scan(new BufferSource(bytes, 'config.json'), { location: 'repo.tar!config.json', depth: 1, ecosystems: ['python'] }, ctx);
  assert.deepEqual(ctx.findings.map((f) => `${f.severity} ${f.ruleId}`), ['INFO config/remote-code']);
  assert.deepEqual(runs(ctx.findings[0]), ['configuration_custom.py', 'modeling_custom.py']);
  assert.match(ctx.findings[0].message, /not checked/);
  const at = bytes.indexOf('"auto_map": ') + '"auto_map": '.length;
  assert.equal(ctx.findings[0].offset, at);
  const before = bytes.subarray(0, at).toString('utf8').split('\n');
  assert.deepEqual([ctx.findings[0].line, ctx.findings[0].column], [before.length, before[before.length - 1].length + 1]);
});

test('arbitrary JSON is claimed as json but gets no finding', async () => {
  const cases = [
    '{"version": "1.0", "truncation": null, "added_tokens": [{"id": 0, "content": "<pad>"}], "model": {"type": "BPE", "vocab": {"a": 0, "b": 1}}}',
    '{"class_name": "Functional", "config": {"name": "model", "layers": []}, "keras_version": "3.3.3", "module": "keras.src.models.functional"}',
    '{"<pad>": 0, "auto_map": 1}',
    '{"a": [1, 2, 3], "b": {"auto_map": {"AutoModel": "evil--x.Y"}}}',
  ];
  for (const c of cases) {
    const ctx = createScanContext('x.json');
    assert.equal(jsonConfigScanner.sniff(Buffer.from(c), c.length), true);
    await jsonConfigScanner.scan(new BufferSource(Buffer.from(c)), { location: 'x.json', depth: 0, ecosystems: ['python'] }, ctx);
    assert.deepEqual(ctx.findings, [], c);
  }
  // "auto_map" at top level with a marker key makes it a Hugging Face config.
  const ctx = createScanContext('x.json');
  await jsonConfigScanner.scan(new BufferSource(Buffer.from('{"model_type": "x", "auto_map": {"AutoModel": "evil/x--m.C"}}')), { location: 'x.json', depth: 0, ecosystems: ['python'] }, ctx);
  assert.deepEqual(ctx.findings.map((f) => `${f.severity} ${f.ruleId}`), ['HIGH config/remote-code-other-repo']);
  assert.deepEqual(ctx.formats, ['hf-config']);
});

test('processor and feature-extractor configs: their auto_map entries are read too', async () => {
  const text = JSON.stringify({
    auto_map: { AutoProcessor: 'processing_x.XProcessor', AutoImageProcessor: 'image_processing_x.XImageProcessor', AutoFeatureExtractor: 'other/fe--feature_extraction_x.XFE' },
    image_processor_type: 'XImageProcessor',
    processor_class: 'XProcessor',
  });
  const ctx = createScanContext('preprocessor_config.json');
  await jsonConfigScanner.scan(new BufferSource(Buffer.from(text)), { location: 'preprocessor_config.json', depth: 1, ecosystems: ['python'] }, ctx);
  assert.deepEqual(ctx.findings.map((f) => `${f.severity} ${f.ruleId}`), ['HIGH config/remote-code-other-repo', 'INFO config/remote-code']);
  assert.deepEqual(runs(ctx.findings[1]), ['processing_x.py', 'image_processing_x.py']);
  assert.match(ctx.findings[0].message, /feature_extraction_x\.py from the Hub repo other\/fe/);
});

test('trust_remote_code, a broken HF config, and a config past the read bound', async () => {
  const run = async (text: string | Buffer): Promise<ScanContext> => {
    const ctx = createScanContext('c.json');
    await jsonConfigScanner.scan(new BufferSource(Buffer.isBuffer(text) ? text : Buffer.from(text)), { location: 'c.json', depth: 1, ecosystems: ['python'] }, ctx);
    return ctx;
  };
  const t = await run('{"model_type": "x", "trust_remote_code": true}');
  assert.deepEqual(t.findings.map((f) => `${f.severity} ${f.ruleId}`), ['INFO config/trust-remote-code']);
  // Broken JSON with code keys: the findings found so far are kept and the dispatcher gets an error to report.
  const ctx = createScanContext('c.json');
  await assert.rejects(
    jsonConfigScanner.scan(new BufferSource(Buffer.from('{"model_type": "x", "auto_map": {"AutoModel": "o/r--m.C"}, }')), { location: 'c.json', depth: 1, ecosystems: ['python'] }, ctx),
    /expected a property name/,
  );
  assert.deepEqual(ctx.findings.map((f) => f.ruleId), ['config/remote-code-other-repo']);
  // Broken JSON that is not a Hugging Face config: silent.
  assert.deepEqual((await run('{"a": 1,}')).findings, []);
  const big = Buffer.concat([Buffer.from('{"model_type": "x", "pad": "'), Buffer.alloc(17 * 1024 * 1024, 0x61), Buffer.from('", "auto_map": {"AutoModel": "o/r--m.C"}}')]);
  const b = await run(big);
  assert.deepEqual(b.findings.map((f) => `${f.severity} ${f.ruleId}`), ['LOW config/truncated']);
});

test('classifying targets: deny list, allowlist, known libraries, unknown', () => {
  const p = Policy.default();
  const c = (t: string, module = false): string => {
    const v = classifyTarget(p, t, module);
    return `${v.level} ${v.severity}`;
  };
  assert.equal(c('os.system'), 'dangerous CRITICAL');
  assert.equal(c('posix.system'), 'dangerous CRITICAL');
  assert.equal(c('os..system'), 'dangerous CRITICAL', 'pydoc.locate drops empty parts');
  assert.equal(c('eval'), 'dangerous CRITICAL', 'a bare name is a builtin to pydoc.locate');
  assert.equal(c('builtins.getattr'), 'dangerous HIGH');
  assert.equal(c('torch.hub.load'), 'dangerous CRITICAL', 'known library, dangerous function');
  assert.equal(c('torch.load'), 'dangerous CRITICAL');
  assert.equal(c('speechbrain.utils.superpowers.run_shell'), 'dangerous CRITICAL');
  assert.equal(c('hydra.utils.get_method'), 'dangerous HIGH');
  assert.equal(c('os', true), 'dangerous HIGH');
  assert.equal(c('os.path', true), 'dangerous HIGH');
  assert.equal(c('speechbrain.lobes.features.Fbank'), 'known INFO');
  assert.equal(c('torch.nn', true), 'known INFO');
  assert.equal(c('nemo.collections.asr.modules.ConformerEncoder'), 'known INFO');
  assert.equal(c('collections.OrderedDict'), 'known INFO');
  assert.ok(classifyTarget(p, 'collections.OrderedDict').allowlisted);
  assert.equal(c('mylab.models.Net'), 'unknown MEDIUM');
  assert.equal(c('my-lab.Net'), 'unknown MEDIUM');
  assert.equal(c(''), 'unknown MEDIUM');
  const allowing = Policy.fromConfig({ allow: ['mylab.models.*'] });
  assert.equal(classifyTarget(allowing, 'mylab.models.Net').level, 'known');
});

test('YAML severities: python tags, unknown targets, includes, user allow list', async () => {
  const run = async (text: string, opts?: Parameters<typeof createScanContext>[1]): Promise<string[]> => {
    const ctx = createScanContext('h.yaml', opts);
    assert.equal(yamlConfigScanner.sniff(Buffer.from(text), text.length), true, text);
    await yamlConfigScanner.scan(new BufferSource(Buffer.from(text)), { location: 'h.yaml', depth: 0, ecosystems: ['python'] }, ctx);
    return ctx.findings.map((f) => `${f.severity} ${f.ruleId} ${f.global ?? ''}`.trim());
  };
  assert.deepEqual(await run('a: !!python/object/apply:collections.OrderedDict [[[k, 1]]]\n'), ['LOW config/yaml-python-tag collections.OrderedDict']);
  assert.deepEqual(await run('a: !!python/object:speechbrain.dataio.TensorSaver {}\n'), ['HIGH config/yaml-python-tag speechbrain.dataio.TensorSaver']);
  assert.deepEqual(await run('a: !new:mylab.models.Net {}\nb: !new:mylab.models.Net {}\n'), ['MEDIUM config/yaml-unknown-callable mylab.models.Net']);
  assert.deepEqual(await run('a: !new:mylab.models.Net {}\n', { config: { allow: ['mylab.*'] } }), ['INFO config/yaml-callables']);
  assert.deepEqual(await run('a: !include:/etc/ptmscope/base.yaml\nb: !include:common.yaml\n'), ['MEDIUM config/yaml-include', 'INFO config/yaml-callables']);
  assert.deepEqual(await run('model:\n  _target_: torch.nn.Linear\n  in_features: 3\n'), ['INFO config/yaml-callables']);
  assert.deepEqual(await run('o: {x: 1}\nw: !new:torch.nn.ReLU\nv: !ref <o.__globals__>\n'), ['HIGH config/yaml-dangerous-callable', 'INFO config/yaml-callables']);
});

test('every rule the scanners emit is in the catalogue', async () => {
  const ids = new Set(CONFIG_RULES.map((r) => r.id));
  const seen = new Set<string>();
  const manifest = JSON.parse(readFileSync(join(FIX, 'config/manifest.json'), 'utf8')) as Entry[];
  for (const e of manifest) for (const f of (await scanPath(join(FIX, 'config', e.path))).ctx.findings) seen.add(f.ruleId);
  for (const id of seen) assert.ok(ids.has(id), `${id} missing from CONFIG_RULES`);
  for (const r of CONFIG_RULES) assert.match(r.id, /^config\/[a-z-]+$/);
});

test('YAML findings carry the line and column of the key, and the byte offset', async () => {
  const path = join(FIX, 'config/malicious/speechbrain/hyperparams_exec.yaml');
  const { ctx } = await scanPath(path);
  const bytes = readFileSync(path);
  const f = ctx.findings.find((x) => x.global === 'os.system')!;
  assert.deepEqual([f.line, f.column], [50, 1]);
  assert.equal(f.offset, bytes.indexOf('__cache_warmup: !new:os.system'));
  const eval_ = ctx.findings.find((x) => x.global === 'builtins.eval')!;
  assert.deepEqual([eval_.line, eval_.column], [54, 1]);
  const nested = createScanContext('n.yaml');
  const text = '\ufeffmodel:\n  heads:\n    - _target_: os.system\n      _args_: [x]\n';
  await yamlConfigScanner.scan(new BufferSource(Buffer.from(text)), { location: 'n.yaml', depth: 0, ecosystems: ['python'] }, nested);
  const g = nested.findings[0];
  assert.deepEqual([g.line, g.column, g.offset], [3, 7, Buffer.from(text).indexOf('_target_')]);
});

test('a callable tag pushed past the first 4 KiB by padding is still found', async () => {
  const text = `lr: 0.1\n${'# padding\n'.repeat(1000)}cleanup: !apply:os.system ["touch /tmp/ptmscope_marker"]\n`;
  const r = await scanBytes(Buffer.from(text), 'hyperparams.yaml');
  assert.ok(r.findings.some((f) => f.severity === 'CRITICAL' && f.global === 'os.system'), r.findings.map((f) => `${f.severity} ${f.ruleId} ${f.global}`).join('\n'));
  // YAML without callables stays quiet and counts as skipped.
  const plain = await scanBytes(Buffer.from(`lr: 0.1\n${'# padding\n'.repeat(1000)}epochs: 3\n`), 'train.yaml');
  assert.equal(plain.skipped, true);
});
