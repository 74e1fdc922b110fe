/**
 * Functional building blocks for the project's networks: each is a pure
 * function of its input and explicit parameter tensors (no hidden state, no
 * variables), so optimizers can differentiate through them with `tf.grads`.
 *
 * Layout: images are NHWC, convolution kernels `[kh, kw, inChannels,
 * outChannels]`, dense kernels `[in, out]`.
 *
 * The forward passes are written for the pure-JS `cpu` backend's fast paths:
 * per-channel vectors are always shaped `[C]` (broadcast along the trailing
 * axis, which the cpu backend does without index arithmetic) and BatchNorm's
 * batch moments are reductions by matrix product rather than `tf.moments`
 * (which broadcasts a `[1, 1, 1, C]` mean and transposes for the reduction).
 * On a backend with the fused train-mode BatchNorm kernels
 * (`lib/kernels/batch_norm_train.ts`: `wasm`), training BatchNorm (and an
 * optional ReLU after it) runs on those instead, first-order gradients
 * included.
 *
 * Importing this module also registers TensorFlow.js's gradient functions
 * (see {@link GRADIENTS_REGISTERED}).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
// tfjs-core's Node bundle, which Deno loads, registers no gradient functions,
// and its ESM `dist/register_all_gradients.js` cannot be loaded by Deno
// (extensionless relative imports). The tfjs-layers bundle registers all of
// them into tfjs-core's global registry as a side effect of being imported.
import "npm:@tensorflow/tfjs-layers@4.22.0";
import type { Rng } from "../rng.ts";
import { type ApplyOptions, BN_EPSILON, BN_MOMENTUM } from "./model.ts";
import {
  BN_MOMENTS,
  BN_NORMALISE,
  BN_NORMALISE_GRAD,
} from "../kernels/batch_norm_train.ts";

/**
 * True once TensorFlow.js's gradient functions are registered (importing this
 * module does it). `tf.grad` fails with "gradient function not found" without.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { GRADIENTS_REGISTERED } from "./layers.ts";
 * if (!GRADIENTS_REGISTERED) throw new Error("no gradients");
 * const g = tf.grad((x: tf.Tensor) => tf.sum(tf.square(x)))(tf.tensor1d([3]));
 * if (g.dataSync()[0] !== 6) throw new Error();
 * ```
 */
export const GRADIENTS_REGISTERED: boolean =
  tf.getGradient("Sum") !== undefined && tf.getGradient("Conv2D") !== undefined;

function checkShape(shape: number[], what: string): void {
  if (!shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new RangeError(
      `${what}: shape must be positive integers, got [${shape}]`,
    );
  }
}

/**
 * A float32 tensor of N(0, std^2) samples drawn from `rng`.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import { Rng } from "../rng.ts";
 * import { normalTensor } from "./layers.ts";
 * const w = normalTensor(new Rng(1), [3, 4], 0.1);
 * if (w.shape.join() !== "3,4") throw new Error();
 * ```
 */
export function normalTensor(
  rng: Rng,
  shape: number[],
  std: number,
): tf.Tensor {
  checkShape(shape, "normalTensor");
  if (!(std >= 0) || !Number.isFinite(std)) {
    throw new RangeError(
      `normalTensor: std must be finite and >= 0, got ${std}`,
    );
  }
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.normalArray(n, std), shape, "float32");
}

/**
 * He (Kaiming) normal initialisation in "fan_out" mode for a convolution
 * kernel `[kh, kw, in, out]`: N(0, 2 / (kh * kw * out)), as PyTorch's
 * `kaiming_normal_(mode="fan_out", nonlinearity="relu")`.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import { Rng } from "../rng.ts";
 * import { heConvKernel } from "./layers.ts";
 * const k = heConvKernel(new Rng(1), [3, 3, 16, 32]);
 * if (k.shape.join() !== "3,3,16,32") throw new Error();
 * ```
 */
