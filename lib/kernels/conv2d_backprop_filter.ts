/**
 * `Conv2DBackpropFilter` (the filter gradient of `conv2d`) for the `wasm`
 * backend, which ships without one and therefore cannot train convnets.
 *
 * dW[kh, kw, ci, co] = sum over (n, oh, ow) of
 * x[n, oh*s + kh - padTop, ow*s + kw - padLeft, ci] * dy[n, oh, ow, co],
 * computed by generated WebAssembly SIMD tiles (`filter_grad_tiles.ts`)
 * straight from x (copied once into a zero-padded layout when the
 * convolution pads) and dy on the wasm heap: no im2col and no repacking of
 * dy, the two costs that made the former im2col + XNNPACK product path
 * 1.7x a forward convolution inside a training step.
 *
 * Three kernel pool jobs (`parallel.ts`): the padded copy (items: images),
 * the tiles (items: an image chunk by a group of {@link COLUMN_GROUP}
 * output channels), and the sum of the chunks' partial gradients (items:
 * blocks of entries). The batch is split into
 * at most {@link FILTER_GRAD_CHUNKS} chunks, fixed by the shape alone, whose
 * partial gradients are added in chunk order; each item writes only its own
 * outputs, so the result is bitwise the same for every thread count, and
 * bitwise that of {@link conv2dBackpropFilterImpl}. (One difference from
 * the stock kernels: an infinite dy next to the zero padding gives NaN,
 * 0 * inf, where they skip the padding.) NHWC, float32, dilation 1 only,
 * as TensorFlow.js's own gradient of `conv2d`.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import {
  heapOffset,
  type WasmBackendLike,
  wasmMemory,
} from "./wasm_backend.ts";
import { type ParallelJob, runParallel } from "./parallel.ts";
import { TILE_COLUMNS, TILE_ROWS, tileKernels } from "./filter_grad_tiles.ts";
import {
  type ConvGeometry,
  convGeometry,
  convGeometryArgs,
  convGeometryFromArgs,
  type ConvPad,
} from "./im2col.ts";

/**
 * Most image chunks a batch is split into (each chunk's gradient is summed
 * apart, then the chunks are added in order). A layer gets as many as give
 * it {@link TARGET_ITEMS} tiles items, up to this: enough items for the
 * pool's threads, few partial gradients to zero and add (a 256-channel 3x3
 * layer's gradient is 2.4 MB).
 *
 * @example
 * ```ts
 * import { FILTER_GRAD_CHUNKS } from "./conv2d_backprop_filter.ts";
 * if (FILTER_GRAD_CHUNKS !== 8) throw new Error();
 * ```
 */
export const FILTER_GRAD_CHUNKS = 8;

/** Tiles items a layer is split into where its batch allows. */
const TARGET_ITEMS = 32;

/**
 * Output channels per tiles item (4 tiles of 8).
 *
 * @example
 * ```ts
 * import { COLUMN_GROUP } from "./conv2d_backprop_filter.ts";
 * if (COLUMN_GROUP % 8 !== 0) throw new Error();
 * ```
 */
export const COLUMN_GROUP = 32;

/**
 * Output pixels one tile call walks (whole rows, or whole images when they
 * are small): their x and dy stay in L1 across the call's filter taps.
 */
const PIXELS_PER_CALL = 256;

/** Entries per item of the chunk sum. */
const SUM_BLOCK = 1 << 14;

/** How a geometry's filter gradient is computed (shared by the kernel and its reference). */
export interface FilterGradPlan {
  /** Image chunks (their partial gradients are added in order). */
  chunks: number;
  /** Height and width of the zero-padded input the tiles read. */
  paddedHeight: number;
  paddedWidth: number;
  /** Whether x needs copying into that layout (false: it is x itself). */
  padded: boolean;
}

/**
 * The plan for geometry `g`.
 *
 * @example
 * ```ts
 * import { convGeometry } from "./im2col.ts";
 * import { filterGradPlan } from "./conv2d_backprop_filter.ts";
 * const g = convGeometry([64, 32, 32, 16], [3, 3, 16, 64], { strides: 1, pad: "same" });
 * const p = filterGradPlan(g);
 * if (p.chunks !== 8 || p.paddedHeight !== 34 || !p.padded) throw new Error(JSON.stringify(p));
 * // 256 output channels are 8 items per chunk already: 4 chunks.
 * const wide = convGeometry([64, 8, 8, 256], [3, 3, 256, 256], { strides: 1, pad: 1 });
 * if (filterGradPlan(wide).chunks !== 4) throw new Error();
 * const q = filterGradPlan(convGeometry([3, 8, 8, 4], [1, 1, 4, 8], { strides: 2, pad: 0 }));
 * if (q.chunks !== 3 || q.padded) throw new Error(JSON.stringify(q));
 * ```
 */
