/**
 * Pure helpers on typed arrays shared by the project's convolution gradient
 * kernels: the geometry of a 2-D NHWC convolution, im2col, a row-major
 * transpose and a plain matrix multiply. Nothing here touches a backend, so
 * every helper is testable on its own.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";

/** Everything a 2-D NHWC convolution's index arithmetic needs. */
export interface ConvGeometry {
  batchSize: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  /** Zero rows added above the input. */
  padTop: number;
  /** Zero columns added left of the input. */
  padLeft: number;
}

/** {@link ConvGeometry}'s fields in a fixed order (see {@link convGeometryArgs}). */
const GEOMETRY_FIELDS = [
  "batchSize",
  "inHeight",
  "inWidth",
  "inChannels",
  "outHeight",
  "outWidth",
  "outChannels",
  "filterHeight",
  "filterWidth",
  "strideHeight",
  "strideWidth",
  "dilationHeight",
  "dilationWidth",
  "padTop",
  "padLeft",
] as const satisfies readonly (keyof ConvGeometry)[];

/**
 * A geometry as a flat list of numbers (a parallel job's arguments, see
 * `parallel.ts`); {@link convGeometryFromArgs} reads it back.
 *
 * @example
 * ```ts
 * import { convGeometry, convGeometryArgs, convGeometryFromArgs } from "./im2col.ts";
 * const g = convGeometry([2, 8, 8, 3], [3, 3, 3, 4], { strides: 2, pad: "same" });
 * const back = convGeometryFromArgs(Float64Array.from([9, ...convGeometryArgs(g)]), 1);
 * if (JSON.stringify(back) !== JSON.stringify(g)) throw new Error(JSON.stringify(back));
 * ```
 */
export function convGeometryArgs(g: ConvGeometry): number[] {
  return GEOMETRY_FIELDS.map((f) => g[f]);
}

/**
 * The geometry stored by {@link convGeometryArgs} at `args[offset..]`.
 *
 * @example
 * ```ts
 * import { convGeometryFromArgs } from "./im2col.ts";
 * const g = convGeometryFromArgs(Float64Array.from({ length: 15 }, (_, i) => i), 0);
 * if (g.batchSize !== 0 || g.padLeft !== 14) throw new Error(JSON.stringify(g));
 * ```
 */
export function convGeometryFromArgs(
  args: Float64Array,
  offset: number,
): ConvGeometry {
  const g = {} as ConvGeometry;
  GEOMETRY_FIELDS.forEach((f, i) => (g[f] = args[offset + i]));
  return g;
}

/** The padding forms TensorFlow.js accepts for `conv2d`. */
export type ConvPad =
  | "same"
  | "valid"
  | number
  | [[number, number], [number, number], [number, number], [number, number]];

/**
 * The geometry of an NHWC `conv2d(x, filter, strides, pad)`, computed with
 * TensorFlow.js's own rules (so "same" splits padding exactly as it does).
 *
 * @example
 * ```ts
 * import { convGeometry } from "./im2col.ts";
 * const g = convGeometry([2, 8, 8, 3], [3, 3, 3, 4], { strides: 2, pad: "same" });
 * if (g.outHeight !== 4 || g.padTop !== 0) throw new Error(JSON.stringify(g));
 * ```
 */
