import { createRequire } from 'node:module';
import { ReadableStream as WebReadableStream } from 'node:stream/web';
import zlib from 'node:zlib';
import xzDecompress from 'xz-decompress';
import { LimitExceededError, type Limits } from './limits.js';
import type { ByteSource } from './source.js';

/**
 * Below this many output bytes the ratio limit is not applied: tiny members
 * (a 40-byte pickle compressed to 20 bytes) say nothing about bombs, and
 * deflate's best case (~1030:1) would otherwise trip a 1000:1 limit on a few
 * KiB of zeros.
 */

/** Compressed input is fed in small pieces so a bomb is caught after little work. */
const INPUT_CHUNK = 64 * 1024;

/**
 * Counts the bytes produced by decompression across one scanned file (all
 * members, all nesting levels together) against `maxDecompressedBytes`, and
 * checks per-member ratios against `maxCompressionRatio`.
 */
export class DecompressionBudget {
  private usedBytes = 0;

  constructor(readonly limits: Limits) {}

  /** Bytes charged so far. */
  get used(): number {
    return this.usedBytes;
  }

  /** Bytes that may still be produced. */
  get remaining(): number {
    return Math.max(0, this.limits.maxDecompressedBytes - this.usedBytes);
  }

  /** Refuse up front work that declares it will produce more than is left (nothing is charged). */
  ensure(bytes: number, what: string): void {
    if (bytes > this.remaining) {
      throw new LimitExceededError(
        'maxDecompressedBytes',
        `${what}: would produce ${bytes} bytes but only ${this.remaining} of the ${this.limits.maxDecompressedBytes}-byte ` +
          `decompression budget for this file is left; raise maxDecompressedBytes if the file is trusted`,
      );
    }
  }

  /** Record `bytes` produced; throws once the file's total passes the limit. */
  charge(bytes: number, what: string): void {
    this.usedBytes += bytes;
    if (this.usedBytes > this.limits.maxDecompressedBytes) {
      throw new LimitExceededError(
        'maxDecompressedBytes',
        `${what}: decompression passed the ${this.limits.maxDecompressedBytes}-byte budget for this file ` +
          `(possible decompression bomb); raise maxDecompressedBytes if the file is trusted`,
      );
    }
  }

  /** Throws when `produced / compressed` passes maxCompressionRatio, once output passes ratioCheckAfterBytes. */
  checkRatio(produced: number, compressed: number, what: string): void {
    if (produced <= this.limits.ratioCheckAfterBytes) return;
    const max = this.limits.maxCompressionRatio;
    if (produced > Math.max(compressed, 1) * max) {
      throw new LimitExceededError(
        'maxCompressionRatio',
        `${what}: ${compressed} compressed bytes expanded past ${produced} bytes, a ratio above the ${max}:1 limit ` +
          `(possible decompression bomb); raise maxCompressionRatio if the file is trusted`,
      );
    }
  }
}

export type CompressionKind = 'gzip' | 'zlib' | 'bzip2' | 'xz';

/**
 * Whole-file compression by magic bytes. zlib only by a 0x78 first byte (the
 * window size every zlib/joblib writer uses) with a valid FCHECK and no preset
 * dictionary: a looser test matches too much ordinary text.
 */
export function detectCompression(head: Buffer): CompressionKind | undefined {
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return 'gzip';
  if (head.length >= 6 && head.subarray(0, 6).equals(XZ_MAGIC)) return 'xz';
  if (
    head.length >= 4 &&
    head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68 && // 'BZh'
    head[3] >= 0x31 && head[3] <= 0x39 &&
    (head.length < 10 || isBzipBlockOrEnd(head.subarray(4, 10)))
  ) {
    return 'bzip2';
  }
  if (head.length >= 2 && head[0] === 0x78 && (head[1] & 0x20) === 0 && (head[0] * 256 + head[1]) % 31 === 0) {
    return 'zlib';
  }
  return undefined;
}

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const BZ_BLOCK = Buffer.from([0x31, 0x41, 0x59, 0x26, 0x53, 0x59]); // pi: a compressed block
const BZ_END = Buffer.from([0x17, 0x72, 0x45, 0x38, 0x50, 0x90]); // sqrt(pi): end of stream

function isBzipBlockOrEnd(b: Buffer): boolean {
  return b.equals(BZ_BLOCK) || b.equals(BZ_END);
}

/** Read a source front to back in pieces. */
export async function* readChunks(src: ByteSource, chunkSize = INPUT_CHUNK, start = 0, end = src.size): AsyncGenerator<Buffer> {
  for (let off = start; off < end; ) {
    const piece = await src.read(off, Math.min(chunkSize, end - off));
    if (piece.length === 0) return;
    off += piece.length;
    yield piece;
  }
}

