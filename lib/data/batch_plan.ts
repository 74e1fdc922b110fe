/**
 * The pure, tensor-free part of the loader: which samples form batch k of
 * epoch e and their augmented pixels, as functions of (seed, e, k) only. Used
 * by `DataLoader` on the main thread and by `loader_worker.ts` in a Worker
 * (which therefore does not load TensorFlow.js).
 *
 * @module
 */
import { Rng } from "../rng.ts";
import { augmentBatch, type AugmentConfig } from "./augment.ts";
import type { ImageSet } from "./image_set.ts";

/** A batch as typed arrays, before it becomes tensors. */
export interface HostBatch {
  x: Float32Array;
  y: Int32Array;
  shape: [number, number, number, number];
  /** Dataset indices in this batch. */
  indices: Uint32Array;
}

/** What determines the batches of an epoch. */
export interface BatchPlan {
  batchSize: number;
  seed: number;
  augment: AugmentConfig;
  /** Augment (else normalise only). */
  train: boolean;
  shuffle: boolean;
  dropLast: boolean;
}

/**
 * Batches per epoch under a drop-last policy.
 *
 * @example
 * ```ts
 * import { batchesPerEpoch } from "./batch_plan.ts";
 * if (batchesPerEpoch(10, 4, true) !== 2 || batchesPerEpoch(10, 4, false) !== 3) throw new Error();
 * ```
 */
export function batchesPerEpoch(
  n: number,
  batchSize: number,
  dropLast: boolean,
): number {
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

/**
 * The sample order of epoch `epoch`: `new Rng(seed).fork("order/<epoch>")
 * .permutation(n)` when shuffling, else 0..n-1.
 *
 * @example
 * ```ts
 * import { epochOrder } from "./batch_plan.ts";
 * if (epochOrder(3, 0, 0, false).join() !== "0,1,2") throw new Error();
 * ```
 */
export function epochOrder(
  n: number,
  seed: number,
  epoch: number,
  shuffle: boolean,
): Uint32Array {
  if (shuffle) return new Rng(seed).fork(`order/${epoch}`).permutation(n);
  const o = new Uint32Array(n);
  for (let i = 0; i < n; i++) o[i] = i;
  return o;
}

/**
 * Batch `k` of an epoch whose order is `order`; augmented with
 * `new Rng(seed).fork("aug/<epoch>/<k>")` when training.
 *
 * @example
 * ```ts
 * import { epochOrder, planBatch } from "./batch_plan.ts";
 * import { syntheticImages } from "./synthetic_images.ts";
 * const set = syntheticImages({ n: 6, seed: 0 });
 * const plan = { batchSize: 4, seed: 1, augment: { mean: [0, 0, 0], std: [1, 1, 1] },
 *   train: false, shuffle: false, dropLast: false };
 * const b = planBatch(set, plan, epochOrder(6, 1, 0, false), 0, 1);
 * if (b.indices.join() !== "4,5") throw new Error();
 * ```
 */
export function planBatch(
  set: ImageSet,
  plan: BatchPlan,
  order: Uint32Array,
  epoch: number,
  k: number,
): HostBatch {
  const nb = batchesPerEpoch(set.n, plan.batchSize, plan.dropLast);
  if (!Number.isInteger(k) || k < 0 || k >= nb) {
    throw new RangeError(`batch ${k} outside [0, ${nb})`);
  }
  const start = k * plan.batchSize;
  const indices = order.slice(start, Math.min(set.n, start + plan.batchSize));
  const rng = plan.train ? new Rng(plan.seed).fork(`aug/${epoch}/${k}`) : null;
  const b = augmentBatch(set, indices, plan.augment, rng);
  return { x: b.x, y: b.y, shape: b.shape, indices };
}

/**
 * Weak batch `j`: `size` indices drawn with replacement from
 * `new Rng(seed).fork("weak/<j>")`, then augmented from the same stream.
 *
 * @example
 * ```ts
 * import { planWeakBatch } from "./batch_plan.ts";
 * import { syntheticImages } from "./synthetic_images.ts";
 * const set = syntheticImages({ n: 6, seed: 0 });
 * const b = planWeakBatch(set, { mean: [0, 0, 0], std: [1, 1, 1], pad: 4 }, 3, 0, 5);
 * if (b.indices.length !== 5 || b.shape[0] !== 5) throw new Error();
 * ```
 */
export function planWeakBatch(
  set: ImageSet,
  augment: AugmentConfig,
  seed: number,
  j: number,
  size: number,
): HostBatch {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(
      `weak batch size must be a positive integer, got ${size}`,
    );
  }
  const rng = new Rng(seed).fork(`weak/${j}`);
  const indices = new Uint32Array(size);
  for (let i = 0; i < size; i++) indices[i] = rng.int(set.n);
  const b = augmentBatch(set, indices, augment, rng);
  return { x: b.x, y: b.y, shape: b.shape, indices };
}
