/**
 * Keras figures: bytes read from large .h5 and .keras models (the weights are
 * never read: only the HDF5 metadata the library asks for), and how many
 * model configs the walk judges per second.
 */
import { readFile, rm, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { scanFile, createScanContext } from '../src/scan/scanner.js';
import { FORMAT_SCANNERS } from '../src/scan/format-registry.js';
import type { FormatScanner } from '../src/scan/format-scanner.js';
import { hdf5Scanner, judgeKerasConfig, kerasConfigScanner } from '../src/scan/keras-scan.js';
import { closeHdf5, readHdf5Root } from '../src/formats/hdf5.js';
import { walkKerasConfig } from '../src/formats/keras-config.js';
import { FileSource } from '../src/formats/source.js';
import { writeSparseZip } from './sparse.js';

const MB = 1024 * 1024;

function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/** A tf.keras-style Sequential config with `n` Dense layers (and, optionally, Lambda layers). */
function sequentialConfig(n: number, lambdaCode?: string): object {
  const layers: object[] = [{ class_name: 'InputLayer', config: { batch_input_shape: [null, 256], dtype: 'float32', sparse: false, ragged: false, name: 'input' } }];
  for (let i = 0; i < n; i++) {
    layers.push({
      class_name: 'Dense',
      config: {
        name: `dense_${i}`,
        trainable: true,
        dtype: 'float32',
        units: 256,
        activation: 'relu',
        use_bias: true,
        kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } },
        bias_initializer: { class_name: 'Zeros', config: {} },
        kernel_regularizer: null,
        bias_regularizer: null,
        activity_regularizer: null,
        kernel_constraint: null,
        bias_constraint: null,
      },
    });
    if (lambdaCode && i % 10 === 0) {
      layers.push({ class_name: 'Lambda', config: { name: `lambda_${i}`, function: [lambdaCode, null, null], function_type: 'lambda', module: '__main__', output_shape: null, output_shape_type: 'raw', arguments: {} } });
    }
  }
  return { class_name: 'Sequential', config: { name: 'sequential', layers } };
}

/** Writes a Keras-layout .h5 of `layers` Dense layers, 256×512 float32 kernels each, with h5wasm. */
async function writeBigH5(path: string, layers: number): Promise<number> {
  const { default: h5wasm } = await import('h5wasm/node');
  await h5wasm.ready;
  const f = new h5wasm.File(path, 'w');
  try {
    f.create_attribute('keras_version', '2.15.0');
    f.create_attribute('backend', 'tensorflow');
    f.create_attribute('model_config', JSON.stringify(sequentialConfig(layers)));
    f.create_attribute('training_config', JSON.stringify({ loss: 'mse', metrics: null, optimizer_config: { class_name: 'Adam', config: { learning_rate: 0.001 } } }));
    const mw = f.create_group('model_weights');
    const kernel = new Float32Array(256 * 512).fill(0.5);
    const bias = new Float32Array(512);
    for (let i = 0; i < layers; i++) {
      const g = mw.create_group(`dense_${i}`).create_group(`dense_${i}`);
      g.create_dataset({ name: 'kernel:0', data: kernel, shape: [256, 512], dtype: '<f' });
      g.create_dataset({ name: 'bias:0', data: bias, shape: [512], dtype: '<f' });
    }
  } finally {
    f.close();
  }
  return (await stat(path)).size;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t };
}

export async function benchKeras(dir: string): Promise<void> {
  // Scanners not yet in the registry are added for the run (a no-op once registered).
  const registry = FORMAT_SCANNERS as FormatScanner[];
  for (const s of [hdf5Scanner, kerasConfigScanner]) if (!registry.some((r) => r.id === s.id)) registry.push(s);

  console.log('\n## Keras: bytes read from large models (weights never read)');
  console.log('| file | size | weight datasets | bytes read | read / size | HDF5 reads | time |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  const h5 = join(dir, 'big-model.h5');
  const layers = 400;
  const size = await writeBigH5(h5, layers);
  // The first scan also starts the HDF5 worker; report a warm one.
  await scanFile(h5);
  const { value: r, ms } = await timed(() => scanFile(h5));
  const src = await FileSource.open(h5);
  const root = await readHdf5Root(src, { attributes: ['model_config', 'training_config', 'keras_version', 'backend'] });
  await src.close();
  console.log(`| .h5 (tf.keras layout) | ${fmt(size / MB)} MB | ${layers * 2} | ${fmt(r.bytesRead)} B | ${(r.bytesRead / size).toExponential(2)} | ${root.readRequests} | ${fmt(ms)} ms |`);

  // The same HDF5 bytes as model.weights.h5 in a stored .keras zip, read through the zip member.
  const keras = join(dir, 'big-model.keras');
  const config = Buffer.from(JSON.stringify({ module: 'keras', class_name: 'Sequential', config: { name: 's', layers: [] }, registered_name: null }));
  const total = await writeSparseZip(keras, [
    { name: 'metadata.json', data: Buffer.from('{"keras_version": "3.3.3", "date_saved": "2024-05-01@12:00:00"}') },
    { name: 'config.json', data: config },
    { name: 'model.weights.h5', data: await readFile(h5) },
  ]);
  const { value: rk, ms: msk } = await timed(() => scanFile(keras));
  console.log(`| .keras (stored zip, ${fmt(size / MB)} MB weights member) | ${fmt(total / MB)} MB | ${layers * 2} | ${fmt(rk.bytesRead)} B | ${(rk.bytesRead / total).toExponential(2)} | — | ${fmt(msk)} ms |`);
  await rm(h5);
  await rm(keras);

  console.log('\n## Keras: config walk rate');
  console.log('| config | JSON size | objects | walk only | walk + judge |');
  console.log('|---|---:|---:|---:|---:|');
  // A real Python 3.11 lambda (from the fixtures), so the judge decodes marshal data too.
  const repo = fileURLToPath(new URL('../..', import.meta.url));
  const lambda = readFileSync(join(repo, 'test/fixtures/keras/marshal/3.11-os_import.bin')).toString('base64');
  for (const [label, cfg] of [
    ['Sequential, 50 Dense', sequentialConfig(50)],
    ['Sequential, 1,000 Dense', sequentialConfig(1000)],
    ['Sequential, 1,000 Dense + 100 Lambda', sequentialConfig(1000, lambda)],
  ] as const) {
    const json = JSON.stringify(cfg);
    const parsed = JSON.parse(json) as unknown;
    const objects = walkKerasConfig(parsed).nodes;
    const rate = async (fn: () => Promise<void> | void): Promise<number> => {
      const t = performance.now();
      let n = 0;
      while (performance.now() - t < 500) {
        await fn();
        n++;
      }
      return n / ((performance.now() - t) / 1000);
    };
    const walkRate = await rate(() => void walkKerasConfig(JSON.parse(json)));
    const judgeRate = await rate(async () => {
      const ctx = createScanContext('bench');
      await judgeKerasConfig(JSON.parse(json), { label: 'model_config', loader: 'h5' }, { location: 'bench', depth: 0, ecosystems: ['python'] }, ctx);
    });
    console.log(`| ${label} | ${fmt(json.length / 1024)} KiB | ${fmt(objects, 0)} | ${fmt(walkRate, 0)} configs/s (${fmt((walkRate * json.length) / MB)} MB/s) | ${fmt(judgeRate, 0)} configs/s |`);
  }
  await closeHdf5();
}
