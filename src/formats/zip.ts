import { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { LimitExceededError, type Limits } from './limits.js';
import { OutputSink, readChunks, type DecompressionBudget } from './compression.js';
import { InflatingSource } from './inflating-source.js';
import { BufferSource, SliceSource, type ByteSource } from './source.js';

/*
 * ZIP reading that is as tolerant as the loaders an attacker targets
 * (PyTorch's miniz, Python's zipfile): bad CRCs, odd flag bits, local headers
 * that disagree with the central directory, data prepended to the archive,
 * trailing junk after the end record and end records whose counts lie are all
 * read, with warnings, rather than refused. Only the end records, the central
 * directory and the members opened are read from the source.
 *
 * yauzl parses each central-directory record and streams deflated data. Its
 * ZipFile is constructed directly (rather than through fromRandomAccessReader)
 * because we locate the end record ourselves: fromRandomAccessReader rejects
 * trailing bytes after the end record and trusts the record's entry count.
 */

export interface ZipEntry {
  /** Name decoded leniently: UTF-8 when flag bit 11 is set, else cp437 (as Python's zipfile does). */
  name: string;
  /** Name bytes exactly as stored in the central directory. */
  rawName: Buffer;
  /** Compression method (0 stored, 8 deflate, others unsupported). */
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  /** Absolute offset of the local file header in the source (archive base included). */
  localHeaderOffset: number;
  /** General-purpose flags as stored in the central directory. */
  flags: number;
  /** Flag bit 0 (traditional encryption) or 6 (strong encryption) is set. */
  encrypted: boolean;
  isDirectory: boolean;
  /** CRC-32 from the central directory (never verified: PyTorch does not verify it either). */
  crc32: number;
  /** Position of the record in the central directory, 0-based. */
  index: number;
  /** Oddities of this entry. openZipEntry appends to it (local-header disagreements). */
  warnings: string[];
}

export interface ZipDirectory {
  entries: ZipEntry[];
  warnings: string[];
  /** Archive comment, decoded as cp437. */
  comment?: string;
  /** Bytes before the archive proper (a zip appended to other data); entry offsets inside the archive are relative to it. */
  baseOffset: number;
  /** Absolute offset of the end-of-central-directory record. */
  eocdOffset: number;
  zip64: boolean;
}

const SIG_LFH = 0x04034b50;
const SIG_CDH = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
/** How much of the file's end holds the end record, whatever its comment. */
export const ZIP_TAIL_BYTES = EOCD_SIZE + MAX_COMMENT + 20;

const EOCD_BYTES = Buffer.from([0x50, 0x4b, 0x05, 0x06]);

/**
 * 'PK\x03\x04' at 0 (what torch.load checks), an empty archive's end record at
 * 0, or a plausible end-of-central-directory record in `tail` (what Python's
 * zipfile looks for). Pass `fileSize` when known to check the record's offsets.
 */
export function looksLikeZip(head: Buffer, tail: Buffer, fileSize?: number): boolean {
  if (head.length >= 4 && (head.readUInt32LE(0) === SIG_LFH || head.readUInt32LE(0) === SIG_EOCD)) return true;
  return findEocdCandidates(tail, fileSize === undefined ? undefined : fileSize - tail.length).length > 0;
}

/** Positions (in `tail`) of plausible end records, last first. */
function findEocdCandidates(tail: Buffer, tailStart?: number): number[] {
  const out: number[] = [];
  for (let i = tail.lastIndexOf(EOCD_BYTES); i >= 0; i = i > 0 ? tail.lastIndexOf(EOCD_BYTES, i - 1) : -1) {
    if (i + EOCD_SIZE > tail.length) continue;
    const disk = tail.readUInt16LE(i + 4);
    const cdDisk = tail.readUInt16LE(i + 6);
    const onDisk = tail.readUInt16LE(i + 8);
    const total = tail.readUInt16LE(i + 10);
    const cdSize = tail.readUInt32LE(i + 12);
    const cdOffset = tail.readUInt32LE(i + 16);
    if (!(disk === 0 || disk === 0xffff) || !(cdDisk === 0 || cdDisk === 0xffff)) continue;
    if (onDisk > total && total !== 0xffff) continue;
    if (tailStart !== undefined) {
      const at = tailStart + i;
      if (cdSize !== 0xffffffff && cdSize > at) continue;
      if (cdOffset !== 0xffffffff && cdOffset > at) continue;
    }
    out.push(i);
  }
  return out;
}

interface EndRecord {
  eocdAt: number;
  /** Where the central directory must end: the zip64 end record if present, else the end record. */
  cdLimit: number;
  entryCount: number;
  cdSize: number;
  cdOffset: number;
  comment: Buffer;
  zip64: boolean;
  warnings: string[];
}

function readU64(b: Buffer, at: number): number {
  return b.readUInt32LE(at + 4) * 0x100000000 + b.readUInt32LE(at);
}

async function parseEndRecord(src: ByteSource, tail: Buffer, tailStart: number, i: number): Promise<EndRecord> {
  const warnings: string[] = [];
  const at = tailStart + i;
  const commentLength = tail.readUInt16LE(i + 20);
  const available = tail.length - i - EOCD_SIZE;
  if (commentLength !== available) {
    warnings.push(
      commentLength > available
        ? `end record declares a ${commentLength}-byte comment but only ${available} bytes follow it`
        : `${available - commentLength} bytes follow the zip end record (trailing data ignored)`,
    );
  }
  const rec: EndRecord = {
    eocdAt: at,
    cdLimit: at,
    entryCount: tail.readUInt16LE(i + 10),
    cdSize: tail.readUInt32LE(i + 12),
    cdOffset: tail.readUInt32LE(i + 16),
    comment: tail.subarray(i + EOCD_SIZE, i + EOCD_SIZE + Math.min(commentLength, available)),
    zip64: false,
    warnings,
  };
  if (at >= 20) {
    const loc = await src.read(at - 20, 20);
    if (loc.length === 20 && loc.readUInt32LE(0) === SIG_EOCD64_LOCATOR) {
      // miniz follows the locator's offset; Python expects the record right
      // before the locator. Try both (the offset may be relative to a prefix).
      const tries = [readU64(loc, 8), at - 20 - 56];
      let found = false;
      for (const off of tries) {
        if (off < 0 || off + 56 > at) continue;
        const r = await src.read(off, 56);
        if (r.length === 56 && r.readUInt32LE(0) === SIG_EOCD64) {
          rec.entryCount = readU64(r, 32);
          rec.cdSize = readU64(r, 40);
          rec.cdOffset = readU64(r, 48);
          rec.cdLimit = off;
          rec.zip64 = true;
          found = true;
          break;
        }
      }
      if (!found) warnings.push('zip64 end locator present but no zip64 end record found; using the 32-bit end record');
    }
  }
  return rec;
}

/** Central-directory access for yauzl, served from a ByteSource through a small read-ahead window. */
class SourceReader extends yauzl.RandomAccessReader {
  private window: { start: number; buf: Buffer } | undefined;
  /** Offset of the record yauzl is about to read; bit 6 is cleared there (see readZipDirectory). */
  maskStrongEncryptionAt = -1;

  constructor(
    private readonly src: ByteSource,
    /** Archive offsets are relative to this absolute offset. */
    readonly base: number,
  ) {
    super();
  }

  /** yauzl closes a reader whose reference count drops to zero; hold one reference for the directory's lifetime. */
  hold(): void {
    (this as unknown as { ref(): void }).ref();
    this.setMaxListeners(0);
  }

  /** Load [start, start+length) (archive-relative) into the window in one read. */
  async prefetch(start: number, length: number): Promise<void> {
    this.window = { start, buf: await this.src.read(this.base + start, length) };
  }

  async readAt(pos: number, length: number): Promise<Buffer> {
    const w = this.window;
    if (w && pos >= w.start && pos + length <= w.start + w.buf.length) {
      return w.buf.subarray(pos - w.start, pos - w.start + length);
    }
    if (length >= 64 * 1024) return this.src.read(this.base + pos, length);
    const buf = await this.src.read(this.base + pos, 64 * 1024);
    this.window = { start: pos, buf };
    return buf.subarray(0, length);
  }

  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null) => void): void {
    const cb = callback as (err: Error | null, bytesRead?: number) => void;
    this.readAt(position, length).then(
      (b) => {
        b.copy(buffer, offset);
        if (position === this.maskStrongEncryptionAt && b.length > 8) buffer[offset + 8] &= ~0x40;
        cb(null, b.length);
      },
      (e: unknown) => cb(e instanceof Error ? e : new Error(String(e))),
    );
  }

  override _readStreamForRange(start: number, end: number): Readable {
    return Readable.from(readChunks(this.src, 64 * 1024, this.base + start, this.base + end));
  }
}

