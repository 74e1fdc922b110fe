/**
 * The in-memory form of every image dataset: uint8 pixels in NHWC order and
 * int32 labels, exactly as the parsers return them (never float: the
 * augmentation turns a batch at a time into float32).
 *
 * @module
 */

/** Images (uint8, NHWC) and labels of one split. */
export interface ImageSet {
  /** `n * height * width * channels` bytes, NHWC. */
  images: Uint8Array;
  /** `n` class indices in [0, numClasses). */
  labels: Int32Array;
  n: number;
  height: number;
  width: number;
  channels: number;
  /** CIFAR-100 only: the 20 coarse (superclass) labels. */
  coarseLabels?: Int32Array;
}

/**
 * Checks an {@link ImageSet}'s sizes and label range; throws a RangeError
 * naming the mismatch.
 *
 * @example
 * ```ts
 * import { validateImageSet } from "./image_set.ts";
 * const set = { images: new Uint8Array(2 * 4), labels: new Int32Array([0, 1]), n: 2, height: 2, width: 2, channels: 1 };
 * validateImageSet(set, 2); // fine
 * let message = "";
 * try { validateImageSet({ ...set, labels: new Int32Array([0, 2]) }, 2); } catch (e) { message = String(e); }
 * if (!message.startsWith("RangeError")) throw new Error(`label 2 of 2 classes accepted: ${message}`);
 * ```
 */
export function validateImageSet(set: ImageSet, numClasses?: number): void {
  const px = set.height * set.width * set.channels;
  if (set.images.length !== set.n * px) {
    throw new RangeError(
      `ImageSet has ${set.images.length} bytes of pixels, expected n*h*w*c = ${set.n}*${px}`,
    );
  }
  if (set.labels.length !== set.n) {
    throw new RangeError(
      `ImageSet has ${set.labels.length} labels for ${set.n} images`,
    );
  }
  if (numClasses !== undefined) {
    for (let i = 0; i < set.n; i++) {
      const l = set.labels[i];
      if (!(l >= 0 && l < numClasses)) {
        throw new RangeError(
          `ImageSet label ${l} at index ${i} is outside [0, ${numClasses})`,
        );
      }
    }
  }
}

/**
 * Concatenates image sets of the same shape into one (one allocation).
 *
 * @example
 * ```ts
 * import { concatImageSets } from "./image_set.ts";
 * const a = { images: new Uint8Array([1]), labels: new Int32Array([0]), n: 1, height: 1, width: 1, channels: 1 };
 * const c = concatImageSets([a, a]);
 * if (c.n !== 2 || c.images.join() !== "1,1") throw new Error();
 * ```
 */
export function concatImageSets(sets: ImageSet[]): ImageSet {
  if (sets.length === 0) throw new RangeError("concatImageSets: no sets given");
  const { height, width, channels } = sets[0];
  let n = 0;
  for (const s of sets) {
    if (s.height !== height || s.width !== width || s.channels !== channels) {
      throw new RangeError(
        `concatImageSets: shape ${s.height}x${s.width}x${s.channels} != ${height}x${width}x${channels}`,
      );
    }
    n += s.n;
  }
  const px = height * width * channels;
  const images = new Uint8Array(n * px);
  const labels = new Int32Array(n);
  let o = 0;
  for (const s of sets) {
    images.set(s.images, o * px);
    labels.set(s.labels, o);
    o += s.n;
  }
  return { images, labels, n, height, width, channels };
}
