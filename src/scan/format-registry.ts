/**
 * Every non-pickle format scanner, in the order they are asked. Containers
 * (zip, tar, compression, 7z, npy) and pickles are handled by scanner.ts itself.
 * Each scanner claims bytes by their structure; several may claim one file.
 */
import { CONFIG_SCANNERS } from './config-scan.js';
import type { FormatScanner } from './format-scanner.js';
import { ggufScanner } from './gguf-scan.js';
import { hdf5Scanner, kerasConfigScanner } from './keras-scan.js';
import { onnxScanner } from './onnx-scan.js';
import { pythonScanner } from './python-scan.js';
import { safetensorsScanner } from './safetensors-scan.js';
import { graphDefScanner, kerasMetadataScanner, savedModelScanner } from './tensorflow-scan.js';

export const FORMAT_SCANNERS: readonly FormatScanner[] = [
  safetensorsScanner,
  ggufScanner,
  onnxScanner,
  savedModelScanner,
  graphDefScanner,
  kerasMetadataScanner,
  hdf5Scanner,
  kerasConfigScanner,
  ...CONFIG_SCANNERS,
  pythonScanner,
];
