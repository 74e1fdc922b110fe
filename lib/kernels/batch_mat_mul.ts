/**
 * `BatchMatMul` with transposed operands for the `wasm` backend. The stock
 * kernel is fast for `a @ b` but 4-10x slower when `transposeA` or
 * `transposeB` is set, and every matrix product's gradient sets one of them
 * (`da = dy @ b^T`, `db = a^T @ dy`). This kernel transposes the flagged
 * operand in JavaScript on the wasm heap (a cache-blocked copy) and runs the
 * stock kernel without transposes. A single row vector times a matrix
 * (BatchNorm's moments and their gradients) is one pass in JavaScript: the
 * stock kernel repacks the whole matrix for XNNPACK on every call. Other
 * untransposed products and non-float32 inputs go straight to the stock
 * kernel.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { WasmBackendLike } from "./wasm_backend.ts";
import { transpose2d } from "./im2col.ts";
import { stockKernel } from "./stock.ts";

/**
 * Pure kernel on typed arrays: transposes the last two axes of `x`, viewed
 * as `[batch, rows, cols]`, into `out` (`[batch, cols, rows]`). Returns `out`.
 *
 * @example
 * ```ts
 * import { transposeLastTwoImpl } from "./batch_mat_mul.ts";
 * const t = transposeLastTwoImpl(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]), 2, 2, 2);
 * if (t.join() !== "1,3,2,4,5,7,6,8") throw new Error(t.join());
 * ```
 */
export function transposeLastTwoImpl(
  x: Float32Array,
  batch: number,
  rows: number,
  cols: number,
  out: Float32Array = new Float32Array(batch * rows * cols),
): Float32Array {
  const size = rows * cols;
  if (x.length < batch * size || out.length < batch * size) {
    throw new Error(
      `transposeLastTwoImpl: x has ${x.length} and out ${out.length} elements, need ${
        batch * size
      }`,
    );
  }
  for (let b = 0; b < batch; b++) {
    transpose2d(
      x,
      rows,
      cols,
      out.subarray(b * size, (b + 1) * size),
      b * size,
    );
  }
  return out;
}

/**
 * Pure kernel: the row vector `a` `[k]` times the row-major matrix `b`
 * `[k, n]`, in one sequential pass over `b` with float64 accumulators;
 * returns `[n]`. (XNNPACK repacks all of `b` as weights on every call, which
 * made the BatchNorm moments, `[1, rows] x [rows, c]`, slower than the
 * convolutions' own matrix products.)
 *
 * @example
 * ```ts
 * import { rowTimesMatrixImpl } from "./batch_mat_mul.ts";
 * // [1, 2] x [[1, 2, 3], [4, 5, 6]] = [9, 12, 15]
 * const r = rowTimesMatrixImpl(Float32Array.of(1, 2), Float32Array.of(1, 2, 3, 4, 5, 6), 2, 3);
 * if (r.join() !== "9,12,15") throw new Error(r.join());
 * ```
 */
export function rowTimesMatrixImpl(
  a: Float32Array,
  b: Float32Array,
  k: number,
  n: number,
  out: Float32Array = new Float32Array(n),
): Float32Array {
  if (a.length < k || b.length < k * n || out.length < n) {
    throw new Error(
      `rowTimesMatrixImpl: a has ${a.length}, b ${b.length}, out ${out.length} elements; need ${k}, ${
        k * n
      }, ${n}`,
    );
  }
  const acc = new Float64Array(n);
  for (let i = 0; i < k; i++) {
    const ai = a[i];
    if (ai === 0) continue;
    const base = i * n;
    for (let j = 0; j < n; j++) acc[j] += ai * b[base + j];
  }
  for (let j = 0; j < n; j++) out[j] = acc[j];
  return out;
}

/** `[k, n]` when `a x b` is one row vector times one matrix, else null. */
function rowTimesMatrixCase(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): [number, number] | null {
  const ra = a.shape.length, rb = b.shape.length;
  if (transposeB || ra < 2 || rb < 2) return null;
  const lead = (s: number[]) => s.slice(0, -2).reduce((x, y) => x * y, 1);
  if (lead(a.shape) !== 1 || lead(b.shape) !== 1) return null;
  // [1, k], or [k, 1] transposed: the same memory either way.
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  if (m !== 1 || k !== b.shape[rb - 2]) return null;
  return [k, b.shape[rb - 1]];
}

function batchMatMulWasm(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as {
    transposeA: boolean;
    transposeB: boolean;
  };
  const stock = stockKernel(tf.BatchMatMul, "wasm");
  if (!stock) {
    throw new Error("BatchMatMul (wasm): the stock kernel is missing");
  }
  if (a.dtype !== "float32" || b.dtype !== "float32") {
    return stock.kernelFunc(args) as tf.TensorInfo;
  }
  const backend = args.backend as WasmBackendLike;
  const vec = rowTimesMatrixCase(a, b, transposeA, transposeB);
  if (vec) {
    const [k, n] = vec;
    const rank = Math.max(a.shape.length, b.shape.length);
    const out = backend.makeOutput(
      [...new Array(rank - 2).fill(1), 1, n],
      "float32",
    );
    rowTimesMatrixImpl(
      backend.typedArrayFromHeap(a),
      backend.typedArrayFromHeap(b),
      k,
      n,
      backend.typedArrayFromHeap(out),
    );
    return out;
  }
  if (!transposeA && !transposeB) {
    return stock.kernelFunc(args) as tf.TensorInfo;
  }
  const made: tf.TensorInfo[] = [];
  const flip = (t: tf.TensorInfo): tf.TensorInfo => {
    const r = t.shape.length;
    if (r < 2) {
      throw new Error(
        `BatchMatMul (wasm): operand of shape [${t.shape}] has rank < 2`,
      );
    }
    const rows = t.shape[r - 2], cols = t.shape[r - 1];
    const shape = [...t.shape.slice(0, r - 2), cols, rows];
    const out = backend.makeOutput(shape, "float32");
    made.push(out);
    return out;
  };
  const a2 = transposeA ? flip(a) : a;
  const b2 = transposeB ? flip(b) : b;
  // Views only after both allocations (heap growth detaches views).
  for (const [src, dst] of [[a, a2], [b, b2]] as const) {
    if (src === dst) continue;
    const r = src.shape.length;
    const rows = src.shape[r - 2], cols = src.shape[r - 1];
    transposeLastTwoImpl(
      backend.typedArrayFromHeap(src),
      src.shape.slice(0, r - 2).reduce((x, y) => x * y, 1),
      rows,
      cols,
      backend.typedArrayFromHeap(dst),
    );
  }
  const out = stock.kernelFunc({
    inputs: { a: a2, b: b2 },
    backend: args.backend,
    attrs: { transposeA: false, transposeB: false },
  }) as tf.TensorInfo;
  for (const t of made) backend.disposeData(t.dataId);
  return out;
}

/**
 * The kernel registration for the `wasm` backend (registered only through
 * `registry.ts`, which keeps the stock kernel for the untransposed case).
 *
 * @example
 * ```ts
 * import { batchMatMulWasmConfig } from "./batch_mat_mul.ts";
 * if (batchMatMulWasmConfig.kernelName !== "BatchMatMul") throw new Error();
 * ```
 */
export const batchMatMulWasmConfig: tf.KernelConfig = {
  kernelName: tf.BatchMatMul,
  backendName: "wasm",
  kernelFunc: batchMatMulWasm as tf.KernelFunc,
};
