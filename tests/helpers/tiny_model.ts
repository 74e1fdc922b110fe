/**
 * A tiny functional model for optimizer tests, plus an independent float64
 * JavaScript implementation of its loss for finite differences and
 * hand-computed updates.
 *
 * Model: `F_phi(x) = tanh(BN(x W + b))` (BN optional, PyTorch conventions of
 * `lib/models/model.ts`), `C_theta(f) = f K + c`.
 * phi = {`dense.kernel` [D, H], `dense.bias` [H], `bn.gamma` [H], `bn.beta` [H]},
 * theta = {`kernel` [H, C], `bias` [C]}, BN state {`bn.mean`, `bn.variance`}.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import {
  type ApplyOptions,
  BN_EPSILON,
  BN_MOMENTUM,
  type BnState,
  type Model,
  type ModelParams,
} from "../../lib/models/model.ts";
import type { Params } from "../../lib/tree.ts";
import type { Rng } from "../../lib/rng.ts";
import type { Batch } from "../../lib/data/batch.ts";

/** Sizes of {@link tinyModel}. */
export interface TinyOptions {
  inputDim?: number;
  hidden?: number;
  numClasses?: number;
  batchNorm?: boolean;
}

/**
 * The tiny model.
 *
 * @example
 * ```ts
 * import { useBackend } from "../../lib/backend.ts";
 * await useBackend("cpu");
 * import { tinyModel } from "./tiny_model.ts";
 * import { Rng } from "../../lib/rng.ts";
 * const m = tinyModel({ inputDim: 3, hidden: 4, numClasses: 2 });
 * const { params } = m.init(new Rng(0));
 * if (params.features["dense.kernel"].shape[1] !== 4) throw new Error();
 * ```
 */
export function tinyModel(options: TinyOptions = {}): Model {
  const D = options.inputDim ?? 3,
    H = options.hidden ?? 4,
    C = options.numClasses ?? 3;
  const useBn = options.batchNorm ?? true;
  const features = (
    phi: Params,
    state: BnState,
    x: tf.Tensor,
    opts: ApplyOptions,
  ): { features: tf.Tensor2D; state: BnState } => {
    let newState = state;
    const f = tf.tidy(() => {
      let h = tf.add(
        tf.matMul(x as tf.Tensor2D, phi["dense.kernel"] as tf.Tensor2D),
        phi["dense.bias"],
      );
      if (useBn) {
        let mean: tf.Tensor, variance: tf.Tensor;
        if (opts.train) {
          const m = tf.moments(h, 0);
          mean = m.mean;
          variance = m.variance;
          if (opts.updateStats) {
            const n = h.shape[0];
            const rm = tf.add(
              tf.mul(state["bn.mean"], 1 - BN_MOMENTUM),
              tf.mul(mean, BN_MOMENTUM),
            );
            const rv = tf.add(
              tf.mul(state["bn.variance"], 1 - BN_MOMENTUM),
              tf.mul(variance, BN_MOMENTUM * n / (n - 1)),
            );
            newState = { "bn.mean": tf.keep(rm), "bn.variance": tf.keep(rv) };
          }
        } else {
          mean = state["bn.mean"];
          variance = state["bn.variance"];
        }
        h = tf.add(
          tf.mul(
            tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, BN_EPSILON))),
            phi["bn.gamma"],
          ),
          phi["bn.beta"],
        );
      }
      return tf.tanh(h) as tf.Tensor2D;
    });
    return { features: f, state: newState };
  };
  const classify = (theta: Params, f: tf.Tensor2D): tf.Tensor2D =>
    tf.tidy(() =>
      tf.add(tf.matMul(f, theta.kernel as tf.Tensor2D), theta.bias)
    ) as tf.Tensor2D;
  return {
    name: `tiny-${D}-${H}-${C}${useBn ? "-bn" : ""}`,
    inputShape: [D],
    numClasses: C,
    featureDim: H,
    multiplyAdds: D * H + H * C,
    init(rng: Rng) {
      const phi: Params = {
        "dense.kernel": tf.tensor2d(
          rng.normalArray(D * H, 1 / Math.sqrt(D)),
          [D, H],
        ),
        "dense.bias": tf.tensor1d(rng.normalArray(H, 0.1)),
      };
      const state: BnState = {};
      if (useBn) {
        phi["bn.gamma"] = tf.tensor1d(rng.normalArray(H, 0.1, 1));
        phi["bn.beta"] = tf.tensor1d(rng.normalArray(H, 0.1));
        state["bn.mean"] = tf.zeros([H]);
        state["bn.variance"] = tf.ones([H]);
      }
      const theta: Params = {
        kernel: tf.tensor2d(rng.normalArray(H * C, 0.5), [H, C]),
        bias: tf.tensor1d(rng.normalArray(C, 0.1)),
      };
      return { params: { features: phi, classifier: theta }, state };
    },
    features,
    classify,
    apply(params: ModelParams, state: BnState, x: tf.Tensor, opts) {
      const r = features(params.features, state, x, opts);
      const logits = classify(params.classifier, r.features);
      return { logits, features: r.features, state: r.state };
    },
  };
}

