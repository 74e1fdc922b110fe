import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertNotEquals,
} from "@std/assert";
import { useBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import { disposeTree } from "../tree.ts";
import { ClassifierCurvature, classifierVector } from "./classifier_hessian.ts";
import { symmetricEigen } from "./eigen.ts";
import { fig2Config, runFig2 } from "./toy_fig2.ts";
import { trainToyModels } from "./toy_training.ts";
import {
  argminConvex,
  features64,
  grad64,
  hessian64,
  loss64,
  topEigen,
} from "../../tests/helpers/classifier64.ts";

await useBackend("cpu");

Deno.test("runFig2 (smoke): counts cover every batch; eigenvalues, xi* and top-eigenvector alignment equal float64 hand computations", () => {
  const cfg = fig2Config("smoke");
  const r = runFig2(cfg, { seed: 0 });
  assertEquals(r.eigIndexCounts.reduce((a, b) => a + b, 0), cfg.batches);
  assertEquals(
    r.eigIndexCountsRegularised.reduce((a, b) => a + b, 0),
    cfg.batches,
  );
  assertEquals(r.eigIndexCounts.length, (16 + 1) * 4);
  assertEquals([r.xiTrain.length, r.xiTest.length], [cfg.batches, cfg.batches]);
  for (let i = 1; i < r.eigenvalues.length; i++) {
    assert(r.eigenvalues[i] <= r.eigenvalues[i - 1]);
  }
  // Everything again in float64, by hand, from the same trained SGD model.
  const t = trainToyModels(cfg, { seed: 0 });
  const d = 16, C = 4;
  const Ftr = features64(cfg.hidden, t.sgd.params, t.data.train);
  const Fte = features64(cfg.hidden, t.sgd.params, t.data.test);
  const theta = classifierVector(t.sgd.params.classifier);
  // Eigenvalues of the full training-set Hessian: their sum is its trace,
  // their sum of squares its squared Frobenius norm.
  const { H, m } = hessian64(Ftr, t.data.train.n, theta, d, C);
  let tr = 0, fro = 0;
  for (let i = 0; i < m; i++) tr += H[i * m + i];
  for (const v of H) fro += v * v;
  assertEquals(r.eigenvalues.length, m);
  assertAlmostEquals(r.eigenvalues.reduce((a, v) => a + v, 0), tr, 1e-5 * tr);
  assertAlmostEquals(
    r.eigenvalues.reduce((a, v) => a + v * v, 0),
    fro,
    1e-5 * fro,
  );
  const top = topEigen(H, m);
  assertAlmostEquals(r.eigenvalues[0], top.value, 1e-5 * top.value);
  // The same mini-batches (the documented draw order), their xi* and the
  // alignment of the data-loss gradient with the top eigenvector.
  const rng = new Rng(0).fork("fig2-batches");
  const draw = (n: number) =>
    Array.from({ length: cfg.miniBatch }, () => rng.int(n));
  for (let b = 0; b < cfg.batches; b++) {
    for (
      const [set, F, xi] of [["train", Ftr, r.xiTrain[b]], [
        "test",
        Fte,
        r.xiTest[b],
      ]] as const
    ) {
      const idx = draw(t.data[set].n);
      const y = t.data[set].y;
      const g = grad64(F, y, idx, theta, d, C);
      const gn = Math.hypot(...g);
      const along = (s: number) =>
        loss64(F, y, idx, theta.map((v, i) => v - s * g[i] / gn), d, C);
      const want = argminConvex(along, 0, cfg.maxXi);
      // The line search's tolerance is absTol 1e-6 + relTol 1e-4.
      assert(
        Math.abs(xi - want) <= 1e-5 + 1e-3 * want,
        `${set} batch ${b}: xi* ${xi} vs float64 ${want}`,
      );
      if (set === "train") {
        // cosTop: the data-loss gradient (the paper's Fig. 2(a) definition).
        let dot = 0;
        g.forEach((v, i) => (dot += v * top.vector[i]));
        assertAlmostEquals(r.cosTop[b], Math.abs(dot) / gn, 1e-4);
      }
    }
  }
  assert(r.xiTest.some((x, i) => x !== r.xiTrain[i]));
  disposeTree(t.sgd.params.features, t.sgd.params.classifier);
});

Deno.test("runFig2 (smoke): Fig. 2(a) ranks by the data-loss gradient (paper), the regularised one separately", () => {
  // Independent recomputation: the same SGD minimum, the same mini-batch
  // draws, the batch's mean cross-entropy gradient by central differences,
  // eigenvectors of the full-set classifier Hessian, argmax |v_i . g|.
  // a strong weight decay makes the two gradients differ visibly
  const smoke = fig2Config("smoke");
  const cfg = {
    ...smoke,
    batches: 24,
    sgd: { ...smoke.sgd, weightDecay: 0.05 },
  };
  const r = runFig2(cfg, { seed: 0 });
  const m = trainToyModels({ ...cfg, pof: { ...cfg.pof, epochs: 0 } }, {
    seed: 0,
  });
  const feats = (set: { x: Float32Array; n: number }) =>
    tf.tidy(() =>
      m.model.features(
        m.sgd.params.features,
        {},
        tf.tensor2d(set.x, [set.n, 16]),
        { train: false },
      ).features.dataSync() as Float32Array
    );
  const D = m.model.featureDim, C = m.model.numClasses;
  const trainF = feats(m.data.train);
  const theta = classifierVector(m.sgd.params.classifier);
  const full = new ClassifierCurvature(trainF, m.data.train.y, theta, {
    dim: D,
    numClasses: C,
  });
  const eig = symmetricEigen(full.dense(), full.size);
  const rng = new Rng(0).fork("fig2-batches");
  const wd = cfg.sgd.weightDecay;
  const data = new Array(full.size).fill(0);
  const reg = new Array(full.size).fill(0);
  const best = (g: Float64Array) => {
    let b = 0, ba = -1;
    eig.vectors.forEach((v, i) => {
      const d = Math.abs(v.reduce((s, x, j) => s + x * g[j], 0));
      if (d > ba) [ba, b] = [d, i];
    });
    return b;
  };
  for (let b = 0; b < cfg.batches; b++) {
    const idx = Array.from(
      { length: cfg.miniBatch },
      () => rng.int(m.data.train.n),
    );
    for (let i = 0; i < cfg.miniBatch; i++) rng.int(m.data.test.n);
    const f = new Float32Array(idx.length * D);
    const y = new Int32Array(idx.length);
    idx.forEach((j, i) => {
      f.set(trainF.subarray(j * D, (j + 1) * D), i * D);
      y[i] = m.data.train.y[j];
    });
    const c = new ClassifierCurvature(f, y, theta, { dim: D, numClasses: C });
    const g = new Float64Array(theta.length);
    const h = 1e-5;
    for (let k = 0; k < theta.length; k++) {
      const tp = theta.slice(), tm = theta.slice();
      tp[k] += h;
      tm[k] -= h;
      g[k] = (c.loss(tp) - c.loss(tm)) / (2 * h);
    }
    data[best(g)]++;
    reg[best(g.map((x, k) => x + wd * theta[k]))]++;
  }
  // the two definitions disagree here, so swapping them fails
  assertNotEquals(data, reg);
  assertEquals(r.eigIndexCounts, data);
  assertEquals(r.eigIndexCountsRegularised, reg);
  disposeTree(m.sgd.params.features, m.sgd.params.classifier);
});
