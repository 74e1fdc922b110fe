/**
 * Properties shared by the three methods: no tensor leaks, determinism, and
 * the handling of zero / non-finite gradients.
 */
import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { useBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import { disposeTree } from "../tree.ts";
import type { Method, TrainState } from "./method.ts";
import type { Batch } from "../data/batch.ts";
import { pofMethod } from "./pof.ts";
import { samMethod } from "./sam.ts";
import { sgdMethod } from "./sgd.ts";
import {
  disposeBatch,
  tinyBatch,
  tinyModel,
  toArrays,
} from "../../tests/helpers/tiny_model.ts";
import { maxParamDiff, stepOutcome } from "../../tests/helpers/method_step.ts";

await useBackend("cpu");

const methods: [string, () => Method][] = [
  ["sgd", () => sgdMethod({ lr: 0.05 })],
  ["sam", () => samMethod({ lr: 0.05 })],
  ["asam", () => samMethod({ lr: 0.05, adaptive: true, rho: 0.5 })],
  ["pof", () => pofMethod({ lr: 0.01 })],
  [
    "pof+classifierStep+discard",
    () =>
      pofMethod({
        lr: 0.01,
        classifierStep: true,
        discardAsymmetric: true,
        weakBatchNorm: "inference",
      }),
  ],
];

function disposeState(s: TrainState) {
  disposeTree(
    s.params.features,
    s.params.classifier,
    s.bn,
    s.opt.slots.momentum,
  );
}

function run(
  make: () => Method,
  seed: number,
  steps: number,
  check?: () => void,
) {
  const model = tinyModel();
  const rng = new Rng(seed);
  const method = make();
  const init = model.init(rng);
  let state: TrainState = {
    params: init.params,
    bn: init.state,
    opt: method.initOpt(init.params),
  };
  const losses: number[] = [];
  for (let t = 0; t < steps; t++) {
    const batch = tinyBatch(rng, 16);
    const weak: Batch[] = [];
    const r = method.step(model, state, {
      batch,
      weakBatch: () => {
        const w = tinyBatch(rng, 8);
        weak.push(w);
        return w;
      },
    }, rng);
    state = r.state;
    losses.push(r.metrics.loss);
    assertEquals(r.metrics.skipped, 0);
    disposeBatch(batch, ...weak);
    check?.();
  }
  const final = {
    ...toArrays(state.params.features),
    ...toArrays(state.params.classifier),
  };
  disposeState(state);
  return { losses, final, count: state.opt.count };
}

for (const [name, make] of methods) {
  Deno.test(`${name}: tf.memory().numTensors is constant over 20 steps`, () => {
    const start = tf.memory().numTensors;
    let afterFirst = -1;
    const counts: number[] = [];
    run(make, 1, 20, () => {
      const n = tf.memory().numTensors;
      if (afterFirst < 0) afterFirst = n;
      counts.push(n);
    });
    assert(counts.every((n) => n === afterFirst), `counts ${counts}`);
    assertEquals(tf.memory().numTensors, start);
  });

  Deno.test(`${name}: two runs with one seed give identical losses and parameters`, () => {
    const a = run(make, 77, 5), b = run(make, 77, 5);
    assertEquals(a.losses, b.losses);
    assertEquals(a.final, b.final);
    assertEquals(a.count, 5);
    assert(a.losses.every(Number.isFinite));
    const c = run(make, 78, 5);
    assert(c.losses.some((v, i) => v !== a.losses[i]), "seed has no effect");
  });

  Deno.test(`${name}: a non-finite batch skips the step, counted, state unchanged, no leak`, () => {
    const model = tinyModel();
    const rng = new Rng(2);
    const method = make();
    const init = model.init(rng);
    const state: TrainState = {
      params: init.params,
      bn: init.state,
      opt: method.initOpt(init.params),
    };
    const before = {
      ...toArrays(state.params.features),
      ...toArrays(state.params.classifier),
      ...toArrays(state.bn),
    };
    const good = tinyBatch(rng, 8);
    const bad: Batch = {
      x: tf.tensor2d([[NaN, 1, 2], [0, 1, 2], [1, 1, 1]]),
      y: tf.tensor1d([0, 1, 2], "int32"),
    };
    const start = tf.memory().numTensors;
    // The update batch is bad; for PoF also try a bad weak batch.
    const inputs = [{ batch: bad, weakBatch: () => good }];
    if (name.startsWith("pof")) {
      inputs.push({
        batch: good,
        weakBatch: () => bad,
      });
    }
    for (const input of inputs) {
      const r = method.step(model, state, input, rng);
      assertEquals(r.metrics.skipped, 1);
      assertStrictEquals(r.state, state);
      assertEquals(r.state.opt.count, 0);
      assertEquals(tf.memory().numTensors, start);
    }
    assertEquals({
      ...toArrays(state.params.features),
      ...toArrays(state.params.classifier),
      ...toArrays(state.bn),
    }, before);
    disposeBatch(good, bad);
    disposeState(state);
  });
}

Deno.test("zero gradient: SAM, ASAM and PoF skip (no division by ||g|| = 0); SGD steps", () => {
  // theta = 0 and two identical inputs with labels 0 and 1: p = (1/2, 1/2),
  // so dL/dtheta = 0 exactly, and dL/dphi = 0 because it flows through theta.
  const model = tinyModel({ numClasses: 2 });
  const rng = new Rng(9);
  const zero: Batch = {
    x: tf.tensor2d([[0.3, -1, 2], [0.3, -1, 2]]),
    y: tf.tensor1d([0, 1], "int32"),
  };
  const other = tinyBatch(rng, 8, 3, 2);
  const cases: [string, Method, { batch: Batch; weakBatch?: () => Batch }][] = [
    ["sam", samMethod(), { batch: zero }],
    ["asam", samMethod({ adaptive: true }), { batch: zero }],
    ["pof", pofMethod(), { batch: other, weakBatch: () => zero }],
  ];
  for (const [name, method, input] of cases) {
    const init = model.init(rng);
    disposeTree(init.params.classifier);
    init.params.classifier = { kernel: tf.zeros([4, 2]), bias: tf.zeros([2]) };
    const state: TrainState = {
      params: init.params,
      bn: init.state,
      opt: method.initOpt(init.params),
    };
    const before = toArrays(state.params.features);
    const start = tf.memory().numTensors;
    const r = method.step(model, state, input, rng);
    assertEquals(r.metrics.skipped, 1, name);
    assert(Number.isFinite(r.metrics.loss), `${name} loss ${r.metrics.loss}`);
    assertStrictEquals(r.state, state);
    assertEquals(toArrays(state.params.features), before);
    assertEquals(tf.memory().numTensors, start, name);
    disposeState(state);
  }
  // SGD has nothing to divide: the step is taken (weight decay moves phi).
  const init = model.init(rng);
  disposeTree(init.params.classifier);
  init.params.classifier = { kernel: tf.zeros([4, 2]), bias: tf.zeros([2]) };
  const sgd = sgdMethod();
  const r = sgd.step(
    model,
    {
      params: init.params,
      bn: init.state,
      opt: sgd.initOpt(init.params),
    },
    { batch: zero },
    rng,
  );
  assertEquals([r.metrics.skipped, r.state.opt.count], [0, 1]);
  disposeState(r.state);
  disposeBatch(zero, other);
});

Deno.test("wiring: method options reach the step (adaptive, maxXi, discard rule, weak-batch BN policy, trainable part)", () => {
  // ASAM: another name, an epsilon whose norm is not rho, another step.
  const sam = stepOutcome(samMethod({ lr: 0.1, rho: 0.05 }));
  const asamMethod = samMethod({ lr: 0.1, rho: 0.05, adaptive: true });
  assertEquals(asamMethod.name, "asam");
  const asam = stepOutcome(asamMethod);
  assert(Math.abs(asam.metrics.samEpsilonNorm! - 0.05) > 1e-3);
  assert(maxParamDiff(sam, asam) > 1e-6);
  // maxXi caps the line search.
  const free = stepOutcome(pofMethod({ lr: 0.1 }));
  assert(free.metrics.xi! > 1e-2, `xi* ${free.metrics.xi}`);
  const capped = stepOutcome(
    pofMethod({ lr: 0.1, lineSearch: { maxXi: 1e-2 } }),
  );
  assertEquals(capped.metrics.xi, 1e-2);
  // The discard rule: a cap below the minimum never brackets, so every weak
  // batch is discarded up to maxDiscards; without the rule none is.
  assertEquals(capped.metrics.discarded, 0);
  const discarding = stepOutcome(
    pofMethod({
      lr: 0.1,
      lineSearch: { maxXi: 1e-2 },
      discardAsymmetric: true,
      maxDiscards: 3,
    }),
  );
  assertEquals(discarding.metrics.discarded, 3);
  // The weak batch's BatchNorm policy changes the line search's landscape.
  const inf = stepOutcome(pofMethod({ lr: 0.1, weakBatchNorm: "inference" }));
  assert(
    Math.abs(inf.metrics.xi! - free.metrics.xi!) > 1e-4,
    `${inf.metrics.xi} vs ${free.metrics.xi}`,
  );
  // classifierStep moves theta; plain PoF does not.
  const theta0 = stepOutcome(sgdMethod({ lr: 0 })).classifier;
  assertEquals(free.classifier, theta0);
  const cs = stepOutcome(pofMethod({ lr: 0.1, classifierStep: true }));
  assert(
    maxParamDiff({ ...cs, features: {} }, { ...free, features: {} }) > 1e-4,
  );
  // sgd trainable: "features" leaves theta alone.
  const feat = stepOutcome(sgdMethod({ lr: 0.1, trainable: "features" }));
  assertEquals(feat.classifier, theta0);
});
