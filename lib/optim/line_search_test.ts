import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { useBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import { disposeTree, type Params } from "../tree.ts";
import { classifierGradient } from "./gradients.ts";
import { classifierLine, lineLoss, lineSearch } from "./line_search.ts";
import {
  type Arrays,
  disposeBatch,
  finiteDifference,
  linearLoss64,
  tinyBatch,
  tinyModel,
  toArrays,
} from "../../tests/helpers/tiny_model.ts";

await useBackend("cpu");

Deno.test("lineSearch: exact minimiser of quadratics within the stated tolerance", () => {
  const absTol = 1e-7, relTol = 1e-5;
  for (const c of [0.003, 0.01, 0.37, 1, 7.5, 42]) {
    for (const a of [0.1, 1, 30]) {
      const r = lineSearch((x) => a * (x - c) ** 2 + 1, {
        absTol,
        relTol,
        maxXi: 50,
      });
      assert(r.bracketed, `c=${c}`);
      assert(
        Math.abs(r.xi - c) <= absTol + relTol * c,
        `c=${c} a=${a}: got ${r.xi}`,
      );
      assertEquals(r.loss0, a * c * c + 1);
      assert(r.interval[0] <= r.xi && r.xi <= r.interval[1]);
      assert(r.evaluations < 120, `${r.evaluations} evaluations`);
    }
  }
});

Deno.test("lineSearch: cap, ascent direction, non-finite values", () => {
  // Minimum beyond the cap: never rises within it.
  const capped = lineSearch((x) => (x - 100) ** 2, { maxXi: 20 });
  assertEquals(capped.bracketed, false);
  assertEquals(capped.xi, 20);
  // Monotone decreasing (separable data): also unbracketed at the cap.
  const mono = lineSearch((x) => Math.log1p(Math.exp(-x)), { maxXi: 5 });
  assertEquals([mono.bracketed, mono.xi], [false, 5]);
  // Increasing from 0: stays at 0.
  const up = lineSearch((x) => x * x + x);
  assertEquals([up.xi, up.loss, up.bracketed], [0, 0, true]);
  // NaN beyond 2 counts as a rise: minimum of (x-1)^2 still found.
  const nan = lineSearch((x) => x > 2 ? NaN : (x - 1) ** 2, {
    absTol: 1e-9,
    relTol: 0,
  });
  assertAlmostEquals(nan.xi, 1, 1e-8);
});

/** Logits of `f (K - xi uK) + (b - xi ub)` in float64, mean cross-entropy. */
function directLineLoss(
  theta: Arrays,
  u: Arrays,
  f: Float64Array,
  y: Int32Array,
  xi: number,
  H: number,
  C: number,
): number {
  const t: Arrays = {
    kernel: theta.kernel.map((v, i) => v - xi * u.kernel[i]),
    bias: theta.bias.map((v, i) => v - xi * u.bias[i]),
  };
  return linearLoss64(t, f, y, { H, C });
}

Deno.test("classifierGradient equals a float64 finite difference; lineSearch on the classifier-only line matches a dense brute-force scan", () => {
  const H = 4, C = 3;
  const start = tf.memory().numTensors;
  const model = tinyModel({ inputDim: 3, hidden: H, numClasses: C });
  const rng = new Rng(21);
  const { params, state } = model.init(rng);
  let checked = 0;
  for (let trial = 0; trial < 3; trial++) {
    const weak = tinyBatch(rng, 32);
    const f = model.features(params.features, state, weak.x, {
      train: true,
      updateStats: false,
    }).features;
    const fa = Float64Array.from(f.dataSync());
    const y = Int32Array.from(weak.y.dataSync());
    const theta = toArrays(params.classifier);
    // Gradient check.
    const { loss, grads } = classifierGradient(model, params.classifier, {
      features: f,
      labels: weak.y,
    });
    const fd = finiteDifference(
      () => linearLoss64(theta, fa, y, { H, C }),
      theta,
    );
    assertAlmostEquals(
      loss.dataSync()[0],
      linearLoss64(theta, fa, y, { H, C }),
      1e-5,
    );
    const g = toArrays(grads);
    for (const k of Object.keys(fd)) {
      for (let i = 0; i < fd[k].length; i++) {
        assertAlmostEquals(g[k][i], fd[k][i], 1e-5, `${k}[${i}]`);
      }
    }
    // Unit direction, line, search.
    let sq = 0;
    for (const k of Object.keys(g)) for (const v of g[k]) sq += v * v;
    const u: Params = {};
    for (const k of Object.keys(grads)) {
      u[k] = tf.div(grads[k], Math.sqrt(sq));
    }
    const line = classifierLine(model, {
      theta: params.classifier,
      direction: u,
      features: f,
      labels: weak.y,
    });
    const ua = toArrays(u);
    const absTol = 1e-6, relTol = 1e-4;
    const r = lineSearch((xi) => lineLoss(line, xi), {
      absTol,
      relTol,
      maxXi: 50,
    });
    // The affine shortcut equals the direct evaluation.
    for (const xi of [0, 0.3, r.xi, 3]) {
      assertAlmostEquals(
        lineLoss(line, xi),
        directLineLoss(theta, ua, fa, y, xi, H, C),
        2e-6,
        `xi=${xi}`,
      );
    }
    if (r.bracketed) {
      // Dense scan on [0, 3 xi*]: the scanned argmin is within tol + spacing.
      const hi = 3 * r.xi, n = 20000, dx = hi / n;
      let best = Infinity, arg = 0;
      for (let i = 0; i <= n; i++) {
        const v = directLineLoss(theta, ua, fa, y, i * dx, H, C);
        if (v < best) {
          best = v;
          arg = i * dx;
        }
      }
      assert(
        Math.abs(r.xi - arg) <= absTol + relTol * r.xi + dx,
        `line search ${r.xi} vs scan ${arg}`,
      );
      assert(r.loss <= best + 1e-6, `${r.loss} > ${best}`);
      assert(r.loss < r.loss0);
      checked++;
    }
    disposeBatch(weak);
    disposeTree(u, grads);
    loss.dispose();
    f.dispose();
  }
  assert(checked >= 2, `only ${checked} weak batches had a bracketed minimum`);
  disposeTree(params.features, params.classifier, state);
  assertEquals(tf.memory().numTensors, start);
});

Deno.test("lineLoss: float64 log-sum-exp keeps tiny losses of well-separated examples", () => {
  // Two classes, logits (m, 0) at xi: loss = log(1 + exp(-m)) with m = 2 + 30 xi.
  const line = {
    z0: new Float64Array([2, 0]),
    dz: new Float64Array([30, 0]),
    labels: new Int32Array([0]),
    batch: 1,
    classes: 2,
  };
  for (const xi of [0, 1, 10, 20]) {
    const m = 2 + 30 * xi;
    const want = Math.log1p(Math.exp(-m));
    const got = lineLoss(line, xi);
    assert(Math.abs(got - want) <= 1e-12 * want, `xi=${xi}: ${got} vs ${want}`);
  }
  // Wrong label: loss = m + log1p(exp(-m)).
  const wrong = { ...line, labels: new Int32Array([1]) };
  assertAlmostEquals(lineLoss(wrong, 1), 32 + Math.log1p(Math.exp(-32)), 1e-12);
  // Still decreasing at xi = 20 (loss ~ 1e-262): the search reports no rise.
  assertEquals(
    lineSearch((x) => lineLoss(line, x), { maxXi: 20 }).bracketed,
    false,
  );
});
