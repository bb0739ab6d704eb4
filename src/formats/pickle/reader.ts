import type { ByteSource } from '../source.js';

/** Raised when the stream ends inside an opcode: the loader fails with "pickle data was truncated". */
export class TruncatedError extends Error {
  constructor(
    readonly offset: number,
    what: string,
  ) {
    super(`pickle data was truncated at byte ${offset} (${what})`);
    this.name = 'TruncatedError';
  }
}

/** Read-ahead starts small after a seek (so skipping payloads stays cheap) and doubles while reading on. */
const MIN_CHUNK = 64 << 10;
const MAX_CHUNK = 1 << 20;

/**
 * A forward cursor over a ByteSource with a read-ahead window. Long payloads are
 * skipped by moving the cursor: their bytes are never read unless asked for.
 */
export class Reader {
  pos: number;
  private buf: Buffer = Buffer.alloc(0);
  private bufStart = 0;
  private chunk = MIN_CHUNK;
  readonly end: number;

  constructor(
    readonly src: ByteSource,
    start: number,
  ) {
    this.pos = start;
    this.end = src.size;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** True when [pos, pos+n) is inside the window (cheap check for the hot loop). */
  has(n: number): boolean {
    return this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.buf.length;
  }

  /** Make [pos, pos+n) readable; returns false when the source ends first. */
  async fill(n: number): Promise<boolean> {
    if (this.has(n)) return true;
    if (this.pos + n > this.end) {
      // Load what exists so callers can still decode up to the end.
      const avail = this.end - this.pos;
      if (avail > 0 && !this.has(avail)) await this.load(avail);
      return false;
    }
    await this.load(n);
    return true;
  }

  private async load(n: number): Promise<void> {
    // Sequential refill (we ran off the end of the window): read further ahead next time.
    const sequential = this.pos === this.bufStart + this.buf.length || (this.pos >= this.bufStart && this.pos < this.bufStart + this.buf.length);
    this.chunk = sequential ? Math.min(this.chunk * 2, MAX_CHUNK) : MIN_CHUNK;
    const want = Math.min(Math.max(n, this.chunk), this.end - this.pos);
    this.buf = await this.src.read(this.pos, want);
    this.bufStart = this.pos;
  }

  /** Byte at pos without moving. Caller ensured has(1). */
  peek(): number {
    return this.buf[this.pos - this.bufStart];
  }
  u8(): number {
    return this.buf[this.pos++ - this.bufStart];
  }
  u16(): number {
    const v = this.buf.readUInt16LE(this.pos - this.bufStart);
    this.pos += 2;
    return v;
  }
  i32(): number {
    const v = this.buf.readInt32LE(this.pos - this.bufStart);
    this.pos += 4;
    return v;
  }
  u32(): number {
    const v = this.buf.readUInt32LE(this.pos - this.bufStart);
    this.pos += 4;
    return v;
  }
  /** 8-byte unsigned length; values past 2^53 come back as Infinity (always "too long"). */
  u64(): number {
    const v = this.buf.readBigUInt64LE(this.pos - this.bufStart);
    this.pos += 8;
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(v);
  }
  f64be(): number {
    const v = this.buf.readDoubleBE(this.pos - this.bufStart);
    this.pos += 8;
    return v;
  }

  /** Text [pos, pos+n) (n already filled), advancing, decoded without an intermediate Buffer. */
  text(n: number, latin1: boolean): string {
    const s = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.toString(latin1 ? 'latin1' : 'utf8', s, s + n);
  }

  /** Bytes [pos, pos+n) (n already filled), advancing. Returns a view, not a copy. */
  take(n: number): Buffer {
    const s = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(s, s + n);
  }

  /** Peek up to n bytes at pos (fewer at the end), without moving. */
  async peekBytes(n: number): Promise<Buffer> {
    await this.fill(Math.min(n, this.remaining));
    const s = this.pos - this.bufStart;
    return this.buf.subarray(s, s + Math.min(n, this.remaining));
  }

  skip(n: number): void {
    this.pos += n;
  }

  /**
   * Text up to '\n' (the newline is consumed, not returned), as the C
   * unpickler's readline does. `max` bounds how far we look.
   */
  async line(max: number): Promise<Buffer> {
    let look = 256;
    for (;;) {
      const avail = Math.min(look, this.remaining);
      await this.fill(avail);
      const s = this.pos - this.bufStart;
      const idx = this.buf.subarray(s, s + avail).indexOf(0x0a);
      if (idx >= 0) {
        const out = this.buf.subarray(s, s + idx);
        this.pos += idx + 1;
        return out;
      }
      if (avail >= this.remaining) throw new TruncatedError(this.pos, 'line without newline');
      if (look >= max) throw new LineTooLongError(this.pos, max);
      look = Math.min(look * 4, max);
    }
  }
}

export class LineTooLongError extends Error {
  constructor(
    readonly offset: number,
    max: number,
  ) {
    super(`text argument at byte ${offset} is longer than ${max} bytes`);
    this.name = 'LineTooLongError';
  }
}
