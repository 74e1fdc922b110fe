/**
 * The JSON `deno task bench` writes and its printed summary.
 *
 * @module
 */
import type { BackendInfo } from "../../lib/backend.ts";
import type { MethodTimes } from "./measure.ts";
import type { Scaling } from "./scaling.ts";

/** Everything `deno task bench` measures (written as JSON). */
export interface BenchResult {
  mode: "full" | "short";
  date: string;
  machine: { cpu: string; logicalCores: number; os: string; deno: string };
  backend: BackendInfo;
  /** Threads of the fast CPU path in this run (`--threads`, default every logical core). */
  threads: number;
  methods: MethodTimes;
  wrn28: MethodTimes | null;
  sam_over_sgd: number;
  pof_over_sgd: number;
  small: {
    model: string;
    batch: number;
    cpuStepMs: number;
    fastStepMs: number;
    fastForwardMs: number;
  };
  speedup: number;
  train_over_forward: number;
  /** SGD step time with 1 thread over all threads (null: `--no-scaling`). */
  scaling: number | null;
  scalingDetail: Scaling | null;
  /** Multiply-adds per second (billions) of the SGD step of the step-time model, all threads. */
  gmacs_per_s: number;
  /** SGD training images per second of the `quick` preset's model, all threads. */
  quick_images_per_s: number;
  quick: { model: string; batch: number; stepMs: number };
  /** Inference forward of the step-time model: wall and CPU median (ms). */
  trainModelForwardMs: { wall: number; cpu: number | null };
  augment_images_per_s: number;
  leaks: Record<string, { before: number; after: number; steps: number }>;
  leaked_tensors: number;
  parallel: {
    copies: number;
    oneSeconds: number;
    twoSeconds: number;
    /** Throughput of two parallel runs over one run alone (timed steps only). */
    gain: number;
  } | null;
  webgpu:
    | { gradientMs: number; fastGradientMs: number; over_fast: number }
    | null;
  targets: Record<
    string,
    { target: string; value: number | null; met: boolean | null }
  >;
}

/**
 * The printed summary: each figure beside its target.
 *
 * @example
 * ```ts
 * import { formatTargets } from "./result.ts";
 * const s = formatTargets({ speedup: { target: ">= 15", value: 20, met: true } });
 * if (!s.includes("speedup") || !s.includes("yes")) throw new Error(s);
 * ```
 */
export function formatTargets(targets: BenchResult["targets"]): string {
  const rows = Object.entries(targets).map(([k, t]) =>
    `${k.padEnd(22)} ${
      t.value === null
        ? "n/a".padStart(12)
        : (Math.abs(t.value) >= 100 ? t.value.toFixed(0) : t.value.toFixed(3))
          .padStart(12)
    }   target ${t.target.padEnd(10)} ${
      t.met === null ? "-" : t.met ? "yes" : "NO"
    }`
  );
  return ["figure                        value   target      met", ...rows]
    .join("\n");
}
