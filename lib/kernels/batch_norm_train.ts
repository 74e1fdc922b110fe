/**
 * Train-mode BatchNorm (optionally followed by ReLU) as three fused kernels
 * for the `wasm` backend, on rows `x` `[n, c]` (channels last):
 *
 * - {@link BN_MOMENTS}: the batch mean and biased variance per channel (two
 *   sequential passes, float64 accumulators);
 * - {@link BN_NORMALISE}: `y = (x - mean) * gamma / sqrt(variance + eps) +
 *   beta`, then `max(y, 0)` when `relu` is set (one pass);
 * - {@link BN_NORMALISE_GRAD}: the closed-form gradient of `BN_NORMALISE`
 *   w.r.t. `x`, `gamma`, `beta` with the moments held fixed (two passes), as
 *   `lib/models/layers.ts` differentiates it: with `xhat = (x - mean) *
 *   invStd`, `dbeta = sum(g)`, `dgamma = sum(g * xhat)`, `dx = gamma * invStd
 *   * (g - dbeta / n - xhat * dgamma / n)`, where `g` is `dy` (masked by
 *   the forward output `y > 0` with `relu`).
 *
 * tfjs builds the same from about a dozen element-wise kernels and matrix
 * products (each a full pass over the activations, single-threaded in
 * tfjs-backend-wasm); these do five passes in all, shared between the kernel
 * pool's threads (`parallel.ts`; {@link batchNormJobs}). The models use them only
 * where the backend has them registered (`layers.ts`); the stock `cpu`
 * backend keeps the plain composition, the reference of the tests. float32
 * only.
 *
 * @module
 */
import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { heapOffset, type WasmBackendLike } from "./wasm_backend.ts";
import {
  CHANNELS_PER_ITEM,
  type ParallelJob,
  runParallel,
} from "./parallel.ts";

/** Kernel name: batch mean and biased variance of `[n, c]` rows. */
export const BN_MOMENTS = "PofBatchNormMoments";
/** Kernel name: normalise with given moments, scale, shift (and ReLU). */
export const BN_NORMALISE = "PofBatchNormNormalise";
/** Kernel name: gradient of {@link BN_NORMALISE} at fixed moments. */
export const BN_NORMALISE_GRAD = "PofBatchNormNormaliseGrad";

function checkRows(what: string, len: number, n: number, c: number): void {
  if (!(n >= 1 && c >= 1) || len !== n * c) {
    throw new Error(
      `${what}: need ${n} x ${c} = ${n * c} elements, got ${len}`,
    );
  }
}

/**
 * Pure kernel: per-channel mean and biased variance of `x` viewed as `[n,
 * c]` (float64 sums, rounded to float32 at the end). With `channels` `[lo,
 * hi)` only those channels are computed (a split for parallel parts; each
 * channel's sums run over the rows in the same order either way).
 *
 * @example
 * ```ts
 * import { batchNormMomentsImpl } from "./batch_norm_train.ts";
 * const { mean, variance } = batchNormMomentsImpl(Float32Array.of(1, 10, 3, 30), 2, 2);
 * if (mean.join() !== "2,20" || variance.join() !== "1,100") throw new Error();
 * ```
 */
export function batchNormMomentsImpl(
  x: Float32Array,
  n: number,
  c: number,
  out: { mean: Float32Array; variance: Float32Array } = {
    mean: new Float32Array(c),
    variance: new Float32Array(c),
  },
  [lo, hi]: [number, number] = [0, c],
): { mean: Float32Array; variance: Float32Array } {
  checkRows("batchNormMomentsImpl", x.length, n, c);
  const s = new Float64Array(c);
  for (let r = 0; r < n; r++) {
    const base = r * c;
    for (let j = lo; j < hi; j++) s[j] += x[base + j];
  }
  for (let j = lo; j < hi; j++) s[j] /= n;
  const q = new Float64Array(c);
  for (let r = 0; r < n; r++) {
    const base = r * c;
    for (let j = lo; j < hi; j++) {
      const d = x[base + j] - s[j];
      q[j] += d * d;
    }
  }
  for (let j = lo; j < hi; j++) {
    out.mean[j] = s[j];
    out.variance[j] = q[j] / n;
  }
  return out;
}

