/**
 * A deflated archive member read on demand. Large compressed members (a 1 GB
 * array in a savez_compressed file) are scanned for a header or a pickle at
 * their start; inflating all of it into memory first would cost the whole size.
 * This source inflates only as far as a reader asks, keeps the first bytes and a
 * bounded window behind the read position, and inflates again from the start
 * only if a reader goes back past the window.
 */
import type { Readable } from 'node:stream';
import type { DecompressionBudget } from './compression.js';
import type { ByteSource } from './source.js';

/** Bytes kept from the start of the member (sniffing and re-reads of the first pickle). */
const HEAD_KEEP = 1 << 20;
/** Bytes kept behind the furthest point inflated (the pickle reader's window is 1 MiB). */
const WINDOW_KEEP = 8 << 20;

export class InflatingSource implements ByteSource {
  /** Going backwards means inflating again from the start: readers should read forward. */
  readonly sequential = true;
  private stream?: Readable;
  private iter?: AsyncIterator<Buffer>;
  private outPos = 0;
  private highWater = 0;
  private head: Buffer[] = [];
  private headLen = 0;
  private chunks: Buffer[] = [];
  private chunksStart = 0;
  private ended = false;
  /** How many times inflation restarted from the beginning (for tests and figures). */
  restarts = 0;

  constructor(
    private readonly open: () => Promise<Readable>,
    /** The declared uncompressed size: loaders read no further than this. */
    readonly size: number,
    readonly name: string,
    private readonly parent: ByteSource,
    private readonly budget: DecompressionBudget,
    private readonly compressedSize: number,
  ) {}

  get bytesRead(): number {
    return this.parent.bytesRead;
  }

  /** Bytes produced so far in the furthest pass (what the budget was charged). */
  get inflated(): number {
    return this.highWater;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const start = Math.max(0, offset);
    const end = Math.min(this.size, offset + length);
    if (end <= start) return Buffer.alloc(0);
    if (end <= this.headLen) return slice(this.head, 0, start, end);
    // Contiguous bytes are either all in head+window or must be inflated again.
    const windowReaches = start >= this.chunksStart || (start < this.headLen && this.chunksStart <= this.headLen);
    if (!windowReaches) this.restart();
    while (this.outPos < end && !this.ended) await this.pull();
    const stop = Math.min(end, this.outPos);
    if (stop <= start) return Buffer.alloc(0);
    const parts: Buffer[] = [];
    if (start < this.headLen) parts.push(slice(this.head, 0, start, Math.min(stop, this.headLen)));
    const from = Math.max(start, this.headLen, this.chunksStart);
    if (stop > from) parts.push(slice(this.chunks, this.chunksStart, from, stop));
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /** Stops inflating; call when the scan of this member is done. */
  close(): void {
    this.stream?.destroy();
    this.stream = undefined;
    this.iter = undefined;
  }

  private restart(): void {
    this.close();
    this.restarts++;
    this.outPos = this.headLen;
    this.chunks = [];
    this.chunksStart = this.headLen;
    this.ended = false;
    this.skipTo = this.headLen;
  }

  /** After a restart, output up to here is already held in `head` and is dropped. */
  private skipTo = 0;
  private produced = 0;

  private async pull(): Promise<void> {
    if (!this.iter) {
      this.stream = await this.open();
      this.iter = this.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      this.produced = 0;
    }
    const { value, done } = await this.iter.next();
    if (done) {
      this.ended = true;
      this.close();
      return;
    }
    let chunk: Buffer = value;
    const at = this.produced;
    this.produced += chunk.length;
    if (this.produced > this.highWater) {
      const more = Math.min(this.produced, this.size) - Math.min(this.highWater, this.size);
      this.highWater = this.produced;
      if (more > 0) this.budget.charge(more, this.name);
      this.budget.checkRatio(this.highWater, this.compressedSize, this.name);
    }
    // Loaders read no more than the declared size; neither do we.
    if (at >= this.size) {
      this.ended = true;
      this.close();
      return;
    }
    if (at + chunk.length > this.size) chunk = chunk.subarray(0, this.size - at);
    let chunkAt = at;
    if (chunkAt < this.skipTo) {
      const drop = Math.min(chunk.length, this.skipTo - chunkAt);
      chunk = chunk.subarray(drop);
      chunkAt += drop;
    }
    if (chunk.length === 0) return;
    if (chunkAt === this.headLen && this.headLen < HEAD_KEEP && this.chunks.length === 0) {
      const take = Math.min(chunk.length, HEAD_KEEP - this.headLen);
      this.head.push(chunk.subarray(0, take));
      this.headLen += take;
      chunk = chunk.subarray(take);
      chunkAt += take;
      this.chunksStart = this.headLen;
      this.skipTo = this.headLen;
    }
    this.outPos = chunkAt + chunk.length;
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    let held = this.outPos - this.chunksStart;
    while (held > WINDOW_KEEP && this.chunks.length > 1) {
      const dropped = this.chunks.shift()!;
      this.chunksStart += dropped.length;
      held -= dropped.length;
    }
  }
}

/** Bytes [start, end) of a list of buffers that together begin at `base`. */
function slice(parts: Buffer[], base: number, start: number, end: number): Buffer {
  const out: Buffer[] = [];
  let pos = base;
  for (const p of parts) {
    const pEnd = pos + p.length;
    if (pEnd > start && pos < end) out.push(p.subarray(Math.max(0, start - pos), Math.min(p.length, end - pos)));
    if (pEnd >= end) break;
    pos = pEnd;
  }
  return out.length === 1 ? out[0] : Buffer.concat(out);
}
