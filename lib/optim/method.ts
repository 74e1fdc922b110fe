/**
 * The shape every training method (SGD, SAM, PoF) has, so that the runner,
 * the benchmark and the tests drive them the same way.
 *
 * A method is built by a factory in this directory (e.g. `sgdMethod(config)`),
 * holds no tensors itself, and turns a {@link TrainState} plus a batch into
 * the next {@link TrainState}. It owns and disposes the previous state's
 * tensors that it replaced; the caller owns the returned state.
 *
 * @module
 */
import { disposeTree, type Params } from "../tree.ts";
import type { BnState, Model, ModelParams } from "../models/model.ts";
import type { Rng } from "../rng.ts";
import type { Batch } from "../data/batch.ts";

/**
 * Optimizer state: named slot trees (e.g. `momentum`) keyed like the
 * parameters they belong to (`features/<key>` / `classifier/<key>`), plus the
 * step count that schedules read. Everything in it is checkpointable.
 */
export interface OptState {
  slots: Record<string, Params>;
  count: number;
}

/** Everything that changes during training. */
export interface TrainState {
  params: ModelParams;
  bn: BnState;
  opt: OptState;
}

/** What one step feeds a method. */
export interface StepInput {
  /** The update mini-batch (PoF: B-tilde, 256 in the paper). */
  batch: Batch;
  /**
   * PoF only: draws a fresh weak mini-batch B (32 in the paper), with
   * replacement, through the training augmentation. Called again when a
   * batch is discarded. The caller disposes what it returns after the step.
   */
  weakBatch?: () => Batch;
}

/** Scalars reported by one step (PoF telemetry optional). */
export interface StepMetrics {
  /** Training loss of the update batch at the parameters the gradient was taken at. */
  loss: number;
  /** Learning rate used. */
  lr: number;
  /** PoF: line-search minimiser xi*. */
  xi?: number;
  /** PoF: expansion factor gamma. */
  gamma?: number;
  /** PoF: ||gamma xi* u||. */
  perturbationNorm?: number;
  /** PoF: weak-batch loss at theta0 and at theta0 - xi* u. */
  weakLossBefore?: number;
  weakLossAfter?: number;
  /** PoF: weak batches discarded (asymmetric landscape) in this step. */
  discarded?: number;
  /** PoF: line searches run in this step (1 + discarded, or 0 for a zero gradient). */
  lineSearches?: number;
  /**
   * PoF: how many of them hit the cap `maxXi` (the line loss still fell
   * there, `bracketed: false`); the epoch's `xiCapFraction` is their sum over
   * the sum of `lineSearches`.
   */
  xiCapped?: number;
  /**
   * PoF: update-batch loss at (phi, theta0), the same forward pass as the
   * update (BatchNorm batch statistics), comparable with SGD's and SAM's
   * `loss`; PoF's own `loss` is taken at the perturbed theta'.
   */
  lossAtTheta0?: number;
  /** Steps skipped because a gradient was zero or non-finite (0 or 1). */
  skipped?: number;
  /** SAM: ||epsilon||. */
  samEpsilonNorm?: number;
}

/** A training method: SGD, SAM or PoF. */
export interface Method {
  readonly name: string;
  /** Fresh optimizer state for these parameters. */
  initOpt(params: ModelParams): OptState;
  /** One optimisation step. Disposes the replaced tensors of `state`. */
  step(
    model: Model,
    state: TrainState,
    input: StepInput,
    rng: Rng,
  ): { state: TrainState; metrics: StepMetrics };
}

/**
 * Disposes every tensor of a training state: parameters, BN statistics and
 * optimizer slots.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../backend.ts";
 * import { disposeTrainState } from "./method.ts";
 * await useBackend("cpu");
 * const before = tf.memory().numTensors;
 * disposeTrainState({
 *   params: { features: { w: tf.ones([2]) }, classifier: { kernel: tf.ones([2, 2]) } },
 *   bn: { "bn.mean": tf.zeros([2]) },
 *   opt: { slots: { momentum: { "features/w": tf.zeros([2]) } }, count: 0 },
 * });
 * if (tf.memory().numTensors !== before) throw new Error("leaked");
 * ```
 */
export function disposeTrainState(state: TrainState): void {
  disposeTree(
    state.params.features,
    state.params.classifier,
    state.bn,
    ...Object.values(state.opt.slots),
  );
}
