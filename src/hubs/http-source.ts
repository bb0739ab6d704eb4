/**
 * A ByteSource over HTTP Range requests. The scanner asks for small pieces
 * (a 512-byte head, the 64 KiB tail, a central-directory record, a pickle
 * window); a cache of aligned blocks with read-ahead turns those into a few
 * requests. `bytesRead` is bytes transferred, which is what a remote scan costs.
 */
import type { ByteSource } from '../formats/source.js';
import { HttpError, newStats, type HttpClient, type TransferStats } from './http.js';

export interface HttpSourceOptions {
  client: HttpClient;
  url: string;
  /** The file's size as the hub lists it; a server holding a different length is reported as truncated. */
  size: number;
  /** Name used in messages and reports. */
  name: string;
  /** Counters this source adds to (besides its own). */
  stats?: TransferStats;
  /** Block size in bytes (default 64 KiB). */
  blockSize?: number;
  /** Blocks kept (default 64, i.e. 4 MiB at the default block size). */
  cacheBlocks?: number;
  /** Most blocks fetched ahead on sequential reads (default 64). */
  maxReadAhead?: number;
  /** Most bytes this source may transfer; reads beyond fail with a budget error. */
  maxTransfer?: number;
}

/** A read would transfer more than the byte budget allows. */
export class ByteBudgetError extends Error {
  constructor(
    message: string,
    readonly needed: number,
    readonly budget: number,
  ) {
    super(message);
    this.name = 'ByteBudgetError';
  }
}

/** The server holds a different number of bytes than the hub lists. */
export class TruncatedFileError extends Error {
  constructor(
    message: string,
    readonly listed: number,
    readonly actual: number | undefined,
  ) {
    super(message);
    this.name = 'TruncatedFileError';
  }
}

export class HttpSource implements ByteSource {
  readonly size: number;
  readonly name: string;
  /** This source's own counters. */
  readonly stats: TransferStats = newStats();
  /** The first transfer failure, kept even when the scanner catches the error and carries on. */
  failure: Error | undefined;
  /** The server answered a Range request with the whole file. */
  rangesIgnored = false;

  private readonly client: HttpClient;
  private readonly url: string;
  private readonly outer: TransferStats | undefined;
  private readonly bs: number;
  private readonly cacheBlocks: number;
  private readonly maxReadAhead: number;
  private readonly maxTransfer: number;
  /** Block index → bytes (Map order is LRU order: oldest first). */
  private readonly cache = new Map<number, Buffer>();
  /** Bytes [0, prefix.length) read through a server that ignores Range. */
  private prefix: Buffer = Buffer.alloc(0);
  private lastEnd = -1;
  /** Where the first request was redirected to (a presigned CDN URL), reused for later ranges. */
  private direct: string | undefined;
  private readAhead = 0;

  constructor(o: HttpSourceOptions) {
    this.client = o.client;
    this.url = o.url;
    this.size = o.size;
    this.name = o.name;
    this.outer = o.stats;
    this.bs = o.blockSize ?? 64 * 1024;
    this.cacheBlocks = Math.max(4, o.cacheBlocks ?? 64);
    this.maxReadAhead = o.maxReadAhead ?? 64;
    this.maxTransfer = o.maxTransfer ?? Infinity;
  }

  get bytesRead(): number {
    return this.stats.bytesTransferred;
  }

  /**
   * Against a server that ignores Range, looking at the end of the file means
   * downloading all of it. Within the byte budget that is paid for the sake of
   * thoroughness; beyond it, readers are told to read forward only and skip
   * their optional looks at the end (an appended-zip check, say).
   */
  get sequential(): boolean {
    return this.rangesIgnored && this.size > this.maxTransfer;
  }

  get requests(): number {
    return this.stats.requests;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const start = Math.max(0, offset);
    const end = Math.min(this.size, offset + Math.max(0, length));
    if (end <= start) return Buffer.alloc(0);
    try {
      return await this.readRange(start, end);
    } catch (e) {
      this.failure ??= e as Error;
      throw e;
    }
  }

