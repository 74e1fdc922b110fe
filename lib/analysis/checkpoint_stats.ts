/**
 * Per-mini-batch statistics of a trained checkpoint: the data behind the
 * paper's Fig. 5 (Hessian components `u^T H u`) and Fig. 6 (perturbation
 * norms of PoF, SAM and an SGD step), all in the classifier space theta.
 *
 * Both functions take the mini-batches as an iterable of {@link Batch}es and
 * dispose each batch after use, so a caller can stream 400 batches (and a
 * whole dataset for H_D) without holding them.
 *
 * Features are computed with BatchNorm in inference mode (`{train: false}`)
 * unless `bn` says otherwise; the classifier quantities are exact
 * (`ClassifierCurvature`, float64).
 *
 * @module
 */
import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type {
  ApplyOptions,
  BnState,
  Model,
  ModelParams,
} from "../models/model.ts";
import type { Batch } from "../data/batch.ts";
import { modelGradients, treeNorm } from "../optim/gradients.ts";
import { disposeTree } from "../tree.ts";
import { batchCurvature } from "./features.ts";
import { featuresOf } from "../models/model.ts";
import {
  lineLoss,
  lineSearch,
  type LineSearchOptions,
} from "../optim/line_search.ts";
import {
  type ClassifierCurvature,
  classifierQuadraticForms,
  classifierVector,
} from "./classifier_hessian.ts";

/** A checkpoint's parameters and BatchNorm state. */
export interface CheckpointState {
  params: ModelParams;
  bn: BnState;
}

/** Options of {@link hessianComponents}. */
export interface HessianComponentsOptions {
  /**
   * Chunks of the whole set for `u^T H_D u` (H_D = the full-set classifier
   * Hessian). Omit to compute only the mini-batch estimate `u^T H_B u`.
   */
  dataset?: Iterable<Batch>;
  /** BatchNorm mode of the feature forward passes (default `{train: false}`). */
  bn?: ApplyOptions;
}

/** The result of {@link hessianComponents}; arrays are per mini-batch, in order. */
export interface HessianComponents {
  /** `u^T H_B u` with H_B the Hessian of the same mini-batch. */
  batch: number[];
  /** `u^T H_D u` with H_D the Hessian of the whole `dataset` (when given). */
  dataset?: number[];
  /** `||g_B||` (classifier gradient norm). */
  gradNorm: number[];
  /** Mini-batch loss at theta0. */
  loss: number[];
}

function* featureChunks(
  model: Model,
  state: CheckpointState,
  ds: Iterable<Batch>,
  bn: ApplyOptions,
): Generator<{ features: tf.Tensor2D }> {
  for (const b of ds) {
    let f: tf.Tensor2D;
    try {
      f = featuresOf(model, state.params, state.bn, b.x, bn);
    } finally {
      disposeBatch(b);
    }
    try {
      yield { features: f };
    } finally {
      f.dispose();
    }
  }
}

/**
 * The exact classifier curvature of one mini-batch at theta0 (features in
 * the given BN mode); the batch is disposed.
 */
function curvatureOfBatch(
  model: Model,
  state: CheckpointState,
  b: Batch,
  bn: ApplyOptions,
  theta: Float64Array,
): ClassifierCurvature {
  try {
    const f = featuresOf(model, state.params, state.bn, b.x, bn);
    const feats = Float32Array.from(f.dataSync());
    f.dispose();
    return batchCurvature(feats, Int32Array.from(b.y.dataSync()), theta, {
      numClasses: model.numClasses,
    });
  } finally {
    disposeBatch(b);
  }
}

function disposeBatch(b: Batch): void {
  b.x.dispose();
  b.y.dispose();
}

