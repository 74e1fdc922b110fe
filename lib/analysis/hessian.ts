/**
 * Hessian-vector products for any parameter block of a model.
 *
 * A block is a flat parameter tree (`Params`); vectors over a block are
 * `Float64Array`s in the block's *flattening order*: the keys in the record's
 * order, each tensor row-major (see {@link flattenParams}). The loss is a
 * {@link BlockObjective}: a weighted sum of chunk losses, so a whole dataset
 * can be processed in chunks without holding it in memory as tensors (each
 * chunk builds its tensors inside the loss function and they are freed after).
 *
 * Products are computed by double backpropagation (`tf.grads` of a
 * gradient-vector product). TensorFlow.js 4.22 cannot differentiate a second
 * time through kernels whose gradient reads their *saved output* (`Exp`,
 * `Tanh`, `Sigmoid`, `Softmax`, `LogSoftmax`): the tape loses the link and
 * `tf.grad` reports "Cannot compute gradient". Losses used here must therefore
 * be written with {@link secondOrderCrossEntropy} (whose exponential
 * re-computes its derivative from its input) and ReLU/linear layers; the
 * finite-difference product {@link hvpFiniteDifference} is the cross-check and
 * the fallback for anything else.
 *
 * Gradient kernels must be registered (tfjs-core alone registers none):
 * importing this module imports `lib/models/layers.ts`, which does it.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { Params } from "../tree.ts";
import type {
  ApplyOptions,
  BnState,
  Model,
  ModelParams,
} from "../models/model.ts";
// Side effect: registers TensorFlow.js's gradient functions.
import "../models/layers.ts";

/** One chunk of an objective: `weight * loss(block)` is its contribution. */
export interface ObjectiveChunk {
  /** Weight of this chunk (for a dataset mean: chunk size / dataset size). */
  weight: number;
  /** The chunk's loss as a differentiable function of the block. */
  loss: (block: Params) => tf.Scalar;
}

/** A loss as a function of one parameter block: `sum_c weight_c * loss_c(block)`. */
export interface BlockObjective {
  /** The block's parameters at which derivatives are taken (not disposed here). */
  params: Params;
  chunks: ObjectiveChunk[];
}

/** Number of scalar entries of a block. */
export function blockSize(p: Params): number {
  let n = 0;
  for (const k of Object.keys(p)) n += p[k].size;
  return n;
}

/**
 * A block's values as one float64 vector (keys in record order, row-major).
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import { flattenParams } from "./hessian.ts";
 * const v = flattenParams({ w: tf.tensor2d([[1, 2], [3, 4]]), b: tf.tensor1d([5]) });
 * if (v.join() !== "1,2,3,4,5") throw new Error(v.join());
 * ```
 */
export function flattenParams(p: Params): Float64Array {
  const out = new Float64Array(blockSize(p));
  let o = 0;
  for (const k of Object.keys(p)) {
    const d = p[k].dataSync();
    for (let i = 0; i < d.length; i++) out[o + i] = d[i];
    o += d.length;
  }
  return out;
}

/**
 * The inverse of {@link flattenParams}: float32 tensors shaped like `like`.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import { unflattenLike } from "./hessian.ts";
 * const t = unflattenLike(Float64Array.of(1, 2, 3), { a: tf.zeros([2]), b: tf.zeros([1]) });
 * if (t.b.dataSync()[0] !== 3) throw new Error();
 * ```
 */
export function unflattenLike(v: ArrayLike<number>, like: Params): Params {
  const n = blockSize(like);
  if (v.length !== n) {
    throw new Error(
      `unflattenLike: vector has ${v.length} entries, the block has ${n}`,
    );
  }
  const out: Params = {};
  let o = 0;
  for (const k of Object.keys(like)) {
    const t = like[k];
    const d = new Float32Array(t.size);
    for (let i = 0; i < t.size; i++) d[i] = v[o + i];
    out[k] = tf.tensor(d, t.shape, "float32");
    o += t.size;
  }
  return out;
}

/** `params + t * dir` as new tensors (dir in flattening order). */
export function offsetParams(
  params: Params,
  dir: ArrayLike<number>,
  t: number,
): Params {
  const base = flattenParams(params);
  if (dir.length !== base.length) {
    throw new Error(
      `offsetParams: direction has ${dir.length} entries, the block has ${base.length}`,
    );
  }
  for (let i = 0; i < base.length; i++) base[i] += t * dir[i];
  return unflattenLike(base, params);
}

