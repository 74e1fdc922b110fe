/**
 * Where a training step spends its wall time, kernel by kernel: `deno run -A
 * --import-map=tools/offline_import_map.json repro/bench/profile.ts
 * [--threads N] [--reps R] [--depth D --widen K --batch B] [--short]`
 * prints, for SGD and SAM steps and the inference forward of the bench's
 * WRN (default WRN-16-4, 32x32x3, batch 64; `--short`: WRN-10-1, batch 16),
 * each kernel's milliseconds per step, exclusive of the kernels it calls
 * (e.g. `Conv2DBackpropInput` is its JavaScript, `Conv2DBackpropInput >
 * Conv2D` the XNNPACK convolutions it runs), and the time outside kernels.
 * The README's breakdown ("Performance") comes from it.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { parseArgs } from "@std/cli";
import { parseThreads, useBackend } from "../../lib/backend.ts";
import { buildModel, forwardMs, METHODS, StepRunner } from "./measure.ts";
import type { BenchModel } from "./plan.ts";

/** Milliseconds and calls of one kernel (or `parent > kernel` call path). */
export interface KernelTime {
  /** Wall time inside the kernel, minus the kernels it called. */
  exclusiveMs: number;
  calls: number;
}

/** A running per-kernel timer (see {@link profileKernels}). */
export interface KernelProfiler {
  /** Times by kernel name, or `Parent > Kernel` for a kernel called by another. */
  times(): Map<string, KernelTime>;
  /** Clears the times. */
  reset(): void;
  /** Puts the original kernels back. */
  stop(): void;
}

/**
 * Wraps every kernel registered for `backendName` with a wall-clock timer
 * (kernels are synchronous on the CPU backends, so wall time is their
 * cost). Call `stop()` to restore them.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../../lib/backend.ts";
 * import { profileKernels } from "./profile.ts";
 * await useBackend("cpu");
 * const p = profileKernels("cpu");
 * tf.dispose(tf.add(tf.ones([2]), tf.ones([2])));
 * p.stop();
 * if (p.times().get("Add")?.calls !== 1) throw new Error([...p.times().keys()].join());
 * ```
 */
export function profileKernels(backendName: string): KernelProfiler {
  let times = new Map<string, KernelTime>();
  const stack: { name: string; childMs: number }[] = [];
  const originals = tf.getKernelsForBackend(backendName);
  for (const k of originals) {
    const orig = k.kernelFunc;
    const timed = ((args: Parameters<tf.KernelFunc>[0]) => {
      const parent = stack[stack.length - 1];
      const frame = { name: k.kernelName, childMs: 0 };
      stack.push(frame);
      const t0 = performance.now();
      try {
        return orig(args);
      } finally {
        const dt = performance.now() - t0;
        stack.pop();
        if (parent) parent.childMs += dt;
        const key = parent ? `${parent.name} > ${k.kernelName}` : k.kernelName;
        const t = times.get(key) ?? { exclusiveMs: 0, calls: 0 };
        t.exclusiveMs += dt - frame.childMs;
        t.calls++;
        times.set(key, t);
      }
    }) as tf.KernelFunc;
    tf.unregisterKernel(k.kernelName, backendName);
    tf.registerKernel({ ...k, kernelFunc: timed });
  }
  return {
    times: () => times,
    reset: () => (times = new Map()),
    stop() {
      for (const k of originals) {
        tf.unregisterKernel(k.kernelName, backendName);
        tf.registerKernel(k);
      }
    },
  };
}

/**
 * One table of a profile: kernels by exclusive time per step, largest first
 * (`top` rows), then kernels in all and the time outside them.
 *
 * @example
 * ```ts
 * import { formatProfile } from "./profile.ts";
 * const s = formatProfile("sgd", 100, new Map([["Conv2D", { exclusiveMs: 160, calls: 4 }]]), { steps: 2 });
 * if (!s.includes("Conv2D") || !s.includes("80.0") || !s.includes("outside kernels 20")) throw new Error(s);
 * ```
 */
