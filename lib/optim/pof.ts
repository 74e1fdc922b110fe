/**
 * PoF: Post-training of Feature extractor (paper Sec. 3.1, Eqs. 2-5,
 * Algorithm 1) as a {@link Method}.
 *
 * One step:
 * 1. Weak batch B = `input.weakBatch()` (paper: 32 samples). Features
 *    `f = F_phi(x_B)` without gradient. BatchNorm policy (`weakBatchNorm`):
 *    `"batch"` (default) normalises with B's batch statistics like the
 *    authors' train-mode forward but leaves the running statistics frozen
 *    (`{train: true, updateStats: false}`), so weak batches never move them;
 *    `"inference"` uses the running statistics (`{train: false}`).
 * 2. `g = dL_B/dtheta` at theta0, `u = g / ||g||` (Eq. 3).
 * 3. `xi* = argmin_{0 <= xi <= maxXi} L_B(phi, theta0 - xi u)` (Eq. 2) by
 *    {@link lineSearch} on the exact affine logits ({@link classifierLine}).
 *    The paper sets no bound on xi; the cap `maxXi` (line-search option,
 *    default 50) is ours. Each step reports `lineSearches` and `xiCapped`
 *    (searches whose loss still fell at the cap), so the epoch telemetry
 *    shows how often the cap binds (`xiCapFraction`).
 *    With `discardAsymmetric`, a weak batch whose line loss still decreases
 *    at the cap `maxXi` is discarded and a new one drawn, at most
 *    `maxDiscards` times (then the last one is used with xi* = maxXi);
 *    the count is reported as `discarded`.
 * 4. gamma from the sampler (paper: U[0, 2] each step; also fixed, any
 *    range, linear ramp).
 * 5. `theta' = theta0 - gamma xi* u`; gradient of `L_B~(phi, theta')` on the
 *    update batch `input.batch` w.r.t. phi only (u, xi* constants; BatchNorm
 *    `{train: true, updateStats: true}`), Eq. 5. The same forward pass also
 *    gives the update-batch loss at theta0 (`lossAtTheta0`), the training
 *    loss comparable with SGD's and SAM's (`loss` is the one at theta').
 * 6. Nesterov SGD step on phi (lr default 3e-5 as in the paper text, momentum
 *    0.9, weight decay 5e-4). theta0 stays frozen unless `classifierStep`,
 *    which then takes an SGD step on theta with the gradient of
 *    `L_B~(phi_new, theta0)` (features recomputed at the new phi with batch
 *    statistics, running statistics frozen).
 *
 * gamma = 0 gives theta' = theta0 exactly, i.e. SGD on phi with theta frozen.
 * A weak gradient with zero or non-finite norm, or a non-finite update
 * gradient, skips the step (state unchanged, `skipped = 1`; `loss` is then
 * the update-batch loss at (phi, theta0) from a forward pass with frozen
 * statistics).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { disposeTree, mapTree, type Params } from "../tree.ts";
import {
  type ApplyOptions,
  type BnState,
  featuresOf,
  type Model,
} from "../models/model.ts";
import { softmaxCrossEntropy } from "../models/loss.ts";
import type { Method, StepMetrics, TrainState } from "./method.ts";
import type { Batch } from "../data/batch.ts";
import { classifierGradient, modelGradients, treeNorm } from "./gradients.ts";
import { gammaSampler, type GammaSpec, PAPER_GAMMA } from "./gamma.ts";
import {
  classifierLine,
  lineLoss,
  lineSearch,
  type LineSearchOptions,
  type LineSearchResult,
} from "./line_search.ts";
import { sgd, type SgdOptions } from "./optimizer.ts";
import { asSchedule, type Schedule } from "./schedule.ts";
import {
  applySgdStep,
  disposeReplaced,
  flattenModelParams,
  initOptState,
} from "./state.ts";

/** BatchNorm policy for the weak-batch forward pass. */
export type WeakBatchNorm = "batch" | "inference";

/** Configuration of {@link pofMethod}; defaults follow the paper. */
export interface PofMethodConfig extends SgdOptions {
  /** Feature-extractor learning rate (default 3e-5, paper text; the authors' code used 1.6e-4). */
  lr?: number | Schedule;
  /** gamma sampler (default U[0, 2] each step). */
  gamma?: GammaSpec;
  /** BatchNorm policy of the weak-batch forward (default `"batch"`). */
  weakBatchNorm?: WeakBatchNorm;
  /** Line-search options (bracket start, cap `maxXi`, tolerances). */
  lineSearch?: LineSearchOptions;
  /** Also take an SGD step on theta after each phi step (default false). */
  classifierStep?: boolean;
  /** Learning rate of that classifier step (default: `lr`). */
  classifierLr?: number | Schedule;
  /** Discard weak batches whose line loss never rises within `maxXi` (default false). */
  discardAsymmetric?: boolean;
  /** Most discards per step (default 10). */
  maxDiscards?: number;
}

