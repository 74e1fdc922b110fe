// Every kernel the project registers, and its pure *Impl, against the stock
// `cpu` backend's numbers on random shapes, strides and paddings (NHWC, the
// only layout the models and the wasm backend use). Tolerance: 1e-4 relative
// to the largest reference entry (the sums are reordered, so near-zero entries
// cannot be compared entry by entry).
import { assert, assertEquals, assertThrows } from "@std/assert";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
// tfjs-core's Node bundle registers no gradient functions; tfjs-layers does.
import "npm:@tensorflow/tfjs-layers@4.22.0";
import { useBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import { convGeometry, type ConvPad, im2col, matmul } from "./im2col.ts";
import { conv2dBackpropFilterImpl } from "./conv2d_backprop_filter.ts";
import {
  backpropInputPlan,
  conv2dBackpropInputColumnsImpl,
  conv2dBackpropInputImpl,
  conv2dBackpropInputOptions,
} from "./conv2d_backprop_input.ts";
import { PROJECT_KERNELS, registerProjectKernels } from "./registry.ts";
import {
  batchNormMomentsImpl,
  batchNormNormaliseGradImpl,
  batchNormNormaliseImpl,
} from "./batch_norm_train.ts";
import { batchNorm } from "../models/layers.ts";

type Case = {
  x: [number, number, number, number];
  f: [number, number, number, number];
  strides: [number, number];
  pad: ConvPad;
};

function closeRel(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
) {
  assertEquals(actual.length, expected.length, `${what}: length`);
  let scale = 0, err = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
  }
  assert(scale > 0, `${what}: reference is all zeros`);
  assert(
    err <= 1e-4 * scale,
    `${what}: max abs error ${err} > 1e-4 * ${scale}`,
  );
}

/** Random cases: kernel 1..3 (plus 1x1 shortcuts), strides 1..2, all pads. */
function randomCases(rng: Rng, count: number): Case[] {
  const pads: ConvPad[] = ["same", "valid", 1, [[0, 0], [0, 2], [1, 0], [
    0,
    0,
  ]]];
  const cases: Case[] = [];
  for (let i = 0; i < count; i++) {
    const pad = pads[i % pads.length];
    const kh = 1 + rng.int(3);
    // A numeric pad with a non-square filter or unequal strides hits a stock
    // tfjs bug (the output width is computed from the filter height and
    // stride height; wasm's forward conv then writes past its output).
    const kw = typeof pad === "number" ? kh : 1 + rng.int(3);
    const h = kh + 2 + rng.int(6), w = kw + 2 + rng.int(6);
    cases.push({
      x: [1 + rng.int(3), h, w, 1 + rng.int(5)],
      f: [kh, kw, 0, 1 + rng.int(5)],
      strides: typeof pad === "number"
        ? [1 + (i % 2), 1 + (i % 2)]
        : [1 + rng.int(2), 1 + rng.int(2)],
      pad,
    });
    cases[i].f[2] = cases[i].x[3];
  }
  // The convolutions of lib/models/wide_resnet.ts (PyTorch-style numeric pad):
  // 3x3 pad 1 stride 1 and 2, 1x1 pad 0 stride 2 shortcut; and "same" ones.
  cases.push({ x: [2, 8, 8, 4], f: [3, 3, 4, 6], strides: [1, 1], pad: 1 });
  cases.push({ x: [2, 8, 8, 4], f: [3, 3, 4, 6], strides: [2, 2], pad: 1 });
  cases.push({ x: [2, 8, 8, 4], f: [1, 1, 4, 6], strides: [2, 2], pad: 0 });
  cases.push({
    x: [2, 8, 8, 4],
    f: [3, 3, 4, 6],
    strides: [1, 1],
    pad: "same",
  });
  cases.push({
    x: [2, 8, 8, 4],
    f: [3, 3, 4, 6],
    strides: [2, 2],
    pad: "same",
  });
  cases.push({
    x: [2, 8, 8, 4],
    f: [1, 1, 4, 6],
    strides: [2, 2],
    pad: "valid",
  });
  return cases;
}

