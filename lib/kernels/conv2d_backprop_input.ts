/**
 * `Conv2DBackpropInput` (the input gradient of `conv2d`, also
 * `conv2dTranspose`) for the `wasm` backend, whose stock kernel is about 10x
 * slower than its forward convolution.
 *
 * The input gradient of a convolution is itself a stride-1 convolution: insert
 * `stride - 1` zeros between the rows and columns of dy, pad by
 * `filter - 1 - pad`, and correlate with the filter rotated by 180 degrees
 * with its channel axes swapped. The wasm kernel builds the zero-inserted dy
 * and the rotated filter on the wasm heap in JavaScript and runs the backend's
 * own XNNPACK `Conv2D`; that is the path for stride 1. Strided
 * convolutions (and geometries with negative transformed padding) take the
 * column route instead, which does only the forward convolution's
 * multiply-adds (zero insertion does `strideH * strideW` times more):
 * `cols = dy @ filter^T` by XNNPACK's matrix product, then a col2im
 * scatter-add in JavaScript. Dilated convolutions go to the stock kernel.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { WasmBackendLike } from "./wasm_backend.ts";
import {
  type ConvGeometry,
  convGeometry,
  type ConvPad,
  im2col,
  imagesPerChunk,
  matmul,
  transpose2d,
} from "./im2col.ts";
import { stockKernel } from "./stock.ts";

/** The stride-1 convolution that computes the input gradient. */
export interface BackpropInputPlan {
  /** Zero-inserted dy: [N, (OH-1)*sh+1, (OW-1)*sw+1, CO]. */
  dilatedHeight: number;
  dilatedWidth: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
}

/**
 * The stride-1 convolution equivalent to the input gradient of the
 * convolution with geometry `g` (dilation 1), or null when its padding would
 * be negative.
 *
 * @example
 * ```ts
 * import { convGeometry } from "./im2col.ts";
 * import { backpropInputPlan } from "./conv2d_backprop_input.ts";
 * const g = convGeometry([1, 32, 32, 1], [3, 3, 1, 1], { strides: 2, pad: "same" });
 * const p = backpropInputPlan(g)!;
 * // 16 outputs -> 31 dilated rows, padded 2 above and 1 below: 31 + 3 - 3 + 1 = 32.
 * if (p.dilatedHeight !== 31 || p.padTop !== 2 || p.padBottom !== 1) throw new Error();
 * ```
 */
export function backpropInputPlan(g: ConvGeometry): BackpropInputPlan | null {
  if (g.dilationHeight !== 1 || g.dilationWidth !== 1) return null;
  const dilatedHeight = (g.outHeight - 1) * g.strideHeight + 1;
  const dilatedWidth = (g.outWidth - 1) * g.strideWidth + 1;
  const padTop = g.filterHeight - 1 - g.padTop;
  const padLeft = g.filterWidth - 1 - g.padLeft;
  const padBottom = g.inHeight + g.filterHeight - 1 - dilatedHeight - padTop;
  const padRight = g.inWidth + g.filterWidth - 1 - dilatedWidth - padLeft;
  if (Math.min(padTop, padLeft, padBottom, padRight) < 0) return null;
  return {
    dilatedHeight,
    dilatedWidth,
    padTop,
    padBottom,
    padLeft,
    padRight,
  };
}

/**
 * Writes dy `[N, OH, OW, C]` with `stride - 1` zeros between rows and
 * columns into `out` `[N, (OH-1)*sh+1, (OW-1)*sw+1, C]`. Returns `out`.
 *
 * @example
 * ```ts
 * import { insertZeros } from "./conv2d_backprop_input.ts";
 * const d = insertZeros(new Float32Array([1, 2]), [1, 1, 2, 1], 2, 2, new Float32Array(3));
 * if (d.join() !== "1,0,2") throw new Error(d.join());
 * ```
 */
