/**
 * Exact curvature of the linear classifier under softmax cross-entropy.
 *
 * For logits `z = f^T W + b` (kernel W [d, C], bias b [C]) write the augmented
 * feature `f~ = [f, 1]` and the augmented parameters `Theta = [W; b]`
 * ([d+1, C]). The Hessian of the mean cross-entropy over n examples w.r.t.
 * theta is exactly
 *
 *   H = (1/n) sum_n (f~ f~^T) (x) (diag p - p p^T),   p = softmax(z),
 *
 * (the paper's `E[(diag p - p p^T) (x) f f^T]` in this index order).
 *
 * **Parameter ordering** (every vector here): index `i * C + c` is
 * `Theta[i, c]`, i.e. the kernel row-major (`i < d`) followed by the bias
 * (`i = d`). This is {@link flattenParams} of `{kernel, bias}` in that key
 * order; {@link classifierVector} builds it from a tree in any key order.
 *
 * Everything is computed in float64 JavaScript from float32 features; cost
 * O(n (d+1) C) per product. {@link classifierQuadraticForms} evaluates
 * `u^T H u` for many directions at once with tensor ops (chunk by chunk, so
 * it runs on the active backend for a whole dataset).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { Params } from "../tree.ts";

function need(theta: Params, key: string): tf.Tensor {
  const t = theta[key];
  if (!t) {
    throw new Error(
      `classifier parameters need "kernel" and "bias", got keys [${
        Object.keys(theta).join(", ")
      }]`,
    );
  }
  return t;
}

/**
 * The classifier's parameters as one vector in this module's ordering
 * (kernel row-major, then bias).
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import { classifierVector } from "./classifier_hessian.ts";
 * const v = classifierVector({ bias: tf.tensor1d([5, 6]), kernel: tf.tensor2d([[1, 2]]) });
 * if (v.join() !== "1,2,5,6") throw new Error(v.join());
 * ```
 */
export function classifierVector(theta: Params): Float64Array {
  const k = need(theta, "kernel"), b = need(theta, "bias");
  if (k.rank !== 2 || b.rank !== 1 || b.shape[0] !== k.shape[1]) {
    throw new Error(
      `classifier kernel must be [d, C] and bias [C], got [${k.shape}] and [${b.shape}]`,
    );
  }
  const out = new Float64Array(k.size + b.size);
  out.set(k.dataSync());
  out.set(b.dataSync(), k.size);
  return out;
}

/**
 * The inverse of {@link classifierVector}: `{kernel [d, C], bias [C]}` tensors.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * import { classifierParams } from "./classifier_hessian.ts";
 * await useBackend("cpu");
 * const t = classifierParams(Float64Array.of(1, 2, 5, 6), 1, 2);
 * if (t.bias.dataSync()[1] !== 6 || t.kernel.shape.join() !== "1,2") throw new Error();
 * ```
 */
export function classifierParams(
  v: ArrayLike<number>,
  dim: number,
  numClasses: number,
): Params {
  if (v.length !== (dim + 1) * numClasses) {
    throw new Error(
      `classifierParams: vector has ${v.length} entries, expected (${dim} + 1) * ${numClasses}`,
    );
  }
  const k = new Float32Array(dim * numClasses);
  const b = new Float32Array(numClasses);
  for (let i = 0; i < k.length; i++) k[i] = v[i];
  for (let c = 0; c < numClasses; c++) b[c] = v[dim * numClasses + c];
  return {
    kernel: tf.tensor2d(k, [dim, numClasses]),
    bias: tf.tensor1d(b),
  };
}

/**
 * The classifier-space loss, gradient and exact Hessian of one batch of
 * fixed features, at a given theta (see the module doc for the ordering).
 *
 * @example
 * ```ts
 * import { ClassifierCurvature } from "./classifier_hessian.ts";
 * // one example, feature 2, two classes, theta = 0: p = (1/2, 1/2)
 * const c = new ClassifierCurvature(Float32Array.of(2), Int32Array.of(0), new Float64Array(4), { dim: 1, numClasses: 2 });
 * if (Math.abs(c.loss() - Math.log(2)) > 1e-15) throw new Error();
 * // H = f~ f~^T (x) (diag p - p p^T), f~ = (2, 1): H[0,0] = 4 * 1/4 = 1
 * if (Math.abs(c.dense()[0] - 1) > 1e-15) throw new Error();
 * ```
 */
