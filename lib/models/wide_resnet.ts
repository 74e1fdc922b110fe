/**
 * Wide residual networks (Zagoruyko & Komodakis, 2016), pre-activation
 * variant as used by the paper (WRN-28-10), written functionally.
 *
 * Architecture for `depth = 6n + 4`, widen factor k:
 * - `conv0`: 3x3 conv, 16 channels.
 * - three stages of n blocks, widths 16k / 32k / 64k, the first block of
 *   stages 2 and 3 with stride 2.
 * - block(in -> out, stride): `a = relu(bn1(x))`;
 *   `h = conv2(relu(bn2(conv1(a, stride))))`; output `h + x` when
 *   in == out and stride 1, else `h + shortcut(a)` with a 1x1 conv shortcut of
 *   stride `stride` (applied to the pre-activated input, as in the reference
 *   PyTorch WRN).
 * - final `bn`, ReLU, global average pooling over whatever spatial size is
 *   left (8x8 for 32x32 inputs, 7x7 for 28x28): these are the features
 *   (dimension 64k).
 * - classifier: one dense layer 64k -> numClasses.
 *
 * No bias in any convolution, no dropout. 3x3 convolutions pad one pixel on
 * every side (PyTorch's `padding=1`). Initialisation: conv kernels He normal
 * (fan_out), BN gamma 1 / beta 0, running mean 0 / variance 1, classifier
 * kernel N(0, 0.1^2), bias 0.
 *
 * Parameter keys: `conv0.kernel`, `stage{s}.block{b}.{bn1,bn2}.{gamma,beta}`,
 * `stage{s}.block{b}.{conv1,conv2,shortcut}.kernel`, `bn.{gamma,beta}`;
 * BatchNorm state: `<bn layer>.mean` / `<bn layer>.variance`.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { Rng } from "../rng.ts";
import { leaf, type Params } from "../tree.ts";
import {
  batchNorm,
  conv2d,
  dense,
  globalAvgPool,
  heConvKernel,
  normalTensor,
} from "./layers.ts";
import {
  type ApplyOptions,
  type BnState,
  composeApply,
  type Model,
} from "./model.ts";

/** Options of {@link wideResNet}. */
export interface WideResNetOptions {
  /** Total depth 6n + 4 (28 for WRN-28-10). */
  depth: number;
  /** Widen factor k (10 for WRN-28-10). */
  widen: number;
  /** Number of classes. */
  numClasses: number;
  /** One example's shape [H, W, C] (default [32, 32, 3]). */
  inputShape?: number[];
}

/** Shapes of every parameter and state tensor, keyed as in the model. */
export interface ParamShapes {
  features: Record<string, number[]>;
  classifier: Record<string, number[]>;
  state: Record<string, number[]>;
}

/** A {@link Model} that can also list its tensor shapes without allocating them. */
export interface WideResNet extends Model {
  /** Depth, widen factor, classes and input shape it was built with. */
  readonly options: Readonly<Required<WideResNetOptions>>;
  /** Shapes of all parameters and BN state, in initialisation order. */
  paramShapes(): ParamShapes;
}

interface Block {
  prefix: string;
  inC: number;
  outC: number;
  stride: number;
  /** Output spatial size (height, width). */
  outH: number;
  outW: number;
  equal: boolean;
}

/** Classifier kernel standard deviation of the WRN initialisation. */
export const WRN_CLASSIFIER_STD = 0.1;