export function heConvKernel(
  rng: Rng,
  shape: [number, number, number, number],
): tf.Tensor4D {
  if (shape.length !== 4) {
    throw new RangeError(
      `heConvKernel: shape must be [kh, kw, in, out], got [${shape}]`,
    );
  }
  checkShape(shape, "heConvKernel");
  const fanOut = shape[0] * shape[1] * shape[3];
  return normalTensor(rng, shape, Math.sqrt(2 / fanOut)) as tf.Tensor4D;
}

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Stride in both spatial directions (default 1). */
  stride?: number;
  /**
   * Padding: a number pads that many zeros on every side (PyTorch style);
   * `"same"` / `"valid"` are TensorFlow's. Default: `floor(kernelSize / 2)`
   * zeros on every side, which for a 3x3 kernel is PyTorch's `padding=1`
   * (with stride 2 this samples the same pixels as PyTorch, unlike `"same"`).
   */
  pad?: number | "same" | "valid";
}

/**
 * 2-D convolution, NHWC input, kernel `[kh, kw, in, out]`, no bias.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { conv2d } from "./layers.ts";
 * const y = conv2d(tf.ones([1, 4, 4, 1]), tf.ones([3, 3, 1, 2]), { stride: 2 });
 * if (y.shape.join() !== "1,2,2,2") throw new Error(String(y.shape));
 * ```
 */
export function conv2d(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  options: Conv2dOptions = {},
): tf.Tensor4D {
  if (x.rank !== 4 || kernel.rank !== 4) {
    throw new Error(
      `conv2d: needs a rank-4 NHWC input and a rank-4 kernel, got [${x.shape}] and [${kernel.shape}]`,
    );
  }
  if (x.shape[3] !== kernel.shape[2]) {
    throw new Error(
      `conv2d: input has ${
        x.shape[3]
      } channels but the kernel [${kernel.shape}] expects ${kernel.shape[2]}`,
    );
  }
  const stride = options.stride ?? 1;
  const pad = options.pad ?? Math.floor(kernel.shape[0] / 2);
  return tf.conv2d(x, kernel, stride, pad, "NHWC");
}

/** BatchNorm parameters of one layer: scale `gamma` [C] and shift `beta` [C]. */
export interface BnParams {
  gamma: tf.Tensor;
  beta: tf.Tensor;
}

/** BatchNorm running statistics of one layer, each [C]. */
export interface BnStats {
  mean: tf.Tensor;
  variance: tf.Tensor;
}

/** Options of {@link batchNorm}: the mode plus the layer's constants. */
export interface BatchNormOptions extends ApplyOptions {
  /** PyTorch-convention momentum (default {@link BN_MOMENTUM}). */
  momentum?: number;
  /** Added to the variance (default {@link BN_EPSILON}). */
  epsilon?: number;
  /**
   * Move the running variance with the unbiased batch variance (default
   * true, PyTorch); false uses the biased one, as tfjs-layers' own
   * BatchNormalization does.
   */
  unbiasedVariance?: boolean;
  /**
   * Apply ReLU to the output (default false): `relu(batchNorm(x))`, fused
   * into the BatchNorm kernels in training where the backend has them.
   */
  relu?: boolean;
}

/**
 * Train-mode normalisation by the fused kernels of
 * `lib/kernels/batch_norm_train.ts` (batch moments `mean`, `variance`
 * computed by the caller, off the tape as in {@link normalise}): one pass
 * forward, two backward, instead of a dozen element-wise kernels.
 */
function fusedNormalise(
  x2: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  mean: tf.Tensor,
  variance: tf.Tensor,
  attrs: { epsilon: number; relu: boolean },
): tf.Tensor {
  const f = tf.customGrad(
    (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [x, g, b] = args as tf.Tensor[];
      const save = args[3] as tf.GradSaveFunc;
      const value = tf.engine().runKernel(
        BN_NORMALISE,
        { x, mean, variance, gamma: g, beta: b },
        attrs as unknown as tf.NamedAttrMap,
      ) as tf.Tensor;
      // The output too: with ReLU it is the gradient's mask.
      save([x, g, b, mean, variance, value]);
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [sx, sg, sb, sm, sv, sy] = saved;
          return tf.engine().runKernel(
            BN_NORMALISE_GRAD,
            { dy, x: sx, mean: sm, variance: sv, gamma: sg, beta: sb, y: sy },
            attrs as unknown as tf.NamedAttrMap,
          ) as tf.Tensor[];
        },
      };
    },
  );
  return f(x2, gamma, beta);
}

