import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertNotEquals,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { useBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import {
  batchNorm,
  conv2d,
  dense,
  globalAvgPool,
  GRADIENTS_REGISTERED,
  heConvKernel,
  normalTensor,
  relu,
} from "./layers.ts";

await useBackend("cpu");

function close(actual: ArrayLike<number>, expected: number[], tol = 1e-5) {
  assertEquals(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assertAlmostEquals(actual[i], expected[i], tol, `index ${i}`);
  }
}

/** Brute-force NHWC convolution with explicit top/left zero padding. */
function bruteConv(
  x: Float32Array,
  [n, h, w, cin]: number[],
  k: Float32Array,
  [kh, kw, , cout]: number[],
  stride: number,
  padTop: number,
  padLeft: number,
  [oh, ow]: number[],
): number[] {
  const out: number[] = [];
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        for (let o = 0; o < cout; o++) {
          let s = 0;
          for (let di = 0; di < kh; di++) {
            for (let dj = 0; dj < kw; dj++) {
              const ii = i * stride + di - padTop,
                jj = j * stride + dj - padLeft;
              if (ii < 0 || jj < 0 || ii >= h || jj >= w) continue;
              for (let c = 0; c < cin; c++) {
                s += x[((b * h + ii) * w + jj) * cin + c] *
                  k[((di * kw + dj) * cin + c) * cout + o];
              }
            }
          }
          out.push(s);
        }
      }
    }
  }
  return out;
}

Deno.test("layers: gradients are registered", () => {
  assert(GRADIENTS_REGISTERED);
});

Deno.test("conv2d: matches brute force; default pads like PyTorch (1 each side for 3x3)", () => {
  const rng = new Rng(1);
  const xs = [2, 6, 6, 3], ks = [3, 3, 3, 2];
  const xd = rng.normalArray(2 * 36 * 3), kd = rng.normalArray(54);
  const x = tf.tensor4d(xd, xs as [number, number, number, number]);
  const k = tf.tensor4d(kd, ks as [number, number, number, number]);
  // stride 1, pad 1 -> 6x6; stride 2, pad 1 -> 3x3 starting at row/col -1.
  const y1 = conv2d(x, k);
  assertEquals(y1.shape, [2, 6, 6, 2]);
  close(y1.dataSync(), bruteConv(xd, xs, kd, ks, 1, 1, 1, [6, 6]), 1e-4);
  const y2 = conv2d(x, k, { stride: 2 });
  assertEquals(y2.shape, [2, 3, 3, 2]);
  close(y2.dataSync(), bruteConv(xd, xs, kd, ks, 2, 1, 1, [3, 3]), 1e-4);
  // TensorFlow's "same" at stride 2 on an even size pads 0 before: a different sampling.
  const y3 = conv2d(x, k, { stride: 2, pad: "same" });
  close(y3.dataSync(), bruteConv(xd, xs, kd, ks, 2, 0, 0, [3, 3]), 1e-4);
  assertNotEquals(Array.from(y2.dataSync()), Array.from(y3.dataSync()));
  // 1x1, stride 2, pad 0 (the WRN shortcut).
  const k1d = rng.normalArray(6);
  const y4 = conv2d(x, tf.tensor4d(k1d, [1, 1, 3, 2]), { stride: 2, pad: 0 });
  close(
    y4.dataSync(),
    bruteConv(xd, xs, k1d, [1, 1, 3, 2], 2, 0, 0, [3, 3]),
    1e-4,
  );
  assertThrows(
    () => conv2d(x, tf.zeros([3, 3, 4, 2]) as tf.Tensor4D),
    Error,
    "3 channels",
  );
});

// x: 3 examples, 2 channels; gamma [2, 0.5], beta [1, -1]; running mean [1, 2], var [4, 9].
const X = [[1, 10], [3, 14], [5, 12]];
const P = () => ({ gamma: tf.tensor1d([2, 0.5]), beta: tf.tensor1d([1, -1]) });
const S = () => ({ mean: tf.tensor1d([1, 2]), variance: tf.tensor1d([4, 9]) });

Deno.test("batchNorm: inference mode uses running statistics (hand-computed)", () => {
  const s = S();
  const r = batchNorm(tf.tensor2d(X), P(), s, { train: false, epsilon: 0 });
  // ch0: 2 * (x - 1) / 2 + 1; ch1: 0.5 * (x - 2) / 3 - 1
  close(r.y.dataSync(), [1, 1 / 3, 3, 1, 5, 2 / 3]);
  assertStrictEquals(r.mean, s.mean);
  assertStrictEquals(r.variance, s.variance);
});