export class ClassifierCurvature {
  /** Feature dimension d. */
  readonly dim: number;
  readonly numClasses: number;
  /** Number of examples. */
  readonly n: number;
  /** Number of parameters, (d + 1) C. */
  readonly size: number;
  readonly #f: Float32Array;
  readonly #y: Int32Array;
  readonly #theta: Float64Array;
  readonly #p: Float64Array;
  readonly #z: Float64Array;

  /**
   * @param features row-major [n, dim] features.
   * @param labels n integer labels.
   * @param theta the classifier vector (kernel row-major, then bias).
   */
  constructor(
    features: Float32Array,
    labels: Int32Array,
    theta: ArrayLike<number>,
    shape: { dim: number; numClasses: number },
  ) {
    const { dim, numClasses } = shape;
    if (
      !(Number.isInteger(dim) && dim >= 1 && Number.isInteger(numClasses) &&
        numClasses >= 2)
    ) {
      throw new RangeError(
        `ClassifierCurvature: dim >= 1 and numClasses >= 2 required, got ${dim}, ${numClasses}`,
      );
    }
    if (features.length !== labels.length * dim || labels.length === 0) {
      throw new Error(
        `ClassifierCurvature: ${features.length} feature values for ${labels.length} labels of dim ${dim}`,
      );
    }
    if (theta.length !== (dim + 1) * numClasses) {
      throw new Error(
        `ClassifierCurvature: theta has ${theta.length} entries, expected ${
          (dim + 1) * numClasses
        }`,
      );
    }
    for (const l of labels) {
      if (!(l >= 0 && l < numClasses)) {
        throw new RangeError(
          `ClassifierCurvature: label ${l} outside [0, ${numClasses})`,
        );
      }
    }
    this.dim = dim;
    this.numClasses = numClasses;
    this.n = labels.length;
    this.size = (dim + 1) * numClasses;
    this.#f = features;
    this.#y = labels;
    this.#theta = Float64Array.from(theta);
    this.#z = this.#logits(this.#theta);
    this.#p = new Float64Array(this.#z.length);
    softmaxRows(this.#z, this.#p, this.n, numClasses);
  }

  /**
   * Builds the curvature from tensors: features [n, d], int labels [n] and a
   * classifier tree `{kernel, bias}`.
   */
  static fromTensors(
    features: tf.Tensor2D,
    labels: tf.Tensor1D,
    theta: Params,
  ): ClassifierCurvature {
    const [, d] = features.shape;
    const k = need(theta, "kernel");
    return new ClassifierCurvature(
      Float32Array.from(features.dataSync()),
      Int32Array.from(labels.dataSync()),
      classifierVector(theta),
      { dim: d, numClasses: k.shape[1] as number },
    );
  }

  #logits(theta: ArrayLike<number>): Float64Array {
    const { n, dim: d, numClasses: C } = this;
    const f = this.#f;
    const z = new Float64Array(n * C);
    for (let s = 0; s < n; s++) {
      const zo = s * C;
      for (let c = 0; c < C; c++) z[zo + c] = theta[d * C + c];
      for (let i = 0; i < d; i++) {
        const fi = f[s * d + i];
        if (fi === 0) continue;
        const to = i * C;
        for (let c = 0; c < C; c++) z[zo + c] += fi * theta[to + c];
      }
    }
    return z;
  }

  /** Logits at theta (or at `theta` given), row-major [n, C]. */
  logits(theta?: ArrayLike<number>): Float64Array {
    return theta ? this.#logits(this.#check(theta, "logits")) : this.#z.slice();
  }

  /** The labels (a copy). */
  labels(): Int32Array {
    return this.#y.slice();
  }

  /** Softmax probabilities at theta, row-major [n, C]. */
  probabilities(): Float64Array {
    return this.#p.slice();
  }

