import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { useBackend } from "../backend.ts";
import { disposeTree, type Params } from "../tree.ts";
import { applyUpdates, sgd, type SgdState } from "./optimizer.ts";
import { stepSchedule } from "./schedule.ts";

await useBackend("cpu");

/** PyTorch's SGD step, float64, written out by hand. */
function torchSgd(
  w: number[],
  buf: number[],
  g: number[],
  o: { lr: number; mu: number; wd: number; nesterov: boolean },
): void {
  for (let i = 0; i < w.length; i++) {
    const d = g[i] + o.wd * w[i];
    buf[i] = o.mu * buf[i] + d;
    const step = o.nesterov ? d + o.mu * buf[i] : buf[i];
    w[i] -= o.lr * step;
  }
}

for (const nesterov of [true, false]) {
  Deno.test(`sgd (nesterov=${nesterov}, wd, step schedule) matches hand-computed PyTorch updates on a quadratic`, () => {
    // L(w) = 0.5 * sum a_i w_i^2, g = a * w.
    const a = [1, 3, 0.5, 2];
    const w0 = [0.7, -1.2, 2.0, 0.1];
    const lrOf = stepSchedule({
      init: 0.1,
      stepsPerEpoch: 2,
      milestones: [1, 2],
      factor: 0.5,
    });
    const cfg = { mu: 0.9, wd: 5e-4, nesterov };
    const opt = sgd({
      lr: lrOf,
      momentum: cfg.mu,
      nesterov,
      weightDecay: cfg.wd,
    });
    let params: Params = { w: tf.tensor1d(w0) };
    let state: SgdState = opt.init(params);
    const w = w0.slice(), buf = [0, 0, 0, 0];
    const start = tf.memory().numTensors;
    for (let t = 0; t < 6; t++) {
      const g = w.map((v, i) => a[i] * v);
      torchSgd(w, buf, g, {
        ...cfg,
        lr: [0.1, 0.1, 0.05, 0.05, 0.025, 0.025][t],
      });
      const grads = tf.tidy(() => ({ w: tf.mul(params.w, tf.tensor1d(a)) }));
      const [updates, next] = opt.update(grads, state, params);
      const newParams = applyUpdates(params, updates);
      disposeTree(grads, updates, params, state[1].trace);
      params = newParams;
      state = next;
      assertEquals(state[2].count, t + 1);
      assertEquals(tf.memory().numTensors, start, "tensor leak");
      const got = params.w.dataSync();
      const gotBuf = state[1].trace.w.dataSync();
      for (let i = 0; i < 4; i++) {
        assertAlmostEquals(got[i], w[i], 1e-6, `step ${t} w[${i}]`);
        assertAlmostEquals(gotBuf[i], buf[i], 1e-5, `step ${t} buf[${i}]`);
      }
    }
    disposeTree(params, state[1].trace);
  });
}

Deno.test("sgd rejects invalid settings, naming the value", () => {
  let msg = "";
  try {
    sgd({ momentum: 1.5 });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("1.5"), msg);
  try {
    sgd({ momentum: 0, nesterov: true });
    throw new Error("no error");
  } catch (e) {
    assert((e as Error).message.includes("Nesterov"));
  }
});
