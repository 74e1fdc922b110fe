/**
 * Glue between the tree optimizers (`optimizer.ts`) and the methods' flat
 * {@link OptState}: parameter keys are prefixed `features/` (phi) and
 * `classifier/` (theta), the momentum buffer lives in `slots.momentum`, and
 * `count` is the number of steps taken.
 *
 * @module
 */
import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { Params } from "../tree.ts";
import type { ModelParams } from "../models/model.ts";
import type { OptState, TrainState } from "./method.ts";
import { applyUpdates, type Optimizer, type SgdState } from "./optimizer.ts";

/** Which parameters a method trains. */
export type Trainable = "all" | "features" | "classifier";

/**
 * Flattens phi and/or theta into one tree keyed `features/<k>` and
 * `classifier/<k>` (the tensors themselves, not copies).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { flattenModelParams } from "./state.ts";
 * const flat = flattenModelParams({ features: { w: tf.scalar(1) }, classifier: { bias: tf.scalar(2) } });
 * if (Object.keys(flat).join() !== "features/w,classifier/bias") throw new Error();
 * ```
 */
export function flattenModelParams(
  params: Partial<ModelParams>,
  which: Trainable = "all",
): Params {
  const out: Params = {};
  if (which !== "classifier" && params.features) {
    for (const [k, v] of Object.entries(params.features)) {
      out[`features/${k}`] = v;
    }
  }
  if (which !== "features" && params.classifier) {
    for (const [k, v] of Object.entries(params.classifier)) {
      out[`classifier/${k}`] = v;
    }
  }
  return out;
}

/**
 * The inverse of {@link flattenModelParams}; unknown prefixes are an error.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { unflattenModelParams } from "./state.ts";
 * const p = unflattenModelParams({ "features/w": tf.scalar(1) });
 * if (!p.features?.w || p.classifier) throw new Error();
 * ```
 */
export function unflattenModelParams(flat: Params): Partial<ModelParams> {
  const out: Partial<ModelParams> = {};
  for (const [key, v] of Object.entries(flat)) {
    const slash = key.indexOf("/");
    const head = key.slice(0, slash), rest = key.slice(slash + 1);
    if (slash < 0 || (head !== "features" && head !== "classifier")) {
      throw new Error(
        `key "${key}" does not start with "features/" or "classifier/"`,
      );
    }
    (out[head] ??= {})[rest] = v;
  }
  return out;
}

/**
 * Disposes the tensors of `old` that do not also appear in any of `keep`
 * (by identity): what a step replaced.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { disposeReplaced } from "./state.ts";
 * const a = tf.scalar(1), b = tf.scalar(2), c = tf.scalar(3);
 * disposeReplaced({ a, b }, { a, b: c });
 * if (a.isDisposed || !b.isDisposed) throw new Error();
 * ```
 */
export function disposeReplaced(old: Params, ...keep: Params[]): void {
  const alive = new Set<tf.Tensor>();
  for (const t of keep) for (const v of Object.values(t)) alive.add(v);
  for (const v of Object.values(old)) {
    if (!alive.has(v) && !v.isDisposed) v.dispose();
  }
}

/**
 * A method's checkpointable {@link OptState} of an SGD chain state: the
 * momentum trace becomes `slots.momentum`, the learning-rate count `count`.
 * {@link sgdChainState} is the inverse; together they are the only place the
 * chain's state layout is spelled out.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { sgd } from "./optimizer.ts";
 * import { optStateOf } from "./state.ts";
 * const s = optStateOf(sgd().init({ "features/w": tf.ones([2]) }));
 * if (s.slots.momentum["features/w"].dataSync()[1] !== 0 || s.count !== 0) throw new Error();
 * ```
 */
export function optStateOf(state: SgdState): OptState {
  return { slots: { momentum: state[1].trace }, count: state[2].count };
}

/**
 * The SGD chain state for `momentum` at step `count` (the inverse of
 * {@link optStateOf}).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { sgdChainState } from "./state.ts";
 * const s = sgdChainState({ w: tf.zeros([1]) }, 7);
 * if (s[2].count !== 7 || !s[1].trace.w) throw new Error();
 * ```
 */
export function sgdChainState(momentum: Params, count: number): SgdState {
  return [{}, { trace: momentum }, { count }];
}

