/**
 * Training the toy models of the paper's Figs. 1 and 2 (the experiments
 * themselves are `toy_fig1.ts` and `toy_fig2.ts`, their multi-seed
 * summaries `toy_summaries.ts`).
 *
 * Setting (documented choices; the paper gives only "machine-generated toy
 * data" and "an MLP with 5 weight layers"):
 * - Data: `lib/data/teacher_mlp_data.ts` (16-d Gaussian inputs, 4 classes from a random
 *   teacher MLP, 5% label noise, 512 training / 8,192 test examples).
 * - Model: `mlp` with four hidden ReLU layers of width 64 (layers 1-4 = phi)
 *   and the linear classifier (layer 5 = theta).
 * - SGD: Nesterov momentum 0.9, batch 32, weight decay (default 5e-3),
 *   learning rate decayed x0.1 at 50% and 75% of the epochs. The "minimum" is
 *   thus a minimum of the *weight-decay-regularised* loss: without weight
 *   decay SGD drives the training loss and every Hessian block to ~0 and the
 *   curvature figures are degenerate.
 * - PoF: from the SGD minimum, `pofMethod` on phi only (theta0 frozen),
 *   gamma ~ U[0, 2], weak batch 32, update batch 32, xi* capped at `maxXi`.
 * - Both are trained epoch by epoch by the runner's `trainEpoch`.
 * - Curvature is always that of the *data* loss (mean cross-entropy, no
 *   weight-decay term; adding it would shift every eigenvalue by the decay
 *   and leave the eigenvectors unchanged).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { Rng } from "../rng.ts";
import { disposeTree } from "../tree.ts";
import {
  type ToyData,
  toyData,
  type ToyDataOptions,
} from "../data/teacher_mlp_data.ts";
import { mlp } from "../models/mlp.ts";
import type { Model, ModelParams } from "../models/model.ts";
import { countErrors, softmaxCrossEntropy } from "../models/loss.ts";
import { sgdMethod } from "../optim/sgd.ts";
import { pofMethod } from "../optim/pof.ts";
import type { Method, TrainState } from "../optim/method.ts";
import type { Batch } from "../data/batch.ts";
import { arrayTrainData } from "../data/array_data.ts";
import { NonFiniteLossError, trainEpoch } from "../train/loop.ts";
import type { PresetName } from "../preset_name.ts";
import { ClassifierCurvature, classifierVector } from "./classifier_hessian.ts";
import { featuresOf } from "../models/model.ts";

/** How the toy models are trained. */
export interface ToyTrainingConfig {
  data: ToyDataOptions;
  /** Hidden widths of the MLP (4 hidden + classifier = 5 weight layers). */
  hidden: number[];
  /** Update batch size (SGD and PoF). */
  batchSize: number;
  sgd: {
    epochs: number;
    lr: number;
    momentum: number;
    weightDecay: number;
    /** Fractions of `epochs` at which the learning rate is multiplied by `decayFactor`. */
    decayAt: number[];
    decayFactor: number;
  };
  pof: {
    /** PoF epochs after SGD (0: no PoF model). */
    epochs: number;
    /** Feature-extractor learning rate. */
    lr: number;
    weightDecay: number;
    weakBatchSize: number;
    /** gamma ~ U[0, gammaMax]. */
    gammaMax: number;
    /** Cap on xi* (unbounded xi* made PoF diverge on the toy task). */
    maxXi: number;
  };
}

/** The preset names the toy figures know (the project's {@link PresetName}). */
export type ToyPresetName = PresetName;

/**
 * The training settings of a preset: `paper` = full sizes (512 / 8,192,
 * 300 SGD epochs, 100 PoF epochs), `quick` (same data, 150 + 50 epochs),
 * `smoke` (tiny, seconds; for tests).
 *
 * @example
 * ```ts
 * import { toyTrainingConfig } from "./toy_training.ts";
 * const c = toyTrainingConfig("quick");
 * if (c.hidden.length !== 4 || c.data.trainSize !== 512) throw new Error();
 * ```
 */
export function toyTrainingConfig(preset: ToyPresetName): ToyTrainingConfig {
  const base: ToyTrainingConfig = {
    data: {
      inputDim: 16,
      numClasses: 4,
      trainSize: 512,
      testSize: 8192,
      labelNoise: 0.05,
    },
    hidden: [64, 64, 64, 64],
    batchSize: 32,
    sgd: {
      epochs: 300,
      lr: 0.01,
      momentum: 0.9,
      weightDecay: 5e-3,
      decayAt: [0.5, 0.75],
      decayFactor: 0.1,
    },
    pof: {
      epochs: 100,
      lr: 1e-3,
      weightDecay: 5e-3,
      weakBatchSize: 32,
      gammaMax: 2,
      maxXi: 20,
    },
  };
  if (preset === "paper") return base;
  if (preset === "quick") {
    return {
      ...base,
      sgd: { ...base.sgd, epochs: 150 },
      pof: { ...base.pof, epochs: 50 },
    };
  }
  if (preset === "smoke") {
    return {
      ...base,
      data: { ...base.data, trainSize: 128, testSize: 512 },
      hidden: [16, 16, 16, 16],
      sgd: { ...base.sgd, epochs: 20 },
      pof: { ...base.pof, epochs: 5 },
    };
  }
  throw new RangeError(
    `unknown toy preset "${preset}"; valid: smoke, quick, paper`,
  );
}