export function filterGradPlan(g: ConvGeometry): FilterGradPlan {
  if (g.dilationHeight !== 1 || g.dilationWidth !== 1) {
    throw new Error(
      `Conv2DBackpropFilter: dilation must be 1, got [${g.dilationHeight}, ${g.dilationWidth}]`,
    );
  }
  const paddedHeight = Math.max(
    g.padTop + g.inHeight,
    (g.outHeight - 1) * g.strideHeight + g.filterHeight,
  );
  const paddedWidth = Math.max(
    g.padLeft + g.inWidth,
    (g.outWidth - 1) * g.strideWidth + g.filterWidth,
  );
  return {
    chunks: Math.min(
      g.batchSize,
      FILTER_GRAD_CHUNKS,
      Math.ceil(TARGET_ITEMS / Math.ceil(g.outChannels / COLUMN_GROUP)),
    ),
    paddedHeight,
    paddedWidth,
    padded: g.padTop !== 0 || g.padLeft !== 0 ||
      paddedHeight !== g.inHeight || paddedWidth !== g.inWidth,
  };
}

/** Images `[n0, n1)` of chunk `c` of `chunks`. */
function chunkImages(
  batch: number,
  chunks: number,
  c: number,
): [number, number] {
  return [
    Math.floor((c * batch) / chunks),
    Math.floor(((c + 1) * batch) / chunks),
  ];
}

/**
 * Pure reference of the kernel on typed arrays: the filter gradient
 * `[KH, KW, CI, CO]` of an NHWC convolution with geometry `g`. Plain
 * float32 arithmetic in the kernel's order (per chunk of images, pixels in
 * order, each product rounded, then the chunks added in order), so the
 * kernel's result equals it bitwise.
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
  const { chunks } = filterGradPlan(g);
  const [KH, KW, CI, CO] = [
    g.filterHeight,
    g.filterWidth,
    g.inChannels,
    g.outChannels,
  ];
  const out = new Float32Array(KH * KW * CI * CO);
  const part = new Float32Array(out.length);
  const f = Math.fround;
  for (let c = 0; c < chunks; c++) {
    const [n0, n1] = chunkImages(g.batchSize, chunks, c);
    const acc = c === 0 ? out : part.fill(0);
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        for (let ci = 0; ci < CI; ci++) {
          for (let co = 0; co < CO; co++) {
            let s = 0;
            for (let n = n0; n < n1; n++) {
              for (let oh = 0; oh < g.outHeight; oh++) {
                const ih = oh * g.strideHeight + kh - g.padTop;
                if (ih < 0 || ih >= g.inHeight) continue;
                for (let ow = 0; ow < g.outWidth; ow++) {
                  const iw = ow * g.strideWidth + kw - g.padLeft;
                  if (iw < 0 || iw >= g.inWidth) continue;
                  const xv =
                    x[((n * g.inHeight + ih) * g.inWidth + iw) * CI + ci];
                  const dv =
                    dy[((n * g.outHeight + oh) * g.outWidth + ow) * CO + co];
                  s = f(s + f(xv * dv));
                }
              }
            }
            acc[((kh * KW + kw) * CI + ci) * CO + co] = s;
          }
        }
      }
    }
    if (c > 0) { for (let i = 0; i < out.length; i++) out[i] += part[i]; }
  }
  return out;
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
 * The zero-padded copy of x, a kernel pool job whose items are images.
 * Arguments: heap offsets (float32 elements) of x and of the copy, the
 * padded height and width, then the geometry's fields.
 *
 * @example
 * ```ts
 * import { convGeometry, convGeometryArgs } from "./im2col.ts";
 * import { filterGradPadJob } from "./conv2d_backprop_filter.ts";
 * // One 1x2 image, 1 channel, padded by 1 on every side: a 3x4 copy.
 * const g = convGeometry([1, 1, 2, 1], [3, 3, 1, 1], { strides: 1, pad: 1 });
 * const heap = Float32Array.of(5, 6, ...new Array(12).fill(9));
 * filterGradPadJob.run(heap, Float64Array.from([0, 2, 3, 4, ...convGeometryArgs(g)]), 0, 1);
 * if (heap.slice(2).join() !== "0,0,0,0,0,5,6,0,0,0,0,0") throw new Error(heap.join());
 * ```
 */
