/**
 * Resource limits for one scan. Hostile files (zip bombs, DUP/GET loops,
 * archive nesting) hit these and end as findings, never as crashes.
 */
export interface Limits {
  /** Nesting of containers: a zip in a tar in a gzip is depth 3. */
  maxDepth: number;
  /** Members listed per archive. */
  maxEntries: number;
  /** Bytes produced by decompression, per scanned file, all members together. */
  maxDecompressedBytes: number;
  /**
   * Largest decompressed/compressed ratio accepted for one member, checked once
   * its output passes `ratioCheckAfterBytes`. Deflate cannot pass ~1032:1, so
   * real deflated arrays of zeros never trip it; bzip2/xz bombs do.
   */
  maxCompressionRatio: number;
  /** Output a member may produce before its ratio is checked (small files compress well legitimately). */
  ratioCheckAfterBytes: number;
  /** Opcodes interpreted per pickle stream. */
  maxOpcodes: number;
  /** Symbolic stack depth + memo entries per pickle. */
  maxStackItems: number;
  /** Largest string/bytes constant kept in full for evidence and nested scans. */
  maxConstantBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxDepth: 8,
  maxEntries: 100_000,
  maxDecompressedBytes: 2 * 1024 ** 3,
  maxCompressionRatio: 10_000,
  ratioCheckAfterBytes: 64 * 1024 * 1024,
  maxOpcodes: 200_000_000,
  maxStackItems: 10_000_000,
  maxConstantBytes: 64 * 1024 * 1024,
};

export function resolveLimits(partial?: Partial<Limits>): Limits {
  return { ...DEFAULT_LIMITS, ...(partial ?? {}) };
}

/** Thrown by readers when a limit is hit; the scanner turns it into a finding. */
export class LimitExceededError extends Error {
  constructor(
    readonly limit: keyof Limits,
    message: string,
  ) {
    super(message);
    this.name = 'LimitExceededError';
  }
}
