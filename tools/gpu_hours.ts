/**
 * The projected GPU-hours of `repro:all` for a preset, from one measured
 * speed: images/s of an SGD training step of the timed model (what
 * `deno task gpu:check` measures on WRN-28-10, 32x32x3, batch 256).
 *
 * Every run `repro:all` needs (dependencies included, each once) costs
 * (epochs it trains) x (images per epoch) x (its model's forward
 * multiply-adds per image / the timed model's) x (step cost of its method
 * relative to an SGD step) training images at the measured speed. Step
 * costs: SGD 1; SAM 2 (two forward-backward passes per step); PoF 1.17 (the
 * paper's measured PoF / SGD time per epoch, Table 2); classifier-only
 * fine-tuning counted as a full SGD step (an upper bound). The targets' own
 * computations (Figs. 5 / 6 statistics, Table 2 timing) are counted as
 * forward multiply-adds / 3 training images (a training step costs about 3
 * forward passes).
 *
 * @module
 */
import type { Preset, RunConfig } from "../repro/target.ts";
import { TARGET_NAMES } from "../repro/target.ts";
import { loadTarget } from "../repro/main.ts";
import { runWork } from "../lib/train/build.ts";
import { startEpoch } from "../lib/train/run_config.ts";
import { withDependencies } from "../lib/train/run_id.ts";

/** Cost of one step of each method, relative to an SGD step (see the module doc). */
export const STEP_COST: Record<RunConfig["method"]["name"], number> = {
  sgd: 1,
  sam: 2,
  pof: 1.17,
  "sgd-classifier": 1,
};

/** What {@link projectGpuHours} returns. */
export interface GpuHoursProjection {
  /** Runs counted (dependencies included, each once). */
  runs: number;
  /** SGD-step-equivalent training images of the runs, at the timed model's size. */
  trainingImages: number;
  /** The targets' analyses, as training images (forward multiply-adds / 3 / timed model's). */
  analysisImages: number;
  /** (trainingImages + analysisImages) / imagesPerSecond / 3600 on one device. */
  gpuHours: number;
}

/**
 * Projects `repro:all --preset <preset> --seeds <seeds.length>` on devices
 * that train `imagesPerSecond` images/s of a model of `macsPerImage`
 * forward multiply-adds per image.
 *
 * @example
 * ```ts
 * import { projectGpuHours } from "./gpu_hours.ts";
 * import { PRESETS } from "../repro/presets.ts";
 * const p = await projectGpuHours(PRESETS.smoke, [0], { imagesPerSecond: 100, macsPerImage: 1e6 });
 * if (!(p.gpuHours > 0) || p.runs !== 5) throw new Error(JSON.stringify(p));
 * ```
 */
export async function projectGpuHours(
  preset: Preset,
  seeds: number[],
  speed: { imagesPerSecond: number; macsPerImage: number },
): Promise<GpuHoursProjection> {
  const { imagesPerSecond, macsPerImage } = speed;
  if (!(imagesPerSecond > 0) || !(macsPerImage > 0)) {
    throw new RangeError(
      `projectGpuHours: images/s and multiply-adds per image must be positive, got ${imagesPerSecond} and ${macsPerImage}`,
    );
  }
  const targets = await Promise.all(TARGET_NAMES.map((n) => loadTarget(n)));
  const runs = withDependencies(targets.flatMap((t) => t.runs(preset, seeds)));
  let trainingImages = 0;
  for (const r of runs) {
    const w = runWork(r);
    trainingImages += (r.epochs - startEpoch(r)) * w.imagesPerEpoch *
      (w.multiplyAddsPerImage / macsPerImage) * STEP_COST[r.method.name];
  }
  let analysisMacs = 0;
  for (const t of targets) {
    for (const w of t.work?.(preset, seeds) ?? []) {
      analysisMacs += w.multiplyAdds;
    }
  }
  const analysisImages = analysisMacs / 3 / macsPerImage;
  return {
    runs: runs.length,
    trainingImages,
    analysisImages,
    gpuHours: (trainingImages + analysisImages) / imagesPerSecond / 3600,
  };
}
