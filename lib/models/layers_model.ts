/**
 * Use your own `tf.LayersModel` (from `@tensorflow/tfjs-layers`) with the
 * project's optimizers (SGD, SAM, PoF): {@link fromLayersModel} reads its
 * weights into explicit parameter trees and interprets its layers as a
 * functional forward pass split into features (phi) and classifier (theta);
 * {@link writeBack} copies trained parameters and BatchNorm statistics back
 * into the model, which you can then `save()` as usual.
 *
 * Supported topologies: a single chain (each layer has one input and one
 * output; `tf.sequential` or a linear `tf.model`). Supported layers:
 * InputLayer, Dense, Conv2D (channelsLast), BatchNormalization (last axis),
 * Activation, ReLU, LeakyReLU, Softmax, Flatten, Reshape,
 * GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D, AveragePooling2D,
 * and Dropout, which is the identity in this functional path (also in
 * training mode). Anything else is rejected with an error naming the layer.
 *
 * The split: every layer up to and including `featuresLayer` is the feature
 * extractor, whose output must be [batch, featureDim]. After it must come
 * exactly one Dense layer with a bias (the classifier, `{kernel, bias}`),
 * optionally followed by an `Activation("softmax")` / `Softmax` layer. A
 * softmax, as the Dense activation or as that last layer, is dropped: the
 * project's losses take logits.
 *
 * Parameters: `<layer name>.kernel` / `.bias` (Dense, Conv2D),
 * `<layer name>.gamma` / `.beta` (BatchNormalization); all of them count as
 * trainable here, whatever the layer's `trainable` flag. BatchNorm state:
 * `<layer name>.mean` / `.variance` (the moving statistics). In training
 * mode BatchNorm uses the layer's own epsilon and momentum (Keras momentum m
 * moves the statistics as PyTorch momentum 1 - m). The moving variance moves
 * with the unbiased batch variance (the project's convention, `model.ts`)
 * unless `bnUnbiasedVariance: false`, which reproduces tfjs-layers' own
 * training update (biased variance) exactly.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
import { leaf, type Params } from "../tree.ts";
import { batchNorm, dense } from "./layers.ts";
import {
  type ApplyOptions,
  type BnState,
  composeApply,
  type Model,
  type ModelParams,
} from "./model.ts";

type Layer = tfl.layers.Layer;
type Config = Record<string, unknown>;
type Act = (x: tf.Tensor) => tf.Tensor;

/** Activation names (tfjs-layers' serialised names) the functional path interprets. */
export const SUPPORTED_ACTIVATIONS: Record<string, Act> = {
  linear: (x) => x,
  relu: (x) => tf.relu(x),
  relu6: (x) => tf.relu6(x),
  elu: (x) => tf.elu(x),
  selu: (x) => tf.selu(x),
  sigmoid: (x) => tf.sigmoid(x),
  tanh: (x) => tf.tanh(x),
  softplus: (x) => tf.softplus(x),
  softsign: (x) => tf.div(x, tf.add(tf.abs(x), 1)),
  softmax: (x) => tf.softmax(x),
  swish: (x) => tf.mul(x, tf.sigmoid(x)),
};

/** Layer class names {@link fromLayersModel} interprets. */
export const SUPPORTED_LAYERS: readonly string[] = [
  "InputLayer",
  "Dense",
  "Conv2D",
  "BatchNormalization",
  "Activation",
  "ReLU",
  "LeakyReLU",
  "Softmax",
  "Flatten",
  "Reshape",
  "GlobalAveragePooling2D",
  "GlobalMaxPooling2D",
  "MaxPooling2D",
  "AveragePooling2D",
  "Dropout",
];

/** Options of {@link fromLayersModel}. */
export interface FromLayersModelOptions {
  /** Name of the last feature-extractor layer (e.g. the global pooling layer). */
  featuresLayer: string;
  /** Name for the resulting model (default: the LayersModel's name). */
  name?: string;
  /**
   * Move BatchNorm moving variances with the unbiased batch variance (default
   * true, as the project's own models); false matches tfjs-layers' `fit`.
   */
  bnUnbiasedVariance?: boolean;
}