/** Stock reference: gradients of sum(conv2d(x, f) * dy) on the current backend. */
function stockGrads(
  c: Case,
  x: Float32Array,
  f: Float32Array,
  dy: Float32Array,
) {
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, c.x), ft = tf.tensor4d(f, c.f);
    const y = tf.conv2d(xt, ft, c.strides, c.pad as "same");
    const dyt = tf.tensor(dy, y.shape);
    const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad as "same")
    )([xt, ft], dyt);
    return { dx: dx.dataSync().slice(), df: df.dataSync().slice() };
  });
}

function outSize(c: Case): number {
  const g = convGeometry(c.x, c.f, { strides: c.strides, pad: c.pad });
  return g.batchSize * g.outHeight * g.outWidth * g.outChannels;
}

Deno.test("im2col and matmul give conv2d forward (cpu reference)", async () => {
  await useBackend("cpu");
  const rng = new Rng(1);
  for (const c of randomCases(rng, 8)) {
    const x = rng.normalArray(c.x.reduce((a, b) => a * b));
    const f = rng.normalArray(c.f.reduce((a, b) => a * b));
    const g = convGeometry(c.x, c.f, { strides: c.strides, pad: c.pad });
    const rows = g.batchSize * g.outHeight * g.outWidth;
    const k2 = g.filterHeight * g.filterWidth * g.inChannels;
    const cols = im2col(x, g, 0, g.batchSize, new Float32Array(rows * k2));
    const y = matmul(cols, f, rows, k2, g.outChannels);
    const ref = tf.tidy(() =>
      tf.conv2d(
        tf.tensor4d(x, c.x),
        tf.tensor4d(f, c.f),
        c.strides,
        c.pad as "same",
      )
        .dataSync().slice()
    );
    closeRel(y, ref, `forward ${JSON.stringify(c)}`);
  }
});

Deno.test("pure Impls match the stock cpu gradients", async () => {
  await useBackend("cpu");
  const rng = new Rng(2);
  for (const c of randomCases(rng, 16)) {
    const x = rng.normalArray(c.x.reduce((a, b) => a * b));
    const f = rng.normalArray(c.f.reduce((a, b) => a * b));
    const dy = rng.normalArray(outSize(c));
    const ref = stockGrads(c, x, f, dy);
    const g = convGeometry(c.x, c.f, { strides: c.strides, pad: c.pad });
    closeRel(
      conv2dBackpropFilterImpl(x, dy, g),
      ref.df,
      `dW ${JSON.stringify(c)}`,
    );
    closeRel(
      conv2dBackpropInputColumnsImpl(dy, f, g),
      ref.dx,
      `dx (columns) ${JSON.stringify(c)}`,
    );
    if (backpropInputPlan(g)) {
      closeRel(
        conv2dBackpropInputImpl(dy, f, g),
        ref.dx,
        `dx ${JSON.stringify(c)}`,
      );
    } else {
      assertThrows(() => conv2dBackpropInputImpl(dy, f, g), Error, "stride-1");
    }
  }
});

