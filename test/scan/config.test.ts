/**
 * The project config file: lookup (walking up, --config), the three formats,
 * validation errors that name the file, the key and what is accepted, and the
 * result feeding the policy. Every case writes real files in a temp dir.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  findConfigFile,
  loadConfig,
  readConfigFile,
  validateConfig,
  type ScanConfig,
} from '../../src/scan/config.js';
import { Policy } from '../../src/scan/policy/policy.js';

const EXAMPLE_YAML = `# ptmscope settings for this repository
failOn: HIGH
allow:
  - "mypkg.models.*"
  - argparse.Namespace
deny:
  - { pattern: "mypkg.dangerous.*", severity: CRITICAL, reason: "loads plugins" }
  - pattern: mypkg.hooks.run
    severity: medium
limits: { maxDepth: 4, maxEntries: 1000, maxDecompressedBytes: 2147483648, maxCompressionRatio: 500, maxOpcodes: 200000000 }
`;

const EXAMPLE_CONFIG: ScanConfig = {
  failOn: 'HIGH',
  allow: ['mypkg.models.*', 'argparse.Namespace'],
  deny: [
    { pattern: 'mypkg.dangerous.*', severity: 'CRITICAL', reason: 'loads plugins' },
    { pattern: 'mypkg.hooks.run', severity: 'MEDIUM' },
  ],
  limits: { maxDepth: 4, maxEntries: 1000, maxDecompressedBytes: 2147483648, maxCompressionRatio: 500, maxOpcodes: 200000000 },
};

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ptmscope-config-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Asserts a ConfigError whose message contains every fragment. */
async function rejectsWith(p: Promise<unknown>, ...fragments: string[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `${JSON.stringify(e.message)} lacks ${JSON.stringify(f)}`);
    return true;
  });
}

function throwsWith(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `${JSON.stringify(e.message)} lacks ${JSON.stringify(f)}`);
    return true;
  });
}

test('a .ptmscope.yaml is found from a nested directory and parsed', async () => {
  await withTemp(async (dir) => {
    const deep = join(dir, 'models', 'v1', 'checkpoints');
    await mkdir(deep, { recursive: true });
    await writeFile(join(dir, '.ptmscope.yaml'), EXAMPLE_YAML);
    const { config, path } = await loadConfig({ cwd: deep });
    assert.equal(path, join(dir, '.ptmscope.yaml'));
    assert.deepEqual(config, EXAMPLE_CONFIG);
  });
});

test('the nearest config wins over one further up', async () => {
  await withTemp(async (dir) => {
    const sub = join(dir, 'sub');
    await mkdir(sub);
    await writeFile(join(dir, '.ptmscope.yaml'), 'failOn: LOW\n');
    await writeFile(join(sub, '.ptmscope.yml'), 'failOn: CRITICAL\n');
    const { config, path } = await loadConfig({ cwd: sub });
    assert.equal(path, join(sub, '.ptmscope.yml'));
    assert.equal(config.failOn, 'CRITICAL');
  });
});

test('.ptmscope.yml and .ptmscope.json are accepted too', async () => {
  await withTemp(async (dir) => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    await mkdir(a);
    await mkdir(b);
    await writeFile(join(a, '.ptmscope.yml'), EXAMPLE_YAML);
    await writeFile(join(b, '.ptmscope.json'), JSON.stringify(EXAMPLE_CONFIG, null, 2));
    assert.deepEqual((await loadConfig({ cwd: a })).config, EXAMPLE_CONFIG);
    assert.deepEqual((await loadConfig({ cwd: b })).config, EXAMPLE_CONFIG);
  });
});

test('two config files in one directory are an error, not a silent pick', async () => {
  await withTemp(async (dir) => {
    await writeFile(join(dir, '.ptmscope.yaml'), 'failOn: LOW\n');
    await writeFile(join(dir, '.ptmscope.json'), '{"failOn": "HIGH"}');
    await rejectsWith(loadConfig({ cwd: dir }), dir, '.ptmscope.yaml', '.ptmscope.json', '--config');
  });
});

test('no config anywhere up the tree gives an empty config', async () => {
  await withTemp(async (dir) => {
    const found = await findConfigFile(dir);
    // The temp dir's ancestors are outside this test's control; only assert when they are clean.
    if (found === undefined) {
      assert.deepEqual(await loadConfig({ cwd: dir }), { config: {} });
    } else {
      assert.ok(!found.startsWith(dir), found);
    }
  });
});

test('--config PATH is read relative to cwd, and a missing one is an error', async () => {
  await withTemp(async (dir) => {
    await mkdir(join(dir, 'conf'));
    await writeFile(join(dir, 'conf', 'scan.yaml'), 'allow: ["mypkg.*"]\n');
    // A config next to cwd is ignored when --config names another.
    await writeFile(join(dir, '.ptmscope.yaml'), 'failOn: LOW\n');
    const { config, path } = await loadConfig({ path: 'conf/scan.yaml', cwd: dir });
    assert.equal(path, join(dir, 'conf', 'scan.yaml'));
    assert.deepEqual(config, { allow: ['mypkg.*'] });
    await rejectsWith(loadConfig({ path: 'nope.yaml', cwd: dir }), join(dir, 'nope.yaml'), 'no such file');
    await rejectsWith(loadConfig({ path: 'conf', cwd: dir }), 'directory');
  });
});

test('an empty file is an empty config', async () => {
  await withTemp(async (dir) => {
    await writeFile(join(dir, 'empty.yaml'), '# nothing yet\n');
    await writeFile(join(dir, 'empty.json'), '');
    assert.deepEqual(await readConfigFile(join(dir, 'empty.yaml')), {});
    assert.deepEqual(await readConfigFile(join(dir, 'empty.json')), {});
  });
});

