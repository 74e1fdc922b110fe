/**
 * The epoch / step loop: trains a {@link TrainState} with a {@link Method}
 * over the batches of a {@link TrainData}, evaluates at the end of every
 * epoch, appends the epoch's metrics and hands back control for
 * checkpointing. Everything random comes from the explicit `rng` and the
 * loader's own state, both of which the caller checkpoints, so a resumed
 * loop continues bit-for-bit (cpu backend).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { Model } from "../models/model.ts";
import { countErrors, softmaxCrossEntropy } from "../models/loss.ts";
import type { Rng } from "../rng.ts";
import type { Batch, EvalData, TrainData } from "../data/batch.ts";
import type { Method, StepMetrics, TrainState } from "../optim/method.ts";
import type { EpochRecord } from "./metrics_log.ts";
import type { ProgressState } from "./progress.ts";

/**
 * Thrown when a step's loss is not finite; the last checkpoint stays valid.
 *
 * @example
 * ```ts
 * import { NonFiniteLossError } from "./loop.ts";
 * if (new NonFiniteLossError("x").name !== "NonFiniteLossError") throw new Error();
 * ```
 */
export class NonFiniteLossError extends Error {
  override name = "NonFiniteLossError";
}

/**
 * Loss and error (%) of the model on every batch of `data`, in inference
 * mode (BatchNorm running statistics).
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { evaluate } from "./loop.ts";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import type { Model } from "../models/model.ts";
 * // A "model" whose logits are its inputs.
 * const model = { apply: (_p: unknown, s: unknown, x: tf.Tensor) =>
 *   ({ logits: x.clone(), features: x.clone(), state: s }) } as unknown as Model;
 * const data = { size: 2, batches: () => [{ x: tf.tensor2d([[2, 0], [0, 2]]), y: tf.tensor1d([0, 0], "int32") }] };
 * const r = evaluate(model, { params: { features: {}, classifier: {} }, bn: {}, opt: { slots: {}, count: 0 } }, data);
 * if (r.error !== 50) throw new Error(String(r.error));
 * ```
 */
export function evaluate(
  model: Model,
  state: TrainState,
  data: EvalData,
): { loss: number; error: number } {
  let lossSum = 0, errors = 0, n = 0;
  for (const batch of data.batches()) {
    const bs = batch.y.shape[0];
    const [l, e] = tf.tidy(() => {
      const r = model.apply(state.params, state.bn, batch.x, { train: false });
      return [
        softmaxCrossEntropy(r.logits, batch.y).dataSync()[0],
        countErrors(r.logits, batch.y),
      ];
    });
    lossSum += l * bs;
    errors += e;
    n += bs;
    batch.x.dispose();
    batch.y.dispose();
  }
  if (n === 0) throw new Error("evaluate: the evaluation data has no examples");
  return { loss: lossSum / n, error: (100 * errors) / n };
}

/** Inputs of {@link trainEpoch}. */
export interface EpochOptions {
  model: Model;
  method: Method;
  data: TrainData;
  /** 0-based index of the epoch to train (the record says `epoch + 1`). */
  epoch: number;
  rng: Rng;
  /**
   * Test set, evaluated at the end of the epoch (omitted: not evaluated, the
   * record's test loss and error are NaN).
   */
  test?: EvalData;
  /**
   * A fixed training subset evaluated (inference mode) for the train error
   * (omitted: not evaluated, the record's train error is NaN).
   */
  trainEval?: EvalData;
  /** Take at most this many steps (a rehearsal; omitted: the whole epoch). */
  maxSteps?: number;
  /** Called after each step with progress (may be omitted). */
  onStep?: (
    p: Omit<ProgressState, "label" | "lastEpoch" | "etaSeconds">,
  ) => void;
}

function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/**
 * Step metrics averaged over the epoch into `EpochRecord.telemetry`. Beside
 * their means the record gets `xiCapFraction` (PoF: the sum of `xiCapped`
 * over the sum of `lineSearches`, the fraction of line searches whose loss
 * still fell at `maxXi`) and `xiMedian` (median of the steps' xi*).
 */
const TELEMETRY_KEYS: (keyof StepMetrics)[] = [
  "xi",
  "gamma",
  "perturbationNorm",
  "weakLossBefore",
  "weakLossAfter",
  "discarded",
  "skipped",
  "samEpsilonNorm",
  "lossAtTheta0",
];

