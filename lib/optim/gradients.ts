/**
 * Gradients of the training loss (mean softmax cross-entropy) with respect to
 * parameter trees, shared by SGD, SAM and PoF and by the analysis code
 * (curvature, line-search figures).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
// tfjs-core's Node bundle registers no gradient functions; the tfjs-layers
// bundle registers all of them as a side effect (as lib/models/layers.ts does).
import "npm:@tensorflow/tfjs-layers@4.22.0";
import type { Params } from "../tree.ts";
import { globalNorm } from "../tree.ts";
import type {
  ApplyOptions,
  BnState,
  Model,
  ModelParams,
} from "../models/model.ts";
import { softmaxCrossEntropy } from "../models/loss.ts";
import type { Batch } from "../data/batch.ts";

function rebuild(keys: string[], values: tf.Tensor[]): Params {
  const out: Params = {};
  keys.forEach((k, i) => out[k] = values[i]);
  return out;
}

/**
 * The value of `fn(params)` and its gradient with respect to every leaf.
 * Every leaf must influence the value.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { valueAndGradTree } from "./gradients.ts";
 * const { value, grads } = valueAndGradTree(
 *   (p) => tf.sum(tf.square(p.w)),
 *   { w: tf.tensor1d([1, -2]) },
 * );
 * if (value.dataSync()[0] !== 5 || grads.w.dataSync()[1] !== -4) throw new Error();
 * ```
 */
export function valueAndGradTree(
  fn: (params: Params) => tf.Scalar,
  params: Params,
): { value: tf.Scalar; grads: Params } {
  const keys = Object.keys(params);
  if (keys.length === 0) {
    throw new Error("valueAndGradTree: the parameter tree is empty");
  }
  const { value, grads } = tf.valueAndGrads((...ts: tf.Tensor[]) =>
    fn(rebuild(keys, ts))
  )(keys.map((k) => params[k]));
  return { value, grads: rebuild(keys, grads) };
}

/** Which parameters {@link modelGradients} differentiates. */
export type GradientTarget = "all" | "features" | "classifier";

/** Options of {@link modelGradients}. */
export interface ModelGradientOptions {
  /** Differentiate w.r.t. phi and theta (`all`, default), phi only, or theta only. */
  wrt?: GradientTarget;
  /** BatchNorm mode of the forward pass (default `{train: true, updateStats: true}`). */
  bn?: ApplyOptions;
  /**
   * Also the batch loss with this classifier on the same features (same
   * forward pass, not differentiated): PoF's loss at theta0 while the
   * gradient is taken at theta'.
   */
  lossAtClassifier?: Params;
}

/** The result of {@link modelGradients}; the caller owns every tensor. */
export interface ModelGradients {
  /** Mean cross-entropy of the batch at the given parameters. */
  loss: tf.Scalar;
  /** Gradients of the requested subtrees (the other one is absent). */
  grads: Partial<ModelParams>;
  /**
   * BatchNorm state after the pass: new tensors when statistics moved, the
   * given `bn` tensors themselves when they did not.
   */
  bn: BnState;
  /** The loss with `options.lossAtClassifier` (when given). */
  lossAtClassifier?: tf.Scalar;
}

/**
 * Loss of `model` on `batch` and its gradient w.r.t. phi and/or theta.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { modelGradients } from "./gradients.ts";
 * import type { Model } from "../models/model.ts";
 * // A linear "model": identity features, classifier kernel/bias.
 * const classify = (t: Record<string, tf.Tensor>, f: tf.Tensor2D) =>
 *   tf.add(tf.matMul(f, t.kernel), t.bias) as tf.Tensor2D;
 * const model = {
 *   classify,
 *   apply: (p: { classifier: Record<string, tf.Tensor> }, state: object, x: tf.Tensor2D) =>
 *     ({ logits: classify(p.classifier, x), features: x, state }),
 * } as unknown as Model;
 * const params = { features: {}, classifier: { kernel: tf.zeros([2, 2]), bias: tf.zeros([2]) } };
 * const batch = { x: tf.tensor2d([[1, 0]]), y: tf.tensor1d([0], "int32") };
 * const r = modelGradients(model, params, {}, batch, { wrt: "classifier" });
 * // softmax = (0.5, 0.5): dL/dbias = p - onehot = (-0.5, 0.5)
 * if (r.grads.classifier!.bias.dataSync()[0] !== -0.5) throw new Error();
 * // the loss with another classifier on the same features: logits (1, 0), -log(e / (e + 1))
 * const eye = { kernel: tf.tensor2d([[1, 0], [0, 1]]), bias: tf.zeros([2]) };
 * const s = modelGradients(model, params, {}, batch, { wrt: "classifier", lossAtClassifier: eye });
 * if (Math.abs(s.lossAtClassifier!.dataSync()[0] - Math.log1p(Math.exp(-1))) > 1e-6) throw new Error();
 * if (s.grads.classifier!.bias.dataSync()[0] !== -0.5) throw new Error();
 * ```
 */
