/**
 * Test-only float64 computations for a linear softmax classifier on given
 * features, written by hand (no TensorFlow.js): logits, mean cross-entropy,
 * its gradient and Hessian, a power-iteration top eigenpair and a convex
 * 1-D minimiser. theta = kernel [d, C] row-major, then bias [C] (index
 * `i * C + c`, bias `d * C + c`), as `lib/analysis` flattens it.
 *
 * @module
 */
import type { Params } from "../../lib/tree.ts";
import { referenceMlp, type RefTree } from "./reference_nets.ts";
import { referenceCrossEntropy } from "./reference_nets.ts";

function host(t: Params): RefTree {
  return Object.fromEntries(
    Object.entries(t).map(([k, v]) => [k, v.dataSync()]),
  );
}

/**
 * Float64 features of the toy MLP (input 16, 4 classes) on a whole set, by
 * the reference network of `reference_nets.ts`.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../../lib/backend.ts";
 * await useBackend("cpu");
 * import { features64 } from "./classifier64.ts";
 * const params = { features: { "layer1.kernel": tf.ones([16, 1]), "layer1.bias": tf.tensor1d([-1]) },
 *   classifier: { kernel: tf.zeros([1, 4]), bias: tf.zeros([4]) } };
 * const f = features64([1], params, { x: new Float32Array(32).fill(0.125), n: 2 });
 * if (f.join() !== "1,1") throw new Error(f.join());
 * ```
 */
export function features64(
  hidden: number[],
  params: { features: Params; classifier: Params },
  set: { x: Float32Array; n: number },
): Float64Array {
  return referenceMlp({ inputDim: 16, hidden, numClasses: 4 }, {
    features: host(params.features),
    classifier: host(params.classifier),
    x: set.x,
    batch: set.n,
  }).features;
}

/**
 * Logits `f~^T theta` of examples `idx` of the row-major features `F`
 * ([n, d]); theta = kernel [d, C] row-major, then bias [C].
 *
 * @example
 * ```ts
 * import { logits64 } from "./classifier64.ts";
 * const z = logits64(Float64Array.of(2), [0], [3, 4, 1, -1], 1, 2);
 * if (z.join() !== "7,7") throw new Error(z.join());
 * ```
 */
export function logits64(
  F: Float64Array,
  idx: ArrayLike<number>,
  th: ArrayLike<number>,
  d: number,
  C: number,
) {
  const z = new Float64Array(idx.length * C);
  for (let b = 0; b < idx.length; b++) {
    for (let c = 0; c < C; c++) {
      let s = th[d * C + c];
      for (let i = 0; i < d; i++) s += F[idx[b] * d + i] * th[i * C + c];
      z[b * C + c] = s;
    }
  }
  return z;
}

/**
 * Mean cross-entropy of examples `idx` at theta (see {@link logits64}).
 *
 * @example
 * ```ts
 * import { loss64 } from "./classifier64.ts";
 * const l = loss64(Float64Array.of(1), Int32Array.of(0), [0], [0, 0, 0, 0], 1, 2);
 * if (Math.abs(l - Math.log(2)) > 1e-15) throw new Error(String(l));
 * ```
 */
export function loss64(
  F: Float64Array,
  y: Int32Array,
  idx: ArrayLike<number>,
  th: ArrayLike<number>,
  d: number,
  C: number,
) {
  return referenceCrossEntropy(
    logits64(F, idx, th, d, C),
    Array.from(idx, (i) => y[i]),
    C,
  );
}

function softmaxRow(z: Float64Array, b: number, C: number): number[] {
  const m = Math.max(...z.subarray(b * C, b * C + C));
  const e = Array.from(z.subarray(b * C, b * C + C), (v) => Math.exp(v - m));
  const s = e.reduce((a, v) => a + v, 0);
  return e.map((v) => v / s);
}

/**
 * Gradient of {@link loss64} w.r.t. theta: `(p - onehot) f~^T / batch`.
 *
 * @example
 * ```ts
 * import { grad64 } from "./classifier64.ts";
 * // p = (1/2, 1/2), label 0: dz = (-1/2, 1/2); f~ = (2, 1).
 * const g = grad64(Float64Array.of(2), Int32Array.of(0), [0], [0, 0, 0, 0], 1, 2);
 * if (g.join() !== "-1,1,-0.5,0.5") throw new Error(g.join());
 * ```
 */
