/**
 * A synthetic stand-in for an image dataset that is not on disk: the same
 * image shape, image count and number of classes, uniformly random pixels
 * and balanced labels. It exists so that a rehearsal (lib/train/rehearsal.ts)
 * allocates, shuffles, augments and batches exactly as many bytes as the
 * real dataset would, in about a second even for SVHN's 604,388 training
 * images; it carries no signal to learn.
 *
 * @module
 */
import type { ImageSet } from "./image_set.ts";

/** Options of {@link standInImages}. */
export interface StandInOptions {
  /** Number of images. */
  n: number;
  height: number;
  width: number;
  channels: number;
  numClasses: number;
  /** Seed of the pixel stream (xorshift32; 0 is replaced by 1). */
  seed: number;
}

/**
 * `n` random `height x width x channels` uint8 images (HWC, row-major) with
 * labels `i mod numClasses`.
 *
 * @example
 * ```ts
 * import { standInImages } from "./stand_in_images.ts";
 * const s = standInImages({ n: 5, height: 2, width: 2, channels: 3, numClasses: 2, seed: 7 });
 * if (s.images.length !== 5 * 12 || s.labels.join() !== "0,1,0,1,0" || s.channels !== 3) throw new Error();
 * ```
 */
export function standInImages(opts: StandInOptions): ImageSet {
  const { n, height, width, channels, numClasses, seed } = opts;
  for (const [k, v] of Object.entries({ n, height, width, channels })) {
    if (!Number.isInteger(v) || v < 0) {
      throw new RangeError(
        `standInImages: ${k} must be a non-negative integer, got ${v}`,
      );
    }
  }
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(
      `standInImages: numClasses must be a positive integer, got ${numClasses}`,
    );
  }
  const bytes = n * height * width * channels;
  const images = new Uint8Array(bytes);
  // Four pixels per xorshift32 draw.
  const words = new Uint32Array(images.buffer, 0, Math.floor(bytes / 4));
  let x = (seed >>> 0) || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  for (let i = words.length * 4; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    images[i] = x & 255;
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = i % numClasses;
  return { images, labels, n, height, width, channels };
}
