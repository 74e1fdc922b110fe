/**
 * The in-process measurements of `deno task bench`: step times of SGD, SAM
 * and PoF on one model and batch (wall clock and process CPU time), the
 * inference forward, an asynchronously read forward+backward (for webgpu),
 * augmentation throughput and the `quick` preset's training throughput.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { Rng } from "../../lib/rng.ts";
import { wideResNet } from "../../lib/models/wide_resnet.ts";
import { softmaxCrossEntropy } from "../../lib/models/loss.ts";
import { sgdMethod } from "../../lib/optim/sgd.ts";
import { samMethod } from "../../lib/optim/sam.ts";
import { pofMethod } from "../../lib/optim/pof.ts";
import type { Method, TrainState } from "../../lib/optim/method.ts";
import type { Batch } from "../../lib/data/batch.ts";
import type { Model } from "../../lib/models/model.ts";
import { augmentBatch } from "../../lib/data/augment.ts";
import { syntheticImages } from "../../lib/data/synthetic_images.ts";
import { DATASETS } from "../../lib/data/dataset_registry.ts";
import { median } from "../../lib/stats.ts";
import { modelFor } from "../../lib/train/build.ts";
import { PRESETS } from "../presets.ts";
import type { BenchModel } from "./plan.ts";

/**
 * Milliseconds of CPU time this process has used (user + system, all
 * threads) from `/proc/self/stat`, or null where that is unavailable. On a
 * shared machine the CPU time of a single-threaded step is a steadier
 * estimate of its unloaded wall time than the wall clock.
 *
 * @example
 * ```ts
 * import { processCpuMs } from "./measure.ts";
 * const t = processCpuMs();
 * if (t !== null && !(t >= 0)) throw new Error(String(t));
 * ```
 */
export function processCpuMs(): number | null {
  try {
    const s = Deno.readTextFileSync("/proc/self/stat");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(f[11]) + Number(f[12]);
    return Number.isFinite(ticks) ? ticks * 10 : null; // USER_HZ = 100 on Linux
  } catch {
    return null;
  }
}

/**
 * Shortest median (ms) measured with the 10 ms-tick CPU clock rather than the wall clock.
 *
 * @example
 * ```ts
 * import { MIN_CPU_CLOCK_MS } from "./measure.ts";
 * if (MIN_CPU_CLOCK_MS !== 200) throw new Error(String(MIN_CPU_CLOCK_MS));
 * ```
 */
export const MIN_CPU_CLOCK_MS = 200;

function makeBatch(rng: Rng, m: BenchModel, n: number): Batch {
  const [h, w, c] = m.inputShape;
  return {
    x: tf.tensor(rng.normalArray(n * h * w * c), [n, h, w, c]),
    y: tf.tensor1d(Array.from({ length: n }, () => rng.int(10)), "int32"),
  };
}

/**
 * The 10-class WRN of a bench configuration.
 *
 * @example
 * ```ts
 * import { buildModel } from "./measure.ts";
 * const m = buildModel({ depth: 10, widen: 1, inputShape: [8, 8, 3], batch: 2 });
 * if (m.name !== "WRN-10-1") throw new Error(m.name);
 * ```
 */
export function buildModel(m: BenchModel): Model {
  return wideResNet({
    depth: m.depth,
    widen: m.widen,
    numClasses: 10,
    inputShape: m.inputShape,
  });
}

/**
 * The optimizers the bench compares, by name (fresh instance per call).
 *
 * @example
 * ```ts
 * import { METHODS } from "./measure.ts";
 * if (Object.keys(METHODS).join() !== "sgd,sam,pof") throw new Error();
 * ```
 */
export const METHODS: Record<string, () => Method> = {
  sgd: () => sgdMethod({ lr: 0.01 }),
  sam: () => samMethod({ lr: 0.01, rho: 0.05 }),
  pof: () => pofMethod({ lr: 3e-5 }),
};

/**
 * One training run on a fixed batch: step it, time it, dispose it.
 *
 * @example
 * ```ts
 * import { useBackend } from "../../lib/backend.ts";
 * import { buildModel, METHODS, StepRunner } from "./measure.ts";
 * import type { BenchModel } from "./plan.ts";
 * await useBackend("cpu");
 * const m: BenchModel = { depth: 10, widen: 1, inputShape: [8, 8, 3], batch: 2 };
 * const r = new StepRunner(buildModel(m), METHODS.sgd(), { bench: m, seed: 0 });
 * if (!(r.step() >= 0)) throw new Error();
 * r.dispose();
 * ```
 */