/**
 * Trains one epoch and evaluates. Returns the new state (the input state's
 * replaced tensors are disposed by the method) and the epoch's record.
 * Throws {@link NonFiniteLossError} on a non-finite loss (the state passed in
 * has then been consumed; the caller's last checkpoint is the way back).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * import { Rng } from "../rng.ts";
 * import { buildRun } from "./build.ts";
 * import { trainEpoch } from "./loop.ts";
 * await useBackend("cpu");
 * const parts = await buildRun({ dataset: "toy", model: { kind: "mlp", hidden: [8] }, method: { name: "sgd" },
 *   seed: 0, epochs: 1, batchSize: 64, schedule: { baseLr: 0.1, milestones: [], factor: 1 },
 *   momentum: 0.9, weightDecay: 0, keepEpochs: [], testLimit: 64 }, { optEpochOffset: 0 });
 * const init = parts.model.init(new Rng(0));
 * const state = { params: init.params, bn: init.state, opt: parts.method.initOpt(init.params) };
 * const { record } = trainEpoch(state, { ...parts, data: parts.train, epoch: 0, rng: new Rng(1) });
 * if (record.epoch !== 1 || record.steps !== 8 || record.lr !== 0.1) throw new Error(JSON.stringify(record));
 * ```
 */
export function trainEpoch(
  state: TrainState,
  o: EpochOptions,
): { state: TrainState; record: EpochRecord } {
  o.data.startEpoch(o.epoch);
  const steps = Math.min(o.data.stepsPerEpoch, o.maxSteps ?? Infinity);
  let lossSum = 0, images = 0, lr = NaN;
  const tele: Record<string, number> = {};
  const teleN: Record<string, number> = {};
  const xis: number[] = [];
  let lineSearches = 0, xiCapped = 0;
  const t0 = performance.now();
  for (let step = 0; step < steps; step++) {
    const batch = o.data.next();
    const weakBatches: Batch[] = [];
    const weak = o.data.weak
      ? () => {
        const b = o.data.weak!();
        weakBatches.push(b);
        return b;
      }
      : undefined;
    const out = o.method.step(
      o.model,
      state,
      { batch, weakBatch: weak },
      o.rng,
    );
    images += batch.y.shape[0];
    batch.x.dispose();
    batch.y.dispose();
    for (const b of weakBatches) {
      b.x.dispose();
      b.y.dispose();
    }
    state = out.state;
    const m = out.metrics;
    if (!Number.isFinite(m.loss)) {
      throw new NonFiniteLossError(
        `non-finite training loss ${m.loss} at epoch ${o.epoch + 1}, step ${
          step + 1
        }/${steps} (method ${o.method.name}, lr ${m.lr}); the run stops here and its last checkpoint is kept`,
      );
    }
    lossSum += m.loss;
    lr = m.lr;
    for (const k of TELEMETRY_KEYS) {
      const v = m[k];
      if (typeof v === "number" && Number.isFinite(v)) {
        tele[k] = (tele[k] ?? 0) + v;
        teleN[k] = (teleN[k] ?? 0) + 1;
      }
    }
    if (typeof m.xi === "number" && Number.isFinite(m.xi)) xis.push(m.xi);
    lineSearches += m.lineSearches ?? 0;
    xiCapped += m.xiCapped ?? 0;
    o.onStep?.({
      epoch: o.epoch + 1,
      step: step + 1,
      stepsPerEpoch: steps,
      loss: lossSum / (step + 1),
      imagesPerSecond: images / ((performance.now() - t0) / 1000 || 1e-9),
    });
  }
  const seconds = (performance.now() - t0) / 1000;
  const skipped = { loss: NaN, error: NaN };
  const test = o.test ? evaluate(o.model, state, o.test) : skipped;
  const train = o.trainEval ? evaluate(o.model, state, o.trainEval) : skipped;
  const record: EpochRecord = {
    epoch: o.epoch + 1,
    method: o.method.name,
    trainLoss: steps > 0 ? lossSum / steps : NaN,
    trainError: train.error,
    testLoss: test.loss,
    testError: test.error,
    lr,
    steps,
    seconds,
  };
  const keys = Object.keys(tele);
  if (keys.length) {
    record.telemetry = {};
    for (const k of keys) record.telemetry[k] = tele[k] / teleN[k];
  }
  if (lineSearches > 0) {
    record.telemetry ??= {};
    record.telemetry.xiCapFraction = xiCapped / lineSearches;
  }
  if (xis.length > 0) {
    record.telemetry ??= {};
    record.telemetry.xiMedian = median(xis);
  }
  return { state, record };
}
