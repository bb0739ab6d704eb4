import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { analyseTemplate, lexJinja, looksLikeTemplate, pyUnescape, type TemplateAnalysis } from '../../src/formats/jinja-template.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const TEMPLATES = join(ROOT, 'test/fixtures/tensors/templates');
const corpus = readdirSync(TEMPLATES)
  .filter((f) => f.endsWith('.jinja'))
  .map((f) => ({ name: f, text: readFileSync(join(TEMPLATES, f), 'utf8') }));
const PAYLOAD = 'touch /tmp/ptmscope_marker';

function kinds(a: TemplateAnalysis): string[] {
  return a.issues.map((i) => i.kind);
}

test('the template corpus is the real one (every file listed in the README with its source)', () => {
  assert.ok(corpus.length >= 20, `${corpus.length} templates`);
  const readme = readFileSync(join(TEMPLATES, 'README.md'), 'utf8');
  for (const t of corpus) assert.ok(readme.includes(t.name), `README names ${t.name}`);
});

for (const t of corpus) {
  test(`real chat template stays clean: ${t.name}`, () => {
    const a = analyseTemplate(t.text);
    assert.equal(a.parsed, true, `parsed by @huggingface/jinja: ${a.parseError}`);
    assert.equal(a.lexError, undefined, 'Jinja lexer rules accept it');
    assert.deepEqual(a.issues, []);
    const tokens = analyseTemplate(t.text, { tokensOnly: true });
    assert.equal(tokens.method, 'tokens');
    assert.deepEqual(tokens.issues, [], 'the token scan alone finds nothing either');
  });
}

// One malicious variant per technique, each appended to a real template.
const BASE = corpus.find((t) => t.name === 'llama-3.2-3b-instruct.jinja')!.text;
const variants: { name: string; inject: string; kind: string; names: string[]; tokensToo?: boolean }[] = [
  { name: 'cycler.__init__.__globals__.os.popen', inject: `{{ cycler.__init__.__globals__.os.popen('${PAYLOAD}').read() }}`, kind: 'code-execution', names: ['cycler', '__init__', '__globals__', 'os', 'popen'], tokensToo: true },
  { name: 'joiner.__init__.__globals__ builtins eval', inject: `{{ joiner.__init__.__globals__.__builtins__.eval("__import__('os').system('${PAYLOAD}')") }}`, kind: 'code-execution', names: ['joiner', '__builtins__', 'eval'], tokensToo: true },
  { name: 'namespace.__init__.__globals__ subprocess', inject: `{{ namespace.__init__.__globals__['sys'].modules['subprocess'].check_output(['touch','/tmp/ptmscope_marker']) }}`, kind: 'code-execution', names: ['namespace', 'sys', 'modules'], tokensToo: true },
  { name: "|attr('__class__') chain", inject: "{{ ''|attr('__class__')|attr('__mro__')|last|attr('__subclasses__')() }}", kind: 'object-walk', names: ['__class__', '__mro__', '__subclasses__'], tokensToo: true },
  { name: "names built by concatenation ('__cla'+'ss__')", inject: "{{ ''|attr('__cla'+'ss__')|attr('__mr' ~ 'o__') }}", kind: 'object-walk', names: ['__class__', '__mro__'], tokensToo: true },
  { name: 'names built in a set statement', inject: "{% set g = '__glo' ~ 'bals__' %}{{ cycler.__init__|attr(g) }}", kind: 'object-walk', names: ['cycler', '__globals__'], tokensToo: true },
  { name: 'self._TemplateReference__context', inject: `{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('${PAYLOAD}').read() }}`, kind: 'code-execution', names: ['self', '_TemplateReference__context'], tokensToo: true },
  { name: "lipsum.__globals__['os']", inject: `{{ lipsum.__globals__['os'].popen('${PAYLOAD}').read() }}`, kind: 'code-execution', names: ['lipsum', '__globals__', 'os', 'popen'], tokensToo: true },
  { name: "range.__init__.__globals__['__builtins__']['__import__']", inject: "{{ range.__init__.__globals__['__builtins__']['__import__']('os').system('id') }}", kind: 'code-execution', names: ['__import__'], tokensToo: true },
  { name: "''.__class__.__mro__[1].__subclasses__()", inject: "{{ ''.__class__.__mro__[1].__subclasses__() }}", kind: 'object-walk', names: ['__subclasses__'], tokensToo: true },
  { name: '|attr() with a computed name', inject: '{{ messages|attr(messages[0].role) }}', kind: 'computed-attribute', names: ['attr'], tokensToo: true },
  { name: 'reversed slice', inject: "{{ cycler|attr('__tini__'[::-1]) }}", kind: 'object-walk', names: ['__init__'], tokensToo: true },
  { name: '%c format', inject: "{{ cycler|attr('%c%cinit%c%c'|format(95,95,95,95)) }}", kind: 'object-walk', names: ['__init__'] },
  { name: 'join of pieces', inject: "{{ cycler|attr(['__in','it__']|join) }}", kind: 'object-walk', names: ['__init__'], tokensToo: true },
  { name: 'map(attr)', inject: "{{ [cycler]|map('attr', '__init__')|list }}", kind: 'object-walk', names: ['__init__'], tokensToo: true },
  { name: 'hex escapes', inject: "{{ cycler['\\x5f\\x5finit\\x5f\\x5f'] }}", kind: 'object-walk', names: ['__init__'], tokensToo: true },
  { name: '__getattribute__ call', inject: "{{ cycler.__getattribute__('__init__').__globals__.get('os').popen('id') }}", kind: 'code-execution', names: ['__getattribute__', 'os'], tokensToo: true },
  { name: 'config object (Flask gadget)', inject: '{{ config.items() }}', kind: 'object-walk', names: ['config'], tokensToo: true },
];

