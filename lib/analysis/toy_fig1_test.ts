import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { useBackend } from "../backend.ts";
import { disposeTree } from "../tree.ts";
import { classifierVector } from "./classifier_hessian.ts";
import { fig1Config, flatWidth, runFig1 } from "./toy_fig1.ts";
import { trainToyModels } from "./toy_training.ts";
import {
  argminConvex,
  features64,
  hessian64,
  loss64,
  topEigen,
} from "../../tests/helpers/classifier64.ts";

await useBackend("cpu");

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
Deno.test("runFig1 (smoke): five layers; the final layer's lambda1, Delta L and t* equal float64 hand computations; landscapes on a shared axis", () => {
  // Fine refinement, so that the reported minima along v are exact to ~1e-9.
  const cfg = { ...fig1Config("smoke"), deltaRefine: 60 };
  const r = runFig1(cfg, { seed: 0 });
  assertEquals(r.layers.map((l) => l.layer), [1, 2, 3, 4, 5]);
  for (const l of r.layers) {
    for (const m of ["sgd", "pof"] as const) {
      assert(l.lambda1[m] > 0, JSON.stringify(l));
      assertAlmostEquals(l.tau[m], 1 / Math.sqrt(l.lambda1[m]), 1e-12);
    }
  }
  // The final layer (the classifier), recomputed by hand in float64 from the
  // same trained models: top eigenpair of the training-loss Hessian by power
  // iteration, exact minima of the (convex) losses along it on [-tau, tau].
  const t = trainToyModels(cfg, { seed: 0 });
  const d = 16, C = 4;
  const last = r.layers[4];
  for (const m of ["sgd", "pof"] as const) {
    const params = t[m]!.params;
    const Ftr = features64(cfg.hidden, params, t.data.train);
    const Fte = features64(cfg.hidden, params, t.data.test);
    const theta = classifierVector(params.classifier);
    const { H, m: size } = hessian64(Ftr, t.data.train.n, theta, d, C);
    const top = topEigen(H, size);
    assertAlmostEquals(last.lambda1[m], top.value, 1e-5 * top.value, m);
    const tau = 1 / Math.sqrt(top.value);
    const all = (n: number) => Array.from({ length: n }, (_, i) => i);
    const along = (F: Float64Array, set: "train" | "test") => (s: number) =>
      loss64(
        F,
        t.data[set].y,
        all(t.data[set].n),
        theta.map((v, i) => v + s * top.vector[i]),
        d,
        C,
      );
    const test = along(Fte, "test"), train = along(Ftr, "train");
    const tTest = argminConvex(test, -tau, tau);
    const tTrain = argminConvex(train, -tau, tau);
    const tol = 1e-6 + 1e-4 * Math.abs(test(0));
    assertAlmostEquals(last.deltaLAtPoint[m], test(0) - test(tTest), tol, m);
    assertAlmostEquals(
      last.deltaL[m],
      Math.max(0, test(tTrain) - test(tTest)),
      tol,
      m,
    );
    // v's sign is arbitrary: compare |t*| (and t_train t_test's sign agreement).
    assertAlmostEquals(Math.abs(last.tTest[m]), Math.abs(tTest), 1e-3 * tau, m);
    assertAlmostEquals(
      Math.abs(last.tTrain[m]),
      Math.abs(tTrain),
      1e-3 * tau,
      m,
    );
    assertEquals(
      Math.sign(last.tTest[m] * last.tTrain[m]),
      Math.sign(tTest * tTrain),
      m,
    );
    // PoF leaves theta0 alone, so its final-layer point is not a training
    // minimum along v; SGD's (weight-decayed) one nearly is.
    if (m === "sgd") {
      assert(
        Math.abs(tTrain) < 0.5 * tau,
        `SGD t_train ${tTrain} of tau ${tau}`,
      );
    }
  }
  assert(
    last.deltaL.sgd > 0 || last.deltaL.pof > 0,
    "no Delta L at all: the check above is vacuous",
  );
  disposeTree(
    t.sgd.params.features,
    t.sgd.params.classifier,
    t.pof!.params.features,
    t.pof!.params.classifier,
  );
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