/**
 * Fig. 5's estimate of the top classifier Hessian eigenvalue per mini-batch:
 * `u = g_B / ||g_B||` (g_B = classifier gradient of the mini-batch loss at
 * theta0) and `u^T H u`, with H both the mini-batch Hessian H_B and (when
 * `options.dataset` is given) the full-set Hessian H_D. The paper's footnote
 * ("for the test distribution, mini-batch gradients are computed using test
 * samples") fixes only u; for the test histogram pass test batches and the
 * test set as `dataset`, for the training histogram training batches and the
 * training set. Batches whose gradient is zero give NaN.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../backend.ts";
 * import { Rng } from "../rng.ts";
 * import { mlp } from "../models/mlp.ts";
 * import { hessianComponents } from "./checkpoint_stats.ts";
 * await useBackend("cpu");
 * const model = mlp({ inputDim: 3, hidden: [8], numClasses: 3 });
 * const { params, state: bn } = model.init(new Rng(0));
 * const r = new Rng(1);
 * const batch = () => ({ x: tf.tensor2d(r.normalArray(12), [4, 3]), y: tf.tensor1d([0, 1, 2, 0], "int32") });
 * const out = hessianComponents(model, { params, bn }, [batch(), batch()], { dataset: [batch()] });
 * if (out.batch.length !== 2 || !(out.batch[0] > 0) || !(out.dataset![1] > 0)) throw new Error();
 * ```
 */
export function hessianComponents(
  model: Model,
  state: CheckpointState,
  batches: Iterable<Batch>,
  options: HessianComponentsOptions = {},
): HessianComponents {
  const bn = options.bn ?? { train: false };
  const theta = classifierVector(state.params.classifier);
  const out: HessianComponents = { batch: [], gradNorm: [], loss: [] };
  const dirs: Float64Array[] = [];
  for (const b of batches) {
    const c = curvatureOfBatch(model, state, b, bn, theta);
    const g = c.gradient();
    let n = 0;
    for (const x of g) n += x * x;
    n = Math.sqrt(n);
    const u = g.map((x) => x / n);
    out.batch.push(n > 0 ? c.quadraticForm(u) : NaN);
    out.gradNorm.push(n);
    out.loss.push(c.loss());
    dirs.push(u);
  }
  if (options.dataset) {
    const ds = options.dataset;
    const q = classifierQuadraticForms(
      featureChunks(model, state, ds, bn),
      theta,
      dirs,
      {
        numClasses: model.numClasses,
      },
    );
    out.dataset = Array.from(q, (v, i) => out.gradNorm[i] > 0 ? v : NaN);
  }
  return out;
}

/** Which perturbation {@link perturbationNorms} measures, with its constants. */
export type PerturbationSpec =
  | {
    /** PoF: `||gamma xi*_B u_B|| = gamma xi*_B` (u unit). */
    method: "pof";
    /** Expansion factor (paper's Fig. 6: 2). */
    gamma?: number;
    lineSearch?: LineSearchOptions;
  }
  | {
    /** SAM: classifier part of epsilon = rho g / ||g||, i.e. `rho ||g_theta|| / ||g||` (g over all parameters). */
    method: "sam";
    rho?: number;
  }
  | {
    /** SGD: `||eta g_theta||`, the classifier part of a plain SGD step. */
    method: "sgd";
    /** Learning rate (paper's Fig. 6: 1.6e-4). */
    lr?: number;
  };

/**
 * Fig. 6's classifier-space perturbation sizes `||delta theta||_2`, one per
 * mini-batch (see {@link PerturbationSpec}). PoF uses the exact line search
 * of `lib/optim` on the mini-batch (features in inference mode by default);
 * SAM and SGD differentiate the mini-batch loss with BatchNorm batch
 * statistics and frozen running statistics (`{train: true, updateStats:
 * false}`) unless `bn` says otherwise. A zero gradient gives 0.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../backend.ts";
 * import { Rng } from "../rng.ts";
 * import { mlp } from "../models/mlp.ts";
 * import { perturbationNorms } from "./checkpoint_stats.ts";
 * await useBackend("cpu");
 * const model = mlp({ inputDim: 3, hidden: [8], numClasses: 3 });
 * const { params, state: bn } = model.init(new Rng(0));
 * const r = new Rng(1);
 * const batch = () => ({ x: tf.tensor2d(r.normalArray(12), [4, 3]), y: tf.tensor1d([0, 1, 2, 0], "int32") });
 * const sam = perturbationNorms(model, { params, bn }, [batch()], { method: "sam", rho: 0.05 });
 * if (!(sam[0] > 0 && sam[0] <= 0.05)) throw new Error(String(sam));
 * ```
 */