Deno.test("registered wasm kernels match the stock cpu gradients", async () => {
  const rng = new Rng(3);
  const cases = randomCases(rng, 20);
  // A large-padding case: no stride-1 plan, the input kernel takes columns.
  cases.push({
    x: [1, 5, 5, 2],
    f: [2, 2, 2, 3],
    strides: [1, 1],
    pad: [[0, 0], [3, 0], [0, 2], [0, 0]],
  });
  const data = cases.map((c) => {
    const x = rng.normalArray(c.x.reduce((a, b) => a * b));
    const f = rng.normalArray(c.f.reduce((a, b) => a * b));
    return { x, f, dy: rng.normalArray(outSize(c)) };
  });
  await useBackend("cpu");
  const refs = cases.map((c, i) =>
    stockGrads(c, data[i].x, data[i].f, data[i].dy)
  );
  const info = await useBackend("wasm");
  assertEquals(
    info.projectKernels.sort(),
    PROJECT_KERNELS.wasm.map((k) => k.kernelName).sort(),
  );
  const saved = conv2dBackpropInputOptions.maxChunkElements;
  try {
    for (const chunk of [saved, 64]) { // 64 forces one image (or less) per chunk
      conv2dBackpropInputOptions.maxChunkElements = chunk;
      const before = tf.memory().numTensors;
      const beforeIds = tf.engine().backend.numDataIds();
      cases.forEach((c, i) => {
        const got = stockGrads(c, data[i].x, data[i].f, data[i].dy);
        closeRel(
          got.df,
          refs[i].df,
          `wasm dW (chunk ${chunk}) ${JSON.stringify(c)}`,
        );
        closeRel(
          got.dx,
          refs[i].dx,
          `wasm dx (chunk ${chunk}) ${JSON.stringify(c)}`,
        );
      });
      assertEquals(tf.memory().numTensors, before, "tensors leaked");
      assertEquals(
        tf.engine().backend.numDataIds(),
        beforeIds,
        "wasm buffers leaked",
      );
    }
  } finally {
    conv2dBackpropInputOptions.maxChunkElements = saved;
    await useBackend("cpu");
  }
  // Registering twice changes nothing.
  assertEquals(
    registerProjectKernels("wasm").length,
    PROJECT_KERNELS.wasm.length,
  );
});

Deno.test("wasm Conv2DBackpropFilter equals conv2dBackpropFilterImpl bitwise", async () => {
  const rng = new Rng(31);
  const cases = randomCases(rng, 12);
  // Batches over FILTER_GRAD_CHUNKS (partial gradients summed), input
  // channels past a 5-channel tile, output channels with 8-, 4- and
  // 1-wide tails, a padded stride-2 and an unpadded 1x1 stride-2 layer.
  cases.push({ x: [11, 6, 7, 7], f: [3, 3, 7, 13], strides: [1, 1], pad: 1 });
  cases.push({ x: [9, 9, 9, 12], f: [3, 3, 12, 40], strides: [2, 2], pad: 1 });
  cases.push({ x: [10, 8, 8, 6], f: [1, 1, 6, 33], strides: [2, 2], pad: 0 });
  await useBackend("wasm");
  for (const c of cases) {
    const g = convGeometry(c.x, c.f, { strides: c.strides, pad: c.pad });
    const x = Float32Array.from(rng.normalArray(c.x.reduce((a, b) => a * b)));
    const dy = Float32Array.from(rng.normalArray(outSize(c)));
    const got = tf.tidy(() =>
      (tf.engine().runKernel(tf.Conv2DBackpropFilter, {
        x: tf.tensor4d(x, c.x),
        dy: tf.tensor4d(dy, [
          g.batchSize,
          g.outHeight,
          g.outWidth,
          g.outChannels,
        ]),
      }, {
        strides: c.strides,
        pad: c.pad,
        dataFormat: "NHWC",
        filterShape: c.f,
      }) as tf.Tensor).dataSync().slice()
    ) as Float32Array;
    const want = conv2dBackpropFilterImpl(x, dy, g);
    assertEquals(got.length, want.length);
    for (let i = 0; i < want.length; i++) {
      if (!Object.is(got[i], want[i])) {
        throw new Error(
          `${JSON.stringify(c)}: dW[${i}] is ${got[i]}, the Impl gives ${
            want[i]
          }`,
        );
      }
    }
  }
  await useBackend("cpu");
});

