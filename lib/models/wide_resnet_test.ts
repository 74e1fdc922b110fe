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
import { disposeTree, type Params, treeSize } from "../tree.ts";
import { softmaxCrossEntropy } from "./loss.ts";
import { wideResNet } from "./wide_resnet.ts";
import {
  referenceCrossEntropy,
  referenceWrn,
  type RefTree,
} from "../../tests/helpers/reference_nets.ts";

await useBackend("cpu");

/**
 * Trainable parameters of a pre-activation WRN, derived by hand:
 * conv0 9*c0*16; per block with in -> out: bn1 2*in, conv1 9*in*out, bn2 2*out,
 * conv2 9*out^2, plus a 1x1 shortcut in*out when in != out; final BN 2*64k;
 * classifier 64k*C + C.
 */
function wrnParamCount(depth: number, k: number, classes: number, c0 = 3) {
  const n = (depth - 4) / 6;
  const w = [16, 16 * k, 32 * k, 64 * k];
  let total = 9 * c0 * 16;
  for (let s = 1; s <= 3; s++) {
    const inC = w[s - 1], out = w[s];
    total += 2 * inC + 9 * inC * out + 2 * out + 9 * out * out +
      (inC !== out || s > 1 ? inC * out : 0);
    total += (n - 1) * (4 * out + 18 * out * out);
  }
  return total + 2 * w[3] + w[3] * classes + classes;
}

function sumShapes(shapes: Record<string, number[]>): number {
  return Object.values(shapes).reduce(
    (a, s) => a + s.reduce((x, y) => x * y, 1),
    0,
  );
}

function stats(data: Float32Array): { mean: number; std: number } {
  let s = 0, s2 = 0;
  for (const v of data) {
    s += v;
    s2 += v * v;
  }
  const mean = s / data.length;
  return { mean, std: Math.sqrt(s2 / data.length - mean * mean) };
}

Deno.test("WRN-28-10: exact parameter counts and multiply-adds", () => {
  assertEquals(wrnParamCount(28, 10, 10), 36_479_194);
  assertEquals(wrnParamCount(28, 10, 100), 36_536_884);
  for (const [classes, expected] of [[10, 36_479_194], [100, 36_536_884]]) {
    const s = wideResNet({ depth: 28, widen: 10, numClasses: classes })
      .paramShapes();
    assertEquals(sumShapes(s.features) + sumShapes(s.classifier), expected);
    // BN state: mean + variance for each of the 3 * 2 * 4 + 1 = 25 BN layers.
    assertEquals(Object.keys(s.state).length, 50);
  }
  const m = wideResNet({ depth: 28, widen: 10, numClasses: 10 });
  assertEquals(m.name, "WRN-28-10");
  assertEquals(m.featureDim, 640);
  // Multiply-adds by hand: (spatial) * (kernel) * in * out per conv.
  const stage = (hw: number, inC: number, out: number) =>
    hw * 9 * (inC * out + out * out) + hw * inC * out +
    3 * hw * 9 * 2 * out * out;
  const expected = 1024 * 27 * 16 + stage(1024, 16, 160) +
    stage(256, 160, 320) + stage(64, 320, 640) + 640 * 10;
  assertEquals(m.multiplyAdds, expected);
  assertAlmostEquals(m.multiplyAdds / 1e9, 5.24, 0.01);
});

Deno.test("WRN-28-10: init allocates the counted parameters with the documented statistics", () => {
  const m = wideResNet({ depth: 28, widen: 10, numClasses: 10 });
  const before = tf.memory().numTensors;
  const { params, state } = m.init(new Rng(1));
  try {
    assertEquals(
      treeSize(params.features) + treeSize(params.classifier),
      36_479_194,
    );
    // He fan_out: std sqrt(2 / (3 * 3 * out)).
    for (
      const [key, out] of [
        ["stage3.block4.conv2.kernel", 640],
        ["stage2.block1.conv1.kernel", 320],
        ["stage3.block1.shortcut.kernel", 640 / 9],
      ] as const
    ) {
      const { mean, std } = stats(
        params.features[key].dataSync() as Float32Array,
      );
      const want = Math.sqrt(2 / (9 * out));
      assertAlmostEquals(mean, 0, want * 0.01, key);
      assertAlmostEquals(std / want, 1, 0.01, key);
    }
    const c = stats(params.classifier.kernel.dataSync() as Float32Array);
    assertAlmostEquals(c.std, 0.1, 0.003);
    assertEquals(params.classifier.bias.shape, [10]);
    assertEquals(Math.max(...params.classifier.bias.dataSync()), 0);
    assertEquals(
      [...params.features["bn.gamma"].dataSync()].every((v) => v === 1),
      true,
    );
    assertEquals(
      [...params.features["bn.beta"].dataSync()].every((v) => v === 0),
      true,
    );
    assertEquals([...state["bn.mean"].dataSync()].every((v) => v === 0), true);
    assertEquals(
      [...state["bn.variance"].dataSync()].every((v) => v === 1),
      true,
    );
    // Shapes of allocated tensors are the listed shapes, in the same key order.
    const shapes = m.paramShapes();
    assertEquals(Object.keys(params.features), Object.keys(shapes.features));
    for (const [k, s] of Object.entries(shapes.features)) {
      assertEquals(params.features[k].shape, s, k);
    }
  } finally {
    disposeTree(params.features, params.classifier, state);
  }
  assertEquals(tf.memory().numTensors, before);
});