/** Per-channel constants shared by the forward and the gradient. */
function scales(
  variance: Float32Array,
  gamma: Float32Array,
  epsilon: number,
): { invStd: Float64Array; k: Float64Array } {
  const c = gamma.length;
  const invStd = new Float64Array(c), k = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    invStd[j] = 1 / Math.sqrt(variance[j] + epsilon);
    k[j] = gamma[j] * invStd[j];
  }
  return { invStd, k };
}

/** Inputs of {@link batchNormNormaliseImpl} besides `x`. */
export interface BatchNormArrays {
  mean: Float32Array;
  variance: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
}

/**
 * Pure kernel: `y = (x - mean) * gamma / sqrt(variance + epsilon) + beta`
 * per channel of `x` `[n, c]`, then `max(y, 0)` with `relu`.
 *
 * @example
 * ```ts
 * import { batchNormNormaliseImpl } from "./batch_norm_train.ts";
 * const p = { mean: Float32Array.of(2), variance: Float32Array.of(4),
 *   gamma: Float32Array.of(3), beta: Float32Array.of(1) };
 * const y = batchNormNormaliseImpl(Float32Array.of(0, 4), 2, p, { epsilon: 0 });
 * if (y.join() !== "-2,4") throw new Error(y.join());
 * const r = batchNormNormaliseImpl(Float32Array.of(0, 4), 2, p, { epsilon: 0, relu: true });
 * if (r.join() !== "0,4") throw new Error(r.join());
 * ```
 */
export function batchNormNormaliseImpl(
  x: Float32Array,
  n: number,
  p: BatchNormArrays,
  options: { epsilon: number; relu?: boolean; out?: Float32Array },
): Float32Array {
  const c = p.gamma.length;
  checkRows("batchNormNormaliseImpl", x.length, n, c);
  const out = options.out ?? new Float32Array(n * c);
  const { k } = scales(p.variance, p.gamma, options.epsilon);
  const { mean, beta } = p;
  for (let r = 0; r < n; r++) {
    const base = r * c;
    if (options.relu) {
      for (let j = 0; j < c; j++) {
        const y = (x[base + j] - mean[j]) * k[j] + beta[j];
        // max(y, 0) without a branch (exact; a branch on the sign of
        // activations mispredicts half the time: about 7x slower).
        out[base + j] = (y + Math.abs(y)) * 0.5;
      }
    } else {
      for (let j = 0; j < c; j++) {
        out[base + j] = (x[base + j] - mean[j]) * k[j] + beta[j];
      }
    }
  }
  return out;
}

/**
 * Pure kernel: the gradient of {@link batchNormNormaliseImpl} w.r.t. `x`,
 * `gamma` and `beta` at fixed moments (see the module doc), from the output
 * gradient `dy` `[n, c]`. With `relu`, `options.y` must be the forward
 * output (after ReLU): `dy` counts only where it is positive (ReLU's
 * gradient, as tfjs's `step`).
 *
 * @example
 * ```ts
 * import { batchNormNormaliseGradImpl } from "./batch_norm_train.ts";
 * // x = (0, 2): mean 1, variance 1, eps 0, gamma 2: xhat = (-1, 1).
 * const p = { mean: Float32Array.of(1), variance: Float32Array.of(1),
 *   gamma: Float32Array.of(2), beta: Float32Array.of(0) };
 * const g = batchNormNormaliseGradImpl(Float32Array.of(1, 3), Float32Array.of(0, 2), 2, p, { epsilon: 0 });
 * // dbeta = 4, dgamma = -1 + 3 = 2, dx = 2 * ((1, 3) - 2 - (-1, 1) * 1) = (0, 0).
 * if (g.dbeta[0] !== 4 || g.dgamma[0] !== 2 || g.dx.join() !== "0,0") throw new Error();
 * ```
 */
