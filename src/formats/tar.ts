import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';
import { LimitExceededError, type Limits } from './limits.js';
import { readChunks, type DecompressionBudget } from './compression.js';
import type { ByteSource } from './source.js';

/** Names go into messages: control characters are escaped so a hostile name cannot forge terminal output. */
function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export interface TarEntry {
  name: string;
  /** Size declared in the header (pax size included). */
  size: number;
  /** tar-stream's type name: 'file' or 'contiguous-file' (only regular files are returned). */
  type: string;
  /** The member's bytes, up to the per-entry cap. */
  data: Buffer;
  /** Absolute offset of the member's data in the source: a SliceSource there avoids the copy for plain tars. */
  offset: number;
  /** data holds fewer than `size` bytes (cap reached or archive truncated). */
  truncated: boolean;
}

export interface ReadTarOptions {
  /** Bytes kept per wanted entry (default: no cap beyond the budget). 0 keeps offsets only. */
  maxEntryBytes?: number;
}

export interface TarListing {
  entries: TarEntry[];
  warnings: string[];
}

/**
 * 'ustar' magic at 257 (POSIX and GNU), or an old-style (v7) header whose
 * checksum is right, which is how Python's tarfile recognises one.
 */
export function looksLikeTar(head: Buffer): boolean {
  if (head.length < 512) return false;
  if (head.subarray(257, 262).toString('latin1') === 'ustar') return tarChecksumOk(head);
  return head[0] !== 0 && tarChecksumOk(head);
}

function tarChecksumOk(block: Buffer): boolean {
  const field = block.subarray(148, 156).toString('latin1');
  const m = /^[ \0]*([0-7]+)[ \0]*$/.exec(field);
  if (!m) return false;
  const stored = parseInt(m[1], 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  // An empty block sums to 256 (the spaces); never a header.
  return unsigned !== 256 && (stored === unsigned || stored === signed);
}

/**
 * Walk a tar archive. Regular files for which `want(name, size)` is true (all,
 * without `want`) are returned with their data (charged to `budget`: it is
 * memory produced for nested scans); everything else is drained. Every header
 * counts against limits.maxEntries. A corrupt or truncated archive ends the walk
 * with a warning once at least one header was read; with none it throws.
 */
export async function readTar(
  src: ByteSource,
  limits: Limits,
  budget: DecompressionBudget,
  want?: (name: string, size: number) => boolean,
  options: ReadTarOptions = {},
): Promise<TarListing> {
  const cap = options.maxEntryBytes ?? Number.POSITIVE_INFINITY;
  const entries: TarEntry[] = [];
  const warnings: string[] = [];
  let headers = 0;
  let current: { entry: TarEntry; chunks: Buffer[] } | undefined;
  // v7 headers carry no magic; Python's tarfile reads them, so we do too.
  const extract = tarStream.extract({ allowUnknownFormat: true } as Parameters<typeof tarStream.extract>[0]);

  extract.on('entry', (header, stream, next) => {
    headers++;
    stream.on('error', () => undefined); // surfaced through the pipeline instead
    if (headers > limits.maxEntries) {
      extract.destroy(
        new LimitExceededError('maxEntries', `${src.name}: tar archive holds more than the maxEntries limit of ${limits.maxEntries} entries`),
      );
      return;
    }
    const name = header.name;
    const size = header.size ?? 0;
    const type: string = header.type ?? 'unknown';
    if (name.split('/').includes('..') || name.startsWith('/')) {
      warnings.push(`tar entry "${printable(name)}" has an absolute or ".." path (path traversal if extracted)`);
    }
    const regular = type === 'file' || type === 'contiguous-file';
    if (!regular || (want && !want(name, size))) {
      stream.on('end', () => next());
      stream.resume();
      return;
    }
    // tar-stream records where the data starts (not in its typings).
    const offset = (header as unknown as { byteOffset?: number }).byteOffset ?? stream.offset + 512;
    const entry: TarEntry = { name, size, type, data: Buffer.alloc(0), offset, truncated: false };
    const slot = { entry, chunks: [] as Buffer[] };
    current = slot;
    let kept = 0;
    stream.on('data', (data: unknown) => {
      const chunk = data as Buffer;
      if (kept >= cap) return;
      const take = chunk.length <= cap - kept ? chunk : chunk.subarray(0, cap - kept);
      try {
        budget.charge(take.length, `${src.name}!${printable(name)}`);
      } catch (e) {
        extract.destroy(e as Error);
        return;
      }
      slot.chunks.push(take);
      kept += take.length;
    });
    stream.on('end', () => {
      finish(slot);
      current = undefined;
      next();
    });
  });

  const finish = (slot: { entry: TarEntry; chunks: Buffer[] }): void => {
    slot.entry.data = Buffer.concat(slot.chunks);
    slot.entry.truncated = slot.entry.data.length < slot.entry.size;
    entries.push(slot.entry);
  };

  try {
    await pipeline(Readable.from(readChunks(src, 1024 * 1024)), extract);
  } catch (e) {
    if (e instanceof LimitExceededError) throw e;
    const why = e instanceof Error ? e.message : String(e);
    if (headers === 0) throw new Error(`${src.name}: not a readable tar archive (${why})`, { cause: e });
    if (current) {
      finish(current);
      current = undefined;
    }
    warnings.push(`${src.name}: tar archive is corrupt or truncated after ${headers} headers (${why}); the rest was not read`);
  }
  return { entries, warnings };
}
