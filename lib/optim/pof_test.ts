import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { useBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import { cloneTree, disposeTree } from "../tree.ts";
import type { TrainState } from "./method.ts";
import type { Batch } from "../data/batch.ts";
import { pofMethod } from "./pof.ts";
import { sgdMethod } from "./sgd.ts";
import {
  type Arrays,
  batchArrays,
  disposeBatch,
  finiteDifference,
  linearLoss64,
  tinyBatch,
  tinyFeatures64,
  tinyLoss64,
  tinyModel,
  toArrays,
} from "../../tests/helpers/tiny_model.ts";

await useBackend("cpu");

const D = 3, H = 4, C = 3;
const sizes = { D, H, C };

function disposeState(s: TrainState) {
  disposeTree(
    s.params.features,
    s.params.classifier,
    s.bn,
    s.opt.slots.momentum,
  );
}

function cloneState(s: TrainState): TrainState {
  return {
    params: {
      features: cloneTree(s.params.features),
      classifier: cloneTree(s.params.classifier),
    },
    bn: cloneTree(s.bn),
    opt: {
      slots: { momentum: cloneTree(s.opt.slots.momentum) },
      count: s.opt.count,
    },
  };
}

function assertClose(got: Arrays, want: Arrays, tol: number, what: string) {
  for (const k of Object.keys(want)) {
    assertEquals(got[k].length, want[k].length);
    for (let i = 0; i < want[k].length; i++) {
      assertAlmostEquals(got[k][i], want[k][i], tol, `${what} ${k}[${i}]`);
    }
  }
}

Deno.test("PoF with gamma = 0 equals SGD on phi with theta frozen (same batches, 4 steps, 1e-6)", () => {
  const start = tf.memory().numTensors;
  const model = tinyModel();
  const rng = new Rng(8);
  const init = model.init(rng);
  const cfg = { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 };
  const pof = pofMethod({ ...cfg, gamma: { kind: "fixed", value: 0 } });
  const sgd = sgdMethod({ ...cfg, trainable: "features" });
  let a: TrainState = {
    params: init.params,
    bn: init.state,
    opt: pof.initOpt(init.params),
  };
  let b = cloneState(a);
  disposeTree(b.opt.slots.momentum);
  b.opt = sgd.initOpt(b.params);
  disposeTree(a.opt.slots.momentum);
  a.opt = pof.initOpt(a.params);
  const weak: Batch[] = [];
  for (let t = 0; t < 4; t++) {
    const batch = tinyBatch(rng, 16);
    const ra = pof.step(model, a, {
      batch,
      weakBatch: () => {
        const w = tinyBatch(rng, 8);
        weak.push(w);
        return w;
      },
    }, rng);
    const rb = sgd.step(model, b, { batch }, rng);
    a = ra.state;
    b = rb.state;
    assertEquals(ra.metrics.gamma, 0);
    assertEquals(ra.metrics.perturbationNorm, 0);
    assert(ra.metrics.xi! > 0);
    assertAlmostEquals(ra.metrics.loss, rb.metrics.loss, 1e-6);
    assertClose(
      toArrays(a.params.features),
      toArrays(b.params.features),
      1e-6,
      `step ${t} phi`,
    );
    assertEquals(toArrays(a.params.classifier), toArrays(b.params.classifier));
    assertClose(toArrays(a.bn), toArrays(b.bn), 1e-6, `step ${t} bn`);
    disposeBatch(batch);
  }
  assertEquals(toArrays(a.params.classifier), toArrays(init.params.classifier));
  disposeBatch(...weak);
  disposeState(a);
  disposeState(b);
  assertEquals(tf.memory().numTensors, start);
});

/** Float64 normalised classifier gradient of the weak batch (analytic softmax gradient). */
function unitGradient64(theta: Arrays, f: Float64Array, y: Int32Array) {
  const n = y.length;
  const gK = new Float64Array(H * C), gb = new Float64Array(C);
  for (let i = 0; i < n; i++) {
    const z = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      z[c] = theta.bias[c];
      for (let j = 0; j < H; j++) {
        z[c] += f[i * H + j] * theta.kernel[j * C + c];
      }
    }
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((p, q) => p + q, 0);
    for (let c = 0; c < C; c++) {
      const d = (e[c] / s - (y[i] === c ? 1 : 0)) / n;
      gb[c] += d;
      for (let j = 0; j < H; j++) gK[j * C + c] += f[i * H + j] * d;
    }
  }
  let sq = 0;
  for (const v of gK) sq += v * v;
  for (const v of gb) sq += v * v;
  const nrm = Math.sqrt(sq);
  return { kernel: gK.map((v) => v / nrm), bias: gb.map((v) => v / nrm) };
}