/** The BatchNorm mode of the weak-batch forward pass for a policy. */
function weakBnOptions(policy: WeakBatchNorm): ApplyOptions {
  if (policy !== "batch" && policy !== "inference") {
    throw new RangeError(
      `weakBatchNorm must be "batch" or "inference", got ${String(policy)}`,
    );
  }
  return policy === "batch"
    ? { train: true, updateStats: false }
    : { train: false };
}

/** What {@link pofWeakDirection} finds on one weak batch. */
export interface WeakDirection {
  /** The unit direction u = g / ||g|| (caller disposes). */
  u: Params;
  /** ||g||. */
  gradNorm: number;
  /** The line search along -u. */
  search: LineSearchResult;
}

/**
 * Steps 1-3 of PoF on one weak batch: features without gradient, the
 * classifier gradient g at theta, u = g/||g||, and the line search for xi*.
 * Returns null when ||g|| is zero or not finite. Reusable by the analysis
 * code (Fig. 2b's xi* distributions).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { pofWeakDirection } from "./pof.ts";
 * import type { Model } from "../models/model.ts";
 * const model = {
 *   features: (_p: unknown, state: Record<string, tf.Tensor>, x: tf.Tensor) =>
 *     ({ features: tf.clone(x) as tf.Tensor2D, state }),
 *   classify: (t: Record<string, tf.Tensor>, f: tf.Tensor2D) =>
 *     tf.add(tf.matMul(f, t.kernel), t.bias) as tf.Tensor2D,
 * } as unknown as Model;
 * const theta = { kernel: tf.zeros([1, 2]), bias: tf.zeros([2]) };
 * const weak = { x: tf.tensor2d([[1], [-1]]), y: tf.tensor1d([0, 1], "int32") };
 * const r = pofWeakDirection(model, { features: {}, classifier: theta }, {}, weak);
 * // Separable data: the loss decreases along -u without bound, so xi* hits the cap.
 * if (!r || r.search.bracketed || r.search.xi !== 50) throw new Error();
 * ```
 */
export function pofWeakDirection(
  model: Model,
  params: TrainState["params"],
  bn: BnState,
  weak: Batch,
  options: { weakBatchNorm?: WeakBatchNorm; lineSearch?: LineSearchOptions } =
    {},
): WeakDirection | null {
  const bnOptions = weakBnOptions(options.weakBatchNorm ?? "batch");
  const f = featuresOf(model, params, bn, weak.x, bnOptions);
  const cg = classifierGradient(model, params.classifier, {
    features: f,
    labels: weak.y,
  });
  cg.loss.dispose();
  const gradNorm = treeNorm(cg.grads);
  if (!Number.isFinite(gradNorm) || gradNorm === 0) {
    disposeTree(cg.grads);
    f.dispose();
    return null;
  }
  const u = tf.tidy(() => mapTree(cg.grads, (v) => tf.div(v, gradNorm)));
  disposeTree(cg.grads);
  const line = classifierLine(model, {
    theta: params.classifier,
    direction: u,
    features: f,
    labels: weak.y,
  });
  f.dispose();
  const search = lineSearch((xi) => lineLoss(line, xi), options.lineSearch);
  return { u, gradNorm, search };
}

function updateBatchLoss(
  model: Model,
  state: TrainState,
  batch: Batch,
): number {
  return tf.tidy(() => {
    const r = model.apply(state.params, state.bn, batch.x, {
      train: true,
      updateStats: false,
    });
    const v = softmaxCrossEntropy(r.logits, batch.y).dataSync()[0];
    disposeReplaced(r.state, state.bn);
    return v;
  });
}

/**
 * PoF as a {@link Method} (see the module doc). Needs `input.weakBatch`.
 *
 * @example
 * ```ts
 * import { pofMethod } from "./pof.ts";
 * const method = pofMethod({ gamma: { kind: "uniform", low: 0, high: 2 } });
 * if (method.name !== "pof") throw new Error();
 * ```
 */
