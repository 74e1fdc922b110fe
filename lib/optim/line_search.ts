/**
 * PoF's 1-D line search (paper Eq. 2): `xi* = argmin_{xi >= 0} L_B(phi,
 * theta0 - xi u)` for a unit direction u in classifier space.
 *
 * Because the classifier is linear, the logits along the line are affine in
 * xi: `z(xi) = C_{theta0 - xi u}(f) = z0 + xi dz` with `z0 = C_theta0(f)` and
 * `dz = -C_u(f)` (the classifier applied to u as if it were parameters). So
 * {@link classifierLine} computes z0 and dz once (two small matmuls) and
 * {@link lineLoss} evaluates the mean cross-entropy for any xi in float64
 * JavaScript in O(batch x classes), with no further tensor work.
 *
 * {@link lineSearch} minimises any 1-D function on [0, maxXi]:
 * 1. Bracket: evaluate x_0 = 0, x_1 = s, x_k = 2 x_{k-1} (s = `initialStep`)
 *    until the value rises (f(x_k) > f(x_{k-1})); then the minimum lies in
 *    [x_{k-2}, x_k] (x_{-1} = 0). The last point is clamped to `maxXi`; if the
 *    value still decreases there the line "never rises again within the cap"
 *    (`bracketed: false`, the asymmetric case of the paper's Sec. 3.2) and
 *    xi = maxXi is returned.
 * 2. Golden-section search on the bracket until its width is at most
 *    `absTol + relTol * midpoint`. The returned xi is an evaluated point of
 *    the final bracket, so for a function unimodal on the bracket
 *    `|xi - xi_true| <= absTol + relTol * xi_true` (up to one bracket width).
 *
 * Non-finite values count as +Infinity (the line "rises").
 *
 * This differs from the authors' code (doubling from a raw-gradient step of
 * 1 until the loss exceeds the starting loss, then a 16-point grid), which
 * has a resolution of 1/16 of the bracket; the tolerance here is explicit.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { Params } from "../tree.ts";
import type { Model } from "../models/model.ts";

/** Options of {@link lineSearch}. */
export interface LineSearchOptions {
  /** First trial step s (default 0.01). */
  initialStep?: number;
  /** Upper bound on xi (default 50; unbounded xi made PoF diverge). */
  maxXi?: number;
  /** Absolute tolerance on xi (default 1e-6). */
  absTol?: number;
  /** Relative tolerance on xi (default 1e-4). */
  relTol?: number;
  /** Safety cap on golden-section iterations (default 200). */
  maxIterations?: number;
}

/** The result of {@link lineSearch}. */
export interface LineSearchResult {
  /** The minimiser found, in [0, maxXi]. */
  xi: number;
  /** f(xi). */
  loss: number;
  /** f(0). */
  loss0: number;
  /** False when f kept decreasing up to maxXi (xi = maxXi then). */
  bracketed: boolean;
  /** Number of evaluations of f. */
  evaluations: number;
  /** The final bracket [lo, hi] containing xi. */
  interval: [number, number];
}

const INV_PHI = (Math.sqrt(5) - 1) / 2; // 0.618...

function positive(name: string, v: number): void {
  if (!(Number.isFinite(v) && v > 0)) {
    throw new RangeError(`${name} must be a finite number > 0, got ${v}`);
  }
}

/**
 * Minimises `f` on [0, maxXi] by doubling bracketing and golden-section
 * search (see the module doc for the procedure and the tolerance).
 *
 * @example
 * ```ts
 * import { lineSearch } from "./line_search.ts";
 * const r = lineSearch((x) => (x - 3) ** 2, { absTol: 1e-8, relTol: 0 });
 * if (Math.abs(r.xi - 3) > 1e-8 || !r.bracketed) throw new Error(String(r.xi));
 * ```
 */
