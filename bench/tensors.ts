/**
 * Benchmarks for the safetensors and GGUF scanners: headers scanned per
 * second and bytes read per file, on 1 GB files whose tensor data is a sparse
 * hole (the header is written, then the file is extended with truncate).
 */
import { readFileSync } from 'node:fs';
import { rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { FileSource } from '../src/formats/source.js';
import { createScanContext } from '../src/scan/scanner.js';
import { safetensorsScanner } from '../src/scan/safetensors-scan.js';
import { ggufScanner } from '../src/scan/gguf-scan.js';
import type { FormatScanner } from '../src/scan/format-scanner.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GB = 1024 ** 3;

/** Llama-style tensor names and shapes, scaled so the data adds up to `total` bytes of F16. */
function layers(total: number): { name: string; shape: number[] }[] {
  const d = 2048;
  const ff = 5632;
  const perLayer = 4 * d * d + 3 * d * ff + 2 * d;
  const vocab = 32000;
  const fixed = 2 * vocab * d + d;
  const n = Math.max(1, Math.ceil((total / 2 - fixed) / perLayer));
  const out = [{ name: 'model.embed_tokens.weight', shape: [vocab, d] }];
  for (let i = 0; i < n; i++) {
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) out.push({ name: `model.layers.${i}.self_attn.${p}.weight`, shape: [d, d] });
    for (const [p, s] of [['gate_proj', [ff, d]], ['up_proj', [ff, d]], ['down_proj', [d, ff]]] as const) out.push({ name: `model.layers.${i}.mlp.${p}.weight`, shape: [...s] });
    out.push({ name: `model.layers.${i}.input_layernorm.weight`, shape: [d] }, { name: `model.layers.${i}.post_attention_layernorm.weight`, shape: [d] });
  }
  out.push({ name: 'model.norm.weight', shape: [d] }, { name: 'lm_head.weight', shape: [vocab, d] });
  return out;
}

async function sparse(path: string, header: Buffer, total: number): Promise<number> {
  await writeFile(path, header);
  if (total > header.length) await truncate(path, total);
  return Math.max(total, header.length);
}

async function writeSafetensors(path: string, target: number): Promise<{ size: number; tensors: number; header: number }> {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let off = 0;
  const ts = layers(target);
  for (const t of ts) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * 2;
    header[t.name] = { dtype: 'F16', shape: t.shape, data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let js = JSON.stringify(header);
  js += ' '.repeat((8 - (js.length % 8)) % 8);
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(js.length));
  const head = Buffer.concat([n, Buffer.from(js)]);
  return { size: await sparse(path, head, head.length + off), tensors: ts.length, header: head.length };
}

/** A GGUF v3 header: llama metadata, a vocabulary of `vocab` tokens (+ scores, types, merges), a chat template, tensor infos. */
function ggufHeader(vocab: number, template: string, target: number): { head: Buffer; data: number; tensors: number } {
  const parts: Buffer[] = [];
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return b;
  };
  const u64 = (v: number | bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    return b;
  };
  const str = (s: string) => {
    const b = Buffer.from(s);
    return Buffer.concat([u64(b.length), b]);
  };
  const kvs: Buffer[] = [];
  const kv = (k: string, type: number, v: Buffer) => kvs.push(Buffer.concat([str(k), u32(type), v]));
  kv('general.architecture', 8, str('llama'));
  kv('general.name', 8, str('bench'));
  for (const [k, v] of [['llama.context_length', 4096], ['llama.embedding_length', 2048], ['llama.block_count', 22], ['llama.feed_forward_length', 5632], ['llama.attention.head_count', 32]] as const) kv(k, 4, u32(v));
  kv('tokenizer.ggml.model', 8, str('gpt2'));
  const toks = Array.from({ length: vocab }, (_, i) => (i < 256 ? `<0x${i.toString(16).padStart(2, '0')}>` : `Ġtok${i}`));
  kv('tokenizer.ggml.tokens', 9, Buffer.concat([u32(8), u64(vocab), ...toks.map(str)]));
  kv('tokenizer.ggml.token_type', 9, Buffer.concat([u32(5), u64(vocab), Buffer.alloc(4 * vocab, 1)]));
  kv('tokenizer.ggml.merges', 9, Buffer.concat([u32(8), u64(vocab - 256), ...toks.slice(256).map((t, i) => str(`${t.slice(0, 3)} ${t.slice(3)}${i % 7}`))]));
  kv('tokenizer.chat_template', 8, str(template));
  const infos: Buffer[] = [];
  let off = 0n;
  const ts = layers(target);
  for (const t of ts) {
    const dims = [...t.shape].reverse();
    infos.push(Buffer.concat([str(t.name), u32(dims.length), ...dims.map((d) => u64(d)), u32(1), u64(off)]));
    const bytes = BigInt(t.shape.reduce((a, b) => a * b, 1) * 2);
    off += ((bytes + 31n) / 32n) * 32n;
  }
  const head = Buffer.alloc(24);
  head.write('GGUF', 0, 'latin1');
  head.writeUInt32LE(3, 4);
  head.writeBigUInt64LE(BigInt(ts.length), 8);
  head.writeBigUInt64LE(BigInt(kvs.length), 16);
  parts.push(head, ...kvs, ...infos);
  const body = Buffer.concat(parts);
  const padded = Buffer.concat([body, Buffer.alloc((32 - (body.length % 32)) % 32)]);
  return { head: padded, data: Number(off), tensors: ts.length };
}