export function batchNormNormaliseGradImpl(
  dy: Float32Array,
  x: Float32Array,
  n: number,
  p: BatchNormArrays,
  options: {
    epsilon: number;
    relu?: boolean;
    /** The forward output (needed with `relu`). */
    y?: Float32Array;
    out?: { dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array };
    /** Only these channels `[lo, hi)` (a split for parallel parts; each
     * channel's sums run over the rows in the same order either way). */
    channels?: [number, number];
  },
): { dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array } {
  const c = p.gamma.length;
  checkRows("batchNormNormaliseGradImpl x", x.length, n, c);
  checkRows("batchNormNormaliseGradImpl dy", dy.length, n, c);
  const relu = options.relu ?? false;
  if (relu) {
    checkRows("batchNormNormaliseGradImpl y", options.y?.length ?? 0, n, c);
  }
  const out = options.out ?? {
    dx: new Float32Array(n * c),
    dgamma: new Float32Array(c),
    dbeta: new Float32Array(c),
  };
  const { invStd, k } = scales(p.variance, p.gamma, options.epsilon);
  const { mean } = p;
  const [lo, hi] = options.channels ?? [0, c];
  // ReLU's mask without a branch: the float32 bits of y >= 0 are positive
  // exactly when y > 0, and (-bits) >>> 31 is then 1, else 0.
  const yBits = relu
    ? new Int32Array(options.y!.buffer, options.y!.byteOffset, n * c)
    : null;
  const sg = new Float64Array(c), sgx = new Float64Array(c);
  for (let r = 0; r < n; r++) {
    const base = r * c;
    if (yBits) {
      for (let j = lo; j < hi; j++) {
        const d = x[base + j] - mean[j];
        const g = dy[base + j] * ((-yBits[base + j]) >>> 31);
        sg[j] += g;
        sgx[j] += g * d;
      }
    } else {
      for (let j = lo; j < hi; j++) {
        const d = x[base + j] - mean[j];
        const g = dy[base + j];
        sg[j] += g;
        sgx[j] += g * d;
      }
    }
  }
  // dx = k g + a + b (x - mean), a = -k dbeta / n, b = -k invStd dgamma / n.
  const a = new Float64Array(c), b = new Float64Array(c);
  for (let j = lo; j < hi; j++) {
    const dgamma = sgx[j] * invStd[j];
    out.dbeta[j] = sg[j];
    out.dgamma[j] = dgamma;
    a[j] = -k[j] * sg[j] / n;
    b[j] = -k[j] * invStd[j] * dgamma / n;
  }
  const { dx } = out;
  for (let r = 0; r < n; r++) {
    const base = r * c;
    if (yBits) {
      for (let j = lo; j < hi; j++) {
        const g = dy[base + j] * ((-yBits[base + j]) >>> 31);
        dx[base + j] = k[j] * g + a[j] + b[j] * (x[base + j] - mean[j]);
      }
    } else {
      for (let j = lo; j < hi; j++) {
        dx[base + j] = k[j] * dy[base + j] + a[j] +
          b[j] * (x[base + j] - mean[j]);
      }
    }
  }
  return out;
}

type KernelArgs = {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
};

function rowsOf(x: tf.TensorInfo, what: string): [number, number] {
  if (x.dtype !== "float32" || x.shape.length !== 2) {
    throw new Error(
      `${what} (wasm): need a float32 [n, c] input, got ${x.dtype} [${x.shape}]`,
    );
  }
  return [x.shape[0], x.shape[1]];
}

/** A `[len]` float32 view of the heap at `off`, empty for `off` < 0. */
function at(heap: Float32Array, off: number, len: number): Float32Array {
  return off < 0 ? new Float32Array(0) : heap.subarray(off, off + len);
}

/** Items `lo..hi-1` of a job split by channel, as a channel range. */
function channelRange(c: number, lo: number, hi: number): [number, number] {
  return [lo * CHANNELS_PER_ITEM, Math.min(c, hi * CHANNELS_PER_ITEM)];
}

/** Items of a job over `c` channels split by channel. */
function channelItems(c: number): number {
  return Math.ceil(c / CHANNELS_PER_ITEM);
}