export interface DecompressOptions {
  /**
   * On corrupt or truncated data, return what was produced with a warning
   * instead of throwing (limits still throw). A partial pickle is still
   * worth scanning.
   */
  allowPartial?: boolean;
}

export interface DecompressResult {
  data: Buffer;
  warnings: string[];
}

/** Decompress a whole source; see decompressDetailed. */
export async function decompress(kind: CompressionKind, src: ByteSource, limits: Limits, budget: DecompressionBudget): Promise<Buffer> {
  return (await decompressDetailed(kind, src, limits, budget)).data;
}

/**
 * Decompress a whole source, streaming, stopping with LimitExceededError as
 * soon as the budget or the ratio limit (against src.size) is passed.
 * gzip: concatenated members are joined, trailing zero padding is accepted,
 * other trailing bytes after a complete member are ignored with a warning
 * (likewise bytes after a zlib stream).
 * bzip2: concatenated streams joined. xz: concatenated streams joined when the
 * stream footers parse.
 */
export async function decompressDetailed(
  kind: CompressionKind,
  src: ByteSource,
  limits: Limits,
  budget: DecompressionBudget,
  options: DecompressOptions = {},
): Promise<DecompressResult> {
  void limits; // limits travel inside the budget; kept in the signature for symmetry with the other readers
  const sink = new OutputSink(budget, src.size, `${kind} data in ${src.name}`);
  const warnings: string[] = [];
  try {
    switch (kind) {
      case 'gzip':
        await runGzip(src, sink, warnings);
        break;
      case 'zlib':
        await runZlib(src, sink, warnings);
        break;
      case 'bzip2':
        await runBzip2(src, sink, warnings);
        break;
      case 'xz':
        await runXz(src, sink, warnings);
        break;
      default:
        throw new Error(`unknown compression kind ${String(kind)}`);
    }
  } catch (e) {
    if (e instanceof LimitExceededError) throw e;
    const msg = `${kind} data in ${src.name} is corrupt or truncated after ${sink.produced} output bytes: ${errMessage(e)}`;
    if (options.allowPartial && sink.produced > 0) {
      warnings.push(msg + ' (partial output kept)');
      return { data: sink.result(), warnings };
    }
    throw new Error(msg, { cause: e });
  }
  return { data: sink.result(), warnings };
}

/** Collects output, charging the budget and checking the ratio on every piece. */
export class OutputSink {
  private chunks: Buffer[] = [];
  produced = 0;
  constructor(
    readonly budget: DecompressionBudget,
    private readonly compressedSize: number,
    private readonly what: string,
  ) {}
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.produced += chunk.length;
    this.budget.charge(chunk.length, this.what);
    this.budget.checkRatio(this.produced, this.compressedSize, this.what);
    this.chunks.push(chunk);
  }
  result(): Buffer {
    const out = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = [out];
    return out;
  }
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Inflate [start, end) of `src` through a fresh zlib stream until the stream
 * ends; returns how many input bytes it consumed (the rest is not its data).
 */
async function inflateRange(
  make: () => zlib.Inflate | zlib.InflateRaw,
  src: ByteSource,
  start: number,
  end: number,
  sink: OutputSink,
): Promise<number> {
  const z = make();
  let failure: unknown;
  let ended = false;
  const done = new Promise<void>((resolve) => {
    z.on('data', (c: Buffer) => {
      if (failure !== undefined) return;
      try {
        sink.push(c);
      } catch (e) {
        failure = e; // a limit: stop inflating at once
        z.destroy();
      }
    });
    z.on('error', (e) => {
      failure ??= e;
      resolve();
    });
    z.on('end', () => {
      ended = true;
      resolve();
    });
    z.on('close', () => resolve());
  });
  for (let off = start; off < end && failure === undefined && !ended; ) {
    const piece = await src.read(off, Math.min(INPUT_CHUNK, end - off));
    if (piece.length === 0) break;
    off += piece.length;
    if (!z.write(piece)) await Promise.race([new Promise((r) => z.once('drain', r)), done]);
  }
  if (failure === undefined && !ended) z.end();
  await done;
  if (failure !== undefined) throw failure;
  return z.bytesWritten;
}

async function runZlib(src: ByteSource, sink: OutputSink, warnings: string[]): Promise<void> {
  const consumed = await inflateRange(() => zlib.createInflate(), src, 0, src.size, sink);
  if (consumed < src.size) warnings.push(`${src.name}: ${src.size - consumed} bytes after the zlib stream were ignored`);
}

