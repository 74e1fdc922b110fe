/**
 * `Sum` over leading axes for the `wasm` backend. The stock kernel reduces
 * only innermost axes, so for `sum(x, 0)` on `[n, c]` (every bias and
 * BatchNorm gradient, every broadcast add's gradient) it first transposes
 * `x` with a slow generic transpose. Summing leading axes is a sequential
 * pass over `x` (column sums); this kernel does that in JavaScript on the
 * wasm heap, with float64 accumulators. Every other case (innermost axes,
 * mixed axes, non-float32) goes to the stock kernel.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { WasmBackendLike } from "./wasm_backend.ts";
import { stockKernel } from "./stock.ts";

/**
 * Pure kernel on typed arrays: `x` viewed as `[outer, inner]` (row-major),
 * summed over its rows; returns `[inner]`.
 *
 * @example
 * ```ts
 * import { sumLeadingImpl } from "./sum.ts";
 * const s = sumLeadingImpl(new Float32Array([1, 2, 3, 4, 5, 6]), 3, 2);
 * if (s.join() !== "9,12") throw new Error(s.join());
 * ```
 */
export function sumLeadingImpl(
  x: Float32Array,
  outer: number,
  inner: number,
  out: Float32Array = new Float32Array(inner),
): Float32Array {
  if (x.length < outer * inner || out.length < inner) {
    throw new Error(
      `sumLeadingImpl: x has ${x.length} elements and out ${out.length}, need ${
        outer * inner
      } and ${inner}`,
    );
  }
  const acc = new Float64Array(inner);
  for (let i = 0; i < outer; i++) {
    const base = i * inner;
    for (let j = 0; j < inner; j++) acc[j] += x[base + j];
  }
  for (let j = 0; j < inner; j++) out[j] = acc[j];
  return out;
}

/**
 * How many leading axes `axis` reduces when it is exactly `0 .. k-1` with
 * `0 < k < rank`, else 0 (not this kernel's case).
 *
 * @example
 * ```ts
 * import { leadingAxes } from "./sum.ts";
 * if (leadingAxes([2, 1, 0], 4) !== 3 || leadingAxes([1], 2) !== 0) throw new Error();
 * ```
 */
export function leadingAxes(axis: number | number[], rank: number): number {
  const axes = (Array.isArray(axis) ? axis : [axis])
    .map((a) => (a < 0 ? a + rank : a))
    .sort((a, b) => a - b);
  if (axes.length === 0 || axes.length >= rank) return 0;
  return axes.every((a, i) => a === i) ? axes.length : 0;
}

function sumWasm(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { axis, keepDims } = args.attrs as unknown as {
    axis: number | number[];
    keepDims: boolean;
  };
  const k = x.dtype === "float32" ? leadingAxes(axis, x.shape.length) : 0;
  if (k === 0) {
    const stock = stockKernel(tf.Sum, "wasm");
    if (!stock) {
      throw new Error(
        `Sum (wasm): axis ${
          JSON.stringify(axis)
        } of [${x.shape}] needs the stock kernel, which is missing`,
      );
    }
    return stock.kernelFunc(args) as tf.TensorInfo;
  }
  const backend = args.backend as WasmBackendLike;
  const outer = x.shape.slice(0, k).reduce((a, b) => a * b, 1);
  const innerShape = x.shape.slice(k);
  const inner = innerShape.reduce((a, b) => a * b, 1);
  const shape = keepDims
    ? [...new Array(k).fill(1), ...innerShape]
    : innerShape;
  const out = backend.makeOutput(shape, "float32");
  sumLeadingImpl(
    backend.typedArrayFromHeap(x),
    outer,
    inner,
    backend.typedArrayFromHeap(out),
  );
  return out;
}

/**
 * The kernel registration for the `wasm` backend (registered only through
 * `registry.ts`, which keeps the stock kernel as the fallback).
 *
 * @example
 * ```ts
 * import { sumWasmConfig } from "./sum.ts";
 * if (sumWasmConfig.kernelName !== "Sum") throw new Error();
 * ```
 */
export const sumWasmConfig: tf.KernelConfig = {
  kernelName: tf.Sum,
  backendName: "wasm",
  kernelFunc: sumWasm as tf.KernelFunc,
};
