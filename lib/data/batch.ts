/**
 * What the data layer hands to training: a {@link Batch} of inputs and
 * labels, a {@link TrainData} stream with a serialisable position and a
 * fixed {@link EvalData} sequence. The loaders in `lib/data/` implement
 * these; the optimizers and the training loop consume them.
 *
 * @module
 */
import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";

/** A mini-batch: inputs and int32 labels. */
export interface Batch {
  x: tf.Tensor;
  y: tf.Tensor1D;
}

/** A training data stream with a serialisable position. */
export interface TrainData {
  /** Update steps per epoch. */
  readonly stepsPerEpoch: number;
  /** Prepares epoch `epoch` (0-based; e.g. draws its shuffle). Called before its first batch. */
  startEpoch(epoch: number): void;
  /** The next update batch of the current epoch. The caller disposes it. */
  next(): Batch;
  /** A weak batch (PoF), with replacement, augmented. The caller disposes it. */
  weak?(): Batch;
  /** The loader's state at an epoch boundary (JSON). */
  state(): unknown;
  /** Restores {@link TrainData.state}. */
  restore(state: unknown): void;
}

/** A fixed, deterministic sequence of evaluation batches. */
export interface EvalData {
  /** Number of examples. */
  readonly size: number;
  /** The batches in order; each is disposed by the caller. */
  batches(): Iterable<Batch>;
}
