import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { useBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import { disposeTree } from "../tree.ts";
import { fromLayersModel, writeBack } from "./layers_model.ts";

await useBackend("cpu");

/** Overwrites every weight from `rng` (variances kept positive). */
function randomise(net: tfl.LayersModel, rng: Rng): void {
  for (const layer of net.layers) {
    const values = layer.weights.map((w) => {
      const n = w.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
      const data = rng.normalArray(n, 0.5);
      if (w.originalName.endsWith("moving_variance")) {
        for (let i = 0; i < n; i++) data[i] = 0.5 + Math.abs(data[i]);
      }
      return tf.tensor(data, w.shape as number[]);
    });
    if (values.length) layer.setWeights(values);
    tf.dispose(values);
  }
}

/** conv -> BN -> max pool -> conv -> tanh -> avg pool -> GAP -> dropout -> dense -> dense(logits) [-> softmax]. */
function buildNet(softmaxInDense: boolean): tfl.LayersModel {
  const input = tfl.input({ shape: [8, 8, 2], name: "img" });
  let y = tfl.layers.conv2d({
    filters: 4,
    kernelSize: 3,
    padding: "same",
    activation: "relu",
    name: "c1",
  }).apply(input) as tfl.SymbolicTensor;
  y = tfl.layers.batchNormalization({ name: "bn1", momentum: 0.9 }).apply(
    y,
  ) as tfl.SymbolicTensor;
  y = tfl.layers.maxPooling2d({ poolSize: 2, name: "mp" }).apply(
    y,
  ) as tfl.SymbolicTensor;
  y = tfl.layers.conv2d({
    filters: 5,
    kernelSize: 2,
    strides: 1,
    padding: "valid",
    name: "c2",
  }).apply(y) as tfl.SymbolicTensor;
  y = tfl.layers.activation({ activation: "tanh", name: "act" }).apply(
    y,
  ) as tfl.SymbolicTensor;
  y = tfl.layers.averagePooling2d({ poolSize: 2, strides: 1, name: "ap" })
    .apply(y) as tfl.SymbolicTensor;
  y = tfl.layers.globalAveragePooling2d({ name: "gap" }).apply(
    y,
  ) as tfl.SymbolicTensor;
  y = tfl.layers.dropout({ rate: 0.5, name: "drop" }).apply(
    y,
  ) as tfl.SymbolicTensor;
  y = tfl.layers.dense({ units: 6, activation: "elu", name: "d1" }).apply(
    y,
  ) as tfl.SymbolicTensor;
  y = tfl.layers.dense({
    units: 3,
    activation: softmaxInDense ? "softmax" : "linear",
    name: "logits",
  }).apply(y) as tfl.SymbolicTensor;
  if (!softmaxInDense) {
    y = tfl.layers.activation({ activation: "softmax", name: "prob" }).apply(
      y,
    ) as tfl.SymbolicTensor;
  }
  const net = tfl.model({ inputs: input, outputs: y });
  randomise(net, new Rng(softmaxInDense ? 1 : 2));
  return net;
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

const x = tf.tensor4d(new Rng(3).normalArray(5 * 8 * 8 * 2), [5, 8, 8, 2]);

Deno.test("fromLayersModel: inference forward equals model.predict (pre-softmax logits and features)", () => {
  for (const softmaxInDense of [false, true]) {
    const net = buildNet(softmaxInDense);
    const m = fromLayersModel(net, { featuresLayer: "d1" });
    assertEquals(m.featureDim, 6);
    assertEquals(m.numClasses, 3);
    assertEquals(m.inputShape, [8, 8, 2]);
    // Conv2D 8*8*(3*3*2*4) + Conv2D 3*3*(2*2*4*5) + Dense 5*6 + Dense 6*3.
    assertEquals(m.multiplyAdds, 64 * 72 + 9 * 80 + 30 + 18);
    const { params, state } = m.init(new Rng(0));
    assertEquals(Object.keys(params.classifier).sort(), ["bias", "kernel"]);
    assertEquals(Object.keys(state).sort(), ["bn1.mean", "bn1.variance"]);
    const r = m.apply(params, state, x, { train: false });
    const featNet = tfl.model({
      inputs: net.inputs,
      outputs: net.getLayer("d1").output as tfl.SymbolicTensor,
    });
    const f = featNet.predict(x) as tf.Tensor;
    assert(maxAbsDiff(r.features, f) < 1e-5, "features differ");
    if (!softmaxInDense) {
      const logitsNet = tfl.model({
        inputs: net.inputs,
        outputs: net.getLayer("logits").output as tfl.SymbolicTensor,
      });
      const l = logitsNet.predict(x) as tf.Tensor;
      assert(maxAbsDiff(r.logits, l) < 1e-5, "logits differ");
      l.dispose();
    }
    const p = net.predict(x) as tf.Tensor;
    const ours = tf.softmax(r.logits);
    assert(maxAbsDiff(ours, p) < 1e-5, "probabilities differ");
    // The logits are not probabilities: the softmax really was dropped.
    const rowSum = tf.sum(r.logits, 1).dataSync();
    assert(rowSum.some((v) => Math.abs(v - 1) > 1e-3));
    assertStrictEquals(r.state["bn1.mean"], state["bn1.mean"]);
    tf.dispose([f, p, ours, r.logits, r.features]);
    disposeTree(params.features, params.classifier, state);
  }
});

Deno.test("fromLayersModel: training-mode BN equals the layers' training forward and moves stats by hand", () => {
  // Without dropout, so that tfjs-layers' training forward is deterministic.
  const input = tfl.input({ shape: [4, 4, 3] });
  const c = tfl.layers.conv2d({ filters: 2, kernelSize: 3, name: "c" }).apply(
    input,
  ) as tfl.SymbolicTensor;
  const b = tfl.layers.batchNormalization({ name: "bn", momentum: 0.8 })
    .apply(c) as tfl.SymbolicTensor;
  const f = tfl.layers.flatten({ name: "flat" }).apply(b) as tfl.SymbolicTensor;
  const o = tfl.layers.dense({ units: 2, name: "cls" }).apply(
    f,
  ) as tfl.SymbolicTensor;
  const net = tfl.model({ inputs: input, outputs: o });
  randomise(net, new Rng(4));
  const m = fromLayersModel(net, { featuresLayer: "flat" });
  const xs = tf.tensor4d(new Rng(5).normalArray(3 * 48), [3, 4, 4, 3]);
  const { params, state } = m.init(new Rng(0));
  const r = m.apply(params, state, xs, { train: true, updateStats: true });
  const theirs = net.apply(xs, { training: true }) as tf.Tensor;
  assert(maxAbsDiff(r.logits, theirs) < 1e-4, "training forward differs");
  // Conv output [3, 2, 2, 2]: 12 values per channel.
  const convOut = tfl.model({ inputs: input, outputs: c }).predict(
    xs,
  ) as tf.Tensor;
  const v = convOut.dataSync();
  const oldMean = state["bn.mean"].dataSync(),
    oldVar = state["bn.variance"].dataSync();
  const newMean = r.state["bn.mean"].dataSync(),
    newVar = r.state["bn.variance"].dataSync();
  for (let ch = 0; ch < 2; ch++) {
    let s = 0;
    for (let i = 0; i < 12; i++) s += v[i * 2 + ch];
    const mean = s / 12;
    let ss = 0;
    for (let i = 0; i < 12; i++) ss += (v[i * 2 + ch] - mean) ** 2;
    // Keras momentum 0.8 = PyTorch momentum 0.2.
    assertAlmostEquals(newMean[ch], 0.8 * oldMean[ch] + 0.2 * mean, 1e-5);
    assertAlmostEquals(newVar[ch], 0.8 * oldVar[ch] + 0.2 * ss / 11, 1e-5);
  }
  // tfjs-layers' own training call moved its moving statistics with the
  // biased variance; bnUnbiasedVariance: false reproduces them exactly.
  const mb = fromLayersModel(net, {
    featuresLayer: "flat",
    bnUnbiasedVariance: false,
  });
  const rb = mb.apply(params, state, xs, { train: true, updateStats: true });
  const [, , movingMean, movingVar] = net.getLayer("bn").getWeights();
  assert(maxAbsDiff(rb.state["bn.mean"], movingMean) < 1e-5);
  assert(maxAbsDiff(rb.state["bn.variance"], movingVar) < 1e-5);
  assert(maxAbsDiff(r.state["bn.variance"], movingVar) > 1e-3);
  tf.dispose([xs, theirs, convOut, r.logits, r.features, rb.logits]);
  disposeTree(r.state, rb.state, params.features, params.classifier, state);
});

Deno.test("fromLayersModel: sequential models, gradients flow to every parameter", () => {
  const net = tfl.sequential({
    layers: [
      tfl.layers.dense({
        units: 5,
        inputShape: [3],
        activation: "sigmoid",
        name: "h1",
      }),
      tfl.layers.dense({ units: 4, activation: "softplus", name: "h2" }),
      tfl.layers.dense({ units: 2, activation: "softmax", name: "out" }),
    ],
  });
  randomise(net, new Rng(6));
  const m = fromLayersModel(net, { featuresLayer: "h2" });
  assertEquals(m.layerNames, ["h1", "h2", "out"]);
  const { params, state } = m.init(new Rng(0));
  const xs = tf.tensor2d(new Rng(7).normalArray(12), [4, 3]);
  const p = net.predict(xs) as tf.Tensor;
  const r = m.apply(params, state, xs, { train: true });
  const ours = tf.softmax(r.logits);
  assert(maxAbsDiff(ours, p) < 1e-5);
  // d/dW of sum(logits) for the classifier is the column-sum of the features.
  const g = tf.grad((k: tf.Tensor) =>
    tf.sum(
      m.apply(
        {
          features: params.features,
          classifier: { kernel: k, bias: params.classifier.bias },
        },
        state,
        xs,
        { train: true },
      ).logits,
    )
  )(params.classifier.kernel);
  const colSum = tf.sum(r.features, 0).dataSync();
  const gd = g.arraySync() as number[][];
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 2; j++) assertAlmostEquals(gd[i][j], colSum[i], 1e-5);
  }
  const gf = tf.grads((k1: tf.Tensor, k2: tf.Tensor) =>
    tf.sum(
      m.apply(
        {
          features: { ...params.features, "h1.kernel": k1, "h2.kernel": k2 },
          classifier: params.classifier,
        },
        state,
        xs,
        { train: true },
      ).logits,
    )
  )([params.features["h1.kernel"], params.features["h2.kernel"]]);
  for (const t of gf) assert(tf.norm(t).dataSync()[0] > 1e-4);
  tf.dispose([xs, p, ours, g, r.logits, r.features, ...gf]);
  disposeTree(params.features, params.classifier, state);
});

