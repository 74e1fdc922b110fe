/**
 * `--rehearse N`: a preset's real configuration (for `paper`: WRN-28-10,
 * batch 256, weak batch 32, epochs 200 / 210 / 250 and milestones 60 / 120 /
 * 160 / 200, every dataset at its full size) with only N training steps per
 * epoch-segment (lib/train/rehearsal.ts), a few evaluation images, one
 * Figs. 5 / 6 mini-batch per histogram and N timed steps for Table 2. Every
 * mechanism runs at full size: model build, SGD / SAM / PoF steps, the
 * shared SAM-200 checkpoint, checkpoint write and resume, epoch bookkeeping,
 * evaluation, the Figs. 5 / 6 statistics, fine-tuning, results JSON and SVGs.
 * Datasets not on disk are replaced by synthetic stand-ins of the same shape
 * and count (lib/data/stand_in_images.ts). Results go to their own folder
 * and carry the rehearsal in their provenance; the runs' ids differ from the
 * real runs' (the rehearsal is part of every run's configuration).
 *
 * @module
 */
import type { Preset } from "./target.ts";

/** Options of {@link rehearsalPreset}. */
export interface RehearsalOptions {
  /** Training steps per epoch-segment (`--rehearse N`). */
  steps: number;
  /** `--rehearse-batch B`: a smaller update batch (the weak batch becomes min(weak, B)); default the preset's. */
  batchSize?: number;
  /** Datasets of the preset that are not on disk (stand-ins are used for them). */
  standIns: string[];
}

/**
 * `preset` as rehearsed (see the module doc): same model, epochs,
 * milestones, datasets and (unless `batchSize`) batch sizes; `rehearsal`
 * set; `histogramBatches` 1, `timingSteps` = steps, evaluation on two weak
 * batches' worth of images; description prefixed with what it is.
 *
 * @example
 * ```ts
 * import { PRESETS } from "./presets.ts";
 * import { rehearsalPreset } from "./rehearsal.ts";
 * const r = rehearsalPreset(PRESETS.paper, { steps: 1, standIns: ["svhn"] });
 * if (r.batchSize !== 256 || r.epochs !== 250 || r.rehearsal!.evalImages !== 64) throw new Error();
 * const small = rehearsalPreset(PRESETS.paper, { steps: 2, batchSize: 4, standIns: [] });
 * if (small.batchSize !== 4 || small.weakBatchSize !== 4 || small.model.kind !== "wrn") throw new Error();
 * ```
 */
export function rehearsalPreset(
  preset: Preset,
  options: RehearsalOptions,
): Preset {
  const { steps, standIns } = options;
  if (!Number.isInteger(steps) || steps < 1) {
    throw new RangeError(
      `rehearsal steps must be a positive integer, got ${steps}`,
    );
  }
  const batchSize = options.batchSize ?? preset.batchSize;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(
      `rehearsal batch size must be a positive integer, got ${batchSize}`,
    );
  }
  const weakBatchSize = Math.min(preset.weakBatchSize, batchSize);
  const unknown = standIns.filter((n) =>
    !preset.datasets.some((d) => d.name === n)
  );
  if (unknown.length) {
    throw new RangeError(
      `stand-in dataset "${
        unknown[0]
      }" is not a dataset of preset ${preset.name}`,
    );
  }
  const evalImages = 2 * weakBatchSize;
  const data = preset.datasets.map((d) =>
    `${d.name} (${
      standIns.includes(d.name) ? "synthetic stand-in" : "real, on disk"
    })`
  ).join(", ");
  return {
    ...preset,
    description: `REHEARSAL of preset ${preset.name}, not a result: ` +
      `its model, epochs and milestones, batch ${batchSize}${
        batchSize === preset.batchSize
          ? ""
          : ` (--rehearse-batch; the preset's is ${preset.batchSize})`
      }, weak batch ${weakBatchSize}, but only ${steps} training step(s) per epoch-segment, ` +
      `${evalImages} evaluation images per split, ${steps} timed step(s) and 1 histogram batch; ` +
      `data: ${data}. Synthetic stand-ins have the real dataset's shape and image count and carry no signal.\n` +
      preset.description,
    batchSize,
    weakBatchSize,
    histogramBatches: 1,
    timingSteps: steps,
    rehearsal: {
      steps,
      evalImages,
      realBatchSize: preset.batchSize,
      standIns: [...standIns],
    },
  };
}
