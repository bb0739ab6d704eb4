import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  collectCodeReferences,
  isUtf8Text,
  parseClassReference,
  readJsonTopLevel,
  relativeImports,
  sniffJsonObject,
} from '../../src/formats/hf-config.js';
import { BufferSource } from '../../src/formats/source.js';
import { createScanContext } from '../../src/scan/scanner.js';
import { jsonConfigScanner } from '../../src/scan/config-scan.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures');

function jsonFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...jsonFiles(p));
    else if (e.name.endsWith('.json') && e.name !== 'manifest.json') out.push(p);
  }
  return out;
}
/** Values come back as null-prototype objects (a "__proto__" key stays data); compare as plain JSON. */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

const FILES = [...jsonFiles(join(FIX, 'config')), ...jsonFiles(join(FIX, 'hf-repo'))];

test('sniff: JSON objects that are UTF-8 text, nothing else', () => {
  assert.equal(sniffJsonObject(Buffer.from('{"a": 1}')), true);
  assert.equal(sniffJsonObject(Buffer.from(' \r\n\t{"a": 1}')), true);
  assert.equal(sniffJsonObject(Buffer.from('[{"a": 1}]')), false, 'arrays are not configs');
  assert.equal(sniffJsonObject(Buffer.from('\ufeff{"a": 1}')), false, "json.loads rejects a BOM, so transformers can't read it");
  assert.equal(sniffJsonObject(Buffer.from('a: {b}')), false);
  assert.equal(sniffJsonObject(Buffer.from('{%- for message in messages %}{{ message.content }}{% endfor %}')), false, 'a Jinja chat template');
  assert.equal(sniffJsonObject(Buffer.from('{{ bos_token }}')), false);
  assert.equal(sniffJsonObject(Buffer.from('{a: 1, b: !!python/object/apply:os.system [x]}')), false, 'a YAML flow map is for the YAML scanner');
  assert.equal(sniffJsonObject(Buffer.from('{ }')), true);
  assert.equal(sniffJsonObject(Buffer.from('{\n  \n')), true, 'cut by the window after the brace');
  assert.equal(sniffJsonObject(Buffer.from([0x7b, 0x22, 0x00, 0x22, 0x7d])), false, 'NUL: binary');
  // A safetensors header starts with an 8-byte length, never '{'.
  const st = Buffer.alloc(16);
  st.writeBigUInt64LE(8n);
  st.write('{"a":1}', 8);
  assert.equal(sniffJsonObject(st), false);
  // A multi-byte character cut by the 4 KiB window is still text.
  const cut = Buffer.concat([Buffer.from('{"k": "'), Buffer.from('é€', 'utf8').subarray(0, 4)]);
  assert.equal(isUtf8Text(cut), true);
  assert.equal(isUtf8Text(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), false, 'invalid UTF-8');
  for (const f of FILES) assert.equal(sniffJsonObject(readFileSync(f).subarray(0, 4096)), true, f);
});

test('top-level keys of real configs, values only for wanted keys', () => {
  const bert = readFileSync(join(FIX, 'config/benign/hf/bert-base-uncased.json'));
  const r = readJsonTopLevel(bert, (k) => k === 'architectures' || k === 'layer_norm_eps');
  assert.equal(r.error, undefined);
  assert.equal(r.truncated, false);
  assert.ok(r.keys.includes('model_type') && r.keys.includes('vocab_size'));
  assert.deepEqual(r.values.get('architectures'), ['BertModel']);
  assert.equal(r.values.get('layer_norm_eps'), 1e-12);
  assert.equal(r.values.has('vocab_size'), false, 'unwanted values are skipped, not kept');
  assert.equal(bert.toString('latin1', r.offsets.get('architectures')!, r.offsets.get('architectures')! + 1), '[');

  const tok = readFileSync(join(FIX, 'hf-repo/tokenizer_config.json'));
  const t = readJsonTopLevel(tok, (k) => k === 'auto_map');
  assert.deepEqual(plain(t.values.get('auto_map')), { AutoTokenizer: ['modeling_custom.GatedResidualByteTokenizer', null] });
});