export function insertZeros(
  dy: Float32Array,
  shape: [number, number, number, number],
  strideHeight: number,
  strideWidth: number,
  out: Float32Array,
): Float32Array {
  const [N, OH, OW, C] = shape;
  const HD = (OH - 1) * strideHeight + 1, WD = (OW - 1) * strideWidth + 1;
  out.fill(0, 0, N * HD * WD * C);
  let src = 0;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        let dst = ((n * HD + oh * strideHeight) * WD + ow * strideWidth) * C;
        for (let c = 0; c < C; c++) out[dst++] = dy[src++];
      }
    }
  }
  return out;
}

/**
 * Rotates a `[KH, KW, CI, CO]` filter by 180 degrees and swaps its channel
 * axes: `out[kh, kw, co, ci] = w[KH-1-kh, KW-1-kw, ci, co]`. Returns `out`.
 *
 * @example
 * ```ts
 * import { rotateFilter } from "./conv2d_backprop_input.ts";
 * // [1, 2, 1, 2] filter: taps (a0, a1) then (b0, b1).
 * const r = rotateFilter(new Float32Array([1, 2, 3, 4]), [1, 2, 1, 2], new Float32Array(4));
 * if (r.join() !== "3,4,1,2") throw new Error(r.join());
 * ```
 */
export function rotateFilter(
  w: Float32Array,
  shape: [number, number, number, number],
  out: Float32Array,
): Float32Array {
  const [KH, KW, CI, CO] = shape;
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      const src = ((KH - 1 - kh) * KW + (KW - 1 - kw)) * CI * CO;
      const dst = (kh * KW + kw) * CO * CI;
      for (let ci = 0; ci < CI; ci++) {
        for (let co = 0; co < CO; co++) {
          out[dst + co * CI + ci] = w[src + ci * CO + co];
        }
      }
    }
  }
  return out;
}

function transformedGeometry(
  g: ConvGeometry,
  p: BackpropInputPlan,
): ConvGeometry {
  return {
    batchSize: g.batchSize,
    inHeight: p.dilatedHeight,
    inWidth: p.dilatedWidth,
    inChannels: g.outChannels,
    outHeight: g.inHeight,
    outWidth: g.inWidth,
    outChannels: g.inChannels,
    filterHeight: g.filterHeight,
    filterWidth: g.filterWidth,
    strideHeight: 1,
    strideWidth: 1,
    dilationHeight: 1,
    dilationWidth: 1,
    padTop: p.padTop,
    padLeft: p.padLeft,
  };
}

/**
 * Pure reference on typed arrays: the input gradient `[N, H, W, CI]` of an
 * NHWC convolution with geometry `g` (dilation 1), from the output gradient
 * `dy` and the filter `w`, computed the way the wasm kernel does it
 * (zero insertion, rotated filter, stride-1 convolution by im2col) in plain
 * JavaScript.
 *
 * @example
 * ```ts
 * import { convGeometry } from "./im2col.ts";
 * import { conv2dBackpropInputImpl } from "./conv2d_backprop_input.ts";
 * // 1x3x1x1 input, 2x1 filter [1, 10], valid: y0 = x0 + 10 x1, y1 = x1 + 10 x2.
 * const g = convGeometry([1, 3, 1, 1], [2, 1, 1, 1], { strides: 1, pad: "valid" });
 * const dx = conv2dBackpropInputImpl(new Float32Array([1, 2]), new Float32Array([1, 10]), g);
 * if (dx.join() !== "1,12,20") throw new Error(dx.join());
 * ```
 */
