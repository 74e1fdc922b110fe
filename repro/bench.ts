/**
 * `deno task bench [--out FILE] [--short] [--threads N]`: the performance figures of the
 * reproduction, side by side with their targets (issue 8). Prints a table and
 * writes JSON (default `results/bench.json`, written atomically).
 *
 * - Per-step time of SGD, SAM and PoF on the same model and batch (median of
 *   several steps after warm-up) on the fast CPU path, and the ratios
 *   `sam_over_sgd`, `pof_over_sgd` (paper Table 2, per epoch: 1.51, 1.17).
 *   PoF's weak batch is 1/8 of the update batch (the paper's 32 / 256).
 *   Methods run interleaved after a warm-up. With one thread and where
 *   `/proc/self/stat` exists, the ratios and `train_over_forward` use the
 *   process CPU time per step (steadier than the wall clock on a shared
 *   machine); with more threads the wall clock (the CPU time then counts
 *   threads that wait); the JSON has both.
 * - `scaling`: the SGD step time with 1 thread over that with `--threads`
 *   threads (default every logical core), measured in child processes that
 *   alternate 1, N, 1, N, ... (the thread count is fixed per process);
 *   `gmacs_per_s`: the SGD step's multiply-adds (3x the forward's: forward,
 *   input and filter gradients) per second with all threads;
 *   `quick_images_per_s`: SGD training images per second of the `quick`
 *   preset's model and batch.
 *   Models: a WRN-16-4 at 32x32, batch 64, and the paper's WRN-28-10 at a
 *   small batch (`--short`: WRN-10-1, batch 16; no WRN-28-10).
 * - `speedup`: the stock `cpu` backend's SGD step over the fast path's on a
 *   small WRN (the stock filter gradient makes larger ones impractical).
 * - `train_over_forward`: fast-path SGD step over an inference forward of
 *   the same model and batch, timed in the same interleaved rounds.
 * - Augmentation images/s on one core; tensors alive before/after 50 steps
 *   per optimizer; the gain of running two independent single-thread
 *   runs as parallel processes.
 * - `webgpu` (when an adapter exists): forward+backward time of the small
 *   WRN, against the same on the fast path (asynchronous reads: webgpu cannot
 *   read synchronously in Deno, so it cannot run the training loop).
 *
 * These are benchmark figures, never unit tests.
 *
 * @module
 */
import { parseArgs } from "@std/cli";
import {
  type BackendName,
  defaultThreads,
  FAST_CPU_BACKEND,
  parseThreads,
  threadsNote,
  useBackend,
} from "../lib/backend.ts";
import { writeFileAtomic } from "../lib/atomic_write.ts";
import { median } from "../lib/stats.ts";
import {
  BENCH_TARGETS,
  type BenchModel,
  type BenchPlan,
  benchPlan,
  meetsTarget,
  type TargetName,
} from "./bench/plan.ts";
import {
  augmentImagesPerSecond,
  buildModel,
  forwardMs,
  gradientMs,
  METHODS,
  MIN_CPU_CLOCK_MS,
  quickImagesPerSecond,
  runSteps,
  StepRunner,
  timeMethods,
} from "./bench/measure.ts";
import { childStepMs, measureScaling, type Scaling } from "./bench/scaling.ts";
import { type BenchResult, formatTargets } from "./bench/result.ts";

export {
  BENCH_TARGETS,
  type BenchModel,
  type BenchPlan,
  benchPlan,
  type BenchResult,
  formatTargets,
  meetsTarget,
  type TargetName,
};
export { processCpuMs } from "./bench/measure.ts";
export type { MethodTimes } from "./bench/measure.ts";
export type { Scaling } from "./bench/scaling.ts";