test("Python json's dialect: NaN/Infinity, duplicates (last wins), escaped keys", () => {
  const r = readJsonTopLevel(Buffer.from('{"a": NaN, "b": -Infinity, "c": [Infinity], "auto\\u005fmap": {"x": "m.C"}, "auto_map": {"y": "n.D"}}'), () => true);
  assert.equal(r.error, undefined);
  assert.ok(Number.isNaN(r.values.get('a') as number));
  assert.equal(r.values.get('b'), -Infinity);
  assert.deepEqual(r.values.get('c'), [Infinity]);
  // "auto\u005fmap" IS auto_map to Python; the later one wins.
  assert.deepEqual(r.keys, ['a', 'b', 'c', 'auto_map']);
  assert.deepEqual(r.duplicates, ['auto_map']);
  assert.deepEqual(plain(r.values.get('auto_map')), { y: 'n.D' });
  const proto = readJsonTopLevel(Buffer.from('{"auto_map": {"__proto__": "m.C", "constructor": "n.D"}}'), () => true);
  assert.deepEqual(Object.keys(proto.values.get('auto_map') as object), ['__proto__', 'constructor'], '"__proto__" is an ordinary key');
  const s = readJsonTopLevel(Buffer.from('{"k": "caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\\\ \\/"}'), () => true);
  assert.equal(s.values.get('k'), 'café 😀 "q" \\ /');
});

test('what Python would reject is an error; a cut-off read is truncation', () => {
  const bad = ['{"a": 1,}', '{"a": 01}', "{'a': 1}", '{"a": 1} x', '{"a": "x\ny"}', '{"a": tru}', '{"a" 1}', '{"a": "\\x"}', '{"a": [1 2]}'];
  for (const b of bad) assert.ok(readJsonTopLevel(Buffer.from(b), () => true).error, b);
  const deep = Buffer.from(`{"a": ${'['.repeat(5000)}${']'.repeat(5000)}}`);
  assert.match(readJsonTopLevel(deep, () => false).error?.message ?? '', /nesting deeper/);
  const cut = Buffer.from('{"auto_map": {"AutoModel": "m.C"}, "vocab": {"aaa": 1, "bb');
  const c = readJsonTopLevel(cut, (k) => k === 'auto_map', true);
  assert.equal(c.truncated, true);
  assert.equal(c.error, undefined);
  assert.deepEqual(plain(c.values.get('auto_map')), { AutoModel: 'm.C' });
  assert.ok(readJsonTopLevel(cut, () => true, false).error, 'the same bytes as a whole file are a syntax error');
  assert.equal(readJsonTopLevel(Buffer.from('{"a": 12'), () => true, true).truncated, true, 'a number cut by the bound');
});

test('agrees with Python json.loads on accept/reject and top-level keys', (t) => {
  if (!existsSync('/usr/bin/python3')) {
    t.skip('/usr/bin/python3 not available');
    return;
  }
  const cases = [
    '{"a": NaN}', '{"a": 1,}', '{"a": 01}', '{"a": -0}', '{"a": 1e5, "b": 1E-5, "c": 2.5e+3}', '{"a": .5}', '{"a": 1.}',
    '{"a": "\\u00"}', '{"a": "\t"}', '{"a": [] }  \n', '{"a": {}}x', '{"a": true, "a": false}', ' {"auto\\u005fmap": 1}',
    '{"a": -Infinity, "b": Infinity}', '{"a": -NaN}', '{"a": "\\ud800"}', '{"a":1}\u00a0', '{"a": nul}', '{}', '{"": 1}',
    ...FILES.map((f) => readFileSync(f, 'utf8')),
  ];
  const py = spawnSync(
    '/usr/bin/python3',
    ['-c', 'import json,sys\nfor s in json.load(sys.stdin):\n  try:\n    d=json.loads(s); print(json.dumps(list(d.keys()) if isinstance(d, dict) else None))\n  except Exception as e: print("null")'],
    { input: JSON.stringify(cases), encoding: 'utf8' },
  );
  assert.equal(py.status, 0, py.stderr);
  const answers = py.stdout.trim().split('\n').map((l) => JSON.parse(l) as string[] | null);
  cases.forEach((c, i) => {
    const r = readJsonTopLevel(Buffer.from(c, 'utf8'), () => false);
    if (answers[i] === null) assert.ok(r.error, `python rejects ${JSON.stringify(c.slice(0, 60))}`);
    else {
      assert.equal(r.error, undefined, `python accepts ${JSON.stringify(c.slice(0, 60))}: ${r.error?.message}`);
      assert.deepEqual(r.keys, answers[i], c.slice(0, 60));
    }
  });
});

