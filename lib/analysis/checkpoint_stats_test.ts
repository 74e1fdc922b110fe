import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertThrows,
} from "@std/assert";
import { useBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import { mlp } from "../models/mlp.ts";
import { softmaxCrossEntropy } from "../models/loss.ts";
import type { Batch } from "../data/batch.ts";
import {
  type BlockObjective,
  hessianVectorProduct,
  objectiveGradient,
  secondOrderCrossEntropy,
} from "./hessian.ts";
import { ClassifierCurvature, classifierVector } from "./classifier_hessian.ts";
import {
  hessianComponents,
  perturbationNorms,
  pofXiStar,
} from "./checkpoint_stats.ts";

await useBackend("cpu");

const model = mlp({
  inputDim: 3,
  hidden: [6, 5],
  numClasses: 3,
  classifierStd: 1,
});
const { params, state: bn } = model.init(new Rng(0));
const data = (() => {
  const r = new Rng(42);
  const n = 40;
  return {
    x: r.normalArray(n * 3),
    y: Int32Array.from({ length: n }, () => r.int(3)),
    n,
  };
})();
function batch(from: number, to: number): Batch {
  return {
    x: tf.tensor2d(data.x.slice(from * 3, to * 3), [to - from, 3]),
    y: tf.tensor1d(data.y.slice(from, to), "int32"),
  };
}
const RANGES = [[0, 8], [8, 16], [16, 24]];

/** Classifier-block objective over the given rows, built independently with double backprop. */
function classifierObjective(ranges: number[][]): BlockObjective {
  const total = ranges.reduce((s, [a, b]) => s + b - a, 0);
  return {
    params: params.classifier,
    chunks: ranges.map(([a, b]) => ({
      weight: (b - a) / total,
      loss: (theta) => {
        const bt = batch(a, b);
        const f =
          model.features(params.features, bn, bt.x, { train: false }).features;
        return secondOrderCrossEntropy(model.classify(theta, f), bt.y);
      },
    })),
  };
}

function quad(obj: BlockObjective, u: Float64Array): number {
  const hu = hessianVectorProduct(obj, u);
  return u.reduce((s, x, i) => s + x * hu[i], 0);
}

Deno.test("hessianComponents: u^T H_B u and u^T H_D u match double-backprop references", () => {
  const batches = RANGES.map(([a, b]) => batch(a, b));
  const out = hessianComponents(model, { params, bn }, batches, {
    dataset: [batch(0, 16), batch(16, 40)],
  });
  assert(
    batches.every((b) => b.x.isDisposed && b.y.isDisposed),
    "batches are disposed",
  );
  const full = classifierObjective([[0, 40]]);
  assertEquals(out.batch.length, 3);
  RANGES.forEach((r, i) => {
    const obj = classifierObjective([r]);
    const g = objectiveGradient(obj);
    const gn = Math.hypot(...g);
    const u = g.map((x) => x / gn);
    assertAlmostEquals(out.gradNorm[i], gn, 1e-5 * gn);
    const qb = quad(obj, u), qd = quad(full, u);
    assert(
      Math.abs(out.batch[i] - qb) < 1e-4 * qb,
      `batch ${i}: ${out.batch[i]} vs ${qb}`,
    );
    assert(
      Math.abs(out.dataset![i] - qd) < 1e-4 * qd,
      `dataset ${i}: ${out.dataset![i]} vs ${qd}`,
    );
  });
  // the two Hessians differ: the test would notice H_B and H_D swapped
  assert(Math.abs(out.batch[0] - out.dataset![0]) > 1e-3 * out.dataset![0]);
});

Deno.test("perturbationNorms: PoF gamma xi* against a brute-force line minimum", () => {
  const out = perturbationNorms(
    model,
    { params, bn },
    RANGES.map(([a, b]) => batch(a, b)),
    {
      method: "pof",
      gamma: 2,
      lineSearch: { maxXi: 50, absTol: 1e-9, relTol: 1e-9 },
    },
  );
  const theta = classifierVector(params.classifier);
  RANGES.forEach(([a, b], i) => {
    const bt = batch(a, b);
    const f =
      model.features(params.features, bn, bt.x, { train: false }).features;
    const c = new ClassifierCurvature(
      Float32Array.from(f.dataSync()),
      data.y.slice(a, b),
      theta,
      {
        dim: 5,
        numClasses: 3,
      },
    );
    const g = c.gradient();
    const gn = Math.hypot(...g);
    // brute force: fine grid, then refine around the best point
    let best = 0, bestL = c.loss();
    const along = (xi: number) =>
      c.loss(theta.map((t, j) => t - xi * g[j] / gn));
    for (let k = 1; k <= 50000; k++) {
      const xi = k * 1e-3;
      const l = along(xi);
      if (l < bestL) {
        bestL = l;
        best = xi;
      }
    }
    assert(
      best > 0 && best < 49,
      `batch ${i} has an interior minimum (${best})`,
    );
    assertAlmostEquals(out[i], 2 * best, 2 * 1.5e-3);
  });
  // asymmetric batch: the minimum runs to the cap
  const c = new ClassifierCurvature(
    Float32Array.of(1, 0),
    Int32Array.of(1),
    Float64Array.of(0, 0, 0, 0, 0, 0),
    {
      dim: 2,
      numClasses: 2,
    },
  );
  const r = pofXiStar(c, { maxXi: 7 });
  assertEquals([r.xi, r.bracketed], [7, false]);
});

Deno.test("perturbationNorms: SAM and SGD classifier-part norms", () => {
  const mk = () => RANGES.map(([a, b]) => batch(a, b));
  const sam = perturbationNorms(model, { params, bn }, mk(), {
    method: "sam",
    rho: 0.05,
  });
  const sgd = perturbationNorms(model, { params, bn }, mk(), {
    method: "sgd",
    lr: 1.6e-4,
  });
  const fKeys = Object.keys(params.features),
    cKeys = Object.keys(params.classifier);
  RANGES.forEach(([a, b], i) => {
    const bt = batch(a, b);
    const grads = tf.grads((...ts: tf.Tensor[]) => {
      const phi = Object.fromEntries(fKeys.map((k, j) => [k, ts[j]]));
      const theta = Object.fromEntries(
        cKeys.map((k, j) => [k, ts[fKeys.length + j]]),
      );
      const out = model.apply({ features: phi, classifier: theta }, bn, bt.x, {
        train: true,
        updateStats: false,
      });
      return softmaxCrossEntropy(out.logits, bt.y);
    })([
      ...fKeys.map((k) => params.features[k]),
      ...cKeys.map((k) => params.classifier[k]),
    ]);
    const sq = grads.map((g) => tf.sum(tf.square(g)).dataSync()[0]);
    const gTheta = Math.sqrt(sq.slice(fKeys.length).reduce((s, x) => s + x, 0));
    const gAll = Math.sqrt(sq.reduce((s, x) => s + x, 0));
    assertAlmostEquals(sam[i], 0.05 * gTheta / gAll, 1e-6);
    assertAlmostEquals(sgd[i], 1.6e-4 * gTheta, 1e-9);
    assert(sam[i] < 0.05 && sam[i] > 0);
  });
  assertThrows(
    () =>
      perturbationNorms(model, { params, bn }, [], { method: "adam" } as never),
    RangeError,
    "adam",
  );
});
