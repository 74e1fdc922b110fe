/**
 * The two steps every curvature analysis shares: the feature-extractor output
 * phi(x) of a batch ({@link featuresOf}) and the exact classifier curvature of
 * a mini-batch given its features ({@link batchCurvature}). The toy figures
 * and the checkpoint statistics both go through them.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type {
  ApplyOptions,
  BnState,
  Model,
  ModelParams,
} from "../models/model.ts";
import { ClassifierCurvature } from "./classifier_hessian.ts";

/**
 * phi(x) of a batch at `params` and BatchNorm state `bn`, in the BN mode of
 * `options` (default inference). Statistics a train-mode pass returns are
 * not kept; the caller owns the returned tensor.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../backend.ts";
 * import { Rng } from "../rng.ts";
 * import { mlp } from "../models/mlp.ts";
 * import { featuresOf } from "./features.ts";
 * await useBackend("cpu");
 * const model = mlp({ inputDim: 4, hidden: [6], numClasses: 3 });
 * const f = featuresOf(model, model.init(new Rng(0)).params, {}, tf.zeros([5, 4]));
 * if (f.shape.join() !== "5,6") throw new Error(f.shape.join());
 * ```
 */
export function featuresOf(
  model: Model,
  params: ModelParams,
  bn: BnState,
  x: tf.Tensor,
  options: ApplyOptions = { train: false },
): tf.Tensor2D {
  return tf.tidy(() => {
    const r = model.features(params.features, bn, x, options);
    for (const [k, t] of Object.entries(r.state)) {
      if (t !== bn[k]) t.dispose();
    }
    return r.features;
  });
}

/**
 * The exact classifier curvature (float64) of a mini-batch at classifier
 * parameters `theta`, from row-major features (`labels.length` rows, or the
 * rows `options.rows` of a larger feature matrix).
 *
 * @example
 * ```ts
 * import { batchCurvature } from "./features.ts";
 * const feats = new Float32Array([1, 0, 0, 1, 1, 1]);
 * const c = batchCurvature(feats, new Int32Array([0, 1, 1]), new Float64Array(6), {
 *   numClasses: 2, rows: [0, 2],
 * });
 * if (c.size !== 6) throw new Error(String(c.size));
 * ```
 */
export function batchCurvature(
  features: Float32Array,
  labels: Int32Array,
  theta: Float64Array,
  options: { numClasses: number; rows?: ArrayLike<number> },
): ClassifierCurvature {
  const { numClasses, rows } = options;
  const dim = features.length / labels.length;
  if (!Number.isInteger(dim)) {
    throw new RangeError(
      `batchCurvature: ${features.length} feature values do not split into ${labels.length} rows`,
    );
  }
  if (!rows) {
    return new ClassifierCurvature(features, labels, theta, {
      dim,
      numClasses,
    });
  }
  const f = new Float32Array(rows.length * dim);
  const y = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const j = rows[i];
    f.set(features.subarray(j * dim, (j + 1) * dim), i * dim);
    y[i] = labels[j];
  }
  return new ClassifierCurvature(f, y, theta, { dim, numClasses });
}