Deno.test("batchNorm: train modes use batch statistics; update moves running stats (unbiased variance, momentum 0.1)", () => {
  // Batch means 3 and 12, biased variances 8/3 and 8/3, unbiased 4 and 4.
  const sd = Math.sqrt(8 / 3);
  const want = [
    2 * (1 - 3) / sd + 1,
    0.5 * (10 - 12) / sd - 1,
    1,
    0.5 * (14 - 12) / sd - 1,
    2 * (5 - 3) / sd + 1,
    -1,
  ];
  const s = S();
  const frozen = batchNorm(tf.tensor2d(X), P(), s, {
    train: true,
    updateStats: false,
    epsilon: 0,
  });
  close(frozen.y.dataSync(), want);
  assertStrictEquals(frozen.mean, s.mean);
  assertStrictEquals(frozen.variance, s.variance);

  const upd = batchNorm(tf.tensor2d(X), P(), s, {
    train: true,
    updateStats: true,
    epsilon: 0,
  });
  close(upd.y.dataSync(), want);
  close(upd.mean.dataSync(), [0.9 * 1 + 0.1 * 3, 0.9 * 2 + 0.1 * 12]);
  close(upd.variance.dataSync(), [0.9 * 4 + 0.1 * 4, 0.9 * 9 + 0.1 * 4]);
  // The input state is untouched.
  close(s.mean.dataSync(), [1, 2]);

  // NHWC: the same 6 numbers as [3, 1, 1, 2] give the same per-channel result;
  // momentum and epsilon are honoured.
  const r4 = batchNorm(tf.tensor4d(X.flat(), [3, 1, 1, 2]), P(), S(), {
    train: true,
    updateStats: true,
    momentum: 0.5,
  });
  assertEquals(r4.y.shape, [3, 1, 1, 2]);
  const sdEps = Math.sqrt(8 / 3 + 1e-5);
  close(
    r4.y.dataSync(),
    want.map((v, i) =>
      i === 2 || i === 5
        ? v
        : i % 2 === 0
        ? 1 + (v - 1) * sd / sdEps
        : -1 + (v + 1) * sd / sdEps
    ),
  );
  close(r4.mean.dataSync(), [2, 7]);
  close(r4.variance.dataSync(), [4, 6.5]);
  // Spatial positions count as samples: [1, 3, 1, 2] holds the same 3 values per channel.
  const r5 = batchNorm(tf.tensor4d(X.flat(), [1, 3, 1, 2]), P(), S(), {
    train: true,
    updateStats: true,
    epsilon: 0,
  });
  close(r5.y.dataSync(), want);
  close(r5.variance.dataSync(), [4, 8.5]);
  // Biased variance (tfjs-layers' convention): 8/3 instead of 4.
  const r6 = batchNorm(tf.tensor2d(X), P(), S(), {
    train: true,
    updateStats: true,
    epsilon: 0,
    unbiasedVariance: false,
  });
  close(r6.variance.dataSync(), [0.9 * 4 + 0.1 * 8 / 3, 0.9 * 9 + 0.1 * 8 / 3]);
});

Deno.test("batchNorm: errors for bad shapes and single-value batches", () => {
  assertThrows(
    () => batchNorm(tf.zeros([2, 3]), P(), S(), { train: false }),
    Error,
    "gamma must have shape [3]",
  );
  assertThrows(
    () => batchNorm(tf.zeros([1, 2]), P(), S(), { train: true }),
    Error,
    "got input [1,2]",
  );
  assertThrows(
    () => batchNorm(tf.zeros([2, 2]), P(), S(), { train: true, momentum: 2 }),
    RangeError,
    "got 2",
  );
});

