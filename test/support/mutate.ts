/**
 * Mutations of real files for property tests: bit flips, overwrites, cuts,
 * insertions, deletions and duplicated spans, plus a hang check.
 */
import fc from 'fast-check';

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'cut'; at: number }
  | { kind: 'insert'; at: number; bytes: Buffer }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'dup'; at: number; len: number };

/**
 * A mutation arbitrary. `inserts` are byte strings worth inserting for the format
 * at hand (opcodes, Python syntax); random bytes are always among the choices.
 */
export function mutation(inserts: readonly (string | number[])[] = []): fc.Arbitrary<Mutation> {
  const insertBytes = inserts.length
    ? fc.oneof(fc.constantFrom(...inserts.map((x) => Buffer.from(x as string))), fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)))
    : fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a));
  return fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: insertBytes }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 200 }) }),
    fc.record({ kind: fc.constant('dup' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 200 }) }),
  );
}

export function mutate(b: Buffer, ms: readonly Mutation[]): Buffer {
  let out = Buffer.from(b);
  for (const m of ms) {
    if (out.length === 0) break;
    const at = m.at % out.length;
    switch (m.kind) {
      case 'flip':
        out[at] ^= 1 << m.bit;
        break;
      case 'set':
        out[at] = m.value;
        break;
      case 'cut':
        out = out.subarray(0, at);
        break;
      case 'insert':
        out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
        break;
      case 'delete':
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.len)]);
        break;
      case 'dup':
        out = Buffer.concat([out.subarray(0, at), out.subarray(at, at + m.len), out.subarray(at)]);
        break;
    }
  }
  return out;
}

/** Fails the case if the promise does not settle: a hang check, not a speed target. */
export function settles<T>(p: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not finish within ${ms / 1000} s: ${what}`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}