export class StepRunner {
  state: TrainState;
  batch: Batch;
  weak: Batch;
  rng: Rng;
  /** Live tensors after construction (the run's own included). */
  before: number;

  constructor(
    readonly model: Model,
    readonly method: Method,
    { bench: m, seed }: { bench: BenchModel; seed: number },
  ) {
    this.rng = new Rng(seed);
    const init = model.init(this.rng);
    this.state = {
      params: init.params,
      bn: init.state,
      opt: method.initOpt(init.params),
    };
    this.batch = makeBatch(this.rng, m, m.batch);
    this.weak = makeBatch(this.rng, m, weakSize(m));
    this.before = tf.memory().numTensors;
  }

  /** Process CPU time (ms) of the last {@link step}, or null. */
  lastCpuMs: number | null = null;

  /** One step; returns its wall time (ms) and sets {@link lastCpuMs}. */
  step(): number {
    const handed: Batch[] = [];
    const c0 = processCpuMs();
    const t0 = performance.now();
    const r = this.method.step(this.model, this.state, {
      batch: this.batch,
      weakBatch: () => {
        const b = { x: tf.clone(this.weak.x), y: tf.clone(this.weak.y) };
        handed.push(b);
        return b;
      },
    }, this.rng);
    this.state = r.state;
    const dt = performance.now() - t0;
    const c1 = processCpuMs();
    this.lastCpuMs = c0 === null || c1 === null ? null : c1 - c0;
    for (const b of handed) tf.dispose([b.x, b.y]);
    return dt;
  }

  dispose(): void {
    const s = this.state;
    tf.dispose([
      this.batch.x,
      this.batch.y,
      this.weak.x,
      this.weak.y,
      ...Object.values(s.params.features),
      ...Object.values(s.params.classifier),
      ...Object.values(s.bn),
      ...Object.values(s.opt.slots).flatMap((t) => Object.values(t)),
    ]);
  }
}

/** PoF's weak batch: 1/8 of the update batch (the paper's 32 / 256), at least 2. */
function weakSize(m: BenchModel): number {
  return Math.max(2, Math.round(m.batch / 8));
}

/**
 * Runs `steps` steps of `method`; returns per-step wall times (ms) and live tensor counts.
 *
 * @example
 * ```ts
 * import { useBackend } from "../../lib/backend.ts";
 * import { buildModel, METHODS, runSteps } from "./measure.ts";
 * import type { BenchModel } from "./plan.ts";
 * await useBackend("cpu");
 * const m: BenchModel = { depth: 10, widen: 1, inputShape: [8, 8, 3], batch: 2 };
 * const r = runSteps(buildModel(m), METHODS.sgd(), { bench: m, steps: 2, seed: 0 });
 * if (r.times.length !== 2 || r.after !== r.before) throw new Error();
 * ```
 */
export function runSteps(
  model: Model,
  method: Method,
  { bench: m, steps, seed }: { bench: BenchModel; steps: number; seed: number },
): { times: number[]; before: number; after: number } {
  const r = new StepRunner(model, method, { bench: m, seed });
  const times = Array.from({ length: steps }, () => r.step());
  const after = tf.memory().numTensors;
  r.dispose();
  return { times, before: r.before, after };
}

/** Step times of the three methods on one model. */
export interface MethodTimes {
  model: string;
  batch: number;
  weakBatch: number;
  /** Median step time (ms) per method. */
  medianMs: Record<string, number>;
  /** All timed steps (ms) per method. */
  stepsMs: Record<string, number[]>;
  /** Median process CPU time per step (ms) per method; null without /proc. */
  medianCpuMs: Record<string, number> | null;
  /** Which medians the ratios use: `cpu` (process CPU time) or `wall`. */
  ratioClock: "cpu" | "wall";
  /**
   * Median inference forward (ms, wall and process CPU) of the same model
   * and batch, timed in the same rounds as the steps (one forward per
   * round), so that `train_over_forward` compares like with like on a
   * machine whose speed drifts.
   */
  forwardMs: { wall: number; cpu: number | null };
  sam_over_sgd: number;
  pof_over_sgd: number;
}

/**
 * Step times of SGD, SAM and PoF on one model and batch, and its inference
 * forward, warmed up and then interleaved (each round: one step of each
 * method, then one forward); `log` receives one line per method.
 *
 * @example
 * ```ts
 * import { useBackend } from "../../lib/backend.ts";
 * import { timeMethods } from "./measure.ts";
 * import type { BenchModel } from "./plan.ts";
 * await useBackend("cpu");
 * const m: BenchModel = { depth: 10, widen: 1, inputShape: [8, 8, 3], batch: 2 };
 * const t = timeMethods(m, { warmup: 0, steps: 1, threads: 1 });
 * if (!(t.pof_over_sgd > 0) || t.stepsMs.sam.length !== 1) throw new Error();
 * if (!(t.forwardMs.wall > 0)) throw new Error();
 * ```
 */