/** A {@link Model} backed by a user's `tf.LayersModel`. */
export interface LayersModelAdapter extends Model {
  /** The wrapped model ({@link writeBack} writes into it). */
  readonly source: tfl.LayersModel;
  /** The split layer's name. */
  readonly featuresLayer: string;
  /** Names of the feature layers in forward order, then the classifier's. */
  readonly layerNames: string[];
}

interface Step {
  layer: Layer;
  kind: string;
  config: Config;
  /** Present for layers with weights: parameter suffix per weight. */
  weights: { variable: tfl.LayerVariable; key: string; isState: boolean }[];
}

function className(layer: Layer): string {
  return layer.getClassName();
}

function activation(name: unknown, layer: Layer): Act {
  const key = typeof name === "string" ? name : "linear";
  const fn = SUPPORTED_ACTIVATIONS[key];
  if (!fn) {
    throw new Error(
      `fromLayersModel: layer "${layer.name}" uses activation "${key}", which is not supported (supported: ${
        Object.keys(SUPPORTED_ACTIVATIONS).join(", ")
      })`,
    );
  }
  return fn;
}

/** The layers of a single-chain model from its input to its output. */
function chainOf(model: tfl.LayersModel): Layer[] {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new Error(
      `fromLayersModel: the model must have one input and one output, got ${model.inputs.length} inputs and ${model.outputs.length} outputs`,
    );
  }
  const chain: Layer[] = [];
  let t = model.outputs[0];
  while (className(t.sourceLayer) !== "InputLayer") {
    if (t.inputs.length !== 1) {
      throw new Error(
        `fromLayersModel: only single-chain topologies are supported, but layer "${t.sourceLayer.name}" (${
          className(t.sourceLayer)
        }) takes ${t.inputs.length} inputs`,
      );
    }
    chain.unshift(t.sourceLayer);
    t = t.inputs[0];
  }
  if (t !== model.inputs[0]) {
    throw new Error(
      `fromLayersModel: the output does not lead back to the model's input "${
        model.inputs[0].name
      }" along a single chain`,
    );
  }
  return chain;
}

function weightKey(variable: tfl.LayerVariable): string {
  const parts = variable.originalName.split("/");
  return parts[parts.length - 1];
}

function describe(layer: Layer): Step {
  const kind = className(layer);
  if (!SUPPORTED_LAYERS.includes(kind)) {
    throw new Error(
      `fromLayersModel: layer "${layer.name}" has unsupported type ${kind} (supported: ${
        SUPPORTED_LAYERS.join(", ")
      })`,
    );
  }
  const config = layer.getConfig() as Config;
  const weights: Step["weights"] = [];
  const rename: Record<string, [string, boolean]> =
    kind === "BatchNormalization"
      ? {
        gamma: ["gamma", false],
        beta: ["beta", false],
        moving_mean: ["mean", true],
        moving_variance: ["variance", true],
      }
      : { kernel: ["kernel", false], bias: ["bias", false] };
  for (const variable of layer.weights) {
    const r = rename[weightKey(variable)];
    if (!r) {
      throw new Error(
        `fromLayersModel: layer "${layer.name}" (${kind}) has an unexpected weight "${variable.originalName}"`,
      );
    }
    weights.push({ variable, key: `${layer.name}.${r[0]}`, isState: r[1] });
  }
  if (kind === "Conv2D" && config.dataFormat === "channelsFirst") {
    throw new Error(
      `fromLayersModel: layer "${layer.name}" is channelsFirst; only channelsLast (NHWC) is supported`,
    );
  }
  if (
    (kind === "MaxPooling2D" || kind === "AveragePooling2D" ||
      kind === "GlobalAveragePooling2D" || kind === "GlobalMaxPooling2D" ||
      kind === "Flatten") && config.dataFormat === "channelsFirst"
  ) {
    throw new Error(
      `fromLayersModel: layer "${layer.name}" is channelsFirst; only channelsLast (NHWC) is supported`,
    );
  }
  if (kind === "BatchNormalization") {
    const rank = (layer.input as tfl.SymbolicTensor).shape.length;
    const axis = config.axis;
    if (!(axis === -1 || axis === rank - 1)) {
      throw new Error(
        `fromLayersModel: BatchNormalization "${layer.name}" normalises axis ${
          JSON.stringify(axis)
        }; only the last (channel) axis is supported`,
      );
    }
  }
  if (kind === "Dense" || kind === "Conv2D" || kind === "Activation") {
    activation(config.activation, layer); // validates early
  }
  return { layer, kind, config, weights };
}

