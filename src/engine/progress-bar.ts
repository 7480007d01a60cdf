// A one-line progress bar with an ETA for a terminal (the CLI's stderr), redrawn in place at
// most every 100 ms.
import { formatClock } from './format.js';

export class ProgressBar {
  private readonly startedAt = Date.now();
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly width = 24,
  ) {}

  update(progress: number, step: string, segments: { completed: number; total: number }): void {
    const now = Date.now();
    if (now - this.lastDraw < 100 && progress < 1) return;
    this.lastDraw = now;
    const p = Math.max(0, Math.min(1, progress));
    const filled = Math.round(p * this.width);
    const elapsed = (now - this.startedAt) / 1000;
    // before 2 % the rate says nothing yet
    const eta = p >= 0.02 ? `ETA ${formatClock((elapsed / p) * (1 - p))}` : 'ETA --:--';
    const segs = segments.total ? ` ${segments.completed}/${segments.total}` : '';
    let line = `[${'#'.repeat(filled)}${'-'.repeat(this.width - filled)}] ${String(Math.floor(p * 100)).padStart(3)}% ${eta} ${step}${segs}`;
    const cols = this.out.columns || 80;
    if (line.length > cols - 1) line = line.slice(0, cols - 1);
    this.out.write(`\r${line}\x1b[K`);
    this.drawn = true;
  }

  /** Removes the bar (before the summary is printed). */
  clear(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }
}