// exp whose derivative is recomputed from the input, so any order works.
const expSO: (x: tf.Tensor) => tf.Tensor = tf.customGrad(
  ((x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x]);
    return {
      value: tf.exp(x),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.mul(dy as tf.Tensor, expSO(saved[0])),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0],
) as unknown as (x: tf.Tensor) => tf.Tensor;

// row max treated as a constant (zero derivative).
const rowMaxNoGrad: (x: tf.Tensor) => tf.Tensor = tf.customGrad(
  ((x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x]);
    return {
      value: tf.max(x, 1, true),
      gradFunc: (_dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.zerosLike(saved[0]),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0],
) as unknown as (x: tf.Tensor) => tf.Tensor;

/**
 * Mean softmax cross-entropy that can be differentiated to any order on every
 * backend (the value equals `softmaxCrossEntropy` of `lib/models/loss.ts`).
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import { secondOrderCrossEntropy } from "./hessian.ts";
 * const l = secondOrderCrossEntropy(tf.tensor2d([[0, 0]]), tf.tensor1d([1], "int32"));
 * if (Math.abs(l.dataSync()[0] - Math.log(2)) > 1e-6) throw new Error();
 * ```
 */
export function secondOrderCrossEntropy(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
): tf.Scalar {
  if (
    logits.rank !== 2 || labels.rank !== 1 ||
    labels.shape[0] !== logits.shape[0]
  ) {
    throw new Error(
      `secondOrderCrossEntropy: logits must be [n, C] and labels [n], got [${logits.shape}] and [${labels.shape}]`,
    );
  }
  return tf.tidy(() => {
    const m = rowMaxNoGrad(logits);
    const shifted = tf.sub(logits, m);
    const lse = tf.log(tf.sum(expSO(shifted), 1));
    const onehot = tf.oneHot(tf.cast(labels, "int32"), logits.shape[1]);
    const zy = tf.sum(tf.mul(onehot, shifted), 1);
    return tf.mean(tf.sub(lse, zy)) as tf.Scalar;
  });
}

function gradsAllowNull(
  f: () => tf.Scalar,
  xs: tf.Tensor[],
): tf.Tensor[] {
  const { value, grads } = tf.engine().gradients(
    f,
    xs,
    undefined,
    true,
  );
  value.dispose();
  return xs.map((x, i) => (grads[i] ?? tf.zerosLike(x)) as tf.Tensor);
}

function rebuild(keys: string[], xs: tf.Tensor[]): Params {
  const p: Params = {};
  keys.forEach((k, i) => (p[k] = xs[i]));
  return p;
}

function checkVector(v: ArrayLike<number>, n: number, what: string): void {
  if (v.length !== n) {
    throw new Error(
      `${what}: vector has ${v.length} entries, the block has ${n}`,
    );
  }
}

/**
 * The objective's value at `block` (default: its own parameters), accumulated
 * in float64 over the chunks.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import { objectiveLoss } from "./hessian.ts";
 * const obj = { params: { w: tf.tensor1d([3]) },
 *   chunks: [{ weight: 0.5, loss: (p: Record<string, tf.Tensor>) => tf.sum(tf.square(p.w)) as tf.Scalar }] };
 * if (objectiveLoss(obj) !== 4.5) throw new Error();
 * ```
 */
export function objectiveLoss(obj: BlockObjective, block?: Params): number {
  const p = block ?? obj.params;
  let total = 0;
  for (const c of obj.chunks) {
    total += c.weight * tf.tidy(() => c.loss(p)).arraySync() as number;
  }
  return total;
}

/**
 * The gradient of the objective at `block` (default: its own parameters), as
 * a float64 vector in flattening order.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import { objectiveGradient } from "./hessian.ts";
 * const obj = { params: { w: tf.tensor1d([3]) },
 *   chunks: [{ weight: 1, loss: (p: Record<string, tf.Tensor>) => tf.sum(tf.square(p.w)) as tf.Scalar }] };
 * if (objectiveGradient(obj)[0] !== 6) throw new Error();
 * ```
 */
export function objectiveGradient(
  obj: BlockObjective,
  block?: Params,
): Float64Array {
  const p = block ?? obj.params;
  const keys = Object.keys(p);
  const xs = keys.map((k) => p[k]);
  const out = new Float64Array(blockSize(p));
  for (const c of obj.chunks) {
    const flat = tf.tidy(() => {
      const gs = gradsAllowNull(() => c.loss(rebuild(keys, xs)), xs);
      return tf.concat(gs.map((g) => tf.reshape(g, [-1])));
    });
    const d = flat.dataSync();
    flat.dispose();
    for (let i = 0; i < d.length; i++) out[i] += c.weight * d[i];
  }
  return out;
}

/**
 * Hessian-vector product `H v` of the objective at its parameters, by double
 * backpropagation, accumulated in float64 over the chunks.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import { hessianVectorProduct } from "./hessian.ts";
 * // L(w) = w0^2 w1  => H = [[2 w1, 2 w0], [2 w0, 0]]; at w = (1, 2): H e0 = (4, 2)
 * const obj = { params: { w: tf.tensor1d([1, 2]) }, chunks: [{ weight: 1,
 *   loss: (p: Record<string, tf.Tensor>) =>
 *     tf.sum(tf.mul(tf.square(tf.slice(p.w, 0, 1)), tf.slice(p.w, 1, 1))) as tf.Scalar }] };
 * const hv = hessianVectorProduct(obj, Float64Array.of(1, 0));
 * if (Math.abs(hv[0] - 4) > 1e-5 || Math.abs(hv[1] - 2) > 1e-5) throw new Error(String(hv));
 * ```
 */
export function hessianVectorProduct(
  obj: BlockObjective,
  v: ArrayLike<number>,
): Float64Array {
  const p = obj.params;
  const keys = Object.keys(p);
  const n = blockSize(p);
  checkVector(v, n, "hessianVectorProduct");
  const xs = keys.map((k) => p[k]);
  const out = new Float64Array(n);
  const vt = unflattenLike(v, p);
  const vs = keys.map((k) => vt[k]);
  try {
    for (const c of obj.chunks) {
      const flat = tf.tidy(() => {
        const hv = gradsAllowNull(() => {
          const gs = gradsAllowNull(() => c.loss(rebuild(keys, xs)), xs);
          return tf.addN(
            gs.map((g, i) => tf.sum(tf.mul(g, vs[i]))),
          ) as tf.Scalar;
        }, xs);
        return tf.concat(hv.map((h) => tf.reshape(h, [-1])));
      });
      const d = flat.dataSync();
      flat.dispose();
      for (let i = 0; i < n; i++) out[i] += c.weight * d[i];
    }
  } finally {
    for (const t of vs) t.dispose();
  }
  return out;
}

/**
 * Hessian-vector product by central differences of gradients,
 * `(g(w + eps v) - g(w - eps v)) / (2 eps)`: the cross-check of
 * {@link hessianVectorProduct}. The step is `eps` in parameter units for a
 * unit-norm `v` (default 1e-3, scaled by `1 / ||v||`); the error is
 * O(eps^2) plus float32 rounding of the gradients (~1e-7 / eps relative).
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import { hvpFiniteDifference } from "./hessian.ts";
 * const obj = { params: { w: tf.tensor1d([1, 2]) },
 *   chunks: [{ weight: 1, loss: (p: Record<string, tf.Tensor>) => tf.sum(tf.square(p.w)) as tf.Scalar }] };
 * const hv = hvpFiniteDifference(obj, Float64Array.of(0, 1));
 * if (Math.abs(hv[1] - 2) > 1e-2 || Math.abs(hv[0]) > 1e-2) throw new Error(String(hv));
 * ```
 */
export function hvpFiniteDifference(
  obj: BlockObjective,
  v: ArrayLike<number>,
  options: { eps?: number } = {},
): Float64Array {
  const n = blockSize(obj.params);
  checkVector(v, n, "hvpFiniteDifference");
  let norm = 0;
  for (let i = 0; i < n; i++) norm += v[i] * v[i];
  norm = Math.sqrt(norm);
  const out = new Float64Array(n);
  if (norm === 0) return out;
  const eps = (options.eps ?? 1e-3) / norm;
  const plus = offsetParams(obj.params, v, eps);
  const minus = offsetParams(obj.params, v, -eps);
  try {
    const gp = objectiveGradient(obj, plus);
    const gm = objectiveGradient(obj, minus);
    for (let i = 0; i < n; i++) out[i] = (gp[i] - gm[i]) / (2 * eps);
  } finally {
    for (const t of [...Object.values(plus), ...Object.values(minus)]) {
      t.dispose();
    }
  }
  return out;
}

/**
 * The dense Hessian of a (small) block, `n` products with unit vectors,
 * symmetrised; row-major [n, n] in flattening order.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import { denseHessian } from "./hessian.ts";
 * const obj = { params: { w: tf.tensor1d([1, 2]) },
 *   chunks: [{ weight: 1, loss: (p: Record<string, tf.Tensor>) => tf.sum(tf.mul(tf.square(p.w), tf.tensor1d([1, 3]))) as tf.Scalar }] };
 * const h = denseHessian(obj);
 * if (Math.abs(h[0] - 2) > 1e-5 || Math.abs(h[3] - 6) > 1e-5 || h[1] !== 0) throw new Error(String(h));
 * ```
 */
export function denseHessian(
  obj: BlockObjective,
  options: { method?: "double-backprop" | "finite-difference" } = {},
): Float64Array {
  const n = blockSize(obj.params);
  const h = new Float64Array(n * n);
  const e = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    e.fill(0);
    e[j] = 1;
    const col = options.method === "finite-difference"
      ? hvpFiniteDifference(obj, e)
      : hessianVectorProduct(obj, e);
    for (let i = 0; i < n; i++) h[i * n + j] = col[i];
  }
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = 0.5 * (h[i * n + j] + h[j * n + i]);
      h[i * n + j] = s;
      h[j * n + i] = s;
    }
  }
  return h;
}

