/**
 * What `deno task bench` measures and against what: the targets of issue 8
 * and the model sizes of a `full` or `short` run.
 *
 * @module
 */

/** Targets of issue 8, printed beside the measurements. */
export const BENCH_TARGETS = {
  pof_over_sgd: { op: "<=", value: 1.10 },
  sam_over_sgd: { op: "<=", value: 2.05 },
  speedup: { op: ">=", value: 15 },
  train_over_forward: { op: "<=", value: 3.5 },
  augment_images_per_s: { op: ">=", value: 10_000 },
  leaked_tensors: { op: "<=", value: 0 },
  scaling: { op: ">=", value: 1.7 },
} as const;

/** A figure that has a target. */
export type TargetName = keyof typeof BENCH_TARGETS;

/**
 * Whether `value` meets the target `name` (null when not measured).
 *
 * @example
 * ```ts
 * import { meetsTarget } from "./plan.ts";
 * if (!meetsTarget("speedup", 20) || meetsTarget("pof_over_sgd", 1.2)) throw new Error();
 * ```
 */
export function meetsTarget(
  name: TargetName,
  value: number | null,
): boolean | null {
  if (value === null || !Number.isFinite(value)) return null;
  const t = BENCH_TARGETS[name];
  return t.op === "<=" ? value <= t.value : value >= t.value;
}

/** A WRN configuration the bench trains. */
export interface BenchModel {
  depth: number;
  widen: number;
  /** [H, W, C]. */
  inputShape: [number, number, number];
  batch: number;
}

/** Sizes of one bench run (`full` or `short`). */
export interface BenchPlan {
  mode: "full" | "short";
  /** Step-time comparison of SGD / SAM / PoF. */
  methods: BenchModel;
  /** The paper's WRN-28-10 at a small batch (null: skipped). */
  wrn28: BenchModel | null;
  warmup: number;
  steps: number;
  /** Small model for the stock-cpu speedup, the leak count and webgpu. */
  small: BenchModel;
  cpuSteps: number;
  leakSteps: number;
  augmentSeconds: number;
  /** SGD steps each child process runs in the parallel-runs measurement. */
  parallelSteps: number;
  /** Pairs of child processes (1 thread, N threads) of the scaling measurement. */
  scalingPairs: number;
  /** Timed SGD steps per scaling child (after one warm-up step). */
  scalingSteps: number;
}

/**
 * The bench sizes for a mode.
 *
 * @example
 * ```ts
 * import { benchPlan } from "./plan.ts";
 * if (benchPlan(true).wrn28 !== null || benchPlan(false).methods.batch !== 64) throw new Error();
 * ```
 */
export function benchPlan(short: boolean): BenchPlan {
  return short
    ? {
      mode: "short",
      methods: { depth: 10, widen: 1, inputShape: [32, 32, 3], batch: 16 },
      wrn28: null,
      warmup: 1,
      steps: 3,
      small: { depth: 10, widen: 1, inputShape: [16, 16, 3], batch: 8 },
      cpuSteps: 1,
      leakSteps: 50,
      augmentSeconds: 0.5,
      parallelSteps: 40,
      scalingPairs: 1,
      scalingSteps: 3,
    }
    : {
      mode: "full",
      methods: { depth: 16, widen: 4, inputShape: [32, 32, 3], batch: 64 },
      wrn28: { depth: 28, widen: 10, inputShape: [32, 32, 3], batch: 8 },
      warmup: 2,
      steps: 5,
      small: { depth: 10, widen: 1, inputShape: [32, 32, 3], batch: 8 },
      cpuSteps: 2,
      leakSteps: 50,
      augmentSeconds: 2,
      parallelSteps: 100,
      scalingPairs: 2,
      scalingSteps: 3,
    };
}