export const filterGradPadJob: ParallelJob = {
  name: "conv2dBackpropFilter.pad",
  run(heap, args, lo, hi) {
    const [xOff, xpOff, hp, wp] = [args[0], args[1], args[2], args[3]];
    const g = convGeometryFromArgs(args, 4);
    const C = g.inChannels, rowLen = g.inWidth * C;
    for (let n = lo; n < hi; n++) {
      const base = xpOff + n * hp * wp * C;
      heap.fill(0, base, base + hp * wp * C);
      for (let ih = 0; ih < g.inHeight; ih++) {
        const src = xOff + (n * g.inHeight + ih) * rowLen;
        heap.copyWithin(
          base + ((ih + g.padTop) * wp + g.padLeft) * C,
          src,
          src + rowLen,
        );
      }
    }
  },
};

/**
 * The tiles, a kernel pool job: item `c * groups + j` adds image chunk
 * `c`'s sums for output channels `[j * COLUMN_GROUP, (j + 1) *
 * COLUMN_GROUP)` onto the gradient (chunk 0) or chunk c's partial gradient
 * (both zeroed by the caller). Arguments: heap offsets of the padded x, of
 * dy, of the gradient and of the partials, the chunk count, the padded
 * height and width, then the geometry's fields. Needs the heap's `memory`
 * (the tiles are wasm).
 *
 * @example
 * ```ts
 * import { convGeometry, convGeometryArgs } from "./im2col.ts";
 * import { filterGradTilesJob } from "./conv2d_backprop_filter.ts";
 * // One 1x2 image, 1 channel, 1x1 filter: dW = 1 + x . dy = 1 + 5 * 2 + 6 * 3.
 * const memory = new WebAssembly.Memory({ initial: 1 });
 * const heap = new Float32Array(memory.buffer);
 * heap.set([5, 6, 2, 3, 1]); // x, dy, the gradient so far
 * const g = convGeometry([1, 1, 2, 1], [1, 1, 1, 1], { strides: 1, pad: 0 });
 * filterGradTilesJob.run(heap, Float64Array.from([0, 2, 4, 5, 1, 1, 2,
 *   ...convGeometryArgs(g)]), 0, 1, memory);
 * if (heap[4] !== 29) throw new Error(String(heap[4]));
 * ```
 */
export const filterGradTilesJob: ParallelJob = {
  name: "conv2dBackpropFilter.tiles",
  run(_heap, args, lo, hi, memory) {
    if (!memory) {
      throw new Error(
        "conv2dBackpropFilter.tiles: needs the wasm heap's WebAssembly.Memory",
      );
    }
    const [xOff, dyOff, outOff, partsOff] = [
      args[0],
      args[1],
      args[2],
      args[3],
    ];
    const [chunks, hp, wp] = [args[4], args[5], args[6]];
    const g = convGeometryFromArgs(args, 7);
    const [KH, KW, CI, CO] = [
      g.filterHeight,
      g.filterWidth,
      g.inChannels,
      g.outChannels,
    ];
    const [OH, OW] = [g.outHeight, g.outWidth];
    const kernels = tileKernels(memory, 4 * g.strideWidth * CI, 4 * CO);
    const size = KH * KW * CI * CO;
    const groups = Math.ceil(CO / COLUMN_GROUP);
    const xImage = hp * wp * CI;
    // Whole images per call when they are small, else rows of one image.
    const perCall = Math.max(1, Math.floor(PIXELS_PER_CALL / (OH * OW)));
    const rows = perCall > 1
      ? OH
      : Math.min(OH, Math.max(1, Math.floor(PIXELS_PER_CALL / OW)));
    for (let item = lo; item < hi; item++) {
      const c = Math.floor(item / groups);
      const co0 = (item % groups) * COLUMN_GROUP;
      const co1 = Math.min(CO, co0 + COLUMN_GROUP);
      const accOff = c === 0 ? outOff : partsOff + (c - 1) * size;
      const [n0, n1] = chunkImages(g.batchSize, chunks, c);
      for (let n = n0; n < n1; n += perCall) {
        const images = Math.min(perCall, n1 - n);
        for (let oh = 0; oh < OH; oh += rows) {
          const x0 = xOff + n * xImage + oh * g.strideHeight * wp * CI;
          const dy0 = dyOff + (n * OH + oh) * OW * CO;
          const rowsNow = Math.min(rows, OH - oh);
          for (let co = co0; co < co1;) {
            const w = TILE_COLUMNS.findIndex((nr) => co + nr <= co1);
            for (let ci = 0; ci < CI; ci += TILE_ROWS) {
              kernels[Math.min(TILE_ROWS, CI - ci) - 1][w](
                4 * (x0 + ci),
                4 * (dy0 + co),
                4 * (accOff + ci * CO + co),
                images,
                rowsNow,
                OW,
                4 * g.strideHeight * wp * CI,
                4 * xImage,
                4 * CO,
                KH,
                KW,
                4 * wp * CI,
                4 * CI,
                4 * CI * CO,
              );
            }
            co += TILE_COLUMNS[w];
          }
        }
      }
    }
  },
};