/** Length of the gzip member header at `pos` (RFC 1952); throws on a malformed one. */
async function gzipHeaderLength(src: ByteSource, pos: number): Promise<number> {
  const h = await src.read(pos, 10);
  if (h.length < 10 || h[0] !== 0x1f || h[1] !== 0x8b) throw new Error(`no gzip member header at offset ${pos}`);
  if (h[2] !== 8) throw new Error(`gzip member at offset ${pos} uses compression method ${h[2]}, not deflate`);
  const flags = h[3];
  let p = pos + 10;
  if (flags & 0x04) {
    const x = await src.read(p, 2);
    if (x.length < 2) throw new Error('gzip header truncated');
    p += 2 + x.readUInt16LE(0);
  }
  for (const bit of [0x08, 0x10]) {
    if (!(flags & bit)) continue;
    // Zero-terminated name / comment.
    for (let scanned = 0; ; ) {
      const piece = await src.read(p, 4096);
      if (piece.length === 0) throw new Error('gzip header truncated');
      const z = piece.indexOf(0);
      if (z >= 0) {
        p += z + 1;
        break;
      }
      p += piece.length;
      scanned += piece.length;
      if (scanned > 1024 * 1024) throw new Error('gzip header name or comment longer than 1 MiB');
    }
  }
  if (flags & 0x02) p += 2;
  if (p > src.size) throw new Error('gzip header truncated');
  return p - pos;
}

/**
 * gzip members are walked one by one (header, raw deflate, 8-byte trailer) so
 * that junk after a complete member is told apart from corruption, as Python's
 * gzip does. CRCs are not checked (a scan wants the bytes either way).
 */
async function runGzip(src: ByteSource, sink: OutputSink, warnings: string[]): Promise<void> {
  let pos = 0;
  for (let members = 0; pos < src.size; members++) {
    if (members > 0) {
      // Zero padding after a member is accepted.
      for (;;) {
        const piece = await src.read(pos, INPUT_CHUNK);
        const nz = piece.findIndex((b) => b !== 0);
        if (nz >= 0) {
          pos += nz;
          break;
        }
        pos += piece.length;
        if (piece.length === 0 || pos >= src.size) return;
      }
      const magic = await src.read(pos, 2);
      if (magic.length < 2 || magic[0] !== 0x1f || magic[1] !== 0x8b) {
        warnings.push(`${src.name}: ${src.size - pos} bytes after the last complete gzip member were ignored`);
        return;
      }
    }
    const dataStart = pos + (await gzipHeaderLength(src, pos));
    const consumed = await inflateRange(() => zlib.createInflateRaw(), src, dataStart, src.size, sink);
    pos = dataStart + consumed + 8;
    if (pos > src.size) throw new Error('gzip member trailer is truncated');
  }
}

// ---------------------------------------------------------------- bzip2

interface SeekBzip {
  decode(input: unknown, output: unknown, multistream?: boolean): unknown;
}
const require = createRequire(import.meta.url);
let bunzip: SeekBzip | undefined;
function seekBzip(): SeekBzip {
  bunzip ??= require('seek-bzip') as SeekBzip;
  return bunzip;
}

const BZ_OUT_CHUNK = 256 * 1024;

async function runBzip2(src: ByteSource, sink: OutputSink, warnings: string[]): Promise<void> {
  // seek-bzip decodes synchronously from memory; the compressed input must fit the budget
  // (bzip2 output is at least roughly its input, so a larger input would blow it anyway).
  sink.budget.ensure(src.size, `bzip2 data in ${src.name} (decoded in memory)`);
  const input = await src.read(0, src.size);
  let pos = 0;
  const inStream = {
    readByte(): number {
      if (pos >= input.length) throw new Error('unexpected end of bzip2 data');
      return input[pos++];
    },
    read(buf: Uint8Array, off: number, len: number): number {
      const n = Math.min(len, input.length - pos);
      if (n <= 0) return -1;
      buf.set(input.subarray(pos, pos + n), off);
      pos += n;
      return n;
    },
    eof(): boolean {
      return pos >= input.length;
    },
    seek(p: number): void {
      pos = p;
    },
  };
  let outBuf = Buffer.allocUnsafe(BZ_OUT_CHUNK);
  let outPos = 0;
  const outStream = {
    writeByte(b: number): void {
      outBuf[outPos++] = b;
      if (outPos === outBuf.length) {
        sink.push(outBuf);
        outBuf = Buffer.allocUnsafe(BZ_OUT_CHUNK);
        outPos = 0;
      }
    },
  };
  // One stream per call so that trailing junk after a complete stream can be told
  // apart from corruption (Python's bz2 ignores such junk too).
  let streams = 0;
  while (pos < input.length) {
    const startPos = pos;
    if (streams > 0 && !input.subarray(pos, pos + 3).equals(Buffer.from('BZh'))) {
      warnings.push(`${src.name}: ${input.length - pos} bytes after the last complete bzip2 stream were ignored`);
      break;
    }
    seekBzip().decode(inStream, outStream, false);
    streams++;
    if (pos === startPos) break; // no progress: never loop
  }
  sink.push(Buffer.from(outBuf.subarray(0, outPos)));
}

