/**
 * Writers for benchmark inputs that would be too big to ship: ZIP checkpoints and
 * pickles whose tensor bytes are sparse holes in the file. They follow the ZIP and
 * pickle layouts closely enough for loaders; CRCs of the holes are left at zero,
 * which PyTorch's reader (and ours) ignore.
 */
import { open } from 'node:fs/promises';
import { DecompressionBudget } from '../src/formats/compression.js';
import { resolveLimits } from '../src/formats/limits.js';
import { FileSource } from '../src/formats/source.js';
import { openZipEntry, readZipDirectory } from '../src/formats/zip.js';

interface Member {
  name: string;
  /** Real bytes, or a hole of this many bytes. */
  data: Buffer | number;
}

function zip64Extra(size: number, offset: number): Buffer {
  const b = Buffer.alloc(4 + 24);
  b.writeUInt16LE(0x0001, 0);
  b.writeUInt16LE(24, 2);
  b.writeBigUInt64LE(BigInt(size), 4);
  b.writeBigUInt64LE(BigInt(size), 12);
  b.writeBigUInt64LE(BigInt(offset), 20);
  return b;
}

/** A stored (uncompressed) ZIP64 archive, holes for the big members. */
export async function writeSparseZip(path: string, members: Member[]): Promise<number> {
  const fh = await open(path, 'w');
  let pos = 0;
  const central: Buffer[] = [];
  try {
    for (const m of members) {
      const name = Buffer.from(m.name);
      const size = typeof m.data === 'number' ? m.data : m.data.length;
      const extra = zip64Extra(size, pos);
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(45, 4);
      local.writeUInt32LE(0xffffffff, 18);
      local.writeUInt32LE(0xffffffff, 22);
      local.writeUInt16LE(name.length, 26);
      local.writeUInt16LE(extra.length, 28);
      const header = Buffer.concat([local, name, extra]);
      await fh.write(header, 0, header.length, pos);
      const dataAt = pos + header.length;
      if (typeof m.data !== 'number') await fh.write(m.data, 0, m.data.length, dataAt);
      const cd = Buffer.alloc(46);
      cd.writeUInt32LE(0x02014b50, 0);
      cd.writeUInt16LE(45, 4);
      cd.writeUInt16LE(45, 6);
      cd.writeUInt32LE(0xffffffff, 20);
      cd.writeUInt32LE(0xffffffff, 24);
      cd.writeUInt16LE(name.length, 28);
      cd.writeUInt16LE(extra.length, 30);
      cd.writeUInt32LE(0xffffffff, 42);
      central.push(Buffer.concat([cd, name, extra]));
      pos = dataAt + size;
    }
    const cdBuf = Buffer.concat(central);
    const cdAt = pos;
    const z64 = Buffer.alloc(56);
    z64.writeUInt32LE(0x06064b50, 0);
    z64.writeBigUInt64LE(44n, 4);
    z64.writeUInt16LE(45, 12);
    z64.writeUInt16LE(45, 14);
    z64.writeBigUInt64LE(BigInt(members.length), 24);
    z64.writeBigUInt64LE(BigInt(members.length), 32);
    z64.writeBigUInt64LE(BigInt(cdBuf.length), 40);
    z64.writeBigUInt64LE(BigInt(cdAt), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(cdAt + cdBuf.length), 8);
    loc.writeUInt32LE(1, 16);
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(0xffff, 8);
    eocd.writeUInt16LE(0xffff, 10);
    eocd.writeUInt32LE(0xffffffff, 12);
    eocd.writeUInt32LE(0xffffffff, 16);
    const tail = Buffer.concat([cdBuf, z64, loc, eocd]);
    await fh.write(tail, 0, tail.length, cdAt);
    return cdAt + tail.length;
  } finally {
    await fh.close();
  }
}

/** A protocol-4 pickle made of `count` BINBYTES8 payloads of `each` bytes (holes), in a list. */
export async function writeSparseBulkPickle(path: string, count: number, each: number): Promise<number> {
  const fh = await open(path, 'w');
  let pos = 0;
  const put = async (b: Buffer) => {
    await fh.write(b, 0, b.length, pos);
    pos += b.length;
  };
  try {
    await put(Buffer.from([0x80, 0x04, 0x5d, 0x28])); // PROTO 4, EMPTY_LIST, MARK
    for (let i = 0; i < count; i++) {
      const h = Buffer.alloc(9);
      h[0] = 0x8e;
      h.writeBigUInt64LE(BigInt(each), 1);
      await put(h);
      pos += each; // hole
    }
    await put(Buffer.from([0x65, 0x2e])); // APPENDS, STOP
    return pos;
  } finally {
    await fh.close();
  }
}

/** A pickle of many small opcodes (two per entry): a dict of short strings to ints, as protocol 2 writes it. */
export function smallOpcodePickle(entries: number): Buffer {
  const parts: Buffer[] = [Buffer.from([0x80, 0x02, 0x7d, 0x28])]; // PROTO 2, EMPTY_DICT, MARK
  for (let i = 0; i < entries; i++) {
    const key = Buffer.from(`k${i}`);
    const len = Buffer.alloc(5);
    len[0] = 0x58; // BINUNICODE
    len.writeUInt32LE(key.length, 1);
    parts.push(len, key, Buffer.from([0x4a]), Buffer.from(Int32Array.of(i).buffer));
    if (i % 1000 === 999) parts.push(Buffer.from([0x75, 0x28])); // SETITEMS, MARK
  }
  parts.push(Buffer.from([0x75, 0x2e])); // SETITEMS, STOP
  return Buffer.concat(parts);
}

/** The data.pkl of a real torch.save checkpoint, so benchmark checkpoints hold what torch writes. */
export async function realDataPkl(path: string): Promise<Buffer> {
  const src = await FileSource.open(path);
  try {
    const limits = resolveLimits();
    const dir = await readZipDirectory(src, limits);
    const e = dir.entries.find((x) => x.name.endsWith('data.pkl'))!;
    const m = await openZipEntry(src, dir, e, limits, new DecompressionBudget(limits));
    return Buffer.from(await m.read(0, m.size));
  } finally {
    await src.close();
  }
}