/**
 * Fresh optimizer state of a method training `which` parameters: the
 * optimizer's own `init` on those leaves (zero momentum, count 0).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { sgd } from "./optimizer.ts";
 * import { initOptState } from "./state.ts";
 * const s = initOptState(sgd(), { features: { w: tf.ones([2]) }, classifier: { b: tf.ones([1]) } }, "features");
 * if (s.slots.momentum["features/w"].dataSync()[1] !== 0 || "classifier/b" in s.slots.momentum) throw new Error();
 * ```
 */
export function initOptState(
  opt: Optimizer<SgdState>,
  params: ModelParams,
  which: Trainable,
): OptState {
  return optStateOf(opt.init(flattenModelParams(params, which)));
}

/**
 * One SGD step on a flat subtree: returns new parameter and momentum tensors
 * for exactly the keys of `grads` (nothing given is disposed). `count`
 * selects the learning rate.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { sgd } from "./optimizer.ts";
 * import { sgdSubstep } from "./state.ts";
 * const r = sgdSubstep(sgd({ lr: 0.5, momentum: 0, nesterov: false, weightDecay: 0 }), {
 *   params: { w: tf.scalar(1) }, grads: { w: tf.scalar(2) }, momentum: { w: tf.scalar(0) }, count: 0,
 * });
 * if (r.params.w.dataSync()[0] !== 0) throw new Error();
 * ```
 */
export function sgdSubstep(
  opt: Optimizer<SgdState>,
  input: { params: Params; grads: Params; momentum: Params; count: number },
): { params: Params; momentum: Params } {
  const keys = Object.keys(input.grads);
  const params: Params = {}, momentum: Params = {};
  for (const k of keys) {
    if (!(k in input.params) || !(k in input.momentum)) {
      throw new Error(
        `sgdSubstep: gradient "${k}" has no parameter or momentum; momentum keys are [${
          Object.keys(input.momentum).join(", ")
        }] (was the optimizer state made by this method's initOpt?)`,
      );
    }
    params[k] = input.params[k];
    momentum[k] = input.momentum[k];
  }
  const [updates, next] = opt.update(
    input.grads,
    sgdChainState(momentum, input.count),
    params,
  );
  const newParams = applyUpdates(params, updates);
  for (const v of Object.values(updates)) v.dispose();
  return { params: newParams, momentum: next[1].trace };
}

/**
 * Rebuilds the state after an SGD step on the flat subtree `grads` and
 * disposes what it replaced (parameters, momentum, BN statistics). `bn` is
 * the BatchNorm state to install (pass `state.bn` to keep it). The new count
 * is `count + 1` unless `nextCount` is given.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { sgd } from "./optimizer.ts";
 * import { applySgdStep, initOptState } from "./state.ts";
 * const params = { features: { w: tf.scalar(1) }, classifier: { b: tf.scalar(5) } };
 * const opt = sgd({ lr: 0.5, momentum: 0, weightDecay: 0, nesterov: false });
 * const state = { params, bn: {}, opt: initOptState(opt, params, "features") };
 * const next = applySgdStep(opt, state, { "features/w": tf.scalar(2) }, state.bn, 0);
 * if (next.params.features.w.dataSync()[0] !== 0 || next.opt.count !== 1) throw new Error();
 * if (next.params.classifier.b !== params.classifier.b) throw new Error("theta copied");
 * ```
 */
export function applySgdStep(
  opt: Optimizer<SgdState>,
  state: TrainState,
  grads: Params,
  bn: TrainState["bn"],
  count: number,
  options: { nextCount?: number } = {},
): TrainState {
  const flatParams = flattenModelParams(state.params);
  const oldMomentum = state.opt.slots.momentum ?? {};
  const r = sgdSubstep(opt, {
    params: flatParams,
    grads,
    momentum: oldMomentum,
    count,
  });
  const newFlat: Params = {}, newMomentum: Params = {};
  for (const k of Object.keys(flatParams)) {
    newFlat[k] = r.params[k] ?? flatParams[k];
  }
  for (const k of Object.keys(oldMomentum)) {
    newMomentum[k] = r.momentum[k] ?? oldMomentum[k];
  }
  const p = unflattenModelParams(newFlat);
  const params: ModelParams = {
    features: p.features ?? {},
    classifier: p.classifier ?? {},
  };
  disposeReplaced(flatParams, newFlat);
  disposeReplaced(oldMomentum, newMomentum);
  disposeReplaced(state.bn, bn);
  const opt2: OptState = {
    slots: { ...state.opt.slots, momentum: newMomentum },
    count: options.nextCount ?? count + 1,
  };
  return { params, bn, opt: opt2 };
}