for (const v of variants) {
  test(`malicious variant is flagged: ${v.name}`, () => {
    const a = analyseTemplate(BASE + v.inject);
    assert.ok(kinds(a).includes(v.kind), `expected ${v.kind}, got ${JSON.stringify(a.issues)}`);
    const issue = a.issues.find((i) => i.kind === v.kind)!;
    for (const n of v.names) assert.ok(issue.names.includes(n), `names ${JSON.stringify(issue.names)} include ${n}`);
    assert.ok(issue.evidence.length > 0);
    if (v.tokensToo) {
      const t = analyseTemplate(BASE + v.inject, { tokensOnly: true });
      assert.ok(kinds(t).includes(v.kind), `token scan: expected ${v.kind}, got ${JSON.stringify(t.issues)}`);
    }
  });
}

test('code execution is reported in source order with the whole expression as evidence', () => {
  const a = analyseTemplate(`{{ cycler.__init__.__globals__.os.popen('${PAYLOAD}').read() }}`);
  assert.deepEqual(a.issues, [
    { kind: 'code-execution', names: ['cycler', '__init__', '__globals__', 'os', 'popen'], evidence: `cycler.__init__.__globals__.os.popen('${PAYLOAD}').read()` },
  ]);
});

test('templates the parser rejects are still scanned, and say so', () => {
  // Octal escapes: @huggingface/jinja rejects "\1", Jinja (Python unicode-escape) reads "_".
  const octal = analyseTemplate(`{{ cycler['\\137\\137init\\137\\137']['\\137\\137globals\\137\\137'].os.popen('${PAYLOAD}') }}`);
  assert.equal(octal.parsed, false);
  assert.match(octal.parseError!, /escape/i);
  assert.deepEqual(kinds(octal), ['code-execution']);
  // Statements the parser does not know ({% raw %}, tests with arguments, {%+ %}).
  for (const src of [
    `{% if 3 is divisibleby(3) %}{{ cycler.__init__.__globals__.os.popen('x') }}{% endif %}`,
    `{%+ if true +%}{{ lipsum.__globals__.os.system('x') }}{% endif %}`,
    `{% filter upper %}{{ x }}{% endfilter %}{% include 'x' %}{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('x') }}`,
  ]) {
    const a = analyseTemplate(src);
    assert.equal(a.parsed, false, src);
    assert.deepEqual(kinds(a), ['code-execution'], src);
  }
});

test('raw blocks and comments are text, as Jinja reads them', () => {
  const raw = analyseTemplate("{% raw %}{{ cycler.__init__.__globals__.os.popen('x') }}{% endraw %}Hello {{ name }}");
  assert.equal(raw.parsed, false, 'the parser does not know raw');
  assert.deepEqual(raw.issues, []);
  assert.deepEqual(analyseTemplate("{# {{ lipsum.__globals__.os.popen('x') }} #}Hello").issues, []);
  assert.deepEqual(analyseTemplate("{{ 'cycler.__init__.__globals__ is just a string' }}").issues, []);
});