  #check(v: ArrayLike<number>, what: string): ArrayLike<number> {
    if (v.length !== this.size) {
      throw new Error(
        `ClassifierCurvature.${what}: vector has ${v.length} entries, expected ${this.size}`,
      );
    }
    return v;
  }

  /** Mean cross-entropy at theta, or at the classifier vector given. */
  loss(theta?: ArrayLike<number>): number {
    const z = theta ? this.#logits(this.#check(theta, "loss")) : this.#z;
    const C = this.numClasses;
    let total = 0;
    for (let s = 0; s < this.n; s++) {
      let m = -Infinity;
      for (let c = 0; c < C; c++) m = Math.max(m, z[s * C + c]);
      let e = 0;
      for (let c = 0; c < C; c++) e += Math.exp(z[s * C + c] - m);
      total += m + Math.log(e) - z[s * C + this.#y[s]];
    }
    return total / this.n;
  }

  /** Gradient of the mean cross-entropy at theta: (1/n) sum f~ (x) (p - onehot). */
  gradient(): Float64Array {
    const { n, dim: d, numClasses: C } = this;
    const g = new Float64Array(this.size);
    const r = new Float64Array(C);
    for (let s = 0; s < n; s++) {
      for (let c = 0; c < C; c++) r[c] = this.#p[s * C + c];
      r[this.#y[s]] -= 1;
      for (let i = 0; i < d; i++) {
        const fi = this.#f[s * d + i];
        if (fi === 0) continue;
        for (let c = 0; c < C; c++) g[i * C + c] += fi * r[c];
      }
      for (let c = 0; c < C; c++) g[d * C + c] += r[c];
    }
    for (let i = 0; i < g.length; i++) g[i] /= n;
    return g;
  }

  /**
   * `H v` with the exact Hessian at theta:
   * `(H v)[i, c] = (1/n) sum_s f~_i p_c (a_c - sum_c' p_c' a_c')`, `a = f~^T V`.
   */
  hvp(v: ArrayLike<number>): Float64Array {
    this.#check(v, "hvp");
    const { n, dim: d, numClasses: C } = this;
    const out = new Float64Array(this.size);
    const a = new Float64Array(C);
    for (let s = 0; s < n; s++) {
      this.#project(s, v, a);
      let pa = 0;
      for (let c = 0; c < C; c++) pa += this.#p[s * C + c] * a[c];
      for (let c = 0; c < C; c++) a[c] = this.#p[s * C + c] * (a[c] - pa);
      for (let i = 0; i < d; i++) {
        const fi = this.#f[s * d + i];
        if (fi === 0) continue;
        for (let c = 0; c < C; c++) out[i * C + c] += fi * a[c];
      }
      for (let c = 0; c < C; c++) out[d * C + c] += a[c];
    }
    for (let i = 0; i < out.length; i++) out[i] /= n;
    return out;
  }

  // a[c] = sum_i f~_i V[i, c] for example s.
  #project(s: number, v: ArrayLike<number>, a: Float64Array): void {
    const { dim: d, numClasses: C } = this;
    for (let c = 0; c < C; c++) a[c] = v[d * C + c];
    for (let i = 0; i < d; i++) {
      const fi = this.#f[s * d + i];
      if (fi === 0) continue;
      for (let c = 0; c < C; c++) a[c] += fi * v[i * C + c];
    }
  }

  /** `u^T H u` = (1/n) sum_s [sum_c p_c a_c^2 - (sum_c p_c a_c)^2], `a = f~^T U`. */
  quadraticForm(u: ArrayLike<number>): number {
    this.#check(u, "quadraticForm");
    const { n, numClasses: C } = this;
    const a = new Float64Array(C);
    let total = 0;
    for (let s = 0; s < n; s++) {
      this.#project(s, u, a);
      let m1 = 0, m2 = 0;
      for (let c = 0; c < C; c++) {
        const p = this.#p[s * C + c];
        m1 += p * a[c];
        m2 += p * a[c] * a[c];
      }
      total += m2 - m1 * m1;
    }
    return total / n;
  }

  /** The dense Hessian, row-major [size, size] (for small classifiers). */
  dense(): Float64Array {
    const { n, dim: d, numClasses: C, size } = this;
    const H = new Float64Array(size * size);
    const ft = new Float64Array(d + 1);
    const q = new Float64Array(C * C);
    for (let s = 0; s < n; s++) {
      for (let i = 0; i < d; i++) ft[i] = this.#f[s * d + i];
      ft[d] = 1;
      for (let c = 0; c < C; c++) {
        const pc = this.#p[s * C + c];
        for (let e = 0; e < C; e++) {
          q[c * C + e] = (c === e ? pc : 0) - pc * this.#p[s * C + e];
        }
      }
      for (let i = 0; i <= d; i++) {
        const fi = ft[i];
        if (fi === 0) continue;
        for (let j = 0; j <= d; j++) {
          const fij = fi * ft[j];
          if (fij === 0) continue;
          for (let c = 0; c < C; c++) {
            const row = (i * C + c) * size + j * C;
            for (let e = 0; e < C; e++) H[row + e] += fij * q[c * C + e];
          }
        }
      }
    }
    for (let i = 0; i < H.length; i++) H[i] /= n;
    return H;
  }
}

