/**
 * PyTorch's two pre-zip formats. Both interleave pickles with raw tensor bytes,
 * so they are walked by their layout: every pickle is judged, tensor bytes are
 * skipped by length, and anything appended after them is reported.
 */
import { BufferSource, type ByteSource } from '../formats/source.js';
import { readPickle } from '../formats/pickle/stream.js';
import { Budget } from '../formats/pickle/machine.js';
import { constString, globalName, tupleItems, type Value } from '../formats/pickle/values.js';
import { addFinding, addFormat, type Place, type ScanContext } from './context.js';
import { scanPickleStream } from './pickle-scan.js';
import type { TarEntry } from '../formats/tar.js';

/** torch.serialization.MAGIC_NUMBER, the first pickle of a legacy file. */
const MAGIC = 0x1950a86a20f9469cfc6cn;

const ELEMENT_SIZE: Record<string, number> = {
  DoubleStorage: 8,
  FloatStorage: 4,
  HalfStorage: 2,
  BFloat16Storage: 2,
  LongStorage: 8,
  IntStorage: 4,
  ShortStorage: 2,
  CharStorage: 1,
  ByteStorage: 1,
  BoolStorage: 1,
  ComplexFloatStorage: 8,
  ComplexDoubleStorage: 16,
  QInt8Storage: 1,
  QUInt8Storage: 1,
  QInt32Storage: 4,
  QUInt4x2Storage: 1,
  QUInt2x4Storage: 1,
  UntypedStorage: 1,
};

function elementSize(storageType: Value | undefined): number | undefined {
  if (!storageType || storageType.k !== 'global') return undefined;
  return ELEMENT_SIZE[globalName(storageType.ref).split('.').pop() ?? ''];
}

/** A raw pickle stream: a legacy torch file when its first pickle is the magic number. */
export async function scanRawPickle(src: ByteSource, place: Place, ctx: ScanContext): Promise<void> {
  const first = await readPickle(src, 0, new Budget({ maxOpcodes: 64, maxStackItems: 64, maxKeptString: 64 }), {});
  const r = first.result;
  const isLegacy = !first.error && r?.k === 'int' && BigInt(r.v) === MAGIC;
  if (!isLegacy) {
    await scanPickleStream(src, place, ctx);
    return;
  }
  addFormat(ctx, 'pytorch-legacy');
  addFinding(ctx, `${place.location}|legacy`, {
    ruleId: 'torch/legacy-format',
    severity: 'INFO',
    location: place.location,
    message: 'Legacy torch.save format (five stacked pickles, then raw storages), written by PyTorch before 1.6 or with _use_new_zipfile_serialization=False.',
    hint: 'Re-save the model with a current PyTorch, or better as safetensors.',
  });
  // magic, protocol version, sys_info, the object, the storage keys.
  const elem = new Map<string, number>();
  const run = await scanPickleStream(src, place, ctx, {
    start: 0,
    maxPickles: 5,
    // _legacy_load's persistent_load returns the class itself for ('module', cls, source_file, source).
    persistentLoad: (pid) => {
      const t = tupleItems(pid);
      return t && constString(t[0]) === 'module' && t[1]?.k === 'global' ? t[1] : undefined;
    },
    onPersistentLoad: (pid) => {
      const t = tupleItems(pid);
      if (t && constString(t[0]) === 'storage') {
        const key = constString(t[2]);
        const size = elementSize(t[1]);
        if (key !== undefined && size !== undefined) elem.set(key, size);
      }
    },
  });
  if (run.pickles.length < 5 || run.pickles.some((p) => p.error)) return;
  const keys = tupleItems(run.pickles[4].result)?.map((k) => constString(k));
  let pos = run.pickles[4].end;
  if (!keys || keys.some((k) => k === undefined || !elem.has(k))) return;
  // Each storage: 8-byte element count, then the elements. Read the counts only.
  for (const key of keys) {
    const n = await src.read(pos, 8);
    if (n.length < 8) return;
    const count = n.readBigInt64LE(0);
    const bytes = Number(count) * elem.get(key!)!;
    if (count < 0n || pos + 8 + bytes > src.size) return;
    pos += 8 + bytes;
  }
  if (pos < src.size) {
    addFinding(ctx, `${place.location}|torch-trailing`, {
      ruleId: 'pickle/trailing-bytes',
      severity: 'LOW',
      location: place.location,
      offset: pos,
      message: `${src.size - pos} bytes follow the tensor data of this legacy PyTorch file.`,
      hint: 'torch.load ignores them, but appended data is unusual: check where the file came from.',
    });
  }
}