function validate(options: WideResNetOptions): Required<WideResNetOptions> {
  const { depth, widen, numClasses } = options;
  const inputShape = options.inputShape ?? [32, 32, 3];
  if (!Number.isInteger(depth) || depth < 10 || (depth - 4) % 6 !== 0) {
    throw new RangeError(
      `wideResNet: depth must be an integer 6n + 4 with n >= 1 (10, 16, 22, 28, ...), got ${depth}`,
    );
  }
  if (!Number.isInteger(widen) || widen < 1) {
    throw new RangeError(
      `wideResNet: widen must be a positive integer, got ${widen}`,
    );
  }
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(
      `wideResNet: numClasses must be a positive integer, got ${numClasses}`,
    );
  }
  if (
    !Array.isArray(inputShape) || inputShape.length !== 3 ||
    !inputShape.every((d) => Number.isInteger(d) && d > 0)
  ) {
    throw new RangeError(
      `wideResNet: inputShape must be [H, W, C] of positive integers, got ${
        JSON.stringify(inputShape)
      }`,
    );
  }
  return { depth, widen, numClasses, inputShape: inputShape.slice() };
}

/** Output size of a conv with kernel k, pad (k-1)/2 and the given stride. */
function convOut(size: number, stride: number): number {
  return Math.floor((size - 1) / stride) + 1;
}

/**
 * A pre-activation wide residual network; see the module documentation for
 * the exact architecture and initialisation. `multiplyAdds` counts the
 * multiply-adds of the convolutions and the classifier per example
 * (BatchNorm, ReLU, additions and pooling are not counted).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { Rng } from "../rng.ts";
 * import { wideResNet } from "./wide_resnet.ts";
 * const model = wideResNet({ depth: 10, widen: 1, numClasses: 10, inputShape: [8, 8, 3] });
 * const { params, state } = model.init(new Rng(0));
 * const out = model.apply(params, state, tf.zeros([2, 8, 8, 3]), { train: false });
 * if (out.logits.shape.join() !== "2,10") throw new Error(String(out.logits.shape));
 * // inference mode returns the input BN state tensors themselves
 * if (out.state["bn.mean"] !== state["bn.mean"]) throw new Error();
 * ```
 */
