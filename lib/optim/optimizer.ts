/**
 * Optax-style optimizers on parameter trees.
 *
 * An optimizer (a {@link GradientTransformation}) is a pair of pure functions:
 * `init(params) -> state` and `update(grads, state, params) -> [updates, state]`.
 * `updates` are to be *added* to the parameters ({@link applyUpdates}).
 * Nothing is mutated and nothing given is disposed: every returned tensor is
 * new and owned by the caller, who also disposes the old state once replaced.
 *
 * SGD is the composition ({@link chain}) of
 * 1. {@link addDecayedWeights}: `g <- g + wd * w` (L2 weight decay, PyTorch's
 *    `weight_decay`, applied to every leaf given);
 * 2. {@link traceMomentum}: PyTorch semantics with dampening 0:
 *    `buf <- mu * buf + g`, step `g + mu * buf` (Nesterov) or `buf` (heavy ball);
 * 3. {@link scaleByLearningRate}: `-lr(count) * step`, `count <- count + 1`.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { axpy, cloneTree, mapTree, type Params, zerosLike } from "../tree.ts";
import { asSchedule, type Schedule } from "./schedule.ts";

/** A pure optimizer building block (optax's `GradientTransformation`). */
export interface GradientTransformation<S> {
  /** The initial state for these parameters. */
  init(params: Params): S;
  /**
   * Transforms `updates` (gradients on entry to a chain); returns new tensors
   * and the new state. Inputs are neither mutated nor disposed.
   */
  update(updates: Params, state: S, params: Params): [Params, S];
}

/** An optimizer: a gradient transformation whose output is added to the parameters. */
export type Optimizer<S> = GradientTransformation<S>;

/** The state of a transformation without state. */
export type EmptyState = Record<string, never>;

/** The state of {@link traceMomentum}: the momentum buffer, keyed like the parameters. */
export interface TraceState {
  trace: Params;
}

/** The state of {@link scaleByLearningRate}: steps taken so far. */
export interface CountState {
  count: number;
}

/**
 * `g + weightDecay * w` (coupled L2 decay, as PyTorch's SGD `weight_decay`).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { addDecayedWeights } from "./optimizer.ts";
 * const t = addDecayedWeights(0.5);
 * const [u] = t.update({ w: tf.tensor1d([1]) }, t.init({}), { w: tf.tensor1d([4]) });
 * if (u.w.dataSync()[0] !== 3) throw new Error();
 * ```
 */
export function addDecayedWeights(
  weightDecay: number,
): GradientTransformation<EmptyState> {
  if (!Number.isFinite(weightDecay) || weightDecay < 0) {
    throw new RangeError(
      `weightDecay must be a finite number >= 0, got ${weightDecay}`,
    );
  }
  return {
    init: () => ({}),
    update: (updates, state, params) => [
      weightDecay === 0
        ? cloneTree(updates)
        // tidy: tree.axpy leaves its `alpha * b` intermediates behind.
        : tf.tidy(() => axpy(updates, pick(params, updates), weightDecay)),
      state,
    ],
  };
}

/** Options of {@link traceMomentum}. */
export interface TraceOptions {
  /** Momentum coefficient mu in [0, 1). */
  momentum: number;
  /** Nesterov step `g + mu * buf` instead of `buf`. */
  nesterov: boolean;
}

/**
 * Momentum with PyTorch semantics (dampening 0): `buf <- mu * buf + g`; the
 * output is `g + mu * buf` (Nesterov) or `buf`. The buffer starts at zero,
 * which equals PyTorch's first-step `buf = g`.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { traceMomentum } from "./optimizer.ts";
 * const t = traceMomentum({ momentum: 0.9, nesterov: true });
 * const p = { w: tf.tensor1d([0]) };
 * const [u1, s1] = t.update({ w: tf.tensor1d([1]) }, t.init(p), p);
 * const [u2] = t.update({ w: tf.tensor1d([1]) }, s1, p);
 * // buf1 = 1, out1 = 1 + 0.9; buf2 = 1.9, out2 = 1 + 0.9 * 1.9
 * if (Math.abs(u1.w.dataSync()[0] - 1.9) > 1e-6) throw new Error();
 * if (Math.abs(u2.w.dataSync()[0] - 2.71) > 1e-6) throw new Error();
 * ```
 */
export function traceMomentum(
  options: TraceOptions,
): GradientTransformation<TraceState> {
  const { momentum, nesterov } = options;
  if (!Number.isFinite(momentum) || momentum < 0 || momentum >= 1) {
    throw new RangeError(`momentum must be in [0, 1), got ${momentum}`);
  }
  if (nesterov && momentum === 0) {
    throw new RangeError(
      `Nesterov momentum needs momentum > 0, got momentum ${momentum}`,
    );
  }
  return {
    init: (params) => ({ trace: zerosLike(params) }),
    update: (updates, state) => {
      const { out, merged } = tf.tidy(() => {
        const trace = pick(state.trace, updates);
        const newTrace = axpy(updates, trace, momentum);
        const out = nesterov
          ? axpy(updates, newTrace, momentum)
          : cloneTree(newTrace);
        // Keep buffers of leaves not updated this time (e.g. a frozen subtree).
        const merged: Params = {};
        for (const k of Object.keys(state.trace)) {
          merged[k] = k in newTrace ? newTrace[k] : tf.clone(state.trace[k]);
        }
        return { out, merged };
      });
      return [out, { trace: merged }];
    },
  };
}

