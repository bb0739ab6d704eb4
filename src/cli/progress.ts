import { safe } from '../scan/report/text.js';

/** Scans with at most this many files finish too fast for a bar to help. */
export const PROGRESS_MIN_FILES = 5;

export interface ProgressStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

/**
 * A one-line progress bar redrawn in place on a terminal (stderr, so it never
 * mixes with a report on stdout). Redraws are throttled; `finish()` erases it.
 */
export class ProgressBar {
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly stream: ProgressStream,
    private readonly intervalMs = 100,
  ) {}

  update(done: number, total: number, file: string): void {
    const now = Date.now();
    if (done < total && now - this.lastDraw < this.intervalMs) return;
    this.lastDraw = now;
    this.stream.write(`\r\u001b[K${renderProgress(done, total, file, this.stream.columns || 80)}`);
    this.drawn = true;
  }

  finish(): void {
    if (this.drawn) this.stream.write('\r\u001b[K');
    this.drawn = false;
  }
}

/** The bar's text: "[#####-----]  12/40  30%  path/to/file", cut to `columns`. */
export function renderProgress(done: number, total: number, file: string, columns: number): string {
  const width = 24;
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(frac * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const count = `${String(done).padStart(String(total).length)}/${total}`;
  const pct = `${Math.floor(frac * 100)}%`.padStart(4);
  const head = `${bar} ${count} ${pct}  `;
  const room = Math.max(0, columns - 1 - head.length);
  const name = safe(file);
  // Keep the end of long paths: the file name is the informative part.
  const shown = name.length <= room ? name : room > 1 ? `…${name.slice(name.length - room + 1)}` : '';
  return head + shown;
}
