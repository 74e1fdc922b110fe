/**
 * `Conv2DBackpropFilter` (the filter gradient of `conv2d`) for the `wasm`
 * backend, which ships without one and therefore cannot train convnets.
 *
 * dW[kh, kw, ci, co] = sum over (n, oh, ow) of
 * x[n, oh*s + kh - padTop, ow*s + kw - padLeft, ci] * dy[n, oh, ow, co],
 * i.e. `dW^T = dy^T @ im2col(x)`: im2col and the transpose of dy are tight
 * JavaScript loops written straight onto the wasm heap, the product is the
 * backend's own XNNPACK `BatchMatMul`. Batches are processed in chunks so the
 * im2col matrix stays below
 * `conv2dBackpropFilterOptions.maxChunkElements`.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import {
  type ConvGeometry,
  convGeometry,
  type ConvPad,
  im2col,
  matmul,
  transpose2d,
} from "./im2col.ts";

/**
 * Tuning of the wasm kernel: `maxChunkElements` is the largest im2col chunk
 * (elements) it materialises at once (default 2^23, 32 MiB).
 *
 * @example
 * ```ts
 * import { conv2dBackpropFilterOptions } from "./conv2d_backprop_filter.ts";
 * if (conv2dBackpropFilterOptions.maxChunkElements < 1) throw new Error();
 * ```
 */
export const conv2dBackpropFilterOptions = { maxChunkElements: 1 << 23 };

/**
 * Pure reference of the kernel on typed arrays: the filter gradient
 * `[KH, KW, CI, CO]` of an NHWC convolution with geometry `g`, from the input
 * `x` and the output gradient `dy`. Same algorithm as the wasm kernel
 * (im2col, transpose, matrix product), in plain JavaScript.
 *
 * @example
 * ```ts
 * import { convGeometry } from "./im2col.ts";
 * import { conv2dBackpropFilterImpl } from "./conv2d_backprop_filter.ts";
 * // 1x2x2x1 input, 1x1 filter: dW = sum x * dy.
 * const g = convGeometry([1, 2, 2, 1], [1, 1, 1, 1], { strides: 1, pad: "valid" });
 * const dw = conv2dBackpropFilterImpl(
 *   new Float32Array([1, 2, 3, 4]), new Float32Array([1, 1, 1, 2]), g);
 * if (dw[0] !== 14) throw new Error(String(dw[0]));
 * ```
 */
export function conv2dBackpropFilterImpl(
  x: Float32Array,
  dy: Float32Array,
  g: ConvGeometry,
): Float32Array {
  checkSizes(x.length, dy.length, g);
  const rows = g.batchSize * g.outHeight * g.outWidth;
  const k2 = g.filterHeight * g.filterWidth * g.inChannels;
  const co = g.outChannels;
  const cols = im2col(x, g, 0, g.batchSize, new Float32Array(rows * k2));
  const dyT = transpose2d(dy, rows, co, new Float32Array(rows * co));
  const dwT = matmul(dyT, cols, co, rows, k2);
  return transpose2d(dwT, co, k2, new Float32Array(k2 * co));
}

function checkSizes(xLen: number, dyLen: number, g: ConvGeometry): void {
  const xNeed = g.batchSize * g.inHeight * g.inWidth * g.inChannels;
  const dyNeed = g.batchSize * g.outHeight * g.outWidth * g.outChannels;
  if (xLen !== xNeed || dyLen !== dyNeed) {
    throw new Error(
      `Conv2DBackpropFilter: x has ${xLen} elements (need ${xNeed}), dy has ${dyLen} (need ${dyNeed})`,
    );
  }
}

/** The slice of the wasm backend's API this kernel uses. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  disposeData(dataId: tf.DataId): boolean;
}

function conv2dBackpropFilterWasm(
  args: {
    inputs: tf.NamedTensorInfoMap;
    backend: unknown;
    attrs?: tf.NamedAttrMap;
  },
): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const backend = args.backend as WasmBackendLike;
  const attrs = (args.attrs ?? {}) as unknown as {
    strides: number | [number, number];
    pad: ConvPad;
    dataFormat: "NHWC" | "NCHW";
    dimRoundingMode?: "floor" | "round" | "ceil";
    filterShape: [number, number, number, number];
  };
  if (x.dtype !== "float32" || dy.dtype !== "float32") {
    throw new Error(
      `Conv2DBackpropFilter (wasm): need float32 x and dy, got ${x.dtype} and ${dy.dtype}`,
    );
  }
  const g = convGeometry(x.shape, attrs.filterShape, attrs);
  if (
    g.outHeight !== dy.shape[1] || g.outWidth !== dy.shape[2] ||
    g.outChannels !== dy.shape[3]
  ) {
    throw new Error(
      `Conv2DBackpropFilter (wasm): dy has shape [${dy.shape}], the convolution gives ` +
        `[${g.batchSize},${g.outHeight},${g.outWidth},${g.outChannels}]`,
    );
  }
  const matMul = tf.getKernel("BatchMatMul", "wasm");
  if (!matMul) {
    throw new Error(
      "Conv2DBackpropFilter (wasm): the wasm backend has no BatchMatMul kernel",
    );
  }
  const pix = g.outHeight * g.outWidth;
  const k2 = g.filterHeight * g.filterWidth * g.inChannels;
  const co = g.outChannels;
  const perImage = Math.max(1, pix * k2);
  const chunk = Math.max(
    1,
    Math.min(
      g.batchSize,
      Math.floor(conv2dBackpropFilterOptions.maxChunkElements / perImage),
    ),
  );
  const acc = new Float32Array(co * k2);
  for (let n0 = 0; n0 < g.batchSize; n0 += chunk) {
    const n1 = Math.min(g.batchSize, n0 + chunk);
    const rows = (n1 - n0) * pix;
    // Allocate first: growing the wasm heap detaches earlier views.
    const cols = backend.makeOutput([rows, k2], "float32");
    const dyT = backend.makeOutput([co, rows], "float32");
    im2col(
      backend.typedArrayFromHeap(x),
      g,
      n0,
      n1,
      backend.typedArrayFromHeap(cols),
    );
    transpose2d(
      backend.typedArrayFromHeap(dy),
      rows,
      co,
      backend.typedArrayFromHeap(dyT),
      n0 * pix * co,
    );
    const prod = matMul.kernelFunc({
      inputs: { a: dyT, b: cols },
      backend: backend as unknown as tf.KernelBackend,
      attrs: { transposeA: false, transposeB: false },
    }) as tf.TensorInfo;
    const p = backend.typedArrayFromHeap(prod);
    for (let i = 0; i < acc.length; i++) acc[i] += p[i];
    backend.disposeData(prod.dataId);
    backend.disposeData(cols.dataId);
    backend.disposeData(dyT.dataId);
  }
  const out = backend.makeOutput(attrs.filterShape, "float32");
  transpose2d(acc, co, k2, backend.typedArrayFromHeap(out));
  return out;
}

/**
 * The kernel registration for the `wasm` backend (registered only through
 * `registry.ts`).
 *
 * @example
 * ```ts
 * import { conv2dBackpropFilterWasmConfig } from "./conv2d_backprop_filter.ts";
 * if (conv2dBackpropFilterWasmConfig.kernelName !== "Conv2DBackpropFilter") throw new Error();
 * ```
 */
export const conv2dBackpropFilterWasmConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: "wasm",
  kernelFunc: conv2dBackpropFilterWasm as unknown as tf.KernelFunc,
};
