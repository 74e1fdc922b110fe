/**
 * `deno task gpu:check [--batch N] [--steps N] [--load-only] [--json]`
 *
 * Checks that training can use an NVIDIA GPU: loads the `tensorflow` backend
 * (`@tensorflow/tfjs-node-gpu`), asks libtensorflow whether it found a CUDA
 * device, reads the device name and memory from `nvidia-smi`, and times
 * WRN-28-10 training steps (the paper's SGD: Nesterov 0.9, wd 5e-4) on
 * random 32x32x3 batches (batch 256, the paper's, unless `--batch`). Prints
 * the backend, device, GPU memory, seconds per step, images per second, the
 * implied TFLOP/s (one training step counted as 3x the forward multiply-adds,
 * 2 FLOPs each) and the projected GPU-hours of `repro:all --preset paper`
 * (tools/gpu_hours.ts).
 *
 * Known tfjs-node-gpu pitfalls it reports (the Dockerfile handles them):
 * - libtensorflow 2.9.1 carries no kernels for GPUs newer than its build
 *   (Hopper, sm_90, and later): the driver JIT-compiles PTX on the first
 *   step, which can take many minutes; the compiled kernels go to
 *   `CUDA_CACHE_PATH` (the image's persistent /cache volume), so later runs
 *   start at once. A line says so while the first step runs.
 * - The CUDA 11.8 runtime of the image runs on newer drivers (they are
 *   backward compatible) but needs driver >= 520 (CUDA 11.8's minimum, and
 *   the first with Hopper support): an older driver gets a warning line.
 * - The native addon must be in the `lib/napi-v*` folder the loader picks
 *   (tools/fill_napi_dirs.sh copies it into every one); the report names the
 *   addon found.
 *
 * Exits 1 with a message saying what is missing and how to install it when no
 * GPU backend is usable. `--load-only` stops after loading the backend (the
 * Docker build runs this: it has the libraries but no GPU).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import {
  BackendUnavailableError,
  tensorflowInstallCommand,
  tensorflowPackageStatus,
  useBackend,
} from "../lib/backend.ts";
import type { BackendInfo } from "../lib/backend.ts";
import type { Model } from "../lib/models/model.ts";
import { wideResNet } from "../lib/models/wide_resnet.ts";
import { sgdMethod } from "../lib/optim/sgd.ts";
import { Rng } from "../lib/rng.ts";
import type { TrainState } from "../lib/optim/method.ts";
import { disposeTree } from "../lib/tree.ts";
import { type GpuHoursProjection, projectGpuHours } from "./gpu_hours.ts";
import { PRESETS } from "../repro/presets.ts";
import { median } from "../lib/stats.ts";

/** Thrown when no GPU backend is usable; the message says why and what to do. */
export class GpuCheckError extends Error {
  override name = "GpuCheckError";
}

/** One GPU as `nvidia-smi` reports it. */
export interface GpuDevice {
  index: number;
  name: string;
  /** Total memory in MiB. */
  memoryTotalMiB: number;
  /** Memory in use in MiB (all processes). */
  memoryUsedMiB: number;
  driverVersion: string;
}

/** The `nvidia-smi` query whose CSV output {@link parseNvidiaSmi} reads. */
export const NVIDIA_SMI_ARGS = [
  "--query-gpu=index,name,memory.total,memory.used,driver_version",
  "--format=csv,noheader,nounits",
];

/**
 * Parses `nvidia-smi --query-gpu=index,name,memory.total,memory.used,driver_version
 * --format=csv,noheader,nounits`.
 *
 * @example
 * ```ts
 * import { parseNvidiaSmi } from "./gpu_check.ts";
 * const [g] = parseNvidiaSmi("0, NVIDIA H100 80GB HBM3, 81559, 3, 550.54.15\n");
 * if (g.name !== "NVIDIA H100 80GB HBM3" || g.memoryTotalMiB !== 81559) throw new Error();
 * ```
 */
