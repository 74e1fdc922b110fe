import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { useBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import { cloneTree, disposeTree } from "../tree.ts";
import type { TrainState } from "./method.ts";
import { samMethod } from "./sam.ts";
import { sgdMethod } from "./sgd.ts";
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

function copy(a: Arrays): Arrays {
  const out: Arrays = {};
  for (const [k, v] of Object.entries(a)) out[k] = v.slice();
  return out;
}

function assertClose(got: Arrays, want: Arrays, tol: number, what: string) {
  for (const k of Object.keys(want)) {
    for (let i = 0; i < want[k].length; i++) {
      assertAlmostEquals(got[k][i], want[k][i], tol, `${what} ${k}[${i}]`);
    }
  }
}

function disposeState(s: TrainState) {
  disposeTree(
    s.params.features,
    s.params.classifier,
    s.bn,
    s.opt.slots.momentum,
  );
}

for (const adaptive of [false, true]) {
  Deno.test(`samMethod (adaptive=${adaptive}): two steps equal hand-computed SAM updates (float64 finite differences)`, () => {
    const start = tf.memory().numTensors;
    const model = tinyModel();
    const rng = new Rng(5);
    const init = model.init(rng);

    // The paper's weight decay 5e-4, and float32-tight tolerances.
    const rho = adaptive ? 0.5 : 0.05, eta = 0.01;
    const lr = 0.2, mu = 0.9, wd = 5e-4, tol = 2e-7;
    const method = samMethod({
      rho,
      adaptive,
      lr,
      momentum: mu,
      nesterov: true,
      weightDecay: wd,
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
    // One float64 SAM step from (phi, theta, buf); `decayedEps` is the bug of
    // perturbing along g + wd w instead of g (computed to show the margin).
    const refStep = (
      decayedEps: boolean,
      b: { x: Float64Array; y: Int32Array },
    ) => {
      const p = copy(phi), th = copy(theta), bf = copy(buf);
      const f1 = () => tinyLoss64(p, th, b, sizes);
      const g1 = { ...finiteDifference(f1, p), ...finiteDifference(f1, th) };
      const all = { ...p, ...th };
      if (decayedEps) {
        for (const k of Object.keys(g1)) {
          g1[k] = g1[k].map((v, i) => v + wd * all[k][i]);
        }
      }
      // epsilon = rho * T^2 g / ||T g||  (T = 1 for plain SAM)
      const T = (k: string, i: number) =>
        adaptive ? Math.abs(all[k][i]) + eta : 1;
      let sq = 0;
      for (const k of Object.keys(g1)) {
        for (let i = 0; i < g1[k].length; i++) sq += (T(k, i) * g1[k][i]) ** 2;
      }
      const nrm = Math.sqrt(sq);
      const phiE = copy(p), thetaE = copy(th);
      let epsSq = 0;
      for (const tree of [phiE, thetaE]) {
        for (const k of Object.keys(tree)) {
          for (let i = 0; i < tree[k].length; i++) {
            const e = rho * T(k, i) ** 2 * g1[k][i] / nrm;
            epsSq += e * e;
            tree[k][i] += e;
          }
        }
      }
      const f2 = () => tinyLoss64(phiE, thetaE, b, sizes);
      const g2 = {
        ...finiteDifference(f2, phiE),
        ...finiteDifference(f2, thetaE),
      };
      for (const tree of [p, th]) {
        for (const k of Object.keys(tree)) {
          for (let i = 0; i < tree[k].length; i++) {
            const d = g2[k][i] + wd * tree[k][i];
            bf[k][i] = mu * bf[k][i] + d;
            tree[k][i] -= lr * (d + mu * bf[k][i]);
          }
        }
      }
      return { phi: p, theta: th, buf: bf, epsNorm: Math.sqrt(epsSq) };
    };
    const maxDiff = (a: Arrays, b: Arrays) =>
      Math.max(
        ...Object.keys(a).flatMap((k) =>
          Array.from(a[k], (v, i) => Math.abs(v - b[k][i]))
        ),
      );
    for (let t = 0; t < 2; t++) {
      const batch = tinyBatch(rng, 8);
      const b = batchArrays(batch);
      const loss0 = tinyLoss64(phi, theta, b, sizes);
      const want = refStep(false, b);
      const buggy = refStep(true, b);
      // The test's power: perturbing along the weight-decayed gradient moves
      // the parameters by far more than the tolerance.
      const margin = Math.max(
        maxDiff(want.phi, buggy.phi),
        maxDiff(want.theta, buggy.theta),
      );
      assert(margin > 10 * tol, `margin ${margin} vs tolerance ${tol}`);
      Object.assign(phi, want.phi);
      Object.assign(theta, want.theta);
      Object.assign(buf, want.buf);
      const epsSq = want.epsNorm ** 2;
      // BN statistics move once, from the pass at w: same as an SGD step's.
      const sgdRef = sgdMethod({ lr }).step(
        model,
        {
          params: {
            features: cloneTree(state.params.features),
            classifier: cloneTree(state.params.classifier),
          },
          bn: cloneTree(state.bn),
          opt: sgdMethod().initOpt(state.params),
        },
        { batch },
        rng,
      ).state;
      const r = method.step(model, state, { batch }, rng);
      state = r.state;
      assertEquals(r.metrics.skipped, 0);
      assertAlmostEquals(r.metrics.loss, loss0, 1e-5);
      assertAlmostEquals(r.metrics.samEpsilonNorm!, Math.sqrt(epsSq), 1e-5);
      if (!adaptive) assertAlmostEquals(r.metrics.samEpsilonNorm!, rho, 1e-6);
      assertClose(toArrays(state.params.features), phi, tol, `step ${t} phi`);
      assertClose(
        toArrays(state.params.classifier),
        theta,
        tol,
        `step ${t} theta`,
      );
      assertEquals(toArrays(state.bn), toArrays(sgdRef.bn));
      disposeState(sgdRef);
      disposeBatch(batch);
    }
    disposeState(state);
    assertEquals(tf.memory().numTensors, start);
  });
}