for (const weakBatchNorm of ["batch", "inference"] as const) {
  Deno.test(`PoF (weak BN "${weakBatchNorm}"): xi* matches a brute-force scan and the phi step equals a float64 finite difference of L(phi, theta0 - gamma xi* u)`, () => {
    const start = tf.memory().numTensors;
    const model = tinyModel();
    const rng = new Rng(31);
    const init = model.init(rng);
    // Non-trivial running statistics for the inference policy.
    disposeTree(init.state);
    init.state = {
      "bn.mean": tf.tensor1d([0.1, -0.2, 0.3, 0.0]),
      "bn.variance": tf.tensor1d([0.8, 1.3, 0.6, 1.1]),
    };
    const gamma = 1.5, lr = 0.1;
    const method = pofMethod({
      lr,
      momentum: 0,
      nesterov: false,
      weightDecay: 0,
      gamma: { kind: "fixed", value: gamma },
      weakBatchNorm,
      lineSearch: { absTol: 1e-7, relTol: 1e-6 },
    });
    const state: TrainState = {
      params: init.params,
      bn: init.state,
      opt: method.initOpt(init.params),
    };
    const phi = toArrays(state.params.features);
    const theta = toArrays(state.params.classifier);
    const running = {
      mean: Float64Array.from(state.bn["bn.mean"].dataSync()),
      variance: Float64Array.from(state.bn["bn.variance"].dataSync()),
    };
    const weak = tinyBatch(rng, 32);
    const batch = tinyBatch(rng, 16);
    const w = batchArrays(weak), b = batchArrays(batch);
    let calls = 0;
    const r = method.step(model, state, {
      batch,
      weakBatch: () => {
        calls++;
        return weak;
      },
    }, rng);
    assertEquals([calls, r.metrics.skipped, r.metrics.discarded], [1, 0, 0]);
    // Independent weak-batch quantities in float64.
    const fw = tinyFeatures64(
      phi,
      w.x,
      32,
      sizes,
      weakBatchNorm === "inference" ? running : undefined,
    );
    const u = unitGradient64(theta, fw, w.y);
    const lineAt = (xi: number) =>
      linearLoss64(
        {
          kernel: theta.kernel.map((v, i) => v - xi * u.kernel[i]),
          bias: theta.bias.map((v, i) => v - xi * u.bias[i]),
        },
        fw,
        w.y,
        { H, C },
      );
    const xi = r.metrics.xi!;
    assertAlmostEquals(r.metrics.weakLossBefore!, lineAt(0), 1e-5);
    assertAlmostEquals(r.metrics.weakLossAfter!, lineAt(xi), 1e-5);
    const n = 20000, hi = 3 * xi;
    let best = Infinity, arg = 0;
    for (let i = 0; i <= n; i++) {
      const v = lineAt(i * hi / n);
      if (v < best) [best, arg] = [v, i * hi / n];
    }
    assert(Math.abs(arg - xi) <= 1e-4 * xi + hi / n, `xi ${xi} vs scan ${arg}`);
    assertEquals(r.metrics.gamma, gamma);
    assertAlmostEquals(r.metrics.perturbationNorm!, gamma * xi, 1e-12);
    // phi step = -lr * dL_B~(phi, theta')/dphi, gradient by central differences.
    const thetaP: Arrays = {
      kernel: theta.kernel.map((v, i) => v - gamma * xi * u.kernel[i]),
      bias: theta.bias.map((v, i) => v - gamma * xi * u.bias[i]),
    };
    const lossP = () => tinyLoss64(phi, thetaP, b, sizes);
    assertAlmostEquals(r.metrics.loss, lossP(), 1e-5);
    // the comparable loss: the same update batch at theta0 (not at theta')
    const loss0 = tinyLoss64(phi, theta, b, sizes);
    assertAlmostEquals(r.metrics.lossAtTheta0!, loss0, 1e-5);
    assert(Math.abs(loss0 - lossP()) > 1e-3);
    assertEquals([r.metrics.lineSearches, r.metrics.xiCapped], [1, 0]);
    const g = finiteDifference(lossP, phi);
    const want: Arrays = {};
    for (const k of Object.keys(phi)) {
      want[k] = phi[k].map((v, i) => v - lr * g[k][i]);
    }
    const got = toArrays(r.state.params.features);
    for (const k of Object.keys(want)) {
      for (let i = 0; i < want[k].length; i++) {
        // Compare the implied gradient (got - phi) / -lr to the FD gradient.
        assertAlmostEquals(
          (phi[k][i] - got[k][i]) / lr,
          g[k][i],
          2e-5 + 1e-4 * Math.abs(g[k][i]),
          `${k}[${i}]`,
        );
      }
    }
    // The gradient at theta' differs from the one at theta0 (the test would catch gamma being ignored).
    const g0 = finiteDifference(() => tinyLoss64(phi, theta, b, sizes), phi);
    assert(
      Object.keys(g).some((k) =>
        g[k].some((v, i) => Math.abs(v - g0[k][i]) > 1e-3)
      ),
    );
    assertEquals(toArrays(r.state.params.classifier), theta);
    disposeBatch(weak, batch);
    disposeState(r.state);
    assertEquals(tf.memory().numTensors, start);
  });
}

