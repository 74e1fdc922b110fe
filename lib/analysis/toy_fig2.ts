/**
 * The toy experiment of the paper's Fig. 2 for one seed, at the SGD minimum
 * of `toy_training.ts` (as in the paper): (a) for `batches` training
 * mini-batches of 32, the rank i of the final-layer Hessian eigenvector
 * (full-training-set Hessian, all eigenpairs) with the largest
 * `|v_i . g_B|`, g_B the gradient of the mini-batch's data loss (the
 * paper's definition; `eigIndexCountsRegularised` uses g_B + weightDecay
 * theta0 instead); (b) xi*_B (Eq. 2, by `lineSearch` of `lib/optim`) on
 * `batches` training and `batches` test mini-batches.
 *
 * @module
 */
import { Rng } from "../rng.ts";
import { disposeTree } from "../tree.ts";
import { median, modeIndex } from "../stats.ts";
import { ClassifierCurvature, classifierVector } from "./classifier_hessian.ts";
import { batchCurvature } from "./features.ts";
import { symmetricEigen } from "./eigen.ts";
import { pofXiStar } from "./checkpoint_stats.ts";
import {
  type SetMetrics,
  toyFeatures,
  type ToyPresetName,
  type ToyRunOptions,
  type ToyTrainingConfig,
  toyTrainingConfig,
  trainToyModels,
} from "./toy_training.ts";

/** Fig. 2 settings on top of the training. */
export interface Fig2Config extends ToyTrainingConfig {
  /** Mini-batches per histogram (train and test each). */
  batches: number;
  /** Mini-batch size for the gradients and xi* (paper's weak batch: 32). */
  miniBatch: number;
  /** Cap on xi* for the line search. */
  maxXi: number;
}

/**
 * Fig. 2 settings of a preset (paper: many mini-batches of 32).
 *
 * @example
 * ```ts
 * import { fig2Config } from "./toy_fig2.ts";
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
  };
}

/** The result of {@link runFig2} for one seed. */
export interface Fig2Result {
  seed: number;
  config: Fig2Config;
  metrics: { train: SetMetrics; test: SetMetrics };
  /**
   * Fig. 2(a) as the paper defines it: `eigIndexCounts[i]` = training
   * mini-batches whose data-loss gradient g_B (mean cross-entropy, the
   * paper's "mini-batch gradient") has its largest |v . g_B| at eigenvector
   * i+1. Its full-set mean is -weightDecay theta0 at the SGD minimum, a
   * common offset of every batch.
   */
  eigIndexCounts: number[];
  /**
   * The same with the gradient of the objective SGD minimised,
   * g_B + weightDecay theta0 (full-set mean ~0 at the minimum).
   */
  eigIndexCountsRegularised: number[];
  /** The final-layer eigenvalues (training set), descending. */
  eigenvalues: number[];
  /** |cos(g_B, v_1)| per training mini-batch (data-loss gradient). */
  cosTop: number[];
  xiTrain: number[];
  xiTest: number[];
  /** Batches whose line loss still fell at maxXi (xi* = maxXi), train / test. */
  unbracketed: { train: number; test: number };
  /** median(xiTest) / median(xiTrain). */
  medianRatio: number;
  seconds: number;
}

/**
 * Fig. 2(a, b) for one seed at the SGD minimum (see the module doc).
 *
 * @example
 * ```ts ignore
 * import { fig2Config, runFig2 } from "./toy_fig2.ts";
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
  const trainF = toyFeatures(model, params, data.train);
  const testF = toyFeatures(model, params, data.test);
  const full = new ClassifierCurvature(trainF, data.train.y, theta, {
    dim,
    numClasses: C,
  });
  const eig = symmetricEigen(full.dense(), full.size);
  const counts = {
    data: new Array(full.size).fill(0),
    regularised: new Array(full.size).fill(0),
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
      if (i === 0 && kind === "data") {
        cosTop.push(Math.abs(d) / gn);
      }
    }
    counts[kind][best]++;
  };
  for (let b = 0; b < config.batches; b++) {
    const c = batchCurvature(trainF, data.train.y, theta, {
      numClasses: C,
      rows: draw(data.train.n),
    });
    const r = pofXiStar(c, { maxXi: config.maxXi });
    xiTrain.push(r.xi);
    if (!r.bracketed) unbracketed.train++;
    align(r.gradient, "data");
    align(r.gradient.map((x, j) => x + wd * theta[j]), "regularised");
    const ct = batchCurvature(testF, data.test.y, theta, {
      numClasses: C,
      rows: draw(data.test.n),
    });
    const rt = pofXiStar(ct, { maxXi: config.maxXi });
    xiTest.push(rt.xi);
    if (!rt.bracketed) unbracketed.test++;
  }
  const result: Fig2Result = {
    seed: options.seed,
    config,
    metrics: { train: trained.sgd.train, test: trained.sgd.test },
    eigIndexCounts: counts.data,
    eigIndexCountsRegularised: counts.regularised,
    eigenvalues: eig.values,
    cosTop,
    xiTrain,
    xiTest,
    unbracketed,
    medianRatio: median(xiTest) / median(xiTrain),
    seconds: (performance.now() - t0) / 1000,
  };
  options.onProgress?.(
    `Fig. 2: mode of eigenvector index = ${modeIndex(result.eigIndexCounts)} ` +
      `(counts of 1..5: ${result.eigIndexCounts.slice(0, 5).join(", ")}; ` +
      `regularised gradient: mode ${
        modeIndex(counts.regularised)
      }); median xi* train ` +
      `${median(xiTrain).toPrecision(3)}, test ${
        median(xiTest).toPrecision(3)
      }, ` +
      `ratio ${result.medianRatio.toFixed(2)}`,
  );
  disposeTree(params.features, params.classifier);
  return result;
}
