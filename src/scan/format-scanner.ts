import type { ByteSource } from '../formats/source.js';
import type { Place, ScanContext } from './context.js';

/**
 * A scanner for one non-pickle model format. The dispatcher (scanner.ts) asks
 * every registered scanner whether it claims a file or archive member from its
 * first bytes, and runs each one that does: formats are recognised by bytes and
 * structure, never by file name.
 */
export interface FormatScanner {
  /** Format id reported in FileReport.formats, e.g. "safetensors". */
  id: string;
  /**
   * Whether these bytes are this format. `head` is the first 4 KiB (less for
   * small inputs); `size` the whole length. Must be cheap and must not throw.
   */
  sniff(head: Buffer, size: number): boolean;
  /**
   * For source code only (Python files, notebooks, TorchScript code/ members),
   * which have no magic bytes: whether the path (or member path) names a file
   * this scanner reads. Model formats leave this out: they are sniffed by bytes.
   */
  sniffName?(location: string, head: Buffer): boolean;
  /**
   * True for scanners that claim broadly and name the format only once they
   * recognise it (any JSON object is looked at; only a Hugging Face config is
   * an "hf-config"). The dispatcher then adds no format for them, so files they
   * do not recognise still count as skipped.
   */
  reportsOwnFormats?: boolean;
  /**
   * Scans the source, adding findings to `ctx` (addFinding/addFormat from
   * context.ts). Throw only for input that cannot be parsed at all: the
   * dispatcher turns the error into an `archive/parse-error`-style finding
   * ("could not parse: …") naming the format.
   */
  scan(src: ByteSource, place: Place, ctx: ScanContext): Promise<void>;
}