export function lineSearch(
  f: (xi: number) => number,
  options: LineSearchOptions = {},
): LineSearchResult {
  const {
    initialStep = 0.01,
    maxXi = 50,
    absTol = 1e-6,
    relTol = 1e-4,
    maxIterations = 200,
  } = options;
  positive("initialStep", initialStep);
  positive("maxXi", maxXi);
  positive("absTol", absTol);
  if (!(Number.isFinite(relTol) && relTol >= 0)) {
    throw new RangeError(`relTol must be a finite number >= 0, got ${relTol}`);
  }
  let evaluations = 0;
  const F = (x: number): number => {
    evaluations++;
    const v = f(x);
    return Number.isFinite(v) ? v : Infinity;
  };
  const loss0 = F(0);
  // Bracketing by doubling.
  let a = 0, b = 0, fb = loss0;
  let x = Math.min(initialStep, maxXi);
  let hi = 0;
  for (;;) {
    const fx = F(x);
    if (fx > fb) {
      hi = x;
      break;
    }
    a = b;
    b = x;
    fb = fx;
    if (x >= maxXi) {
      return {
        xi: x,
        loss: fx,
        loss0,
        bracketed: false,
        evaluations,
        interval: [a, x],
      };
    }
    x = Math.min(2 * x, maxXi);
  }
  // Minimum in [a, hi]; b is the best point so far. Golden-section search.
  const gs = goldenSection(F, a, hi, {
    maxIterations,
    done: (l, h) => h - l <= absTol + relTol * 0.5 * (h + l),
  });
  const lo = gs.lo;
  hi = gs.hi;
  let xi = gs.x;
  let loss = gs.fx;
  // The bracketing point can only win on a non-unimodal bracket; keep the best.
  if (fb < loss && b >= lo && b <= hi) {
    xi = b;
    loss = fb;
  }
  if (loss0 <= loss) {
    // f does not decrease from 0 (e.g. an ascent direction): stay at 0.
    return {
      xi: 0,
      loss: loss0,
      loss0,
      bracketed: true,
      evaluations,
      interval: [0, hi],
    };
  }
  return { xi, loss, loss0, bracketed: true, evaluations, interval: [lo, hi] };
}

/** The result of {@link goldenSection}. */
export interface GoldenSectionResult {
  /** The better of the two final interior points, and its value. */
  x: number;
  fx: number;
  /** The final bracket. */
  lo: number;
  hi: number;
}

/**
 * Golden-section search for a minimum of a unimodal `f` on `[lo, hi]`: at
 * most `maxIterations` shrinks (one evaluation each, after two to start),
 * stopping early once `done(lo, hi)` holds.
 *
 * @example
 * ```ts
 * import { goldenSection } from "./line_search.ts";
 * const r = goldenSection((x) => (x - 0.3) ** 2, 0, 1, { maxIterations: 60 });
 * if (Math.abs(r.x - 0.3) > 1e-6) throw new Error(String(r.x));
 * ```
 */
export function goldenSection(
  f: (x: number) => number,
  lo: number,
  hi: number,
  options: {
    maxIterations: number;
    done?: (lo: number, hi: number) => boolean;
  },
): GoldenSectionResult {
  let c = hi - INV_PHI * (hi - lo), d = lo + INV_PHI * (hi - lo);
  let fc = f(c), fd = f(d);
  for (let it = 0; it < options.maxIterations; it++) {
    if (options.done?.(lo, hi)) break;
    if (fc <= fd) {
      hi = d;
      d = c;
      fd = fc;
      c = hi - INV_PHI * (hi - lo);
      fc = f(c);
    } else {
      lo = c;
      c = d;
      fc = fd;
      d = lo + INV_PHI * (hi - lo);
      fd = f(d);
    }
  }
  return fc <= fd ? { x: c, fx: fc, lo, hi } : { x: d, fx: fd, lo, hi };
}

/** Logits along a classifier line, `z(xi) = z0 + xi dz`, as float64 arrays. */
export interface ClassifierLine {
  /** Row-major [batch, classes] logits at xi = 0. */
  z0: Float64Array;
  /** Row-major [batch, classes] derivative of the logits w.r.t. xi. */
  dz: Float64Array;
  /** Integer labels, length batch. */
  labels: Int32Array;
  batch: number;
  classes: number;
}

