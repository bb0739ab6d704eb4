import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { decodeTagEscapes, hasCallableMarkers, readYamlConfig, sniffYamlConfig, type YamlCallable } from '../../src/formats/yaml-config.js';
import { BufferSource } from '../../src/formats/source.js';
import { createScanContext } from '../../src/scan/scanner.js';
import { yamlConfigScanner } from '../../src/scan/config-scan.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures');

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...yamlFiles(p));
    else if (e.name.endsWith('.yaml')) out.push(p);
  }
  return out;
}
const FILES = yamlFiles(join(FIX, 'config'));

/** What the scanner treats as a config: YAML-looking text (sniff) that names callables anywhere. */
const sniff = (s: string | Buffer): boolean => {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s);
  return sniffYamlConfig(b) && hasCallableMarkers(b.toString('utf8'));
};
const brief = (cs: YamlCallable[]): string[] => cs.map((c) => `${c.syntax} ${c.kind} ${c.target} @${c.line} ${c.path}`);

test('YAML that names callables is a config, and nothing else', () => {
  for (const f of FILES) assert.equal(sniff(readFileSync(f).subarray(0, 4096)), true, f);
  assert.equal(sniff('\ufeffa: !new:speechbrain.lobes.features.Fbank\n'), true, 'a BOM is fine for YAML');
  assert.equal(sniff('{"model": {"_target_": "torch.nn.Linear", "in_features": 3}}'), true, 'JSON is YAML to OmegaConf');
  assert.equal(sniff('- !!python/object/apply:os.system [x]\n'), true);
  assert.equal(sniff('%TAG !p! tag:yaml.org,2002:python/\n---\nx: !p!name:os.system\n'), true);
  // Not claimed: plain YAML, model cards, code and prose that mention tags, binary data.
  assert.equal(sniff('name: CI\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n'), false);
  assert.equal(sniff('---\nlicense: mit\ntags:\n- audio\n---\n# Model\n'), false);
  assert.equal(sniff('batch_size: 32\nhidden_dims: !!python/tuple\n- 256\n- 128\n'), false, 'python/tuple is data, not a callable');
  assert.equal(sniff('"""Docs.\n\n    thing: !new:collections.Counter\n"""\nimport yaml\n'), false, 'Python source with a YAML example');
  assert.equal(sniff('# Rules\n\nEvery finding has a rule id such as `!new:os.system`.\n'), false, 'prose');
  assert.equal(sniff('import os\nx = "_target_: os.system"\n'), false);
  assert.equal(sniff(Buffer.from([0x61, 0x3a, 0x20, 0x21, 0x6e, 0x00, 0x65, 0x77])), false, 'NUL: binary');
  assert.equal(sniff(''), false);
  // Tags far past the sniffed head still count: the whole text is searched.
  assert.equal(sniff(`a: 1\n${'# pad\n'.repeat(2000)}b: !new:os.system\n`), true);
});

test('HyperPyYAML tags: what is instantiated, called, imported, with the call rendered', () => {
  const cfg = readYamlConfig(readFileSync(join(FIX, 'config/malicious/speechbrain/hyperparams_exec.yaml'), 'utf8'));
  assert.deepEqual(cfg.errors, []);
  const hostile = cfg.callables.filter((c) => !c.target.startsWith('speechbrain.'));
  assert.deepEqual(brief(hostile), [
    'hyperpyyaml new os.system @50 __cache_warmup',
    'hyperpyyaml apply subprocess.check_output @52 __env_probe',
    'hyperpyyaml name builtins.eval @54 score_fn',
  ]);
  assert.equal(hostile[0].call, "os.system('touch /tmp/ptmscope_marker')");
  assert.equal(hostile[1].call, "subprocess.check_output(args=['touch', '/tmp/ptmscope_marker'])");
  assert.equal(hostile[2].call, `functools.partial(builtins.eval, "__import__('os').system('touch /tmp/ptmscope_marker')")`);
  const fbank = cfg.callables.find((c) => c.target === 'speechbrain.lobes.features.Fbank')!;
  assert.equal(fbank.call, 'speechbrain.lobes.features.Fbank(n_mels=<n_mels>, sample_rate=<sample_rate>)');
  assert.equal(cfg.callables.length, 10);
});