export function conv2dBackpropInputImpl(
  dy: Float32Array,
  w: Float32Array,
  g: ConvGeometry,
): Float32Array {
  const dyNeed = g.batchSize * g.outHeight * g.outWidth * g.outChannels;
  const wNeed = g.filterHeight * g.filterWidth * g.inChannels * g.outChannels;
  if (dy.length !== dyNeed || w.length !== wNeed) {
    throw new Error(
      `Conv2DBackpropInput: dy has ${dy.length} elements (need ${dyNeed}), filter has ${w.length} (need ${wNeed})`,
    );
  }
  const p = backpropInputPlan(g);
  if (!p) {
    throw new Error(
      `Conv2DBackpropInput: geometry not expressible as a stride-1 convolution: ${
        JSON.stringify(g)
      }`,
    );
  }
  const t = transformedGeometry(g, p);
  const dyd = insertZeros(
    dy,
    [g.batchSize, g.outHeight, g.outWidth, g.outChannels],
    g.strideHeight,
    g.strideWidth,
    new Float32Array(
      g.batchSize * p.dilatedHeight * p.dilatedWidth * t.inChannels,
    ),
  );
  const wr = rotateFilter(
    w,
    [g.filterHeight, g.filterWidth, g.inChannels, g.outChannels],
    new Float32Array(wNeed),
  );
  const rows = g.batchSize * t.outHeight * t.outWidth;
  const k2 = t.filterHeight * t.filterWidth * t.inChannels;
  const cols = im2col(dyd, t, 0, g.batchSize, new Float32Array(rows * k2));
  return matmul(cols, wr, rows, k2, t.outChannels);
}

/**
 * Scatter-adds the columns `cols` of images `n0 <= n < n1` (`[(n1 - n0) * OH
 * * OW, KH * KW * CI]`, tap-major as in {@link im2col}) into the input
 * gradient `dx` `[N, H, W, CI]` (the transpose of im2col; `dx` is not
 * cleared). Taps that fall into the padding are dropped. Dilation 1 only.
 * Returns `dx`.
 *
 * @example
 * ```ts
 * import { convGeometry } from "./im2col.ts";
 * import { col2im } from "./conv2d_backprop_input.ts";
 * // 1x1 input, 2x2 filter, "same" (pad bottom/right): only tap (0, 0) lands.
 * const g = convGeometry([1, 1, 1, 1], [2, 2, 1, 1], { strides: 1, pad: "same" });
 * const dx = col2im(Float32Array.of(5, 6, 7, 8), g, 0, 1, new Float32Array(1));
 * if (dx[0] !== 5) throw new Error(String(dx[0]));
 * ```
 */
export function col2im(
  cols: Float32Array,
  g: ConvGeometry,
  n0: number,
  n1: number,
  dx: Float32Array,
): Float32Array {
  if (g.dilationHeight !== 1 || g.dilationWidth !== 1) {
    throw new Error(
      `col2im: dilation must be 1, got ${g.dilationHeight}x${g.dilationWidth}`,
    );
  }
  const { inHeight: H, inWidth: W, inChannels: CI } = g;
  const { filterHeight: KH, filterWidth: KW } = g;
  const k2 = KH * KW * CI;
  const rowsNeed = (n1 - n0) * g.outHeight * g.outWidth * k2;
  if (cols.length < rowsNeed || dx.length < n1 * H * W * CI) {
    throw new Error(
      `col2im: cols has ${cols.length} elements (need ${rowsNeed}), dx ${dx.length} (need ${
        n1 * H * W * CI
      })`,
    );
  }
  let r = 0;
  for (let n = n0; n < n1; n++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      const ih0 = oh * g.strideHeight - g.padTop;
      for (let ow = 0; ow < g.outWidth; ow++, r++) {
        const iw0 = ow * g.strideWidth - g.padLeft;
        for (let kh = 0; kh < KH; kh++) {
          const ih = ih0 + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = iw0 + kw;
            if (iw < 0 || iw >= W) continue;
            const dst = ((n * H + ih) * W + iw) * CI;
            const src = r * k2 + (kh * KW + kw) * CI;
            for (let c = 0; c < CI; c++) dx[dst + c] += cols[src + c];
          }
        }
      }
    }
  }
  return dx;
}