/** Examples held as arrays (row-major x), e.g. `ToyDataset` or `ArrayDataset`. */
export interface ArraySet {
  x: Float32Array;
  y: Int32Array;
  n: number;
  /** Shape of one example. */
  inputShape: number[];
}

/** Options of {@link modelBlockObjective}. */
export interface ModelBlockOptions {
  /** The parameter group the block belongs to. */
  group: "features" | "classifier";
  /** Keys of the block within the group (default: the whole group). */
  keys?: string[];
  /** Examples per chunk (default 2048). */
  chunkSize?: number;
  /** BatchNorm mode of the forward passes (default `{train: false}`). */
  bn?: ApplyOptions;
}

/**
 * The mean cross-entropy of `model` on `set` as a {@link BlockObjective} of
 * one parameter block (any keys of phi or theta; every other parameter and
 * the BatchNorm state fixed). Chunks build their tensors on demand, so a
 * whole dataset is never held as tensors.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * import { Rng } from "../rng.ts";
 * import { mlp } from "../models/mlp.ts";
 * import { hessianVectorProduct, modelBlockObjective } from "./hessian.ts";
 * await useBackend("cpu");
 * const model = mlp({ inputDim: 2, hidden: [4], numClasses: 2 });
 * const { params, state } = model.init(new Rng(0));
 * const set = { x: Float32Array.of(1, 2, -1, 0.5, 0, 1), y: Int32Array.of(0, 1, 1), n: 3, inputShape: [2] };
 * const obj = modelBlockObjective(model, params, state, set, { group: "features", keys: ["layer1.bias"], chunkSize: 2 });
 * if (hessianVectorProduct(obj, [1, 0, 0, 0]).length !== 4) throw new Error();
 * ```
 */