test('PyYAML python tags, including %TAG handles, verbatim tags, %-escapes and complex keys', () => {
  const text = [
    '%TAG !py! tag:yaml.org,2002:python/',
    '---',
    'a: !!python/object/apply:os.system ["touch x"]',
    'b: !py!name:builtins.eval',
    'c: !<tag:yaml.org,2002:python/object/new:subprocess.Popen> {args: [[touch, y]]}',
    'd: !!python/object/apply:os%2Esystem [z]',
    'e: !new:os%2esystem [w]',
    'f: !!python/object:argparse.Namespace {lr: 0.1}',
    'g: !!python/module:os',
    '? !!python/object/apply:subprocess.call [[touch, k]]',
    ': value',
    'h: !!python/tuple [1, 2]',
  ].join('\n');
  const cfg = readYamlConfig(text);
  assert.deepEqual(cfg.errors, []);
  assert.deepEqual(
    cfg.callables.map((c) => `${c.syntax} ${c.kind} ${c.target} @${c.line}`),
    [
      'pyyaml object/apply os.system @3',
      'pyyaml name builtins.eval @4',
      'pyyaml object/new subprocess.Popen @5',
      'pyyaml object/apply os.system @6',
      'hyperpyyaml new os.system @7',
      'pyyaml object argparse.Namespace @8',
      'pyyaml module os @9',
      'pyyaml object/apply subprocess.call @10',
    ],
  );
  assert.equal(cfg.callables[2].call, "subprocess.Popen.__new__(subprocess.Popen, ['touch', 'y'])");
  assert.equal(decodeTagEscapes('os%2Esystem'), 'os.system');
  assert.equal(decodeTagEscapes('bad%zz%2E'), 'bad%zz.');
});

test('Hydra _target_ at any depth, with _args_, _partial_, legacy cls/params and NeMo target', () => {
  const cfg = readYamlConfig(
    [
      'model:',
      '  encoder:',
      '    _target_: nemo.collections.asr.modules.ConformerEncoder',
      '    n_layers: 2',
      '  heads:',
      '    - _target_: os.system',
      '      _args_: [touch x]',
      '    - {_target_: operator.methodcaller, _partial_: true, _args_: [system, y]}',
      'legacy:',
      '  cls: subprocess.Popen',
      '  params: {args: [touch, z]}',
      'not_legacy:',
      '  cls: bert',
      'target: nemo.collections.asr.models.EncDecCTCModel',
      'nemo_version: 1.20.0',
    ].join('\n'),
  );
  assert.deepEqual(cfg.errors, []);
  assert.deepEqual(brief(cfg.callables).sort(), [
    'hydra target nemo.collections.asr.modules.ConformerEncoder @3 model.encoder',
    'hydra target operator.methodcaller @8 model.heads[1]',
    'hydra target os.system @6 model.heads[0]',
    'hydra target subprocess.Popen @10 legacy',
    'nemo-target target nemo.collections.asr.models.EncDecCTCModel @14 target',
  ]);
  const byTarget = new Map(cfg.callables.map((c) => [c.target, c.call]));
  assert.equal(byTarget.get('os.system'), "os.system('touch x')");
  assert.equal(byTarget.get('operator.methodcaller'), "functools.partial(operator.methodcaller, 'system', 'y')");
  assert.equal(byTarget.get('subprocess.Popen'), "subprocess.Popen(args=['touch', 'z'])");
  // OmegaConf interpolation is resolved before Hydra imports the target.
  const interp = readYamlConfig('classes:\n  runner: subprocess.run\nalias: ${classes.runner}\nstep:\n  _target_: ${alias}\n  args: [ls]\n');
  assert.deepEqual(interp.callables.map((c) => `${c.target} | ${c.display}`), ['subprocess.run | _target_: ${alias} (= subprocess.run)']);
  // A top-level "target:" alone is just a key.
  assert.deepEqual(readYamlConfig('target: a.b\nx: !new:torch.nn.Linear [1, 2]\n').callables.map((c) => c.target), ['torch.nn.Linear']);
});

test('!ref attribute reads: composed with the referenced callable, dunders flagged', () => {
  const cfg = readYamlConfig(
    [
      'm: !module:os',
      'alias: !ref <m>',
      'run: !ref <alias.system>',
      'obj: {a: 1}',
      'walk: !ref <obj.__class__>',
      'fine: !ref <obj.a>',
      'path: !ref <out>/x',
      'out: results',
    ].join('\n'),
  );
  assert.deepEqual(brief(cfg.callables), ['hyperpyyaml module os @1 m', 'ref-attribute getattr os.system @3 run']);
  assert.deepEqual(
    cfg.attributeReads.map((a) => `${a.ref}.${a.attr} @${a.line}`),
    ['obj.__class__ @5'],
  );
});