  private async readRange(start: number, end: number): Promise<Buffer> {
    if (this.rangesIgnored) return this.readThroughPrefix(start, end);
    const bs = this.bs;
    const first = Math.floor(start / bs);
    const last = Math.floor((end - 1) / bs);
    const sequential = start === this.lastEnd;
    this.readAhead = sequential ? Math.min(this.maxReadAhead, Math.max(1, this.readAhead * 2)) : 0;
    this.lastEnd = end;

    const got = new Map<number, Buffer>();
    for (let b = first; b <= last; b++) {
      const hit = this.cache.get(b);
      if (hit) {
        this.cache.delete(b);
        this.cache.set(b, hit);
        got.set(b, hit);
      }
    }
    const maxBlock = Math.floor((this.size - 1) / bs);
    for (let b = first; b <= last; b++) {
      if (got.has(b)) continue;
      let runEnd = b;
      while (runEnd + 1 <= last && !got.has(runEnd + 1)) runEnd++;
      // Read ahead past the end of the request only when the reader is going forward.
      if (runEnd === last) runEnd = Math.min(maxBlock, last + this.readAhead);
      const data = await this.fetch(b * bs, Math.min(this.size, (runEnd + 1) * bs));
      if (this.rangesIgnored) {
        // The server sent the whole file: from here on, read through a prefix from byte 0.
        if (b === 0) this.prefix = data;
        return this.readThroughPrefix(start, end);
      }
      for (let k = b; k <= runEnd; k++) {
        const piece = data.subarray((k - b) * bs, (k - b + 1) * bs);
        if (k <= last) got.set(k, piece);
        this.remember(k, piece);
      }
      b = runEnd;
    }
    const parts: Buffer[] = [];
    for (let b = first; b <= last; b++) {
      const block = got.get(b)!;
      const from = b === first ? start - b * bs : 0;
      const to = b === last ? end - b * bs : bs;
      parts.push(block.subarray(from, to));
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  private remember(block: number, data: Buffer): void {
    this.cache.delete(block);
    this.cache.set(block, data);
    while (this.cache.size > this.cacheBlocks) {
      const oldest = this.cache.keys().next().value as number;
      this.cache.delete(oldest);
    }
  }

  /**
   * Against a server that ignores Range every read is a download from byte 0:
   * keep that prefix so reads below its end cost nothing more, and read
   * further only as far as asked (within the byte budget).
   */
  private async readThroughPrefix(start: number, end: number): Promise<Buffer> {
    if (end > this.prefix.length) {
      const upTo = Math.min(this.size, Math.max(end, this.prefix.length * 2, 64 * 1024));
      this.prefix = await this.fetch(0, upTo);
    }
    return this.prefix.subarray(start, Math.min(end, this.prefix.length));
  }

  private async fetch(start: number, end: number): Promise<Buffer> {
    const already = this.stats.bytesTransferred;
    // Against a range-ignoring server, reading [start, end) transfers `end` bytes.
    const cost = this.rangesIgnored ? end : end - start;
    if (already + cost > this.maxTransfer) {
      throw new ByteBudgetError(
        `${this.name}: not scanned (needs ${already + cost} bytes, budget ${this.maxTransfer}); raise --byte-budget to scan it`,
        already + cost,
        this.maxTransfer,
      );
    }
    const before = { ...this.stats };
    const get = (url: string) =>
      this.client.getRange(url, start, end, {
        stats: this.stats,
        maxTransfer: Number.isFinite(this.maxTransfer) ? this.maxTransfer - already : undefined,
      });
    let r;
    try {
      try {
        r = await get(this.direct ?? this.url);
      } catch (e) {
        // A presigned URL may expire mid-scan: go back through the hub for a fresh one.
        if (!this.direct || !(e instanceof HttpError) || ![401, 403, 404, 410].includes(e.status ?? 0)) throw e;
        this.direct = undefined;
        r = await get(this.url);
      }
    } catch (e) {
      this.addOuter(before);
      if (e instanceof HttpError && e.kind === 'budget') {
        throw new ByteBudgetError(
          `${this.name}: not scanned: the server ignores Range requests and reading it would download more than the byte budget (${this.maxTransfer} bytes); raise --byte-budget to scan it`,
          end,
          this.maxTransfer,
        );
      }
      throw e;
    }
    // Later ranges go straight to where the hub sent us: one request instead of two.
    if (r.url && r.url !== this.url && !this.direct) this.direct = r.url;
    this.addOuter(before);
    if (r.rangeIgnored) this.rangesIgnored = true;
    if (r.total !== undefined && r.total !== this.size) {
      throw new TruncatedFileError(
        `${this.name}: the hub lists ${this.size} bytes but the server holds ${r.total}: the file is truncated or was replaced; download it again or ask the repo owner`,
        this.size,
        r.total,
      );
    }
    const want = end - start;
    if (r.data.length < want) {
      throw new TruncatedFileError(
        `${this.name}: the hub lists ${this.size} bytes but the server's copy ends at ${start + r.data.length}: the file is truncated`,
        this.size,
        start + r.data.length,
      );
    }
    return r.data;
  }

  private addOuter(before: TransferStats): void {
    if (!this.outer) return;
    for (const k of Object.keys(before) as (keyof TransferStats)[]) this.outer[k] += this.stats[k] - before[k];
    Object.assign(before, this.stats);
  }
}