export function grad64(
  F: Float64Array,
  y: Int32Array,
  idx: ArrayLike<number>,
  th: ArrayLike<number>,
  d: number,
  C: number,
) {
  const z = logits64(F, idx, th, d, C);
  const g = new Float64Array((d + 1) * C);
  for (let b = 0; b < idx.length; b++) {
    const p = softmaxRow(z, b, C);
    for (let c = 0; c < C; c++) {
      const r = (p[c] - (y[idx[b]] === c ? 1 : 0)) / idx.length;
      for (let i = 0; i < d; i++) g[i * C + c] += r * F[idx[b] * d + i];
      g[d * C + c] += r;
    }
  }
  return g;
}

/**
 * Hessian of the mean cross-entropy over all n examples w.r.t. theta:
 * `(1/n) sum (diag p - p p^T) (x) f~ f~^T`, as a dense [m, m] matrix,
 * m = (d + 1) C.
 *
 * @example
 * ```ts
 * import { hessian64 } from "./classifier64.ts";
 * // one example, f = 1, p = (1/2, 1/2): every block is [[1/4, -1/4], [-1/4, 1/4]].
 * const { H, m } = hessian64(Float64Array.of(1), 1, [0, 0, 0, 0], 1, 2);
 * if (m !== 4 || H[0] !== 0.25 || H[1] !== -0.25 || H[2] !== 0.25) throw new Error(H.join());
 * ```
 */
export function hessian64(
  F: Float64Array,
  n: number,
  th: ArrayLike<number>,
  d: number,
  C: number,
) {
  const idx = Array.from({ length: n }, (_, i) => i);
  const z = logits64(F, idx, th, d, C);
  const m = (d + 1) * C;
  const H = new Float64Array(m * m);
  for (let b = 0; b < n; b++) {
    const p = softmaxRow(z, b, C);
    const x = [...F.subarray(b * d, b * d + d), 1];
    for (let i = 0; i <= d; i++) {
      for (let j = 0; j <= d; j++) {
        const xx = x[i] * x[j] / n;
        for (let c = 0; c < C; c++) {
          for (let k = 0; k < C; k++) {
            const a = (c === k ? p[c] : 0) - p[c] * p[k];
            H[(i * C + c) * m + j * C + k] += a * xx;
          }
        }
      }
    }
  }
  return { H, m };
}

/**
 * Top eigenpair of a positive semi-definite [m, m] matrix by power
 * iteration (unit vector, arbitrary sign).
 *
 * @example
 * ```ts
 * import { topEigen } from "./classifier64.ts";
 * const r = topEigen(Float64Array.of(2, 1, 1, 2), 2);
 * if (Math.abs(r.value - 3) > 1e-9 || Math.abs(Math.abs(r.vector[0]) - Math.SQRT1_2) > 1e-6) throw new Error();
 * ```
 */
export function topEigen(
  H: Float64Array,
  m: number,
): { value: number; vector: Float64Array } {
  let v = new Float64Array(m).map((_, i) => 1 + Math.sin(i));
  let value = 0;
  for (let it = 0; it < 20000; it++) {
    const w = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let j = 0; j < m; j++) s += H[i * m + j] * v[j];
      w[i] = s;
    }
    const nw = Math.hypot(...w);
    const next = w.map((x) => x / nw);
    const change = Math.hypot(...next.map((x, i) => x - v[i]));
    v = next;
    value = nw;
    if (change < 1e-13) break;
  }
  return { value, vector: v };
}

/**
 * Minimiser of a convex `f` on [lo, hi] by golden-section search in
 * float64 (the ends included as candidates).
 *
 * @example
 * ```ts
 * import { argminConvex } from "./classifier64.ts";
 * if (Math.abs(argminConvex((t) => (t - 0.3) ** 2, -1, 1) - 0.3) > 1e-9) throw new Error();
 * if (argminConvex((t) => t, 0, 5) !== 0) throw new Error();
 * ```
 */
export function argminConvex(
  f: (t: number) => number,
  lo: number,
  hi: number,
): number {
  const r = (Math.sqrt(5) - 1) / 2;
  let a = lo, b = hi;
  for (let it = 0; it < 200 && b - a > 1e-13 * Math.max(1, Math.abs(b)); it++) {
    const c = b - r * (b - a), d = a + r * (b - a);
    if (f(c) <= f(d)) b = d;
    else a = c;
  }
  const x = (a + b) / 2;
  return [lo, x, hi].reduce((best, t) => (f(t) < f(best) ? t : best));
}
