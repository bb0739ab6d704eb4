/**
 * The fixture repos the test hub serves: the project's own fixture models
 * (test/fixtures/benign and malicious, and test/fixtures/hf-repo when it
 * exists) arranged as model, dataset and space repos, plus real model_info
 * records (test/fixtures/hub/model-info) served at their real commit shas.
 * Each repo carries the verdict the Hub's own scanner would show, including
 * repos where it disagrees with ptmscope, so the two can be compared.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { ggufBytes, safetensorsBytes } from './model-files.js';
import { DEFAULT_TOKEN, type FixtureFile, type FixtureRepo } from './server.js';

export const ORG = 'ptmscope-fixtures';

/** Deterministic pseudo-random bytes (for range-reading tests). */
export function noise(size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export function fixtureRepos(root: string): FixtureRepo[] {
  const benign = (f: string): Buffer => readFileSync(join(root, 'test/fixtures/benign', f));
  const evil = (f: string): Buffer => readFileSync(join(root, 'test/fixtures/malicious', f));
  const text = (s: string): Buffer => Buffer.from(s);
  const config = text(JSON.stringify({ architectures: ['Net'], model_type: 'cnn', hidden_size: 16 }, null, 2) + '\n');
  const readme = (title: string): Buffer => text(`---\nlicense: apache-2.0\n---\n# ${title}\n\nA ptmscope test fixture.\n`);
  const gitattributes = text('*.bin filter=lfs diff=lfs merge=lfs -text\n*.pt filter=lfs diff=lfs merge=lfs -text\n');
  const clean = (): FixtureFile[] => [
    { path: '.gitattributes', data: gitattributes },
    { path: 'README.md', data: readme('clean') },
    { path: 'config.json', data: config },
    { path: 'pytorch_model.bin', data: benign('torch_cnn_state_dict.pt') },
  ];

  const repos: FixtureRepo[] = [
    { type: 'model', name: `${ORG}/clean-torch`, files: clean() },
    {
      type: 'model',
      name: `${ORG}/evil-torch`,
      files: [
        { path: 'README.md', data: readme('evil') },
        { path: 'config.json', data: config },
        { path: 'pytorch_model.bin', data: evil('torch_save_reduce.pt') },
      ],
      securityRepoStatus: { scansDone: true, filesWithIssues: [{ path: 'pytorch_model.bin', level: 'unsafe' }] },
    },
    {
      type: 'model',
      name: `${ORG}/mixed`,
      files: [
        { path: 'README.md', data: readme('mixed formats') },
        { path: 'model.safetensors', data: safetensorsBytes([{ name: 'w', dtype: 'F32', shape: [4, 4] }]) },
        { path: 'model.gguf', data: ggufBytes() },
        { path: 'sklearn/model.joblib', data: evil('joblib_payload.joblib') },
        { path: 'arrays/data.npy', data: benign('npy_float32.npy') },
        { path: 'arrays/objects.npy', data: evil('npy_object_reduce.npy') },
        { path: 'legacy/old.pt', data: benign('torch_legacy_tar.pt') },
        { path: 'weights/disguised.safetensors', data: evil('disguised_pickle.safetensors') },
      ],
      // The Hub flags the joblib file but not the pickle posing as safetensors.
      securityRepoStatus: {
        scansDone: true,
        filesWithIssues: [
          { path: 'sklearn/model.joblib', level: 'unsafe' },
          { path: 'legacy/old.pt', level: 'caution' },
        ],
      },
    },
    {
      type: 'model',
      name: `${ORG}/hub-misses`,
      files: [
        { path: 'README.md', data: readme('the hub says clean') },
        { path: 'model.pkl', data: evil('dotted_numpy_builtins_eval.pkl') },
      ],
      securityRepoStatus: { scansDone: true, filesWithIssues: [] },
    },
    {
      type: 'model',
      name: `${ORG}/pending`,
      files: clean(),
      securityRepoStatus: { scansDone: false, filesWithIssues: [] },
    },
    { type: 'model', name: `${ORG}/gated-model`, files: clean(), gated: 'manual' },
    // Only the default test token's account accepted these conditions.
    { type: 'model', name: `${ORG}/gated-granted`, files: clean(), gated: 'auto', grantedTokens: [DEFAULT_TOKEN] },
    {
      type: 'model',
      name: `${ORG}/private-model`,
      private: true,
      files: [{ path: 'model.pkl', data: evil('os_system_p2.pkl') }],
      securityRepoStatus: { scansDone: true, filesWithIssues: [{ path: 'model.pkl', level: 'unsafe' }] },
    },
    {
      type: 'model',
      name: `${ORG}/history`,
      files: clean(),
      refs: ['v2.0'],
      // An older commit carried a payload that a later commit removed.
      history: [{ sha: '0123456789abcdef0123456789abcdef01234567', files: [{ path: 'pytorch_model.bin', data: evil('torch_save_reduce.pt') }] }],
      historyRefs: { 'v1.0': '0123456789abcdef0123456789abcdef01234567' },
    },
    {
      type: 'model',
      name: `${ORG}/truncated`,
      files: [
        { path: 'config.json', data: config },
        { path: 'pytorch_model.bin', data: benign('torch_cnn_state_dict.pt'), truncateTo: 1000 },
      ],
    },
    {
      type: 'model',
      name: `${ORG}/big-file`,
      files: [
        { path: 'blob.bin', data: noise(3 * 1024 * 1024 + 123), lfs: true },
        { path: 'small.bin', data: noise(5000, 7), lfs: false },
        { path: 'pytorch_model.bin', data: benign('torch_cnn_state_dict.pt') },
      ],
    },
    {
      type: 'dataset',
      name: `${ORG}/pickled-data`,
      files: [
        { path: 'README.md', data: readme('dataset') },
        { path: 'data/train.pkl', data: evil('os_system_p2.pkl') },
        { path: 'data/test.npy', data: benign('npy_float32.npy') },
      ],
      securityRepoStatus: { scansDone: true, filesWithIssues: [{ path: 'data/train.pkl', level: 'unsafe' }] },
    },
    {
      type: 'space',
      name: `${ORG}/demo-space`,
      files: [
        { path: 'README.md', data: readme('space') },
        { path: 'app.py', data: text('import joblib\nmodel = joblib.load("model.joblib")\nprint(model)\n') },
        { path: 'requirements.txt', data: text('joblib\nscikit-learn\n') },
        { path: 'model.joblib', data: benign('joblib_random_forest.joblib') },
      ],
    },
    // Every fixture file in one repo each, for comparing remote and local scans.
    { type: 'model', name: `${ORG}/all-benign`, files: folderFiles(join(root, 'test/fixtures/benign')) },
    { type: 'model', name: `${ORG}/all-malicious`, files: folderFiles(join(root, 'test/fixtures/malicious')) },
  ];

  const hfRepo = join(root, 'test/fixtures/hf-repo');
  if (existsSync(hfRepo) && statSync(hfRepo).isDirectory()) repos.push({ type: 'model', name: `${ORG}/hf-repo`, files: folderFiles(hfRepo) });

  // Real model_info records, served at their real commits with a benign checkpoint as content.
  const infoDir = join(root, 'test/fixtures/hub/model-info');
  for (const f of readdirSync(infoDir).filter((x) => x.endsWith('.json')).sort()) {
    const info = JSON.parse(readFileSync(join(infoDir, f), 'utf8')) as Record<string, unknown>;
    const name = String(info.modelId ?? info.id);
    repos.push({
      type: 'model',
      name,
      info,
      files: [
        { path: 'config.json', data: text(JSON.stringify(info.config ?? {}, null, 2) + '\n') },
        { path: 'pytorch_model.bin', data: benign('torch_cnn_state_dict.pt') },
      ],
    });
  }
  return repos;
}

/** Every regular file under `dir`, as repo files (paths relative to dir, "/"-separated). */
export function folderFiles(dir: string): FixtureFile[] {
  const out: FixtureFile[] = [];
  for (const rel of (readdirSync(dir, { recursive: true }) as string[]).sort()) {
    const p = join(dir, rel);
    if (statSync(p).isFile()) out.push({ path: relative(dir, p).split(sep).join('/'), data: readFileSync(p) });
  }
  return out;
}

/** `count` small repos for the throughput benchmark (clean and malicious alternating). */
export function benchRepos(root: string, count: number): FixtureRepo[] {
  const good = readFileSync(join(root, 'test/fixtures/benign/torch_cnn_state_dict.pt'));
  const bad = readFileSync(join(root, 'test/fixtures/malicious/torch_save_reduce.pt'));
  const cfg = Buffer.from('{"model_type": "cnn"}\n');
  const out: FixtureRepo[] = [];
  for (let i = 0; i < count; i++) {
    out.push({
      type: 'model',
      name: `bench/repo-${String(i).padStart(3, '0')}`,
      files: [
        { path: 'config.json', data: cfg },
        { path: 'README.md', data: Buffer.from(`# repo ${i}\n`) },
        { path: 'pytorch_model.bin', data: i % 10 === 0 ? bad : good },
      ],
    });
  }
  return out;
}
