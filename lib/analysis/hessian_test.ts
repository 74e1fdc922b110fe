import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertThrows,
} from "@std/assert";
import { useBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import { softmaxCrossEntropy } from "../models/loss.ts";
import {
  type BlockObjective,
  denseHessian,
  flattenParams,
  hessianVectorProduct,
  hvpFiniteDifference,
  objectiveGradient,
  objectiveLoss,
  secondOrderCrossEntropy,
} from "./hessian.ts";
import { ClassifierCurvature, classifierVector } from "./classifier_hessian.ts";
import { lanczosTopK, symmetricEigen } from "./eigen.ts";
import { lossAlongDirection, lossOnPlane } from "./landscape.ts";

await useBackend("cpu");

// ---------- an independent float64 reference: small ReLU MLP ----------
const IN = 3, HID = 4, C = 3, N = 12;

function f32(rng: Rng, n: number, std: number): Float32Array {
  return rng.normalArray(n, std);
}

const rng = new Rng(2022);
const X = f32(rng, N * IN, 1);
const Y = Int32Array.from({ length: N }, () => rng.int(C));
const W1 = f32(rng, IN * HID, 0.8), B1 = f32(rng, HID, 0.3);
const W2 = f32(rng, HID * C, 0.8), B2 = f32(rng, C, 0.3);

/** Mean CE of the MLP in float64; parameters as one vector [W1, B1, W2, B2]. */
function refLoss(p: Float64Array, rows = [0, N]): number {
  let o = 0;
  const w1 = p.subarray(o, o += IN * HID), b1 = p.subarray(o, o += HID);
  const w2 = p.subarray(o, o += HID * C), b2 = p.subarray(o, o += C);
  let total = 0;
  for (let s = rows[0]; s < rows[1]; s++) {
    const h = new Float64Array(HID);
    for (let j = 0; j < HID; j++) {
      let a = b1[j];
      for (let i = 0; i < IN; i++) a += X[s * IN + i] * w1[i * HID + j];
      h[j] = Math.max(0, a);
    }
    const z = new Float64Array(C);
    let m = -Infinity;
    for (let c = 0; c < C; c++) {
      let a = b2[c];
      for (let j = 0; j < HID; j++) a += h[j] * w2[j * C + c];
      z[c] = a;
      m = Math.max(m, a);
    }
    let e = 0;
    for (let c = 0; c < C; c++) e += Math.exp(z[c] - m);
    total += m + Math.log(e) - z[Y[s]];
  }
  return total / (rows[1] - rows[0]);
}

/** Dense Hessian of `loss` by second central differences in float64. */
function fdHessian(
  loss: (p: Float64Array) => number,
  p0: Float64Array,
  idx: number[],
  h = 1e-4,
): Float64Array {
  const n = idx.length;
  const H = new Float64Array(n * n);
  const p = Float64Array.from(p0);
  const at = (i: number, si: number, j: number, sj: number) => {
    p.set(p0);
    p[idx[i]] += si * h;
    p[idx[j]] += sj * h;
    return loss(p);
  };
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = (at(i, 1, j, 1) - at(i, 1, j, -1) - at(i, -1, j, 1) +
        at(i, -1, j, -1)) / (4 * h * h);
      H[i * n + j] = H[j * n + i] = v;
    }
  }
  return H;
}

const P0 = Float64Array.from([...W1, ...B1, ...W2, ...B2]);

function mlpObjective(
  keys: string[],
  chunks: number[][] = [[0, N]],
): BlockObjective {
  const all: Record<string, tf.Tensor> = {
    w1: tf.tensor2d(W1, [IN, HID]),
    b1: tf.tensor1d(B1),
    w2: tf.tensor2d(W2, [HID, C]),
    b2: tf.tensor1d(B2),
  };
  const params: Record<string, tf.Tensor> = {};
  for (const k of keys) params[k] = all[k];
  return {
    params,
    chunks: chunks.map(([a, b]) => ({
      weight: (b - a) / N,
      loss: (blk: Record<string, tf.Tensor>) => {
        const p = { ...all, ...blk };
        const x = tf.tensor2d(X.subarray(a * IN, b * IN), [b - a, IN]);
        const y = tf.tensor1d(Y.subarray(a, b), "int32");
        const h = tf.relu(tf.add(tf.matMul(x, p.w1 as tf.Tensor2D), p.b1));
        const z = tf.add(
          tf.matMul(h, p.w2 as tf.Tensor2D),
          p.b2,
        ) as tf.Tensor2D;
        return secondOrderCrossEntropy(z, y);
      },
    })),
  };
}

