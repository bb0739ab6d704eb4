/**
 * Root-group attributes of an HDF5 file, read with the HDF5 library itself
 * (h5wasm, the C library compiled to WebAssembly) so that every storage
 * layout h5py can write — compact or dense attributes, fixed or
 * variable-length strings, user blocks — reads the way Keras sees it.
 *
 * The library runs on a worker thread of its own, for three reasons:
 *  - it reads through a synchronous file API, while ptmscope's sources are
 *    async (zip members, inflating streams): the worker's file reads are
 *    forwarded to the source on this thread and it blocks on Atomics.wait
 *    until the bytes arrive, so only the metadata HDF5 asks for is read and
 *    `bytesRead` counts it, and no temporary copy is ever written;
 *  - a hostile file can crash or hang C code: a WebAssembly trap ends that
 *    worker (the next file gets a fresh one) and a hang is cut off by a
 *    watchdog that terminates it;
 *  - its file system is shut: the worker's `fs` serves the one virtual input
 *    file and refuses every other open and every write, so nothing HDF5 is
 *    tricked into (external links, plugins) can touch the host.
 * Datasets (the weights) are never read.
 */
import { isMainThread, Worker, workerData, parentPort } from 'node:worker_threads';
import type { ByteSource } from './source.js';

/** `\x89HDF\r\n\x1a\n`: the superblock signature. */
export const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Where the superblock starts: 0, or after a user block of 512, 1024, 2048…
 * bytes (the library looks at each power of two). Only offsets inside `head`
 * can be seen; -1 when none holds the signature.
 */
export function hdf5SignatureOffset(head: Buffer): number {
  for (let off = 0; off + HDF5_SIGNATURE.length <= head.length; off = off === 0 ? 512 : off * 2) {
    if (head.compare(HDF5_SIGNATURE, 0, HDF5_SIGNATURE.length, off, off + HDF5_SIGNATURE.length) === 0) return off;
  }
  return -1;
}

export type Hdf5AttributeValue =
  | { kind: 'string'; value: string }
  /** A string longer than `maxAttributeBytes`: not copied out. */
  | { kind: 'too-large'; bytes?: number }
  /** Not a scalar string (a number, an array, an opaque blob…). */
  | { kind: 'other'; description: string };

export interface Hdf5Root {
  /** Names of the root group's attributes (at most `maxNames`). */
  attributeNames: string[];
  attributeCount: number;
  /** The requested attributes that exist. */
  attributes: Record<string, Hdf5AttributeValue>;
  /** Reads the library made, and the bytes it asked for (with repeats). */
  readRequests: number;
  bytesRequested: number;
}

export interface Hdf5ReadOptions {
  /** Root attributes whose values are wanted. */
  attributes: readonly string[];
  /** Largest string value copied out (default 64 MiB). */
  maxAttributeBytes?: number;
  /** Attribute names listed at most (default 10,000). */
  maxNames?: number;
  /** The library is stopped after this long without asking for bytes (default 10 s). */
  stallMs?: number;
}

/** The HDF5 library could not read the file; `message` carries its own diagnosis. */
export class Hdf5Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Hdf5Error';
  }
}

// ---------------------------------------------------------------------------
// This thread: a queue of jobs for one worker, and the read bridge.

const MARK = 'ptmscopeHdf5Worker';
/** Bytes moved per forwarded read; longer reads are split by the worker. */
const CHUNK = 4 << 20;
/** control[STATE]: 0 waiting, 1 bytes ready, 2 the read failed. */
const STATE = 0;
const LENGTH = 1;

interface WorkerHandle {
  worker: Worker;
  control: Int32Array;
  data: Uint8Array;
  dead: boolean;
  /** Why the worker could not start, when it could not. */
  startupError?: string;
}

let handle: WorkerHandle | undefined;
let queue: Promise<unknown> = Promise.resolve();

