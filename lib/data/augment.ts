/**
 * Training augmentation on uint8 NHWC images, in plain typed-array code
 * (no tensors): zero-pad + random crop, horizontal flip, normalise, cutout,
 * in that order (the order of the authors' pipeline and of torchvision's
 * `RandomCrop(padding) -> RandomHorizontalFlip -> ToTensor -> Normalize ->
 * Cutout`). Test data: normalise only.
 *
 * Random draws, per image, in this order (so a run is reproducible from the
 * {@link Rng} alone):
 * 1. `dy = rng.int(H + 2 pad - crop + 1)`, `dx = rng.int(W + 2 pad - crop + 1)`
 *    (crop origin in the padded image);
 * 2. if `flip`: `flipped = rng.uniform() < 0.5`;
 * 3. if `cutout > 0`: centre `cy = rng.int(crop)`, `cx = rng.int(crop)`; the
 *    square `[cy - floor(L/2), cy - floor(L/2) + L)` (same in x), clipped at
 *    the borders, is set to 0 in every channel after normalisation.
 *
 * Padding pixels are raw 0 before normalisation, i.e. `-mean/std` after.
 *
 * @module
 */
import type { Rng } from "../rng.ts";
import type { ImageSet } from "./image_set.ts";

/** Augmentation settings. */
export interface AugmentConfig {
  /** Per-channel mean of [0, 1]-scaled pixels. */
  mean: number[];
  /** Per-channel std of [0, 1]-scaled pixels. */
  std: number[];
  /** Zero padding before the crop (0 = no crop). */
  pad?: number;
  /** Crop side (default: the image height; the image must be square then). */
  crop?: number;
  /** Random horizontal flip with p = 0.5. */
  flip?: boolean;
  /** Cutout side L (0 = none). */
  cutout?: number;
}

/** The random choices made for one image (see the module doc). */
export interface AugmentDraw {
  dy: number;
  dx: number;
  flipped: boolean;
  /** Cutout centre, or -1 when there is no cutout. */
  cy: number;
  cx: number;
}

/** The normalisation look-up table: `lut[c * 256 + v] = (v / 255 - mean[c]) / std[c]`. */
function makeLut(cfg: AugmentConfig, channels: number): Float32Array {
  if (cfg.mean.length !== channels || cfg.std.length !== channels) {
    throw new RangeError(
      `augment: mean/std have ${cfg.mean.length}/${cfg.std.length} entries for ${channels} channels`,
    );
  }
  const lut = new Float32Array(256 * channels);
  for (let c = 0; c < channels; c++) {
    if (!(cfg.std[c] > 0)) {
      throw new RangeError(`augment: std[${c}] must be > 0, got ${cfg.std[c]}`);
    }
    for (let v = 0; v < 256; v++) {
      lut[c * 256 + v] = (v / 255 - cfg.mean[c]) / cfg.std[c];
    }
  }
  return lut;
}

/**
 * Draws one image's augmentation choices, in the documented order.
 *
 * @example
 * ```ts
 * import { Rng } from "../rng.ts";
 * import { drawAugment } from "./augment.ts";
 * const d = drawAugment(new Rng(1), { mean: [0], std: [1], pad: 4, flip: true, cutout: 16 }, 32, 32);
 * if (d.dy < 0 || d.dy > 8 || d.cy < 0 || d.cy >= 32) throw new Error();
 * ```
 */
export function drawAugment(
  rng: Rng,
  cfg: AugmentConfig,
  height: number,
  width: number,
): AugmentDraw {
  const pad = cfg.pad ?? 0;
  const crop = cfg.crop ?? height;
  const dy = pad > 0 || crop !== height
    ? rng.int(height + 2 * pad - crop + 1)
    : pad;
  const dx = pad > 0 || crop !== width
    ? rng.int(width + 2 * pad - crop + 1)
    : pad;
  const flipped = cfg.flip ? rng.uniform() < 0.5 : false;
  let cy = -1, cx = -1;
  if ((cfg.cutout ?? 0) > 0) {
    cy = rng.int(crop);
    cx = rng.int(crop);
  }
  return { dy, dx, flipped, cy, cx };
}

/**
 * Writes one augmented, normalised image (crop x crop x C float32) into
 * `out` at `outOffset`, given its draws.
 *
 * @example
 * ```ts
 * import { augmentImage } from "./augment.ts";
 * const src = new Uint8Array([0, 255, 255, 0]); // 2x2x1
 * const out = new Float32Array(4);
 * augmentImage(src, 0, 2, 2, 1, { mean: [0], std: [1] }, { dy: 0, dx: 0, flipped: true, cy: -1, cx: -1 }, out, 0);
 * if (out.join() !== "1,0,0,1") throw new Error(out.join());
 * ```
 */
