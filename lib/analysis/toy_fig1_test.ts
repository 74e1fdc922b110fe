import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { useBackend } from "../backend.ts";
import { fig1Config, flatWidth, runFig1 } from "./toy_fig1.ts";

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