export function modelGradients(
  model: Model,
  params: ModelParams,
  bn: BnState,
  batch: Batch,
  options: ModelGradientOptions = {},
): ModelGradients {
  const wrt = options.wrt ?? "all";
  if (wrt !== "all" && wrt !== "features" && wrt !== "classifier") {
    throw new RangeError(
      `wrt must be "all", "features" or "classifier", got ${String(wrt)}`,
    );
  }
  const bnOptions = options.bn ?? { train: true, updateStats: true };
  const fKeys = wrt === "classifier" ? [] : Object.keys(params.features);
  const cKeys = wrt === "features" ? [] : Object.keys(params.classifier);
  const args = [
    ...fKeys.map((k) => params.features[k]),
    ...cKeys.map((k) => params.classifier[k]),
  ];
  if (args.length === 0) {
    throw new Error(
      `modelGradients: nothing to differentiate (wrt "${wrt}" selects an empty tree)`,
    );
  }
  let newBn: BnState = bn;
  let extra: tf.Scalar | undefined;
  const { value, grads } = tf.valueAndGrads((...ts: tf.Tensor[]) => {
    const phi = wrt === "classifier"
      ? params.features
      : rebuild(fKeys, ts.slice(0, fKeys.length));
    const theta = wrt === "features"
      ? params.classifier
      : rebuild(cKeys, ts.slice(fKeys.length));
    const out = model.apply(
      { features: phi, classifier: theta },
      bn,
      batch.x,
      bnOptions,
    );
    // The forward pass runs inside a tidy scope: keep the BN state.
    for (const t of Object.values(out.state)) tf.keep(t);
    newBn = out.state;
    if (options.lossAtClassifier) {
      // not part of the returned value, so it adds nothing to the gradients
      extra = tf.keep(softmaxCrossEntropy(
        model.classify(options.lossAtClassifier, out.features),
        batch.y,
      ));
    }
    return softmaxCrossEntropy(out.logits, batch.y);
  })(args);
  const result: Partial<ModelParams> = {};
  if (fKeys.length > 0) {
    result.features = rebuild(fKeys, grads.slice(0, fKeys.length));
  }
  if (cKeys.length > 0) {
    result.classifier = rebuild(cKeys, grads.slice(fKeys.length));
  }
  return extra
    ? { loss: value, grads: result, bn: newBn, lossAtClassifier: extra }
    : { loss: value, grads: result, bn: newBn };
}

/**
 * Loss of the classifier alone on fixed features, `L(C_theta(f), y)`, and its
 * gradient w.r.t. theta: PoF's weak-batch gradient (Eq. 3) and the
 * classifier-space quantities of Figs. 2, 5 and 6.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { classifierGradient } from "./gradients.ts";
 * import type { Model } from "../models/model.ts";
 * const model = {
 *   classify: (t: Record<string, tf.Tensor>, f: tf.Tensor2D) =>
 *     tf.add(tf.matMul(f, t.kernel), t.bias) as tf.Tensor2D,
 * } as unknown as Model;
 * const theta = { kernel: tf.zeros([1, 2]), bias: tf.zeros([2]) };
 * const { loss, grads } = classifierGradient(
 *   model, theta, { features: tf.tensor2d([[2]]), labels: tf.tensor1d([1], "int32") },
 * );
 * if (Math.abs(loss.dataSync()[0] - Math.log(2)) > 1e-6) throw new Error();
 * // dL/dkernel = f^T (p - onehot) = 2 * (0.5, -0.5)
 * if (grads.kernel.dataSync()[0] !== 1) throw new Error();
 * ```
 */
export function classifierGradient(
  model: Model,
  theta: Params,
  data: { features: tf.Tensor2D; labels: tf.Tensor1D },
): { loss: tf.Scalar; grads: Params } {
  const { value, grads } = valueAndGradTree(
    (t) => softmaxCrossEntropy(model.classify(t, data.features), data.labels),
    theta,
  );
  return { loss: value, grads };
}

/**
 * The global L2 norm of a tree as a JS number (NaN or Infinity when a leaf is
 * not finite; squares above float32 range also give Infinity).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { treeNorm } from "./gradients.ts";
 * if (treeNorm({ a: tf.tensor1d([3]), b: tf.tensor1d([4]) }) !== 5) throw new Error();
 * if (!Number.isNaN(treeNorm({ a: tf.tensor1d([NaN]) }))) throw new Error();
 * ```
 */
export function treeNorm(tree: Params): number {
  const n = globalNorm(tree);
  const v = n.dataSync()[0];
  n.dispose();
  return v;
}