function startWorker(): WorkerHandle {
  const controlBuf = new SharedArrayBuffer(16);
  const dataBuf = new SharedArrayBuffer(CHUNK);
  const worker = new Worker(new URL(import.meta.url), { workerData: { [MARK]: true, control: controlBuf, data: dataBuf } });
  const h: WorkerHandle = { worker, control: new Int32Array(controlBuf), data: new Uint8Array(dataBuf), dead: false };
  worker.unref();
  worker.on('exit', () => {
    h.dead = true;
    if (handle === h) handle = undefined;
  });
  // Errors arrive per job; this keeps an unhandled 'error' event from throwing here.
  worker.on('error', (e) => (h.startupError ??= e.message));
  worker.on('message', (m: WorkerReply) => {
    if (m.id === -1 && m.type === 'error') h.startupError = m.message;
  });
  return h;
}

/** Ends the worker (it also ends by itself with the process; tests and benchmarks call this). */
export async function closeHdf5(): Promise<void> {
  const h = handle;
  handle = undefined;
  if (h && !h.dead) await h.worker.terminate();
}

/**
 * Opens `src` with the HDF5 library and reads its root attributes. Throws
 * Hdf5Error when the library cannot read the file, and rethrows what
 * `src.read` threw (e.g. a decompression limit).
 */
export function readHdf5Root(src: ByteSource, opts: Hdf5ReadOptions): Promise<Hdf5Root> {
  const run = queue.then(() => runJob(src, opts));
  queue = run.catch(() => undefined);
  return run;
}

let jobIds = 0;

function runJob(src: ByteSource, opts: Hdf5ReadOptions): Promise<Hdf5Root> {
  const h = handle && !handle.dead ? handle : (handle = startWorker());
  const id = ++jobIds;
  const stallMs = opts.stallMs ?? 10_000;
  // A file whose metadata loops makes the library read forever; real files need a few reads.
  const maxRequests = 200_000;
  const maxBytes = 4 * src.size + 256 * (1 << 20);
  let requests = 0;
  let requested = 0;
  let sourceError: unknown;
  return new Promise<Hdf5Root>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: unknown, value?: Hdf5Root): void => {
      clearTimeout(timer);
      h.worker.off('message', onMessage);
      h.worker.off('exit', onExit);
      h.worker.unref();
      // A failed source read fails the job even if the library carried on without those bytes.
      if (err !== undefined || sourceError !== undefined) reject(sourceError ?? err);
      else resolve(value!);
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        h.dead = true;
        void h.worker.terminate();
        finish(new Hdf5Error(`the HDF5 library made no progress for ${Math.round(stallMs / 1000)} s and was stopped (metadata that loops, or a file built to hang readers)`));
      }, stallMs);
    };
    const answer = (state: number, length = 0): void => {
      Atomics.store(h.control, LENGTH, length);
      Atomics.store(h.control, STATE, state);
      Atomics.notify(h.control, STATE);
    };
    const onRead = async (pos: number, len: number): Promise<void> => {
      requests++;
      requested += len;
      if (sourceError !== undefined || requests > maxRequests || requested > maxBytes) {
        sourceError ??= new Hdf5Error(`the HDF5 library kept reading (${requests} reads, ${requested} bytes of a ${src.size}-byte file): its metadata likely loops`);
        answer(2);
        return;
      }
      try {
        const b = await src.read(pos, Math.min(len, CHUNK));
        h.data.set(b.subarray(0, CHUNK));
        answer(1, Math.min(b.length, CHUNK));
      } catch (e) {
        sourceError = e;
        answer(2);
      }
    };
    const onMessage = (m: WorkerReply): void => {
      if (m.id !== id) return;
      arm();
      if (m.type === 'read') void onRead(m.pos, m.len);
      else if (m.type === 'result') finish(undefined, { ...m.result, readRequests: requests, bytesRequested: requested });
      else {
        if (m.fatal) h.dead = true; // the worker exits after a trap; the next job starts another
        finish(new Hdf5Error(m.message));
      }
    };
    const onExit = (): void => finish(new Hdf5Error(h.startupError ?? 'the HDF5 worker stopped before it answered'));
    h.worker.on('message', onMessage);
    h.worker.once('exit', onExit);
    h.worker.ref();
    arm();
    const job: WorkerJob = {
      type: 'job',
      id,
      size: src.size,
      attributes: [...opts.attributes],
      maxAttributeBytes: opts.maxAttributeBytes ?? 64 << 20,
      maxNames: opts.maxNames ?? 10_000,
    };
    h.worker.postMessage(job);
  });
}