function softmaxRows(z: Float64Array, p: Float64Array, n: number, C: number) {
  for (let s = 0; s < n; s++) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, z[s * C + c]);
    let e = 0;
    for (let c = 0; c < C; c++) {
      p[s * C + c] = Math.exp(z[s * C + c] - m);
      e += p[s * C + c];
    }
    for (let c = 0; c < C; c++) p[s * C + c] /= e;
  }
}

/** One chunk for {@link classifierQuadraticForms}: features [n, d] (labels are not needed: H does not depend on them). */
export interface FeatureChunk {
  features: tf.Tensor2D;
}

/**
 * `u_k^T H_D u_k` for K directions at once, where H_D is the exact classifier
 * Hessian of the whole set streamed as `chunks` (weighted by chunk size).
 * Runs as tensor ops on the active backend: per chunk one [n, d+1] x
 * [d+1, K C] matMul. `directions` are classifier vectors (module ordering).
 * The caller owns (and disposes) the chunks' tensors.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import { ClassifierCurvature, classifierQuadraticForms } from "./classifier_hessian.ts";
 * const f = Float32Array.of(1, -1, 0.5, 2);
 * const theta = Float64Array.of(0.1, 0.2, -0.3, 0.4, 0, 0.1);
 * const u = Float64Array.of(1, 0, 0, 1, 0.5, 0);
 * const exact = new ClassifierCurvature(f, Int32Array.of(0, 1), theta, { dim: 2, numClasses: 2 }).quadraticForm(u);
 * const q = classifierQuadraticForms([{ features: tf.tensor2d(f, [2, 2]) }], theta, [u], { numClasses: 2 });
 * if (Math.abs(q[0] - exact) > 1e-5) throw new Error(`${q[0]} vs ${exact}`);
 * ```
 */
export function classifierQuadraticForms(
  chunks: Iterable<FeatureChunk>,
  theta: ArrayLike<number>,
  directions: ArrayLike<number>[],
  options: { numClasses: number },
): Float64Array {
  const C = options.numClasses;
  const K = directions.length;
  const size = theta.length;
  if (size % C !== 0) {
    throw new Error(
      `classifierQuadraticForms: theta has ${size} entries, not a multiple of ${C} classes`,
    );
  }
  const d1 = size / C;
  for (const u of directions) {
    if (u.length !== size) {
      throw new Error(
        `classifierQuadraticForms: a direction has ${u.length} entries, expected ${size}`,
      );
    }
  }
  const out = new Float64Array(K);
  if (K === 0) return out;
  // U_all[i, k C + c] = u_k[i C + c]
  const uAll = new Float32Array(d1 * K * C);
  for (let k = 0; k < K; k++) {
    const u = directions[k];
    for (let i = 0; i < d1; i++) {
      for (let c = 0; c < C; c++) uAll[i * K * C + k * C + c] = u[i * C + c];
    }
  }
  const thetaT = tf.tensor2d(Float32Array.from(theta), [d1, C]);
  const uT = tf.tensor2d(uAll, [d1, K * C]);
  let total = 0;
  try {
    for (const chunk of chunks) {
      const f = chunk.features;
      if (f.rank !== 2 || f.shape[1] !== d1 - 1) {
        throw new Error(
          `classifierQuadraticForms: features must be [n, ${
            d1 - 1
          }], got [${f.shape}]`,
        );
      }
      const n = f.shape[0];
      const sums = tf.tidy(() => {
        const ft = tf.concat([f, tf.ones([n, 1])], 1);
        const p = tf.reshape(tf.softmax(tf.matMul(ft, thetaT)), [n, 1, C]);
        const a = tf.reshape(tf.matMul(ft, uT), [n, K, C]);
        const m1 = tf.sum(tf.mul(p, a), 2, true);
        return tf.sum(tf.sum(tf.mul(p, tf.square(tf.sub(a, m1))), 2), 0);
      });
      const s = sums.dataSync();
      sums.dispose();
      for (let k = 0; k < K; k++) out[k] += s[k];
      total += n;
    }
  } finally {
    thetaT.dispose();
    uT.dispose();
  }
  if (total === 0) throw new Error("classifierQuadraticForms: no chunks given");
  for (let k = 0; k < K; k++) out[k] /= total;
  return out;
}