export function modelBlockObjective(
  model: Model,
  params: ModelParams,
  bnState: BnState,
  set: ArraySet,
  options: ModelBlockOptions,
): BlockObjective {
  const { group } = options;
  if (group !== "features" && group !== "classifier") {
    throw new RangeError(
      `modelBlockObjective: group must be "features" or "classifier", got ${
        String(group)
      }`,
    );
  }
  const keys = options.keys ?? Object.keys(params[group]);
  const block: Params = {};
  for (const k of keys) {
    if (!(k in params[group])) {
      throw new Error(
        `modelBlockObjective: no parameter "${k}" in ${group} [${
          Object.keys(params[group]).join(", ")
        }]`,
      );
    }
    block[k] = params[group][k];
  }
  const chunkSize = options.chunkSize ?? 2048;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    throw new RangeError(
      `modelBlockObjective: chunkSize must be a positive integer, got ${chunkSize}`,
    );
  }
  const bn = options.bn ?? { train: false };
  const dim = set.inputShape.reduce((a, b) => a * b, 1);
  const chunks: ObjectiveChunk[] = [];
  for (let i = 0; i < set.n; i += chunkSize) {
    const j = Math.min(set.n, i + chunkSize);
    chunks.push({
      weight: (j - i) / set.n,
      loss: (blk: Params) => {
        const x = tf.tensor(set.x.subarray(i * dim, j * dim), [
          j - i,
          ...set.inputShape,
        ]);
        const y = tf.tensor1d(set.y.subarray(i, j), "int32");
        const p: ModelParams = group === "features"
          ? {
            features: { ...params.features, ...blk },
            classifier: params.classifier,
          }
          : {
            features: params.features,
            classifier: { ...params.classifier, ...blk },
          };
        const out = model.apply(p, bnState, x, bn);
        return secondOrderCrossEntropy(out.logits, y);
      },
    });
  }
  return { params: block, chunks };
}