Deno.test("wasm BatchMatMul (transposed operands) and Sum (leading axes) match stock cpu", async () => {
  const rng = new Rng(4);
  type MM = { a: number[]; b: number[]; ta: boolean; tb: boolean };
  const mms: MM[] = [];
  for (let i = 0; i < 12; i++) {
    const [m, k, n] = [1 + rng.int(9), 1 + rng.int(9), 1 + rng.int(9)];
    const ta = i % 4 === 1 || i % 4 === 3, tb = i % 4 >= 2;
    const batch = i < 8 ? [] : [1 + rng.int(3)];
    mms.push({
      a: [...batch, ...(ta ? [k, m] : [m, k])],
      b: [...(i % 2 === 0 ? batch : []), ...(tb ? [n, k] : [k, n])],
      ta,
      tb,
    });
  }
  // Row vector times matrix (the BatchNorm moments): [1, k] or [k, 1]^T,
  // with and without a batch of 1; the last one goes to the stock kernel.
  for (
    const [k, n, ta, batch] of [
      [2000, 7, false, []],
      [300, 64, true, []],
      [1 + rng.int(50), 1 + rng.int(9), false, [1]],
      [1 + rng.int(50), 1 + rng.int(9), true, [1]],
      [40, 6, false, [2]],
    ] as [number, number, boolean, number[]][]
  ) {
    mms.push({
      a: [...batch, ...(ta ? [k, 1] : [1, k])],
      b: [...batch, k, n],
      ta,
      tb: false,
    });
  }
  type S = { shape: number[]; axis: number | number[]; keep: boolean };
  const sums: S[] = [
    { shape: [37, 5], axis: 0, keep: false },
    { shape: [3, 4, 5, 6], axis: [0, 1, 2], keep: true },
    { shape: [3, 4, 5, 6], axis: [1, 0], keep: false },
    { shape: [3, 4, 5, 6], axis: -1, keep: false }, // stock path
    { shape: [3, 4, 5], axis: [0, 2], keep: true }, // stock path
    { shape: [7, 3], axis: [0, 1], keep: false }, // stock path
  ];
  const mmData = mms.map((c) => ({
    a: rng.normalArray(c.a.reduce((x, y) => x * y)),
    b: rng.normalArray(c.b.reduce((x, y) => x * y)),
  }));
  const sumData = sums.map((c) =>
    rng.normalArray(c.shape.reduce((x, y) => x * y), 1, 3)
  );
  const run = () => ({
    mm: mms.map((c, i) =>
      tf.tidy(() => {
        const r = tf.matMul(
          tf.tensor(mmData[i].a, c.a),
          tf.tensor(mmData[i].b, c.b),
          c.ta,
          c.tb,
        );
        return { shape: r.shape, data: r.dataSync().slice() };
      })
    ),
    sum: sums.map((c, i) =>
      tf.tidy(() => {
        const r = tf.sum(tf.tensor(sumData[i], c.shape), c.axis, c.keep);
        return { shape: r.shape, data: r.dataSync().slice() };
      })
    ),
  });
  await useBackend("cpu");
  const ref = run();
  await useBackend("wasm");
  try {
    const before = tf.engine().backend.numDataIds();
    const got = run();
    assertEquals(
      tf.engine().backend.numDataIds(),
      before,
      "wasm buffers leaked",
    );
    got.mm.forEach((g, i) => {
      assertEquals(g.shape, ref.mm[i].shape, JSON.stringify(mms[i]));
      closeRel(g.data, ref.mm[i].data, `matMul ${JSON.stringify(mms[i])}`);
    });
    got.sum.forEach((g, i) => {
      assertEquals(g.shape, ref.sum[i].shape, JSON.stringify(sums[i]));
      closeRel(g.data, ref.sum[i].data, `sum ${JSON.stringify(sums[i])}`);
    });
  } finally {
    await useBackend("cpu");
  }
});