/** Plain float64 copies of a tree's leaves. */
export type Arrays = Record<string, Float64Array>;

/**
 * Downloads a tree as float64 arrays.
 *
 * @example
 * ```ts
 * import { useBackend } from "../../lib/backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { toArrays } from "./tiny_model.ts";
 * if (toArrays({ w: tf.tensor1d([1.5]) }).w[0] !== 1.5) throw new Error();
 * ```
 */
export function toArrays(tree: Params): Arrays {
  const out: Arrays = {};
  for (const [k, v] of Object.entries(tree)) {
    out[k] = Float64Array.from(v.dataSync());
  }
  return out;
}

/** A random batch of `n` inputs and labels for the tiny model. */
export function tinyBatch(
  rng: Rng,
  n: number,
  inputDim = 3,
  numClasses = 3,
): Batch {
  const x = tf.tensor2d(rng.normalArray(n * inputDim), [n, inputDim]);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = rng.int(numClasses);
  return { x, y: tf.tensor1d(labels, "int32") };
}

/** The float64 features of the tiny model (BN: batch statistics, or running ones when `running` is given). */
export function tinyFeatures64(
  phi: Arrays,
  x: Float64Array,
  n: number,
  sizes: { D: number; H: number },
  running?: { mean: Float64Array; variance: Float64Array },
): Float64Array {
  const { D, H } = sizes;
  const h = new Float64Array(n * H);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < H; j++) {
      let s = phi["dense.bias"][j];
      for (let d = 0; d < D; d++) {
        s += x[i * D + d] * phi["dense.kernel"][d * H + j];
      }
      h[i * H + j] = s;
    }
  }
  if (phi["bn.gamma"]) {
    for (let j = 0; j < H; j++) {
      let mean: number, variance: number;
      if (running) {
        mean = running.mean[j];
        variance = running.variance[j];
      } else {
        mean = 0;
        for (let i = 0; i < n; i++) mean += h[i * H + j];
        mean /= n;
        variance = 0;
        for (let i = 0; i < n; i++) variance += (h[i * H + j] - mean) ** 2;
        variance /= n;
      }
      const inv = 1 / Math.sqrt(variance + BN_EPSILON);
      for (let i = 0; i < n; i++) {
        h[i * H + j] = (h[i * H + j] - mean) * inv * phi["bn.gamma"][j] +
          phi["bn.beta"][j];
      }
    }
  }
  return h.map(Math.tanh);
}

/** Float64 mean cross-entropy of `f K + c` for features [n, H]. */
export function linearLoss64(
  theta: Arrays,
  f: Float64Array,
  y: Int32Array,
  sizes: { H: number; C: number },
): number {
  const { H, C } = sizes, n = y.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const z = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      let s = theta.bias[c];
      for (let j = 0; j < H; j++) s += f[i * H + j] * theta.kernel[j * C + c];
      z[c] = s;
    }
    const m = Math.max(...z);
    let se = 0;
    for (const v of z) se += Math.exp(v - m);
    total += m + Math.log(se) - z[y[i]];
  }
  return total / n;
}

/** Float64 training loss of the tiny model with BN batch statistics. */
export function tinyLoss64(
  phi: Arrays,
  theta: Arrays,
  batch: { x: Float64Array; y: Int32Array },
  sizes: { D: number; H: number; C: number },
): number {
  const f = tinyFeatures64(phi, batch.x, batch.y.length, sizes);
  return linearLoss64(theta, f, batch.y, sizes);
}

/**
 * Central finite-difference gradient (float64) of `fn` w.r.t. every entry of
 * `tree` (which is perturbed in place and restored).
 */
export function finiteDifference(
  fn: () => number,
  tree: Arrays,
  h = 1e-5,
): Arrays {
  const out: Arrays = {};
  for (const [k, v] of Object.entries(tree)) {
    const g = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const old = v[i];
      v[i] = old + h;
      const fp = fn();
      v[i] = old - h;
      const fm = fn();
      v[i] = old;
      g[i] = (fp - fm) / (2 * h);
    }
    out[k] = g;
  }
  return out;
}

/** Copies a batch to float64 / int32 arrays. */
export function batchArrays(batch: Batch): { x: Float64Array; y: Int32Array } {
  return {
    x: Float64Array.from(batch.x.dataSync()),
    y: Int32Array.from(batch.y.dataSync()),
  };
}

/** Disposes a batch's tensors. */
export function disposeBatch(...batches: Batch[]): void {
  for (const b of batches) {
    b.x.dispose();
    b.y.dispose();
  }
}
