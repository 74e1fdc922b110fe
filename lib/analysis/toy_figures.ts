/**
 * The toy experiments of the paper's Figs. 1 and 2, as library functions
 * `(config, {seed, onProgress}) -> result JSON` (the `repro/targets/fig1.ts`
 * and `fig2.ts` wrappers only choose the config and write files).
 *
 * Setting (documented choices; the paper gives only "machine-generated toy
 * data" and "an MLP with 5 weight layers"):
 * - Data: `lib/data/toy.ts` (16-d Gaussian inputs, 4 classes from a random
 *   teacher MLP, 5% label noise, 512 training / 8,192 test examples).
 * - Model: `mlp` with four hidden ReLU layers of width 64 (layers 1-4 = phi)
 *   and the linear classifier (layer 5 = theta).
 * - SGD: Nesterov momentum 0.9, batch 32, weight decay (default 5e-3),
 *   learning rate decayed x0.1 at 50% and 75% of the epochs. The "minimum" is
 *   thus a minimum of the *weight-decay-regularised* loss: without weight
 *   decay SGD drives the training loss and every Hessian block to ~0 and the
 *   curvature figures are degenerate (REFERENCE.md).
 * - PoF: from the SGD minimum, `pofMethod` on phi only (theta0 frozen),
 *   gamma ~ U[0, 2], weak batch 32, update batch 32, xi* capped at `maxXi`.
 * - Curvature is always that of the *data* loss (mean cross-entropy, no
 *   weight-decay term; adding it would shift every eigenvalue by the decay
 *   and leave the eigenvectors unchanged).
 *
 * Fig. 1(c), Delta L: for layer l, v_l = top eigenvector of the Hessian block
 * of the training loss w.r.t. layer l's kernel and bias (Lanczos on double-
 * backprop products for layers 1-4, exact dense eigendecomposition for the
 * classifier). With lambda_l its eigenvalue and the curvature length
 * `tau_l = deltaScale / sqrt(lambda_l)`, the test loss is evaluated at
 * `w_l + t v_l` for t on a symmetric grid of `deltaPoints` points in
 * [-tau_l, tau_l] (the region where the training loss rises by about
 * `deltaScale^2 / 2`), and so is the training loss. With t_train and t_test
 * the minimisers of the training and the test loss on that segment,
 * `Delta L = L_test(t_train) - L_test(t_test)`: the test loss the training
 * minimum of the sharpest direction gives away (the paper's Fig. 1(a, b)
 * picture of displaced train / test minima). `deltaLAtPoint =
 * L_test(0) - L_test(t_test)` measures it from the model's own parameters
 * instead, which differs for PoF (theta0 frozen while phi moved, so the
 * evaluated point is no longer a training minimum along v). Grid minima are
 * refined by `deltaRefine` golden-section steps on their two neighbouring
 * intervals.
 *
 * Fig. 1(d): training loss along the top `landscapeTopK` final-layer
 * eigenvectors of each model, on t in [-R, R] with R = `landscapeRange /
 * sqrt(lambda_1 of SGD)`, the same axis for both models. `flatWidth` is the
 * width of the interval around t = 0 where the loss stays below
 * `L(0) + flatThreshold`.
 *
 * Fig. 2 (SGD minimum only, as in the paper): (a) for `batches` training
 * mini-batches of 32, the rank i of the final-layer Hessian eigenvector
 * (full-training-set Hessian, all eigenpairs) with the largest
 * `|v_i . g_B|`; (b) xi*_B (Eq. 2, by `lineSearch` of `lib/optim`) on
 * `batches` training and `batches` test mini-batches.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { Rng } from "../rng.ts";
import { disposeTree } from "../tree.ts";
import { type ToyData, toyData, type ToyDataOptions } from "../data/toy.ts";
import { mlp } from "../models/mlp.ts";
import type { Model, ModelParams } from "../models/model.ts";
import { countErrors, softmaxCrossEntropy } from "../models/loss.ts";
import { sgdMethod } from "../optim/sgd.ts";
import { pofMethod } from "../optim/pof.ts";
import { goldenSection } from "../optim/line_search.ts";
import type { Method, TrainState } from "../optim/method.ts";
import type { Batch } from "../data/batch.ts";
import { arrayTrainData } from "../data/array_data.ts";
import {
  type BlockObjective,
  hessianVectorProduct,
  modelBlockObjective,
} from "./hessian.ts";
import { ClassifierCurvature, classifierVector } from "./classifier_hessian.ts";
import { lanczosTopK, symmetricEigen } from "./eigen.ts";
import { lossAlongDirection } from "./landscape.ts";
import { pofXiStar } from "./checkpoint_stats.ts";

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

/** Fig. 1 settings on top of the training. */
export interface Fig1Config extends ToyTrainingConfig {
  /** Lanczos steps for the hidden-layer blocks. */
  lanczosSteps: number;
  /** kappa in tau = kappa / sqrt(lambda_1) (Delta L's range). */
  deltaScale: number;
  /** Grid points for Delta L (odd, so t = 0 is on it). */
  deltaPoints: number;
  /** Golden-section steps refining the grid minimum of Delta L. */
  deltaRefine: number;
  /** R = landscapeRange / sqrt(lambda_1 of SGD) for Fig. 1(d). */
  landscapeRange: number;
  landscapePoints: number;
  /** Final-layer eigenvectors in Fig. 1(d). */
  landscapeTopK: number;
  /** Loss rise that delimits the flat region. */
  flatThreshold: number;
}