/**
 * The oldest torch format: a tar of `sys_info`, `pickle`, `storages`, `tensors`.
 * `storages` and `tensors` are sequences of small pickles, each followed by raw data.
 */
export async function scanLegacyTorchTar(entries: TarEntry[], place: Place, ctx: ScanContext): Promise<void> {
  addFormat(ctx, 'pytorch-legacy-tar');
  for (const e of entries) {
    const location = `${place.location}!${e.name}`;
    ctx.members.push(location);
    const src = new BufferSource(e.data, location);
    const p: Place = { location, depth: place.depth + 1, ecosystems: place.ecosystems };
    if (e.name === 'storages') await walkStorages(src, p, ctx);
    else if (e.name === 'tensors') await walkTensors(src, p, ctx);
    else await scanPickleStream(src, p, ctx);
  }
}

async function one(src: ByteSource, pos: number, place: Place, ctx: ScanContext): Promise<{ end: number; result?: Value } | undefined> {
  const run = await scanPickleStream(src, place, ctx, { start: pos, maxPickles: 1 });
  const p = run.pickles[0];
  if (!p || p.error) return undefined;
  return { end: p.end, result: p.result };
}

function intOf(v: Value | undefined): number | undefined {
  return v?.k === 'int' ? Number(v.v) : undefined;
}

/**
 * A count pickle, then `count` records: a pickle each, followed by raw bytes
 * whose end `after` works out from the record. Returns where the last one ends.
 */
async function walkRecords(
  src: ByteSource,
  place: Place,
  ctx: ScanContext,
  after: (rec: { end: number; result?: Value }) => Promise<number | undefined>,
): Promise<number | undefined> {
  const head = await one(src, 0, place, ctx);
  const count = intOf(head?.result);
  if (!head || count === undefined) return undefined;
  let pos = head.end;
  for (let i = 0; i < count; i++) {
    const rec = await one(src, pos, place, ctx);
    const next = rec && (await after(rec));
    if (next === undefined) return undefined;
    pos = next;
  }
  return pos;
}

/** `storages`: per storage a (key, location, storage_type) pickle, an 8-byte element count, the elements. */
async function walkStorages(src: ByteSource, place: Place, ctx: ScanContext): Promise<void> {
  const end = await walkRecords(src, place, ctx, async (rec) => {
    const size = elementSize(tupleItems(rec.result)?.[2]);
    const n = await src.read(rec.end, 8);
    if (size === undefined || n.length < 8) return undefined;
    return rec.end + 8 + Number(n.readBigInt64LE(0)) * size;
  });
  // Then a pickle of storage views.
  if (end !== undefined && end < src.size) await one(src, end, place, ctx);
}

/** `tensors`: per tensor a (key, storage_id, type) pickle, then ndim, 4 spare bytes, sizes, strides, offset. */
async function walkTensors(src: ByteSource, place: Place, ctx: ScanContext): Promise<void> {
  await walkRecords(src, place, ctx, async (rec) => {
    const b = await src.read(rec.end, 4);
    if (b.length < 4) return undefined;
    const ndim = b.readInt32LE(0);
    if (ndim < 0 || ndim > 64) return undefined;
    return rec.end + 8 + 16 * ndim + 8;
  });
}
