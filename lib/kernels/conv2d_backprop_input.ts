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
 * own XNNPACK `Conv2D`. Geometries it cannot express (negative transformed
 * padding) go to the stock kernel.
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

/** The slice of the wasm backend's API this kernel uses. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  disposeData(dataId: tf.DataId): boolean;
}

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
  if (!p) return fallback();
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
