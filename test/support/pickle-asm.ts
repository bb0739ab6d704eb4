/**
 * A tiny pickle assembler for tests: write opcode streams byte by byte,
 * including ones no real pickler would produce. Never used to load anything.
 */
export class Asm {
  private parts: Buffer[] = [];

  raw(b: Buffer | number[] | string): this {
    this.parts.push(typeof b === 'string' ? Buffer.from(b, 'latin1') : Buffer.from(b));
    return this;
  }
  op(code: number | string): this {
    return this.raw([typeof code === 'string' ? code.charCodeAt(0) : code]);
  }
  proto(p: number): this {
    return this.raw([0x80, p]);
  }
  frame(len: number): this {
    const b = Buffer.alloc(9);
    b[0] = 0x95;
    b.writeBigUInt64LE(BigInt(len), 1);
    return this.raw(b);
  }
  global(module: string, name: string): this {
    return this.raw(`c${module}\n${name}\n`);
  }
  inst(module: string, name: string): this {
    return this.raw(`i${module}\n${name}\n`);
  }
  shortUnicode(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.raw([0x8c, b.length]).raw(b);
  }
  binUnicode(s: string): this {
    const b = Buffer.from(s, 'utf8');
    const h = Buffer.alloc(5);
    h[0] = 0x58;
    h.writeUInt32LE(b.length, 1);
    return this.raw(h).raw(b);
  }
  binUnicode8(s: string): this {
    const b = Buffer.from(s, 'utf8');
    const h = Buffer.alloc(9);
    h[0] = 0x8d;
    h.writeBigUInt64LE(BigInt(b.length), 1);
    return this.raw(h).raw(b);
  }
  shortBinString(s: string): this {
    const b = Buffer.from(s, 'latin1');
    return this.raw([0x55, b.length]).raw(b);
  }
  binString(s: string): this {
    const b = Buffer.from(s, 'latin1');
    const h = Buffer.alloc(5);
    h[0] = 0x54;
    h.writeInt32LE(b.length, 1);
    return this.raw(h).raw(b);
  }
  string(s: string): this {
    return this.raw(`S'${s}'\n`);
  }
  binBytes8(len: number, fill = 0): this {
    const h = Buffer.alloc(9);
    h[0] = 0x8e;
    h.writeBigUInt64LE(BigInt(len), 1);
    return this.raw(h).raw(Buffer.alloc(len, fill));
  }
  binBytes(b: Buffer): this {
    const h = Buffer.alloc(5);
    h[0] = 0x42;
    h.writeUInt32LE(b.length, 1);
    return this.raw(h).raw(b);
  }
  binint1(n: number): this {
    return this.raw([0x4b, n]);
  }
  binput(n: number): this {
    return this.raw([0x71, n]);
  }
  binget(n: number): this {
    return this.raw([0x68, n]);
  }
  mark(): this {
    return this.op('(');
  }
  tuple(): this {
    return this.op('t');
  }
  tuple1(): this {
    return this.op(0x85);
  }
  tuple2(): this {
    return this.op(0x86);
  }
  reduce(): this {
    return this.op('R');
  }
  stackGlobal(): this {
    return this.op(0x93);
  }
  memoize(): this {
    return this.op(0x94);
  }
  stop(): this {
    return this.op('.');
  }
  none(): this {
    return this.op('N');
  }
  /** `module.name(arg)` with a protocol-2 GLOBAL + TUPLE1 + REDUCE. */
  call1(module: string, name: string, arg: string): this {
    return this.global(module, name).shortUnicode(arg).tuple1().reduce();
  }
  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}
