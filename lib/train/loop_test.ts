import { assertAlmostEquals, assertEquals } from "@std/assert";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { useBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import type { Model } from "../models/model.ts";
import type { Method, StepMetrics, TrainState } from "../optim/method.ts";
import { evaluate, trainEpoch } from "./loop.ts";

import { disposeTree, type Params } from "../tree.ts";
import { wideResNet } from "../models/wide_resnet.ts";
import {
  referenceCrossEntropy,
  referenceWrn,
  type RefTree,
} from "../../tests/helpers/reference_nets.ts";

await useBackend("cpu");

// A model whose logits are its inputs, data of one 2-d example per batch and
// a method that replays scripted step metrics: trainEpoch's aggregation alone.
const model = {
  apply: (_p: unknown, s: unknown, x: tf.Tensor) => ({
    logits: x.clone(),
    features: x.clone(),
    state: s,
  }),
} as unknown as Model;
const batch = () => ({
  x: tf.tensor2d([[1, 0]]),
  y: tf.tensor1d([0], "int32"),
});

function scripted(steps: Partial<StepMetrics>[]) {
  let i = 0;
  const method: Method = {
    name: "pof",
    initOpt: () => ({ slots: {}, count: 0 }),
    step: (_m, state) => ({
      state,
      metrics: { loss: 1, lr: 0.1, ...steps[i++] },
    }),
  };
  const data = {
    stepsPerEpoch: steps.length,
    startEpoch() {},
    next: batch,
    state: () => null,
    restore() {},
  };
  const evalData = { size: 1, batches: () => [batch()] };
  const state: TrainState = {
    params: { features: {}, classifier: {} },
    bn: {},
    opt: { slots: {}, count: 0 },
  };
  return trainEpoch(state, {
    model,
    method,
    data,
    epoch: 0,
    rng: new Rng(0),
    test: evalData,
    trainEval: evalData,
  }).record;
}

Deno.test("trainEpoch: xiCapFraction counts every line search that hit maxXi, xiMedian is the median xi*", () => {
  // step 1: one search, still falling at the cap (xi* = maxXi = 50);
  // step 2: three searches (two discarded at the cap), the used one bracketed;
  // step 3: one bracketed search; step 4: zero gradient, no search.
  const record = scripted([
    { xi: 50, lineSearches: 1, xiCapped: 1, lossAtTheta0: 0.5 },
    { xi: 2, lineSearches: 3, xiCapped: 2, lossAtTheta0: 0.7 },
    { xi: 4, lineSearches: 1, xiCapped: 0, lossAtTheta0: 0.9 },
    { lineSearches: 0, xiCapped: 0, skipped: 1 },
  ]);
  const t = record.telemetry!;
  assertAlmostEquals(t.xiCapFraction, 3 / 5, 1e-12);
  assertEquals(t.xiMedian, 4);
  assertAlmostEquals(t.xi, 56 / 3, 1e-12);
  assertAlmostEquals(t.lossAtTheta0, 0.7, 1e-12);
});

Deno.test("trainEpoch: no line searches (SGD / SAM), no xiCapFraction or xiMedian", () => {
  const record = scripted([{ samEpsilonNorm: 0.05 }, { samEpsilonNorm: 0.05 }]);
  assertEquals(Object.keys(record.telemetry!), ["samEpsilonNorm"]);
  assertEquals(scripted([{}, {}]).telemetry, undefined);
});

Deno.test("evaluate: inference-mode loss (example-weighted over uneven batches) and error % equal the float64 reference network's", () => {
  const arch = { depth: 10, widen: 1, numClasses: 3, inputShape: [8, 8, 3] };
  const m = wideResNet(arch);
  const rng = new Rng(31);
  const { params, state } = m.init(rng);
  // Running statistics far from a batch's own, so train mode would differ.
  for (const k of Object.keys(state)) {
    const lo = k.endsWith(".mean") ? -0.5 : 0.3,
      hi = k.endsWith(".mean") ? 0.5 : 3;
    const old = state[k];
    state[k] = tf.tensor1d(
      Float32Array.from({ length: old.size }, () => rng.range(lo, hi)),
    );
    old.dispose();
  }
  const n = 5, px = 8 * 8 * 3;
  const x = Float32Array.from(rng.normalArray(n * px));
  const y = [0, 2, 1, 1, 0];
  const data = {
    size: n,
    *batches() {
      for (const [a, b] of [[0, 3], [3, 5]]) {
        yield {
          x: tf.tensor4d(x.subarray(a * px, b * px), [b - a, 8, 8, 3]),
          y: tf.tensor1d(y.slice(a, b), "int32"),
        };
      }
    },
  };
  const got = evaluate(
    m,
    { params, bn: state, opt: { slots: {}, count: 0 } },
    data,
  );
  const host = (t: Params): RefTree =>
    Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.dataSync()]));
  const ref = referenceWrn(arch, {
    features: host(params.features),
    classifier: host(params.classifier),
    state: host(state),
    x,
    batch: n,
    train: false,
  });
  let wrong = 0;
  for (let b = 0; b < n; b++) {
    const z = Array.from(ref.logits.subarray(b * 3, b * 3 + 3));
    if (z.indexOf(Math.max(...z)) !== y[b]) wrong++;
  }
  assertAlmostEquals(got.loss, referenceCrossEntropy(ref.logits, y, 3), 1e-5);
  assertEquals(got.error, (100 * wrong) / n);
  disposeTree(params.features, params.classifier, state);
});
