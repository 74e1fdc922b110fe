import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertThrows,
} from "@std/assert";
import { Rng } from "../rng.ts";
import {
  augmentBatch,
  type AugmentConfig,
  augmentImage,
  drawAugment,
} from "./augment.ts";
import type { ImageSet } from "./image_set.ts";
import { syntheticImages } from "./synthetic_images.ts";

const CIFAR: AugmentConfig = {
  mean: [0.4914, 0.4822, 0.4465],
  std: [0.2023, 0.1994, 0.2010],
  pad: 4,
  flip: true,
  cutout: 16,
};

/** Straightforward reference: materialise the padded image, crop, flip, normalise, cut out. */
function reference(
  set: ImageSet,
  idx: number,
  cfg: AugmentConfig,
  rng: Rng,
): Float64Array {
  const { height: H, width: W, channels: C } = set;
  const p = cfg.pad ?? 0, L = cfg.cutout ?? 0;
  const PH = H + 2 * p, PW = W + 2 * p;
  const padded = new Uint8Array(PH * PW * C);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < C; c++) {
        padded[((y + p) * PW + x + p) * C + c] =
          set.images[((idx * H + y) * W + x) * C + c];
      }
    }
  }
  // documented draw order
  const dy = rng.int(2 * p + 1), dx = rng.int(2 * p + 1);
  const flip = cfg.flip ? rng.uniform() < 0.5 : false;
  const cy = L > 0 ? rng.int(H) : -1, cx = L > 0 ? rng.int(W) : -1;
  const out = new Float64Array(H * W * C);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const xs = flip ? W - 1 - x : x;
      for (let c = 0; c < C; c++) {
        const v = padded[((y + dy) * PW + xs + dx) * C + c];
        let f = (v / 255 - cfg.mean[c]) / cfg.std[c];
        if (
          L > 0 && y >= cy - L / 2 && y < cy + L / 2 && x >= cx - L / 2 &&
          x < cx + L / 2
        ) f = 0;
        out[(y * W + x) * C + c] = f;
      }
    }
  }
  return out;
}

Deno.test("augment: matches a padded-array reference built from the documented draw order", () => {
  const set = syntheticImages({ n: 12, seed: 5 });
  for (
    const cfg of [CIFAR, { ...CIFAR, cutout: 0 }, {
      ...CIFAR,
      flip: false,
      cutout: 7,
    }]
  ) {
    const idx = [3, 0, 11, 3, 7, 5, 9, 1];
    const b = augmentBatch(set, idx, cfg, new Rng(77));
    const r = new Rng(77);
    let maxErr = 0;
    idx.forEach((id, i) => {
      const want = reference(set, id, cfg, r);
      for (let j = 0; j < want.length; j++) {
        maxErr = Math.max(maxErr, Math.abs(want[j] - b.x[i * want.length + j]));
      }
      assertEquals(b.y[i], set.labels[id]);
    });
    assert(maxErr < 1e-5, `max error ${maxErr}`);
  }
});