export function timeMethods(
  m: BenchModel,
  { warmup, steps, threads, log = () => {} }: {
    warmup: number;
    steps: number;
    threads: number;
    log?: (line: string) => void;
  },
): MethodTimes {
  const model = buildModel(m);
  const names = Object.keys(METHODS);
  const runners = names.map((n, i) =>
    new StepRunner(model, METHODS[n](), { bench: m, seed: 1 + i })
  );
  // The inference forward of the SGD run's current parameters.
  const forward = () =>
    timeForward(
      model,
      runners[0].state.params,
      runners[0].state.bn,
      runners[0].batch.x,
    );
  // Warm up every method first, then interleave the timed steps, so that
  // JIT warm-up and drifting machine load fall on all methods alike.
  for (let i = 0; i < warmup; i++) {
    for (const r of runners) r.step();
    forward();
  }
  const times: number[][] = names.map(() => []);
  const cpu: (number | null)[][] = names.map(() => []);
  const fwd: { wall: number; cpu: number | null }[] = [];
  for (let i = 0; i < steps; i++) {
    runners.forEach((r, j) => {
      times[j].push(r.step());
      cpu[j].push(r.lastCpuMs);
    });
    fwd.push(forward());
  }
  const forwardMs = medianTimes(fwd);
  const haveCpu = cpu.every((c) => c.every((v) => v !== null));
  const medianCpuMs: Record<string, number> | null = haveCpu ? {} : null;
  for (const r of runners) r.dispose();
  const medianMs: Record<string, number> = {};
  const stepsMs: Record<string, number[]> = {};
  names.forEach((n, j) => {
    medianMs[n] = median(times[j]);
    stepsMs[n] = times[j].map((t) => Math.round(t));
    if (medianCpuMs) medianCpuMs[n] = median(cpu[j] as number[]);
    log(
      `  ${model.name} batch ${m.batch} ${n}: ${
        medianMs[n].toFixed(0)
      } ms/step wall${
        medianCpuMs ? `, ${medianCpuMs[n].toFixed(0)} ms CPU` : ""
      }`,
    );
  });
  // CPU time ticks at 10 ms: use it only for steps of 200 ms and more, and
  // only single-threaded (with more threads it also counts waiting threads).
  const useCpu = threads === 1 && medianCpuMs !== null &&
    medianCpuMs.sgd >= MIN_CPU_CLOCK_MS;
  const basis = useCpu ? medianCpuMs : medianMs;
  return {
    model: model.name,
    batch: m.batch,
    weakBatch: weakSize(m),
    medianMs,
    stepsMs,
    medianCpuMs,
    ratioClock: useCpu ? "cpu" : "wall",
    forwardMs,
    sam_over_sgd: basis.sam / basis.sgd,
    pof_over_sgd: basis.pof / basis.sgd,
  };
}

/**
 * Median inference forward time (ms, wall and process CPU) over `reps` runs
 * after one warm-up.
 *
 * @example
 * ```ts
 * import { useBackend } from "../../lib/backend.ts";
 * import { forwardMs } from "./measure.ts";
 * await useBackend("cpu");
 * const f = forwardMs({ depth: 10, widen: 1, inputShape: [8, 8, 3], batch: 2 }, 1);
 * if (!(f.wall >= 0)) throw new Error();
 * ```
 */
export function forwardMs(
  m: BenchModel,
  reps: number,
): { wall: number; cpu: number | null } {
  const model = buildModel(m);
  const rng = new Rng(2);
  const { params, state } = model.init(rng);
  const b = makeBatch(rng, m, m.batch);
  const times = Array.from(
    { length: reps + 1 },
    () => timeForward(model, params, state, b.x),
  );
  tf.dispose([
    b.x,
    b.y,
    ...Object.values(params.features),
    ...Object.values(params.classifier),
    ...Object.values(state),
  ]);
  return medianTimes(times.slice(1));
}

/** One inference forward, read back: wall and process CPU time (ms). */
function timeForward(
  model: Model,
  params: Parameters<Model["apply"]>[0],
  state: Parameters<Model["apply"]>[1],
  x: tf.Tensor,
): { wall: number; cpu: number | null } {
  const c0 = processCpuMs();
  const t0 = performance.now();
  const out = model.apply(params, state, x, { train: false });
  out.logits.dataSync();
  const wall = performance.now() - t0;
  const c1 = processCpuMs();
  tf.dispose([out.logits, out.features]);
  return { wall, cpu: c0 === null || c1 === null ? null : c1 - c0 };
}