export function parseNvidiaSmi(csv: string): GpuDevice[] {
  const out: GpuDevice[] = [];
  for (const line of csv.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const f = line.split(",").map((s) => s.trim());
    if (f.length < 5) {
      throw new Error(
        `nvidia-smi: expected 5 comma-separated fields, got "${line}"`,
      );
    }
    // A name may itself contain commas: the fields around it are fixed.
    const [index, ...rest] = f;
    const driverVersion = rest.pop()!, used = rest.pop()!, total = rest.pop()!;
    const nums = [index, total, used].map(Number);
    if (nums.some((n) => !Number.isFinite(n))) {
      throw new Error(`nvidia-smi: non-numeric field in "${line}"`);
    }
    out.push({
      index: nums[0],
      name: rest.join(", "),
      memoryTotalMiB: nums[1],
      memoryUsedMiB: nums[2],
      driverVersion,
    });
  }
  return out;
}

/**
 * The GPUs `nvidia-smi` lists for this process (restricted to
 * `CUDA_VISIBLE_DEVICES` when set). Throws {@link GpuCheckError} when
 * `nvidia-smi` is missing, fails, or lists none.
 *
 * @example
 * ```ts ignore
 * import { queryGpus } from "./gpu_check.ts";
 * console.log(await queryGpus());
 * ```
 */