Deno.test("augment: crop offsets and flips follow the seed and cover their ranges", () => {
  const a = new Rng(9), b = new Rng(9), c = new Rng(10);
  const da = Array.from({ length: 400 }, () => drawAugment(a, CIFAR, 32, 32));
  const db = Array.from({ length: 400 }, () => drawAugment(b, CIFAR, 32, 32));
  const dc = Array.from({ length: 400 }, () => drawAugment(c, CIFAR, 32, 32));
  assertEquals(da, db);
  assert(JSON.stringify(da) !== JSON.stringify(dc));
  const seen = new Set(da.map((d) => d.dy));
  assertEquals([...seen].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  const flips = da.filter((d) => d.flipped).length;
  assert(flips > 160 && flips < 240, `flips ${flips}/400`); // p = 0.5, ~5 sigma
  // Fashion-MNIST: 28x28 crop of a 36x36 padded image
  const df = drawAugment(new Rng(1), { mean: [0], std: [1], pad: 4 }, 28, 28);
  assert(df.dy >= 0 && df.dy <= 8 && df.cy === -1);
});

Deno.test("augment: hand-derived 2x2 example (pad 1: zero border, flip)", () => {
  const img = new Uint8Array([10, 20, 30, 40]); // [[10,20],[30,40]], 1 channel
  const cfg = { mean: [0], std: [1 / 255], pad: 1 }; // normalised value = raw value
  const out = new Float32Array(4);
  // crop origin (0, 0) of the 4x4 padded image: [[0,0],[0,10]]
  augmentImage(
    img,
    0,
    2,
    2,
    1,
    cfg,
    { dy: 0, dx: 0, flipped: false, cy: -1, cx: -1 },
    out,
    0,
  );
  assertEquals(Array.from(out), [0, 0, 0, 10]);
  // origin (1, 2): rows 1..2, cols 2..3 of padded = [[20,0],[40,0]]; flipped -> [[0,20],[0,40]]
  augmentImage(
    img,
    0,
    2,
    2,
    1,
    cfg,
    { dy: 1, dx: 2, flipped: true, cy: -1, cx: -1 },
    out,
    0,
  );
  assertEquals(Array.from(out), [0, 20, 0, 40]);
});

Deno.test("augment: cutout square is clipped at the borders and zeroes the normalised pixels", () => {
  const set = syntheticImages({ n: 1, seed: 2 });
  const out = new Float32Array(32 * 32 * 3);
  const count = (cy: number, cx: number) => {
    augmentImage(
      set.images,
      0,
      32,
      32,
      3,
      CIFAR,
      { dy: 4, dx: 4, flipped: false, cy, cx },
      out,
      0,
    );
    const zeroRows = new Set<number>(), zeroCols = new Set<number>();
    let zeros = 0;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const z = [0, 1, 2].every((c) => out[(y * 32 + x) * 3 + c] === 0);
        if (z) {
          zeros++;
          zeroRows.add(y);
          zeroCols.add(x);
        }
      }
    }
    return {
      zeros,
      rows: [Math.min(...zeroRows), Math.max(...zeroRows)],
      cols: [Math.min(...zeroCols), Math.max(...zeroCols)],
    };
  };
  // corner: [0-8, 0+8) clipped to rows/cols 0..7
  assertEquals(count(0, 0), { zeros: 64, rows: [0, 7], cols: [0, 7] });
  // far corner: [31-8, 31+8) clipped to 23..31 (9 wide)
  assertEquals(count(31, 31), { zeros: 81, rows: [23, 31], cols: [23, 31] });
  // interior: full 16x16
  assertEquals(count(16, 10), { zeros: 256, rows: [8, 23], cols: [2, 17] });
});

Deno.test("normalise: with the set's own channel mean/std, pixels have mean 0 and std 1; test mode does not move pixels", () => {
  const set = syntheticImages({ n: 64, seed: 3 });
  const mean = [0, 0, 0], sq = [0, 0, 0];
  const N = set.images.length / 3;
  for (let i = 0; i < set.images.length; i++) {
    const v = set.images[i] / 255;
    mean[i % 3] += v / N;
    sq[i % 3] += (v * v) / N;
  }
  const std = mean.map((m, c) => Math.sqrt(sq[c] - m * m));
  const idx = Array.from({ length: 64 }, (_, i) => i);
  const b = augmentBatch(set, idx, { mean, std, pad: 4, flip: true }, null);
  const m2 = [0, 0, 0], s2 = [0, 0, 0];
  for (let i = 0; i < b.x.length; i++) {
    m2[i % 3] += b.x[i] / N;
    s2[i % 3] += (b.x[i] * b.x[i]) / N;
  }
  for (let c = 0; c < 3; c++) {
    assertAlmostEquals(m2[c], 0, 1e-4);
    assertAlmostEquals(Math.sqrt(s2[c] - m2[c] ** 2), 1, 1e-4);
  }
  // test mode is a pure per-pixel map
  assertAlmostEquals(b.x[5], (set.images[5] / 255 - mean[2]) / std[2], 1e-5);
  assertEquals(
    b.draws.every((d) => d.dy === 0 && !d.flipped && d.cy === -1),
    true,
  );
});

Deno.test("augment: bad inputs are rejected with the value named", () => {
  const set = syntheticImages({ n: 2, seed: 0 });
  assertThrows(
    () => augmentBatch(set, [2], CIFAR, new Rng(0)),
    RangeError,
    "index 2",
  );
  assertThrows(
    () => augmentBatch(set, [0], { ...CIFAR, mean: [0.5] }, null),
    RangeError,
    "1/3",
  );
});
