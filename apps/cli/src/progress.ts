export interface ProgressOptions {
  /** Shown before the bar, e.g. "train". */
  readonly label: string;
  /** Units of work; the bar shows a spinner-free count when unknown. */
  readonly total: number | undefined;
}

type Mode = 'bar' | 'lines' | 'silent';

const WIDTH = 28;
/** Redraw at most this often (ms): a terminal write per training step would slow small models. */
const REDRAW_MS = 80;
/** In line mode (logs), work shorter than this prints nothing. */
const QUIET_MS = 2000;

function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60
    ? `${minutes}m${String(seconds % 60).padStart(2, '0')}s`
    : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/**
 * A one-line progress bar redrawn in place (`\r`) on a terminal:
 * `train [██████████░░░░░░] 40/100  loss 0.52  1,200 tok/s  eta 31s`. In `lines` mode (not a terminal)
 * it prints the same text as a plain line at every tenth of the work, so logs stay short.
 */
export class ProgressBar {
  #done = 0;
  #status = '';
  #lastDraw = 0;
  #lastDecile = -1;
  readonly #started = performance.now();
  #finished = false;
  #total: number | undefined;

  constructor(
    readonly options: ProgressOptions,
    readonly stream: NodeJS.WritableStream,
    readonly mode: Mode,
  ) {
    this.#total = options.total;
  }

  /** Sets the total once it is known (work whose size is found out while it runs). */
  setTotal(total: number): void {
    this.#total = total;
  }

  /** Sets the work done (absolute) and the status text after the bar. */
  update(done: number, status = this.#status): void {
    this.#done = done;
    this.#status = status;
    if (this.mode === 'silent' || this.#finished) return;
    const total = this.#total;
    if (this.mode === 'lines') {
      if (done === 0 || performance.now() - this.#started < QUIET_MS) return;
      const decile = total ? Math.floor((10 * done) / total) : -1;
      if (decile > this.#lastDecile) {
        this.#lastDecile = decile;
        this.stream.write(`${this.#line()}\n`);
      }
      return;
    }
    const now = performance.now();
    if (now - this.#lastDraw < REDRAW_MS && done !== total) return;
    this.#lastDraw = now;
    this.stream.write(`\r${this.#line()}\u001b[K`);
  }

  /** Draws the final state and ends the line. */
  finish(status = this.#status): void {
    if (this.#finished) return;
    this.#status = status;
    if (this.mode === 'bar') this.stream.write(`\r${this.#line()}\u001b[K\n`);
    else if (this.mode === 'lines' && this.#lastDecile >= 0 && this.#lastDecile < 10) {
      this.stream.write(`${this.#line()}\n`);
    }
    this.#finished = true;
  }

  /** Clears the bar (before printing other lines on a terminal), to be redrawn on the next update. */
  clear(): void {
    if (this.mode === 'bar' && !this.#finished) this.stream.write('\r\u001b[K');
  }

  #line(): string {
    const { label } = this.options;
    const total = this.#total;
    const elapsed = performance.now() - this.#started;
    const parts = [label];
    if (total) {
      const fraction = Math.min(1, this.#done / total);
      const filled = Math.round(fraction * WIDTH);
      parts.push(`[${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}]`, `${this.#done}/${total}`);
      const eta = this.#done > 0 && this.#done < total ? (elapsed / this.#done) * (total - this.#done) : 0;
      if (this.#status) parts.push(this.#status);
      parts.push(this.#done >= total ? formatDuration(elapsed) : `eta ${formatDuration(eta)}`);
    } else {
      parts.push(String(this.#done));
      if (this.#status) parts.push(this.#status);
      parts.push(formatDuration(elapsed));
    }
    return parts.join('  ');
  }
}
