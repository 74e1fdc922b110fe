/**
 * Mini-batches for training and evaluation: seeded per-epoch shuffling,
 * batch size, drop-last policy, augmentation of one batch at a time from
 * uint8 (memory stays at one float batch, also on SVHN + extra), background
 * preparation of the next batch, PoF's weak batches, and a serialisable
 * state that resumes the identical batch sequence.
 *
 * Determinism: every random choice is derived from the seed and a counter,
 * never from how far a previous generator ran: the order of epoch `e` is
 * `new Rng(seed).fork("order/e").permutation(n)`, batch `k` of epoch `e` is
 * augmented with `new Rng(seed).fork("aug/e/k")`, and weak batch `j` draws
 * its indices (with replacement) and augmentation from
 * `new Rng(seed).fork("weak/j")`. So {@link LoaderState} is just
 * `{seed, epoch, position, weakCount}`, prefetching never changes a result,
 * and a resumed loader continues exactly.
 *
 * Overlap: {@link DataLoader.batches} prepares batch k+1 (typed arrays, on a
 * macrotask) right after handing out batch k, so it runs whenever the
 * consumer awaits, e.g. GPU results on the webgpu / tensorflow backends.
 * On the synchronous `cpu` backend there is nothing to overlap with, and the
 * preparation simply runs before the next batch is needed.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { Batch } from "./batch.ts";
import type { AugmentConfig } from "./augment.ts";
import {
  batchesPerEpoch,
  type BatchPlan,
  epochOrder,
  type HostBatch,
  planBatch,
  planWeakBatch,
} from "./batch_plan.ts";
import type { ImageSet } from "./image_set.ts";

export type { HostBatch } from "./batch_plan.ts";

/** The serialisable position of a {@link DataLoader}. */
export interface LoaderState {
  seed: number;
  /** Current epoch (0-based). */
  epoch: number;
  /** Index of the next batch of the current epoch to hand out. */
  position: number;
  /** Weak batches drawn so far. */
  weakCount: number;
}

/** Options of {@link DataLoader}. */
export interface LoaderOptions {
  batchSize: number;
  seed: number;
  /** Mean/std always; pad/crop/flip/cutout used when `train`. */
  augment: AugmentConfig;
  /** Training mode: shuffle + augmentation (default true). */
  train?: boolean;
  /** Shuffle each epoch (default: `train`). */
  shuffle?: boolean;
  /** Drop the last incomplete batch (default: `train`). */
  dropLast?: boolean;
  /** Size of {@link DataLoader.weakBatch} (PoF's |B|; default 32). */
  weakBatchSize?: number;
}

/**
 * Batches over an {@link ImageSet}.
 *
 * @example
 * ```ts
 * import { DataLoader } from "./loader.ts";
 * import { syntheticImages } from "./synthetic_images.ts";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * const set = syntheticImages({ n: 10, seed: 0 });
 * const cfg = { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], pad: 4, flip: true };
 * const loader = new DataLoader(set, { batchSize: 4, seed: 1, augment: cfg });
 * let n = 0;
 * for await (const b of loader.batches()) { n += b.y.shape[0]; b.x.dispose(); b.y.dispose(); }
 * if (n !== 8 || loader.state().epoch !== 1) throw new Error(); // drop-last in training
 * const w = loader.weakBatch();
 * if (w.x.shape[0] !== 32) throw new Error();
 * w.x.dispose(); w.y.dispose();
 * ```
 */
export class DataLoader {
  readonly set: ImageSet;
  readonly batchSize: number;
  readonly train: boolean;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly weakBatchSize: number;
  readonly augment: AugmentConfig;
  #seed: number;
  #epoch = 0;
  #position = 0;
  #weakCount = 0;
  #orderEpoch = -1;
  #order: Uint32Array = new Uint32Array(0);