/**
 * Pure kernel on typed arrays by the column route, the one the wasm kernel
 * takes for strided convolutions: `cols = dy @ filter^T` (filter viewed as
 * `[KH * KW * CI, CO]`), then {@link col2im}. Exactly the multiply-adds of
 * the forward convolution (zero insertion costs `strideH * strideW` times
 * more). Returns dx `[N, H, W, CI]`.
 *
 * @example
 * ```ts
 * import { convGeometry } from "./im2col.ts";
 * import { conv2dBackpropInputColumnsImpl } from "./conv2d_backprop_input.ts";
 * // y = 2 * x (1x1 filter, stride 2): dx = 2 * dy at even pixels, 0 elsewhere.
 * const g = convGeometry([1, 2, 2, 1], [1, 1, 1, 1], { strides: 2, pad: "valid" });
 * const dx = conv2dBackpropInputColumnsImpl(Float32Array.of(3), Float32Array.of(2), g);
 * if (dx.join() !== "6,0,0,0") throw new Error(dx.join());
 * ```
 */
export function conv2dBackpropInputColumnsImpl(
  dy: Float32Array,
  w: Float32Array,
  g: ConvGeometry,
): Float32Array {
  const rows = g.batchSize * g.outHeight * g.outWidth;
  const k2 = g.filterHeight * g.filterWidth * g.inChannels;
  if (dy.length !== rows * g.outChannels || w.length !== k2 * g.outChannels) {
    throw new Error(
      `Conv2DBackpropInput: dy has ${dy.length} elements (need ${
        rows * g.outChannels
      }), filter has ${w.length} (need ${k2 * g.outChannels})`,
    );
  }
  const wT = transpose2d(w, k2, g.outChannels, new Float32Array(w.length));
  const cols = matmul(dy, wT, rows, g.outChannels, k2);
  return col2im(
    cols,
    g,
    0,
    g.batchSize,
    new Float32Array(g.batchSize * g.inHeight * g.inWidth * g.inChannels),
  );
}

/** Largest column buffer (elements) the strided wasm path builds at once. */
export const conv2dBackpropInputOptions = { maxChunkElements: 1 << 24 };

type KernelArgs = {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
};

function conv2dBackpropInputWasm(args: KernelArgs): tf.TensorInfo {
  const { dy, filter } = args.inputs as {
    dy: tf.TensorInfo;
    filter: tf.TensorInfo;
  };
  const backend = args.backend as WasmBackendLike;
  const attrs = (args.attrs ?? {}) as unknown as {
    strides: number | [number, number];
    pad: ConvPad;
    dataFormat: "NHWC" | "NCHW";
    dimRoundingMode?: "floor" | "round" | "ceil";
    inputShape: [number, number, number, number];
  };
  const fallback = () => {
    const stock = stockKernel(tf.Conv2DBackpropInput, "wasm");
    if (!stock) {
      throw new Error(
        `Conv2DBackpropInput (wasm): unsupported geometry (strides ${attrs.strides}, pad ${
          JSON.stringify(attrs.pad)
        }) and no stock kernel to fall back to`,
      );
    }
    return stock.kernelFunc(
      args as Parameters<tf.KernelFunc>[0],
    ) as tf.TensorInfo;
  };
  if (
    dy.dtype !== "float32" || filter.dtype !== "float32" ||
    (attrs.dataFormat ?? "NHWC") !== "NHWC"
  ) return fallback();
  const g = convGeometry(attrs.inputShape, filter.shape, attrs);
  const p = backpropInputPlan(g);
  if (g.dilationHeight !== 1 || g.dilationWidth !== 1) return fallback();
  if (!p || g.strideHeight !== 1 || g.strideWidth !== 1) {
    return backpropInputColumnsWasm(dy, filter, g, backend);
  }
  const conv = tf.getKernel(tf.Conv2D, "wasm");
  if (!conv) {
    throw new Error(
      "Conv2DBackpropInput (wasm): the wasm backend has no Conv2D kernel",
    );
  }
  const fshape = filter.shape as [number, number, number, number];
  const strided = g.strideHeight !== 1 || g.strideWidth !== 1;
  const wr = backend.makeOutput(
    [fshape[0], fshape[1], fshape[3], fshape[2]],
    "float32",
  );
  const dyd = strided
    ? backend.makeOutput(
      [g.batchSize, p.dilatedHeight, p.dilatedWidth, g.outChannels],
      "float32",
    )
    : dy;
  rotateFilter(
    backend.typedArrayFromHeap(filter),
    fshape,
    backend.typedArrayFromHeap(wr),
  );
  if (strided) {
    insertZeros(
      backend.typedArrayFromHeap(dy),
      dy.shape as [number, number, number, number],
      g.strideHeight,
      g.strideWidth,
      backend.typedArrayFromHeap(dyd),
    );
  }
  const out = conv.kernelFunc({
    inputs: { x: dyd, filter: wr },
    backend: backend as unknown as tf.KernelBackend,
    attrs: {
      strides: [1, 1],
      pad: [[0, 0], [p.padTop, p.padBottom], [p.padLeft, p.padRight], [0, 0]],
      dilations: [1, 1],
      dataFormat: "NHWC",
    } as unknown as tf.NamedAttrMap,
  }) as tf.TensorInfo;
  backend.disposeData(wr.dataId);
  if (strided) backend.disposeData(dyd.dataId);
  return out;
}