export function augmentImage(
  images: Uint8Array,
  index: number,
  height: number,
  width: number,
  channels: number,
  cfg: AugmentConfig,
  draw: AugmentDraw,
  out: Float32Array,
  outOffset: number,
  lut: Float32Array = makeLut(cfg, channels),
): void {
  const pad = cfg.pad ?? 0;
  const crop = cfg.crop ?? height;
  const base = index * height * width * channels;
  const rowLen = crop * channels;
  const { dy, dx, flipped } = draw;
  for (let y = 0; y < crop; y++) {
    const sy = y + dy - pad;
    const o = outOffset + y * rowLen;
    if (sy < 0 || sy >= height) {
      for (let x = 0; x < crop; x++) {
        for (let c = 0; c < channels; c++) {
          out[o + x * channels + c] = lut[c * 256];
        }
      }
      continue;
    }
    const srow = base + sy * width * channels;
    for (let x = 0; x < crop; x++) {
      const sx = (flipped ? crop - 1 - x : x) + dx - pad;
      const oo = o + x * channels;
      if (sx < 0 || sx >= width) {
        for (let c = 0; c < channels; c++) out[oo + c] = lut[c * 256];
      } else {
        const s = srow + sx * channels;
        for (let c = 0; c < channels; c++) {
          out[oo + c] = lut[c * 256 + images[s + c]];
        }
      }
    }
  }
  const L = cfg.cutout ?? 0;
  if (L > 0 && draw.cy >= 0) {
    const y0 = Math.max(0, draw.cy - (L >> 1)),
      y1 = Math.min(crop, draw.cy - (L >> 1) + L);
    const x0 = Math.max(0, draw.cx - (L >> 1)),
      x1 = Math.min(crop, draw.cx - (L >> 1) + L);
    for (let y = y0; y < y1; y++) {
      out.fill(
        0,
        outOffset + y * rowLen + x0 * channels,
        outOffset + y * rowLen + x1 * channels,
      );
    }
  }
}

/**
 * Builds a float32 NHWC batch from `indices`: augmented with `rng`, or
 * normalised only when `rng` is null. Returns the pixels, the labels and the
 * draws made.
 *
 * @example
 * ```ts
 * import { Rng } from "../rng.ts";
 * import { augmentBatch } from "./augment.ts";
 * import { syntheticImages } from "./synthetic_images.ts";
 * const set = syntheticImages({ n: 8, seed: 0 });
 * const cfg = { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], pad: 4, flip: true, cutout: 16 };
 * const b = augmentBatch(set, [3, 1], cfg, new Rng(0));
 * if (b.x.length !== 2 * 32 * 32 * 3 || b.y[0] !== set.labels[3]) throw new Error();
 * ```
 */
export function augmentBatch(
  set: ImageSet,
  indices: ArrayLike<number>,
  cfg: AugmentConfig,
  rng: Rng | null,
  out?: Float32Array,
): {
  x: Float32Array;
  y: Int32Array;
  draws: AugmentDraw[];
  shape: [number, number, number, number];
} {
  const { height, width, channels } = set;
  const crop = cfg.crop ?? height;
  const outH = rng ? crop : height, outW = rng ? crop : width;
  if (
    rng &&
    (crop > height + 2 * (cfg.pad ?? 0) ||
      (cfg.crop === undefined && height !== width))
  ) {
    throw new RangeError(
      `augment: crop ${crop} does not fit a ${height}x${width} image padded by ${
        cfg.pad ?? 0
      }`,
    );
  }
  const per = outH * outW * channels;
  const x = out ?? new Float32Array(indices.length * per);
  if (x.length < indices.length * per) {
    throw new RangeError(
      `augmentBatch: out has ${x.length} floats, need ${indices.length * per}`,
    );
  }
  const y = new Int32Array(indices.length);
  const draws: AugmentDraw[] = [];
  const lut = makeLut(cfg, channels);
  const none: AugmentDraw = { dy: 0, dx: 0, flipped: false, cy: -1, cx: -1 };
  for (let i = 0; i < indices.length; i++) {
    const idx = indices[i];
    if (!(idx >= 0 && idx < set.n)) {
      throw new RangeError(`augmentBatch: index ${idx} outside [0, ${set.n})`);
    }
    const d = rng ? drawAugment(rng, cfg, height, width) : none;
    draws.push(d);
    if (rng) {
      augmentImage(
        set.images,
        idx,
        height,
        width,
        channels,
        cfg,
        d,
        x,
        i * per,
        lut,
      );
    } else {
      const s = idx * per;
      for (let p = 0; p < per; p += channels) {
        for (let c = 0; c < channels; c++) {
          x[i * per + p + c] = lut[c * 256 + set.images[s + p + c]];
        }
      }
    }
    y[i] = set.labels[idx];
  }
  return { x, y, draws, shape: [indices.length, outH, outW, channels] };
}