export async function queryGpus(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Promise<GpuDevice[]> {
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined && visible.trim() === "") {
    throw new GpuCheckError(
      `no NVIDIA GPU is visible: CUDA_VISIBLE_DEVICES is empty ("${visible}").`,
    );
  }
  const args = [...NVIDIA_SMI_ARGS];
  if (visible !== undefined) args.push(`--id=${visible.trim()}`);
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("nvidia-smi", {
      args,
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    throw new GpuCheckError(
      `no NVIDIA GPU is visible: nvidia-smi could not be run (${
        (e as Error).message
      }). In Docker, run with --gpus all (NVIDIA Container Toolkit).`,
    );
  }
  const dec = new TextDecoder();
  if (!out.success) {
    throw new GpuCheckError(
      `no NVIDIA GPU is visible: nvidia-smi exited with ${out.code}: ${
        dec.decode(out.stderr).trim() || dec.decode(out.stdout).trim()
      }`,
    );
  }
  const gpus = parseNvidiaSmi(dec.decode(out.stdout));
  if (gpus.length === 0) {
    throw new GpuCheckError("no NVIDIA GPU is visible: nvidia-smi lists none.");
  }
  return gpus;
}

/** Timing of {@link timeTrainingSteps}. */
export interface StepTiming {
  model: string;
  batch: number;
  /** Seconds of the first (warm-up) step: kernel selection, PTX JIT, allocation. */
  warmupSeconds: number;
  /** Seconds of each timed step after the warm-up. */
  stepSeconds: number[];
  /** Median of `stepSeconds`. */
  medianSeconds: number;
  imagesPerSecond: number;
  /** 3 x forward multiply-adds x 2 FLOPs x batch / median seconds, in TFLOP/s. */
  tflops: number;
  /** Loss of the last step (finite when training works). */
  lastLoss: number;
}

/**
 * Times `steps` SGD training steps of `model` on random inputs and labels
 * drawn from `rng`, after one warm-up step. Each step ends by reading the
 * updated classifier back, so queued GPU work is inside the timing.
 *
 * @example
 * ```ts
 * import { timeTrainingSteps } from "./gpu_check.ts";
 * import { wideResNet } from "../lib/models/wide_resnet.ts";
 * import { Rng } from "../lib/rng.ts";
 * const model = wideResNet({ depth: 10, widen: 1, numClasses: 10, inputShape: [8, 8, 3] });
 * const t = await timeTrainingSteps(model, { batch: 2, steps: 1, rng: new Rng(0) });
 * if (!(t.medianSeconds > 0) || !Number.isFinite(t.lastLoss)) throw new Error();
 * ```
 */
export async function timeTrainingSteps(
  model: Model,
  options: { batch: number; steps: number; rng: Rng },
): Promise<StepTiming> {
  const { batch, steps, rng } = options;
  if (!Number.isInteger(batch) || batch < 1) {
    throw new RangeError(`batch must be a positive integer, got ${batch}`);
  }
  if (!Number.isInteger(steps) || steps < 1) {
    throw new RangeError(`steps must be a positive integer, got ${steps}`);
  }
  const method = sgdMethod({ lr: 0.1 });
  const init = model.init(rng.fork("init"));
  let state: TrainState = {
    params: init.params,
    bn: init.state,
    opt: method.initOpt(init.params),
  };
  const size = model.inputShape.reduce((a, b) => a * b, 1);
  const x = tf.tensor(
    rng.fork("x").normalArray(batch * size),
    [batch, ...model.inputShape],
  );
  const labels = new Int32Array(batch);
  const ry = rng.fork("y");
  for (let i = 0; i < batch; i++) labels[i] = ry.int(model.numClasses);
  const y = tf.tensor1d(labels, "int32");
  const times: number[] = [];
  let lastLoss = NaN;
  try {
    for (let s = 0; s <= steps; s++) {
      const t0 = performance.now();
      const r = method.step(model, state, { batch: { x, y } }, rng);
      state = r.state;
      lastLoss = r.metrics.loss;
      const first = Object.values(state.params.classifier)[0];
      await first.data();
      times.push((performance.now() - t0) / 1000);
    }
  } finally {
    x.dispose();
    y.dispose();
    disposeTree(state.params.features);
    disposeTree(state.params.classifier);
    disposeTree(state.bn);
    for (const slot of Object.values(state.opt.slots)) disposeTree(slot);
  }
  const stepSeconds = times.slice(1);
  const med = median(stepSeconds);
  return {
    model: model.name,
    batch,
    warmupSeconds: times[0],
    stepSeconds,
    medianSeconds: med,
    imagesPerSecond: batch / med,
    tflops: (3 * 2 * model.multiplyAdds * batch) / med / 1e12,
    lastLoss,
  };
}

/** What {@link gpuCheck} found. */
export interface GpuReport {
  backend: BackendInfo;
  gpus: GpuDevice[];
  /** Bytes tfjs holds in tensors after the timing (its own count). */
  tfjsBytes: number;
  timing: StepTiming | null;
  /** The native addon tfjs-node-gpu loads (null: not found; absent with --load-only). */
  addon?: string | null;
  /** `repro:all --preset paper` (3 seeds) at the timed speed, on one GPU. */
  projection?: GpuHoursProjection;
}

/** Options of {@link gpuCheck}. */
export interface GpuCheckOptions {
  /** Batch of the timed steps (default 256, the paper's). */
  batch?: number;
  /** Timed steps after one warm-up (default 5). */
  steps?: number;
  /** Only load the backend; no GPU needed (default false). */
  loadOnly?: boolean;
  /** Model to time (default WRN-28-10, 10 classes, 32x32x3). */
  model?: Model;
  /** Where progress lines go while the check waits (default stderr). */
  log?: (line: string) => void;
}

/**
 * Lines about the known GPU pitfalls for these GPUs (see the module doc):
 * PTX JIT on GPUs newer than libtensorflow 2.9.1's kernels, and drivers too
 * old for the CUDA 11.8 runtime.
 *
 * @example
 * ```ts
 * import { gpuPitfalls } from "./gpu_check.ts";
 * const h = gpuPitfalls([{ index: 0, name: "NVIDIA H200", memoryTotalMiB: 1, memoryUsedMiB: 0, driverVersion: "550.54.15" }], "/cache/cuda");
 * if (h.length !== 1 || !h[0].includes("sm_90")) throw new Error(h.join());
 * ```
 */
export function gpuPitfalls(
  gpus: GpuDevice[],
  cudaCachePath: string | undefined,
): string[] {
  const out: string[] = [];
  const newer = gpus.filter((g) => /\b(GH|H|B|GB)\d{3}\b/.test(g.name));
  if (newer.length) {
    out.push(
      `${
        newer.map((g) => g.name).join(", ")
      }: libtensorflow 2.9.1 has no kernels for this GPU (Hopper sm_90 or newer), so the first step ` +
        `JIT-compiles PTX, which can take many minutes (20-40 on a first run is normal); the result is cached in ` +
        (cudaCachePath
          ? `CUDA_CACHE_PATH=${cudaCachePath} (keep it on a persistent volume) and later runs start at once.`
          : `the driver's default cache (~/.nv/ComputeCache); set CUDA_CACHE_PATH to a persistent folder and CUDA_CACHE_MAXSIZE=4294967296.`),
    );
  }
  for (const g of gpus) {
    const major = Number(g.driverVersion.split(".")[0]);
    if (Number.isFinite(major) && major < 520) {
      out.push(
        `gpu ${g.index}: driver ${g.driverVersion} is older than 520, the minimum of the CUDA 11.8 runtime ` +
          `libtensorflow uses here (newer drivers are fine: they run CUDA 11.8 programs).`,
      );
    }
  }
  return out;
}

/**
 * Runs the checks; throws {@link GpuCheckError} when no GPU backend is usable.
 *
 * @example
 * ```ts
 * import { gpuCheck, GpuCheckError } from "./gpu_check.ts";
 * try {
 *   const r = await gpuCheck({ loadOnly: true });
 *   console.log(r.backend.device);
 * } catch (e) {
 *   if (!(e instanceof GpuCheckError)) throw e;
 * }
 * ```
 */
export async function gpuCheck(
  options: GpuCheckOptions = {},
): Promise<GpuReport> {
  let backend: BackendInfo;
  try {
    backend = await useBackend("tensorflow");
  } catch (e) {
    if (e instanceof BackendUnavailableError) {
      throw new GpuCheckError(`no GPU backend is usable.\n${e.message}`);
    }
    throw e;
  }
  if (!backend.package.startsWith("@tensorflow/tfjs-node-gpu@")) {
    throw new GpuCheckError(
      `no GPU backend is usable: the "tensorflow" backend came from ${backend.package}, ` +
        `the CPU build of libtensorflow. Install the GPU build with: ${
          tensorflowInstallCommand("@tensorflow/tfjs-node-gpu")
        }`,
    );
  }
  if (options.loadOnly) {
    return { backend, gpus: [], tfjsBytes: tf.memory().numBytes, timing: null };
  }
  const gpus = await queryGpus();
  if (!backend.device.startsWith("libtensorflow GPU")) {
    throw new GpuCheckError(
      `no GPU backend is usable: libtensorflow loaded but found no CUDA device ` +
        `(nvidia-smi lists ${gpus.map((g) => g.name).join(", ")}). ` +
        `It needs CUDA 11.x and cuDNN 8 libraries on the library path (the Docker image has them).`,
    );
  }
  const log = options.log ?? ((line: string) => console.error(line));
  for (const line of gpuPitfalls(gpus, Deno.env.get("CUDA_CACHE_PATH"))) {
    log(`gpu:check: ${line}`);
  }
  const model = options.model ??
    wideResNet({ depth: 28, widen: 10, numClasses: 10 });
  const batch = options.batch ?? 256;
  log(
    `gpu:check: timing ${model.name} training steps at batch ${batch}; the first (warm-up) step ` +
      `selects kernels and, on GPUs newer than libtensorflow 2.9.1's build, JIT-compiles PTX: waiting...`,
  );
  const timing = await timeTrainingSteps(model, {
    batch,
    steps: options.steps ?? 5,
    rng: new Rng(0),
  });
  const projection = await projectGpuHours(PRESETS.paper, [0, 1, 2], {
    imagesPerSecond: timing.imagesPerSecond,
    macsPerImage: model.multiplyAdds,
  });
  return {
    backend,
    gpus,
    tfjsBytes: tf.memory().numBytes,
    timing,
    addon: tensorflowPackageStatus("@tensorflow/tfjs-node-gpu").addon,
    projection,
  };
}

/**
 * The report as printed by `deno task gpu:check`.
 *
 * @example
 * ```ts
 * import { formatReport } from "./gpu_check.ts";
 * const text = formatReport({
 *   backend: { requested: "tensorflow", backend: "tensorflow", device: "libtensorflow GPU (all visible devices)", threads: null,
 *     package: "@tensorflow/tfjs-node-gpu@4.22.0", projectKernels: [], tfjsVersion: "4.22.0", denoVersion: "2.9.6" },
 *   gpus: [{ index: 0, name: "NVIDIA H100", memoryTotalMiB: 81559, memoryUsedMiB: 1000, driverVersion: "550" }],
 *   tfjsBytes: 0,
 *   timing: null,
 * });
 * if (!text.includes("NVIDIA H100") || !text.includes("79.6 GiB")) throw new Error(text);
 * ```
 */
export function formatReport(r: GpuReport): string {
  const gib = (mib: number) => `${(mib / 1024).toFixed(1)} GiB`;
  const lines = [
    `backend:  ${r.backend.backend} (${r.backend.package}, tfjs ${r.backend.tfjsVersion}, deno ${r.backend.denoVersion})`,
    `device:   ${r.backend.device}`,
  ];
  for (const g of r.gpus) {
    lines.push(
      `gpu ${g.index}:    ${g.name}, memory ${gib(g.memoryTotalMiB)} total, ${
        gib(g.memoryUsedMiB)
      } used, driver ${g.driverVersion}`,
    );
  }
  if (r.addon !== undefined) {
    lines.push(`addon:    ${r.addon ?? "tfjs_binding.node not found"}`);
  }
  lines.push(`tfjs tensors: ${(r.tfjsBytes / 2 ** 20).toFixed(1)} MiB`);
  const t = r.timing;
  if (t) {
    lines.push(
      `${t.model} SGD training step, batch ${t.batch}: ${
        (t.medianSeconds * 1000).toFixed(1)
      } ms (median of ${t.stepSeconds.length}; warm-up ${
        t.warmupSeconds.toFixed(1)
      } s), ${t.imagesPerSecond.toFixed(0)} images/s, ${
        t.tflops.toFixed(2)
      } TFLOP/s`,
      `one epoch of 50,000 images: ${
        (50000 / t.imagesPerSecond).toFixed(0)
      } s at this speed`,
    );
  }
  const p = r.projection;
  if (p) {
    lines.push(
      `repro:all --preset paper (3 seeds, ${p.runs} runs): ${
        (p.trainingImages / 1e9).toFixed(2)
      }e9 SGD-step images + ${
        (p.analysisImages / 1e9).toFixed(3)
      }e9 for the analyses = ${
        p.gpuHours.toFixed(0)
      } GPU-hours at this speed on one GPU (a projection: SAM 2x, PoF 1.17x an SGD step; tools/gpu_hours.ts)`,
    );
  }
  return lines.join("\n");
}

/** Parses this tool's flags (`--batch N --steps N --load-only --json`). */
export function parseGpuCheckArgs(
  args: string[],
): GpuCheckOptions & { json: boolean } {
  const out: GpuCheckOptions & { json: boolean } = { json: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--load-only") out.loadOnly = true;
    else if (a === "--json") out.json = true;
    else if (a === "--batch" || a === "--steps") {
      const v = args[++i];
      if (v === undefined || !/^\d+$/.test(v) || Number(v) < 1) {
        throw new RangeError(`${a} needs a positive integer, got "${v}"`);
      }
      if (a === "--batch") out.batch = Number(v);
      else out.steps = Number(v);
    } else {
      throw new RangeError(
        `unknown option "${a}"; valid: --batch N, --steps N, --load-only, --json`,
      );
    }
  }
  return out;
}

if (import.meta.main) {
  let opts: ReturnType<typeof parseGpuCheckArgs>;
  try {
    opts = parseGpuCheckArgs(Deno.args);
  } catch (e) {
    console.error(`gpu:check: ${(e as Error).message}`);
    Deno.exit(2);
  }
  try {
    const report = await gpuCheck(opts);
    console.log(
      opts.json ? JSON.stringify(report, null, 1) : formatReport(report),
    );
  } catch (e) {
    if (e instanceof GpuCheckError) {
      console.error(`gpu:check: ${e.message}`);
      Deno.exit(1);
    }
    throw e;
  }
}
