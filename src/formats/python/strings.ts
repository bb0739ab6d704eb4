/**
 * Python string and bytes literals: prefixes and escape sequences, decoded the
 * way CPython's tokenizer does, so folded constants hold the text the program
 * would see. Bytes are held as "binary strings" (one char per byte, 0–255).
 */

export interface LiteralPrefix {
  raw: boolean;
  bytes: boolean;
  format: boolean;
}

/** Reads the prefix letters before the quote of a string_start token ("rb\"", "f'''", "`"). */
export function parsePrefix(start: string): LiteralPrefix {
  const m = /^([A-Za-z]*)/.exec(start);
  const p = (m ? m[1] : '').toLowerCase();
  return { raw: p.includes('r'), bytes: p.includes('b'), format: p.includes('f') || p.includes('t') };
}

const SIMPLE: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

/**
 * Decodes backslash escapes in literal text. Raw literals keep backslashes
 * (except that "\\\n" still joins lines inside the tokenizer's view, which
 * raw strings also keep verbatim). Unknown escapes stay as written, as in Python.
 */
export function decodeEscapes(raw: string, prefix: LiteralPrefix): string {
  if (prefix.raw || !raw.includes('\\')) return prefix.bytes ? toByteChars(raw) : raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== '\\' || i + 1 >= raw.length) {
      out += c;
      continue;
    }
    const n = raw[i + 1];
    if (n === '\n') {
      i++;
      continue;
    }
    if (n === '\r') {
      i += raw[i + 2] === '\n' ? 2 : 1;
      continue;
    }
    if (n in SIMPLE) {
      out += SIMPLE[n];
      i++;
      continue;
    }
    if (n >= '0' && n <= '7') {
      let j = i + 1;
      let digits = '';
      while (j < raw.length && digits.length < 3 && raw[j] >= '0' && raw[j] <= '7') digits += raw[j++];
      out += String.fromCharCode(parseInt(digits, 8) & (prefix.bytes ? 0xff : 0x1ff));
      i = j - 1;
      continue;
    }
    const hexLen = n === 'x' ? 2 : !prefix.bytes && n === 'u' ? 4 : !prefix.bytes && n === 'U' ? 8 : 0;
    if (hexLen) {
      const h = raw.slice(i + 2, i + 2 + hexLen);
      if (h.length === hexLen && /^[0-9a-fA-F]+$/.test(h)) {
        const cp = parseInt(h, 16);
        out += cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
        i += 1 + hexLen;
        continue;
      }
    }
    if (!prefix.bytes && n === 'N' && raw[i + 2] === '{') {
      const close = raw.indexOf('}', i + 3);
      if (close > 0) {
        // Unicode names are not resolved (no name table here); keep a visible placeholder.
        out += `\\N{${raw.slice(i + 3, close)}}`;
        i = close;
        continue;
      }
    }
    out += c;
  }
  return prefix.bytes ? toByteChars(out) : out;
}

/** Bytes literals can only hold ASCII; anything else is kept as its low byte. */
function toByteChars(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\xff]*$/.test(s)) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) out += String.fromCharCode(s.charCodeAt(i) & 0xff);
  return out;
}

/** Python's repr() of a str, for evidence that reads like the source. */
export function pyRepr(s: string, bytes = false, max = 300): string {
  const clipped = s.length > max;
  const body = clipped ? s.slice(0, max) : s;
  const quote = body.includes("'") && !body.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of body) {
    const cp = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += '\\' + quote;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (cp < 0x20 || cp === 0x7f || (bytes && cp > 0x7e)) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${bytes ? 'b' : ''}${quote}${out}${quote}${clipped ? '…' : ''}`;
}