function pair(v: unknown): [number, number] {
  return Array.isArray(v) ? [v[0], v[1]] : [v as number, v as number];
}

function runStep(
  step: Step,
  x: tf.Tensor,
  phi: Params,
  state: BnState,
  newState: BnState,
  o: ApplyOptions,
  unbiasedVariance: boolean,
): tf.Tensor {
  const { layer, kind, config: c } = step;
  const n = layer.name;
  switch (kind) {
    case "InputLayer":
    case "Dropout":
      return x;
    case "Dense": {
      const kernel = leaf(phi, `${n}.kernel`);
      const bias = c.useBias ? leaf(phi, `${n}.bias`) : undefined;
      let y: tf.Tensor;
      if (x.rank === 2) {
        y = dense(x as tf.Tensor2D, kernel as tf.Tensor2D, bias as tf.Tensor1D);
      } else {
        const flat = tf.reshape(x, [-1, x.shape[x.rank - 1]]) as tf.Tensor2D;
        y = tf.reshape(
          dense(flat, kernel as tf.Tensor2D, bias as tf.Tensor1D),
          [...x.shape.slice(0, -1), kernel.shape[1] as number],
        );
      }
      return activation(c.activation, layer)(y);
    }
    case "Conv2D": {
      const kernel = leaf(phi, `${n}.kernel`) as tf.Tensor4D;
      let y: tf.Tensor = tf.conv2d(
        x as tf.Tensor4D,
        kernel,
        pair(c.strides),
        c.padding as "same" | "valid",
        "NHWC",
        pair(c.dilationRate ?? 1),
      );
      if (c.useBias) y = tf.add(y, leaf(phi, `${n}.bias`));
      return activation(c.activation, layer)(y);
    }
    case "BatchNormalization": {
      const ch = x.shape[x.rank - 1];
      const r = batchNorm(
        x,
        {
          gamma: c.scale === false ? tf.ones([ch]) : leaf(phi, `${n}.gamma`),
          beta: c.center === false ? tf.zeros([ch]) : leaf(phi, `${n}.beta`),
        },
        {
          mean: leaf(state, `${n}.mean`),
          variance: leaf(state, `${n}.variance`),
        },
        {
          ...o,
          epsilon: c.epsilon as number,
          momentum: 1 - (c.momentum as number),
          unbiasedVariance,
        },
      );
      newState[`${n}.mean`] = r.mean;
      newState[`${n}.variance`] = r.variance;
      return r.y;
    }
    case "Activation":
      return activation(c.activation, layer)(x);
    case "ReLU": {
      const y = tf.relu(x);
      return typeof c.maxValue === "number" ? tf.minimum(y, c.maxValue) : y;
    }
    case "LeakyReLU":
      return tf.leakyRelu(x, c.alpha as number);
    case "Softmax":
      return tf.softmax(x, (c.axis as number | undefined) ?? -1);
    case "Flatten":
      return tf.reshape(x, [x.shape[0], -1]);
    case "Reshape":
      return tf.reshape(x, [x.shape[0], ...(c.targetShape as number[])]);
    case "GlobalAveragePooling2D":
      return tf.mean(x, [1, 2]);
    case "GlobalMaxPooling2D":
      return tf.max(x, [1, 2]);
    case "MaxPooling2D":
    case "AveragePooling2D": {
      const size = pair(c.poolSize);
      const strides = pair(c.strides ?? c.poolSize);
      const pad = c.padding as "same" | "valid";
      return kind === "MaxPooling2D"
        ? tf.maxPool(x as tf.Tensor4D, size, strides, pad)
        : tf.avgPool(x as tf.Tensor4D, size, strides, pad);
    }
  }
  throw new Error(`fromLayersModel: unhandled layer type ${kind}`);
}