/** The strided case on the wasm heap: XNNPACK's matrix product, then col2im in JavaScript. */
function backpropInputColumnsWasm(
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  g: ConvGeometry,
  backend: WasmBackendLike,
): tf.TensorInfo {
  const matMul = tf.getKernel(tf.BatchMatMul, "wasm");
  if (!matMul) {
    throw new Error(
      "Conv2DBackpropInput (wasm): the wasm backend has no BatchMatMul kernel",
    );
  }
  const pix = g.outHeight * g.outWidth;
  const co = g.outChannels;
  const k2 = g.filterHeight * g.filterWidth * g.inChannels;
  const chunk = imagesPerChunk(
    g.batchSize,
    pix * k2,
    conv2dBackpropInputOptions.maxChunkElements,
  );
  const single = chunk === g.batchSize;
  const out = backend.makeOutput(
    [g.batchSize, g.inHeight, g.inWidth, g.inChannels],
    "float32",
  );
  const wT = backend.makeOutput([co, k2], "float32");
  // Views only after allocating: heap growth detaches earlier views.
  transpose2d(
    backend.typedArrayFromHeap(filter),
    k2,
    co,
    backend.typedArrayFromHeap(wT),
  );
  backend.typedArrayFromHeap(out).fill(0);
  for (let n0 = 0; n0 < g.batchSize; n0 += chunk) {
    const n1 = Math.min(g.batchSize, n0 + chunk);
    const rows = (n1 - n0) * pix;
    const dyc = single
      ? { dataId: dy.dataId, shape: [rows, co], dtype: dy.dtype }
      : backend.makeOutput([rows, co], "float32");
    if (!single) {
      backend.typedArrayFromHeap(dyc).set(
        backend.typedArrayFromHeap(dy).subarray(n0 * pix * co, n1 * pix * co),
      );
    }
    const cols = matMul.kernelFunc({
      inputs: { a: dyc, b: wT },
      backend: backend as unknown as tf.KernelBackend,
      attrs: { transposeA: false, transposeB: false },
    }) as tf.TensorInfo;
    if (!single) backend.disposeData(dyc.dataId);
    col2im(
      backend.typedArrayFromHeap(cols),
      g,
      n0,
      n1,
      backend.typedArrayFromHeap(out),
    );
    backend.disposeData(cols.dataId);
  }
  backend.disposeData(wT.dataId);
  return out;
}

/**
 * The kernel registration for the `wasm` backend (registered only through
 * `registry.ts`, which keeps the stock kernel as the fallback).
 *
 * @example
 * ```ts
 * import { conv2dBackpropInputWasmConfig } from "./conv2d_backprop_input.ts";
 * if (conv2dBackpropInputWasmConfig.kernelName !== "Conv2DBackpropInput") throw new Error();
 * ```
 */
export const conv2dBackpropInputWasmConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: "wasm",
  kernelFunc: conv2dBackpropInputWasm as unknown as tf.KernelFunc,
};