/** Rows per item of the normalisation (about 2^13 elements each). */
function rowsPerItem(n: number, c: number): number {
  return Math.max(1, Math.ceil(8192 / c), Math.ceil(n / 4096));
}

/** Moments (arguments: x, n, c, mean, variance), items of channels. */
const momentsJob: ParallelJob = {
  name: "batchNorm.moments",
  run(heap, a, lo, hi) {
    const [n, c] = [a[1], a[2]];
    const range = channelRange(c, lo, hi);
    batchNormMomentsImpl(at(heap, a[0], n * c), n, c, {
      mean: at(heap, a[3], c),
      variance: at(heap, a[4], c),
    }, range);
  },
};

/** The four per-channel arrays at offsets `a[i..i+3]`. */
function arraysAt(
  heap: Float32Array,
  a: Float64Array,
  i: number,
  c: number,
): BatchNormArrays {
  return {
    mean: at(heap, a[i], c),
    variance: at(heap, a[i + 1], c),
    gamma: at(heap, a[i + 2], c),
    beta: at(heap, a[i + 3], c),
  };
}

/**
 * Normalise (arguments: x, n, c, mean, variance, gamma, beta, epsilon,
 * relu, y, rows per item), items of rows.
 */
const normaliseJob: ParallelJob = {
  name: "batchNorm.normalise",
  run(heap, a, lo, hi) {
    const [n, c, per] = [a[1], a[2], a[10]];
    const r0 = Math.min(n, lo * per), r1 = Math.min(n, hi * per);
    if (r0 === r1) return;
    batchNormNormaliseImpl(
      at(heap, a[0] + r0 * c, (r1 - r0) * c),
      r1 - r0,
      arraysAt(heap, a, 3, c),
      {
        epsilon: a[7],
        relu: a[8] === 1,
        out: at(heap, a[9] + r0 * c, (r1 - r0) * c),
      },
    );
  },
};

/**
 * Gradient (arguments: dy, x, n, c, mean, variance, gamma, beta, epsilon,
 * relu, y, dx, dgamma, dbeta), items of channels.
 */
const normaliseGradJob: ParallelJob = {
  name: "batchNorm.normaliseGrad",
  run(heap, a, lo, hi) {
    const [n, c] = [a[2], a[3]];
    const range = channelRange(c, lo, hi);
    batchNormNormaliseGradImpl(
      at(heap, a[0], n * c),
      at(heap, a[1], n * c),
      n,
      arraysAt(heap, a, 4, c),
      {
        epsilon: a[8],
        relu: a[9] === 1,
        y: a[10] < 0 ? undefined : at(heap, a[10], n * c),
        out: {
          dx: at(heap, a[11], n * c),
          dgamma: at(heap, a[12], c),
          dbeta: at(heap, a[13], c),
        },
        channels: range,
      },
    );
  },
};

/**
 * The fused BatchNorm's loops as kernel pool jobs (`parallel.ts`): the
 * moments and the gradient have items of {@link CHANNELS_PER_ITEM} channels
 * (each channel's sums keep their order), the normalisation items of rows.
 *
 * @example
 * ```ts
 * import { batchNormJobs } from "./batch_norm_train.ts";
 * // Moments of [[1, 10], [3, 30]] (one item: channels 0..7).
 * const heap = Float32Array.of(1, 10, 3, 30, 0, 0, 0, 0);
 * batchNormJobs[0].run(heap, Float64Array.of(0, 2, 2, 4, 6), 0, 1);
 * if (heap.slice(4).join() !== "2,20,1,100") throw new Error(heap.join());
 * ```
 */
export const batchNormJobs: ParallelJob[] = [
  momentsJob,
  normaliseJob,
  normaliseGradJob,
];

/** Heap view and offset helper of a wasm kernel call (after allocating). */
function heapOf(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
): { heap: Float32Array; off: (t: tf.TensorInfo | undefined) => number } {
  const heap = new Float32Array(backend.typedArrayFromHeap(x).buffer);
  return {
    heap,
    off: (t) => t ? heapOffset(backend, t) : -1,
  };
}