function perExampleMultiplyAdds(step: Step): number {
  const out = step.layer.outputShape as (number | null)[];
  const spatial = out.slice(1, -1).reduce<number>((a, d) => a * (d ?? 1), 1);
  if (step.kind === "Dense" || step.kind === "Conv2D") {
    const kernel = step.weights.find((w) => w.key.endsWith(".kernel"));
    return kernel
      ? spatial *
        kernel.variable.shape.reduce<number>((a, b) => a * (b ?? 1), 1)
      : 0;
  }
  return 0;
}

/**
 * Wraps a single-chain `tf.LayersModel` as a functional {@link Model} split
 * at `featuresLayer` (see the module documentation for what is supported).
 *
 * `init(rng)` ignores `rng`: it returns copies of the wrapped model's current
 * weights and moving statistics (your model carries its own initialisation).
 * `multiplyAdds` counts the Dense and Conv2D layers per example.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
 * import { Rng } from "../rng.ts";
 * import { fromLayersModel } from "./layers_model.ts";
 * const net = tfl.sequential({ layers: [
 *   tfl.layers.dense({ units: 8, activation: "relu", inputShape: [4], name: "hidden" }),
 *   tfl.layers.dense({ units: 3, activation: "softmax", name: "out" }),
 * ] });
 * const model = fromLayersModel(net, { featuresLayer: "hidden" });
 * const { params, state } = model.init(new Rng(0));
 * const { logits } = model.apply(params, state, tf.ones([2, 4]), { train: false });
 * if (logits.shape.join() !== "2,3" || model.featureDim !== 8) throw new Error();
 * ```
 */
export function fromLayersModel(
  model: tfl.LayersModel,
  options: FromLayersModelOptions,
): LayersModelAdapter {
  const chain = chainOf(model);
  const split = chain.findIndex((l) => l.name === options.featuresLayer);
  if (split < 0) {
    throw new Error(
      `fromLayersModel: no layer named "${options.featuresLayer}" on the model's path (layers: ${
        chain.map((l) => l.name).join(", ")
      })`,
    );
  }
  const head = chain.slice(split + 1);
  const headOk = head.length >= 1 && className(head[0]) === "Dense" &&
    (head.length === 1 ||
      (head.length === 2 &&
        ((className(head[1]) === "Activation" &&
          (head[1].getConfig() as Config).activation === "softmax") ||
          className(head[1]) === "Softmax")));
  if (!headOk) {
    throw new Error(
      `fromLayersModel: after the features layer "${options.featuresLayer}" the model must have exactly one Dense layer ` +
        `(optionally followed by a softmax), got [${
          head.map((l) => `${l.name} (${className(l)})`).join(", ")
        }]`,
    );
  }
  const cls = head[0];
  const clsConfig = cls.getConfig() as Config;
  if (!clsConfig.useBias) {
    throw new Error(
      `fromLayersModel: the classifier Dense layer "${cls.name}" must have a bias (useBias: true), got useBias ${clsConfig.useBias}`,
    );
  }
  if (clsConfig.activation !== "linear" && clsConfig.activation !== "softmax") {
    throw new Error(
      `fromLayersModel: the classifier Dense layer "${cls.name}" must have a linear or softmax activation, got "${clsConfig.activation}"`,
    );
  }
  const featShape = chain[split].outputShape as (number | null)[];
  if (featShape.length !== 2 || typeof featShape[1] !== "number") {
    throw new Error(
      `fromLayersModel: the features layer "${options.featuresLayer}" must output [batch, featureDim], got [${featShape}]`,
    );
  }
  const steps = chain.slice(0, split + 1).map(describe);
  const clsStep = describe(cls);
  const inShape = model.inputs[0].shape.slice(1);
  if (!inShape.every((d) => typeof d === "number")) {
    throw new Error(
      `fromLayersModel: the model's input shape must be fully defined, got [${
        model.inputs[0].shape
      }]`,
    );
  }
  const featureDim = featShape[1];
  const unbiasedVariance = options.bnUnbiasedVariance ?? true;
  const numClasses = clsConfig.units as number;
  const multiplyAdds = [...steps, clsStep].reduce(
    (a, s) => a + perExampleMultiplyAdds(s),
    0,
  );

  const features = (
    phi: Params,
    state: BnState,
    x: tf.Tensor,
    o: ApplyOptions,
  ): { features: tf.Tensor2D; state: BnState } => {
    if (
      x.rank !== inShape.length + 1 ||
      inShape.some((d, i) => x.shape[i + 1] !== d)
    ) {
      throw new Error(
        `${name}: input must be [batch, ${inShape}], got [${x.shape}]`,
      );
    }
    return tf.tidy(() => {
      const newState: BnState = {};
      let y = x;
      for (const s of steps) {
        y = runStep(s, y, phi, state, newState, o, unbiasedVariance);
      }
      return { features: y as tf.Tensor2D, state: newState };
    });
  };
  const classify = (theta: Params, f: tf.Tensor2D): tf.Tensor2D =>
    dense(
      f,
      leaf(theta, "kernel") as tf.Tensor2D,
      leaf(theta, "bias") as tf.Tensor1D,
    );

  const name = options.name ?? model.name;
  return {
    name,
    inputShape: inShape as number[],
    numClasses,
    featureDim,
    multiplyAdds,
    source: model,
    featuresLayer: options.featuresLayer,
    layerNames: [...steps.map((s) => s.layer.name), cls.name],
    init() {
      const phi: Params = {}, state: BnState = {};
      for (const s of steps) {
        for (const w of s.weights) {
          (w.isState ? state : phi)[w.key] = tf.clone(w.variable.read());
        }
      }
      const theta: Params = {};
      for (const w of clsStep.weights) {
        theta[w.key.slice(cls.name.length + 1)] = tf.clone(w.variable.read());
      }
      return { params: { features: phi, classifier: theta }, state };
    },
    features,
    classify,
    apply: composeApply(features, classify),
  };
}

