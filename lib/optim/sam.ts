/**
 * Sharpness-Aware Minimization (Foret et al., 2021) as a {@link Method}, the
 * paper's strongest baseline and PoF's pre-training (rho 0.05; SVHN 0.01).
 *
 * One step on batch B, over all parameters (phi and theta, standard SAM):
 * 1. `g = dL_B/dw` at w, BatchNorm `{train: true, updateStats: true}`: the
 *    running statistics move on this first pass only.
 * 2. `epsilon = rho g / ||g||` (global L2 norm over all leaves), or with
 *    `adaptive` (ASAM, Kwon et al. 2021) `epsilon = rho T^2 g / ||T g||`
 *    with `T = |w| + eta` elementwise (eta 0.01 as in ASAM).
 * 3. `g' = dL_B/dw` at `w + epsilon`, BatchNorm `{train: true, updateStats:
 *    false}` (batch statistics, running statistics untouched).
 * 4. The base SGD step (Nesterov, weight decay on w) at w with g'.
 *
 * Reports `samEpsilonNorm = ||epsilon||` and the loss at w. A zero or
 * non-finite g (or non-finite g') skips the step: state unchanged,
 * `skipped = 1`.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { disposeTree, type Params } from "../tree.ts";
import type { ModelParams } from "../models/model.ts";
import type { Method } from "./method.ts";
import { modelGradients, treeNorm } from "./gradients.ts";
import { sgd, type SgdOptions } from "./optimizer.ts";
import { asSchedule } from "./schedule.ts";
import {
  applySgdStep,
  disposeReplaced,
  flattenModelParams,
  initOptState,
  unflattenModelParams,
} from "./state.ts";

/** Configuration of {@link samMethod}: SAM's radius plus the base SGD settings. */
export interface SamMethodConfig extends SgdOptions {
  /** Neighbourhood radius rho (default 0.05). */
  rho?: number;
  /** ASAM's scale-invariant perturbation (default false). */
  adaptive?: boolean;
  /** ASAM's eta in `T = |w| + eta` (default 0.01). */
  eta?: number;
}

/**
 * The SAM perturbation epsilon for gradient `g` at parameters `w` (flat trees
 * with the same keys), and its norm; `null` when `g` (or `T g`) has zero or
 * non-finite norm.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { samPerturbation } from "./sam.ts";
 * const e = samPerturbation({ w: tf.tensor1d([3, 4]) }, { w: tf.tensor1d([1, 1]) }, { rho: 0.5 });
 * const v = e!.epsilon.w.dataSync();
 * if (Math.abs(v[0] - 0.3) > 1e-6 || Math.abs(v[1] - 0.4) > 1e-6) throw new Error();
 * ```
 */
export function samPerturbation(
  grads: Params,
  params: Params,
  options: { rho: number; adaptive?: boolean; eta?: number },
): { epsilon: Params; norm: number } | null {
  const { rho, adaptive = false, eta = 0.01 } = options;
  const scaled: Params = adaptive
    ? tf.tidy(() => {
      const out: Params = {};
      for (const k of Object.keys(grads)) {
        out[k] = tf.mul(tf.add(tf.abs(params[k]), eta), grads[k]);
      }
      return out;
    })
    : grads;
  const norm = treeNorm(scaled);
  if (!Number.isFinite(norm) || norm === 0) {
    if (adaptive) disposeTree(scaled);
    return null;
  }
  const epsilon = tf.tidy(() => {
    const out: Params = {};
    for (const k of Object.keys(grads)) {
      // adaptive: T^2 g = T (T g)
      const dir = adaptive
        ? tf.mul(tf.add(tf.abs(params[k]), eta), scaled[k])
        : grads[k];
      out[k] = tf.mul(dir, rho / norm);
    }
    return out;
  });
  if (adaptive) disposeTree(scaled);
  return { epsilon, norm: treeNorm(epsilon) };
}

/**
 * SAM / ASAM as a {@link Method} (see the module doc).
 *
 * @example
 * ```ts
 * import { samMethod } from "./sam.ts";
 * const method = samMethod({ rho: 0.05, lr: 0.1 });
 * if (method.name !== "sam") throw new Error();
 * ```
 */
export function samMethod(config: SamMethodConfig = {}): Method {
  const { rho = 0.05, adaptive = false, eta = 0.01 } = config;
  if (!(Number.isFinite(rho) && rho > 0)) {
    throw new RangeError(`SAM rho must be a finite number > 0, got ${rho}`);
  }
  if (!(Number.isFinite(eta) && eta >= 0)) {
    throw new RangeError(`ASAM eta must be a finite number >= 0, got ${eta}`);
  }
  const opt = sgd(config);
  const schedule = asSchedule(config.lr ?? 0.1);
  return {
    name: adaptive ? "asam" : "sam",
    initOpt: (params) => initOptState(opt, params, "all"),
    step(model, state, input) {
      const count = state.opt.count;
      const lr = schedule(count);
      const first = modelGradients(
        model,
        state.params,
        state.bn,
        input.batch,
        { wrt: "all", bn: { train: true, updateStats: true } },
      );
      const loss = first.loss.dataSync()[0];
      first.loss.dispose();
      const g1 = flattenModelParams(first.grads);
      const w = flattenModelParams(state.params);
      const pert = Number.isFinite(loss)
        ? samPerturbation(g1, w, { rho, adaptive, eta })
        : null;
      disposeTree(g1);
      if (pert === null) {
        disposeReplaced(first.bn, state.bn);
        return { state, metrics: { loss, lr, skipped: 1 } };
      }
      const shifted = tf.tidy(() => {
        const out: Params = {};
        for (const k of Object.keys(w)) out[k] = tf.add(w[k], pert.epsilon[k]);
        return out;
      });
      disposeTree(pert.epsilon);
      const sp = unflattenModelParams(shifted);
      const second = modelGradients(
        model,
        {
          features: sp.features ?? {},
          classifier: sp.classifier ?? {},
        } as ModelParams,
        state.bn,
        input.batch,
        { wrt: "all", bn: { train: true, updateStats: false } },
      );
      second.loss.dispose();
      disposeReplaced(second.bn, state.bn, first.bn);
      disposeTree(shifted);
      const g2 = flattenModelParams(second.grads);
      if (!Number.isFinite(treeNorm(g2))) {
        disposeTree(g2);
        disposeReplaced(first.bn, state.bn);
        return {
          state,
          metrics: { loss, lr, skipped: 1, samEpsilonNorm: pert.norm },
        };
      }
      const next = applySgdStep(opt, state, g2, first.bn, count);
      disposeTree(g2);
      return {
        state: next,
        metrics: { loss, lr, skipped: 0, samEpsilonNorm: pert.norm },
      };
    },
  };
}