export function pofMethod(config: PofMethodConfig = {}): Method {
  const lrSpec = config.lr ?? 3e-5;
  const schedule = asSchedule(lrSpec);
  const opt = sgd({ ...config, lr: lrSpec });
  const classifierStep = config.classifierStep ?? false;
  const clsOpt = classifierStep
    ? sgd({ ...config, lr: config.classifierLr ?? lrSpec })
    : null;
  const sampler = gammaSampler(config.gamma ?? PAPER_GAMMA);
  const weakBatchNorm = config.weakBatchNorm ?? "batch";
  weakBnOptions(weakBatchNorm); // validates once, up front
  const discardAsymmetric = config.discardAsymmetric ?? false;
  const maxDiscards = config.maxDiscards ?? 10;
  if (!Number.isInteger(maxDiscards) || maxDiscards < 0) {
    throw new RangeError(
      `maxDiscards must be an integer >= 0, got ${maxDiscards}`,
    );
  }
  // Validate the line-search options once, up front.
  lineSearch((x) => x * x, config.lineSearch);
  return {
    name: "pof",
    initOpt: (params) =>
      initOptState(opt, params, classifierStep ? "all" : "features"),
    step(model, state, input, rng) {
      if (typeof input.weakBatch !== "function") {
        throw new Error(
          `PoF needs input.weakBatch (a function drawing the weak mini-batch), got ${typeof input
            .weakBatch}`,
        );
      }
      const count = state.opt.count;
      const lr = schedule(count);
      let discarded = 0, lineSearches = 0, xiCapped = 0;
      let dir: WeakDirection | null = null;
      for (;;) {
        dir = pofWeakDirection(
          model,
          state.params,
          state.bn,
          input.weakBatch(),
          {
            weakBatchNorm,
            lineSearch: config.lineSearch,
          },
        );
        if (dir !== null) {
          lineSearches++;
          if (!dir.search.bracketed) xiCapped++;
        }
        if (
          dir !== null && !dir.search.bracketed && discardAsymmetric &&
          discarded < maxDiscards
        ) {
          discarded++;
          disposeTree(dir.u);
          continue;
        }
        break;
      }
      const skip = (extra: Partial<StepMetrics>) => ({
        state,
        metrics: {
          loss: updateBatchLoss(model, state, input.batch),
          lr,
          discarded,
          lineSearches,
          xiCapped,
          skipped: 1,
          ...extra,
        },
      });
      if (dir === null) return skip({});
      const { u, search } = dir;
      const xi = search.xi;
      const gamma = sampler(count, rng);
      const scale = gamma * xi;
      const theta0 = state.params.classifier;
      const thetaPrime = tf.tidy(() =>
        mapTree(theta0, (t, k) => tf.sub(t, tf.mul(u[k], scale)))
      );
      disposeTree(u);
      const telemetry: Partial<StepMetrics> = {
        xi,
        gamma,
        perturbationNorm: Math.abs(scale),
        weakLossBefore: search.loss0,
        weakLossAfter: search.loss,
      };
      const g = modelGradients(
        model,
        { features: state.params.features, classifier: thetaPrime },
        state.bn,
        input.batch,
        {
          wrt: "features",
          bn: { train: true, updateStats: true },
          lossAtClassifier: theta0,
        },
      );
      disposeTree(thetaPrime);
      const loss = g.loss.dataSync()[0];
      g.loss.dispose();
      telemetry.lossAtTheta0 = g.lossAtClassifier!.dataSync()[0];
      g.lossAtClassifier!.dispose();
      const grads = flattenModelParams(g.grads);
      if (!Number.isFinite(loss) || !Number.isFinite(treeNorm(grads))) {
        disposeTree(grads);
        disposeReplaced(g.bn, state.bn);
        return skip(telemetry);
      }
      let next = applySgdStep(opt, state, grads, g.bn, count);
      disposeTree(grads);
      if (clsOpt !== null) {
        next = classifierSgd(model, clsOpt, next, input.batch, count);
      }
      return {
        state: next,
        metrics: {
          loss,
          lr,
          discarded,
          lineSearches,
          xiCapped,
          skipped: 0,
          ...telemetry,
        },
      };
    },
  };
}

/** The optional SGD step on theta at the new phi (batch statistics, frozen running statistics). */
function classifierSgd(
  model: Model,
  opt: ReturnType<typeof sgd>,
  state: TrainState,
  batch: Batch,
  count: number,
): TrainState {
  const features = featuresOf(model, state.params, state.bn, batch.x, {
    train: true,
    updateStats: false,
  });
  const cg = classifierGradient(model, state.params.classifier, {
    features,
    labels: batch.y,
  });
  features.dispose();
  cg.loss.dispose();
  const grads = flattenModelParams({ classifier: cg.grads });
  if (!Number.isFinite(treeNorm(grads))) {
    disposeTree(grads);
    return state;
  }
  const next = applySgdStep(opt, state, grads, state.bn, count);
  disposeTree(grads);
  return next;
}