test('includes, multiple documents, aliases counted once', () => {
  const cfg = readYamlConfig('a: !include:base.yaml\nb: &x !new:torch.nn.ReLU\nc: *x\n---\nd: !include:../../etc/other.yaml\n');
  assert.equal(cfg.documents, 2);
  assert.deepEqual(cfg.includes.map((i) => i.file), ['base.yaml', '../../etc/other.yaml']);
  assert.deepEqual(cfg.callables.map((c) => c.target), ['torch.nn.ReLU']);
});

test('text the parser rejects is searched by pattern, so nothing hides behind a syntax error', () => {
  const text = 'a: !new:speechbrain.nnet.linear.Linear\n  b: [unclosed\nc: !!python/object/apply:os.system ["x"]\n  : : bad\n_target_: subprocess.run\n';
  const cfg = readYamlConfig(text);
  assert.ok(cfg.errors.length > 0);
  const targets = cfg.callables.map((c) => c.target);
  for (const t of ['speechbrain.nnet.linear.Linear', 'os.system', 'subprocess.run']) assert.ok(targets.includes(t), `${t} in ${targets}`);
  assert.equal(new Set(cfg.callables.map((c) => `${c.line}|${c.target}`)).size, cfg.callables.length, 'no duplicates');
});

test('large texts are searched by pattern only, %TAG handles included', () => {
  const pad = `${'# padding\n'.repeat(120_000)}`;
  const text = `%TAG !p! tag:yaml.org,2002:python/\n---\na: 1\n${pad}b: !p!object/apply:os.system [x]\nc: !new:torch.nn.ReLU\nd:\n  _target_: builtins.exec\n`;
  assert.ok(text.length > 1024 * 1024);
  const cfg = readYamlConfig(text);
  assert.match(cfg.errors[0], /searched by pattern only/);
  assert.deepEqual(cfg.callables.map((c) => `${c.syntax} ${c.kind} ${c.target}`).sort(), [
    'hydra target builtins.exec',
    'hyperpyyaml new torch.nn.ReLU',
    'pyyaml object/apply os.system',
  ]);
  assert.ok(cfg.callables.every((c) => c.loose));
});

test('hostile shapes end as results, not crashes', () => {
  const deep = readYamlConfig(`a: ${'['.repeat(50_000)}`);
  assert.ok(deep.errors.length > 0);
  const nested = readYamlConfig('a:\n' + Array.from({ length: 3000 }, (_, i) => `${' '.repeat(i + 1)}b${i}:`).join('\n') + ' !new:os.system');
  assert.ok(nested.callables.some((c) => c.target === 'os.system'));
  const bomb = readYamlConfig(['a: &a [!new:torch.nn.ReLU, !new:torch.nn.ReLU]', ...Array.from({ length: 30 }, (_, i) => `${String.fromCharCode(98 + (i % 20))}${i}: &n${i} [*${i === 0 ? 'a' : `n${i - 1}`}, *${i === 0 ? 'a' : `n${i - 1}`}]`)].join('\n'));
  assert.equal(bomb.callables.length, 2, 'aliases are not expanded');
});

test('fuzz: mutated YAML fixtures never throw from the reader or the scanner', async () => {
  const inputs = FILES.map((f) => readFileSync(f));
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: inputs.length - 1 }),
      fc.array(
        fc.record({ at: fc.nat(), bytes: fc.array(fc.constantFrom(0x21, 0x3a, 0x20, 0x0a, 0x2d, 0x5b, 0x5d, 0x7b, 0x7d, 0x26, 0x2a, 0x3c, 0x3e, 0x25, 0x22, 0x27, 0x23, 0x7c, 0x00, 0xc3), { minLength: 1, maxLength: 4 }) }),
        { minLength: 1, maxLength: 8 },
      ),
      async (i, edits) => {
        let b = Buffer.from(inputs[i]);
        for (const e of edits) {
          const at = e.at % (b.length + 1);
          b = Buffer.concat([b.subarray(0, at), Buffer.from(e.bytes), b.subarray(at)]);
        }
        readYamlConfig(b.toString('utf8'));
        const ctx = createScanContext('fuzz.yaml');
        try {
          if (yamlConfigScanner.sniff(b.subarray(0, 4096), b.length)) {
            await yamlConfigScanner.scan(new BufferSource(b, 'fuzz.yaml'), { location: 'fuzz.yaml', depth: 1, ecosystems: ['python'] }, ctx);
          }
        } catch (e) {
          assert.ok(e instanceof Error, 'only Errors are thrown');
        }
      },
    ),
    { numRuns: 200 },
  );
});