Deno.test("WRN: output shapes for 32x32x3 and 28x28x1 inputs, no leaks", () => {
  for (const inputShape of [[32, 32, 3], [28, 28, 1]]) {
    const m = wideResNet({ depth: 10, widen: 1, numClasses: 7, inputShape });
    assertEquals(m.featureDim, 64);
    const { params, state } = m.init(new Rng(2));
    assertEquals(
      treeSize(params.features) + treeSize(params.classifier),
      wrnParamCount(10, 1, 7, inputShape[2]),
    );
    const x = tf.tensor4d(
      new Rng(3).normalArray(2 * inputShape[0] * inputShape[1] * inputShape[2]),
      [2, ...inputShape] as [number, number, number, number],
    );
    for (const o of [{ train: false }, { train: true, updateStats: true }]) {
      const before = tf.memory().numTensors;
      const r = m.apply(params, state, x, o);
      assertEquals(r.logits.shape, [2, 7]);
      assertEquals(r.features.shape, [2, 64]);
      const fresh = o.train ? Object.keys(state).length : 0;
      assertEquals(tf.memory().numTensors, before + 2 + fresh);
      tf.dispose([r.logits, r.features]);
      if (o.train) disposeTree(r.state);
    }
    x.dispose();
    disposeTree(params.features, params.classifier, state);
  }
});

/** conv0 (3x3, pad 1, stride 1, no bias) by brute force: out[n][i][j][o]. */
function bruteConv3x3(
  x: Float32Array,
  [n, h, w, cin]: number[],
  k: Float32Array,
  cout: number,
): Float32Array {
  const out = new Float32Array(n * h * w * cout);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        for (let o = 0; o < cout; o++) {
          let s = 0;
          for (let di = 0; di < 3; di++) {
            for (let dj = 0; dj < 3; dj++) {
              const ii = i + di - 1, jj = j + dj - 1;
              if (ii < 0 || jj < 0 || ii >= h || jj >= w) continue;
              for (let c = 0; c < cin; c++) {
                s += x[((b * h + ii) * w + jj) * cin + c] *
                  k[((di * 3 + dj) * cin + c) * cout + o];
              }
            }
          }
          out[((b * h + i) * w + j) * cout + o] = s;
        }
      }
    }
  }
  return out;
}

