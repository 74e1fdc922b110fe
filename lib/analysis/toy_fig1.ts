/**
 * The toy experiment of the paper's Fig. 1(c, d) for one seed, on the models
 * of `toy_training.ts`.
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
 * @module
 */
import { Rng } from "../rng.ts";
import { disposeTree } from "../tree.ts";
import type { Model, ModelParams } from "../models/model.ts";
import { goldenSection } from "../optim/line_search.ts";
import {
  type BlockObjective,
  hessianVectorProduct,
  modelBlockObjective,
} from "./hessian.ts";
import {
  type ClassifierCurvature,
  classifierVector,
} from "./classifier_hessian.ts";
import { lanczosTopK, symmetricEigen } from "./eigen.ts";
import { lossAlongDirection } from "./landscape.ts";
import {
  classifierCurvatureOn,
  type SetMetrics,
  type ToyPresetName,
  type ToyRunOptions,
  type ToyTrainingConfig,
  toyTrainingConfig,
  trainToyModels,
} from "./toy_training.ts";

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

/**
 * Fig. 1 settings of a preset.
 *
 * @example
 * ```ts
 * import { fig1Config } from "./toy_fig1.ts";
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
 * import { toyData } from "../data/teacher_mlp_data.ts";
 * import { mlp } from "../models/mlp.ts";
 * import { objectiveLoss } from "./hessian.ts";
 * import { evaluateToy } from "./toy_training.ts";
 * import { layerObjective } from "./toy_fig1.ts";
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
 * import { fig1Config, runFig1 } from "./toy_fig1.ts";
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