async function webgpuAvailable(): Promise<boolean> {
  const gpu = (navigator as unknown as {
    gpu?: { requestAdapter(): Promise<unknown> };
  }).gpu;
  try {
    return !!(gpu && await gpu.requestAdapter());
  } catch {
    return false;
  }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

let quiet = false;
function log(s: string): void {
  if (!quiet) console.error(s);
}

function cpuName(): string {
  try {
    const m = Deno.readTextFileSync("/proc/cpuinfo").match(
      /model name\s*:\s*(.*)/,
    );
    if (m) return m[1].trim();
  } catch { /* not Linux */ }
  return "unknown";
}

/**
 * Runs every measurement of the plan and returns the figures. Leaves the
 * fast CPU backend active.
 *
 * @example
 * ```ts ignore
 * import { benchPlan, runBench } from "./bench.ts";
 * const r = await runBench(benchPlan(true));
 * console.log(r.speedup);
 * ```
 */
export async function runBench(
  plan: BenchPlan,
  options: {
    parallel?: boolean;
    webgpu?: boolean;
    scaling?: boolean;
    threads?: number;
  } = {},
): Promise<BenchResult> {
  const fast = FAST_CPU_BACKEND as BackendName;
  const threads = options.threads ?? defaultThreads();
  const backend = await useBackend(fast, { threads });
  log(
    `fast CPU path: ${backend.backend} on ${backend.device} (${
      backend.projectKernels.join(", ")
    })`,
  );

  log("step times (SGD / SAM / PoF):");
  const methods = timeMethods(plan.methods, {
    warmup: plan.warmup,
    steps: plan.steps,
    threads: backend.threads ?? 1,
    log,
  });
  // Timed in the same rounds as the steps (see timeMethods).
  const trainModelForwardMs = methods.forwardMs;
  const stepMacs = 3 * buildModel(plan.methods).multiplyAdds *
    plan.methods.batch;
  const gmacs = stepMacs / (methods.medianMs.sgd / 1000) / 1e9;
  log(`  SGD step: ${gmacs.toFixed(1)} G multiply-adds/s`);
  const wrn28 = plan.wrn28
    ? timeMethods(plan.wrn28, {
      warmup: 1,
      steps: 3,
      threads: backend.threads ?? 1,
      log,
    })
    : null;
  const quick = quickImagesPerSecond(plan.warmup, plan.steps);
  log(
    `  quick preset's ${quick.model}, batch ${quick.batch}: ${
      quick.imagesPerSecond.toFixed(0)
    } images/s`,
  );

  log("leak check:");
  const leaks: BenchResult["leaks"] = {};
  const leakModel = buildModel(plan.small);
  for (const [name, make] of Object.entries(METHODS)) {
    const r = runSteps(leakModel, make(), {
      bench: plan.small,
      steps: plan.leakSteps,
      seed: 4,
    });
    leaks[name] = { before: r.before, after: r.after, steps: plan.leakSteps };
    log(
      `  ${name}: ${r.before} -> ${r.after} tensors after ${plan.leakSteps} steps`,
    );
  }
  const leaked = Math.max(
    ...Object.values(leaks).map((l) => l.after - l.before),
  );

  log("fast path vs stock cpu:");
  const fastSmall = runSteps(leakModel, METHODS.sgd(), {
    bench: plan.small,
    steps: plan.warmup + plan.steps,
    seed: 5,
  });
  const fastStepMs = median(fastSmall.times.slice(plan.warmup));
  const fastForwardMs = forwardMs(plan.small, 3).wall;
  let webgpu: BenchResult["webgpu"] = null;
  const fastGradientMs = options.webgpu !== false && await webgpuAvailable()
    ? await gradientMs(plan.small, 3)
    : null;
  await useBackend("cpu");
  const cpu = runSteps(leakModel, METHODS.sgd(), {
    bench: plan.small,
    steps: plan.cpuSteps,
    seed: 5,
  });
  const cpuStepMs = median(cpu.times);
  log(
    `  ${leakModel.name} batch ${plan.small.batch}: cpu ${
      cpuStepMs.toFixed(0)
    } ms, ${fast} ${fastStepMs.toFixed(0)} ms`,
  );
  if (fastGradientMs !== null) {
    try {
      await useBackend("webgpu");
      const g = await gradientMs(plan.small, 3);
      webgpu = { gradientMs: g, fastGradientMs, over_fast: g / fastGradientMs };
      log(
        `  webgpu forward+backward ${g.toFixed(0)} ms vs ${fast} ${
          fastGradientMs.toFixed(0)
        } ms`,
      );
    } catch (e) {
      log(`  webgpu unavailable: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  await useBackend(fast);

  log("augmentation:");
  const augment = augmentImagesPerSecond(plan.augmentSeconds);
  log(`  ${augment.toFixed(0)} images/s`);

  let scalingDetail: Scaling | null = null;
  if (options.scaling !== false) {
    log(`thread scaling (child processes, 1 vs ${backend.threads} threads):`);
    scalingDetail = await measureScaling(plan.methods, {
      threads: backend.threads ?? 1,
      pairs: plan.scalingPairs,
      steps: plan.scalingSteps,
      log,
    });
    log(
      `  scaling x${scalingDetail.scaling.toFixed(2)} (load ${
        scalingDetail.loadBefore?.join(" ") ?? "?"
      } -> ${scalingDetail.loadAfter?.join(" ") ?? "?"})`,
    );
  }

  let parallel: BenchResult["parallel"] = null;
  if (options.parallel !== false) {
    log("parallel runs (2 single-thread processes vs 1):");
    const [one] = (await childStepMs(plan.small, {
      copies: 1,
      steps: plan.parallelSteps,
      threads: 1,
    })).map((t) => sum(t) / 1000);
    const two = (await childStepMs(plan.small, {
      copies: 2,
      steps: plan.parallelSteps,
      threads: 1,
    })).map((t) => sum(t) / 1000);
    const twoSeconds = Math.max(...two);
    parallel = {
      copies: 2,
      oneSeconds: one,
      twoSeconds,
      gain: (2 * one) / twoSeconds,
    };
    log(
      `  one run ${one.toFixed(1)} s; two at once ${
        two.map((t) => t.toFixed(1)).join(" s, ")
      } s: throughput x${parallel.gain.toFixed(2)}`,
    );
  }

  const figures = {
    pof_over_sgd: methods.pof_over_sgd,
    sam_over_sgd: methods.sam_over_sgd,
    speedup: cpuStepMs / fastStepMs,
    train_over_forward: methods.ratioClock === "cpu" && methods.medianCpuMs &&
        trainModelForwardMs.cpu !== null &&
        trainModelForwardMs.cpu >= MIN_CPU_CLOCK_MS
      ? methods.medianCpuMs.sgd / trainModelForwardMs.cpu
      : methods.medianMs.sgd / trainModelForwardMs.wall,
    augment_images_per_s: augment,
    leaked_tensors: leaked,
    scaling: scalingDetail?.scaling ?? null,
  };
  const targets: BenchResult["targets"] = {};
  for (const [k, v] of Object.entries(figures)) {
    const t = BENCH_TARGETS[k as TargetName];
    targets[k] = {
      target: `${t.op} ${t.value}`,
      value: v,
      met: meetsTarget(k as TargetName, v),
    };
  }
  return {
    mode: plan.mode,
    date: new Date().toISOString(),
    machine: {
      cpu: cpuName(),
      logicalCores: navigator.hardwareConcurrency ?? 1,
      os: `${Deno.build.os}-${Deno.build.arch}`,
      deno: Deno.version.deno,
    },
    backend,
    threads: backend.threads ?? 1,
    methods,
    wrn28,
    sam_over_sgd: figures.sam_over_sgd,
    pof_over_sgd: figures.pof_over_sgd,
    small: {
      model: leakModel.name,
      batch: plan.small.batch,
      cpuStepMs,
      fastStepMs,
      fastForwardMs,
    },
    speedup: figures.speedup,
    train_over_forward: figures.train_over_forward,
    scaling: figures.scaling,
    scalingDetail,
    gmacs_per_s: gmacs,
    quick_images_per_s: quick.imagesPerSecond,
    quick: { model: quick.model, batch: quick.batch, stepMs: quick.stepMs },
    trainModelForwardMs,
    augment_images_per_s: augment,
    leaks,
    leaked_tensors: leaked,
    parallel,
    webgpu,
    targets,
  };
}

async function child(
  steps: number,
  m: BenchModel,
  threads: number | undefined,
): Promise<void> {
  quiet = true;
  await useBackend(FAST_CPU_BACKEND, { threads });
  const r = new StepRunner(buildModel(m), METHODS.sgd(), { bench: m, seed: 6 });
  r.step(); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < steps; i++) ms.push(r.step());
  r.dispose();
  console.log(JSON.stringify(ms));
}

if (import.meta.main) {
  const args = parseArgs(Deno.args, {
    string: ["out", "child", "child-model", "threads"],
    boolean: ["short", "help", "no-parallel", "no-webgpu", "no-scaling"],
    default: { out: "results/bench.json" },
  });
  if (args.help) {
    console.log(
      "deno task bench [--out FILE] [--short] [--threads N] [--no-scaling] [--no-parallel] [--no-webgpu]\n" +
        "Measures step times of SGD/SAM/PoF, thread scaling, fast path vs stock cpu, augmentation, leaks;\n" +
        "prints them beside the targets and writes JSON to --out (default results/bench.json).\n" +
        "--threads N: threads of the fast CPU path (default every logical core).",
    );
    Deno.exit(0);
  }
  let threads: number | undefined;
  if (args.threads !== undefined) {
    try {
      threads = parseThreads(String(args.threads));
    } catch (e) {
      console.error(`error: ${(e as Error).message}`);
      Deno.exit(2);
    }
    const note = threadsNote(threads);
    if (note && !args.child) console.error(note);
  }
  if (args.child) {
    const steps = Number(args.child);
    if (!Number.isInteger(steps) || steps < 1) {
      throw new RangeError(
        `--child needs a positive step count, got "${args.child}"`,
      );
    }
    await child(
      steps,
      JSON.parse(String(args["child-model"])) as BenchModel,
      threads,
    );
    Deno.exit(0);
  }
  const plan = benchPlan(args.short === true);
  const result = await runBench(plan, {
    parallel: !args["no-parallel"],
    webgpu: !args["no-webgpu"],
    scaling: !args["no-scaling"],
    threads,
  });
  console.log(
    `\n${plan.mode} bench on ${result.machine.cpu} (${result.machine.logicalCores} logical cores), ` +
      `backend ${result.backend.backend}, ${result.threads} thread(s)\n` +
      formatTargets(result.targets) +
      `\ngmacs_per_s            ${result.gmacs_per_s.toFixed(1).padStart(12)}` +
      `\nquick_images_per_s     ${
        result.quick_images_per_s.toFixed(0).padStart(12)
      }`,
  );
  await writeFileAtomic(
    String(args.out),
    JSON.stringify(result, null, 2) + "\n",
  );
  console.log(`wrote ${args.out}`);
}