interface WorkerJob {
  type: 'job';
  id: number;
  size: number;
  attributes: string[];
  maxAttributeBytes: number;
  maxNames: number;
}

type WorkerReply =
  | { type: 'read'; id: number; pos: number; len: number }
  | { type: 'result'; id: number; result: Omit<Hdf5Root, 'readRequests' | 'bytesRequested'> }
  | { type: 'error'; id: number; message: string; fatal: boolean };

// ---------------------------------------------------------------------------
// The worker.

/** The subset of h5wasm's module used here (low-level calls, no File objects). */
interface H5Lib {
  open(filename: string, mode: number, trackOrder: boolean, libverLow: number, libverHigh: number): bigint;
  close_file(fileId: bigint): number;
  get_attribute_names(fileId: bigint, path: string): string[];
  get_attribute_metadata(fileId: bigint, path: string, name: string): { type: number; vlen: boolean; size: number; total_size: number; shape: number[] | null; strpad?: number };
  get_attribute_data(fileId: bigint, path: string, name: string, ptr: bigint): number;
  reclaim_vlen_memory(fileId: bigint, path: string, name: string, ptr: bigint): number;
  get_plugin_search_paths(): string[];
  remove_plugin_search_path(index: number): number;
  _malloc(n: number): number;
  _free(ptr: number): void;
  HEAPU8: Uint8Array;
  H5F_ACC_RDONLY: number;
}

const VIRTUAL_PATH = '/ptmscope/input.h5';
const VIRTUAL_FD = 0x3ffffff0;
const TYPE_NAMES = ['integer', 'float', 'time', 'string', 'bitfield', 'opaque', 'compound', 'reference', 'enum', 'variable-length', 'array'];