/**
 * The arguments {@link arraysAt} reads back: the heap offsets of `mean`,
 * `variance`, `gamma`, `beta` (-1 where absent), then `epsilon` and `relu`.
 */
function arraysArgs(
  off: (t: tf.TensorInfo | undefined) => number,
  inputs: Record<string, tf.TensorInfo>,
  attrs: { epsilon: number; relu: boolean },
): number[] {
  const { mean, variance, gamma, beta } = inputs;
  return [
    off(mean),
    off(variance),
    off(gamma),
    off(beta),
    attrs.epsilon,
    attrs.relu ? 1 : 0,
  ];
}

function momentsWasm(args: KernelArgs): tf.TensorInfo[] {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const backend = args.backend as WasmBackendLike;
  const [n, c] = rowsOf(x, BN_MOMENTS);
  const mean = backend.makeOutput([c], "float32");
  const variance = backend.makeOutput([c], "float32");
  // Views only after allocating: heap growth detaches earlier views.
  const { heap, off } = heapOf(backend, x);
  runParallel(momentsJob, heap, [off(x), n, c, off(mean), off(variance)], {
    items: channelItems(c),
    work: n * c,
  });
  return [mean, variance];
}

function normaliseWasm(args: KernelArgs): tf.TensorInfo {
  const inputs = args.inputs as Record<string, tf.TensorInfo>;
  const backend = args.backend as WasmBackendLike;
  const attrs = args.attrs as unknown as { epsilon: number; relu: boolean };
  const [n, c] = rowsOf(inputs.x, BN_NORMALISE);
  const y = backend.makeOutput([n, c], "float32");
  const { heap, off } = heapOf(backend, inputs.x);
  const per = rowsPerItem(n, c);
  runParallel(normaliseJob, heap, [
    off(inputs.x),
    n,
    c,
    ...arraysArgs(off, inputs, attrs),
    off(y),
    per,
  ], { items: Math.ceil(n / per), work: n * c });
  return y;
}

function normaliseGradWasm(args: KernelArgs): tf.TensorInfo[] {
  const inputs = args.inputs as Record<string, tf.TensorInfo>;
  const backend = args.backend as WasmBackendLike;
  const attrs = args.attrs as unknown as { epsilon: number; relu: boolean };
  const [n, c] = rowsOf(inputs.x, BN_NORMALISE_GRAD);
  if (attrs.relu && !inputs.y) {
    throw new Error(
      `${BN_NORMALISE_GRAD} (wasm): relu needs the forward output y`,
    );
  }
  const dx = backend.makeOutput([n, c], "float32");
  const dgamma = backend.makeOutput([c], "float32");
  const dbeta = backend.makeOutput([c], "float32");
  const { heap, off } = heapOf(backend, inputs.x);
  runParallel(normaliseGradJob, heap, [
    off(inputs.dy),
    off(inputs.x),
    n,
    c,
    ...arraysArgs(off, inputs, attrs),
    attrs.relu ? off(inputs.y) : -1,
    off(dx),
    off(dgamma),
    off(dbeta),
  ], { items: channelItems(c), work: n * c });
  return [dx, dgamma, dbeta];
}

/**
 * The three kernel registrations for the `wasm` backend (registered only
 * through `registry.ts`).
 *
 * @example
 * ```ts
 * import { batchNormTrainWasmConfigs } from "./batch_norm_train.ts";
 * if (batchNormTrainWasmConfigs.length !== 3) throw new Error();
 * ```
 */
export const batchNormTrainWasmConfigs: tf.KernelConfig[] = [
  {
    kernelName: BN_MOMENTS,
    backendName: "wasm",
    kernelFunc: momentsWasm as unknown as tf.KernelFunc,
  },
  {
    kernelName: BN_NORMALISE,
    backendName: "wasm",
    kernelFunc: normaliseWasm as unknown as tf.KernelFunc,
  },
  {
    kernelName: BN_NORMALISE_GRAD,
    backendName: "wasm",
    kernelFunc: normaliseGradWasm as unknown as tf.KernelFunc,
  },
];