Deno.test("fromLayersModel: clear errors for the split point, unsupported layers and topologies", () => {
  const net = buildNet(false);
  assertThrows(
    () => fromLayersModel(net, { featuresLayer: "nope" }),
    Error,
    'no layer named "nope"',
  );
  assertThrows(
    () => fromLayersModel(net, { featuresLayer: "gap" }),
    Error,
    "exactly one Dense layer",
  );
  assertThrows(
    () => fromLayersModel(net, { featuresLayer: "mp" }),
    Error,
    "drop (Dropout)",
  );
  const seq = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 2 }),
      tfl.layers.flatten({ name: "flat" }),
      tfl.layers.dense({ units: 3, name: "h" }),
      tfl.layers.dense({ units: 2, name: "o", activation: "relu" }),
    ],
  });
  assertThrows(
    () => fromLayersModel(seq, { featuresLayer: "h" }),
    Error,
    'linear or softmax activation, got "relu"',
  );
  const unsupported = tfl.sequential({
    layers: [
      tfl.layers.zeroPadding2d({ inputShape: [4, 4, 1], name: "pad" }),
      tfl.layers.globalAveragePooling2d({ name: "gap" }),
      tfl.layers.dense({ units: 2, name: "o" }),
    ],
  });
  assertThrows(
    () => fromLayersModel(unsupported, { featuresLayer: "gap" }),
    Error,
    'layer "pad" has unsupported type ZeroPadding2D',
  );
  const input = tfl.input({ shape: [3] });
  const a = tfl.layers.dense({ units: 4, name: "a" }).apply(
    input,
  ) as tfl.SymbolicTensor;
  const bb = tfl.layers.dense({ units: 4, name: "b" }).apply(
    input,
  ) as tfl.SymbolicTensor;
  const sum = tfl.layers.add({ name: "sum" }).apply([
    a,
    bb,
  ]) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 2, name: "o" }).apply(
    sum,
  ) as tfl.SymbolicTensor;
  assertThrows(
    () =>
      fromLayersModel(tfl.model({ inputs: input, outputs: out }), {
        featuresLayer: "sum",
      }),
    Error,
    'layer "sum" (Add) takes 2 inputs',
  );
  const flatFeat = tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [4, 4, 1],
        filters: 2,
        kernelSize: 2,
        name: "c",
      }),
      tfl.layers.dense({ units: 2, name: "o" }),
    ],
  });
  assertThrows(
    () => fromLayersModel(flatFeat, { featuresLayer: "c" }),
    Error,
    "must output [batch, featureDim], got [,3,3,2]",
  );
});

