/**
 * Eigenpairs of symmetric operators, in float64.
 *
 * - {@link symmetricEigen}: every eigenpair of a small dense symmetric matrix
 *   (cyclic Jacobi rotations; exact to rounding, O(n^3) per sweep).
 * - {@link lanczosTopK}: the top-k (largest algebraic) eigenpairs of an
 *   operator given only as a matrix-vector product (Hessian-vector products),
 *   by Lanczos with full reorthogonalisation; the small tridiagonal matrix is
 *   solved with {@link symmetricEigen}.
 *
 * Eigenvectors are unit-norm with a deterministic sign (largest-magnitude
 * entry positive).
 *
 * @module
 */
import type { Rng } from "../rng.ts";

/** Eigenpairs sorted by eigenvalue, largest first. */
export interface EigenPairs {
  /** Eigenvalues, descending. */
  values: number[];
  /** Unit eigenvectors, `vectors[k]` belongs to `values[k]`. */
  vectors: Float64Array[];
}

function fixSign(v: Float64Array): Float64Array {
  let best = 0;
  for (let i = 1; i < v.length; i++) {
    if (Math.abs(v[i]) > Math.abs(v[best])) best = i;
  }
  if (v[best] < 0) { for (let i = 0; i < v.length; i++) v[i] = -v[i]; }
  return v;
}

/**
 * All eigenpairs of the symmetric matrix `a` (row-major [n, n]; only
 * symmetric input is meaningful), by cyclic Jacobi rotations.
 *
 * @example
 * ```ts
 * import { symmetricEigen } from "./eigen.ts";
 * const { values, vectors } = symmetricEigen(Float64Array.of(2, 1, 1, 2), 2);
 * if (Math.abs(values[0] - 3) > 1e-12 || Math.abs(values[1] - 1) > 1e-12) throw new Error();
 * if (Math.abs(vectors[0][0] - Math.SQRT1_2) > 1e-12) throw new Error();
 * ```
 */
export function symmetricEigen(
  a: ArrayLike<number>,
  n: number,
  options: { maxSweeps?: number } = {},
): EigenPairs {
  if (!Number.isInteger(n) || n < 1 || a.length !== n * n) {
    throw new Error(
      `symmetricEigen: need an n x n matrix, got ${a.length} entries for n = ${n}`,
    );
  }
  const A = Float64Array.from(a);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  const maxSweeps = options.maxSweeps ?? 100;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale = Math.max(scale, Math.abs(A[i]));
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) off += A[p * n + q] * A[p * n + q];
    }
    if (off <= (1e-30 * scale * scale) || scale === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const app = A[p * n + p], aqq = A[q * n + q];
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) /
          (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p], akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k], aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        A[p * n + q] = 0;
        A[q * n + p] = 0;
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p], vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i)
    .sort((i, j) => A[j * n + j] - A[i * n + i]);
  return {
    values: order.map((i) => A[i * n + i]),
    vectors: order.map((j) => {
      const v = new Float64Array(n);
      for (let i = 0; i < n; i++) v[i] = V[i * n + j];
      return fixSign(v);
    }),
  };
}

/** Options of {@link lanczosTopK}. */
export interface LanczosOptions {
  /** Number of eigenpairs wanted (default 1). */
  k?: number;
  /** Krylov steps (default min(dim, max(2k + 20, 40))). */
  steps?: number;
  /** Draws the random start vector. */
  rng: Rng;
  /** Stop early once the top-k residual estimates |beta_m s_m| fall below tol * |lambda_1| (default 1e-10). */
  tol?: number;
}

