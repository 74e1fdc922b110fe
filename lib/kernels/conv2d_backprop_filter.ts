/**
 * `Conv2DBackpropFilter` (the filter gradient of `conv2d`) for the `wasm`
 * backend, which ships without one and therefore cannot train convnets.
 *
 * dW[kh, kw, ci, co] = sum over (n, oh, ow) of
 * x[n, oh*s + kh - padTop, ow*s + kw - padLeft, ci] * dy[n, oh, ow, co],
 * i.e. `dW = im2col(x)^T @ dy`: the transposed im2col matrix is built by tight
 * JavaScript loops (x to channel-major, then sequential row copies) straight
 * onto the wasm heap, split by input channel over the kernel pool's threads
 * (`parallel.ts`), and the product is the backend's own XNNPACK
 * `BatchMatMul` (this orientation packs only dy, the small operand). Batches
 * are processed in chunks so that the im2col matrix stays below
 * `conv2dBackpropFilterOptions.maxChunkElements`. NHWC only (as the wasm
 * backend's own convolutions); float32 only.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { heapOffset, type WasmBackendLike } from "./wasm_backend.ts";
import {
  CHANNELS_PER_ITEM,
  type ParallelJob,
  runParallel,
} from "./parallel.ts";
import {
  type ConvGeometry,
  convGeometry,
  convGeometryArgs,
  convGeometryFromArgs,
  type ConvPad,
  im2colTransposed,
  imagesPerChunk,
  matmul,
  transpose2d,
} from "./im2col.ts";

/**
 * Tuning of the wasm kernel: `maxChunkElements` is the largest im2col chunk
 * (elements) it materialises at once (default 2^21, 8 MiB; each chunk is one
 * XNNPACK matrix product, accumulated in JavaScript). On 1 thread a chunk that
 * stays in cache made the WRN-16-4 filter gradients 10-40% faster than 2^23,
 * and 2^20 and 2^21 measured alike; on 2 threads each product also pays for
 * waking the pool, and 2^20 (one 32x32 image of a 64-channel layer, 1024
 * rows) made the products 1.29x the forward convolutions' time against 1.17x
 * with 2^21 (`repro/bench/profile.ts --filter-chunk`, loaded machine).
 *
 * @example
 * ```ts
 * import { conv2dBackpropFilterOptions } from "./conv2d_backprop_filter.ts";
 * if (conv2dBackpropFilterOptions.maxChunkElements < 1) throw new Error();
 * ```
 */
export const conv2dBackpropFilterOptions = { maxChunkElements: 1 << 21 };

/**
 * Pure reference of the kernel on typed arrays: the filter gradient
 * `[KH, KW, CI, CO]` of an NHWC convolution with geometry `g`, from the input
 * `x` and the output gradient `dy`. Same algorithm as the wasm kernel
 * (channel-major transpose, transposed im2col, matrix product), in plain
 * JavaScript.
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
  const xc = transpose2d(
    x,
    g.batchSize * g.inHeight * g.inWidth,
    g.inChannels,
    new Float32Array(x.length),
  );
  const colsT = im2colTransposed(
    xc,
    g,
    0,
    g.batchSize,
    new Float32Array(rows * k2),
  );
  return matmul(colsT, dy, k2, rows, g.outChannels);
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

/**
 * The JavaScript of one chunk of the filter gradient, a job of the kernel
 * pool (`parallel.ts`) whose items are blocks of {@link CHANNELS_PER_ITEM}
 * input channels: images `n0..n1-1` of `x` (NHWC) to channel-major `xc`,
 * then their transposed im2col rows into `cols`. A channel's `xc` plane and
 * im2col rows depend only on that channel of `x`, so the parts are
 * independent. Arguments: the heap offsets (float32 elements) of the chunk's
 * first image of `x`, of `xc` and of `cols`, the chunk's image count, then
 * the geometry's fields.
 *
 * @example
 * ```ts
 * import { convGeometry, convGeometryArgs } from "./im2col.ts";
 * import { filterGradColumnsJob } from "./conv2d_backprop_filter.ts";
 * // One 2x2 image, 2 channels, 1x1 filter: cols = x transposed.
 * const heap = Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8, ...new Array(16).fill(0));
 * const g = convGeometry([1, 2, 2, 2], [1, 1, 2, 1], { strides: 1, pad: "valid" });
 * const args = [0, 8, 16, 1, ...convGeometryArgs(g)];
 * filterGradColumnsJob.run(heap, Float64Array.from(args), 0, 1);
 * if (heap.slice(16).join() !== "1,3,5,7,2,4,6,8") throw new Error(heap.join());
 * ```
 */