export function formatProfile(
  label: string,
  stepMs: number,
  times: Map<string, KernelTime>,
  { steps, top = 20 }: { steps: number; top?: number },
): string {
  const rows = [...times.entries()].sort((a, b) =>
    b[1].exclusiveMs - a[1].exclusiveMs
  );
  const inKernels = rows.reduce((s, [, t]) => s + t.exclusiveMs, 0) / steps;
  const lines = [
    `${label}: ${stepMs.toFixed(0)} ms per step (wall); kernels ${
      inKernels.toFixed(0)
    } ms, outside kernels ${(stepMs - inKernels).toFixed(0)} ms`,
  ];
  for (const [k, t] of rows.slice(0, top)) {
    lines.push(
      `  ${k.padEnd(40)} ${(t.exclusiveMs / steps).toFixed(1).padStart(8)} ms ${
        (100 * t.exclusiveMs / steps / stepMs).toFixed(1).padStart(5)
      }%  ${(t.calls / steps).toFixed(0).padStart(4)} calls`,
    );
  }
  return lines.join("\n");
}

/**
 * A command-line option that must be a positive integer: `fallback` when
 * absent, else the value, or a RangeError naming the option and the value.
 *
 * @example
 * ```ts
 * import { positiveIntOption } from "./profile.ts";
 * if (positiveIntOption("reps", undefined, 3) !== 3 || positiveIntOption("reps", "5", 3) !== 5) {
 *   throw new Error();
 * }
 * let msg = "";
 * try { positiveIntOption("batch", "1.5", 64); } catch (e) { msg = (e as Error).message; }
 * if (msg !== '--batch must be a positive integer, got "1.5"') throw new Error(msg);
 * ```
 */
export function positiveIntOption(
  name: string,
  value: string | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(value.trim() !== "" && Number.isInteger(n) && n >= 1)) {
    throw new RangeError(
      `--${name} must be a positive integer, got "${value}"`,
    );
  }
  return n;
}

/** The profile's options from the command line (RangeError on bad values). */
function parseProfileArgs(argv: string[]) {
  const args = parseArgs(argv, {
    string: ["threads", "reps", "depth", "widen", "batch"],
    boolean: ["short"],
  });
  const short = args.short;
  return {
    threads: args.threads ? parseThreads(args.threads) : undefined,
    reps: positiveIntOption("reps", args.reps, 3),
    model: {
      depth: positiveIntOption("depth", args.depth, short ? 10 : 16),
      widen: positiveIntOption("widen", args.widen, short ? 1 : 4),
      inputShape: [32, 32, 3],
      batch: positiveIntOption("batch", args.batch, short ? 16 : 64),
    } as BenchModel,
  };
}

if (import.meta.main) {
  let opts: ReturnType<typeof parseProfileArgs>;
  try {
    opts = parseProfileArgs(Deno.args);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    console.error(`profile: ${e.message}`);
    Deno.exit(2);
  }
  const { threads, reps, model: m } = opts;
  await useBackend("wasm", { threads });
  const model = buildModel(m);
  console.log(
    `${model.name}, batch ${m.batch}, wasm, ${
      threads ?? "default"
    } threads, load ${Deno.loadavg()[0].toFixed(2)}`,
  );
  for (const name of ["sgd", "sam"]) {
    const r = new StepRunner(model, METHODS[name](), { bench: m, seed: 1 });
    r.step();
    r.step();
    const p = profileKernels("wasm");
    let wall = 0;
    for (let i = 0; i < reps; i++) wall += r.step();
    p.stop();
    console.log(formatProfile(name, wall / reps, p.times(), { steps: reps }));
    r.dispose();
  }
  forwardMs(m, 1); // warm-up
  const p = profileKernels("wasm");
  const f = forwardMs(m, reps);
  p.stop();
  // forwardMs runs reps + 1 forwards (one untimed).
  console.log(
    formatProfile("inference forward", f.wall, p.times(), { steps: reps + 1 }),
  );
}
