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

/**
 * Cumulative distribution function of Student's t distribution with `df`
 * (a positive integer) degrees of freedom, from the exact finite series of
 * Abramowitz & Stegun 26.7.3-26.7.4 in theta = atan(t / sqrt(df)).
 *
 * @example
 * ```ts
 * import { studentTCdf } from "./stats.ts";
 * // df = 1 is the Cauchy distribution: F(1) = 3/4.
 * if (Math.abs(studentTCdf(1, 1) - 0.75) > 1e-15) throw new Error();
 * ```
 */
export function studentTCdf(t: number, df: number): number {
  if (!Number.isInteger(df) || df < 1) {
    throw new RangeError(
      `studentTCdf: df must be a positive integer, got ${df}`,
    );
  }
  if (Number.isNaN(t)) throw new RangeError(`studentTCdf: t is NaN`);
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const theta = Math.atan(Math.abs(t) / Math.sqrt(df));
  const s = Math.sin(theta), c2 = Math.cos(theta) ** 2;
  // a = P(|T| <= |t|).
  let a: number;
  if (df % 2 === 1) {
    let sum = 0;
    if (df > 1) {
      let term = Math.cos(theta);
      sum = term;
      for (let k = 3; k <= df - 2; k += 2) {
        term *= c2 * (k - 1) / k;
        sum += term;
      }
    }
    a = (2 / Math.PI) * (theta + s * sum);
  } else {
    let term = 1, sum = 1;
    for (let k = 2; k <= df - 2; k += 2) {
      term *= c2 * (k - 1) / k;
      sum += term;
    }
    a = s * sum;
  }
  return t >= 0 ? (1 + a) / 2 : (1 - a) / 2;
}

/**
 * The p-quantile of Student's t distribution with `df` (a positive
 * integer) degrees of freedom: the t with `studentTCdf(t, df) = p`, found by
 * bisection to double precision.
 *
 * @example
 * ```ts
 * import { tQuantile } from "./stats.ts";
 * // df = 2 has the closed form (2p - 1) / sqrt(2 p (1 - p)).
 * const p = 0.975;
 * if (Math.abs(tQuantile(p, 2) - (2 * p - 1) / Math.sqrt(2 * p * (1 - p))) > 1e-12) throw new Error();
 * ```
 */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) {
    throw new RangeError(`tQuantile: p must be in (0, 1), got ${p}`);
  }
  if (!Number.isInteger(df) || df < 1) {
    throw new RangeError(`tQuantile: df must be a positive integer, got ${df}`);
  }
  if (p === 0.5) return 0;
  if (p < 0.5) return -tQuantile(1 - p, df);
  let lo = 0, hi = 1;
  while (studentTCdf(hi, df) < p) [lo, hi] = [hi, hi * 2];
  for (let i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
    const m = (lo + hi) / 2;
    if (studentTCdf(m, df) < p) lo = m;
    else hi = m;
  }
  return (lo + hi) / 2;
}

/** Which side of 0 a claim puts a difference on: -1 (below) or +1 (above). */
export type ClaimSide = -1 | 1;

/**
 * Verdict on a claim about a difference, from its confidence interval:
 * `reproduced` when the interval excludes 0 on the claim's side,
 * `contradicted` when it excludes 0 on the other side, `undecided` when it
 * contains 0 (or there is no interval: fewer than two seeds).
 */
export type Verdict = "reproduced" | "contradicted" | "undecided";

/**
 * The {@link Verdict} of interval `ci` (null: no interval) on a claim that
 * the difference lies on `side` of 0.
 *
 * @example
 * ```ts
 * import { verdictOf } from "./stats.ts";
 * if (verdictOf([-0.5, -0.1], -1) !== "reproduced") throw new Error();
 * if (verdictOf([-0.5, -0.1], 1) !== "contradicted") throw new Error();
 * if (verdictOf([-0.5, 0.1], -1) !== "undecided" || verdictOf(null, 1) !== "undecided") throw new Error();
 * ```
 */
