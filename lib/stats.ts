/**
 * The project's summary statistics (charts, tables, the toy-figure summaries,
 * the benchmark): mean +- sample standard deviation over seeds, medians, and histograms on linear or
 * logarithmic bins (computed here, in float64, rather than by vega-lite, so
 * log-spaced bins and the numbers in the tables are exact and testable).
 *
 * @module
 */

/** Mean and sample standard deviation (n - 1 in the denominator; 0 when n = 1). */
export interface MeanStd {
  mean: number;
  std: number;
  /** Number of values. */
  n: number;
}

function checkFinite(values: readonly number[], what: string): void {
  if (!Array.isArray(values) || values.length === 0) {
    throw new RangeError(`${what} needs at least one value, got ${values}`);
  }
  values.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new RangeError(`${what}: value ${i} is not a finite number: ${v}`);
    }
  });
}

/**
 * Mean and sample standard deviation of `values` (std 0 for a single value).
 *
 * @example
 * ```ts
 * import { meanStd } from "./stats.ts";
 * const s = meanStd([1, 2, 3]);
 * if (s.mean !== 2 || s.std !== 1 || s.n !== 3) throw new Error();
 * ```
 */
export function meanStd(values: readonly number[]): MeanStd {
  checkFinite(values, "meanStd");
  return { mean: mean(values), std: sampleStd(values), n: values.length };
}

/**
 * Arithmetic mean of `values`, summed left to right (NaN for none; no check,
 * so a non-finite value propagates).
 *
 * @example
 * ```ts
 * import { mean } from "./stats.ts";
 * if (mean([1, 2, 6]) !== 3 || !Number.isNaN(mean([]))) throw new Error();
 * ```
 */
export function mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/**
 * The 1-based index of the largest of `counts` (the first one on a tie): the
 * mode of a histogram whose bin i+1 holds `counts[i]`.
 *
 * @example
 * ```ts
 * import { modeIndex } from "./stats.ts";
 * if (modeIndex([1, 5, 5, 2]) !== 2) throw new Error();
 * ```
 */
export function modeIndex(counts: readonly number[]): number {
  return counts.indexOf(Math.max(...counts)) + 1;
}

/**
 * Sample standard deviation of `values` (n - 1 in the denominator; 0 for
 * fewer than two values; no check, so a non-finite value propagates).
 *
 * @example
 * ```ts
 * import { sampleStd } from "./stats.ts";
 * if (sampleStd([1, 2, 3]) !== 1 || sampleStd([5]) !== 0) throw new Error();
 * ```
 */
export function sampleStd(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return 0;
  const m = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - m) * (v - m);
  return Math.sqrt(ss / (n - 1));
}

/**
 * Median of `values` (mean of the two middle values for an even count).
 *
 * @example
 * ```ts
 * import { median } from "./stats.ts";
 * if (median([3, 1, 2]) !== 2 || median([4, 1, 2, 3]) !== 2.5) throw new Error();
 * ```
 */
export function median(values: readonly number[]): number {
  checkFinite(values, "median");
  const s = [...values].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** Options of {@link binEdges}. */
export interface BinOptions {
  /** Number of bins (default 30). */
  bins?: number;
  /** Log-spaced bins (all values must be > 0). Default false. */
  log?: boolean;
  /** Range [lo, hi] the bins cover (default: the values' min and max). */
  range?: [number, number];
}

/**
 * Bin edges (`bins + 1` increasing numbers) covering `values`, equally spaced
 * on a linear or log scale. A degenerate range (all values equal) is widened
 * to [v - 0.5, v + 0.5] (linear) or [v / 2, v * 2] (log).
 *
 * @example
 * ```ts
 * import { binEdges } from "./stats.ts";
 * const e = binEdges([1, 100], { bins: 2, log: true });
 * if (Math.abs(e[1] - 10) > 1e-9) throw new Error(String(e));
 * ```
 */
export function binEdges(
  values: readonly number[],
  options: BinOptions = {},
): number[] {
  const bins = options.bins ?? 30;
  if (!Number.isInteger(bins) || bins < 1) {
    throw new RangeError(`bins must be a positive integer, got ${bins}`);
  }
  const log = options.log ?? false;
  let lo: number, hi: number;
  if (options.range) {
    [lo, hi] = options.range;
    if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi)) {
      throw new RangeError(
        `range must be finite with lo < hi, got [${options.range}]`,
      );
    }
  } else {
    checkFinite(values, "binEdges");
    lo = Infinity;
    hi = -Infinity;
    for (const v of values) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (log && lo <= 0) {
    throw new RangeError(`log bins need values > 0, got minimum ${lo}`);
  }
  if (lo === hi) {
    if (log) [lo, hi] = [lo / 2, hi * 2];
    else [lo, hi] = [lo - 0.5, hi + 0.5];
  }
  const edges: number[] = [];
  if (log) {
    const a = Math.log10(lo), b = Math.log10(hi);
    for (let i = 0; i <= bins; i++) edges.push(10 ** (a + (b - a) * i / bins));
  } else {
    for (let i = 0; i <= bins; i++) edges.push(lo + (hi - lo) * i / bins);
  }
  // Exact end points, so the extreme values always fall inside.
  edges[0] = lo;
  edges[bins] = hi;
  return edges;
}

/** One histogram bin: [lo, hi) (the last bin also holds hi). */
export interface HistogramBin {
  lo: number;
  hi: number;
  count: number;
  /** count / number of values inside the range. */
  fraction: number;
}

/**
 * Counts `values` into the bins given by `edges`; values outside
 * [edges[0], edges[last]] are skipped and reported in `outside`.
 *
 * @example
 * ```ts
 * import { histogram } from "./stats.ts";
 * const h = histogram([0, 0.5, 1, 2, 5], [0, 1, 2]);
 * if (h.bins.map((b) => b.count).join() !== "2,2" || h.outside !== 1) throw new Error();
 * ```
 */
export function histogram(
  values: readonly number[],
  edges: readonly number[],
): { bins: HistogramBin[]; outside: number } {
  if (edges.length < 2) {
    throw new RangeError(
      `histogram needs at least 2 edges, got ${edges.length}`,
    );
  }
  for (let i = 1; i < edges.length; i++) {
    if (!(edges[i] > edges[i - 1])) {
      throw new RangeError(
        `edges must be strictly increasing; edge ${i} is ${edges[i]} after ${
          edges[i - 1]
        }`,
      );
    }
  }
  const k = edges.length - 1;
  const counts = new Array<number>(k).fill(0);
  let outside = 0;
  for (const v of values) {
    if (!Number.isFinite(v) || v < edges[0] || v > edges[k]) {
      outside++;
      continue;
    }
    // Binary search: the last edge <= v.
    let a = 0, b = k;
    while (b - a > 1) {
      const m = (a + b) >> 1;
      if (edges[m] <= v) a = m;
      else b = m;
    }
    counts[a]++;
  }
  const inside = values.length - outside;
  return {
    bins: counts.map((count, i) => ({
      lo: edges[i],
      hi: edges[i + 1],
      count,
      fraction: inside > 0 ? count / inside : 0,
    })),
    outside,
  };
}