/**
 * Multiplies by `-lr(count)` and counts steps.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { scaleByLearningRate } from "./optimizer.ts";
 * const t = scaleByLearningRate((c) => 0.1 / (c + 1));
 * const [u, s] = t.update({ w: tf.tensor1d([2]) }, t.init({}), {});
 * if (Math.abs(u.w.dataSync()[0] + 0.2) > 1e-7 || s.count !== 1) throw new Error();
 * ```
 */
export function scaleByLearningRate(
  lr: number | Schedule,
): GradientTransformation<CountState> {
  const schedule = asSchedule(lr);
  return {
    init: () => ({ count: 0 }),
    update: (updates, state) => {
      const rate = schedule(state.count);
      if (!Number.isFinite(rate)) {
        throw new RangeError(
          `learning rate at count ${state.count} must be finite, got ${rate}`,
        );
      }
      return [
        mapTree(updates, (t) => tf.mul(t, -rate)),
        { count: state.count + 1 },
      ];
    },
  };
}

type StatesOf<T extends GradientTransformation<unknown>[]> = {
  [K in keyof T]: T[K] extends GradientTransformation<infer S> ? S : never;
};

/**
 * Composes transformations left to right; the state is the tuple of their
 * states. Intermediate update trees are disposed.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { addDecayedWeights, chain, scaleByLearningRate } from "./optimizer.ts";
 * const opt = chain(addDecayedWeights(1), scaleByLearningRate(0.5));
 * const p = { w: tf.tensor1d([2]) };
 * const [u] = opt.update({ w: tf.tensor1d([1]) }, opt.init(p), p);
 * if (u.w.dataSync()[0] !== -1.5) throw new Error(); // -0.5 * (1 + 2)
 * ```
 */
export function chain<T extends GradientTransformation<unknown>[]>(
  ...transforms: T
): GradientTransformation<StatesOf<T>> {
  return {
    init: (params) =>
      transforms.map((t) => t.init(params)) as unknown as StatesOf<T>,
    update: (updates, state, params) => {
      const states = state as unknown as unknown[];
      const next: unknown[] = [];
      let current = updates;
      transforms.forEach((t, i) => {
        const [out, s] = t.update(current, states[i], params);
        if (current !== updates) {
          for (const v of Object.values(current)) v.dispose();
        }
        current = out;
        next.push(s);
      });
      return [
        current === updates ? cloneTree(updates) : current,
        next as unknown as StatesOf<T>,
      ];
    },
  };
}

/** Options of {@link sgd}. */
export interface SgdOptions {
  /** Learning rate or schedule of the step count (default 0.1). */
  lr?: number | Schedule;
  /** Momentum coefficient (default 0.9). */
  momentum?: number;
  /** Nesterov momentum (default true). */
  nesterov?: boolean;
  /** Coupled L2 weight decay (default 5e-4). */
  weightDecay?: number;
}

/** The state of {@link sgd}: the chain's tuple of states. */
export type SgdState = [EmptyState, TraceState, CountState];

/**
 * SGD as used in the paper (PyTorch `SGD(lr, momentum=0.9, nesterov=True,
 * weight_decay=5e-4)`): `chain(addDecayedWeights, traceMomentum,
 * scaleByLearningRate)`. Momentum 0 without Nesterov is plain SGD (the
 * buffer then just holds the last decayed gradient).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { applyUpdates, sgd } from "./optimizer.ts";
 * const opt = sgd({ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0 });
 * const p = { w: tf.tensor1d([1]) };
 * const [u] = opt.update({ w: tf.tensor1d([1]) }, opt.init(p), p);
 * const next = applyUpdates(p, u);
 * if (Math.abs(next.w.dataSync()[0] - (1 - 0.1 * 1.9)) > 1e-6) throw new Error();
 * ```
 */
export function sgd(options: SgdOptions = {}): Optimizer<SgdState> {
  const {
    lr = 0.1,
    momentum = 0.9,
    nesterov = true,
    weightDecay = 5e-4,
  } = options;
  const decay = addDecayedWeights(weightDecay);
  const scale = scaleByLearningRate(lr);
  return chain(decay, traceMomentum({ momentum, nesterov }), scale);
}

/**
 * `params + updates`, leafwise over the keys of `updates` (leaves of `params`
 * without an update are cloned). Returns new tensors.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { applyUpdates } from "./optimizer.ts";
 * const p = applyUpdates({ w: tf.tensor1d([1]) }, { w: tf.tensor1d([-0.5]) });
 * if (p.w.dataSync()[0] !== 0.5) throw new Error();
 * ```
 */
export function applyUpdates(params: Params, updates: Params): Params {
  for (const k of Object.keys(updates)) {
    if (!(k in params)) {
      throw new Error(
        `applyUpdates: update "${k}" has no parameter; parameters are [${
          Object.keys(params).join(", ")
        }]`,
      );
    }
  }
  return mapTree(
    params,
    (p, k) => k in updates ? tf.add(p, updates[k]) : tf.clone(p),
  );
}

/** The leaves of `tree` at the keys of `like`, in `like`'s order. */
function pick(tree: Params, like: Params): Params {
  const out: Params = {};
  for (const k of Object.keys(like)) {
    if (!(k in tree)) {
      throw new Error(
        `no leaf "${k}" in tree with keys [${Object.keys(tree).join(", ")}]`,
      );
    }
    out[k] = tree[k];
  }
  return out;
}