test('class references as get_class_from_dynamic_module reads them', () => {
  const plain = parseClassReference('modeling_foo.FooModel');
  assert.deepEqual([plain.repo, plain.module, plain.className, plain.file, plain.problems], [undefined, 'modeling_foo', 'FooModel', 'modeling_foo.py', []]);
  const other = parseClassReference('THUDM/chatglm2-6b--modeling_chatglm.ChatGLMForConditionalGeneration');
  assert.equal(other.repo, 'THUDM/chatglm2-6b');
  assert.equal(other.file, 'modeling_chatglm.py');
  assert.deepEqual([other.problems, other.repoProblems], [[], []]);
  assert.match(parseClassReference('/tmp/x.Y').problems.join(), /absolute path/);
  assert.match(parseClassReference('C:\\x\\y.Z').problems.join(), /absolute path/);
  assert.match(parseClassReference('sub/modeling.Y').problems.join(), /another folder/);
  assert.match(parseClassReference('a.b.C').problems.join(), /more than one "\."/);
  assert.match(parseClassReference('modeling-x.C').problems.join(), /not a Python identifier/);
  assert.match(parseClassReference('m.C D').problems.join(), /class "C D"/);
  assert.match(parseClassReference('NoDot').problems.join(), /no "\."/);
  assert.match(parseClassReference('../../tmp--m.C').repoProblems.join(), /file-system path/);
  assert.match(parseClassReference('~/models--m.C').repoProblems.join(), /file-system path/);
  assert.match(parseClassReference('a--b--m.C').problems.join(), /more than one "--"/);
  assert.match(parseClassReference('org/a b--m.C').repoProblems.join(), /not a valid Hub repo id/);
});

test('code references: auto_map dicts, [slow, fast] lists, legacy lists, custom_pipelines', () => {
  const values = new Map<string, unknown>([
    ['auto_map', { AutoConfig: 'configuration_x.XConfig', AutoTokenizer: ['tokenization_x.XTokenizer', null], Odd: 5 }],
    ['custom_pipelines', { 'pair-classification': { impl: 'org/p--pipe.Pipe', pt: ['AutoModel'] }, broken: 'nope' }],
  ]);
  const { refs, odd } = collectCodeReferences(values);
  assert.deepEqual(
    refs.map((r) => [r.source, r.ref.raw]),
    [
      ['auto_map.AutoConfig', 'configuration_x.XConfig'],
      ['auto_map.AutoTokenizer[0]', 'tokenization_x.XTokenizer'],
      ['custom_pipelines["pair-classification"].impl', 'org/p--pipe.Pipe'],
    ],
  );
  assert.deepEqual(odd, ['auto_map.Odd = 5', 'custom_pipelines.broken = "nope"']);
  const legacy = collectCodeReferences(new Map([['auto_map', [null, 'tokenization_y.YFast']]]));
  assert.deepEqual(legacy.refs.map((r) => r.source), ['auto_map[1]']);
});

test('relative imports, the way transformers finds them', () => {
  const src = [
    'import torch',
    'from .configuration_x import XConfig',
    '  from .utils_x.sub import helper',
    'import .legacy_mod',
    'from . import nothing_here',
    'from ..outside import y',
    'x = "from .not_at_line_start import z"',
  ].join('\n');
  assert.deepEqual(relativeImports(src).sort(), ['configuration_x', 'legacy_mod', 'utils_x']);
});

test('fuzz: mutated real configs never throw from the reader or the scanner', async () => {
  const inputs = FILES.map((f) => readFileSync(f));
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: inputs.length - 1 }),
      fc.array(fc.record({ at: fc.nat(), value: fc.constantFrom(0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x2d, 0x2e, 0x00, 0xff, 0x20, 0x4e) }), { minLength: 1, maxLength: 8 }),
      fc.nat(),
      async (i, sets, cut) => {
        const b = Buffer.from(inputs[i]);
        for (const s of sets) b[s.at % b.length] = s.value;
        const input = b.subarray(0, cut % (b.length + 1));
        readJsonTopLevel(input, () => true);
        readJsonTopLevel(input, () => false, true);
        const ctx = createScanContext('fuzz.json');
        try {
          if (jsonConfigScanner.sniff(input.subarray(0, 4096), input.length)) {
            await jsonConfigScanner.scan(new BufferSource(input, 'fuzz.json'), { location: 'fuzz.json', depth: 1, ecosystems: ['python'] }, ctx);
          }
        } catch (e) {
          assert.ok(e instanceof Error, 'only Errors are thrown');
        }
      },
    ),
    { numRuns: 400 },
  );
});