/** Progress and seed of one experiment. */
export interface ToyRunOptions {
  seed: number;
  onProgress?: (line: string) => void;
}

/** Loss and error of a model on a set. */
export interface SetMetrics {
  loss: number;
  error: number;
}

/** A trained toy model and its metrics. */
export interface ToyTrained {
  params: ModelParams;
  train: SetMetrics;
  test: SetMetrics;
}

/** What {@link trainToyModels} returns; the caller disposes the parameters. */
export interface ToyModels {
  model: Model;
  data: ToyData;
  sgd: ToyTrained;
  /** Absent when `pof.epochs` is 0. */
  pof?: ToyTrained;
}

function toBatch(
  d: { x: Float32Array; y: Int32Array; inputShape: number[] },
  from: number,
  to: number,
): Batch {
  const dim = d.inputShape[0];
  return {
    x: tf.tensor2d(d.x.slice(from * dim, to * dim), [to - from, dim]),
    y: tf.tensor1d(d.y.slice(from, to), "int32"),
  };
}

/**
 * Mean loss and error of `params` on a dataset, in chunks of 2,048.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * import { Rng } from "../rng.ts";
 * import { toyData } from "../data/teacher_mlp_data.ts";
 * import { mlp } from "../models/mlp.ts";
 * import { evaluateToy } from "./toy_training.ts";
 * await useBackend("cpu");
 * const d = toyData(new Rng(0), { trainSize: 8, testSize: 64 });
 * const model = mlp({ inputDim: 16, numClasses: 4 });
 * const m = evaluateToy(model, model.init(new Rng(1)).params, d.test);
 * if (!(m.loss > 0 && m.error >= 0 && m.error <= 1)) throw new Error();
 * ```
 */
export function evaluateToy(
  model: Model,
  params: ModelParams,
  set: { x: Float32Array; y: Int32Array; n: number; inputShape: number[] },
): SetMetrics {
  let loss = 0, errors = 0;
  for (let i = 0; i < set.n; i += 2048) {
    const j = Math.min(set.n, i + 2048);
    const b = toBatch(set, i, j);
    tf.tidy(() => {
      const out = model.apply(params, {}, b.x, { train: false });
      loss += softmaxCrossEntropy(out.logits, b.y).dataSync()[0] * (j - i);
      errors += countErrors(out.logits, b.y);
    });
    b.x.dispose();
    b.y.dispose();
  }
  return { loss: loss / set.n, error: errors / set.n };
}

function trainWith(
  model: Model,
  method: Method,
  params: ModelParams,
  data: ToyData,
  epochs: number,
  batchSize: number,
  weakBatchSize: number | undefined,
  rng: Rng,
  label: string,
  onProgress?: (line: string) => void,
): ModelParams {
  const loader = arrayTrainData(data.train, {
    batchSize,
    weakBatchSize,
    rng: rng.fork("loader"),
  });
  const stepRng = rng.fork("steps");
  let state: TrainState = { params, bn: {}, opt: method.initOpt(params) };
  for (let e = 0; e < epochs; e++) {
    let r;
    try {
      r = trainEpoch(state, {
        model,
        method,
        data: loader,
        epoch: e,
        rng: stepRng,
      });
    } catch (err) {
      if (err instanceof NonFiniteLossError) {
        throw new Error(`${label}: ${err.message}`);
      }
      throw err;
    }
    state = r.state;
    if (onProgress && ((e + 1) % 25 === 0 || e + 1 === epochs)) {
      onProgress(
        `${label} epoch ${e + 1}/${epochs}: batch loss ${
          r.record.trainLoss.toFixed(4)
        }`,
      );
    }
  }
  for (const slot of Object.values(state.opt.slots)) disposeTree(slot);
  return state.params;
}

/**
 * Trains the SGD minimum and (if `pof.epochs > 0`) PoF from it, from `seed`.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * import { toyTrainingConfig, trainToyModels } from "./toy_training.ts";
 * await useBackend("cpu");
 * const c = toyTrainingConfig("smoke");
 * const r = trainToyModels({ ...c, sgd: { ...c.sgd, epochs: 2 }, pof: { ...c.pof, epochs: 1 } }, { seed: 0 });
 * if (!r.pof || !(r.sgd.test.loss > 0)) throw new Error();
 * ```
 */