async function measure(scanner: FormatScanner, path: string, minMs = 1500): Promise<{ perSec: number; ms: number; bytesRead: number; findings: number }> {
  let runs = 0;
  let bytesRead = 0;
  let findings = 0;
  const t0 = performance.now();
  while (runs < 3 || performance.now() - t0 < minMs) {
    const src = await FileSource.open(path);
    try {
      const ctx = createScanContext(path);
      await scanner.scan(src, { location: path, depth: 0, ecosystems: ['python'] }, ctx);
      bytesRead = src.bytesRead;
      findings = ctx.findings.length;
    } finally {
      await src.close();
    }
    runs++;
  }
  const ms = (performance.now() - t0) / runs;
  return { perSec: 1000 / ms, ms, bytesRead, findings };
}

function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

export async function benchTensors(dir: string): Promise<void> {
  console.log('\n## safetensors and GGUF headers (1 GB files, tensor data sparse)');
  console.log('| file | size | tensors | header | bytes read | read / size | headers/s | time per header | findings |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  const template = readFileSync(join(ROOT, 'test/fixtures/tensors/templates/llama-3.2-3b-instruct.jinja'), 'utf8');
  const rows: { label: string; path: string; scanner: FormatScanner; size: number; tensors: number; header: number }[] = [];

  const st = join(dir, 'bench.safetensors');
  const s = await writeSafetensors(st, GB);
  rows.push({ label: 'safetensors (F16, llama layout)', path: st, scanner: safetensorsScanner, ...s });

  for (const vocab of [32_000, 152_064]) {
    const p = join(dir, `bench-${vocab}.gguf`);
    const g = ggufHeader(vocab, template, GB);
    const size = await sparse(p, g.head, g.head.length + g.data);
    rows.push({ label: `GGUF v3 (${fmt(vocab, 0)}-token vocab + merges, chat template)`, path: p, scanner: ggufScanner, size, tensors: g.tensors, header: g.head.length });
  }

  for (const r of rows) {
    const m = await measure(r.scanner, r.path);
    // Tensor data is never read: everything read lies inside the header.
    if (m.bytesRead > r.header) console.log(`  (read ${m.bytesRead} bytes, more than the ${r.header}-byte header)`);
    console.log(
      `| ${r.label} | ${fmt(r.size / GB, 2)} GiB | ${r.tensors} | ${fmt(r.header / 1024, 0)} KiB | ${fmt(m.bytesRead, 0)} B | ${(m.bytesRead / r.size).toExponential(2)} | ${fmt(m.perSec)} | ${fmt(m.ms, 2)} ms | ${m.findings} |`,
    );
    await rm(r.path);
  }
}