/** A WebAssembly trap (out-of-bounds access, unreachable) or an Emscripten abort(): the library's memory can no longer be trusted. */
function isTrap(e: unknown): boolean {
  const wasm = (globalThis as unknown as { WebAssembly?: { RuntimeError?: abstract new () => Error } }).WebAssembly;
  return (wasm?.RuntimeError !== undefined && e instanceof wasm.RuntimeError) || /^Aborted\(/.test(String((e as Error)?.message));
}

function fsError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

async function workerMain(): Promise<void> {
  const port = parentPort!;
  const control = new Int32Array(workerData.control as SharedArrayBuffer);
  const data = new Uint8Array(workerData.data as SharedArrayBuffer);
  let diagnostics = '';
  // The library's own messages (HDF5-DIAG stacks, "Aborted(...)", memory warnings) become part of the
  // error instead of reaching the terminal; set before it loads, as it keeps the functions it finds.
  for (const k of ['log', 'error', 'warn', 'info', 'debug'] as const) {
    console[k] = (...args: unknown[]) => {
      if (diagnostics.length < 1 << 16) diagnostics += `${args.join(' ')}\n`;
    };
  }
  const { default: h5wasm } = await import('h5wasm/node');
  const lib = (await h5wasm.ready) as unknown as H5Lib;
  // No filter plugins: they are only needed for datasets, which are never read.
  while (lib.get_plugin_search_paths().length) lib.remove_plugin_search_path(0);

  // The library's file system from here on: one read-only virtual file, nothing else.
  const fs = (await import('node:fs')).default as unknown as Record<string, unknown>;
  let job: WorkerJob | undefined;
  let cursor = 0;
  const template = (fs.statSync as (p: string) => object)(process.execPath);
  const fakeStat = (): object =>
    Object.assign(Object.create(Object.getPrototypeOf(template)), template, {
      size: job?.size ?? 0,
      mode: 0o100444,
      // HDF5 tells files apart by device and inode: each job's input is a new file to it.
      ino: job?.id ?? 0,
      blocks: Math.ceil((job?.size ?? 0) / 512),
    });
  const readForward = (target: Uint8Array, offset: number, length: number, position: number): number => {
    if (!job) throw fsError('EBADF', 'no file open');
    let done = 0;
    while (done < length && position + done < job.size) {
      const want = Math.min(length - done, CHUNK, job.size - position - done);
      Atomics.store(control, STATE, 0);
      port.postMessage({ type: 'read', id: job.id, pos: position + done, len: want } satisfies WorkerReply);
      // The other thread answers as soon as its source has the bytes; it stops us if it never does.
      while (Atomics.load(control, STATE) === 0) Atomics.wait(control, STATE, 0, 60_000);
      if (Atomics.load(control, STATE) !== 1) throw fsError('EIO', 'read failed');
      const got = Atomics.load(control, LENGTH);
      target.set(data.subarray(0, got), offset + done);
      done += got;
      if (got < want) break;
    }
    return done;
  };
  const refuse = (name: string) => () => {
    throw fsError('EACCES', `${name} is not allowed while reading HDF5`);
  };
  const patch: Record<string, unknown> = {
    openSync: (p: unknown, flags: unknown) => {
      if (p !== VIRTUAL_PATH) throw fsError('ENOENT', 'only the scanned file can be opened');
      if (typeof flags === 'number' ? (flags & 3) !== 0 : typeof flags === 'string' && flags !== 'r') throw fsError('EACCES', 'read-only');
      cursor = 0;
      return VIRTUAL_FD;
    },
    closeSync: (fd: unknown) => {
      if (fd !== VIRTUAL_FD) throw fsError('EBADF', 'not open');
    },
    fstatSync: (fd: unknown) => {
      if (fd !== VIRTUAL_FD) throw fsError('EBADF', 'not open');
      return fakeStat();
    },
    statSync: (p: unknown) => {
      if (p !== VIRTUAL_PATH) throw fsError('ENOENT', 'no such file');
      return fakeStat();
    },
    lstatSync: (p: unknown) => {
      if (p === VIRTUAL_PATH) return fakeStat();
      if (p === '/' || p === '/ptmscope') return Object.assign(Object.create(Object.getPrototypeOf(template)), template, { mode: 0o40555 });
      throw fsError('ENOENT', 'no such file');
    },
    readSync: (fd: unknown, buffer: Uint8Array, offset: number, length: number, position: number | bigint | null | undefined) => {
      if (fd !== VIRTUAL_FD) throw fsError('EBADF', 'not open');
      const at = position === null || position === undefined ? cursor : Number(position);
      const n = readForward(buffer, offset ?? 0, length ?? buffer.length, at);
      if (position === null || position === undefined) cursor += n;
      return n;
    },
    writeSync: (fd: unknown, buffer: Uint8Array | string, offset?: number, length?: number) => {
      if (fd !== 1 && fd !== 2) throw fsError('EACCES', 'writes are not allowed while reading HDF5');
      const text = typeof buffer === 'string' ? buffer : Buffer.from(buffer.subarray(offset ?? 0, (offset ?? 0) + (length ?? buffer.length))).toString('utf8');
      if (diagnostics.length < 1 << 16) diagnostics += text;
      return typeof buffer === 'string' ? Buffer.byteLength(buffer) : (length ?? buffer.length);
    },
  };
  for (const name of ['mkdirSync', 'rmdirSync', 'unlinkSync', 'renameSync', 'symlinkSync', 'truncateSync', 'ftruncateSync', 'chmodSync', 'fchmodSync', 'chownSync', 'fchownSync', 'utimesSync', 'futimesSync', 'writeFileSync', 'readFileSync', 'readdirSync', 'readlinkSync', 'statfsSync']) {
    patch[name] = refuse(name);
  }
  Object.assign(fs, patch);
  port.on('message', (msg: WorkerJob) => {
    if (msg.type !== 'job') return;
    job = msg;
    diagnostics = '';
    try {
      port.postMessage({ type: 'result', id: msg.id, result: readRoot(lib, msg) } satisfies WorkerReply);
    } catch (e) {
      const trap = isTrap(e);
      const detail = hdf5Diagnosis(diagnostics) ?? (e instanceof Error ? e.message : String(e));
      const message = trap ? `the HDF5 library crashed on this file (${(e as Error).message}${detail !== (e as Error).message ? `; ${detail}` : ''})` : `the HDF5 library cannot read it: ${detail}`;
      port.postMessage({ type: 'error', id: msg.id, message, fatal: trap } satisfies WorkerReply);
      // Memory may be corrupt after a trap: this worker is done; the next job gets a fresh library.
      if (trap) process.exit(1);
    } finally {
      job = undefined;
    }
  });
}

/** The innermost reason from an HDF5-DIAG error stack, e.g. "truncated file: eof = 6047, …". */
function hdf5Diagnosis(text: string): string | undefined {
  // Only the first stack: later ones come from clean-up calls after the failure.
  const block = text.split(/HDF5-DIAG: Error detected[^\n]*\n/).find((b) => /#\d{3}: /.test(b)) ?? '';
  const lines = [...block.matchAll(/#\d{3}: .*? in (\w+\(\)): (.*)$/gm)];
  if (!lines.length) return undefined;
  const reasons = lines.map((m) => m[2].trim());
  // The first line says what failed, the last why.
  const first = reasons[0];
  const last = reasons[reasons.length - 1];
  return first === last ? first : `${first}: ${last}`;
}

function readRoot(lib: H5Lib, job: WorkerJob): Omit<Hdf5Root, 'readRequests' | 'bytesRequested'> {
  let fid: bigint;
  try {
    fid = lib.open(VIRTUAL_PATH, lib.H5F_ACC_RDONLY, false, -1, -1);
  } catch (e) {
    if (isTrap(e)) throw e;
    throw new Hdf5Error(`not an HDF5 file it can open (${(e as Error).message})`);
  }
  try {
    const names = lib.get_attribute_names(fid, '/');
    const attributes: Record<string, Hdf5AttributeValue> = {};
    for (const name of job.attributes) {
      if (names.includes(name)) attributes[name] = readAttribute(lib, fid, name, job.maxAttributeBytes);
    }
    return { attributeNames: names.slice(0, job.maxNames), attributeCount: names.length, attributes };
  } finally {
    lib.close_file(fid);
  }
}

function readAttribute(lib: H5Lib, fid: bigint, name: string, max: number): Hdf5AttributeValue {
  const meta = lib.get_attribute_metadata(fid, '/', name);
  const typeName = TYPE_NAMES[meta.type] ?? `type ${meta.type}`;
  if (!meta.shape) return { kind: 'other', description: `${typeName} with an empty dataspace` };
  if (meta.type !== 3 || meta.total_size !== 1) {
    return { kind: 'other', description: meta.total_size === 1 ? typeName : `${typeName} array of shape [${meta.shape.join(', ')}]` };
  }
  if (!meta.vlen && meta.size > max) return { kind: 'too-large', bytes: meta.size };
  const nbytes = meta.size;
  const ptr = lib._malloc(nbytes);
  if (!ptr) return { kind: 'too-large', bytes: nbytes };
  try {
    lib.get_attribute_data(fid, '/', name, BigInt(ptr));
    let heap = lib.HEAPU8;
    if (meta.vlen) {
      try {
        const p = new DataView(heap.buffer).getUint32(ptr, true);
        heap = lib.HEAPU8;
        if (p === 0) return { kind: 'string', value: '' };
        const end = heap.indexOf(0, p);
        if (end < 0 || end - p > max) return { kind: 'too-large' };
        return { kind: 'string', value: Buffer.from(heap.subarray(p, end)).toString('utf8') };
      } finally {
        lib.reclaim_vlen_memory(fid, '/', name, BigInt(ptr));
      }
    }
    let bytes = heap.subarray(ptr, ptr + nbytes);
    const nul = bytes.indexOf(0);
    if (nul >= 0) bytes = bytes.subarray(0, nul);
    // Space-padded strings (strpad 2) keep their padding in the file, not in the value.
    const text = Buffer.from(bytes).toString('utf8');
    return { kind: 'string', value: meta.strpad === 2 ? text.replace(/ +$/, '') : text };
  } finally {
    lib._free(ptr);
  }
}

if (!isMainThread && workerData && (workerData as Record<string, unknown>)[MARK]) {
  workerMain().catch((e) => {
    // Startup failed (the library could not load): every job will see the worker exit.
    parentPort?.postMessage({ type: 'error', id: -1, message: `the HDF5 library could not start: ${(e as Error).message}`, fatal: true });
    process.exit(1);
  });
}