/**
 * Precomputes the affine logits of `C_{theta0 - xi u}(features)`:
 * `z0 = C_theta0(f)`, `dz = -C_u(f)` (exact for a linear classifier).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { classifierLine, lineLoss } from "./line_search.ts";
 * import type { Model } from "../models/model.ts";
 * const model = {
 *   classify: (t: Record<string, tf.Tensor>, f: tf.Tensor2D) =>
 *     tf.add(tf.matMul(f, t.kernel), t.bias) as tf.Tensor2D,
 * } as unknown as Model;
 * const line = classifierLine(model, {
 *   theta: { kernel: tf.zeros([1, 2]), bias: tf.zeros([2]) },
 *   direction: { kernel: tf.zeros([1, 2]), bias: tf.tensor1d([1, -1]) },
 *   features: tf.tensor2d([[1]]),
 *   labels: tf.tensor1d([1], "int32"),
 * });
 * // logits(xi) = (-xi, xi): loss = log(1 + exp(-2 xi))
 * if (Math.abs(lineLoss(line, 1) - Math.log(1 + Math.exp(-2))) > 1e-12) throw new Error();
 * ```
 */
export function classifierLine(
  model: Model,
  data: {
    theta: Params;
    direction: Params;
    features: tf.Tensor2D;
    labels: tf.Tensor1D;
  },
): ClassifierLine {
  const [z0t, dzt] = tf.tidy(() => [
    model.classify(data.theta, data.features),
    tf.neg(model.classify(data.direction, data.features)),
  ]);
  const [batch, classes] = z0t.shape;
  if (data.labels.shape[0] !== batch) {
    z0t.dispose();
    dzt.dispose();
    throw new Error(
      `classifierLine: ${
        data.labels.shape[0]
      } labels for ${batch} feature rows`,
    );
  }
  const z0 = Float64Array.from(z0t.dataSync());
  const dz = Float64Array.from(dzt.dataSync());
  z0t.dispose();
  dzt.dispose();
  const labels = Int32Array.from(data.labels.dataSync());
  for (const l of labels) {
    if (!(l >= 0 && l < classes)) {
      throw new RangeError(
        `classifierLine: label ${l} outside [0, ${classes})`,
      );
    }
  }
  return { z0, dz, labels, batch, classes };
}

/**
 * Mean softmax cross-entropy at `z0 + xi dz`, in float64 (stable
 * log-sum-exp).
 *
 * @example
 * ```ts
 * import { lineLoss } from "./line_search.ts";
 * const line = {
 *   z0: new Float64Array([0, 0]), dz: new Float64Array([0, 1]),
 *   labels: new Int32Array([1]), batch: 1, classes: 2,
 * };
 * if (Math.abs(lineLoss(line, 0) - Math.log(2)) > 1e-15) throw new Error();
 * ```
 */
export function lineLoss(line: ClassifierLine, xi: number): number {
  const { z0, dz, labels, batch, classes } = line;
  let total = 0;
  for (let i = 0; i < batch; i++) {
    const o = i * classes;
    let m = -Infinity, arg = 0;
    for (let j = 0; j < classes; j++) {
      const z = z0[o + j] + xi * dz[o + j];
      if (z > m) {
        m = z;
        arg = j;
      }
    }
    // log-sum-exp = m + log1p(sum over the other classes): keeps tiny losses
    // (well-separated examples) accurate instead of rounding them to 0.
    let rest = 0;
    for (let j = 0; j < classes; j++) {
      if (j !== arg) rest += Math.exp(z0[o + j] + xi * dz[o + j] - m);
    }
    const y = labels[i];
    total += (m - (z0[o + y] + xi * dz[o + y])) + Math.log1p(rest);
  }
  return total / batch;
}