Deno.test("WRN: the three BatchNorm modes (running stats checked by hand)", () => {
  const m = wideResNet({
    depth: 10,
    widen: 1,
    numClasses: 3,
    inputShape: [3, 3, 2],
  });
  const { params, state } = m.init(new Rng(4));
  const shape = [2, 3, 3, 2];
  const xs = new Rng(5).normalArray(36);
  const x = tf.tensor4d(xs, shape as [number, number, number, number]);

  // Inference: the same state tensors come back, nothing moves.
  const inf = m.apply(params, state, x, { train: false });
  for (const k of Object.keys(state)) {
    assertStrictEquals(inf.state[k], state[k]);
  }

  // Train without update: batch statistics (so different logits), same state tensors.
  const frozen = m.apply(params, state, x, { train: true, updateStats: false });
  for (const k of Object.keys(state)) {
    assertStrictEquals(frozen.state[k], state[k]);
  }
  const diff = tf.max(tf.abs(tf.sub(frozen.logits, inf.logits))).dataSync()[0];
  assert(diff > 1e-3, `train-mode logits should differ, diff ${diff}`);

  // Train with update: running = 0.9 * running + 0.1 * batch (unbiased variance).
  const upd = m.apply(params, state, x, { train: true, updateStats: true });
  assertEquals(
    frozen.logits.arraySync(),
    upd.logits.arraySync(),
    "updating stats must not change the output",
  );
  const conv = bruteConv3x3(
    xs,
    shape,
    params.features["conv0.kernel"].dataSync() as Float32Array,
    16,
  );
  const cnt = 2 * 3 * 3;
  const gotMean = upd.state["stage1.block1.bn1.mean"].dataSync();
  const gotVar = upd.state["stage1.block1.bn1.variance"].dataSync();
  for (let c = 0; c < 16; c++) {
    let s = 0;
    for (let i = 0; i < cnt; i++) s += conv[i * 16 + c];
    const mean = s / cnt;
    let ss = 0;
    for (let i = 0; i < cnt; i++) ss += (conv[i * 16 + c] - mean) ** 2;
    assertAlmostEquals(gotMean[c], 0.1 * mean, 1e-5);
    assertAlmostEquals(gotVar[c], 0.9 + 0.1 * ss / (cnt - 1), 1e-5);
  }
  for (const k of Object.keys(state)) assertNotEquals(upd.state[k], state[k]);
  // Inference with the moved statistics gives different logits than before.
  const inf2 = m.apply(params, upd.state, x, { train: false });
  const d2 = tf.max(tf.abs(tf.sub(inf2.logits, inf.logits))).dataSync()[0];
  assert(d2 > 1e-4, `moved stats should change inference, diff ${d2}`);

  tf.dispose([
    x,
    inf.logits,
    inf.features,
    frozen.logits,
    frozen.features,
    upd.logits,
    upd.features,
    inf2.logits,
    inf2.features,
  ]);
  disposeTree(upd.state, params.features, params.classifier, state);
});

Deno.test("WRN: gradients equal central finite differences (train mode, every tensor)", () => {
  // 8x8 inputs and batch 4 keep BatchNorm's batch statistics well conditioned
  // (16 values per channel in the last stage), so float32 differences converge.
  const m = wideResNet({
    depth: 10,
    widen: 1,
    numClasses: 3,
    inputShape: [8, 8, 2],
  });
  const { params, state } = m.init(new Rng(6));
  const x = tf.tensor4d(new Rng(7).normalArray(4 * 128), [4, 8, 8, 2]);
  const y = tf.tensor1d([0, 2, 1, 0], "int32");
  const names = [
    ...Object.keys(params.features).map((k) => ["features", k] as const),
    ...Object.keys(params.classifier).map((k) => ["classifier", k] as const),
  ];
  const withLeaf = (g: "features" | "classifier", k: string, t: tf.Tensor) => {
    const p = {
      features: { ...params.features },
      classifier: { ...params.classifier },
    };
    p[g][k] = t;
    return p;
  };
  const lossOf = (p: { features: Params; classifier: Params }) =>
    tf.tidy(() =>
      softmaxCrossEntropy(
        m.apply(p, state, x, { train: true, updateStats: false }).logits,
        y,
      )
    );
  const tensors = names.map(([g, k]) => params[g][k]);
  const grads = tf.grads((...ts: tf.Tensor[]) => {
    const p = {
      features: { ...params.features },
      classifier: { ...params.classifier },
    };
    names.forEach(([g, k], i) => (p[g][k] = ts[i]));
    return lossOf(p);
  })(tensors);
  // Along v = g / |g| the directional derivative is |g|: the strongest
  // signal a float32 difference can resolve; a wrong g gives g_true.v != |g|.
  const eps = 1e-3;
  for (let i = 0; i < names.length; i++) {
    const [g, k] = names[i];
    const norm = tf.norm(grads[i]).dataSync()[0];
    assert(norm > 1e-3, `${g}.${k}: gradient unexpectedly ~0 (${norm})`);
    const v = tf.div(grads[i], norm);
    const shifted = (sign: number) => {
      const moved = tf.add(tensors[i], tf.mul(v, sign * eps));
      const l = lossOf(withLeaf(g, k, moved)).dataSync()[0];
      moved.dispose();
      return l;
    };
    const fd = (shifted(1) - shifted(-1)) / (2 * eps);
    assert(
      Math.abs(fd - norm) <= 1e-3 + 1e-2 * norm,
      `${g}.${k}: |gradient| ${norm} vs finite difference ${fd}`,
    );
    v.dispose();
  }
  tf.dispose([x, y, ...grads]);
  disposeTree(params.features, params.classifier, state);
});