Deno.test("batchNorm: train-mode gradients equal finite differences", () => {
  const rng = new Rng(2);
  const x = tf.tensor4d(rng.normalArray(4 * 3 * 3 * 2), [4, 3, 3, 2]);
  const w = tf.tensor4d(rng.normalArray(72), [4, 3, 3, 2]);
  const s = S();
  const f = (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(
      batchNorm(xx, { gamma: g, beta: b }, s, { train: true }).y,
      w,
    ));
  const args = [x, tf.tensor1d([1.5, 0.7]), tf.tensor1d([0.1, -0.2])];
  const grads = tf.grads(f)(args);
  const eps = 1e-2;
  for (let i = 0; i < 3; i++) {
    const norm = tf.norm(grads[i]).dataSync()[0];
    const v = tf.div(grads[i], norm);
    const at = (sign: number) => {
      const a = args.slice();
      a[i] = tf.add(args[i], tf.mul(v, sign * eps));
      return f(a[0], a[1], a[2]).dataSync()[0];
    };
    const fd = (at(1) - at(-1)) / (2 * eps);
    assertAlmostEquals(fd, norm, 1e-3 + 1e-2 * norm, `argument ${i}`);
  }
  // Random directions too, against float64 central differences of a plain
  // float64 BatchNorm (batch mean, biased variance, epsilon 1e-5).
  const host = args.map((a) => Float64Array.from(a.dataSync()));
  const wh = w.dataSync();
  const f64 = (a: Float64Array[]) => {
    const [xx, g, b] = a;
    let out = 0;
    for (let c = 0; c < 2; c++) {
      let m = 0, v = 0;
      for (let p = c; p < xx.length; p += 2) m += xx[p];
      m /= xx.length / 2;
      for (let p = c; p < xx.length; p += 2) v += (xx[p] - m) ** 2;
      v /= xx.length / 2;
      for (let p = c; p < xx.length; p += 2) {
        out += (g[c] * (xx[p] - m) / Math.sqrt(v + 1e-5) + b[c]) * wh[p];
      }
    }
    return out;
  };
  const gh = grads.map((g) => g.dataSync());
  for (let trial = 0; trial < 3; trial++) {
    const dirs = host.map((h) => Float64Array.from(rng.normalArray(h.length)));
    let gd = 0;
    dirs.forEach((d, i) => d.forEach((v, j) => (gd += v * gh[i][j])));
    const h = 1e-6;
    const moved = (t: number) =>
      host.map((a, i) => a.map((v, j) => v + t * dirs[i][j]));
    const fd = (f64(moved(h)) - f64(moved(-h))) / (2 * h);
    assertAlmostEquals(
      gd,
      fd,
      1e-4 * (1 + Math.abs(fd)),
      `random direction ${trial}`,
    );
  }
});

Deno.test("dense, relu, globalAvgPool: hand-computed values", () => {
  const y = dense(
    tf.tensor2d([[1, 2], [3, 4]]),
    tf.tensor2d([[1, 0, -1], [2, 1, 0]]),
    tf.tensor1d([0.5, 0, 1]),
  );
  close(y.dataSync(), [5.5, 2, 0, 11.5, 4, -2]);
  close(
    dense(tf.tensor2d([[1, 2]]), tf.tensor2d([[1], [1]])).dataSync(),
    [3],
  );
  assertThrows(
    () =>
      dense(tf.zeros([1, 3]) as tf.Tensor2D, tf.zeros([2, 2]) as tf.Tensor2D),
    Error,
    "[1,3] and [2,2]",
  );
  close(relu(tf.tensor1d([-2, 0, 3])).dataSync(), [0, 0, 3]);
  // [1, 2, 2, 2]: channel 0 = 1, 2, 3, 4; channel 1 = 10, 20, 30, 40.
  const g = globalAvgPool(
    tf.tensor4d([1, 10, 2, 20, 3, 30, 4, 40], [1, 2, 2, 2]),
  );
  assertEquals(g.shape, [1, 2]);
  close(g.dataSync(), [2.5, 25]);
});

Deno.test("heConvKernel / normalTensor: He fan_out statistics, determinism", () => {
  const k = heConvKernel(new Rng(3), [3, 3, 64, 128]);
  const d = k.dataSync();
  let s = 0, s2 = 0;
  for (const v of d) {
    s += v;
    s2 += v * v;
  }
  const want = Math.sqrt(2 / (9 * 128));
  assertAlmostEquals(s / d.length, 0, want * 0.02);
  assertAlmostEquals(Math.sqrt(s2 / d.length) / want, 1, 0.01);
  assertEquals(
    normalTensor(new Rng(4), [5], 2).dataSync(),
    normalTensor(new Rng(4), [5], 2).dataSync(),
  );
  assertThrows(() => normalTensor(new Rng(4), [2, 0], 1), RangeError, "[2,0]");
  assertThrows(() => normalTensor(new Rng(4), [2], -1), RangeError, "got -1");
  assertThrows(
    () =>
      heConvKernel(
        new Rng(4),
        [3, 3, 2] as unknown as [number, number, number, number],
      ),
    RangeError,
    "[3,3,2]",
  );
});