export function perturbationNorms(
  model: Model,
  state: CheckpointState,
  batches: Iterable<Batch>,
  spec: PerturbationSpec,
  options: { bn?: ApplyOptions } = {},
): number[] {
  const out: number[] = [];
  if (spec.method === "pof") {
    const gamma = spec.gamma ?? 2;
    const bn = options.bn ?? { train: false };
    const theta = classifierVector(state.params.classifier);
    for (const b of batches) {
      const c = curvatureOfBatch(model, state, b, bn, theta);
      out.push(gamma * pofXiStar(c, spec.lineSearch).xi);
    }
    return out;
  }
  if (spec.method !== "sam" && spec.method !== "sgd") {
    throw new RangeError(
      `perturbationNorms: method must be "pof", "sam" or "sgd", got ${
        String((spec as { method: unknown }).method)
      }`,
    );
  }
  const bn = options.bn ?? { train: true, updateStats: false };
  for (const b of batches) {
    try {
      const r = modelGradients(model, state.params, state.bn, b, {
        wrt: spec.method === "sam" ? "all" : "classifier",
        bn,
      });
      const gTheta = treeNorm(r.grads.classifier!);
      if (spec.method === "sgd") {
        out.push((spec.lr ?? 1.6e-4) * gTheta);
      } else {
        const gPhi = treeNorm(r.grads.features!);
        const all = Math.hypot(gPhi, gTheta);
        out.push(all > 0 ? (spec.rho ?? 0.05) * gTheta / all : 0);
      }
      r.loss.dispose();
      disposeTree(r.grads.features, r.grads.classifier);
      for (const [k, t] of Object.entries(r.bn)) {
        if (t !== state.bn[k]) t.dispose();
      }
    } finally {
      disposeBatch(b);
    }
  }
  return out;
}

/**
 * PoF's xi*_B (Eq. 2) on one mini-batch of fixed features: `u = g / ||g||`
 * and `lineSearch` of `lib/optim` on the exact float64 line loss
 * `L_B(theta0 - xi u)`. xi* = 0 for a zero gradient.
 *
 * @example
 * ```ts
 * import { ClassifierCurvature } from "./classifier_hessian.ts";
 * import { pofXiStar } from "./checkpoint_stats.ts";
 * // one example, feature 0, two classes, bias (1, 0), label 1: the loss
 * // along -u (u = g/|g| = (0, 0, 1, -1)/sqrt 2) is minimal where the bias gap closes,
 * // but it keeps decreasing (label 1 only): xi* runs to the cap.
 * const c = new ClassifierCurvature(Float32Array.of(0), Int32Array.of(1), Float64Array.of(0, 0, 1, 0), { dim: 1, numClasses: 2 });
 * const r = pofXiStar(c, { maxXi: 10 });
 * if (r.bracketed || r.xi !== 10) throw new Error(JSON.stringify(r));
 * ```
 */
export function pofXiStar(
  c: ClassifierCurvature,
  options: LineSearchOptions = {},
): { xi: number; bracketed: boolean; gradient: Float64Array } {
  const g = c.gradient();
  let norm = 0;
  for (const x of g) norm += x * x;
  norm = Math.sqrt(norm);
  if (!(norm > 0)) return { xi: 0, bracketed: true, gradient: g };
  const u = g.map((x) => -x / norm);
  // z(xi) = f~^T (theta0 - xi g/|g|) = z0 + xi dz, dz = f~^T (-g/|g|) (bias row included)
  const line = {
    z0: c.logits(),
    dz: c.logits(u),
    labels: c.labels(),
    batch: c.n,
    classes: c.numClasses,
  };
  const r = lineSearch((xi) => lineLoss(line, xi), options);
  return { xi: r.xi, bracketed: r.bracketed, gradient: g };
}