export function verdictOf(
  ci: readonly [number, number] | null,
  side: ClaimSide,
): Verdict {
  if (ci === null) return "undecided";
  const [lo, hi] = ci;
  if (lo > 0) return side > 0 ? "reproduced" : "contradicted";
  if (hi < 0) return side < 0 ? "reproduced" : "contradicted";
  return "undecided";
}

/** A paired comparison of two per-seed samples: the differences `a - b` and their t-interval. */
export interface PairedDifference {
  /** `a[i] - b[i]` per seed. */
  diffs: number[];
  /** Mean and sample std of `diffs`. */
  mean: number;
  std: number;
  n: number;
  /**
   * 95% Student-t interval of the mean difference:
   * mean +- t(0.975, n - 1) * std / sqrt(n); null for n = 1.
   */
  ci95: [number, number] | null;
}

/**
 * Paired differences `a[i] - b[i]` (same seeds, same order) with their mean,
 * sample std and 95% Student-t interval. Unequal lengths or non-finite
 * values are a RangeError naming them.
 *
 * @example
 * ```ts
 * import { pairedDifference } from "./stats.ts";
 * const d = pairedDifference([2, 3, 4], [1, 1, 1]);
 * // diffs 1, 2, 3: mean 2, std 1, half-width t(0.975, 2) / sqrt(3).
 * if (d.mean !== 2 || d.std !== 1 || Math.abs(d.ci95![1] - 4.484137712) > 1e-8) throw new Error(JSON.stringify(d));
 * ```
 */
export function pairedDifference(
  a: readonly number[],
  b: readonly number[],
): PairedDifference {
  if (a.length !== b.length) {
    throw new RangeError(
      `pairedDifference: samples differ in length (${a.length} vs ${b.length} seeds)`,
    );
  }
  checkFinite(a, "pairedDifference (a)");
  checkFinite(b, "pairedDifference (b)");
  const diffs = a.map((x, i) => x - b[i]);
  const s = meanStd(diffs);
  let ci95: [number, number] | null = null;
  if (s.n >= 2) {
    const half = tQuantile(0.975, s.n - 1) * s.std / Math.sqrt(s.n);
    ci95 = [s.mean - half, s.mean + half];
  }
  return { diffs, mean: s.mean, std: s.std, n: s.n, ci95 };
}

/**
 * Formats a paired difference and its verdict for tables:
 * `-0.42 [-0.80, -0.04] reproduced` (`(one seed: no interval)` without one).
 *
 * @example
 * ```ts
 * import { formatDifference } from "./stats.ts";
 * const s = formatDifference({ mean: -0.5, ci95: [-0.9, -0.1] }, "reproduced");
 * if (s !== "-0.50 [-0.90, -0.10] reproduced") throw new Error(s);
 * ```
 */
export function formatDifference(
  d: { mean: number; ci95: readonly [number, number] | null },
  verdict: Verdict,
  digits = 2,
): string {
  const f = (x: number) => x.toFixed(digits);
  return d.ci95
    ? `${f(d.mean)} [${f(d.ci95[0])}, ${f(d.ci95[1])}] ${verdict}`
    : `${f(d.mean)} (one seed: no interval) ${verdict}`;
}

/** A paired difference tested against a claim about its sign. */
export interface ClaimTest extends PairedDifference {
  /** The side of 0 the claim puts `mean(a - b)` on. */
  side: ClaimSide;
  verdict: Verdict;
}

/**
 * Tests the claim that `a - b` (paired per seed) lies on `side` of 0:
 * {@link pairedDifference} plus its {@link verdictOf}.
 *
 * @example
 * ```ts
 * import { testClaim } from "./stats.ts";
 * const t = testClaim([4.1, 4.0, 4.2], [4.6, 4.7, 4.6], -1);
 * if (t.verdict !== "reproduced" || t.diffs.length !== 3) throw new Error(JSON.stringify(t));
 * ```
 */
export function testClaim(
  a: readonly number[],
  b: readonly number[],
  side: ClaimSide,
): ClaimTest {
  const d = pairedDifference(a, b);
  return { ...d, side, verdict: verdictOf(d.ci95, side) };
}