export function trainToyModels(
  config: ToyTrainingConfig,
  options: ToyRunOptions,
): ToyModels {
  const rng = new Rng(options.seed);
  const data = toyData(rng.fork("data"), config.data);
  const model = mlp({
    inputDim: data.train.inputShape[0],
    hidden: config.hidden,
    numClasses: data.train.numClasses,
  });
  const init = model.init(rng.fork("init")).params;
  const steps = Math.floor(data.train.n / config.batchSize);
  const s = config.sgd;
  const milestones = s.decayAt.map((f) => Math.round(f * s.epochs) * steps);
  const sgd = sgdMethod({
    lr: (count: number) =>
      s.lr * s.decayFactor ** milestones.filter((m) => count >= m).length,
    momentum: s.momentum,
    nesterov: true,
    weightDecay: s.weightDecay,
  });
  const sgdParams = trainWith(
    model,
    sgd,
    init,
    data,
    s.epochs,
    config.batchSize,
    undefined,
    rng.fork("sgd"),
    "SGD",
    options.onProgress,
  );
  const sgdResult: ToyTrained = {
    params: sgdParams,
    train: evaluateToy(model, sgdParams, data.train),
    test: evaluateToy(model, sgdParams, data.test),
  };
  options.onProgress?.(
    `SGD minimum: train loss ${sgdResult.train.loss.toFixed(4)} error ${
      (100 * sgdResult.train.error).toFixed(1)
    }%, test loss ${sgdResult.test.loss.toFixed(4)} error ${
      (100 * sgdResult.test.error).toFixed(1)
    }%`,
  );
  if (config.pof.epochs <= 0) return { model, data, sgd: sgdResult };
  const p = config.pof;
  const pof = pofMethod({
    lr: p.lr,
    momentum: s.momentum,
    nesterov: true,
    weightDecay: p.weightDecay,
    gamma: { kind: "uniform", low: 0, high: p.gammaMax },
    lineSearch: { maxXi: p.maxXi },
  });
  const start: ModelParams = {
    features: Object.fromEntries(
      Object.entries(sgdParams.features).map(([k, v]) => [k, tf.clone(v)]),
    ),
    classifier: Object.fromEntries(
      Object.entries(sgdParams.classifier).map(([k, v]) => [k, tf.clone(v)]),
    ),
  };
  const pofParams = trainWith(
    model,
    pof,
    start,
    data,
    p.epochs,
    config.batchSize,
    p.weakBatchSize,
    rng.fork("pof"),
    "PoF",
    options.onProgress,
  );
  const pofResult: ToyTrained = {
    params: pofParams,
    train: evaluateToy(model, pofParams, data.train),
    test: evaluateToy(model, pofParams, data.test),
  };
  options.onProgress?.(
    `PoF: train loss ${pofResult.train.loss.toFixed(4)} error ${
      (100 * pofResult.train.error).toFixed(1)
    }%, test loss ${pofResult.test.loss.toFixed(4)} error ${
      (100 * pofResult.test.error).toFixed(1)
    }%`,
  );
  return { model, data, sgd: sgdResult, pof: pofResult };
}

/**
 * The feature-extractor output phi(x) of every example of `set`, row-major
 * (`set.n` x `model.featureDim`), in chunks of 2,048 (inference mode).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * import { Rng } from "../rng.ts";
 * import { toyData } from "../data/teacher_mlp_data.ts";
 * import { mlp } from "../models/mlp.ts";
 * import { toyFeatures } from "./toy_training.ts";
 * await useBackend("cpu");
 * const d = toyData(new Rng(0), { trainSize: 8, testSize: 8 });
 * const model = mlp({ inputDim: 16, hidden: [6], numClasses: 4 });
 * if (toyFeatures(model, model.init(new Rng(1)).params, d.test).length !== 8 * 6) throw new Error();
 * ```
 */
export function toyFeatures(
  model: Model,
  params: ModelParams,
  set: { x: Float32Array; y: Int32Array; n: number; inputShape: number[] },
): Float32Array {
  const out = new Float32Array(set.n * model.featureDim);
  for (let i = 0; i < set.n; i += 2048) {
    const j = Math.min(set.n, i + 2048);
    const b = toBatch(set, i, j);
    const f = featuresOf(model, params, {}, b.x);
    out.set(f.dataSync(), i * model.featureDim);
    f.dispose();
    b.x.dispose();
    b.y.dispose();
  }
  return out;
}

/**
 * The classifier curvature of a model on a whole set (exact, float64).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * import { Rng } from "../rng.ts";
 * import { toyData } from "../data/teacher_mlp_data.ts";
 * import { mlp } from "../models/mlp.ts";
 * import { classifierCurvatureOn } from "./toy_training.ts";
 * await useBackend("cpu");
 * const d = toyData(new Rng(0), { trainSize: 8, testSize: 8 });
 * const model = mlp({ inputDim: 16, hidden: [6], numClasses: 4 });
 * if (classifierCurvatureOn(model, model.init(new Rng(1)).params, d.test).size !== 7 * 4) throw new Error();
 * ```
 */
export function classifierCurvatureOn(
  model: Model,
  params: ModelParams,
  set: { x: Float32Array; y: Int32Array; n: number; inputShape: number[] },
): ClassifierCurvature {
  return new ClassifierCurvature(
    toyFeatures(model, params, set),
    set.y,
    classifierVector(params.classifier),
    { dim: model.featureDim, numClasses: model.numClasses },
  );
}
