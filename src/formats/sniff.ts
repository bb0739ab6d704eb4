import { detectCompression } from './compression.js';
import { looksLikeNpy } from './numpy.js';
import { looksLike7z } from './sevenzip.js';
import type { ByteSource } from './source.js';
import { looksLikeTar } from './tar.js';
import { looksLikeZip } from './zip.js';

export type ContainerFormat = 'zip' | 'tar' | 'gzip' | 'zlib' | 'bzip2' | 'xz' | '7z' | 'npy';

/** Bytes at the end of a file that can hold a zip end record (22 + the largest comment). */
const EOCD_SEARCH = 22 + 0xffff;

/**
 * Container formats of a source, from its bytes only (never its name). A file
 * can be several at once (a pickle with a zip appended, a tar whose first name
 * looks like a magic number); all that apply are returned, most specific
 * first: magic numbers at offset 0, then tar, then zlib's weak two-byte check,
 * then a zip found only by its end record. Pickles are not sniffed here.
 * Reads at most the first 512 bytes and the last 64 KiB + 22 (not the end of
 * sequential sources).
 */
export async function sniffContainers(src: ByteSource): Promise<ContainerFormat[]> {
  const head = await src.read(0, 512);
  const tailLen = Math.min(src.size, EOCD_SEARCH);
  const tailStart = src.size - tailLen;
  // Small files: the head already holds the tail. A compressed member is not
  // searched for an end record: that would inflate all of it, and loaders find
  // zips nested in members by their local header magic, which the head shows.
  const tail =
    tailStart === 0 && head.length === src.size ? head : src.sequential ? Buffer.alloc(0) : await src.read(tailStart, tailLen);

  const out: ContainerFormat[] = [];
  const add = (f: ContainerFormat): void => {
    if (!out.includes(f)) out.push(f);
  };
  if (looksLikeNpy(head)) add('npy');
  if (looksLike7z(head)) add('7z');
  const comp = detectCompression(head);
  if (comp && comp !== 'zlib') add(comp);
  if (head.length >= 4 && (head.readUInt32LE(0) === 0x04034b50 || head.readUInt32LE(0) === 0x06054b50)) add('zip');
  if (looksLikeTar(head)) add('tar');
  if (comp === 'zlib') add('zlib');
  if (looksLikeZip(Buffer.alloc(0), tail, src.size)) add('zip');
  return out;
}