/** {@link EigenPairs} plus Lanczos diagnostics. */
export interface LanczosResult extends EigenPairs {
  /** Residual estimates `||A v - lambda v||` of the returned pairs. */
  residuals: number[];
  /** Matrix-vector products used. */
  products: number;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * The top-k eigenpairs (largest eigenvalues) of the symmetric operator
 * `matvec` on R^dim, by Lanczos with full reorthogonalisation (twice,
 * classical Gram-Schmidt) against every previous Lanczos vector.
 *
 * @example
 * ```ts
 * import { Rng } from "../rng.ts";
 * import { lanczosTopK } from "./eigen.ts";
 * const d = [5, 3, 1, 0.5, -2];
 * const r = lanczosTopK((v) => Float64Array.from(v, (x, i) => d[i] * x), 5, { k: 2, rng: new Rng(1) });
 * if (Math.abs(r.values[0] - 5) > 1e-9 || Math.abs(r.values[1] - 3) > 1e-9) throw new Error(String(r.values));
 * ```
 */
export function lanczosTopK(
  matvec: (v: Float64Array) => ArrayLike<number>,
  dim: number,
  options: LanczosOptions,
): LanczosResult {
  const k = options.k ?? 1;
  if (!Number.isInteger(dim) || dim < 1) {
    throw new RangeError(
      `lanczosTopK: dim must be a positive integer, got ${dim}`,
    );
  }
  if (!Number.isInteger(k) || k < 1 || k > dim) {
    throw new RangeError(
      `lanczosTopK: k must be an integer in [1, ${dim}], got ${k}`,
    );
  }
  const steps = Math.min(dim, options.steps ?? Math.max(2 * k + 20, 40));
  if (!Number.isInteger(steps) || steps < k) {
    throw new RangeError(
      `lanczosTopK: steps must be an integer >= k = ${k}, got ${steps}`,
    );
  }
  const tol = options.tol ?? 1e-10;
  const Q: Float64Array[] = [];
  const alpha: number[] = [];
  const beta: number[] = [];
  let q = new Float64Array(dim);
  for (let i = 0; i < dim; i++) q[i] = options.rng.normal();
  const nq = Math.sqrt(dot(q, q));
  for (let i = 0; i < dim; i++) q[i] /= nq;
  let products = 0;
  let T: EigenPairs | null = null;
  for (let j = 0; j < steps; j++) {
    Q.push(q);
    const w = Float64Array.from(matvec(q));
    products++;
    if (w.length !== dim) {
      throw new Error(
        `lanczosTopK: matvec returned ${w.length} entries, expected ${dim}`,
      );
    }
    const a = dot(w, q);
    alpha.push(a);
    for (let pass = 0; pass < 2; pass++) {
      for (const qi of Q) {
        const c = dot(w, qi);
        for (let i = 0; i < dim; i++) w[i] -= c * qi[i];
      }
    }
    const b = Math.sqrt(dot(w, w));
    const m = alpha.length;
    // Ritz values of the current tridiagonal matrix, for the stopping test.
    const Tm = new Float64Array(m * m);
    for (let i = 0; i < m; i++) {
      Tm[i * m + i] = alpha[i];
      if (i + 1 < m) Tm[i * m + i + 1] = Tm[(i + 1) * m + i] = beta[i];
    }
    T = symmetricEigen(Tm, m);
    const kk = Math.min(k, m);
    let converged = m >= k;
    for (let r = 0; r < kk && converged; r++) {
      const res = Math.abs(b * T.vectors[r][m - 1]);
      if (res > tol * Math.max(Math.abs(T.values[0]), 1e-300)) {
        converged = false;
      }
    }
    if (
      converged || b < 1e-12 * Math.max(Math.abs(T.values[0]), 1e-300) ||
      m === steps
    ) {
      const residuals = T.values.slice(0, k).map((_, r) =>
        Math.abs(b * T!.vectors[r][m - 1])
      );
      if (m < k) {
        throw new Error(
          `lanczosTopK: the Krylov space closed at dimension ${m} < k = ${k} (start vector deficient)`,
        );
      }
      const vectors = T.vectors.slice(0, k).map((s) => {
        const v = new Float64Array(dim);
        for (let i = 0; i < m; i++) {
          const si = s[i];
          for (let t = 0; t < dim; t++) v[t] += si * Q[i][t];
        }
        const nv = Math.sqrt(dot(v, v));
        for (let t = 0; t < dim; t++) v[t] /= nv;
        return fixSign(v);
      });
      return { values: T.values.slice(0, k), vectors, residuals, products };
    }
    beta.push(b);
    q = new Float64Array(dim);
    for (let i = 0; i < dim; i++) q[i] = w[i] / b;
  }
  throw new Error("lanczosTopK: unreachable");
}
