/**
 * Test helper: runs the wasm kernels that use the kernel pool (filter
 * gradient, fused BatchNorm) at a given thread count on fixed random inputs
 * whose channel counts give uneven items (70 = 32 + 32 + 6, 40 = 32 + 8),
 * and prints one JSON line: the threads the pool uses and, per output, its
 * length and an FNV-1a hash of its float32 bytes (bitwise comparison), plus
 * the error a failing job raised. `tests/threads_kernels_test.ts` compares
 * thread counts.
 *
 * Usage: deno run -A --import-map=tools/offline_import_map.json
 *   tests/helpers/pool_kernels.ts <threads>
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { parseThreads, useBackend } from "../../lib/backend.ts";
import { Rng } from "../../lib/rng.ts";
import { kernelPoolThreads } from "../../lib/kernels/parallel.ts";
import {
  BN_MOMENTS,
  BN_NORMALISE,
  BN_NORMALISE_GRAD,
} from "../../lib/kernels/batch_norm_train.ts";

/** FNV-1a over the float32 bytes of `a`. */
function hash(a: Float32Array): string {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return `${a.length}:${h.toString(16)}`;
}

const threads = parseThreads(Deno.args[0] ?? "1");
await useBackend("wasm", { threads });
const rng = new Rng(11);
const t = (shape: number[]) =>
  tf.tensor(
    rng.normalArray(shape.reduce((a, b) => a * b, 1)),
    shape,
    "float32",
  );
const run = (name: string, inputs: tf.NamedTensorMap, attrs = {}) =>
  tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[];
const out: Record<string, string> = {};

// Batches of 11 and 9 images: 8 chunks of 1-2 images, whose partial
// gradients are summed; 70 and 40 output channels: groups of 32 + tails
// of 6 and 8 (lanes of 4 and single channels).
for (
  const [name, xs, fs, strides, pad] of [
    ["fgrad_same_70", [11, 9, 9, 7], [3, 3, 7, 70], 1, "same"],
    ["fgrad_stride2_valid_40", [9, 11, 11, 40], [3, 3, 40, 40], 2, "valid"],
  ] as const
) {
  const x = t([...xs]);
  const dy = tf.tidy(() =>
    t(tf.conv2d(x as tf.Tensor4D, tf.zeros([...fs]), strides, pad).shape)
  );
  const dw = run(tf.Conv2DBackpropFilter, { x, dy }, {
    strides,
    pad,
    dataFormat: "NHWC",
    filterShape: fs,
  }) as tf.Tensor;
  out[name] = hash(dw.dataSync() as Float32Array);
}

const [n, c] = [1000, 70];
const x = t([n, c]);
const [mean, variance] = run(BN_MOMENTS, { x }) as tf.Tensor[];
const gamma = t([c]), beta = t([c]);
const y = run(BN_NORMALISE, { x, mean, variance, gamma, beta }, {
  epsilon: 1e-5,
  relu: true,
}) as tf.Tensor;
const dy = t([n, c]);
const [dx, dgamma, dbeta] = run(BN_NORMALISE_GRAD, {
  dy,
  x,
  mean,
  variance,
  gamma,
  beta,
  y,
}, { epsilon: 1e-5, relu: true }) as tf.Tensor[];
for (const [k, v] of Object.entries({ mean, variance, y, dx, dgamma, dbeta })) {
  out[`bn_${k}`] = hash(v.dataSync() as Float32Array);
}

// A failing job (relu without the forward output) raises one error, and
// the pool still works afterwards.
let error = "";
try {
  run(BN_NORMALISE_GRAD, { dy, x, mean, variance, gamma, beta }, {
    epsilon: 1e-5,
    relu: true,
  });
} catch (e) {
  error = (e as Error).message;
}
const again = run(BN_MOMENTS, { x }) as tf.Tensor[];
out.bn_mean_again = hash(again[0].dataSync() as Float32Array);

console.log(JSON.stringify({ threads: kernelPoolThreads(), error, out }));