export function wideResNet(options: WideResNetOptions): WideResNet {
  const opts = validate(options);
  const { depth, widen, numClasses, inputShape } = opts;
  const n = (depth - 4) / 6;
  const widths = [16, 16 * widen, 32 * widen, 64 * widen];
  const [h0, w0, c0] = inputShape;

  const blocks: Block[] = [];
  let h = h0, w = w0, inC = widths[0];
  for (let s = 1; s <= 3; s++) {
    for (let b = 1; b <= n; b++) {
      const stride = b === 1 && s > 1 ? 2 : 1;
      const outC = widths[s];
      h = convOut(h, stride);
      w = convOut(w, stride);
      blocks.push({
        prefix: `stage${s}.block${b}`,
        inC,
        outC,
        stride,
        outH: h,
        outW: w,
        equal: inC === outC && stride === 1,
      });
      inC = outC;
    }
  }
  const featureDim = widths[3];

  const shapes: ParamShapes = { features: {}, classifier: {}, state: {} };
  const bnShapes = (name: string, c: number) => {
    shapes.features[`${name}.gamma`] = [c];
    shapes.features[`${name}.beta`] = [c];
    shapes.state[`${name}.mean`] = [c];
    shapes.state[`${name}.variance`] = [c];
  };
  shapes.features["conv0.kernel"] = [3, 3, c0, widths[0]];
  let multiplyAdds = h0 * w0 * 9 * c0 * widths[0];
  for (const blk of blocks) {
    const { prefix: p, inC, outC, outH, outW } = blk;
    bnShapes(`${p}.bn1`, inC);
    shapes.features[`${p}.conv1.kernel`] = [3, 3, inC, outC];
    bnShapes(`${p}.bn2`, outC);
    shapes.features[`${p}.conv2.kernel`] = [3, 3, outC, outC];
    multiplyAdds += outH * outW * 9 * (inC * outC + outC * outC);
    if (!blk.equal) {
      shapes.features[`${p}.shortcut.kernel`] = [1, 1, inC, outC];
      multiplyAdds += outH * outW * inC * outC;
    }
  }
  bnShapes("bn", featureDim);
  shapes.classifier.kernel = [featureDim, numClasses];
  shapes.classifier.bias = [numClasses];
  multiplyAdds += featureDim * numClasses;

  /** `relu(batchNorm(x))`, fused where the backend allows (layers.ts). */
  const bnRelu = (
    x: tf.Tensor,
    name: string,
    phi: Params,
    state: BnState,
    newState: BnState,
    o: ApplyOptions,
  ): tf.Tensor => {
    const r = batchNorm(
      x,
      { gamma: leaf(phi, `${name}.gamma`), beta: leaf(phi, `${name}.beta`) },
      {
        mean: leaf(state, `${name}.mean`),
        variance: leaf(state, `${name}.variance`),
      },
      { ...o, relu: true },
    );
    newState[`${name}.mean`] = r.mean;
    newState[`${name}.variance`] = r.variance;
    return r.y;
  };

  const features = (
    phi: Params,
    state: BnState,
    x: tf.Tensor,
    o: ApplyOptions,
  ): { features: tf.Tensor2D; state: BnState } => {
    if (
      x.rank !== 4 || x.shape[1] !== h0 || x.shape[2] !== w0 ||
      x.shape[3] !== c0
    ) {
      throw new Error(
        `${name}: input must be [batch, ${inputShape}], got [${x.shape}]`,
      );
    }
    return tf.tidy(() => {
      const newState: BnState = {};
      let y = conv2d(
        x as tf.Tensor4D,
        leaf(phi, "conv0.kernel") as tf.Tensor4D,
      );
      for (const blk of blocks) {
        const p = blk.prefix;
        const a = bnRelu(y, `${p}.bn1`, phi, state, newState, o);
        let hh = conv2d(
          a as tf.Tensor4D,
          leaf(phi, `${p}.conv1.kernel`) as tf.Tensor4D,
          { stride: blk.stride },
        );
        hh = bnRelu(hh, `${p}.bn2`, phi, state, newState, o) as tf.Tensor4D;
        hh = conv2d(hh, leaf(phi, `${p}.conv2.kernel`) as tf.Tensor4D);
        const skip = blk.equal ? y : conv2d(
          a as tf.Tensor4D,
          leaf(phi, `${p}.shortcut.kernel`) as tf.Tensor4D,
          { stride: blk.stride, pad: 0 },
        );
        y = tf.add(hh, skip);
      }
      const f = globalAvgPool(
        bnRelu(y, "bn", phi, state, newState, o) as tf.Tensor4D,
      );
      return { features: f, state: newState };
    });
  };

  const classify = (theta: Params, f: tf.Tensor2D): tf.Tensor2D =>
    dense(
      f,
      leaf(theta, "kernel") as tf.Tensor2D,
      leaf(theta, "bias") as tf.Tensor1D,
    );

  const name = `WRN-${depth}-${widen}`;
  return {
    name,
    inputShape: inputShape.slice(),
    numClasses,
    featureDim,
    multiplyAdds,
    options: opts,
    paramShapes: () => ({
      features: { ...shapes.features },
      classifier: { ...shapes.classifier },
      state: { ...shapes.state },
    }),
    init(rng: Rng) {
      const phi: Params = {};
      for (const [k, s] of Object.entries(shapes.features)) {
        if (k.endsWith(".kernel")) {
          phi[k] = heConvKernel(rng, s as [number, number, number, number]);
        } else if (k.endsWith(".gamma")) phi[k] = tf.ones(s);
        else phi[k] = tf.zeros(s);
      }
      const theta: Params = {
        kernel: normalTensor(
          rng,
          shapes.classifier.kernel,
          WRN_CLASSIFIER_STD,
        ),
        bias: tf.zeros(shapes.classifier.bias),
      };
      const state: BnState = {};
      for (const [k, s] of Object.entries(shapes.state)) {
        state[k] = k.endsWith(".mean") ? tf.zeros(s) : tf.ones(s);
      }
      return { params: { features: phi, classifier: theta }, state };
    },
    features,
    classify,
    apply: composeApply(features, classify),
  };
}