/**
 * The sum of the chunks' partial gradients into the gradient, in chunk
 * order, a kernel pool job whose items are blocks of entries. Arguments:
 * heap offsets of the gradient and of the partials, the gradient's size,
 * the chunk count.
 *
 * @example
 * ```ts
 * import { filterGradSumJob } from "./conv2d_backprop_filter.ts";
 * // Gradient [1, 2], partials of chunks 1 and 2: [10, 20], [100, 200].
 * const heap = Float32Array.of(1, 2, 10, 20, 100, 200);
 * filterGradSumJob.run(heap, Float64Array.from([0, 2, 2, 3]), 0, 1);
 * if (heap.slice(0, 2).join() !== "111,222") throw new Error(heap.join());
 * ```
 */
export const filterGradSumJob: ParallelJob = {
  name: "conv2dBackpropFilter.sum",
  run(heap, args, lo, hi) {
    const [outOff, partsOff, size, chunks] = [
      args[0],
      args[1],
      args[2],
      args[3],
    ];
    const i1 = Math.min(size, hi * SUM_BLOCK);
    for (let c = 1; c < chunks; c++) {
      const p = partsOff + (c - 1) * size;
      for (let i = lo * SUM_BLOCK; i < i1; i++) heap[outOff + i] += heap[p + i];
    }
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
  const plan = filterGradPlan(g);
  const memory = wasmMemory(backend);
  const { paddedHeight: hp, paddedWidth: wp, chunks } = plan;
  const size = attrs.filterShape.reduce((a, b) => a * b, 1);
  const xImage = hp * wp * g.inChannels;
  // Allocate first: growing the heap detaches earlier views.
  const out = backend.makeOutput(attrs.filterShape, "float32");
  const parts = chunks > 1
    ? backend.makeOutput([(chunks - 1) * size], "float32")
    : null;
  const xp = plan.padded
    ? backend.makeOutput([g.batchSize * xImage], "float32")
    : null;
  try {
    const heap = new Float32Array(memory.buffer);
    const geometry = convGeometryArgs(g);
    const xpOff = heapOffset(backend, xp ?? x);
    const outOff = heapOffset(backend, out);
    const partsOff = parts ? heapOffset(backend, parts) : 0;
    // The tiles add onto the gradient and the partials.
    heap.fill(0, outOff, outOff + size);
    if (parts) heap.fill(0, partsOff, partsOff + (chunks - 1) * size);
    if (xp) {
      runParallel(filterGradPadJob, heap, [
        heapOffset(backend, x),
        xpOff,
        hp,
        wp,
        ...geometry,
      ], { items: g.batchSize, work: g.batchSize * xImage, memory });
    }
    runParallel(filterGradTilesJob, heap, [
      xpOff,
      heapOffset(backend, dy),
      outOff,
      partsOff,
      chunks,
      hp,
      wp,
      ...geometry,
    ], {
      items: chunks * Math.ceil(g.outChannels / COLUMN_GROUP),
      work: size * g.batchSize * g.outHeight * g.outWidth,
      memory,
    });
    if (parts) {
      runParallel(filterGradSumJob, heap, [outOff, partsOff, size, chunks], {
        items: Math.ceil(size / SUM_BLOCK),
        work: size * chunks,
        memory,
      });
    }
  } catch (e) {
    backend.disposeData(out.dataId);
    throw e;
  } finally {
    if (parts) backend.disposeData(parts.dataId);
    if (xp) backend.disposeData(xp.dataId);
  }
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
