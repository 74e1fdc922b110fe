/**
 * A one-line progress bar per run: epoch, step, loss, images/s and ETA.
 * On a terminal the line is redrawn in place; otherwise (CI logs, files)
 * one line is printed per finished epoch.
 *
 * @module
 */

/** What the bar shows at one moment. */
export interface ProgressState {
  /** Run label, e.g. its id. */
  label: string;
  /** Current epoch (1-based) and the last epoch of the run. */
  epoch: number;
  lastEpoch: number;
  /** Steps done in this epoch and per epoch. */
  step: number;
  stepsPerEpoch: number;
  /** Running mean loss of the epoch. */
  loss: number;
  /** Throughput in images per second. */
  imagesPerSecond: number;
  /** Estimated seconds left in the run. */
  etaSeconds: number;
}

/**
 * Formats seconds as `1h02m`, `3m05s` or `12s`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./progress.ts";
 * if (formatDuration(3725) !== "1h02m" || formatDuration(185) !== "3m05s") throw new Error();
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${
      String(Math.floor((s % 3600) / 60)).padStart(2, "0")
    }m`;
  }
  if (s >= 60) {
    return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  }
  return `${s}s`;
}

/**
 * Renders the bar as one line of at most `width` characters.
 *
 * @example
 * ```ts
 * import { renderProgress } from "./progress.ts";
 * const line = renderProgress({ label: "run", epoch: 2, lastEpoch: 4, step: 5,
 *   stepsPerEpoch: 10, loss: 0.5, imagesPerSecond: 100, etaSeconds: 65 }, 100);
 * if (!line.includes("epoch 2/4") || !line.includes("ETA 1m05s")) throw new Error(line);
 * ```
 */
export function renderProgress(p: ProgressState, width = 100): string {
  const frac = p.stepsPerEpoch > 0 ? p.step / p.stepsPerEpoch : 0;
  const cells = 12;
  const filled = Math.max(0, Math.min(cells, Math.round(frac * cells)));
  const bar = "#".repeat(filled) + "-".repeat(cells - filled);
  const line =
    `${p.label} [${bar}] epoch ${p.epoch}/${p.lastEpoch} step ${p.step}/${p.stepsPerEpoch} ` +
    `loss ${Number.isFinite(p.loss) ? p.loss.toFixed(4) : String(p.loss)} ` +
    `${p.imagesPerSecond.toFixed(1)} img/s ETA ${formatDuration(p.etaSeconds)}`;
  return line.length > width
    ? "..." + line.slice(line.length - width + 3)
    : line;
}

/**
 * Draws progress lines to stderr.
 *
 * @example
 * ```ts
 * import { ProgressBar } from "./progress.ts";
 * let written = 0;
 * const write = Deno.stderr.writeSync;
 * Deno.stderr.writeSync = (b: Uint8Array) => (written += b.length, b.length);
 * try {
 *   new ProgressBar({ quiet: true }).line("not shown");
 *   new ProgressBar().line("shown");
 * } finally {
 *   Deno.stderr.writeSync = write;
 * }
 * if (written !== "shown\n".length) throw new Error(`${written} bytes written`);
 * ```
 */
export class ProgressBar {
  #tty: boolean;
  #last = 0;
  #quiet: boolean;

  /** `quiet` suppresses all output (tests). */
  constructor(options: { quiet?: boolean } = {}) {
    this.#quiet = options.quiet ?? false;
    this.#tty = Deno.stderr.isTerminal();
  }

  /** Redraws the line (at most 4 times a second on a terminal; nothing off one). */
  update(p: ProgressState): void {
    if (this.#quiet || !this.#tty) return;
    const now = performance.now();
    if (now - this.#last < 250 && p.step < p.stepsPerEpoch) return;
    this.#last = now;
    const cols = (() => {
      try {
        return Deno.consoleSize().columns;
      } catch {
        return 100;
      }
    })();
    this.#write(`\r${renderProgress(p, cols - 1)}\x1b[K`);
  }

  /** Prints a permanent line (end of an epoch, messages). */
  line(text: string): void {
    if (this.#quiet) return;
    this.#write(this.#tty ? `\r\x1b[K${text}\n` : `${text}\n`);
  }

  #write(s: string): void {
    Deno.stderr.writeSync(new TextEncoder().encode(s));
  }
}