/** Fig. 2 settings on top of the training. */
export interface Fig2Config extends ToyTrainingConfig {
  /** Mini-batches per histogram (train and test each). */
  batches: number;
  /** Mini-batch size for the gradients and xi* (paper's weak batch: 32). */
  miniBatch: number;
  /** Cap on xi* for the line search. */
  maxXi: number;
  /**
   * Gradient aligned with the eigenvectors in Fig. 2(a): `"regularised"`
   * (g_B + weightDecay theta0, the gradient of the objective SGD minimised,
   * whose full-set mean is ~0 at the minimum) or `"data"` (g_B alone, whose
   * full-set mean is -weightDecay theta0, a common offset of every batch).
   */
  alignGradient: "regularised" | "data";
}

/** The preset names the toy figures know. */
export type ToyPresetName = "smoke" | "quick" | "paper";

/**
 * The training settings of a preset: `paper` = full sizes (512 / 8,192,
 * 300 SGD epochs, 100 PoF epochs), `quick` (same data, 150 + 50 epochs),
 * `smoke` (tiny, seconds; for tests).
 *
 * @example
 * ```ts
 * import { toyTrainingConfig } from "./toy_figures.ts";
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

/**
 * Fig. 1 settings of a preset.
 *
 * @example
 * ```ts
 * import { fig1Config } from "./toy_figures.ts";
 * if (fig1Config("paper").deltaPoints % 2 !== 1) throw new Error();
 * ```
 */
export function fig1Config(preset: ToyPresetName): Fig1Config {
  return {
    ...toyTrainingConfig(preset),
    lanczosSteps: preset === "smoke" ? 12 : 40,
    deltaScale: 1,
    deltaRefine: preset === "smoke" ? 4 : 16,
    deltaPoints: preset === "smoke" ? 9 : preset === "quick" ? 21 : 41,
    landscapeRange: 4,
    landscapePoints: preset === "smoke" ? 11 : 61,
    landscapeTopK: 3,
    flatThreshold: 0.1,
  };
}

/**
 * Fig. 2 settings of a preset (paper: many mini-batches of 32).
 *
 * @example
 * ```ts
 * import { fig2Config } from "./toy_figures.ts";
 * if (fig2Config("paper").batches !== 1000) throw new Error();
 * ```
 */
