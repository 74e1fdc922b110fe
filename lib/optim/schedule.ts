/**
 * Learning-rate (and other scalar) schedules: pure functions of the optimizer
 * step count. `count` is the number of steps already taken, so the first step
 * reads `schedule(0)`; with `stepsPerEpoch` steps per epoch, step `count`
 * belongs to epoch `floor(count / stepsPerEpoch)` (0-based), which is how
 * PyTorch's `MultiStepLR` stepped once per epoch behaves.
 *
 * @module
 */

/** A scalar as a function of the number of steps already taken. */
export type Schedule = (count: number) => number;

function checkFinite(name: string, value: number): void {
  if (!Number.isFinite(value)) {
    throw new RangeError(`${name} must be a finite number, got ${value}`);
  }
}

/**
 * A schedule that always returns `value`.
 *
 * @example
 * ```ts
 * import { constantSchedule } from "./schedule.ts";
 * const lr = constantSchedule(0.1);
 * if (lr(0) !== 0.1 || lr(1e6) !== 0.1) throw new Error();
 * ```
 */
export function constantSchedule(value: number): Schedule {
  checkFinite("constantSchedule value", value);
  return () => value;
}

/** Options of {@link stepSchedule}. */
export interface StepScheduleOptions {
  /** Value during epoch 0. */
  init: number;
  /** Steps (iterations) per epoch; must be a positive integer. */
  stepsPerEpoch: number;
  /** Epochs at which the value is multiplied by `factor` (default: the paper's 60, 120, 160, 200). */
  milestones?: number[];
  /** Multiplier applied at each milestone (default 0.2). */
  factor?: number;
}

/**
 * Piecewise-constant schedule: `init * factor^k` where k is the number of
 * milestones <= the current epoch. Defaults reproduce the paper's SGD
 * schedule (x0.2 at epochs 60/120/160/200), so epochs 200+ run at
 * `init * 0.2^4` (0.1 -> 1.6e-4).
 *
 * @example
 * ```ts
 * import { stepSchedule } from "./schedule.ts";
 * const lr = stepSchedule({ init: 0.1, stepsPerEpoch: 10 });
 * if (lr(599) !== 0.1) throw new Error("epoch 59");
 * if (Math.abs(lr(600) - 0.02) > 1e-15) throw new Error("epoch 60");
 * if (Math.abs(lr(2000) - 0.1 * 0.2 ** 4) > 1e-15) throw new Error("epoch 200");
 * ```
 */
export function stepSchedule(options: StepScheduleOptions): Schedule {
  const {
    init,
    stepsPerEpoch,
    milestones = [60, 120, 160, 200],
    factor = 0.2,
  } = options;
  checkFinite("stepSchedule init", init);
  checkFinite("stepSchedule factor", factor);
  if (!Number.isInteger(stepsPerEpoch) || stepsPerEpoch <= 0) {
    throw new RangeError(
      `stepSchedule stepsPerEpoch must be a positive integer, got ${stepsPerEpoch}`,
    );
  }
  for (let i = 0; i < milestones.length; i++) {
    checkFinite(`stepSchedule milestones[${i}]`, milestones[i]);
    if (i > 0 && milestones[i] <= milestones[i - 1]) {
      throw new RangeError(
        `stepSchedule milestones must increase, got [${milestones.join(", ")}]`,
      );
    }
  }
  const sorted = milestones.slice();
  return (count) => {
    const epoch = Math.floor(count / stepsPerEpoch);
    let value = init;
    for (const m of sorted) if (epoch >= m) value *= factor;
    return value;
  };
}

/** Options of {@link linearSchedule}. */
export interface LinearScheduleOptions {
  /** Value at count 0. */
  from: number;
  /** Value at `count >= steps`. */
  to: number;
  /** Steps over which to interpolate; 0 means `to` from the start. */
  steps: number;
}

/**
 * Linear interpolation from `from` (count 0) to `to` (count `steps`), then
 * constant. Also used for PoF's gamma ramp.
 *
 * @example
 * ```ts
 * import { linearSchedule } from "./schedule.ts";
 * const s = linearSchedule({ from: 0, to: 2, steps: 4 });
 * if (s(0) !== 0 || s(2) !== 1 || s(4) !== 2 || s(9) !== 2) throw new Error();
 * ```
 */
export function linearSchedule(options: LinearScheduleOptions): Schedule {
  const { from, to, steps } = options;
  checkFinite("linearSchedule from", from);
  checkFinite("linearSchedule to", to);
  if (!Number.isFinite(steps) || steps < 0) {
    throw new RangeError(
      `linearSchedule steps must be a finite number >= 0, got ${steps}`,
    );
  }
  return (count) => {
    if (steps === 0 || count >= steps) return to;
    const t = Math.max(0, count) / steps;
    return from + (to - from) * t;
  };
}

/**
 * Turns a number into a constant schedule and passes schedules through.
 *
 * @example
 * ```ts
 * import { asSchedule } from "./schedule.ts";
 * if (asSchedule(0.5)(3) !== 0.5) throw new Error();
 * if (asSchedule((c) => c)(3) !== 3) throw new Error();
 * ```
 */
export function asSchedule(value: number | Schedule): Schedule {
  return typeof value === "number" ? constantSchedule(value) : value;
}
