import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { useBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import { disposeTree } from "../tree.ts";
import type { TrainState } from "./method.ts";
import { sgdMethod } from "./sgd.ts";
import { stepSchedule } from "./schedule.ts";
import {
  type Arrays,
  batchArrays,
  disposeBatch,
  finiteDifference,
  tinyBatch,
  tinyLoss64,
  tinyModel,
  toArrays,
} from "../../tests/helpers/tiny_model.ts";

await useBackend("cpu");

const sizes = { D: 3, H: 4, C: 3 };

function assertClose(got: Arrays, want: Arrays, tol: number, what: string) {
  for (const k of Object.keys(want)) {
    assertEquals(got[k].length, want[k].length, `${what} ${k} length`);
    for (let i = 0; i < want[k].length; i++) {
      assertAlmostEquals(got[k][i], want[k][i], tol, `${what} ${k}[${i}]`);
    }
  }
}

Deno.test("sgdMethod: two steps equal hand-computed Nesterov+wd updates from float64 finite-difference gradients; BN stats move", () => {
  const model = tinyModel({ inputDim: 3, hidden: 4, numClasses: 3 });
  const rng = new Rng(11);
  const init = model.init(rng);
  const method = sgdMethod({
    lr: stepSchedule({
      init: 0.5,
      stepsPerEpoch: 1,
      milestones: [1],
      factor: 0.2,
    }),
    momentum: 0.9,
    nesterov: true,
    weightDecay: 0.01,
  });
  let state: TrainState = {
    params: init.params,
    bn: init.state,
    opt: method.initOpt(init.params),
  };
  const phi = toArrays(state.params.features);
  const theta = toArrays(state.params.classifier);
  const buf: Arrays = {};
  for (const [k, v] of [...Object.entries(phi), ...Object.entries(theta)]) {
    buf[k] = new Float64Array(v.length);
  }
  let runMean = new Float64Array(4), runVar = new Float64Array(4).fill(1);
  for (let t = 0; t < 2; t++) {
    const batch = tinyBatch(rng, 8);
    const b = batchArrays(batch);
    const loss64 = tinyLoss64(phi, theta, b, sizes);
    const loss = () => tinyLoss64(phi, theta, b, sizes);
    const gPhi = finiteDifference(loss, phi),
      gTheta = finiteDifference(loss, theta);
    const lr = t === 0 ? 0.5 : 0.1;
    for (const [tree, g] of [[phi, gPhi], [theta, gTheta]] as const) {
      for (const k of Object.keys(tree)) {
        for (let i = 0; i < tree[k].length; i++) {
          const d = g[k][i] + 0.01 * tree[k][i];
          buf[k][i] = 0.9 * buf[k][i] + d;
          tree[k][i] -= lr * (d + 0.9 * buf[k][i]);
        }
      }
    }
    // Pre-BN activations at the parameters before the step (the pass's statistics).
    const Wb = toArrays(state.params.features);
    const n = 8, mean = new Float64Array(4), varU = new Float64Array(4);
    const h = new Float64Array(n * 4);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 4; j++) {
        let s = Wb["dense.bias"][j];
        for (let d = 0; d < 3; d++) {
          s += b.x[i * 3 + d] * Wb["dense.kernel"][d * 4 + j];
        }
        h[i * 4 + j] = s;
        mean[j] += s / n;
      }
    }
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 4; j++) {
        varU[j] += (h[i * 4 + j] - mean[j]) ** 2 / (n - 1);
      }
    }
    runMean = runMean.map((v, j) => 0.9 * v + 0.1 * mean[j]);
    runVar = runVar.map((v, j) => 0.9 * v + 0.1 * varU[j]);

    const r = method.step(model, state, { batch }, rng);
    state = r.state;
    assertAlmostEquals(r.metrics.loss, loss64, 1e-5);
    assertEquals(r.metrics.lr, lr);
    assertEquals(r.metrics.skipped, 0);
    assertEquals(state.opt.count, t + 1);
    assertClose(toArrays(state.params.features), phi, 2e-5, `step ${t} phi`);
    assertClose(
      toArrays(state.params.classifier),
      theta,
      2e-5,
      `step ${t} theta`,
    );
    assertClose(
      toArrays(state.bn),
      { "bn.mean": runMean, "bn.variance": runVar },
      1e-5,
      `step ${t} bn`,
    );
    disposeBatch(batch);
  }
  disposeTree(
    state.params.features,
    state.params.classifier,
    state.bn,
    state.opt.slots.momentum,
  );
});

Deno.test("sgdMethod trainable 'features' / 'classifier' leave the other subtree untouched", () => {
  const start = tf.memory().numTensors;
  const model = tinyModel();
  const rng = new Rng(3);
  for (const trainable of ["features", "classifier"] as const) {
    const init = model.init(rng);
    const method = sgdMethod({ lr: 0.1, trainable });
    const state: TrainState = {
      params: init.params,
      bn: init.state,
      opt: method.initOpt(init.params),
    };
    const frozen = trainable === "features" ? "classifier" : "features";
    const before = toArrays(state.params[frozen]);
    const beforeTrained = toArrays(state.params[trainable]);
    const batch = tinyBatch(rng, 6);
    const { state: next } = method.step(model, state, { batch }, rng);
    assertEquals(toArrays(next.params[frozen]), before);
    assert(
      Object.keys(beforeTrained).some((k) =>
        toArrays(next.params[trainable])[k].some((v, i) =>
          v !== beforeTrained[k][i]
        )
      ),
      `${trainable} did not move`,
    );
    assertEquals(
      Object.keys(next.opt.slots.momentum).every((k) =>
        k.startsWith(`${trainable}/`)
      ),
      true,
    );
    disposeBatch(batch);
    disposeTree(
      next.params.features,
      next.params.classifier,
      next.bn,
      next.opt.slots.momentum,
    );
  }
  assertEquals(tf.memory().numTensors, start);
});
