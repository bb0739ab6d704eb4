import { open, type FileHandle } from 'node:fs/promises';

/**
 * Random access to bytes: a file on disk, a buffer, an archive member or (later)
 * an HTTP range reader. Readers ask for exactly the ranges they need, so tensor
 * data is never touched, and `bytesRead` says what a scan cost.
 */
/**
 * Distinct byte ranges touched, merged as they come: "bytes read" means bytes of
 * the file that were looked at, however often a reader came back to them.
 */
export class RangeSet {
  private starts: number[] = [];
  private ends: number[] = [];
  total = 0;

  add(start: number, end: number): void {
    if (end <= start) return;
    // Find the first range that ends at or after `start`.
    let i = 0;
    while (i < this.starts.length && this.ends[i] < start) i++;
    let j = i;
    let s = start;
    let e = end;
    while (j < this.starts.length && this.starts[j] <= end) {
      s = Math.min(s, this.starts[j]);
      e = Math.max(e, this.ends[j]);
      this.total -= this.ends[j] - this.starts[j];
      j++;
    }
    this.starts.splice(i, j - i, s);
    this.ends.splice(i, j - i, e);
    this.total += e - s;
  }
}

export interface ByteSource {
  /** Total length in bytes. */
  readonly size: number;
  /** Human name used in messages (file path or member path). */
  readonly name: string;
  /**
   * Read up to `length` bytes at `offset`. Returns fewer only at the end of the
   * source. Never throws for a range past the end: it returns what exists.
   */
  read(offset: number, length: number): Promise<Buffer>;
  /** Distinct bytes of the underlying file read so far (for the "read only what is needed" figures). */
  readonly bytesRead: number;
  /**
   * True when going backwards is costly (a compressed member inflated on demand):
   * readers should read forward and skip optional looks at the end.
   */
  readonly sequential?: boolean;
}

export class BufferSource implements ByteSource {
  private readonly touched = new RangeSet();
  constructor(
    readonly buffer: Buffer,
    readonly name: string = '<buffer>',
  ) {}
  get size(): number {
    return this.buffer.length;
  }
  async read(offset: number, length: number): Promise<Buffer> {
    const start = Math.max(0, offset);
    const out = this.buffer.subarray(start, Math.max(start, Math.min(this.buffer.length, offset + length)));
    this.touched.add(start, start + out.length);
    return out;
  }
  get bytesRead(): number {
    return this.touched.total;
  }
}

export class FileSource implements ByteSource {
  private readonly touched = new RangeSet();
  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    readonly name: string,
  ) {}

  static async open(path: string): Promise<FileSource> {
    const handle = await open(path, 'r');
    try {
      const st = await handle.stat();
      return new FileSource(handle, st.size, path);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const len = Math.max(0, Math.min(length, this.size - offset));
    if (len === 0 || offset < 0) return Buffer.alloc(0);
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await this.handle.read(buf, got, len - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.touched.add(offset, offset + got);
    return got === len ? buf : buf.subarray(0, got);
  }

  get bytesRead(): number {
    return this.touched.total;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** A window [start, start+size) of another source: a stored zip member, a tar entry. */
export class SliceSource implements ByteSource {
  constructor(
    private readonly parent: ByteSource,
    private readonly start: number,
    readonly size: number,
    readonly name: string,
  ) {}
  get bytesRead(): number {
    return this.parent.bytesRead;
  }
  async read(offset: number, length: number): Promise<Buffer> {
    if (offset >= this.size || offset < 0) return Buffer.alloc(0);
    return this.parent.read(this.start + offset, Math.min(length, this.size - offset));
  }
}