Deno.test("writeBack: trained params and BN state round-trip into the LayersModel", () => {
  const net = buildNet(false);
  const m = fromLayersModel(net, { featuresLayer: "d1" });
  const { params, state } = m.init(new Rng(0));
  const shift = (t: tf.Tensor, by: number) => tf.add(t, by);
  const trained = {
    params: {
      features: Object.fromEntries(
        Object.entries(params.features).map(([k, t]) => [k, shift(t, 0.25)]),
      ),
      classifier: {
        kernel: shift(params.classifier.kernel, -0.5),
        bias: shift(params.classifier.bias, 1),
      },
    },
    state: {
      "bn1.mean": shift(state["bn1.mean"], 0.1),
      "bn1.variance": shift(state["bn1.variance"], 0.3),
    },
  };
  const returned = writeBack(m, trained);
  assertStrictEquals(returned, net);
  // The LayersModel now holds exactly the written values...
  assertEquals(
    net.getLayer("c1").getWeights()[0].dataSync(),
    trained.params.features["c1.kernel"].dataSync(),
  );
  assertEquals(
    net.getLayer("logits").getWeights()[1].dataSync(),
    trained.params.classifier.bias.dataSync(),
  );
  // ...predicts what the functional path predicts with them...
  const r = m.apply(trained.params, trained.state, x, { train: false });
  const p = net.predict(x) as tf.Tensor;
  const ours = tf.softmax(r.logits);
  assert(maxAbsDiff(ours, p) < 1e-5, "predict after writeBack differs");
  // ...and reading it back gives the same trees, even after we dispose ours.
  const copy = {
    f: Object.fromEntries(
      Object.entries(trained.params.features).map((
        [k, t],
      ) => [k, Array.from(t.dataSync())]),
    ),
    var: Array.from(trained.state["bn1.variance"].dataSync()),
  };
  disposeTree(
    trained.params.features,
    trained.params.classifier,
    trained.state,
  );
  const again = m.init(new Rng(0));
  for (const [k, v] of Object.entries(copy.f)) {
    assertEquals(Array.from(again.params.features[k].dataSync()), v, k);
  }
  assertEquals(Array.from(again.state["bn1.variance"].dataSync()), copy.var);
  // Shape mismatches are refused before anything is written.
  assertThrows(
    () =>
      writeBack(m, {
        params: {
          features: again.params.features,
          classifier: { kernel: tf.zeros([2, 3]), bias: tf.zeros([3]) },
        },
        state: again.state,
      }),
    Error,
    "must have shape [6,3], got [2,3]",
  );
  tf.dispose([p, ours, r.logits, r.features]);
  disposeTree(params.features, params.classifier, state);
  disposeTree(again.params.features, again.params.classifier, again.state);
});