const OFFSETS: Record<string, [number, number]> = {
  w1: [0, IN * HID],
  b1: [IN * HID, IN * HID + HID],
  w2: [IN * HID + HID, IN * HID + HID + HID * C],
  b2: [IN * HID + HID + HID * C, P0.length],
};
function indices(keys: string[]): number[] {
  const out: number[] = [];
  for (const k of keys) {
    for (let i = OFFSETS[k][0]; i < OFFSETS[k][1]; i++) out.push(i);
  }
  return out;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assertEquals(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
function matVec(H: Float64Array, v: ArrayLike<number>): Float64Array {
  const n = v.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += H[i * n + j] * v[j];
    out[i] = s;
  }
  return out;
}
function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
function cos(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

Deno.test("secondOrderCrossEntropy equals softmaxCrossEntropy", () => {
  const z = tf.tensor2d([[1, 2, 3], [50, -20, 0.5]]);
  const y = tf.tensor1d([2, 1], "int32");
  assertAlmostEquals(
    secondOrderCrossEntropy(z, y).dataSync()[0],
    softmaxCrossEntropy(z, y).dataSync()[0],
    1e-5,
  );
  assertThrows(
    () => secondOrderCrossEntropy(z, tf.tensor1d([0], "int32")),
    Error,
    "[1]",
  );
});

Deno.test("loss and gradient of an MLP block match float64 references", () => {
  const obj = mlpObjective(["w1", "b1", "w2", "b2"]);
  assertAlmostEquals(objectiveLoss(obj), refLoss(P0), 1e-5);
  const g = objectiveGradient(obj);
  const h = 1e-6;
  const ref = Array.from(P0, (_, i) => {
    const p = Float64Array.from(P0);
    p[i] += h;
    const lp = refLoss(p);
    p[i] -= 2 * h;
    return (lp - refLoss(p)) / (2 * h);
  });
  assert(
    maxAbsDiff(g, ref) < 1e-5 * Math.max(1, maxAbs(ref)),
    `${maxAbsDiff(g, ref)}`,
  );
});

Deno.test("double-backprop HVP and dense Hessian match second differences (every MLP block)", () => {
  for (const keys of [["w1", "b1"], ["w2", "b2"], ["w1", "b1", "w2", "b2"]]) {
    const obj = mlpObjective(keys);
    const ref = fdHessian(refLoss, P0, indices(keys));
    const H = denseHessian(obj);
    const scale = maxAbs(ref);
    assert(scale > 1e-3, `Hessian block ${keys} is trivially small`);
    const err = maxAbsDiff(H, ref) / scale;
    assert(err < 1e-4, `block ${keys}: dense Hessian rel. error ${err}`);
    // one random HVP against the reference matrix
    const v = new Rng(5).normalArray(indices(keys).length);
    const hv = hessianVectorProduct(obj, v);
    const hvErr = maxAbsDiff(hv, matVec(ref, v)) / maxAbs(matVec(ref, v));
    assert(hvErr < 1e-4, `block ${keys}: HVP rel. error ${hvErr}`);
    // finite differences of float32 gradients: a coarser cross-check
    const fd = hvpFiniteDifference(obj, v, { eps: 1e-2 });
    const fdErr = maxAbsDiff(fd, hv) / maxAbs(hv);
    assert(
      fdErr < 2e-2,
      `block ${keys}: finite-difference HVP rel. error ${fdErr}`,
    );
  }
});

Deno.test("chunked objectives equal the whole-set objective", () => {
  const whole = mlpObjective(["w1", "b1"]);
  const chunked = mlpObjective(["w1", "b1"], [[0, 5], [5, 12]]);
  assertAlmostEquals(objectiveLoss(chunked), objectiveLoss(whole), 1e-6);
  const v = new Rng(9).normalArray(IN * HID + HID);
  assert(
    maxAbsDiff(
      hessianVectorProduct(chunked, v),
      hessianVectorProduct(whole, v),
    ) < 1e-5,
  );
  // a chunk's own loss differs from the whole set's (the weights matter)
  assert(Math.abs(refLoss(P0, [0, 5]) - refLoss(P0)) > 1e-3);
});

Deno.test("exact classifier Hessian equals second differences and double backprop", () => {
  const d = 4, Cc = 3, n = 10;
  const r = new Rng(11);
  const feats = r.normalArray(n * d);
  const labels = Int32Array.from({ length: n }, () => r.int(Cc));
  const theta = {
    kernel: tf.tensor2d(r.normalArray(d * Cc, 0.7), [d, Cc]),
    bias: tf.tensor1d(r.normalArray(Cc, 0.5)),
  };
  const tv = classifierVector(theta);
  const cc = new ClassifierCurvature(feats, labels, tv, {
    dim: d,
    numClasses: Cc,
  });
  // independent float64 loss of theta
  const ref = (p: Float64Array) => {
    let total = 0;
    for (let s = 0; s < n; s++) {
      const z = Array.from({ length: Cc }, (_, c) => {
        let a = p[d * Cc + c];
        for (let i = 0; i < d; i++) a += feats[s * d + i] * p[i * Cc + c];
        return a;
      });
      const m = Math.max(...z);
      total += m + Math.log(z.reduce((e, zc) => e + Math.exp(zc - m), 0)) -
        z[labels[s]];
    }
    return total / n;
  };
  assertAlmostEquals(cc.loss(), ref(tv), 1e-12);
  const Hfd = fdHessian(ref, tv, Array.from(tv, (_, i) => i));
  const H = cc.dense();
  assert(maxAbsDiff(H, Hfd) < 1e-6, `dense vs FD ${maxAbsDiff(H, Hfd)}`);
  const u = new Rng(3).normalArray(tv.length);
  assert(maxAbsDiff(cc.hvp(u), matVec(Hfd, u)) < 1e-6);
  const Hu = matVec(H, u);
  let uHu = 0;
  for (let i = 0; i < u.length; i++) uHu += u[i] * Hu[i];
  assertAlmostEquals(cc.quadraticForm(u), uHu, 1e-9 * Math.abs(uHu));
  // gradient against central differences
  const g = cc.gradient();
  for (let i = 0; i < tv.length; i++) {
    const p = Float64Array.from(tv);
    p[i] += 1e-6;
    const lp = ref(p);
    p[i] -= 2e-6;
    assertAlmostEquals(g[i], (lp - ref(p)) / 2e-6, 1e-7);
  }
  // the generic double-backprop path on the same classifier
  const obj: BlockObjective = {
    params: theta,
    chunks: [{
      weight: 1,
      loss: (t) =>
        secondOrderCrossEntropy(
          tf.add(
            tf.matMul(tf.tensor2d(feats, [n, d]), t.kernel as tf.Tensor2D),
            t.bias,
          ) as tf.Tensor2D,
          tf.tensor1d(labels, "int32"),
        ),
    }],
  };
  assertEquals(Array.from(flattenParams(theta)), Array.from(tv));
  const hvErr = maxAbsDiff(hessianVectorProduct(obj, u), cc.hvp(u)) /
    maxAbs(cc.hvp(u));
  assert(hvErr < 1e-4, `double backprop vs exact: ${hvErr}`);
});

Deno.test("Lanczos top-k and Jacobi match an independently computed dense Hessian", () => {
  const keys = ["w1", "b1", "w2", "b2"];
  const ref = fdHessian(refLoss, P0, indices(keys));
  const n = indices(keys).length;
  const dense = symmetricEigen(ref, n);
  // Jacobi: A v = lambda v, orthonormal, trace preserved
  let trace = 0;
  for (let i = 0; i < n; i++) trace += ref[i * n + i];
  assertAlmostEquals(
    dense.values.reduce((a, b) => a + b, 0),
    trace,
    1e-9 * Math.max(1, Math.abs(trace)),
  );
  for (let k = 0; k < n; k += 7) {
    const Av = matVec(ref, dense.vectors[k]);
    assert(
      maxAbsDiff(Av, dense.vectors[k].map((x) => x * dense.values[k])) < 1e-9,
    );
    // unit norm (the eigen-equation above holds at any scale) and orthogonal
    assertAlmostEquals(dot(dense.vectors[k], dense.vectors[k]), 1, 1e-12);
    if (k > 0) assert(Math.abs(dot(dense.vectors[0], dense.vectors[k])) < 1e-9);
  }
  const obj = mlpObjective(keys);
  const k = 3;
  const lz = lanczosTopK((v) => hessianVectorProduct(obj, v), n, {
    k,
    rng: new Rng(1),
  });
  for (let i = 0; i < k; i++) {
    const rel = Math.abs(lz.values[i] - dense.values[i]) /
      Math.abs(dense.values[i]);
    assert(
      rel < 1e-3,
      `eigenvalue ${i}: ${lz.values[i]} vs ${dense.values[i]}`,
    );
    const c = Math.abs(cos(lz.vectors[i], dense.vectors[i]));
    assert(c >= 0.999, `eigenvector ${i}: |cos| = ${c}`);
    // Lanczos' own vector: unit norm, and H v = lambda v with the
    // independently computed Hessian.
    const v = lz.vectors[i];
    assertAlmostEquals(dot(v, v), 1, 1e-9, `eigenvector ${i} norm`);
    const resid = maxAbsDiff(matVec(ref, v), v.map((x) => x * lz.values[i]));
    assert(
      resid < 1e-3 * Math.abs(dense.values[0]),
      `eigenvector ${i}: |H v - lambda v| = ${resid}`,
    );
  }
  assertThrows(
    () => lanczosTopK((v) => v, 3, { k: 4, rng: new Rng(1) }),
    RangeError,
    "got 4",
  );
});

Deno.test("loss along a direction and on a plane use params + t d", () => {
  const obj = mlpObjective(["w2", "b2"]);
  const idx = indices(["w2", "b2"]);
  const d = new Rng(4).normalArray(idx.length, 0.3);
  const pts = lossAlongDirection(obj, d, [-1, 0, 0.5]);
  for (const { t, loss } of pts) {
    const p = Float64Array.from(P0);
    idx.forEach((j, i) => (p[j] += t * d[i]));
    assertAlmostEquals(loss, refLoss(p), 1e-5);
  }
  const d2 = new Rng(6).normalArray(idx.length, 0.3);
  const g = lossOnPlane(obj, d, d2, [0, 1], [-1, 2]);
  const p = Float64Array.from(P0);
  idx.forEach((j, i) => (p[j] += 1 * d[i] + 2 * d2[i]));
  assertAlmostEquals(g.loss[1][1], refLoss(p), 1e-5);
  assertThrows(
    () => lossAlongDirection(obj, [1, 2], [0]),
    Error,
    "has 2 entries",
  );
});
