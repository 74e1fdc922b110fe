/**
 * Deterministic synthetic image classification data (the `synthetic-images`
 * dataset of the smoke preset, and the pixels of every fabricated file in
 * the tests).
 *
 * Generator: class k of C draws an oriented sinusoidal grating, angle
 * pi k / C, period 4 + 2 (k mod 3) pixels, random phase, a class colour
 * (channel c weighted 0.6 + 0.4 cos(2 pi (k / C + c / 3))), a class tint
 * (channel c offset by 16 cos(2 pi (k / C + c / 3)); none for 1 channel),
 * plus uniform pixel noise of +-24: pixel = 128 + tint + 70 sin(.) weight +
 * noise, clipped to [0, 255]. Orientation and tint are learnable by a small
 * convnet; random phase and noise make it a non-trivial task.
 *
 * @module
 */
import { Rng } from "../rng.ts";
import type { ImageSet } from "./image_set.ts";

/** Options of {@link syntheticImages}. */
export interface SyntheticImagesOptions {
  n: number;
  seed: number;
  height?: number;
  width?: number;
  channels?: number;
  numClasses?: number;
}

/**
 * `n` synthetic images with balanced labels (label i mod C, then shuffled).
 *
 * @example
 * ```ts
 * import { syntheticImages } from "./synthetic_images.ts";
 * const a = syntheticImages({ n: 20, seed: 1 }), b = syntheticImages({ n: 20, seed: 1 });
 * if (a.images.join() !== b.images.join() || a.images.length !== 20 * 32 * 32 * 3) throw new Error();
 * ```
 */
export function syntheticImages(opts: SyntheticImagesOptions): ImageSet {
  const {
    n,
    seed,
    height = 32,
    width = 32,
    channels = 3,
    numClasses = 10,
  } = opts;
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(
      `syntheticImages: n must be a non-negative integer, got ${n}`,
    );
  }
  const rng = new Rng(seed).fork("synthetic-images");
  const perm = rng.permutation(n);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[perm[i]] = i % numClasses;
  const px = height * width * channels;
  const images = new Uint8Array(n * px);
  for (let i = 0; i < n; i++) {
    const k = labels[i];
    const ang = Math.PI * k / numClasses;
    const period = 4 + 2 * (k % 3);
    const fx = Math.cos(ang) * 2 * Math.PI / period;
    const fy = Math.sin(ang) * 2 * Math.PI / period;
    const phase = rng.range(0, 2 * Math.PI);
    const col = new Float64Array(channels);
    const tint = new Float64Array(channels);
    for (let c = 0; c < channels; c++) {
      if (channels > 1) {
        tint[c] = 16 * Math.cos(2 * Math.PI * (k / numClasses + c / 3));
      }
      col[c] = channels === 1
        ? 1
        : 0.6 + 0.4 * Math.cos(2 * Math.PI * (k / numClasses + c / 3));
    }
    let o = i * px;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const s = Math.sin(fx * x + fy * y + phase);
        for (let c = 0; c < channels; c++) {
          const v = 128 + tint[c] + 70 * s * col[c] + rng.range(-24, 24);
          images[o++] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
        }
      }
    }
  }
  return { images, labels, n, height, width, channels };
}