/**
 * Train-mode BatchNorm's normalisation `(centred * invStd) * gamma + beta` on
 * `[n, c]` rows, as one differentiable op of `(x2, gamma, beta)` whose
 * gradient is the closed form through the batch moments:
 * `dgamma = sum(dy * xhat)`, `dbeta = sum(dy)`,
 * `dx = gamma * invStd * (dy - dbeta / n - xhat * dgamma / n)`, where
 * `xhat = centred * invStd`. `centred` and `invStd` are computed from `x2` by
 * the caller; autodiff through that chain (two matrix products, a square, a
 * subtraction and their broadcasts) cost several times more. First-order
 * gradients only: the moments are off the tape, so the caller uses the plain
 * composition inside higher-order gradients.
 */
function normalise(
  x2: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  centred: tf.Tensor,
  invStd: tf.Tensor,
): tf.Tensor {
  const n = x2.shape[0];
  const f = tf.customGrad(
    (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [, g, b] = args as tf.Tensor[];
      const save = args[3] as tf.GradSaveFunc;
      const xhat = tf.mul(centred, invStd);
      save([xhat, tf.mul(g, invStd)]);
      return {
        value: tf.add(tf.mul(xhat, g), b),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          // k = gamma * invStd.
          const [xh, k] = saved;
          const ones = tf.fill([1, n], 1);
          const dbeta = tf.reshape(tf.matMul(ones, dy), [-1]);
          const dgamma = tf.reshape(tf.matMul(ones, tf.mul(dy, xh)), [-1]);
          const dx = tf.sub(
            tf.sub(tf.mul(dy, k), tf.mul(dbeta, tf.div(k, n))),
            tf.mul(xh, tf.mul(dgamma, tf.div(k, n))),
          );
          return [dx, dgamma, dbeta];
        },
      };
    },
  );
  return f(x2, gamma, beta);
}

/**
 * BatchNorm over the last axis of `x` (NHWC images or [N, C] vectors).
 *
 * - `{train: false}`: `gamma * (x - running mean) / sqrt(running var + eps) + beta`;
 *   returns the input `stats` tensors themselves.
 * - `{train: true}`: normalises with the batch mean and the biased batch
 *   variance over all axes but the last. With `updateStats: true` it also
 *   returns new running statistics
 *   `(1 - momentum) * running + momentum * batch`, using the unbiased batch
 *   variance (`n / (n - 1)` times the biased one, n = elements per channel)
 *   for the variance, as PyTorch does; otherwise the input `stats` tensors.
 *
 * The caller owns any new statistics tensors returned.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { batchNorm } from "./layers.ts";
 * const x = tf.tensor2d([[1], [3]]);
 * const p = { gamma: tf.ones([1]), beta: tf.zeros([1]) };
 * const s = { mean: tf.zeros([1]), variance: tf.ones([1]) };
 * const r = batchNorm(x, p, s, { train: true, updateStats: true });
 * // batch mean 2, unbiased variance 2: running 0.2 and 1.1
 * if (Math.abs(r.mean.dataSync()[0] - 0.2) > 1e-6) throw new Error();
 * if (Math.abs(r.variance.dataSync()[0] - 1.1) > 1e-6) throw new Error();
 * ```
 */
