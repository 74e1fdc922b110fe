/**
 * SVHN format 2 (`train_32x32.mat`, `test_32x32.mat`, `extra_32x32.mat`):
 * MAT v5 files with `X`, uint8 32x32x3xN (MATLAB column-major: row fastest,
 * then column, channel, image) and `y`, Nx1 labels 1..10 where 10 is digit 0.
 * `X` is decoded in chunks straight into NHWC, so no float (or second uint8)
 * copy of the images exists; train + extra (604,388 images, 1.86 GB uint8)
 * is written into one buffer.
 *
 * @module
 */
import { DatasetError } from "./errors.ts";
import type { ImageSet } from "./image_set.ts";
import { collectNumeric, MX, readMat } from "./mat.ts";

const PIXELS = 32 * 32 * 3;

/** Where {@link readSvhnMat} writes: a shared buffer and the first image index. */
export interface SvhnTarget {
  images: Uint8Array;
  labels: Int32Array;
  /** Index of the first image to write. */
  offset: number;
}

class StopEarly extends Error {}

/**
 * Reads only the image count of an SVHN `.mat` (decompresses just the
 * variable headers).
 *
 * @example
 * ```ts
 * import { fabricateSvhnMat } from "./fixture_files.ts";
 * import { readSvhnCount } from "./svhn.ts";
 * import { bytesStream } from "./bytes.ts";
 * const { bytes } = await fabricateSvhnMat({ n: 5, seed: 1 });
 * if ((await readSvhnCount(bytesStream(bytes), "t.mat")) !== 5) throw new Error();
 * ```
 */
export async function readSvhnCount(
  stream: ReadableStream<Uint8Array>,
  label: string,
): Promise<number> {
  let n = -1;
  try {
    await readMat(stream, label, {
      X: (info) => {
        n = checkDims(info.dims, label);
        throw new StopEarly();
      },
    });
  } catch (e) {
    if (!(e instanceof StopEarly)) throw e;
  }
  if (n < 0) {
    throw new DatasetError("format", `${label} has no SVHN variable X`);
  }
  return n;
}

function checkDims(dims: number[], label: string): number {
  if (
    dims.length !== 4 || dims[0] !== 32 || dims[1] !== 32 || dims[2] !== 3
  ) {
    throw new DatasetError(
      "format",
      `${label}: SVHN X must be 32x32x3xN, got ${dims.join("x")}`,
    );
  }
  return dims[3];
}

/**
 * Reads an SVHN format-2 `.mat` stream into NHWC uint8 and labels 0..9
 * (label 10 -> 0). With `target`, writes into that buffer at
 * `target.offset` and returns a view of the written range.
 *
 * @example
 * ```ts
 * import { fabricateSvhnMat } from "./fixture_files.ts";
 * import { readSvhnMat } from "./svhn.ts";
 * import { bytesStream } from "./bytes.ts";
 * const { bytes, set } = await fabricateSvhnMat({ n: 4, seed: 2 });
 * const s = await readSvhnMat(bytesStream(bytes), "t.mat");
 * if (s.images.join() !== set.images.join() || s.labels.join() !== set.labels.join()) throw new Error();
 * ```
 */
export async function readSvhnMat(
  stream: ReadableStream<Uint8Array>,
  label: string,
  target?: SvhnTarget,
): Promise<ImageSet> {
  let n = -1;
  let images: Uint8Array | null = null;
  let labels: Float64Array | null = null;
  const offset = target?.offset ?? 0;
  await readMat(stream, label, {
    X: async (info, data) => {
      n = checkDims(info.dims, label);
      if (info.mxClass !== MX.UINT8 || info.dataType !== 2) {
        throw new DatasetError(
          "format",
          `${label}: SVHN X must be uint8, got class ${info.mxClass} stored as type ${info.dataType}`,
        );
      }
      if (info.dataBytes !== n * PIXELS) {
        throw new DatasetError(
          "format",
          `${label}: X has ${info.dataBytes} bytes, expected ${n * PIXELS}`,
        );
      }
      if (target) {
        if ((offset + n) * PIXELS > target.images.length) {
          throw new RangeError(
            `readSvhnMat: target holds ${
              target.images.length / PIXELS
            } images, need ${offset + n}`,
          );
        }
        images = target.images.subarray(offset * PIXELS, (offset + n) * PIXELS);
      } else images = new Uint8Array(n * PIXELS);
      await transposeInto(images, data);
    },
    y: async (info, data) => {
      labels = await collectNumeric(info, data);
    },
  });
  if (images === null || labels === null) {
    throw new DatasetError(
      "format",
      `${label} is not an SVHN file: variables ${images === null ? "X " : ""}${
        labels === null ? "y" : ""
      } missing`,
    );
  }
  const y = labels as Float64Array;
  if (y.length !== n) {
    throw new DatasetError(
      "format",
      `${label}: ${y.length} labels for ${n} images`,
    );
  }
  const out = target
    ? target.labels.subarray(offset, offset + n)
    : new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = y[i];
    if (!(Number.isInteger(v) && v >= 1 && v <= 10)) {
      throw new DatasetError(
        "format",
        `${label}: SVHN label ${v} at index ${i} is not in 1..10`,
      );
    }
    out[i] = v === 10 ? 0 : v;
  }
  return {
    images: images!,
    labels: out,
    n,
    height: 32,
    width: 32,
    channels: 3,
  };
}

/** Column-major 32x32x3 planes per image -> NHWC, streaming over chunks. */
async function transposeInto(
  dst: Uint8Array,
  data: AsyncGenerator<Uint8Array>,
): Promise<void> {
  const stage = new Uint8Array(PIXELS);
  let fill = 0;
  let img = 0;
  const emit = (src: Uint8Array, at: number) => {
    const base = img * PIXELS;
    // src[h + 32 w + 1024 c] -> dst[(h * 32 + w) * 3 + c]
    for (let c = 0; c < 3; c++) {
      for (let w = 0; w < 32; w++) {
        const s = at + 1024 * c + 32 * w;
        for (let h = 0; h < 32; h++) {
          dst[base + (h * 32 + w) * 3 + c] = src[s + h];
        }
      }
    }
    img++;
  };
  for await (const chunk of data) {
    let p = 0;
    if (fill > 0) {
      const take = Math.min(PIXELS - fill, chunk.length);
      stage.set(chunk.subarray(0, take), fill);
      fill += take;
      p = take;
      if (fill === PIXELS) {
        emit(stage, 0);
        fill = 0;
      }
    }
    for (; p + PIXELS <= chunk.length; p += PIXELS) emit(chunk, p);
    if (p < chunk.length) {
      stage.set(chunk.subarray(p), 0);
      fill = chunk.length - p;
    }
  }
}
