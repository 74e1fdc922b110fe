/**
 * Training and evaluation streams over an in-memory float dataset of
 * vectors (the toy data of Figs. 1-2 and the runner's fast tests). Each
 * epoch draws a fresh permutation from the loader's own {@link Rng}; the last
 * partial batch is dropped. The loader's state is that generator's state,
 * so a checkpoint taken at an epoch boundary resumes exactly.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { Rng, type RngState } from "../rng.ts";
import type { Batch, EvalData, TrainData } from "./batch.ts";

/** Row-major examples and labels. */
export interface ArrayDataset {
  x: Float32Array;
  y: Int32Array;
  n: number;
  /** Shape of one example, e.g. [16]. */
  inputShape: number[];
}

function gather(d: ArrayDataset, idx: ArrayLike<number>): Batch {
  const dim = d.inputShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(idx.length * dim);
  const y = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const j = idx[i];
    x.set(d.x.subarray(j * dim, (j + 1) * dim), i * dim);
    y[i] = d.y[j];
  }
  return {
    x: tf.tensor(x, [idx.length, ...d.inputShape], "float32"),
    y: tf.tensor1d(y, "int32"),
  };
}

/**
 * A shuffling {@link TrainData} over `data` with update batches of
 * `batchSize` and weak batches of `weakBatchSize` drawn with replacement.
 *
 * @example
 * ```ts
 * import { Rng } from "../rng.ts";
 * import { arrayTrainData } from "./array_data.ts";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * const data = { x: new Float32Array([0, 1, 2, 3]), y: new Int32Array([0, 1, 0, 1]), n: 4, inputShape: [1] };
 * const loader = arrayTrainData(data, { batchSize: 2, rng: new Rng(0) });
 * loader.startEpoch(0);
 * const seen = [...loader.next().x.dataSync(), ...loader.next().x.dataSync()].sort();
 * if (seen.join() !== "0,1,2,3" || loader.stepsPerEpoch !== 2) throw new Error(seen.join());
 * ```
 */
export function arrayTrainData(
  data: ArrayDataset,
  options: { batchSize: number; weakBatchSize?: number; rng: Rng },
): TrainData {
  const { batchSize } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > data.n) {
    throw new RangeError(
      `batchSize must be an integer in [1, ${data.n}] (the dataset size), got ${batchSize}`,
    );
  }
  let rng = options.rng;
  let perm: Uint32Array | null = null;
  let pos = 0;
  const steps = Math.floor(data.n / batchSize);
  const loader: TrainData = {
    stepsPerEpoch: steps,
    startEpoch() {
      perm = rng.permutation(data.n);
      pos = 0;
    },
    next() {
      if (!perm) throw new Error("arrayTrainData: next() before startEpoch()");
      if (pos + batchSize > perm.length) {
        throw new Error(
          `arrayTrainData: epoch exhausted after ${steps} batches`,
        );
      }
      const b = gather(data, perm.subarray(pos, pos + batchSize));
      pos += batchSize;
      return b;
    },
    state: () => ({ rng: rng.state() }),
    restore(state: unknown) {
      const s = state as { rng?: RngState } | null;
      if (!s || !Array.isArray(s.rng)) {
        throw new Error(
          `arrayTrainData: bad loader state ${JSON.stringify(state)}`,
        );
      }
      rng = Rng.fromState(s.rng);
      perm = null;
    },
  };
  if (options.weakBatchSize !== undefined) {
    const k = options.weakBatchSize;
    loader.weak = () => {
      const idx = new Uint32Array(k);
      for (let i = 0; i < k; i++) idx[i] = rng.int(data.n);
      return gather(data, idx);
    };
  }
  return loader;
}

/**
 * The examples of `data` in order, in batches of `batchSize` (last one partial).
 *
 * @example
 * ```ts
 * import { arrayEvalData } from "./array_data.ts";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * const data = { x: new Float32Array([0, 1, 2]), y: new Int32Array([0, 1, 0]), n: 3, inputShape: [1] };
 * const sizes = [...arrayEvalData(data, 2).batches()].map((b) => b.y.shape[0]);
 * if (sizes.join() !== "2,1") throw new Error();
 * ```
 */
export function arrayEvalData(data: ArrayDataset, batchSize: number): EvalData {
  return {
    size: data.n,
    *batches() {
      for (let i = 0; i < data.n; i += batchSize) {
        const idx = new Uint32Array(Math.min(batchSize, data.n - i));
        for (let j = 0; j < idx.length; j++) idx[j] = i + j;
        yield gather(data, idx);
      }
    },
  };
}

/**
 * The first `n` examples of a dataset (all when `n` is undefined or larger).
 *
 * @example
 * ```ts
 * import { limitDataset } from "./array_data.ts";
 * const d = limitDataset({ x: new Float32Array(6), y: new Int32Array(3), n: 3, inputShape: [2] }, 2);
 * if (d.n !== 2 || d.x.length !== 4) throw new Error();
 * ```
 */
export function limitDataset(d: ArrayDataset, n?: number): ArrayDataset {
  if (n === undefined || n >= d.n) return d;
  const dim = d.inputShape.reduce((a, b) => a * b, 1);
  return {
    x: d.x.subarray(0, n * dim),
    y: d.y.subarray(0, n),
    n,
    inputShape: d.inputShape,
  };
}