Deno.test("wasm Identity shares the buffer: clones survive the original, nothing leaks", async () => {
  await useBackend("wasm");
  try {
    const backend = tf.engine().backend;
    const ids0 = backend.numDataIds();
    const data = [1.5, -2, 3.25, 4, 0, 7];
    const x = tf.tensor2d(data, [2, 3]);
    const c = tf.clone(x);
    const ints = tf.tensor1d([3, -4], "int32");
    const i32 = tf.clone(ints);
    // No copy: the clone adds no buffer beyond the original's.
    assertEquals(backend.numDataIds(), ids0 + 2);
    tf.dispose([x, ints]);
    assertEquals(Array.from(c.dataSync()), data);
    assertEquals(c.shape, [2, 3]);
    assertEquals(Array.from(i32.dataSync()), [3, -4]);
    assertEquals(i32.dtype, "int32");
    // A gradient through saved (cloned) inputs still matches the hand value:
    // d/dx sum(x * x) = 2x.
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(t, t)))(c);
    assertEquals(Array.from(g.dataSync()), data.map((v) => 2 * v));
    tf.dispose([c, i32, g]);
    assertEquals(backend.numDataIds(), ids0);
  } finally {
    await useBackend("cpu");
  }
});

/** Train-mode BatchNorm written out plainly (autodiff through the moments). */
function plainBatchNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const c = x.shape[x.rank - 1];
  const x2 = tf.reshape(x, [-1, c]);
  const mean = tf.mean(x2, 0);
  const centred = tf.sub(x2, mean);
  const variance = tf.mean(tf.square(centred), 0);
  const y = tf.add(
    tf.mul(tf.div(centred, tf.sqrt(tf.add(variance, 1e-5))), g),
    b,
  );
  return tf.reshape(y, x.shape);
}

