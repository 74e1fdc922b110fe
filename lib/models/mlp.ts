/**
 * The paper's toy multilayer perceptron (Figs. 1 and 2: "an MLP with 5 weight
 * layers"), written functionally.
 *
 * `hidden.length` dense + ReLU layers form the feature extractor phi (default
 * four layers of width 64); one final dense layer is the classifier theta, so
 * the default has 5 weight layers. No BatchNorm: the state is always `{}`.
 *
 * Initialisation (documented choice, PyTorch-like but Gaussian): hidden
 * kernels He normal N(0, 2 / fan_in) (ReLU follows them), classifier kernel
 * N(0, 1 / fan_in), all biases 0. `classifierStd` overrides the classifier's.
 *
 * Parameter keys: `layer{i}.kernel` [in, out] and `layer{i}.bias` [out] for
 * i = 1..hidden.length; classifier `kernel` / `bias`.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { Rng } from "../rng.ts";
import { leaf, type Params } from "../tree.ts";
import { dense, normalTensor, relu } from "./layers.ts";
import {
  type ApplyOptions,
  type BnState,
  composeApply,
  type Model,
} from "./model.ts";

/** Options of {@link mlp}. */
export interface MlpOptions {
  /** Input dimension D (examples are [D] vectors). */
  inputDim: number;
  /** Widths of the hidden (feature) layers; default [64, 64, 64, 64]. */
  hidden?: number[];
  /** Number of classes. */
  numClasses: number;
  /** Classifier kernel standard deviation (default 1 / sqrt(last hidden width)). */
  classifierStd?: number;
}

function positiveInt(v: unknown, what: string): number {
  if (!Number.isInteger(v) || (v as number) < 1) {
    throw new RangeError(`mlp: ${what} must be a positive integer, got ${v}`);
  }
  return v as number;
}

/**
 * A ReLU multilayer perceptron split into features (the hidden layers) and a
 * linear classifier; see the module documentation for the initialisation.
 * `multiplyAdds` counts the dense layers' multiply-adds per example.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { Rng } from "../rng.ts";
 * import { mlp } from "./mlp.ts";
 * const model = mlp({ inputDim: 16, numClasses: 4 }); // 5 weight layers
 * const { params, state } = model.init(new Rng(0));
 * const out = model.apply(params, state, tf.zeros([3, 16]), { train: true });
 * if (out.logits.shape.join() !== "3,4" || out.features.shape[1] !== 64) throw new Error();
 * ```
 */
export function mlp(options: MlpOptions): Model {
  const inputDim = positiveInt(options.inputDim, "inputDim");
  const numClasses = positiveInt(options.numClasses, "numClasses");
  const hidden = options.hidden ?? [64, 64, 64, 64];
  if (!Array.isArray(hidden) || hidden.length === 0) {
    throw new RangeError(
      `mlp: hidden must list at least one layer width, got ${
        JSON.stringify(hidden)
      }`,
    );
  }
  hidden.forEach((h, i) => positiveInt(h, `hidden[${i}]`));
  const widths = [inputDim, ...hidden];
  const featureDim = hidden[hidden.length - 1];
  const classifierStd = options.classifierStd ?? 1 / Math.sqrt(featureDim);
  if (!(classifierStd >= 0) || !Number.isFinite(classifierStd)) {
    throw new RangeError(
      `mlp: classifierStd must be finite and >= 0, got ${classifierStd}`,
    );
  }
  let multiplyAdds = featureDim * numClasses;
  for (let i = 0; i < hidden.length; i++) {
    multiplyAdds += widths[i] * widths[i + 1];
  }

  const features = (
    phi: Params,
    state: BnState,
    x: tf.Tensor,
    _o: ApplyOptions,
  ): { features: tf.Tensor2D; state: BnState } => {
    if (x.rank !== 2 || x.shape[1] !== inputDim) {
      throw new Error(
        `${name}: input must be [batch, ${inputDim}], got [${x.shape}]`,
      );
    }
    const f = tf.tidy(() => {
      let h = x as tf.Tensor2D;
      for (let i = 1; i <= hidden.length; i++) {
        h = relu(
          dense(
            h,
            leaf(phi, `layer${i}.kernel`) as tf.Tensor2D,
            leaf(phi, `layer${i}.bias`) as tf.Tensor1D,
          ),
        );
      }
      return h;
    });
    return { features: f, state };
  };

  const classify = (theta: Params, f: tf.Tensor2D): tf.Tensor2D =>
    dense(
      f,
      leaf(theta, "kernel") as tf.Tensor2D,
      leaf(theta, "bias") as tf.Tensor1D,
    );

  const name = `MLP-${[inputDim, ...hidden, numClasses].join("-")}`;
  return {
    name,
    inputShape: [inputDim],
    numClasses,
    featureDim,
    multiplyAdds,
    init(rng: Rng) {
      const phi: Params = {};
      for (let i = 1; i <= hidden.length; i++) {
        const fanIn = widths[i - 1];
        phi[`layer${i}.kernel`] = normalTensor(
          rng,
          [fanIn, widths[i]],
          Math.sqrt(2 / fanIn),
        );
        phi[`layer${i}.bias`] = tf.zeros([widths[i]]);
      }
      const theta: Params = {
        kernel: normalTensor(rng, [featureDim, numClasses], classifierStd),
        bias: tf.zeros([numClasses]),
      };
      return { params: { features: phi, classifier: theta }, state: {} };
    },
    features,
    classify,
    apply: composeApply(features, classify),
  };
}