interface DirState {
  reader: SourceReader;
  zipfile: yauzl.ZipFile;
}
const states = new WeakMap<ZipDirectory, DirState>();

/** Deflated members up to this size are inflated into memory at once; larger ones on demand. */
export const INFLATE_WHOLE_MAX = 8 << 20;

/** Python's cp437 upper half (bytes below 0x80 are ASCII). */
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

export function decodeCp437(b: Buffer): string {
  let s = '';
  for (const c of b) s += c < 0x80 ? String.fromCharCode(c) : CP437_HIGH[c - 0x80];
  return s;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decodeName(raw: Buffer, flags: number, warnings: string[]): string {
  if (flags & 0x800) {
    try {
      return strictUtf8.decode(raw);
    } catch {
      warnings.push('name is flagged UTF-8 but is not valid UTF-8 (decoded with replacement characters)');
      return raw.toString('utf8');
    }
  }
  return decodeCp437(raw);
}

function nameWarnings(name: string, raw: Buffer, warnings: string[]): void {
  if (raw.includes(0)) warnings.push('name contains a NUL byte (Python truncates the name there)');
  const parts = name.split(/[\\/]/);
  if (parts.includes('..')) warnings.push('name contains a ".." path component (path traversal if extracted)');
  if (/^([\\/]|[A-Za-z]:)/.test(name)) warnings.push('name is an absolute path');
  if (name.includes('\\')) warnings.push('name contains a backslash');
}

/** Names go into messages: control characters are escaped so a hostile name cannot forge terminal output. */
function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

const METHOD_NAMES: Record<number, string> = {
  0: 'stored', 1: 'shrunk', 6: 'imploded', 8: 'deflate', 9: 'deflate64', 12: 'bzip2', 14: 'lzma',
  93: 'zstd', 95: 'xz', 96: 'jpeg', 97: 'wavpack', 98: 'ppmd', 99: 'aes',
};
function methodName(m: number): string {
  return METHOD_NAMES[m] ?? 'unknown';
}

interface RawCdh {
  flags: number;
  method: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  nameLength: number;
  extraLength: number;
  commentLength: number;
  localHeaderOffset: number;
}

function parseCdh(h: Buffer): RawCdh {
  return {
    flags: h.readUInt16LE(8),
    method: h.readUInt16LE(10),
    crc32: h.readUInt32LE(16),
    compressedSize: h.readUInt32LE(20),
    uncompressedSize: h.readUInt32LE(24),
    nameLength: h.readUInt16LE(28),
    extraLength: h.readUInt16LE(30),
    commentLength: h.readUInt16LE(32),
    localHeaderOffset: h.readUInt32LE(42),
  };
}

/** The zip64 extra field, read leniently (used when yauzl rejected the record). */
function applyZip64Lenient(cdh: RawCdh, extra: Buffer): void {
  for (let i = 0; i + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(i);
    const size = extra.readUInt16LE(i + 2);
    const data = extra.subarray(i + 4, Math.min(extra.length, i + 4 + size));
    if (id === 0x0001) {
      let p = 0;
      const take = (): number | undefined => (p + 8 <= data.length ? ((p += 8), readU64(data, p - 8)) : undefined);
      if (cdh.uncompressedSize === 0xffffffff) cdh.uncompressedSize = take() ?? cdh.uncompressedSize;
      if (cdh.compressedSize === 0xffffffff) cdh.compressedSize = take() ?? cdh.compressedSize;
      if (cdh.localHeaderOffset === 0xffffffff) cdh.localHeaderOffset = take() ?? cdh.localHeaderOffset;
      return;
    }
    i += 4 + size;
  }
}

function nextYauzlEntry(zf: yauzl.ZipFile): Promise<yauzl.Entry> {
  return new Promise((resolve, reject) => {
    const onEntry = (e: yauzl.Entry): void => {
      zf.removeListener('error', onError);
      resolve(e);
    };
    const onError = (err: Error): void => {
      zf.removeListener('entry', onEntry);
      reject(err);
    };
    zf.once('entry', onEntry);
    zf.once('error', onError);
    zf.readEntry();
  });
}

/**
 * List a zip archive. Throws Error when no central directory can be found,
 * LimitExceededError('maxEntries') when it holds more than limits.maxEntries
 * records. Everything else odd becomes a warning on the directory or entry.
 */
export async function readZipDirectory(src: ByteSource, limits: Limits): Promise<ZipDirectory> {
  const tailLen = Math.min(src.size, ZIP_TAIL_BYTES);
  const tailStart = src.size - tailLen;
  const tail = await src.read(tailStart, tailLen);
  const candidates = findEocdCandidates(tail, tailStart);
  if (candidates.length === 0) {
    throw new Error(`${src.name}: no zip end-of-central-directory record found in the last ${tailLen} bytes; not a zip archive or truncated`);
  }

  // The last end record is the one every reader uses; earlier ones are tried
  // only if it leads nowhere (an end signature inside a comment, say).
  let chosen: { rec: EndRecord; base: number } | undefined;
  const failures: string[] = [];
  for (const i of candidates) {
    const rec = await parseEndRecord(src, tail, tailStart, i);
    const base = await locateBase(src, rec);
    if (base !== undefined) {
      chosen = { rec, base };
      if (i !== candidates[0]) rec.warnings.push(`the last end record at ${tailStart + candidates[0]} leads to no central directory; used the one at ${rec.eocdAt}`);
      break;
    }
    failures.push(`end record at ${rec.eocdAt} points to offset ${rec.cdOffset}, where there is no central directory`);
  }
  if (!chosen) throw new Error(`${src.name}: zip central directory not found (${failures.join('; ')}); the archive is corrupt or truncated`);
  const { rec, base } = chosen;
  const warnings = [...rec.warnings];
  if (base > 0) warnings.push(`${base} bytes precede the zip archive (archive offsets are relative to byte ${base})`);

  const cdLimit = rec.cdLimit - base; // archive-relative
  // A count that the central directory's size cannot hold is a lie; only a
  // plausible one is used to fail fast.
  if (rec.entryCount > limits.maxEntries && rec.entryCount * 46 <= rec.cdSize) {
    throw new LimitExceededError('maxEntries', `${src.name}: zip end record lists ${rec.entryCount} entries, more than the maxEntries limit of ${limits.maxEntries}`);
  }

  const reader = new SourceReader(src, base);
  reader.hold();
  const cdSpan = Math.max(0, Math.min(cdLimit - rec.cdOffset, 16 * 1024 * 1024));
  if (cdSpan > 0) await reader.prefetch(rec.cdOffset, cdSpan);
  const virtualSize = src.size - base;
  const zf = new yauzl.ZipFile(
    reader, rec.cdOffset, virtualSize, Number.MAX_SAFE_INTEGER, '', false, true, false, false,
  );

  const entries: ZipEntry[] = [];
  const seen = new Map<string, number>();
  let cursor = rec.cdOffset;
  for (;;) {
    if (cursor + 46 > cdLimit) break;
    const head = Buffer.from(await reader.readAt(cursor, 46));
    if (head.length < 46 || head.readUInt32LE(0) !== SIG_CDH) break;
    if (entries.length >= limits.maxEntries) {
      throw new LimitExceededError('maxEntries', `${src.name}: zip central directory holds more than the maxEntries limit of ${limits.maxEntries} entries`);
    }
    const cdh = parseCdh(head);
    const recordLength = 46 + cdh.nameLength + cdh.extraLength + cdh.commentLength;
    const entryWarnings: string[] = [];
    let rawName: Buffer;
    // yauzl refuses a whole archive over one strong-encryption flag (bit 6);
    // the bit is hidden from it and reported here instead.
    reader.maskStrongEncryptionAt = cursor;
    zf.readEntryCursor = cursor as unknown as boolean; // typed wrongly in @types/yauzl; it is the offset
    zf.emittedError = false;
    try {
      const y = await nextYauzlEntry(zf);
      rawName = Buffer.from(y.fileNameRaw);
      cdh.compressedSize = y.compressedSize;
      cdh.uncompressedSize = y.uncompressedSize;
      cdh.localHeaderOffset = y.relativeOffsetOfLocalHeader;
    } catch (e) {
      const rest = await reader.readAt(cursor + 46, cdh.nameLength + cdh.extraLength);
      rawName = Buffer.from(rest.subarray(0, cdh.nameLength));
      applyZip64Lenient(cdh, rest.subarray(cdh.nameLength));
      entryWarnings.push(`central directory record is malformed (${e instanceof Error ? e.message : String(e)}); read leniently`);
    }
    if (cursor + recordLength > cdLimit) entryWarnings.push('central directory record runs into the end records');
    const name = decodeName(rawName, cdh.flags, entryWarnings);
    nameWarnings(name, rawName, entryWarnings);
    const encrypted = (cdh.flags & 0x41) !== 0;
    if (cdh.flags & 0x40) entryWarnings.push('strong-encryption flag (bit 6) is set');
    else if (cdh.flags & 0x01) entryWarnings.push('encrypted flag (bit 0) is set');
    if (cdh.method !== 0 && cdh.method !== 8) entryWarnings.push(`compression method ${cdh.method} (${methodName(cdh.method)}) cannot be read`);
    const prev = seen.get(name);
    if (prev !== undefined) {
      const w = `duplicate entry name "${printable(name)}" (entries ${prev} and ${entries.length}); readers disagree on which one they use`;
      entryWarnings.push(w);
      warnings.push(w);
    } else {
      seen.set(name, entries.length);
    }
    entries.push({
      name,
      rawName,
      method: cdh.method,
      compressedSize: cdh.compressedSize,
      uncompressedSize: cdh.uncompressedSize,
      localHeaderOffset: base + cdh.localHeaderOffset,
      flags: cdh.flags,
      encrypted,
      isDirectory: name.endsWith('/'),
      crc32: cdh.crc32,
      index: entries.length,
      warnings: entryWarnings,
    });
    cursor += recordLength;
  }

  if (entries.length !== rec.entryCount) {
    warnings.push(`end record says ${rec.entryCount} entries but the central directory holds ${entries.length}; all ${entries.length} were listed`);
  }
  if (cursor - rec.cdOffset !== rec.cdSize) {
    warnings.push(`end record says the central directory is ${rec.cdSize} bytes but its records span ${cursor - rec.cdOffset}`);
  }
  const dir: ZipDirectory = {
    entries,
    warnings,
    baseOffset: base,
    eocdOffset: rec.eocdAt,
    zip64: rec.zip64,
  };
  if (rec.comment.length > 0) dir.comment = decodeCp437(rec.comment);
  states.set(dir, { reader, zipfile: zf });
  return dir;
}

/** Where the archive's offsets start: 0, or Python's "concat" when data was prepended. */
async function locateBase(src: ByteSource, rec: EndRecord): Promise<number | undefined> {
  const isCdh = async (abs: number): Promise<boolean> => {
    if (abs < 0 || abs + 4 > src.size) return false;
    const b = await src.read(abs, 4);
    return b.length === 4 && b.readUInt32LE(0) === SIG_CDH;
  };
  const concat = rec.cdLimit - rec.cdSize - rec.cdOffset;
  if (rec.entryCount === 0 && rec.cdSize === 0) return concat > 0 ? concat : 0;
  if (rec.cdOffset + 4 <= rec.cdLimit && (await isCdh(rec.cdOffset))) return 0;
  if (concat > 0 && (await isCdh(rec.cdOffset + concat))) return concat;
  return undefined;
}

/**
 * Open one member. Stored: a SliceSource over the archive (nothing is read or
 * copied until asked). Deflate: inflated into memory, charged to `budget`,
 * stopped with LimitExceededError as soon as the budget or the ratio limit is
 * passed. Other methods: Error. The data start comes from the local header's
 * own name/extra lengths, as in every reader; disagreements with the central
 * directory are appended to entry.warnings.
 */
export async function openZipEntry(
  src: ByteSource,
  dir: ZipDirectory,
  entry: ZipEntry,
  limits: Limits,
  budget: DecompressionBudget,
): Promise<ByteSource> {
  void limits; // ratio and size limits live in the budget
  const where = `${src.name}!${printable(entry.name)}`;
  const lho = entry.localHeaderOffset;
  const lh = await src.read(lho, 30);
  if (lh.length < 30 || lh.readUInt32LE(0) !== SIG_LFH) {
    throw new Error(`${where}: no local file header at offset ${lho}; the archive is corrupt`);
  }
  const nameLength = lh.readUInt16LE(26);
  const extraLength = lh.readUInt16LE(28);
  const localName = await src.read(lho + 30, nameLength);
  if (!localName.equals(entry.rawName)) {
    entry.warnings.push(`local header names the member "${printable(localName.toString('latin1'))}", the central directory "${printable(entry.name)}"`);
  }
  const localMethod = lh.readUInt16LE(8);
  if (localMethod !== entry.method) {
    entry.warnings.push(`local header says method ${localMethod}, the central directory ${entry.method} (the central directory is used)`);
  }
  const localFlags = lh.readUInt16LE(6);
  if ((localFlags & 0x41) !== (entry.flags & 0x41)) {
    entry.warnings.push(`local header encryption flags 0x${(localFlags & 0x41).toString(16)} differ from the central directory's 0x${(entry.flags & 0x41).toString(16)}`);
  }
  const dataStart = lho + 30 + nameLength + extraLength;
  if (dataStart > src.size) throw new Error(`${where}: member data would start at ${dataStart}, past the end of the ${src.size}-byte file`);

  if (entry.method === 0) {
    if (entry.encrypted) {
      entry.warnings.push('member is flagged encrypted but stored; PyTorch reads such members as plain data, so it was read raw');
    }
    let size = entry.compressedSize;
    if (entry.uncompressedSize !== entry.compressedSize) {
      // Scan the larger span: a pickle reader stops at STOP, and readers differ on which size they trust.
      size = Math.max(entry.compressedSize, entry.uncompressedSize);
      entry.warnings.push(`stored member sizes disagree (compressed ${entry.compressedSize}, uncompressed ${entry.uncompressedSize}); read ${size} bytes`);
    }
    if (dataStart + size > src.size) {
      entry.warnings.push(`member data is truncated: ${size} bytes declared, ${src.size - dataStart} present`);
      size = src.size - dataStart;
    }
    return new SliceSource(src, dataStart, size, where);
  }

  if (entry.method !== 8) {
    throw new Error(`${where}: compression method ${entry.method} (${methodName(entry.method)}) is not supported; only stored (0) and deflate (8) members can be read`);
  }
  if (dataStart + entry.compressedSize > src.size) {
    throw new Error(`${where}: deflated data runs past the end of the file (${entry.compressedSize} bytes from offset ${dataStart}, file is ${src.size} bytes)`);
  }
  if (entry.compressedSize === 0) {
    // No deflate data at all (Python reads this as empty too).
    if (entry.uncompressedSize !== 0) entry.warnings.push(`no compressed data, yet ${entry.uncompressedSize} bytes declared`);
    return new BufferSource(Buffer.alloc(0), where);
  }
  // Declared sizes can lie in both directions; a large claim is refused at once,
  // a small one is caught while inflating.
  budget.ensure(entry.uncompressedSize, where);
  budget.checkRatio(entry.uncompressedSize, entry.compressedSize, `${where} (declared sizes)`);

  const state = states.get(dir) ?? makeState(src, dir);
  const open = () =>
    new Promise<Readable>((resolve, reject) => {
      state.zipfile.openReadStreamLowLevel(
        dataStart - dir.baseOffset, entry.compressedSize, 0, entry.compressedSize, true, entry.uncompressedSize,
        (err, s) => (err ? reject(err) : resolve(s)),
      );
    });
  // Large members are inflated as far as the scan reads, not into memory whole.
  if (entry.uncompressedSize > INFLATE_WHOLE_MAX) {
    return new InflatingSource(open, entry.uncompressedSize, where, src, budget, entry.compressedSize);
  }
  const stream = await open();
  const sink = new OutputSink(budget, entry.compressedSize, where);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) sink.push(chunk);
  } catch (e) {
    if (e instanceof LimitExceededError) throw e;
    const why = e instanceof Error ? e.message : String(e);
    if (entry.encrypted) throw new Error(`${where}: member is encrypted and its data does not inflate (${why}); it cannot be scanned`, { cause: e });
    throw new Error(`${where}: deflated data is corrupt after ${sink.produced} bytes (${why})`, { cause: e });
  } finally {
    // Also stops reading input left after an early end of the deflate stream.
    stream.destroy();
  }
  if (sink.produced !== entry.uncompressedSize) {
    entry.warnings.push(`inflated to ${sink.produced} bytes, the central directory says ${entry.uncompressedSize}`);
  }
  return new BufferSource(sink.result(), where);
}

function makeState(src: ByteSource, dir: ZipDirectory): DirState {
  const reader = new SourceReader(src, dir.baseOffset);
  reader.hold();
  const zipfile = new yauzl.ZipFile(reader, 0, src.size - dir.baseOffset, 0, '', false, true, false, false);
  const state = { reader, zipfile };
  states.set(dir, state);
  return state;
}