export function fig2Config(preset: ToyPresetName): Fig2Config {
  const t = toyTrainingConfig(preset);
  return {
    ...t,
    pof: { ...t.pof, epochs: 0 },
    batches: preset === "smoke" ? 50 : preset === "quick" ? 400 : 1000,
    miniBatch: 32,
    maxXi: 1000,
    alignGradient: "regularised",
  };
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
 * import { toyData } from "../data/toy.ts";
 * import { mlp } from "../models/mlp.ts";
 * import { evaluateToy } from "./toy_figures.ts";
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
    loader.startEpoch(e);
    let lossSum = 0;
    for (let s = 0; s < loader.stepsPerEpoch; s++) {
      const batch = loader.next();
      const weak: Batch[] = [];
      const input = weakBatchSize === undefined ? { batch } : {
        batch,
        weakBatch: () => {
          const w = loader.weak!();
          weak.push(w);
          return w;
        },
      };
      const r = method.step(model, state, input, stepRng);
      state = r.state;
      lossSum += r.metrics.loss;
      batch.x.dispose();
      batch.y.dispose();
      for (const w of weak) {
        w.x.dispose();
        w.y.dispose();
      }
    }
    const mean = lossSum / loader.stepsPerEpoch;
    if (!Number.isFinite(mean)) {
      throw new Error(
        `${label}: training loss became ${mean} at epoch ${e + 1}`,
      );
    }
    if (onProgress && ((e + 1) % 25 === 0 || e + 1 === epochs)) {
      onProgress(
        `${label} epoch ${e + 1}/${epochs}: batch loss ${mean.toFixed(4)}`,
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
 * import { toyTrainingConfig, trainToyModels } from "./toy_figures.ts";
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

/** The parameter keys of weight layer `l` (1-based; the last is the classifier). */
function layerKeys(
  params: ModelParams,
  l: number,
  layers: number,
): { group: "features" | "classifier"; keys: string[] } {
  if (l === layers) return { group: "classifier", keys: ["kernel", "bias"] };
  const keys = [`layer${l}.kernel`, `layer${l}.bias`];
  for (const k of keys) {
    if (!(k in params.features)) {
      throw new Error(
        `toy figures expect mlp keys layer<i>.kernel/bias; missing "${k}" in [${
          Object.keys(params.features).join(", ")
        }]`,
      );
    }
  }
  return { group: "features", keys };
}

/**
 * The loss on `set` as a function of one weight layer's kernel and bias,
 * in chunks of `chunkSize` (double-backprop friendly).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * import { Rng } from "../rng.ts";
 * import { toyData } from "../data/toy.ts";
 * import { mlp } from "../models/mlp.ts";
 * import { objectiveLoss } from "./hessian.ts";
 * import { evaluateToy, layerObjective } from "./toy_figures.ts";
 * await useBackend("cpu");
 * const d = toyData(new Rng(0), { trainSize: 40, testSize: 8 });
 * const model = mlp({ inputDim: 16, numClasses: 4 });
 * const params = model.init(new Rng(1)).params;
 * const obj = layerObjective(model, params, d.train, 2, { chunkSize: 16 });
 * if (Math.abs(objectiveLoss(obj) - evaluateToy(model, params, d.train).loss) > 1e-5) throw new Error();
 * ```
 */
export function layerObjective(
  model: Model,
  params: ModelParams,
  set: { x: Float32Array; y: Int32Array; n: number; inputShape: number[] },
  layer: number,
  options: { chunkSize?: number } = {},
): BlockObjective {
  const layers =
    Object.keys(params.features).filter((k) => k.endsWith(".kernel")).length +
    1;
  if (!Number.isInteger(layer) || layer < 1 || layer > layers) {
    throw new RangeError(
      `layer must be an integer in [1, ${layers}], got ${layer}`,
    );
  }
  const { group, keys } = layerKeys(params, layer, layers);
  return modelBlockObjective(model, params, {}, set, {
    group,
    keys,
    chunkSize: options.chunkSize,
  });
}

function featuresOf(
  model: Model,
  params: ModelParams,
  set: { x: Float32Array; y: Int32Array; n: number; inputShape: number[] },
): Float32Array {
  const out = new Float32Array(set.n * model.featureDim);
  for (let i = 0; i < set.n; i += 2048) {
    const j = Math.min(set.n, i + 2048);
    const b = toBatch(set, i, j);
    const f = tf.tidy(() =>
      model.features(params.features, {}, b.x, { train: false }).features
    );
    out.set(f.dataSync(), i * model.featureDim);
    f.dispose();
    b.x.dispose();
    b.y.dispose();
  }
  return out;
}

/** The classifier curvature of a model on a whole set (exact, float64). */
function classifierCurvatureOn(
  model: Model,
  params: ModelParams,
  set: { x: Float32Array; y: Int32Array; n: number; inputShape: number[] },
): ClassifierCurvature {
  return new ClassifierCurvature(
    featuresOf(model, params, set),
    set.y,
    classifierVector(params.classifier),
    { dim: model.featureDim, numClasses: model.numClasses },
  );
}

/** A symmetric grid of `points` values on [-r, r]. */
function grid(r: number, points: number): number[] {
  return Array.from(
    { length: points },
    // symmetric by construction: the middle point is exactly 0
    (_, i) => points === 1 ? 0 : r * ((2 * i) / (points - 1) - 1),
  );
}

/** Width of the interval around t = 0 where loss <= L(0) + threshold (linear interpolation at the crossings). */
export function flatWidth(
  points: { t: number; loss: number }[],
  threshold: number,
): number {
  const i0 = points.findIndex((p) => p.t === 0);
  if (i0 < 0) throw new Error("flatWidth: the grid must contain t = 0");
  const level = points[i0].loss + threshold;
  const edge = (dir: 1 | -1): number => {
    let i = i0;
    while (
      i + dir >= 0 && i + dir < points.length && points[i + dir].loss <= level
    ) i += dir;
    if (i + dir < 0 || i + dir >= points.length) return points[i].t;
    const a = points[i], b = points[i + dir];
    return a.t + (b.t - a.t) * (level - a.loss) / (b.loss - a.loss);
  };
  return edge(1) - edge(-1);
}

/** One layer's row of Fig. 1(c). */
export interface Fig1LayerResult {
  layer: number;
  /**
   * `L_test(t_train) - min_t L_test(t)` along v: the test loss given away by
   * the training minimiser of the 1-D subspace (see the module doc).
   */
  deltaL: { sgd: number; pof: number };
  /** `L_test(0) - min_t L_test(t)`: the same measured from the model's own parameters. */
  deltaLAtPoint: { sgd: number; pof: number };
  /** Top eigenvalue of the layer's training-loss Hessian block. */
  lambda1: { sgd: number; pof: number };
  /** The grid half-width tau = deltaScale / sqrt(lambda1). */
  tau: { sgd: number; pof: number };
  /** t of the training-loss minimum along v (in [-tau, tau]). */
  tTrain: { sgd: number; pof: number };
  /** t of the test-loss minimum along v (in [-tau, tau]). */
  tTest: { sgd: number; pof: number };
}

/** The result of {@link runFig1} for one seed. */
export interface Fig1Result {
  seed: number;
  config: Fig1Config;
  metrics: {
    sgd: { train: SetMetrics; test: SetMetrics };
    pof: { train: SetMetrics; test: SetMetrics };
  };
  layers: Fig1LayerResult[];
  /** Training loss along the top final-layer eigenvector (Fig. 1(d)). */
  landscape: {
    sgd: { t: number; loss: number }[];
    pof: { t: number; loss: number }[];
  };
  /** Along the top `landscapeTopK` eigenvectors: `[k][point]`. */
  landscapeTopK: {
    sgd: { t: number; loss: number }[][];
    pof: { t: number; loss: number }[][];
  };
  /** Final-layer eigenvalues used for Fig. 1(d). */
  finalEigenvalues: { sgd: number[]; pof: number[] };
  /** flatWidth of each landscape curve (index k = eigenvector k+1). */
  flatWidth: { sgd: number[]; pof: number[] };
  seconds: number;
}

/**
 * Delta L from a grid curve of the test loss along v: the best grid point,
 * refined by golden-section search on its two neighbouring intervals
 * (`refine` evaluations of `loss`), so that a minimum between grid points is
 * not rounded to t = 0.
 */
function deltaAlong(
  curve: { t: number; loss: number }[],
  loss: (t: number) => number,
  refine: number,
): { deltaL: number; tStar: number } {
  const i0 = curve.findIndex((p) => p.t === 0);
  if (i0 < 0) throw new Error("deltaAlong: the grid must contain t = 0");
  let ib = 0;
  for (let i = 1; i < curve.length; i++) {
    if (curve[i].loss < curve[ib].loss) ib = i;
  }
  let best = curve[ib];
  const gs = goldenSection(
    loss,
    curve[Math.max(0, ib - 1)].t,
    curve[Math.min(curve.length - 1, ib + 1)].t,
    { maxIterations: refine },
  );
  if (gs.fx < best.loss) best = { t: gs.x, loss: gs.fx };
  return { deltaL: curve[i0].loss - best.loss, tStar: best.t };
}

/**
 * Fig. 1(c, d) for one seed (see the module doc for every definition).
 *
 * @example
 * ```ts ignore
 * import { fig1Config, runFig1 } from "./toy_figures.ts";
 * const r = runFig1(fig1Config("quick"), { seed: 0, onProgress: console.log });
 * console.log(r.layers.map((l) => [l.layer, l.deltaL.sgd, l.deltaL.pof]));
 * ```
 */
export function runFig1(
  config: Fig1Config,
  options: ToyRunOptions,
): Fig1Result {
  if (config.pof.epochs <= 0) {
    throw new RangeError(
      `runFig1 needs PoF epochs > 0, got ${config.pof.epochs}`,
    );
  }
  if (config.deltaPoints % 2 !== 1 || config.landscapePoints % 2 !== 1) {
    throw new RangeError(
      `deltaPoints and landscapePoints must be odd (t = 0 on the grid), got ${config.deltaPoints}, ${config.landscapePoints}`,
    );
  }
  const t0 = performance.now();
  const log = options.onProgress ?? (() => {});
  const trained = trainToyModels(config, options);
  const { model, data } = trained;
  const models = { sgd: trained.sgd, pof: trained.pof! };
  const layers = config.hidden.length + 1;
  const rng = new Rng(options.seed).fork("fig1-lanczos");
  const rows: Fig1LayerResult[] = [];
  const finalEig: Record<"sgd" | "pof", ReturnType<typeof symmetricEigen>> =
    {} as never;
  const curv: Record<"sgd" | "pof", ClassifierCurvature> = {} as never;
  const testCurv: Record<"sgd" | "pof", ClassifierCurvature> = {} as never;
  for (const m of ["sgd", "pof"] as const) {
    curv[m] = classifierCurvatureOn(model, models[m].params, data.train);
    testCurv[m] = classifierCurvatureOn(model, models[m].params, data.test);
    finalEig[m] = symmetricEigen(curv[m].dense(), curv[m].size);
  }
  for (let l = 1; l <= layers; l++) {
    const row = {
      layer: l,
      deltaL: { sgd: 0, pof: 0 },
      deltaLAtPoint: { sgd: 0, pof: 0 },
      lambda1: { sgd: 0, pof: 0 },
      tau: { sgd: 0, pof: 0 },
      tTrain: { sgd: 0, pof: 0 },
      tTest: { sgd: 0, pof: 0 },
    };
    for (const m of ["sgd", "pof"] as const) {
      const params = models[m].params;
      let lambda: number, v: Float64Array;
      if (l === layers) {
        lambda = finalEig[m].values[0];
        v = finalEig[m].vectors[0];
      } else {
        const obj = layerObjective(model, params, data.train, l);
        const size = Object.values(obj.params).reduce((n, t) => n + t.size, 0);
        const r = lanczosTopK((x) => hessianVectorProduct(obj, x), size, {
          k: 1,
          steps: config.lanczosSteps,
          rng: rng.fork(`${m}-${l}`),
        });
        lambda = r.values[0];
        v = r.vectors[0];
      }
      if (!(lambda > 0)) {
        throw new Error(
          `layer ${l} (${m}): top Hessian eigenvalue ${lambda} is not positive`,
        );
      }
      const tau = config.deltaScale / Math.sqrt(lambda);
      const ts = grid(tau, config.deltaPoints);
      const base = classifierVector(params.classifier);
      const lossAt = (set: "train" | "test", t: number): number =>
        l === layers
          ? (set === "train" ? curv : testCurv)[m].loss(
            base.map((b, i) => b + t * v[i]),
          )
          : lossAlongDirection(
            layerObjective(model, params, data[set], l),
            v,
            [t],
          )[0].loss;
      const curveOn = (set: "train" | "test") =>
        l === layers
          ? ts.map((t) => ({ t, loss: lossAt(set, t) }))
          : lossAlongDirection(
            layerObjective(model, params, data[set], l),
            v,
            ts,
          );
      const testCurve = curveOn("test");
      const te = deltaAlong(
        testCurve,
        (t) => lossAt("test", t),
        config.deltaRefine,
      );
      const tr = deltaAlong(
        curveOn("train"),
        (t) => lossAt("train", t),
        config.deltaRefine,
      );
      const test0 = testCurve[(ts.length - 1) / 2].loss;
      const testMin = test0 - te.deltaL;
      const testAtTrainMin = tr.tStar === 0 ? test0 : lossAt("test", tr.tStar);
      row.deltaL[m] = Math.max(0, testAtTrainMin - testMin);
      row.deltaLAtPoint[m] = te.deltaL;
      row.tTrain[m] = tr.tStar;
      row.tTest[m] = te.tStar;
      row.lambda1[m] = lambda;
      row.tau[m] = tau;
    }
    log(
      `layer ${l}: lambda1 SGD ${row.lambda1.sgd.toExponential(3)} PoF ${
        row.lambda1.pof.toExponential(3)
      }; ` +
        `Delta L SGD ${row.deltaL.sgd.toExponential(3)} PoF ${
          row.deltaL.pof.toExponential(3)
        }`,
    );
    rows.push(row);
  }
  const R = config.landscapeRange / Math.sqrt(finalEig.sgd.values[0]);
  const ts = grid(R, config.landscapePoints);
  const topK: Record<"sgd" | "pof", { t: number; loss: number }[][]> = {
    sgd: [],
    pof: [],
  };
  const widths: Record<"sgd" | "pof", number[]> = { sgd: [], pof: [] };
  for (const m of ["sgd", "pof"] as const) {
    const base = classifierVector(models[m].params.classifier);
    for (let k = 0; k < config.landscapeTopK; k++) {
      const v = finalEig[m].vectors[k];
      const curve = ts.map((t) => ({
        t,
        loss: curv[m].loss(base.map((b, i) => b + t * v[i])),
      }));
      topK[m].push(curve);
      widths[m].push(flatWidth(curve, config.flatThreshold));
    }
  }
  const result: Fig1Result = {
    seed: options.seed,
    config,
    metrics: {
      sgd: { train: models.sgd.train, test: models.sgd.test },
      pof: { train: models.pof.train, test: models.pof.test },
    },
    layers: rows,
    landscape: { sgd: topK.sgd[0], pof: topK.pof[0] },
    landscapeTopK: topK,
    finalEigenvalues: {
      sgd: finalEig.sgd.values.slice(0, config.landscapeTopK),
      pof: finalEig.pof.values.slice(0, config.landscapeTopK),
    },
    flatWidth: widths,
    seconds: (performance.now() - t0) / 1000,
  };
  disposeTree(models.sgd.params.features, models.sgd.params.classifier);
  disposeTree(models.pof.params.features, models.pof.params.classifier);
  return result;
}

/** The result of {@link runFig2} for one seed. */
export interface Fig2Result {
  seed: number;
  config: Fig2Config;
  metrics: { train: SetMetrics; test: SetMetrics };
  /** `eigIndexCounts[i]`: mini-batches whose gradient (`config.alignGradient`) aligns best with eigenvector i+1. */
  eigIndexCounts: number[];
  /** The same with each kind of gradient. */
  eigIndexCountsBy: { regularised: number[]; data: number[] };
  /** The final-layer eigenvalues (training set), descending. */
  eigenvalues: number[];
  /** |cos(g_B, v_1)| per training mini-batch (`config.alignGradient`). */
  cosTop: number[];
  xiTrain: number[];
  xiTest: number[];
  /** Batches whose line loss still fell at maxXi (xi* = maxXi), train / test. */
  unbracketed: { train: number; test: number };
  /** median(xiTest) / median(xiTrain). */
  medianRatio: number;
  seconds: number;
}

/** 1-based index of the largest count. */
function mode(counts: number[]): number {
  return counts.indexOf(Math.max(...counts)) + 1;
}

function median(a: number[]): number {
  const s = a.slice().sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

function batchCurvature(
  feats: Float32Array,
  labels: Int32Array,
  idx: Uint32Array,
  dim: number,
  numClasses: number,
  theta: Float64Array,
): ClassifierCurvature {
  const f = new Float32Array(idx.length * dim);
  const y = new Int32Array(idx.length);
  idx.forEach((j, i) => {
    f.set(feats.subarray(j * dim, (j + 1) * dim), i * dim);
    y[i] = labels[j];
  });
  return new ClassifierCurvature(f, y, theta, { dim, numClasses });
}

/**
 * Fig. 2(a, b) for one seed at the SGD minimum (see the module doc).
 *
 * @example
 * ```ts ignore
 * import { fig2Config, runFig2 } from "./toy_figures.ts";
 * const r = runFig2(fig2Config("quick"), { seed: 0 });
 * console.log(r.eigIndexCounts.slice(0, 5), r.medianRatio);
 * ```
 */
export function runFig2(
  config: Fig2Config,
  options: ToyRunOptions,
): Fig2Result {
  const t0 = performance.now();
  const trained = trainToyModels({
    ...config,
    pof: { ...config.pof, epochs: 0 },
  }, options);
  const { model, data } = trained;
  const params = trained.sgd.params;
  const dim = model.featureDim, C = model.numClasses;
  const theta = classifierVector(params.classifier);
  const trainF = featuresOf(model, params, data.train);
  const testF = featuresOf(model, params, data.test);
  const full = new ClassifierCurvature(trainF, data.train.y, theta, {
    dim,
    numClasses: C,
  });
  const eig = symmetricEigen(full.dense(), full.size);
  const counts = {
    regularised: new Array(full.size).fill(0),
    data: new Array(full.size).fill(0),
  };
  const cosTop: number[] = [];
  const xiTrain: number[] = [], xiTest: number[] = [];
  const unbracketed = { train: 0, test: 0 };
  const rng = new Rng(options.seed).fork("fig2-batches");
  const draw = (n: number) => {
    const idx = new Uint32Array(config.miniBatch);
    for (let i = 0; i < idx.length; i++) idx[i] = rng.int(n);
    return idx;
  };
  const wd = config.sgd.weightDecay;
  const align = (g: Float64Array, kind: "regularised" | "data") => {
    let best = 0, bestAbs = -1, gn = 0;
    for (const x of g) gn += x * x;
    gn = Math.sqrt(gn);
    for (let i = 0; i < eig.vectors.length; i++) {
      let d = 0;
      const v = eig.vectors[i];
      for (let j = 0; j < v.length; j++) d += v[j] * g[j];
      if (Math.abs(d) > bestAbs) {
        bestAbs = Math.abs(d);
        best = i;
      }
      if (i === 0 && kind === config.alignGradient) {
        cosTop.push(Math.abs(d) / gn);
      }
    }
    counts[kind][best]++;
  };
  for (let b = 0; b < config.batches; b++) {
    const c = batchCurvature(
      trainF,
      data.train.y,
      draw(data.train.n),
      dim,
      C,
      theta,
    );
    const r = pofXiStar(c, { maxXi: config.maxXi });
    xiTrain.push(r.xi);
    if (!r.bracketed) unbracketed.train++;
    align(r.gradient, "data");
    align(r.gradient.map((x, j) => x + wd * theta[j]), "regularised");
    const ct = batchCurvature(
      testF,
      data.test.y,
      draw(data.test.n),
      dim,
      C,
      theta,
    );
    const rt = pofXiStar(ct, { maxXi: config.maxXi });
    xiTest.push(rt.xi);
    if (!rt.bracketed) unbracketed.test++;
  }
  const result: Fig2Result = {
    seed: options.seed,
    config,
    metrics: { train: trained.sgd.train, test: trained.sgd.test },
    eigIndexCounts: counts[config.alignGradient],
    eigIndexCountsBy: counts,
    eigenvalues: eig.values,
    cosTop,
    xiTrain,
    xiTest,
    unbracketed,
    medianRatio: median(xiTest) / median(xiTrain),
    seconds: (performance.now() - t0) / 1000,
  };
  options.onProgress?.(
    `Fig. 2: mode of eigenvector index = ${mode(result.eigIndexCounts)} ` +
      `(counts of 1..5: ${result.eigIndexCounts.slice(0, 5).join(", ")}; ` +
      `data gradient: mode ${mode(counts.data)}); median xi* train ` +
      `${median(xiTrain).toPrecision(3)}, test ${
        median(xiTest).toPrecision(3)
      }, ` +
      `ratio ${result.medianRatio.toFixed(2)}`,
  );
  disposeTree(params.features, params.classifier);
  return result;
}

function meanOf(a: number[]): number {
  return a.reduce((s, x) => s + x, 0) / a.length;
}
function stdOf(a: number[]): number {
  if (a.length < 2) return 0;
  const m = meanOf(a);
  return Math.sqrt(a.reduce((s, x) => s + (x - m) ** 2, 0) / (a.length - 1));
}

/** Fig. 1 over several seeds: the `fig1.json` payload. */
export interface Fig1Summary {
  seeds: number[];
  config: Fig1Config;
  /** Per layer: mean Delta L over seeds, its std and the per-seed values. */
  layers: {
    layer: number;
    deltaL: { sgd: number; pof: number };
    deltaLStd: { sgd: number; pof: number };
    deltaLPerSeed: { sgd: number[]; pof: number[] };
    /** Mean over seeds of `deltaLAtPoint`. */
    deltaLAtPoint: { sgd: number; pof: number };
    lambda1PerSeed: { sgd: number[]; pof: number[] };
  }[];
  /** The first seed's Fig. 1(d) curves. */
  landscape: Fig1Result["landscape"];
  landscapeTopK: Fig1Result["landscapeTopK"];
  /** Flat-region width along eigenvector 1, per seed. */
  flatWidth: { sgd: number[]; pof: number[] };
  /** How many seeds show each of the paper's claims. */
  claims: {
    /** Delta L(SGD) of the final layer exceeds the mean over layers 1-4. */
    finalLayerLargest: number;
    /** Delta L(SGD) increases from layer 1 to the final layer (Spearman rho > 0 of layer vs Delta L). */
    increasingWithDepth: number;
    /** PoF's final-layer Delta L is below SGD's. */
    pofReducesFinalDeltaL: number;
    /** PoF's flat region along eigenvector 1 is wider than SGD's. */
    pofWiderFlatRegion: number;
    seeds: number;
  };
  metrics: Fig1Result["metrics"][];
  perSeed: Fig1Result[];
}

function spearman(x: number[], y: number[]): number {
  const rank = (a: number[]) => {
    const o = a.map((v, i) => [v, i]).sort((p, q) => p[0] - q[0]);
    const r = new Array(a.length);
    o.forEach(([, i], k) => (r[i] = k));
    return r as number[];
  };
  const rx = rank(x), ry = rank(y);
  const mx = meanOf(rx), my = meanOf(ry);
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) ** 2;
    syy += (ry[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/**
 * Aggregates {@link runFig1} results of several seeds (mean, std, claim counts).
 *
 * @example
 * ```ts
 * import { summarizeFig1, type Fig1Result } from "./toy_figures.ts";
 * const r = (seed: number, final: number) => ({
 *   seed, config: {}, metrics: {}, seconds: 0,
 *   layers: [1, 2, 3].map((layer) => ({ layer, deltaL: { sgd: layer === 3 ? final : 0.1 * layer, pof: 0.05 }, deltaLAtPoint: { sgd: 0, pof: 0 },
 *     lambda1: { sgd: 1, pof: 1 }, tau: { sgd: 1, pof: 1 } })),
 *   landscape: { sgd: [], pof: [] }, landscapeTopK: { sgd: [], pof: [] },
 *   finalEigenvalues: { sgd: [], pof: [] }, flatWidth: { sgd: [1], pof: [2] },
 * }) as unknown as Fig1Result;
 * const s = summarizeFig1([r(0, 1), r(1, 3)]);
 * if (s.layers[2].deltaL.sgd !== 2 || s.claims.pofReducesFinalDeltaL !== 2) throw new Error();
 * ```
 */
export function summarizeFig1(results: Fig1Result[]): Fig1Summary {
  if (results.length === 0) throw new RangeError("summarizeFig1: no results");
  const L = results[0].layers.length;
  const layers = results[0].layers.map((row, i) => {
    const sgd = results.map((r) => r.layers[i].deltaL.sgd);
    const pof = results.map((r) => r.layers[i].deltaL.pof);
    return {
      layer: row.layer,
      deltaL: { sgd: meanOf(sgd), pof: meanOf(pof) },
      deltaLStd: { sgd: stdOf(sgd), pof: stdOf(pof) },
      deltaLPerSeed: { sgd, pof },
      deltaLAtPoint: {
        sgd: meanOf(results.map((r) => r.layers[i].deltaLAtPoint.sgd)),
        pof: meanOf(results.map((r) => r.layers[i].deltaLAtPoint.pof)),
      },
      lambda1PerSeed: {
        sgd: results.map((r) => r.layers[i].lambda1.sgd),
        pof: results.map((r) => r.layers[i].lambda1.pof),
      },
    };
  });
  const count = (f: (r: Fig1Result) => boolean) => results.filter(f).length;
  return {
    seeds: results.map((r) => r.seed),
    config: results[0].config,
    layers,
    landscape: results[0].landscape,
    landscapeTopK: results[0].landscapeTopK,
    flatWidth: {
      sgd: results.map((r) => r.flatWidth.sgd[0]),
      pof: results.map((r) => r.flatWidth.pof[0]),
    },
    claims: {
      finalLayerLargest: count((r) =>
        r.layers[L - 1].deltaL.sgd >
          meanOf(r.layers.slice(0, L - 1).map((l) => l.deltaL.sgd))
      ),
      increasingWithDepth: count((r) =>
        spearman(
          r.layers.map((l) => l.layer),
          r.layers.map((l) => l.deltaL.sgd),
        ) > 0
      ),
      pofReducesFinalDeltaL: count((r) =>
        r.layers[L - 1].deltaL.pof < r.layers[L - 1].deltaL.sgd
      ),
      pofWiderFlatRegion: count((r) => r.flatWidth.pof[0] > r.flatWidth.sgd[0]),
      seeds: results.length,
    },
    metrics: results.map((r) => r.metrics),
    perSeed: results,
  };
}

/** Fig. 2 over several seeds: the `fig2.json` payload. */
export interface Fig2Summary {
  seeds: number[];
  config: Fig2Config;
  /** Summed over seeds; index 0 = eigenvector 1. */
  eigIndexCounts: number[];
  eigIndexCountsPerSeed: number[][];
  /** The same with the data-loss gradient (see `Fig2Config.alignGradient`). */
  eigIndexCountsDataPerSeed: number[][];
  /** 1-based mode of each seed's histogram. */
  modePerSeed: number[];
  /** All seeds' xi* values, concatenated in seed order. */
  xiTrain: number[];
  xiTest: number[];
  medianRatioPerSeed: number[];
  claims: {
    /** Seeds whose Fig. 2(a) mode is eigenvector 1. */
    modeAtOne: number;
    /** Seeds with median(xiTest) / median(xiTrain) in [1.5, 3] ("about twice"). */
    ratioAboutTwo: number;
    /** Seeds with median(xiTest) > median(xiTrain). */
    testLarger: number;
    seeds: number;
  };
  perSeed: Omit<Fig2Result, "config">[];
}

/**
 * Aggregates {@link runFig2} results of several seeds.
 *
 * @example
 * ```ts
 * import { summarizeFig2, type Fig2Result } from "./toy_figures.ts";
 * const r = (seed: number, counts: number[]) => ({
 *   seed, config: {}, metrics: {}, seconds: 0, eigIndexCounts: counts,
 *   eigIndexCountsBy: { regularised: counts, data: counts }, eigenvalues: [], cosTop: [],
 *   xiTrain: [1, 2], xiTest: [3, 4], unbracketed: { train: 0, test: 0 }, medianRatio: 7 / 3,
 * }) as unknown as Fig2Result;
 * const s = summarizeFig2([r(0, [3, 1]), r(1, [0, 2])]);
 * if (s.eigIndexCounts.join() !== "3,3" || s.claims.modeAtOne !== 1 || s.xiTest.length !== 4) throw new Error();
 * ```
 */
export function summarizeFig2(results: Fig2Result[]): Fig2Summary {
  if (results.length === 0) throw new RangeError("summarizeFig2: no results");
  const n = results[0].eigIndexCounts.length;
  const total = new Array(n).fill(0);
  for (const r of results) r.eigIndexCounts.forEach((c, i) => (total[i] += c));
  const modes = results.map((r) => mode(r.eigIndexCounts));
  const ratios = results.map((r) => r.medianRatio);
  return {
    seeds: results.map((r) => r.seed),
    config: results[0].config,
    eigIndexCounts: total,
    eigIndexCountsPerSeed: results.map((r) => r.eigIndexCounts),
    eigIndexCountsDataPerSeed: results.map((r) => r.eigIndexCountsBy.data),
    modePerSeed: modes,
    xiTrain: results.flatMap((r) => r.xiTrain),
    xiTest: results.flatMap((r) => r.xiTest),
    medianRatioPerSeed: ratios,
    claims: {
      modeAtOne: modes.filter((m) => m === 1).length,
      ratioAboutTwo: ratios.filter((x) => x >= 1.5 && x <= 3).length,
      testLarger: ratios.filter((x) => x > 1).length,
      seeds: results.length,
    },
    perSeed: results.map(({ config: _c, ...rest }) => rest),
  };
}
