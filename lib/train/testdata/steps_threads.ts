/**
 * Test helper: runs 5 steps each of SGD, SAM and PoF on a small WRN with the
 * `wasm` backend at a given thread count, from fixed seeds, and prints one
 * JSON line: the backend's thread count and, per method, the loss of every
 * step and every parameter after the last step (features and classifier,
 * keyed `features/<name>`, `classifier/<name>`). The thread-equality test
 * compares the output of different thread counts.
 *
 * Usage: deno run -A --import-map=tools/offline_import_map.json
 *   lib/train/testdata/steps_threads.ts <threads>
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { parseThreads, useBackend } from "../../backend.ts";
import { Rng } from "../../rng.ts";
import { wideResNet } from "../../models/wide_resnet.ts";
import { sgdMethod } from "../../optim/sgd.ts";
import { samMethod } from "../../optim/sam.ts";
import { pofMethod } from "../../optim/pof.ts";
import type { Method, TrainState } from "../../optim/method.ts";
import type { Batch } from "../../data/batch.ts";

/** What {@link stepsAtThreads} returns for one method. */
export interface MethodTrace {
  losses: number[];
  params: Record<string, number[]>;
}

/** Steps per method. */
export const STEPS = 5;

function batch(rng: Rng, n: number): Batch {
  return {
    x: tf.tensor(rng.normalArray(n * 16 * 16 * 3), [n, 16, 16, 3]),
    y: tf.tensor1d(Array.from({ length: n }, () => rng.int(10)), "int32"),
  };
}

/**
 * Runs {@link STEPS} steps of SGD, SAM and PoF (each from the same seeds) on
 * a WRN-10-1 with 16x16x3 inputs, batch 16 (PoF's weak batches: 4), on the
 * active backend.
 *
 * @example
 * ```ts ignore
 * import { useBackend } from "../../backend.ts";
 * import { stepsAtThreads } from "./steps_threads.ts";
 * await useBackend("wasm", { threads: 2 });
 * console.log(stepsAtThreads().sgd.losses);
 * ```
 */
export function stepsAtThreads(): Record<string, MethodTrace> {
  const model = wideResNet({
    depth: 10,
    widen: 1,
    numClasses: 10,
    inputShape: [16, 16, 3],
  });
  const methods: Record<string, () => Method> = {
    sgd: () => sgdMethod({ lr: 0.05, momentum: 0.9, weightDecay: 5e-4 }),
    sam: () => samMethod({ lr: 0.05, rho: 0.05, momentum: 0.9 }),
    pof: () => pofMethod({ lr: 0.01 }),
  };
  const out: Record<string, MethodTrace> = {};
  for (const [name, make] of Object.entries(methods)) {
    const method = make();
    const rng = new Rng(11);
    const init = model.init(rng);
    let state: TrainState = {
      params: init.params,
      bn: init.state,
      opt: method.initOpt(init.params),
    };
    const losses: number[] = [];
    for (let s = 0; s < STEPS; s++) {
      const b = batch(rng, 16);
      const weak: Batch[] = [];
      const r = method.step(model, state, {
        batch: b,
        weakBatch: () => {
          const w = batch(rng, 4);
          weak.push(w);
          return w;
        },
      }, rng);
      state = r.state;
      losses.push(r.metrics.loss);
      tf.dispose([b.x, b.y, ...weak.flatMap((w) => [w.x, w.y])]);
    }
    const params: Record<string, number[]> = {};
    for (const group of ["features", "classifier"] as const) {
      for (const [k, t] of Object.entries(state.params[group])) {
        params[`${group}/${k}`] = Array.from(t.dataSync());
      }
    }
    out[name] = { losses, params };
  }
  return out;
}

if (import.meta.main) {
  const threads = parseThreads(Deno.args[0] ?? "");
  const info = await useBackend("wasm", { threads });
  console.log(JSON.stringify({ threads: info.threads, ...stepsAtThreads() }));
}