  constructor(set: ImageSet, opts: LoaderOptions, state?: LoaderState) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
      throw new RangeError(
        `DataLoader batchSize must be a positive integer, got ${opts.batchSize}`,
      );
    }
    if (set.n < 1) {
      throw new RangeError(
        `DataLoader needs a non-empty set, got n = ${set.n}`,
      );
    }
    this.set = set;
    this.batchSize = opts.batchSize;
    this.train = opts.train ?? true;
    this.shuffle = opts.shuffle ?? this.train;
    this.dropLast = opts.dropLast ?? this.train;
    this.weakBatchSize = opts.weakBatchSize ?? 32;
    this.augment = opts.augment;
    this.#seed = opts.seed;
    if (this.dropLast && set.n < this.batchSize) {
      throw new RangeError(
        `DataLoader: dropLast with batchSize ${this.batchSize} > n = ${set.n} yields no batches`,
      );
    }
    if (state) this.setState(state);
  }

  /** Batches per epoch under the drop-last policy. */
  get batchesPerEpoch(): number {
    return batchesPerEpoch(this.set.n, this.batchSize, this.dropLast);
  }

  /** The current position (JSON-serialisable). */
  state(): LoaderState {
    return {
      seed: this.#seed,
      epoch: this.#epoch,
      position: this.#position,
      weakCount: this.#weakCount,
    };
  }

  /** Moves to a saved position. */
  setState(s: LoaderState): void {
    for (const k of ["seed", "epoch", "position", "weakCount"] as const) {
      if (!Number.isInteger(s?.[k]) || (k !== "seed" && s[k] < 0)) {
        throw new RangeError(
          `LoaderState.${k} must be an integer, got ${JSON.stringify(s?.[k])}`,
        );
      }
    }
    if (s.position > this.batchesPerEpoch) {
      throw new RangeError(
        `LoaderState.position ${s.position} exceeds ${this.batchesPerEpoch} batches per epoch`,
      );
    }
    this.#seed = s.seed;
    this.#epoch = s.epoch;
    this.#position = s.position;
    this.#weakCount = s.weakCount;
    this.#orderEpoch = -1;
  }

  /** The sample order of an epoch (see {@link epochOrder}). */
  order(epoch: number): Uint32Array {
    if (this.#orderEpoch !== epoch) {
      this.#order = epochOrder(this.set.n, this.#seed, epoch, this.shuffle);
      this.#orderEpoch = epoch;
    }
    return this.#order;
  }

  /** What fixes the batches (for {@link planBatch} and the worker). */
  plan(): BatchPlan {
    return {
      batchSize: this.batchSize,
      seed: this.#seed,
      augment: this.augment,
      train: this.train,
      shuffle: this.shuffle,
      dropLast: this.dropLast,
    };
  }

  /** Prepares batch `k` of epoch `e` (pure: depends only on seed, e, k). */
  hostBatch(epoch: number, k: number): HostBatch {
    return planBatch(this.set, this.plan(), this.order(epoch), epoch, k);
  }

  /** Weak batch `j` as typed arrays (pure). */
  hostWeakBatch(j: number, size = this.weakBatchSize): HostBatch {
    return planWeakBatch(this.set, this.augment, this.#seed, j, size);
  }

  /** The next batch as typed arrays; advances the state (next epoch at the end). */
  nextHost(): HostBatch {
    if (this.#position >= this.batchesPerEpoch) {
      this.#epoch++;
      this.#position = 0;
    }
    const b = this.hostBatch(this.#epoch, this.#position);
    this.#position++;
    return b;
  }

  /** The next batch as tensors (the caller disposes them). */
  next(): Batch {
    return toTensors(this.nextHost());
  }

  /**
   * PoF's weak mini-batch: `size` samples drawn with replacement, through the
   * training augmentation, from its own random stream.
   */
  weakBatch(size = this.weakBatchSize): Batch {
    const b = this.hostWeakBatch(this.#weakCount, size);
    this.#weakCount++;
    return toTensors(b);
  }

  /**
   * The rest of the current epoch (from {@link LoaderState.position}), with
   * the next batch prepared in the background; at its end the state moves to
   * the next epoch. Breaking out early leaves the state after the last batch
   * handed out.
   *
   * With `worker: true`, batches are prepared by a Web Worker running
   * `loader_worker.ts` on another core, `depth` batches ahead (default 2),
   * which also overlaps with synchronous training steps (`cpu`,
   * `tensorflow` backends). The worker shares the pixels through a
   * SharedArrayBuffer (copied into one once if `set.images` is not already
   * shared) and computes exactly the batches {@link DataLoader.hostBatch}
   * would, so results do not depend on this option. It is terminated when the
   * generator finishes or is abandoned with `break` / `return`.
   */
  async *batches(
    options: { worker?: boolean; depth?: number } = {},
  ): AsyncGenerator<Batch> {
    if (this.#position >= this.batchesPerEpoch) {
      this.#epoch++;
      this.#position = 0;
    }
    const epoch = this.#epoch;
    const nb = this.batchesPerEpoch;
    let k = this.#position;
    if (options.worker && k < nb) {
      yield* this.#workerBatches(epoch, k, Math.max(1, options.depth ?? 2));
      return;
    }
    let pending: Promise<HostBatch> | null = k < nb
      ? Promise.resolve(this.hostBatch(epoch, k))
      : null;
    while (pending) {
      const cur = await pending;
      const next = k + 1;
      pending = next < nb ? later(() => this.hostBatch(epoch, next)) : null;
      this.#position = next;
      k = next;
      yield toTensors(cur);
    }
    this.#epoch = epoch + 1;
    this.#position = 0;
  }

  /** The pixels in shared memory (for the worker). */
  #sharedImages(): Uint8Array {
    const img = this.set.images;
    if (img.buffer instanceof SharedArrayBuffer) return img;
    const shared = new Uint8Array(new SharedArrayBuffer(img.length));
    shared.set(img);
    return shared;
  }

  async *#workerBatches(
    epoch: number,
    start: number,
    depth: number,
  ): AsyncGenerator<Batch> {
    const nb = this.batchesPerEpoch;
    const worker = new Worker(
      new URL("./loader_worker.ts", import.meta.url).href,
      { type: "module" },
    );
    const waiting = new Map<
      number,
      { resolve: (b: HostBatch) => void; reject: (e: Error) => void }
    >();
    let failure: Error | null = null;
    const failAll = (e: Error) => {
      failure = e;
      for (const w of waiting.values()) w.reject(e);
      waiting.clear();
    };
    worker.onmessage = (ev: MessageEvent) => {
      const d = ev.data as {
        k: number;
        error?: string;
        x?: Float32Array;
        y?: Int32Array;
        indices?: Uint32Array;
        shape?: [number, number, number, number];
      };
      const w = waiting.get(d.k);
      if (!w) return;
      waiting.delete(d.k);
      if (d.error) w.reject(new Error(`loader worker: ${d.error}`));
      else {
        w.resolve({ x: d.x!, y: d.y!, indices: d.indices!, shape: d.shape! });
      }
    };
    worker.onerror = (ev: ErrorEvent) => {
      ev.preventDefault();
      failAll(new Error(`loader worker failed: ${ev.message}`));
    };
    const request = (k: number): Promise<HostBatch> => {
      const p = new Promise<HostBatch>((resolve, reject) => {
        if (failure) return reject(failure);
        waiting.set(k, { resolve, reject });
        worker.postMessage({ kind: "batch", epoch, k });
      });
      // requests abandoned by a `break` are rejected in `finally`: not an error
      p.catch(() => {});
      return p;
    };
    try {
      const s = this.set;
      worker.postMessage({
        kind: "init",
        set: {
          images: this.#sharedImages(),
          labels: s.labels,
          n: s.n,
          height: s.height,
          width: s.width,
          channels: s.channels,
        },
        plan: this.plan(),
      });
      const queue: Promise<HostBatch>[] = [];
      let next = start;
      while (next < nb && queue.length < depth) queue.push(request(next++));
      for (let k = start; k < nb; k++) {
        const cur = await queue.shift()!;
        if (next < nb) queue.push(request(next++));
        this.#position = k + 1;
        yield toTensors(cur);
      }
      this.#epoch = epoch + 1;
      this.#position = 0;
    } finally {
      failAll(new Error("loader worker stopped"));
      worker.terminate();
    }
  }
}

function later<T>(f: () => T): Promise<T> {
  return new Promise((resolve, reject) =>
    setTimeout(() => {
      try {
        resolve(f());
      } catch (e) {
        reject(e);
      }
    }, 0)
  );
}

/**
 * Turns a {@link HostBatch} into a {@link Batch} (float32 NHWC, int32 labels).
 *
 * @example
 * ```ts
 * import { toTensors } from "./loader.ts";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * const b = toTensors({ x: new Float32Array(4), y: new Int32Array([1]), shape: [1, 2, 2, 1], indices: new Uint32Array([0]) });
 * if (b.x.dtype !== "float32" || b.y.dtype !== "int32") throw new Error();
 * b.x.dispose(); b.y.dispose();
 * ```
 */
export function toTensors(b: HostBatch): Batch {
  return {
    x: tf.tensor4d(b.x, b.shape, "float32"),
    y: tf.tensor1d(b.y, "int32"),
  };
}