// ---------------------------------------------------------------- xz

/** Byte ranges of the xz streams in a file, found from the stream footers backwards. */
export function splitXzStreams(buf: Buffer): { start: number; end: number; uncompressed: number }[] | undefined {
  const out: { start: number; end: number; uncompressed: number }[] = [];
  let end = buf.length;
  for (let guard = 0; end > 0 && guard < 100_000; guard++) {
    // Stream padding: null bytes in multiples of four between/after streams.
    while (end >= 4 && buf.readUInt32LE(end - 4) === 0) end -= 4;
    if (end === 0) break;
    if (end < 24) return undefined;
    const footer = buf.subarray(end - 12, end);
    if (footer[10] !== 0x59 || footer[11] !== 0x5a) return undefined; // 'YZ'
    const indexSize = (footer.readUInt32LE(4) + 1) * 4;
    const indexStart = end - 12 - indexSize;
    if (indexStart < 12) return undefined;
    const idx = buf.subarray(indexStart, end - 12);
    if (idx[0] !== 0x00) return undefined;
    let p = 1;
    const readVli = (): number => {
      let v = 0;
      for (let i = 0; i < 9; i++) {
        if (p >= idx.length) throw new Error('xz index truncated');
        const b = idx[p++];
        v += (b & 0x7f) * 2 ** (7 * i);
        if ((b & 0x80) === 0) return v;
      }
      throw new Error('xz index integer too long');
    };
    let blocks = 0;
    let uncompressed = 0;
    try {
      const n = readVli();
      if (n > idx.length) return undefined;
      for (let i = 0; i < n; i++) {
        const unpadded = readVli();
        uncompressed += readVli();
        blocks += Math.ceil(unpadded / 4) * 4;
      }
    } catch {
      return undefined;
    }
    const start = indexStart - blocks - 12;
    if (start < 0 || !buf.subarray(start, start + 6).equals(XZ_MAGIC)) return undefined;
    out.push({ start, end, uncompressed });
    end = start;
  }
  return out.reverse();
}

async function runXz(src: ByteSource, sink: OutputSink, warnings: string[]): Promise<void> {
  // The streams are located from their footers so that a second stream after a
  // benign first one is not silently dropped (xz-decompress stops at the first end).
  // That needs the compressed bytes in memory, like bzip2.
  sink.budget.ensure(src.size, `xz data in ${src.name} (read into memory)`);
  const input = await src.read(0, src.size);
  let ranges = splitXzStreams(input);
  if (!ranges || ranges.length === 0) {
    warnings.push(`${src.name}: xz stream footers did not parse; decoded the first stream only`);
    ranges = [{ start: 0, end: input.length, uncompressed: 0 }];
  } else {
    const declared = ranges.reduce((a, r) => a + r.uncompressed, 0);
    sink.budget.ensure(declared, `xz data in ${src.name} (size declared in its index)`);
    if (ranges[0].start > 0) warnings.push(`${src.name}: ${ranges[0].start} bytes before the first xz stream were ignored`);
  }
  for (const r of ranges) await decodeXzStream(input.subarray(r.start, r.end), sink);
}

async function decodeXzStream(data: Buffer, sink: OutputSink): Promise<void> {
  let offset = 0;
  const source = new WebReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= data.length) {
        controller.close();
        return;
      }
      const n = Math.min(INPUT_CHUNK, data.length - offset);
      controller.enqueue(new Uint8Array(data.buffer, data.byteOffset + offset, n));
      offset += n;
    },
  });
  // xz-decompress holds a process-wide lock until its stream ends or is cancelled,
  // so the reader is always cancelled on the way out.
  const stream = new xzDecompress.XzReadableStream(source as unknown as ReadableStream<Uint8Array>);
  const reader = stream.getReader();
  let done = false;
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) {
        done = true;
        break;
      }
      sink.push(Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength));
    }
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
  }
}