export function batchNorm(
  x: tf.Tensor,
  params: BnParams,
  stats: BnStats,
  options: BatchNormOptions,
): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } {
  const c = x.shape[x.rank - 1];
  for (
    const [name, t] of [
      ["gamma", params.gamma],
      ["beta", params.beta],
      ["mean", stats.mean],
      ["variance", stats.variance],
    ] as const
  ) {
    if (t.rank !== 1 || t.shape[0] !== c) {
      throw new Error(
        `batchNorm: ${name} must have shape [${c}] for input [${x.shape}], got [${t.shape}]`,
      );
    }
  }
  const eps = options.epsilon ?? BN_EPSILON;
  const act = (t: tf.Tensor) => options.relu ? tf.relu(t) : t;
  if (!options.train) {
    const y = tf.tidy(() => {
      const scale = tf.mul(params.gamma, tf.rsqrt(tf.add(stats.variance, eps)));
      const shift = tf.sub(params.beta, tf.mul(stats.mean, scale));
      return act(tf.add(tf.mul(x, scale), shift));
    });
    return { y, mean: stats.mean, variance: stats.variance };
  }
  const n = x.size / c;
  if (n < 2) {
    throw new Error(
      `batchNorm: training needs more than one value per channel, got input [${x.shape}]`,
    );
  }
  const momentum = options.momentum ?? BN_MOMENTUM;
  if (!(momentum >= 0 && momentum <= 1)) {
    throw new RangeError(
      `batchNorm: momentum must be in [0, 1], got ${momentum}`,
    );
  }
  // Inside a second-order gradient (Hessian-vector products) the batch
  // moments must stay on the tape: the plain composition there.
  const secondOrder = tf.engine().state.gradientDepth > 1;
  const fused = !secondOrder && x.dtype === "float32" &&
    tf.getKernel(BN_NORMALISE, tf.getBackend()) !== undefined;
  return tf.tidy(() => {
    const x2 = tf.reshape(x, [n, c]);
    let mean: tf.Tensor, variance: tf.Tensor, y: tf.Tensor;
    if (fused) {
      [mean, variance] = tf.engine().runKernel(BN_MOMENTS, { x: x2 }) as [
        tf.Tensor,
        tf.Tensor,
      ];
      y = tf.reshape(
        fusedNormalise(x2, params.gamma, params.beta, mean, variance, {
          epsilon: eps,
          relu: options.relu ?? false,
        }),
        x.shape,
      );
    } else {
      const avg = tf.fill([1, n], 1 / n);
      mean = tf.reshape(tf.matMul(avg, x2), [c]);
      const centred = tf.sub(x2, mean);
      variance = tf.reshape(tf.matMul(avg, tf.square(centred)), [c]);
      const invStd = tf.rsqrt(tf.add(variance, eps));
      y = act(tf.reshape(
        secondOrder
          ? tf.add(tf.mul(centred, tf.mul(params.gamma, invStd)), params.beta)
          : normalise(x2, params.gamma, params.beta, centred, invStd),
        x.shape,
      ));
    }
    if (!options.updateStats) {
      return { y, mean: stats.mean, variance: stats.variance };
    }
    return {
      y,
      mean: tf.add(
        tf.mul(stats.mean, 1 - momentum),
        tf.mul(mean, momentum),
      ),
      variance: tf.add(
        tf.mul(stats.variance, 1 - momentum),
        tf.mul(
          variance,
          options.unbiasedVariance === false
            ? momentum
            : momentum * n / (n - 1),
        ),
      ),
    };
  });
}

/**
 * Affine layer `x @ kernel + bias` for x [N, in], kernel [in, out], bias [out].
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { dense } from "./layers.ts";
 * const y = dense(tf.tensor2d([[1, 2]]), tf.tensor2d([[1], [1]]), tf.tensor1d([0.5]));
 * if (y.dataSync()[0] !== 3.5) throw new Error();
 * ```
 */
export function dense(
  x: tf.Tensor2D,
  kernel: tf.Tensor2D,
  bias?: tf.Tensor1D,
): tf.Tensor2D {
  if (x.rank !== 2 || kernel.rank !== 2 || x.shape[1] !== kernel.shape[0]) {
    throw new Error(
      `dense: needs x [N, in] and kernel [in, out], got [${x.shape}] and [${kernel.shape}]`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== kernel.shape[1])) {
    throw new Error(
      `dense: bias must have shape [${kernel.shape[1]}], got [${bias.shape}]`,
    );
  }
  return bias
    ? tf.fused.matMul({ a: x, b: kernel, bias }) as tf.Tensor2D
    : tf.matMul(x, kernel);
}

/**
 * Rectified linear unit, `max(x, 0)`.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { relu } from "./layers.ts";
 * if (relu(tf.tensor1d([-1, 2])).dataSync().join() !== "0,2") throw new Error();
 * ```
 */
export function relu<T extends tf.Tensor>(x: T): T {
  return tf.relu(x);
}

/**
 * Global average pooling of NHWC images: [N, H, W, C] -> [N, C].
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { globalAvgPool } from "./layers.ts";
 * const f = globalAvgPool(tf.tensor4d([1, 2, 3, 6], [1, 2, 2, 1]));
 * if (f.dataSync()[0] !== 3) throw new Error();
 * ```
 */
export function globalAvgPool(x: tf.Tensor4D): tf.Tensor2D {
  if (x.rank !== 4) {
    throw new Error(`globalAvgPool: needs NHWC input, got [${x.shape}]`);
  }
  return tf.mean(x, [1, 2]) as tf.Tensor2D;
}