test('ordinary names that look like gadgets are not flagged when the template binds them', () => {
  assert.deepEqual(analyseTemplate("{% set config = {'a': 1} %}{{ config.a }}").issues, []);
  assert.deepEqual(analyseTemplate("{% for self in items %}{{ self.name }}{% endfor %}").issues, []);
  assert.deepEqual(analyseTemplate("{% set ns = namespace(found=false) %}{% set ns.found = true %}{{ ns.found }}{{ range(3)|list }}{{ cycler('a','b').next() }}").issues, []);
  assert.deepEqual(analyseTemplate("{%- macro __render(tool) %}{{ tool.name }}{% endmacro %}{{ __render(t) }}").issues, [], 'a macro named __x is not an attribute');
});

test('lexer follows Jinja: whitespace control, nested braces, strings with escapes, unterminated tags', () => {
  const { tokens, error } = lexJinja("a{%- if x -%}b{{ {'k': {'n': 1}} }}{#- c -#}{{ 'it\\'s' }}");
  assert.equal(error, undefined);
  assert.deepEqual(
    tokens.map((t) => `${t.type}:${t.value}`),
    ['data:a', 'block_begin:{%', 'name:if', 'name:x', 'block_end:-%}', 'data:b', 'variable_begin:{{', 'operator:{', "string:k", 'operator::', 'operator:{', 'string:n', 'operator::', 'number:1', 'operator:}', 'operator:}', 'variable_end:}}', 'variable_begin:{{', "string:it's", 'variable_end:}}'],
  );
  assert.match(lexJinja('{{ x ').error!, /never closed/);
  assert.match(lexJinja("{{ 'x }}").error!, /unterminated string/);
  assert.match(lexJinja('{# x').error!, /comment/);
  assert.match(lexJinja('{% raw %}x').error!, /raw/);
});

test('Python string escapes are decoded as Jinja decodes them', () => {
  assert.equal(pyUnescape('\\137\\x5f\\u005f\\U0000005f'), '____');
  assert.equal(pyUnescape("a\\'b\\n"), "a'b\n");
  assert.equal(pyUnescape('\\q'), '\\q', 'unknown escapes keep the backslash');
  assert.equal(pyUnescape('\\x5'), undefined, 'truncated \\x is an error');
  assert.equal(pyUnescape('line\\\nnext'), 'linenext');
});

test('looksLikeTemplate needs an opening and a closing tag', () => {
  assert.equal(looksLikeTemplate('{{ x }}'), true);
  assert.equal(looksLikeTemplate('{% if %}'), true);
  assert.equal(looksLikeTemplate('{{'), false);
  assert.equal(looksLikeTemplate('}} {{'), false);
  assert.equal(looksLikeTemplate('plain text'), false);
});

test('hostile inputs end as analyses, not hangs or crashes', () => {
  const deep = `{{ ${'('.repeat(20000)}1${')'.repeat(20000)} }}`;
  assert.equal(typeof analyseTemplate(deep).method, 'string');
  const spaces = `{{ x }}${' '.repeat(200_000)}{% if y %}{% endif %}`;
  const t0 = Date.now();
  const a = analyseTemplate(spaces);
  assert.equal(a.parsed, false, 'long whitespace runs skip the third-party parser (its regex is quadratic)');
  assert.ok(Date.now() - t0 < 20_000);
  assert.equal(typeof analyseTemplate('{{' + '['.repeat(5000)).method, 'string');
});

test('fuzz: arbitrary and mutated templates never throw', () => {
  const pieces = ['{{', '}}', '{%', '%}', '{#', '#}', "'", '"', '\\', '__class__', '.', '|attr(', ')', '[', ']', 'raw', 'endraw', '-', '+', '~', 'cycler', ' ', '\n', 'if', 'for', 'set', '='];
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 6 })), { maxLength: 60 }), (parts) => {
      const a = analyseTemplate(parts.join(''));
      assert.ok(Array.isArray(a.issues));
    }),
    { numRuns: 3000, seed: 3435 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: corpus.length - 1 }), fc.nat(), fc.nat({ max: 40 }), fc.string({ maxLength: 8 }), (i, at, cut, ins) => {
      const t = corpus[i].text;
      const p = at % (t.length + 1);
      const a = analyseTemplate(t.slice(0, p) + ins + t.slice(p + cut));
      assert.ok(Array.isArray(a.issues));
    }),
    { numRuns: 1500, seed: 1134 },
  );
});
