/**
 * Every non-pickle format scanner, in the order they are asked. Containers
 * (zip, tar, compression, 7z, npy) and pickles are handled by scanner.ts itself.
 */
import type { FormatScanner } from './format-scanner.js';

export const FORMAT_SCANNERS: readonly FormatScanner[] = [];
