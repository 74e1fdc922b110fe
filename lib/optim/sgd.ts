/**
 * The SGD training method (paper Sec. 4.1 baseline): Nesterov momentum 0.9,
 * weight decay 5e-4 on every trained leaf (BatchNorm scales and biases
 * included, as PyTorch's `weight_decay`), learning rate from a schedule of the
 * step count. The forward pass uses batch statistics and moves the running
 * BatchNorm statistics (`{train: true, updateStats: true}`).
 *
 * @module
 */
import { disposeTree } from "../tree.ts";
import type { Method } from "./method.ts";
import { modelGradients, treeNorm } from "./gradients.ts";
import { sgd, type SgdOptions } from "./optimizer.ts";
import { asSchedule } from "./schedule.ts";
import {
  applySgdStep,
  disposeReplaced,
  flattenModelParams,
  initOptState,
  type Trainable,
} from "./state.ts";

/** Configuration of {@link sgdMethod} (defaults: the paper's SGD). */
export interface SgdMethodConfig extends SgdOptions {
  /**
   * Which parameters to train: `all` (default), `features` (phi; theta
   * frozen), or `classifier` (theta; phi frozen, e.g. the paper's Sec. 4.2
   * classifier-only fine-tuning).
   */
  trainable?: Trainable;
}

/**
 * SGD as a {@link Method}. A step whose loss or gradient is not finite is
 * skipped (state returned unchanged, `metrics.skipped = 1`, count not
 * advanced). A zero gradient is not special for SGD (no division by its
 * norm): momentum and weight decay still act.
 *
 * @example
 * ```ts
 * import { sgdMethod } from "./sgd.ts";
 * import { stepSchedule } from "./schedule.ts";
 * const method = sgdMethod({ lr: stepSchedule({ init: 0.1, stepsPerEpoch: 196 }) });
 * if (method.name !== "sgd") throw new Error();
 * ```
 */
export function sgdMethod(config: SgdMethodConfig = {}): Method {
  const trainable = config.trainable ?? "all";
  if (!["all", "features", "classifier"].includes(trainable)) {
    throw new RangeError(
      `trainable must be "all", "features" or "classifier", got ${
        String(trainable)
      }`,
    );
  }
  const opt = sgd(config);
  const schedule = asSchedule(config.lr ?? 0.1);
  return {
    name: "sgd",
    initOpt: (params) => initOptState(opt, params, trainable),
    step(model, state, input) {
      const count = state.opt.count;
      const lr = schedule(count);
      const g = modelGradients(model, state.params, state.bn, input.batch, {
        wrt: trainable,
        bn: { train: true, updateStats: true },
      });
      const loss = g.loss.dataSync()[0];
      g.loss.dispose();
      const grads = flattenModelParams(g.grads);
      const norm = treeNorm(grads);
      if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
        disposeTree(grads);
        disposeReplaced(g.bn, state.bn);
        return { state, metrics: { loss, lr, skipped: 1 } };
      }
      const next = applySgdStep(opt, state, grads, g.bn, count);
      disposeTree(grads);
      return { state: next, metrics: { loss, lr, skipped: 0 } };
    },
  };
}