Deno.test("batchNorm's closed-form gradient matches autodiff of the plain formula (cpu, wasm; first and second order)", async () => {
  const rng = new Rng(5);
  const shapes = [[5, 3], [2, 3, 4, 6], [3, 2, 5, 1], [4, 4, 4, 8]];
  const data = shapes.map((s) => {
    const c = s[s.length - 1];
    const size = s.reduce((a, b) => a * b);
    return {
      x: rng.normalArray(size, 2, 1),
      w: rng.normalArray(size),
      g: rng.normalArray(c, 1, 0.5),
      b: rng.normalArray(c),
      v: rng.normalArray(c),
    };
  });
  const run = (bn: (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor) =>
    shapes.map((s, i) =>
      tf.tidy(() => {
        const d = data[i];
        const c = s[s.length - 1];
        const x = tf.tensor(d.x, s), w = tf.tensor(d.w, s);
        const g = tf.tensor1d(d.g), b = tf.tensor1d(d.b), v = tf.tensor1d(d.v);
        const loss = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) =>
          tf.sum(tf.mul(tf.square(bn(xx, gg, bb)), w));
        const first = tf.grads(loss)([x, g, b]);
        // Second order: d/d(x, gamma) of <dL/dgamma, v> (double backprop).
        const second = tf.grads((xx: tf.Tensor, gg: tf.Tensor) =>
          tf.sum(tf.mul(tf.grads(loss)([xx, gg, b])[1], v))
        )([x, g]);
        assertEquals(first[1].shape, [c]);
        return [...first, ...second].map((t) => t.dataSync().slice());
      })
    );
  const ours = (relu: boolean) => (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
    batchNorm(
      x,
      { gamma: g, beta: b },
      {
        mean: tf.zeros([g.shape[0]]),
        variance: tf.ones([g.shape[0]]),
      },
      { train: true, updateStats: false, epsilon: 1e-5, relu },
    ).y;
  const plain = (relu: boolean) => (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
    relu ? tf.relu(plainBatchNorm(x, g, b)) : plainBatchNorm(x, g, b);
  // wasm: the first-order gradients take the fused kernels
  // (batch_norm_train.ts), with and without ReLU.
  for (
    const [backend, relu] of [
      ["cpu", false],
      ["wasm", false],
      ["wasm", true],
    ] as const
  ) {
    await useBackend(backend);
    try {
      const ref = run(plain(relu));
      const before = tf.memory().numTensors;
      const got = run(ours(relu));
      assertEquals(
        tf.memory().numTensors,
        before,
        `${backend}: tensors leaked`,
      );
      got.forEach((gs, i) =>
        gs.forEach((g, j) =>
          closeRel(
            g,
            ref[i][j],
            `${backend}${relu ? " relu" : ""} [${shapes[i]}] ${
              ["dx", "dgamma", "dbeta", "d2x", "d2gamma"][j]
            }`,
          )
        )
      );
    } finally {
      await useBackend("cpu");
    }
  }
});

Deno.test("fused BatchNorm Impls match float64 loops (moments, output) and cpu autodiff (gradients)", async () => {
  await useBackend("cpu");
  const rng = new Rng(11);
  for (const [n, c] of [[7, 3], [50, 16], [2, 1]]) {
    const x = Float32Array.from(rng.normalArray(n * c, 1.5, 0.3));
    const dy = Float32Array.from(rng.normalArray(n * c));
    const gamma = Float32Array.from(rng.normalArray(c, 1, 0.5));
    const beta = Float32Array.from(rng.normalArray(c, 0.5));
    const eps = 1e-3;
    // float64 moments and outputs, by column.
    const m64 = new Float64Array(c), v64 = new Float64Array(c);
    for (let j = 0; j < c; j++) {
      for (let r = 0; r < n; r++) m64[j] += x[r * c + j] / n;
      for (let r = 0; r < n; r++) v64[j] += (x[r * c + j] - m64[j]) ** 2 / n;
    }
    const { mean, variance } = batchNormMomentsImpl(x, n, c);
    closeRel(mean, m64, `[${n}, ${c}] mean`);
    closeRel(variance, v64, `[${n}, ${c}] variance`);
    const p = { mean, variance, gamma, beta };
    for (const relu of [false, true]) {
      const y = batchNormNormaliseImpl(x, n, p, { epsilon: eps, relu });
      const y64 = Array.from(x, (v, i) => {
        const j = i % c;
        const t = (v - m64[j]) / Math.sqrt(v64[j] + eps) * gamma[j] + beta[j];
        return relu ? Math.max(t, 0) : t;
      });
      closeRel(y, y64, `[${n}, ${c}] y relu ${relu}`);
      // Gradients: autodiff (stock cpu) of the plain formula with the batch
      // moments on the tape; the closed form is exactly that gradient.
      const [dxRef, dgRef, dbRef] = tf.tidy(() => {
        const f = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
          const m = tf.mean(xx, 0);
          const centred = tf.sub(xx, m);
          const v = tf.mean(tf.square(centred), 0);
          const t = tf.add(
            tf.mul(tf.div(centred, tf.sqrt(tf.add(v, eps))), gg),
            bb,
          );
          return tf.sum(tf.mul(relu ? tf.relu(t) : t, tf.tensor2d(dy, [n, c])));
        };
        return tf.grads(f)([
          tf.tensor2d(x, [n, c]),
          tf.tensor1d(gamma),
          tf.tensor1d(beta),
        ]).map((t) => t.dataSync().slice());
      });
      const g = batchNormNormaliseGradImpl(dy, x, n, p, {
        epsilon: eps,
        relu,
        y,
      });
      closeRel(g.dgamma, dgRef, `[${n}, ${c}] dgamma relu ${relu}`);
      closeRel(g.dbeta, dbRef, `[${n}, ${c}] dbeta relu ${relu}`);
      closeRel(g.dx, dxRef, `[${n}, ${c}] dx relu ${relu}`);
    }
  }
  assertThrows(
    () => batchNormMomentsImpl(new Float32Array(5), 2, 3),
    Error,
    "need 2 x 3 = 6 elements, got 5",
  );
});