test('syntax errors name the file (and the line for YAML)', async () => {
  await withTemp(async (dir) => {
    const y = join(dir, '.ptmscope.yaml');
    await writeFile(y, 'failOn: HIGH\nallow: [unclosed\n');
    await rejectsWith(readConfigFile(y), y, 'not valid YAML', 'line');
    await writeFile(y, 'failOn: HIGH\nfailOn: LOW\n');
    await rejectsWith(readConfigFile(y), y, 'not valid YAML');
    const j = join(dir, '.ptmscope.json');
    await writeFile(j, '{"failOn": "HIGH",}');
    await rejectsWith(readConfigFile(j), j, 'not valid JSON');
  });
});

test('validation errors name the file, the key and what is accepted', async () => {
  await withTemp(async (dir) => {
    const f = join(dir, '.ptmscope.yaml');
    const cases: Array<[string, string[]]> = [
      ['failon: HIGH\n', ['unknown key "failon"', 'failOn, allow, deny, limits']],
      ['failOn: SEVERE\n', ['"failOn"', '"SEVERE"', 'INFO, LOW, MEDIUM, HIGH, CRITICAL, none']],
      ['failOn: 3\n', ['"failOn"', 'number 3']],
      ['allow: os.system\n', ['"allow" must be a list']],
      ['allow: ["os..system"]\n', ['"allow[0]"', '"os..system"', 'dotted Python path']],
      ['allow: ["ok.x", "a.*.b"]\n', ['"allow[1]"', '"a.*.b"']],
      ['allow: [42]\n', ['"allow[0]"', 'number 42']],
      ['deny: { pattern: x }\n', ['"deny" must be a list']],
      ['deny: [ "os.system" ]\n', ['"deny[0]" must be a mapping']],
      ['deny: [ { pattern: "a.b", severity: LOW } ]\n', ['"deny[0].severity"', '"LOW"', 'MEDIUM, HIGH, CRITICAL']],
      ['deny: [ { pattern: "a.b" } ]\n', ['"deny[0].severity" is missing']],
      ['deny: [ { pattern: "a b", severity: HIGH } ]\n', ['"deny[0].pattern"', '"a b"']],
      ['deny: [ { pattern: "a.b", severity: HIGH, why: x } ]\n', ['"deny[0]" has unknown key "why"', 'pattern, severity, reason']],
      ['deny: [ { pattern: "a.b", severity: HIGH, reason: [1] } ]\n', ['"deny[0].reason" must be text']],
      ['limits: 5\n', ['"limits" must be a mapping', 'maxDepth']],
      ['limits: { maxDepth: 0 }\n', ['"limits.maxDepth"', 'positive whole number', 'default 8']],
      ['limits: { maxEntries: -3 }\n', ['"limits.maxEntries"', 'number -3']],
      ['limits: { maxOpcodes: 1.5 }\n', ['"limits.maxOpcodes"', 'number 1.5']],
      ['limits: { maxDepth: "8" }\n', ['"limits.maxDepth"', '"8"']],
      ['limits: { maxDepht: 8 }\n', ['unknown limit "limits.maxDepht"', 'maxDepth, maxEntries']],
      ['- failOn: HIGH\n', ['top level must be a mapping', 'a list']],
    ];
    for (const [text, fragments] of cases) {
      await writeFile(f, text);
      await rejectsWith(readConfigFile(f), f, ...fragments);
    }
  });
});

test('severities are case-insensitive and failOn accepts none', () => {
  assert.deepEqual(validateConfig({ failOn: 'medium' }, 'x.yaml'), { failOn: 'MEDIUM' });
  assert.deepEqual(validateConfig({ failOn: 'None' }, 'x.yaml'), { failOn: 'none' });
  assert.deepEqual(validateConfig({ deny: [{ pattern: 'a.b', severity: 'critical' }] }, 'x.yaml'), {
    deny: [{ pattern: 'a.b', severity: 'CRITICAL' }],
  });
  // null values mean "not set", as YAML writes `key:` with nothing after it.
  assert.deepEqual(validateConfig({ failOn: null, allow: null, deny: null, limits: null }, 'x.yaml'), {});
  throwsWith(() => validateConfig('failOn: HIGH', 'inline'), 'inline', 'top level must be a mapping');
});

test('every limit in Limits is accepted', () => {
  const limits = {
    maxDepth: 2,
    maxEntries: 3,
    maxDecompressedBytes: 4,
    maxCompressionRatio: 5,
    maxOpcodes: 6,
    maxStackItems: 7,
    maxConstantBytes: 8,
  };
  assert.deepEqual(validateConfig({ limits }, 'x.yaml'), { limits });
});

test('a loaded config drives the policy', async () => {
  await withTemp(async (dir) => {
    await writeFile(join(dir, '.ptmscope.yaml'), EXAMPLE_YAML);
    const { config } = await loadConfig({ cwd: dir });
    const policy = Policy.fromConfig(config);
    assert.equal(policy.classify('mypkg.models.net', 'Net').verdict, 'allowed');
    const d = policy.classify('mypkg.dangerous', 'Loader');
    assert.equal(d.verdict, 'dangerous');
    assert.equal(d.severity, 'CRITICAL');
    assert.ok(d.reason.includes('loads plugins'), d.reason);
    assert.equal(policy.classify('mypkg.hooks', 'run').severity, 'MEDIUM');
    assert.equal(policy.classify('mypkg.other', 'Thing').verdict, 'unknown');
  });
});
