import { open, type FileHandle } from 'node:fs/promises';

/**
 * Random access to bytes: a file on disk, a buffer, an archive member or (later)
 * an HTTP range reader. Readers ask for exactly the ranges they need, so tensor
 * data is never touched, and `bytesRead` says what a scan cost.
 */
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
  /** Bytes handed out by read() so far (for the "read only what is needed" figures). */
  readonly bytesRead: number;
}

export class BufferSource implements ByteSource {
  bytesRead = 0;
  constructor(
    readonly buffer: Buffer,
    readonly name: string = '<buffer>',
  ) {}
  get size(): number {
    return this.buffer.length;
  }
  async read(offset: number, length: number): Promise<Buffer> {
    const out = this.buffer.subarray(Math.max(0, offset), Math.max(0, Math.min(this.buffer.length, offset + length)));
    this.bytesRead += out.length;
    return out;
  }
}

export class FileSource implements ByteSource {
  bytesRead = 0;
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
    this.bytesRead += got;
    return got === len ? buf : buf.subarray(0, got);
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
