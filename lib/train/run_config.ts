/**
 * What a training run is: the configuration that identifies it. A run is
 * (dataset, model, method, seed, schedule, start point); its id is derived
 * from this configuration alone ({@link ./run_id.ts}), so two processes that
 * plan the same run agree on its id and share its checkpoints.
 *
 * A run may start from another run's checkpoint (`from`): the paper's
 * SAM-200 -> PoF and SAM-200 -> SAM-250 runs both continue the one SAM-200 run,
 * which is therefore computed once and shared.
 *
 * @module
 */

/** Which network a run trains. */
export type ModelSpec =
  | {
    kind: "wrn";
    /** WRN depth (6n + 4), e.g. 28. */
    depth: number;
    /** Widening factor, e.g. 10. */
    widen: number;
  }
  | {
    kind: "mlp";
    /** Hidden widths of the feature extractor, e.g. [64, 64, 64, 64]. */
    hidden: number[];
  };

/** A piecewise-constant learning rate: `baseLr * factor^(number of milestones <= epoch)`. */
export interface StepSchedule {
  /** Learning rate before the first milestone. */
  baseLr: number;
  /** Epochs (0-based count of finished epochs) at which the rate is multiplied by `factor`. */
  milestones: number[];
  /** Multiplier at each milestone (paper: 0.2). */
  factor: number;
}

/** PoF's settings (paper Sec. 4.1). */
export interface PofSpec {
  /** Weak mini-batch size |B| (paper 32). */
  weakBatchSize: number;
  /** gamma ~ U[0, gammaMax] (paper 2). */
  gammaMax: number;
  /**
   * Cap of the xi* line search (default 50). The paper sets no bound; when
   * the weak-batch loss still falls at the cap, xi* = maxXi (counted in the
   * epoch telemetry's `xiCapFraction`).
   */
  maxXi?: number;
  /** Redraw weak batches whose line loss still falls at the cap (default false). */
  discardAsymmetric?: boolean;
}

/** The optimisation method of a run's own epochs. */
export interface MethodSpec {
  /** `sgd`, `sam`, `pof`, or `sgd-classifier` (SGD on theta only, phi frozen: the fine-tuning of Sec. 4.2). */
  name: "sgd" | "sam" | "pof" | "sgd-classifier";
  /** SAM radius rho. */
  rho?: number;
  /** PoF settings. */
  pof?: PofSpec;
}

/** Where a run starts: another run's checkpoint at an epoch. */
export interface RunStart {
  /** The run whose checkpoint is continued. */
  run: RunConfig;
  /** The epoch of that run's checkpoint. */
  epoch: number;
}

/**
 * A rehearsal: the run's real configuration (model, batch, data size, epoch
 * numbers) with only `steps` training steps per epoch-segment and a few
 * evaluation images, so that every mechanism runs at full size in minutes
 * (see lib/train/rehearsal.ts). Part of the run's identity, so a rehearsal
 * never shares a run id with a real run.
 */
export interface Rehearsal {
  /** Training steps per epoch-segment (taken in the segment's first epoch). */
  steps: number;
  /** Evaluation images: the first n test images, and n training images for the train error and the analyses. */
  evalImages: number;
  /** True when the dataset is not on disk: its images are a synthetic stand-in of the same shape and count. */
  standIn: boolean;
  /** More epochs that end a segment (are evaluated) besides milestones and kept epochs, e.g. where a target compares two runs. */
  cuts?: number[];
}

/** Everything that identifies a training run (and nothing operational). */
export interface RunConfig {
  /** Dataset name as `lib/data` knows it, e.g. `"fashion-mnist"`, `"synthetic-images"`. */
  dataset: string;
  model: ModelSpec;
  method: MethodSpec;
  /** Seed of initialisation, shuffling, augmentation and method randomness. */
  seed: number;
  /** The absolute epoch at which the run ends (a continuation counts from its start's epoch). */
  epochs: number;
  /** Update mini-batch size. */
  batchSize: number;
  /** Learning-rate schedule over absolute epochs. */
  schedule: StepSchedule;
  /** Nesterov momentum coefficient (paper 0.9). */
  momentum: number;
  /** L2 weight decay (paper 5e-4). */
  weightDecay: number;
  /** Epochs at which a checkpoint is always kept (the figures' evaluation epochs). */
  keepEpochs: number[];
  /** Use only the first n training examples (smoke / quick presets); undefined = all. */
  trainLimit?: number;
  /** Use only the first n test examples; undefined = all. */
  testLimit?: number;
  /** Start from another run's checkpoint; undefined = fresh initialisation from `seed`. */
  from?: RunStart;
  /** Rehearse the run instead of training it (undefined: a real run). */
  rehearsal?: Rehearsal;
  /**
   * Evaluate (test and training error) only every k-th epoch, and at the
   * kept and last epochs ({@link evaluatesAt}); undefined = every epoch.
   */
  evalEvery?: number;
}

/**
 * Whether a run evaluates after (1-based) `epoch`: always without
 * `evalEvery`, else at multiples of it, at its kept epochs and at its last.
 *
 * @example
 * ```ts
 * import { evaluatesAt } from "./run_config.ts";
 * const c = { epochs: 12, keepEpochs: [7], evalEvery: 5 };
 * const at = [...Array(12).keys()].map((e) => e + 1).filter((e) => evaluatesAt(c, e));
 * if (at.join() !== "5,7,10,12") throw new Error(at.join());
 * if (!evaluatesAt({ epochs: 12, keepEpochs: [] }, 3)) throw new Error();
 * ```
 */
export function evaluatesAt(
  config: Pick<RunConfig, "epochs" | "keepEpochs" | "evalEvery">,
  epoch: number,
): boolean {
  const k = config.evalEvery;
  return k === undefined || epoch % k === 0 || epoch === config.epochs ||
    config.keepEpochs.includes(epoch);
}

/**
 * The epoch a run starts at: 0, or its start checkpoint's epoch.
 *
 * @example
 * ```ts
 * import { startEpoch } from "./run_config.ts";
 * const c = { dataset: "toy", model: { kind: "mlp" as const, hidden: [4] }, method: { name: "sgd" as const }, seed: 0,
 *   epochs: 5, batchSize: 8, schedule: { baseLr: 0.1, milestones: [], factor: 1 }, momentum: 0.9, weightDecay: 0, keepEpochs: [] };
 * if (startEpoch(c) !== 0 || startEpoch({ ...c, epochs: 9, from: { run: c, epoch: 5 } }) !== 5) throw new Error();
 * ```
 */
export function startEpoch(config: RunConfig): number {
  return config.from ? config.from.epoch : 0;
}

/**
 * The learning rate in effect during epoch `epoch` (0-based: the epoch that
 * runs after `epoch` epochs have finished).
 *
 * @example
 * ```ts
 * import { lrAt } from "./run_config.ts";
 * const s = { baseLr: 0.1, milestones: [60, 120, 160, 200], factor: 0.2 };
 * if (lrAt(s, 0) !== 0.1) throw new Error();
 * if (Math.abs(lrAt(s, 200) - 0.1 * 0.2 ** 4) > 1e-15) throw new Error();
 * ```
 */
export function lrAt(schedule: StepSchedule, epoch: number): number {
  const k = schedule.milestones.filter((m) => m <= epoch).length;
  return schedule.baseLr * schedule.factor ** k;
}
