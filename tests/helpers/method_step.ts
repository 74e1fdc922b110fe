/**
 * Test-only: one step of a {@link Method} on the tiny model from fixed
 * seeds, so that two methods' steps can be compared exactly (wiring tests:
 * a configuration value reaches the method iff the step equals the step of
 * a method built directly with that value).
 *
 * @module
 */
import { Rng } from "../../lib/rng.ts";
import { disposeTree } from "../../lib/tree.ts";
import type { Method, StepMetrics } from "../../lib/optim/method.ts";
import {
  type Arrays,
  disposeBatch,
  tinyBatch,
  tinyModel,
  toArrays,
} from "./tiny_model.ts";

/** Parameters after the step, and its metrics. */
export interface StepOutcome {
  features: Arrays;
  classifier: Arrays;
  metrics: StepMetrics;
}

/**
 * Runs `steps` steps of `method` (default 1) from the tiny model's seed-1
 * initialisation, the optimizer's step count starting at `count` (default
 * 0), on fixed batches of 16 (weak batches of 8) with the step's `rng`
 * seeded `rngSeed` (default 4). Returns the final parameters and the last
 * step's metrics; disposes everything.
 *
 * @example
 * ```ts
 * import { useBackend } from "../../lib/backend.ts";
 * await useBackend("cpu");
 * import { sgdMethod } from "../../lib/optim/sgd.ts";
 * import { stepOutcome } from "./method_step.ts";
 * const a = stepOutcome(sgdMethod({ lr: 0.1 })), b = stepOutcome(sgdMethod({ lr: 0.1 }));
 * if (a.metrics.lr !== 0.1 || a.features["dense.kernel"][0] !== b.features["dense.kernel"][0]) throw new Error();
 * ```
 */
export function stepOutcome(
  method: Method,
  options: { count?: number; steps?: number; rngSeed?: number } = {},
): StepOutcome {
  const model = tinyModel();
  const init = model.init(new Rng(1));
  const opt = method.initOpt(init.params);
  let state = {
    params: init.params,
    bn: init.state,
    opt: { ...opt, count: options.count ?? 0 },
  };
  const data = new Rng(2);
  const batch = tinyBatch(data, 16);
  const weak: ReturnType<typeof tinyBatch>[] = [];
  const rng = new Rng(options.rngSeed ?? 4);
  let metrics: StepMetrics = { loss: NaN, lr: NaN };
  for (let s = 0; s < (options.steps ?? 1); s++) {
    const r = method.step(model, state, {
      batch,
      weakBatch: () => {
        const w = tinyBatch(data, 8);
        weak.push(w);
        return w;
      },
    }, rng);
    state = r.state;
    metrics = r.metrics;
  }
  const out = {
    features: toArrays(state.params.features),
    classifier: toArrays(state.params.classifier),
    metrics,
  };
  disposeBatch(batch, ...weak);
  disposeTree(
    state.params.features,
    state.params.classifier,
    state.bn,
    ...Object.values(state.opt.slots),
  );
  return out;
}

/**
 * The largest absolute difference between two outcomes' parameters.
 *
 * @example
 * ```ts
 * import { maxParamDiff } from "./method_step.ts";
 * const o = (v: number) => ({ features: { w: Float64Array.of(v) }, classifier: {}, metrics: { loss: 0, lr: 0 } });
 * if (maxParamDiff(o(1), o(1.5)) !== 0.5) throw new Error();
 * ```
 */
export function maxParamDiff(a: StepOutcome, b: StepOutcome): number {
  let d = 0;
  for (const g of ["features", "classifier"] as const) {
    for (const k of Object.keys(a[g])) {
      a[g][k].forEach((v, i) => (d = Math.max(d, Math.abs(v - b[g][k][i]))));
    }
  }
  return d;
}