export function convGeometry(
  xShape: number[],
  filterShape: number[],
  options: {
    strides: number | [number, number];
    pad: ConvPad;
    dilations?: number | [number, number];
    dimRoundingMode?: "floor" | "round" | "ceil";
    dataFormat?: "NHWC" | "NCHW";
  },
): ConvGeometry {
  if (xShape.length !== 4 || filterShape.length !== 4) {
    throw new Error(
      `convGeometry: need rank-4 input and filter shapes, got [${xShape}] and [${filterShape}]`,
    );
  }
  if ((options.dataFormat ?? "NHWC") !== "NHWC") {
    throw new Error(
      `convGeometry: only NHWC is supported, got dataFormat "${options.dataFormat}"`,
    );
  }
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    options.strides,
    options.dilations ?? 1,
    options.pad,
    options.dimRoundingMode,
    false,
    "channelsLast",
  );
  return {
    batchSize: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/**
 * im2col for images `n0 <= n < n1` of an NHWC input `x`: writes the matrix
 * `[(n1 - n0) * outHeight * outWidth, filterHeight * filterWidth * inChannels]`
 * (row = output pixel, column = (kh, kw, ci), the order of a flattened
 * [KH, KW, CI, CO] filter) into `out`, zeros where the window leaves the
 * input. Returns `out`.
 *
 * @example
 * ```ts
 * import { convGeometry, im2col } from "./im2col.ts";
 * // 1x2x2x1 input, 2x2 filter, "same": the window of pixel (1, 1) hangs off the edge.
 * const g = convGeometry([1, 2, 2, 1], [2, 2, 1, 1], { strides: 1, pad: "same" });
 * const cols = im2col(new Float32Array([1, 2, 3, 4]), g, 0, 1, new Float32Array(16));
 * if (cols.slice(0, 4).join() !== "1,2,3,4" || cols.slice(12).join() !== "4,0,0,0") {
 *   throw new Error(cols.join());
 * }
 * ```
 */
export function im2col(
  x: Float32Array,
  g: ConvGeometry,
  n0: number,
  n1: number,
  out: Float32Array,
): Float32Array {
  const { inHeight: H, inWidth: W, inChannels: C } = g;
  const { outHeight: OH, outWidth: OW, filterHeight: KH, filterWidth: KW } = g;
  const need = (n1 - n0) * OH * OW * KH * KW * C;
  if (out.length < need) {
    throw new Error(`im2col: output has ${out.length} elements, need ${need}`);
  }
  let o = 0;
  for (let n = n0; n < n1; n++) {
    const xn = n * H * W * C;
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * g.strideHeight - g.padTop;
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * g.strideWidth - g.padLeft;
        for (let kh = 0; kh < KH; kh++) {
          const ih = ih0 + kh * g.dilationHeight;
          const rowOk = ih >= 0 && ih < H;
          for (let kw = 0; kw < KW; kw++) {
            const iw = iw0 + kw * g.dilationWidth;
            if (!rowOk || iw < 0 || iw >= W) {
              out.fill(0, o, o + C);
              o += C;
              continue;
            }
            let src = xn + (ih * W + iw) * C;
            for (let c = 0; c < C; c++) out[o++] = x[src++];
          }
        }
      }
    }
  }
  return out;
}

/**
 * Transposes the row-major `rows x cols` block of `a` starting at element
 * `offset` into `out` (`cols x rows`). Returns `out`.
 *
 * @example
 * ```ts
 * import { transpose2d } from "./im2col.ts";
 * const t = transpose2d(new Float32Array([1, 2, 3, 4, 5, 6]), 2, 3, new Float32Array(6));
 * if (t.join() !== "1,4,2,5,3,6") throw new Error(t.join());
 * ```
 */
export function transpose2d(
  a: Float32Array,
  rows: number,
  cols: number,
  out: Float32Array,
  offset = 0,
): Float32Array {
  // Cache blocking; the inner loop writes sequentially (about 5x faster
  // than reading sequentially on a [65536, 64] matrix).
  const B = 32;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let c = c0; c < c1; c++) {
        const dst = c * rows;
        for (let r = r0; r < r1; r++) out[dst + r] = a[offset + r * cols + c];
      }
    }
  }
  return out;
}

/**
 * Plain row-major matrix multiply `out = a [m x k] @ b [k x n]` in JavaScript
 * with float32 accumulation (reference speed; used by the pure `*Impl`s).
 *
 * @example
 * ```ts
 * import { matmul } from "./im2col.ts";
 * const c = matmul(new Float32Array([1, 2, 3, 4]), new Float32Array([5, 6, 7, 8]), 2, 2, 2);
 * if (c.join() !== "19,22,43,50") throw new Error(c.join());
 * ```
 */
export function matmul(
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
  out: Float32Array = new Float32Array(m * n),
): Float32Array {
  out.fill(0, 0, m * n);
  for (let i = 0; i < m; i++) {
    const oi = i * n;
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p];
      if (av === 0) continue;
      const bp = p * n;
      for (let j = 0; j < n; j++) out[oi + j] += av * b[bp + j];
    }
  }
  return out;
}

/**
 * How many images of a batch one im2col chunk holds: as many as fit in
 * `maxElements` at `perImage` elements each, at least 1, at most `batch`.
 *
 * @example
 * ```ts
 * import { imagesPerChunk } from "./im2col.ts";
 * if (imagesPerChunk(64, 1000, 10_000) !== 10) throw new Error();
 * if (imagesPerChunk(64, 1e9, 10_000) !== 1 || imagesPerChunk(4, 1, 10_000) !== 4) throw new Error();
 * ```
 */
export function imagesPerChunk(
  batch: number,
  perImage: number,
  maxElements: number,
): number {
  return Math.max(
    1,
    Math.min(batch, Math.floor(maxElements / Math.max(1, perImage))),
  );
}