/** Medians of timings; the CPU median is null when any CPU time is. */
function medianTimes(
  t: { wall: number; cpu: number | null }[],
): { wall: number; cpu: number | null } {
  const cpu = t.map((s) => s.cpu);
  return {
    wall: median(t.map((s) => s.wall)),
    cpu: cpu.every((v) => v !== null) ? median(cpu as number[]) : null,
  };
}

/**
 * Median time (ms) of forward + backward of the loss w.r.t. all parameters,
 * read asynchronously (as webgpu needs), over `reps` runs after one warm-up.
 *
 * @example
 * ```ts
 * import { useBackend } from "../../lib/backend.ts";
 * import { gradientMs } from "./measure.ts";
 * await useBackend("cpu");
 * const g = await gradientMs({ depth: 10, widen: 1, inputShape: [8, 8, 3], batch: 2 }, 1);
 * if (!(g >= 0)) throw new Error();
 * ```
 */
export async function gradientMs(m: BenchModel, reps: number): Promise<number> {
  const model = buildModel(m);
  const rng = new Rng(3);
  const { params, state } = model.init(rng);
  const b = makeBatch(rng, m, m.batch);
  const keys = [
    ...Object.keys(params.features).map((k) => ["features", k] as const),
    ...Object.keys(params.classifier).map((k) => ["classifier", k] as const),
  ];
  const xs = keys.map(([g, k]) => params[g][k]);
  const times: number[] = [];
  for (let i = 0; i < reps + 1; i++) {
    const t0 = performance.now();
    const { value, grads } = tf.valueAndGrads((...ts: tf.Tensor[]) => {
      const p = {
        features: { ...params.features },
        classifier: { ...params.classifier },
      };
      keys.forEach(([g, k], j) => (p[g][k] = ts[j]));
      const out = model.apply(p, state, b.x, {
        train: true,
        updateStats: false,
      });
      return softmaxCrossEntropy(out.logits, b.y);
    })(xs);
    await value.data();
    for (const g of grads) await g.data();
    times.push(performance.now() - t0);
    tf.dispose([value, ...grads]);
  }
  tf.dispose([b.x, b.y, ...xs, ...Object.values(state)]);
  return median(times.slice(1));
}

/**
 * CIFAR-10 training augmentation throughput (images/s) on one core over
 * about `seconds` seconds.
 *
 * @example
 * ```ts
 * import { augmentImagesPerSecond } from "./measure.ts";
 * if (!(augmentImagesPerSecond(0.05) > 0)) throw new Error();
 * ```
 */
export function augmentImagesPerSecond(seconds: number): number {
  const set = syntheticImages({ n: 1024, seed: 0 });
  const info = DATASETS.cifar10;
  const cfg = { mean: info.mean, std: info.std, ...info.augment };
  const rng = new Rng(0);
  const out = new Float32Array(256 * 32 * 32 * 3);
  const idx = Array.from({ length: 256 }, (_, i) => (i * 7) % 1024);
  augmentBatch(set, idx, cfg, rng, out); // warm-up
  let images = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    augmentBatch(set, idx, cfg, rng, out);
    images += 256;
  }
  return images / ((performance.now() - t0) / 1000);
}

/**
 * SGD training images per second of the `quick` preset's model and batch.
 *
 * @example
 * ```ts ignore
 * import { quickImagesPerSecond } from "./measure.ts";
 * console.log(quickImagesPerSecond(1, 3).imagesPerSecond);
 * ```
 */
export function quickImagesPerSecond(warmup: number, steps: number): {
  model: string;
  batch: number;
  stepMs: number;
  imagesPerSecond: number;
} {
  const q = PRESETS.quick;
  const ds = q.datasets[0].name;
  const info = DATASETS[ds as keyof typeof DATASETS];
  const m: BenchModel = {
    depth: q.model.kind === "wrn" ? q.model.depth : 10,
    widen: q.model.kind === "wrn" ? q.model.widen : 1,
    inputShape: [info.height, info.width, info.channels],
    batch: q.batchSize,
  };
  const model = modelFor(q.model, ds);
  const r = runSteps(model, METHODS.sgd(), {
    bench: m,
    steps: warmup + steps,
    seed: 7,
  });
  const stepMs = median(r.times.slice(warmup));
  return {
    model: model.name,
    batch: m.batch,
    stepMs,
    imagesPerSecond: m.batch / (stepMs / 1000),
  };
}