export const filterGradColumnsJob: ParallelJob = {
  name: "conv2dBackpropFilter.columns",
  run(heap, args, lo, hi) {
    const g = convGeometryFromArgs(args, 4);
    const [xOff, xcOff, colsOff, nc] = [args[0], args[1], args[2], args[3]];
    const C = g.inChannels;
    const inRows = nc * g.inHeight * g.inWidth;
    const range: [number, number] = [
      lo * CHANNELS_PER_ITEM,
      Math.min(C, hi * CHANNELS_PER_ITEM),
    ];
    const xc = heap.subarray(xcOff, xcOff + inRows * C);
    transpose2d(heap, inRows, C, xc, xOff, range);
    const rows = nc * g.outHeight * g.outWidth;
    const cols = heap.subarray(
      colsOff,
      colsOff + rows * g.filterHeight * g.filterWidth * C,
    );
    im2colTransposed(xc, g, 0, nc, cols, range);
  },
};

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
  const inPix = g.inHeight * g.inWidth;
  const k2 = g.filterHeight * g.filterWidth * g.inChannels;
  const co = g.outChannels;
  const chunk = imagesPerChunk(
    g.batchSize,
    pix * k2,
    conv2dBackpropFilterOptions.maxChunkElements,
  );
  const single = chunk === g.batchSize;
  // On the heap, so that the kernel pool's Workers can write it.
  const xc = backend.makeOutput([chunk * inPix * g.inChannels], "float32");
  const acc = single ? null : new Float32Array(k2 * co);
  for (let n0 = 0; n0 < g.batchSize; n0 += chunk) {
    const n1 = Math.min(g.batchSize, n0 + chunk);
    const rows = (n1 - n0) * pix;
    // Allocate first: growing the wasm heap detaches earlier views.
    const colsT = backend.makeOutput([k2, rows], "float32");
    // The whole batch: a [rows, co] view of dy itself (BatchMatMul only reshapes).
    const dyc = single
      ? { dataId: dy.dataId, shape: [rows, co], dtype: dy.dtype }
      : backend.makeOutput([rows, co], "float32");
    const heap = new Float32Array(backend.typedArrayFromHeap(x).buffer);
    runParallel(filterGradColumnsJob, heap, [
      heapOffset(backend, x) + n0 * inPix * g.inChannels,
      heapOffset(backend, xc),
      heapOffset(backend, colsT),
      n1 - n0,
      ...convGeometryArgs(g),
    ], { items: Math.ceil(g.inChannels / CHANNELS_PER_ITEM) });
    if (!single) {
      backend.typedArrayFromHeap(dyc).set(
        backend.typedArrayFromHeap(dy).subarray(n0 * pix * co, n1 * pix * co),
      );
    }
    const prod = matMul.kernelFunc({
      inputs: { a: colsT, b: dyc },
      backend: backend as unknown as tf.KernelBackend,
      attrs: { transposeA: false, transposeB: false },
    }) as tf.TensorInfo;
    backend.disposeData(colsT.dataId);
    if (!single) backend.disposeData(dyc.dataId);
    if (single) {
      backend.disposeData(xc.dataId);
      // [k2, co] is already the [KH, KW, CI, CO] filter layout.
      return {
        dataId: prod.dataId,
        shape: attrs.filterShape,
        dtype: "float32",
      };
    }
    const p = backend.typedArrayFromHeap(prod);
    for (let i = 0; i < p.length; i++) acc![i] += p[i];
    backend.disposeData(prod.dataId);
  }
  backend.disposeData(xc.dataId);
  const out = backend.makeOutput(attrs.filterShape, "float32");
  backend.typedArrayFromHeap(out).set(acc!);
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
