import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertThrows,
} from "@std/assert";
import { useBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import { disposeTree } from "../tree.ts";
import { teacherLabel, toyData } from "../data/teacher_mlp_data.ts";
import { denseHessian, hessianVectorProduct } from "./hessian.ts";
import { ClassifierCurvature, classifierVector } from "./classifier_hessian.ts";
import { lanczosTopK, symmetricEigen } from "./eigen.ts";
import { toyTrainingConfig, trainToyModels } from "./toy_training.ts";
import { fig1Config, flatWidth, layerObjective, runFig1 } from "./toy_fig1.ts";
import { fig2Config, runFig2 } from "./toy_fig2.ts";

await useBackend("cpu");

Deno.test("toyData: deterministic, 5% label noise against the teacher, all classes present", () => {
  const a = toyData(new Rng(3), { trainSize: 64, testSize: 8192 });
  const b = toyData(new Rng(3), { trainSize: 16, testSize: 8192 });
  // the test set does not depend on the training-set size
  assertEquals(
    Array.from(a.test.y.subarray(0, 50)),
    Array.from(b.test.y.subarray(0, 50)),
  );
  assertEquals(a.test.x[123], b.test.x[123]);
  const d = a.test;
  let flipped = 0;
  const perClass = [0, 0, 0, 0];
  for (let i = 0; i < d.n; i++) {
    const clean = teacherLabel(a.teacher, d.x.subarray(i * 16, (i + 1) * 16));
    if (clean !== d.y[i]) flipped++;
    perClass[d.y[i]]++;
  }
  // Binomial(8192, 0.05): std 0.0024
  assert(Math.abs(flipped / d.n - 0.05) < 0.01, `noise rate ${flipped / d.n}`);
  assert(perClass.every((c) => c > 0.2 * d.n), `class counts ${perClass}`);
  const clean = toyData(new Rng(3), {
    trainSize: 8,
    testSize: 256,
    labelNoise: 0,
  });
  for (let i = 0; i < 256; i++) {
    assertEquals(
      clean.test.y[i],
      teacherLabel(clean.teacher, clean.test.x.subarray(i * 16, (i + 1) * 16)),
    );
  }
  assertThrows(
    () => toyData(new Rng(0), { labelNoise: 2 }),
    RangeError,
    "got 2",
  );
});

Deno.test("flatWidth interpolates the crossing of L(0) + threshold", () => {
  const pts = [-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2].map((t) => ({
    t,
    loss: t * t,
  }));
  assertAlmostEquals(flatWidth(pts, 1), 2, 1e-12);
  // between t = 0.5 (0.25) and 1 (1): 0.5 + 0.5 * 0.25 / 0.75
  assertAlmostEquals(flatWidth(pts, 0.5), 2 * (0.5 + 0.5 / 3), 1e-12);
  // never crossing: the whole grid
  assertAlmostEquals(flatWidth(pts, 10), 4, 1e-12);
});

Deno.test("trained toy MLP: generalisation gap; Lanczos and exact final-layer eigenpairs agree with dense Hessians", () => {
  const c = toyTrainingConfig("smoke");
  const r = trainToyModels({ ...c, pof: { ...c.pof, epochs: 0 } }, { seed: 1 });
  const p = r.sgd.params;
  assert(
    r.sgd.test.loss > r.sgd.train.loss + 0.05,
    `gap: ${JSON.stringify(r.sgd)}`,
  );
  // hidden layer 2: Lanczos (double backprop) vs a dense Hessian from n products
  const obj = layerObjective(r.model, p, r.data.train, 2, { chunkSize: 64 });
  const n = Object.values(obj.params).reduce((s, t) => s + t.size, 0);
  const dense = symmetricEigen(denseHessian(obj), n);
  const lz = lanczosTopK((v) => hessianVectorProduct(obj, v), n, {
    k: 2,
    steps: 60,
    rng: new Rng(0),
  });
  for (let k = 0; k < 2; k++) {
    assert(
      Math.abs(lz.values[k] / dense.values[k] - 1) < 1e-3,
      `${lz.values[k]} vs ${dense.values[k]}`,
    );
    const cos = lz.vectors[k].reduce(
      (s, x, i) => s + x * dense.vectors[k][i],
      0,
    );
    assert(Math.abs(cos) >= 0.999, `|cos| ${cos}`);
  }
  // final layer: the exact classifier Hessian vs double backprop through the model
  const fin = layerObjective(r.model, p, r.data.train, 5);
  const feats = new Float32Array(r.data.train.n * r.model.featureDim);
  const x = tf.tensor2d(r.data.train.x, [r.data.train.n, 16]);
  const ft = r.model.features(p.features, {}, x, { train: false }).features;
  feats.set(ft.dataSync());
  const cc = new ClassifierCurvature(
    feats,
    r.data.train.y,
    classifierVector(p.classifier),
    {
      dim: r.model.featureDim,
      numClasses: 4,
    },
  );
  const exact = symmetricEigen(cc.dense(), cc.size);
  const lzf = lanczosTopK((v) => hessianVectorProduct(fin, v), cc.size, {
    k: 1,
    steps: 40,
    rng: new Rng(2),
  });
  assert(
    Math.abs(lzf.values[0] / exact.values[0] - 1) < 1e-3,
    `${lzf.values[0]} vs ${exact.values[0]}`,
  );
  disposeTree(p.features, p.classifier);
});

Deno.test("runFig1 (smoke): five layers, Delta L >= 0, landscapes on a shared axis", () => {
  const r = runFig1(fig1Config("smoke"), { seed: 0 });
  assertEquals(r.layers.map((l) => l.layer), [1, 2, 3, 4, 5]);
  for (const l of r.layers) {
    for (const m of ["sgd", "pof"] as const) {
      assert(l.deltaL[m] >= 0 && l.lambda1[m] > 0, JSON.stringify(l));
      assertAlmostEquals(l.tau[m], 1 / Math.sqrt(l.lambda1[m]), 1e-12);
      assert(Math.abs(l.tTest[m]) <= l.tau[m] + 1e-12);
      assert(Math.abs(l.tTrain[m]) <= l.tau[m] + 1e-12);
      assert(l.deltaLAtPoint[m] >= 0);
    }
  }
  assertEquals(
    r.landscape.sgd.map((p) => p.t),
    r.landscape.pof.map((p) => p.t),
  );
  const mid = (r.landscape.sgd.length - 1) / 2;
  assertEquals(r.landscape.sgd[mid].t, 0);
  // at t = 0 the landscape is the model's own training loss
  assertAlmostEquals(r.landscape.sgd[mid].loss, r.metrics.sgd.train.loss, 1e-4);
  assertAlmostEquals(r.landscape.pof[mid].loss, r.metrics.pof.train.loss, 1e-4);
  assertEquals(r.landscapeTopK.sgd.length, 3);
  assert(r.finalEigenvalues.sgd[0] >= r.finalEigenvalues.sgd[1]);
});

Deno.test("runFig2 (smoke): counts cover every batch, xi* >= 0", () => {
  const cfg = fig2Config("smoke");
  const r = runFig2(cfg, { seed: 0 });
  assertEquals(r.eigIndexCounts.reduce((a, b) => a + b, 0), cfg.batches);
  assertEquals(r.eigIndexCountsBy.data.reduce((a, b) => a + b, 0), cfg.batches);
  assertEquals(r.eigIndexCounts.length, (16 + 1) * 4);
  assertEquals([r.xiTrain.length, r.xiTest.length], [cfg.batches, cfg.batches]);
  assert(r.xiTrain.every((x) => x >= 0 && x <= cfg.maxXi));
  assert(r.cosTop.every((x) => x >= 0 && x <= 1 + 1e-12));
  for (let i = 1; i < r.eigenvalues.length; i++) {
    assert(r.eigenvalues[i] <= r.eigenvalues[i - 1]);
  }
});