Deno.test("PoF classifierStep: theta takes an SGD step with the gradient of L_B~(phi_new, theta0)", () => {
  const start = tf.memory().numTensors;
  const model = tinyModel();
  const rng = new Rng(4);
  const init = model.init(rng);
  const lr = 0.2;
  const method = pofMethod({
    lr,
    momentum: 0,
    nesterov: false,
    weightDecay: 0,
    classifierStep: true,
  });
  const state: TrainState = {
    params: init.params,
    bn: init.state,
    opt: method.initOpt(init.params),
  };
  const theta = toArrays(state.params.classifier);
  const weak = tinyBatch(rng, 32), batch = tinyBatch(rng, 16);
  const b = batchArrays(batch);
  const r = method.step(model, state, { batch, weakBatch: () => weak }, rng);
  const phiNew = toArrays(r.state.params.features);
  const f = tinyFeatures64(phiNew, b.x, 16, sizes);
  const g = finiteDifference(
    () => linearLoss64(theta, f, b.y, { H, C }),
    theta,
  );
  const want: Arrays = {};
  for (const k of Object.keys(theta)) {
    want[k] = theta[k].map((v, i) => v - lr * g[k][i]);
  }
  assertClose(toArrays(r.state.params.classifier), want, 1e-5, "theta");
  assertEquals(Object.keys(r.state.opt.slots.momentum).length, 6);
  disposeBatch(weak, batch);
  disposeState(r.state);
  assertEquals(tf.memory().numTensors, start);
});

Deno.test("PoF discardAsymmetric: weak batches whose line loss never rises are discarded and resampled (bounded)", () => {
  const start = tf.memory().numTensors;
  const model = tinyModel({ batchNorm: false });
  const rng = new Rng(12);
  const init = model.init(rng);
  const made: Batch[] = [];
  // One example: the loss falls along -u forever (never rises within the cap).
  const single = () => {
    const w = tinyBatch(rng, 1);
    made.push(w);
    return w;
  };
  const good = () => {
    const w = tinyBatch(rng, 32);
    made.push(w);
    return w;
  };
  let state: TrainState = {
    params: init.params,
    bn: init.state,
    opt: { slots: { momentum: {} }, count: 0 },
  };
  const method = pofMethod({
    discardAsymmetric: true,
    maxDiscards: 3,
    lineSearch: { maxXi: 20 },
  });
  state.opt = method.initOpt(state.params);
  const batch = tinyBatch(rng, 8);
  // Two asymmetric batches, then a regular one.
  let calls = 0;
  const seq = () => (++calls <= 2 ? single() : good());
  let r = method.step(model, state, { batch, weakBatch: seq }, rng);
  assertEquals([r.metrics.discarded, calls, r.metrics.skipped], [2, 3, 0]);
  // three line searches, the two discarded ones still falling at the cap
  assertEquals([r.metrics.lineSearches, r.metrics.xiCapped], [3, 2]);
  assert(r.metrics.xi! < 20);
  state = r.state;
  // Always asymmetric: gives up after maxDiscards and uses xi* = maxXi.
  calls = 0;
  r = method.step(model, state, {
    batch,
    weakBatch: () => {
      calls++;
      return single();
    },
  }, rng);
  assertEquals([r.metrics.discarded, calls, r.metrics.xi], [3, 4, 20]);
  assertEquals([r.metrics.lineSearches, r.metrics.xiCapped], [4, 4]);
  // Without the option the single-example batch is used directly.
  const plain = pofMethod({ lineSearch: { maxXi: 20 } });
  calls = 0;
  const r2 = plain.step(model, r.state, {
    batch,
    weakBatch: () => {
      calls++;
      return single();
    },
  }, rng);
  assertEquals([r2.metrics.discarded, calls, r2.metrics.xi], [0, 1, 20]);
  assertEquals([r2.metrics.lineSearches, r2.metrics.xiCapped], [1, 1]);
  disposeBatch(batch, ...made);
  disposeState(r2.state);
  assertEquals(tf.memory().numTensors, start);
});