Deno.test("WRN: same seed gives the same parameters, another seed differs", () => {
  const m = wideResNet({ depth: 10, widen: 1, numClasses: 10 });
  const a = m.init(new Rng(9)), b = m.init(new Rng(9)), c = m.init(new Rng(10));
  for (const k of Object.keys(a.params.features)) {
    assertEquals(
      a.params.features[k].dataSync(),
      b.params.features[k].dataSync(),
      k,
    );
  }
  assertEquals(
    a.params.classifier.kernel.dataSync(),
    b.params.classifier.kernel.dataSync(),
  );
  assertNotEquals(
    a.params.features["conv0.kernel"].dataSync(),
    c.params.features["conv0.kernel"].dataSync(),
  );
  for (const r of [a, b, c]) {
    disposeTree(r.params.features, r.params.classifier, r.state);
  }
});

Deno.test("WRN: invalid options and inputs are rejected with the value given", () => {
  const base = { depth: 10, widen: 1, numClasses: 10 };
  assertThrows(() => wideResNet({ ...base, depth: 11 }), RangeError, "got 11");
  assertThrows(() => wideResNet({ ...base, depth: 4 }), RangeError, "got 4");
  assertThrows(() => wideResNet({ ...base, widen: 0 }), RangeError, "got 0");
  assertThrows(() => wideResNet({ ...base, widen: 1.5 }), RangeError, "1.5");
  assertThrows(
    () => wideResNet({ ...base, numClasses: 0 }),
    RangeError,
    "got 0",
  );
  assertThrows(
    () => wideResNet({ ...base, inputShape: [32, 32] }),
    RangeError,
    "[32,32]",
  );
  const m = wideResNet({ ...base, inputShape: [8, 8, 3] });
  const { params, state } = m.init(new Rng(0));
  const x = tf.zeros([1, 8, 8, 1]);
  assertThrows(
    () => m.apply(params, state, x, { train: false }),
    Error,
    "got [1,8,8,1]",
  );
  const { ["bn.gamma"]: _dropped, ...rest } = params.features;
  assertThrows(
    () =>
      m.apply(
        { features: rest, classifier: params.classifier },
        state,
        tf.zeros([1, 8, 8, 3]),
        {
          train: false,
        },
      ),
    Error,
    '"bn.gamma"',
  );
  x.dispose();
  disposeTree(params.features, params.classifier, state);
});

/** A WRN-10-1 on 8x8x3 with every parameter and BN statistic randomised (float32-exact values). */
function randomWrn(seed: number) {
  const arch = { depth: 10, widen: 1, numClasses: 5, inputShape: [8, 8, 3] };
  const m = wideResNet(arch);
  const rng = new Rng(seed);
  const { params, state } = m.init(rng);
  const jitter = (t: tf.Tensor, lo: number, hi: number) =>
    tf.tensor(
      Float32Array.from({ length: t.size }, () => rng.range(lo, hi)),
      t.shape,
    );
  for (const k of Object.keys(params.features)) {
    if (k.endsWith(".gamma")) {
      params.features[k].dispose();
      params.features[k] = jitter(params.features[k], 0.5, 1.5);
    } else if (k.endsWith(".beta")) {
      params.features[k].dispose();
      params.features[k] = jitter(params.features[k], -0.3, 0.3);
    }
  }
  params.classifier.bias.dispose();
  params.classifier.bias = jitter(params.classifier.bias, -0.5, 0.5);
  for (const k of Object.keys(state)) {
    const [lo, hi] = k.endsWith(".mean") ? [-0.5, 0.5] : [0.5, 2];
    state[k].dispose();
    state[k] = jitter(state[k], lo, hi);
  }
  const x = Float32Array.from(rng.normalArray(2 * 8 * 8 * 3));
  const host = (t: Params): RefTree =>
    Object.fromEntries(
      Object.entries(t).map(([k, v]) => [k, v.dataSync()]),
    );
  return { arch, m, params, state, x, host };
}

function assertClose(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: number,
  what: string,
) {
  assertEquals(got.length, want.length, what);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    worst = Math.max(worst, Math.abs(got[i] - want[i]));
  }
  assert(worst <= tol, `${what}: max |difference| ${worst} > ${tol}`);
}