/**
 * Copies trained parameters and BatchNorm statistics into the adapter's
 * `tf.LayersModel` (in place) and returns that model, ready to `save()`.
 * Every weight of the wrapped layers must be present with its shape; the
 * model's variables share the given tensors' data (disposing them afterwards
 * is safe).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
 * import { Rng } from "../rng.ts";
 * import { fromLayersModel, writeBack } from "./layers_model.ts";
 * const net = tfl.sequential({ layers: [
 *   tfl.layers.dense({ units: 2, inputShape: [2], name: "f" }),
 *   tfl.layers.dense({ units: 2, name: "c" }),
 * ] });
 * const model = fromLayersModel(net, { featuresLayer: "f" });
 * const { params, state } = model.init(new Rng(0));
 * const zeroed = { features: params.features, classifier: { kernel: tf.zeros([2, 2]), bias: tf.ones([2]) } };
 * writeBack(model, { params: zeroed, state });
 * const out = net.predict(tf.ones([1, 2])) as tf.Tensor;
 * if (out.dataSync().join() !== "1,1") throw new Error();
 * ```
 */
export function writeBack(
  adapter: LayersModelAdapter,
  trained: { params: ModelParams; state: BnState },
): tfl.LayersModel {
  const model = adapter.source;
  const layers = adapter.layerNames.map((n) => model.getLayer(n));
  const clsName = adapter.layerNames[adapter.layerNames.length - 1];
  const writes: [tfl.LayerVariable, tf.Tensor][] = [];
  for (const layer of layers) {
    for (const w of describe(layer).weights) {
      const t = layer.name === clsName
        ? trained.params.classifier[w.key.slice(clsName.length + 1)]
        : (w.isState ? trained.state : trained.params.features)[w.key];
      if (t === undefined) {
        throw new Error(
          `writeBack: no value for weight "${w.key}" of layer "${layer.name}"`,
        );
      }
      if (t.shape.join() !== w.variable.shape.join()) {
        throw new Error(
          `writeBack: "${w.key}" must have shape [${w.variable.shape}], got [${t.shape}]`,
        );
      }
      writes.push([w.variable, t]);
    }
  }
  for (const [v, t] of writes) v.write(t);
  return model;
}
