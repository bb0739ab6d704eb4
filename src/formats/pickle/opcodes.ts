/**
 * Pickle opcodes of protocols 0-5, as CPython's C unpickler (_pickle.c) reads them.
 * `arg` says how the argument is encoded in the stream.
 */
export type ArgKind =
  | 'none'
  | 'u1' // 1-byte unsigned
  | 'u2' // 2-byte unsigned little-endian
  | 'i4' // 4-byte signed little-endian
  | 'u4' // 4-byte unsigned little-endian
  | 'u8' // 8-byte unsigned little-endian
  | 'f8be' // 8-byte big-endian double
  | 'line' // text up to '\n'
  | 'line2' // two text lines (GLOBAL, INST)
  | 'bytes1' // u1 length + bytes
  | 'bytes4' // u4 length + bytes
  | 'bytes4s' // i4 length + bytes (negative is an error)
  | 'bytes8'; // u8 length + bytes

export interface OpInfo {
  name: string;
  arg: ArgKind;
  proto: number;
}

const T: Record<number, OpInfo> = {};
function op(ch: string | number, name: string, arg: ArgKind, proto: number): number {
  const code = typeof ch === 'number' ? ch : ch.charCodeAt(0);
  T[code] = { name, arg, proto };
  return code;
}

export const MARK = op('(', 'MARK', 'none', 0);
export const STOP = op('.', 'STOP', 'none', 0);
export const POP = op('0', 'POP', 'none', 0);
export const POP_MARK = op('1', 'POP_MARK', 'none', 1);
export const DUP = op('2', 'DUP', 'none', 0);
export const FLOAT = op('F', 'FLOAT', 'line', 0);
export const INT = op('I', 'INT', 'line', 0);
export const BININT = op('J', 'BININT', 'i4', 1);
export const BININT1 = op('K', 'BININT1', 'u1', 1);
export const LONG = op('L', 'LONG', 'line', 0);
export const BININT2 = op('M', 'BININT2', 'u2', 1);
export const NONE = op('N', 'NONE', 'none', 0);
export const PERSID = op('P', 'PERSID', 'line', 0);
export const BINPERSID = op('Q', 'BINPERSID', 'none', 1);
export const REDUCE = op('R', 'REDUCE', 'none', 0);
export const STRING = op('S', 'STRING', 'line', 0);
export const BINSTRING = op('T', 'BINSTRING', 'bytes4s', 1);
export const SHORT_BINSTRING = op('U', 'SHORT_BINSTRING', 'bytes1', 1);
export const UNICODE = op('V', 'UNICODE', 'line', 0);
export const BINUNICODE = op('X', 'BINUNICODE', 'bytes4', 1);
export const APPEND = op('a', 'APPEND', 'none', 0);
export const BUILD = op('b', 'BUILD', 'none', 0);
export const GLOBAL = op('c', 'GLOBAL', 'line2', 0);
export const DICT = op('d', 'DICT', 'none', 0);
export const EMPTY_DICT = op('}', 'EMPTY_DICT', 'none', 1);
export const APPENDS = op('e', 'APPENDS', 'none', 1);
export const GET = op('g', 'GET', 'line', 0);
export const BINGET = op('h', 'BINGET', 'u1', 1);
export const INST = op('i', 'INST', 'line2', 0);
export const LONG_BINGET = op('j', 'LONG_BINGET', 'u4', 1);
export const LIST = op('l', 'LIST', 'none', 0);
export const EMPTY_LIST = op(']', 'EMPTY_LIST', 'none', 1);
export const OBJ = op('o', 'OBJ', 'none', 1);
export const PUT = op('p', 'PUT', 'line', 0);
export const BINPUT = op('q', 'BINPUT', 'u1', 1);
export const LONG_BINPUT = op('r', 'LONG_BINPUT', 'u4', 1);
export const SETITEM = op('s', 'SETITEM', 'none', 0);
export const TUPLE = op('t', 'TUPLE', 'none', 0);
export const EMPTY_TUPLE = op(')', 'EMPTY_TUPLE', 'none', 1);
export const SETITEMS = op('u', 'SETITEMS', 'none', 1);
export const BINFLOAT = op('G', 'BINFLOAT', 'f8be', 1);
// protocol 2
export const PROTO = op(0x80, 'PROTO', 'u1', 2);
export const NEWOBJ = op(0x81, 'NEWOBJ', 'none', 2);
export const EXT1 = op(0x82, 'EXT1', 'u1', 2);
export const EXT2 = op(0x83, 'EXT2', 'u2', 2);
export const EXT4 = op(0x84, 'EXT4', 'i4', 2);
export const TUPLE1 = op(0x85, 'TUPLE1', 'none', 2);
export const TUPLE2 = op(0x86, 'TUPLE2', 'none', 2);
export const TUPLE3 = op(0x87, 'TUPLE3', 'none', 2);
export const NEWTRUE = op(0x88, 'NEWTRUE', 'none', 2);
export const NEWFALSE = op(0x89, 'NEWFALSE', 'none', 2);
export const LONG1 = op(0x8a, 'LONG1', 'bytes1', 2);
export const LONG4 = op(0x8b, 'LONG4', 'bytes4s', 2);
// protocol 3
export const BINBYTES = op('B', 'BINBYTES', 'bytes4', 3);
export const SHORT_BINBYTES = op('C', 'SHORT_BINBYTES', 'bytes1', 3);
// protocol 4
export const SHORT_BINUNICODE = op(0x8c, 'SHORT_BINUNICODE', 'bytes1', 4);
export const BINUNICODE8 = op(0x8d, 'BINUNICODE8', 'bytes8', 4);
export const BINBYTES8 = op(0x8e, 'BINBYTES8', 'bytes8', 4);
export const EMPTY_SET = op(0x8f, 'EMPTY_SET', 'none', 4);
export const ADDITEMS = op(0x90, 'ADDITEMS', 'none', 4);
export const FROZENSET = op(0x91, 'FROZENSET', 'none', 4);
export const NEWOBJ_EX = op(0x92, 'NEWOBJ_EX', 'none', 4);
export const STACK_GLOBAL = op(0x93, 'STACK_GLOBAL', 'none', 4);
export const MEMOIZE = op(0x94, 'MEMOIZE', 'none', 4);
export const FRAME = op(0x95, 'FRAME', 'u8', 4);
// protocol 5
export const BYTEARRAY8 = op(0x96, 'BYTEARRAY8', 'bytes8', 5);
export const NEXT_BUFFER = op(0x97, 'NEXT_BUFFER', 'none', 5);
export const READONLY_BUFFER = op(0x98, 'READONLY_BUFFER', 'none', 5);

/** Dense lookup by byte: undefined for bytes that are not opcodes. */
export const OPCODES: ReadonlyArray<OpInfo | undefined> = Array.from({ length: 256 }, (_, i) => T[i]);

export const HIGHEST_PROTOCOL = 5;

const ARG_BYTES: Record<ArgKind, number> = { none: 0, u1: 1, u2: 2, i4: 4, u4: 4, u8: 8, f8be: 8, line: 0, line2: 0, bytes1: 1, bytes4: 4, bytes4s: 4, bytes8: 8 };

/** Bytes of fixed-size argument (lengths included) that follow each opcode. */
export const FIXED_ARG_BYTES: ReadonlyArray<number> = OPCODES.map((o) => (o ? ARG_BYTES[o.arg] : 0));