for (const mode of ["inference", "train"] as const) {
  Deno.test(`WRN-10-1 (${mode} mode): logits, features and BN state equal the float64 reference network`, () => {
    const { arch, m, params, state, x, host } = randomWrn(
      mode === "train" ? 11 : 12,
    );
    const train = mode === "train";
    const xt = tf.tensor4d(x, [2, 8, 8, 3]);
    const got = m.apply(params, state, xt, { train, updateStats: train });
    const want = referenceWrn(arch, {
      features: host(params.features),
      classifier: host(params.classifier),
      state: host(state),
      x,
      batch: 2,
      train,
    });
    // Sanity: the logits are not tiny, so 1e-5 is a tight bound.
    assert(Math.max(...want.logits.map(Math.abs)) > 0.1);
    assertClose(got.logits.dataSync(), want.logits, 1e-5, "logits");
    assertClose(got.features.dataSync(), want.features, 1e-5, "features");
    assertEquals(Object.keys(got.state).sort(), Object.keys(state).sort());
    for (const k of Object.keys(state)) {
      assertClose(got.state[k].dataSync(), want.state[k], 1e-5, k);
    }
    if (train) {
      // The moved statistics differ from the old ones (the update happened).
      const d = Math.abs(
        got.state["stage3.block1.bn2.variance"].dataSync()[0] -
          state["stage3.block1.bn2.variance"].dataSync()[0],
      );
      assert(d > 1e-3, `running variance did not move (${d})`);
    }
    tf.dispose([xt, got.logits, got.features]);
    if (train) disposeTree(got.state);
    disposeTree(params.features, params.classifier, state);
  });
}

Deno.test("WRN-10-1: train-mode gradients along random directions equal float64 finite differences of the reference", () => {
  const { arch, m, params, state, x, host } = randomWrn(13);
  const xt = tf.tensor4d(x, [2, 8, 8, 3]);
  const labels = [1, 3];
  const y = tf.tensor1d(labels, "int32");
  const names = [
    ...Object.keys(params.features).map((k) => ["features", k] as const),
    ...Object.keys(params.classifier).map((k) => ["classifier", k] as const),
  ];
  const tensors = names.map(([g, k]) => params[g][k]);
  const grads = tf.grads((...ts: tf.Tensor[]) => {
    const p = {
      features: { ...params.features },
      classifier: { ...params.classifier },
    };
    names.forEach(([g, k], i) => (p[g][k] = ts[i]));
    return softmaxCrossEntropy(
      m.apply(p, state, xt, { train: true, updateStats: false }).logits,
      y,
    );
  })(tensors);
  const base = { features: host(params.features), c: host(params.classifier) };
  const st = host(state);
  const refLoss = (
    g: "features" | "classifier",
    k: string,
    d: Float64Array,
    t: number,
  ) => {
    const f = { ...base.features }, c = { ...base.c };
    const tree = g === "features" ? f : c;
    tree[k] = Float64Array.from(tree[k], (v, i) => v + t * d[i]);
    const r = referenceWrn(arch, {
      features: f,
      classifier: c,
      state: st,
      x,
      batch: 2,
      train: true,
    });
    return referenceCrossEntropy(r.logits, labels, arch.numClasses);
  };
  const rng = new Rng(14);
  // float64 central differences with a step small enough (1e-7) that no
  // ReLU kink is crossed; their rounding error is ~1e-9.
  const eps = 1e-7;
  for (let i = 0; i < names.length; i++) {
    const [g, k] = names[i];
    const gi = grads[i].dataSync();
    let gNorm = 0;
    for (const v of gi) gNorm += v * v;
    gNorm = Math.sqrt(gNorm);
    // Two random unit directions per tensor, plus the gradient direction.
    for (let r = 0; r < 3; r++) {
      const d = r === 2
        ? Float64Array.from(gi, (v) => v / gNorm)
        : Float64Array.from(rng.normalArray(gi.length));
      if (r < 2) {
        const n = Math.hypot(...d);
        d.forEach((v, j) => (d[j] = v / n));
      }
      let gd = 0;
      for (let j = 0; j < d.length; j++) gd += gi[j] * d[j];
      const fd = (refLoss(g, k, d, eps) - refLoss(g, k, d, -eps)) / (2 * eps);
      assert(
        Math.abs(fd - gd) <= 1e-5 * gNorm + 1e-7,
        `${g}.${k} direction ${r}: gradient . d = ${gd}, float64 finite difference ${fd} (|g| ${gNorm})`,
      );
    }
  }
  tf.dispose([xt, y, ...grads]);
  disposeTree(params.features, params.classifier, state);
});
