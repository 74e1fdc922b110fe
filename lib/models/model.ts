/**
 * The functional model interface shared by every network in the project.
 *
 * A model is split into a feature extractor F_phi (everything up to and
 * including global average pooling) and a classifier C_theta (the last linear
 * layer), as in the paper (Sec. 3). Parameters and BatchNorm statistics are
 * explicit values that live apart: the optimizers only ever see parameters,
 * and `apply` returns the new BatchNorm statistics instead of mutating them.
 *
 * BatchNorm momentum convention (named once, here): PyTorch's.
 * `running = (1 - momentum) * running + momentum * batchStat`, momentum 0.1,
 * running variance uses the unbiased batch variance, epsilon 1e-5.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { Params } from "../tree.ts";
import type { Rng } from "../rng.ts";

/** BatchNorm momentum (PyTorch convention, see module doc). */
export const BN_MOMENTUM = 0.1;
/** BatchNorm epsilon. */
export const BN_EPSILON = 1e-5;

/** Parameters split into the feature extractor (phi) and the classifier (theta). */
export interface ModelParams {
  /** Feature-extractor parameters phi. */
  features: Params;
  /** Classifier parameters theta: `kernel` [featureDim, numClasses] and `bias` [numClasses]. */
  classifier: Params;
}

/** BatchNorm running statistics, keyed `<layer>.mean` / `<layer>.variance`. Empty for models without BN. */
export type BnState = Params;

/**
 * How a forward pass treats BatchNorm.
 * - `{train: false}`: normalise with running statistics (inference).
 * - `{train: true, updateStats: true}`: normalise with batch statistics and return moved running statistics.
 * - `{train: true, updateStats: false}`: normalise with batch statistics, return the running statistics unchanged
 *   (SAM's second pass, PoF's weak batch).
 */
export interface ApplyOptions {
  train: boolean;
  updateStats?: boolean;
}

/** The result of a forward pass. */
export interface ApplyResult {
  /** [batch, numClasses] logits. */
  logits: tf.Tensor2D;
  /** [batch, featureDim] features F_phi(x). */
  features: tf.Tensor2D;
  /** The BatchNorm state after the pass (the input state's tensors when not updated). */
  state: BnState;
}

/** A functional network split into feature extractor and linear classifier. */
export interface Model {
  /** Human-readable name, e.g. `"WRN-28-10"`. */
  readonly name: string;
  /** Input shape of one example, [H, W, C] for images or [D] for vectors. */
  readonly inputShape: number[];
  readonly numClasses: number;
  /** Dimension of F_phi(x). */
  readonly featureDim: number;
  /** Forward multiply-adds per example (for work estimates). */
  readonly multiplyAdds: number;
  /** Fresh parameters and BN state drawn from `rng`. */
  init(rng: Rng): { params: ModelParams; state: BnState };
  /** F_phi(x) and the new BN state. */
  features(
    phi: Params,
    state: BnState,
    x: tf.Tensor,
    options: ApplyOptions,
  ): { features: tf.Tensor2D; state: BnState };
  /** C_theta(f): logits. */
  classify(theta: Params, features: tf.Tensor2D): tf.Tensor2D;
  /** C_theta(F_phi(x)). */
  apply(
    params: ModelParams,
    state: BnState,
    x: tf.Tensor,
    options: ApplyOptions,
  ): ApplyResult;
}

/**
 * `apply` = `classify` after `features`, in one `tf.tidy`: the one
 * definition every model in the project shares.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../backend.ts";
 * import { composeApply } from "./model.ts";
 * await useBackend("cpu");
 * const apply = composeApply(
 *   (_phi, state, x) => ({ features: tf.relu(x) as tf.Tensor2D, state }),
 *   (theta, f) => tf.matMul(f, theta.kernel),
 * );
 * const r = apply({ features: {}, classifier: { kernel: tf.eye(2) } }, {}, tf.tensor2d([[-1, 2]]), { train: false });
 * if (r.logits.dataSync().join() !== "0,2") throw new Error();
 * ```
 */
export function composeApply(
  features: Model["features"],
  classify: Model["classify"],
): Model["apply"] {
  return (params, state, x, options) =>
    tf.tidy(() => {
      const r = features(params.features, state, x, options);
      return {
        logits: classify(params.classifier, r.features),
        features: r.features,
        state: r.state,
      };
    });
}

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
 * import { mlp } from "./mlp.ts";
 * import { featuresOf } from "./model.ts";
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
