/**
 * Rehearsals of runs (see {@link Rehearsal}). A rehearsed run keeps its real
 * epoch axis: its epochs are cut into epoch-segments at the run's start, its
 * learning-rate milestones, its kept epochs, the rehearsal's `cuts` and its end (for the paper's SGD
 * run: 0-60, 60-120, 120-160, 160-200, 200-250). The first epoch of each
 * segment takes `steps` training steps at the segment's learning rate; the
 * other epochs take none; the last epoch of each segment is evaluated (on
 * the rehearsal's few evaluation images) and checkpointed. So the paper's
 * epochs 200 / 210 / 250 are reached, logged, checkpointed and continued
 * from exactly as in a real run, at full model, batch and data size.
 *
 * @module
 */
import { type RunConfig, startEpoch } from "./run_config.ts";

/** One epoch-segment `[start, end)` (0-based epochs; `end` = epochs finished after it). */
export interface EpochSegment {
  start: number;
  end: number;
}

/**
 * The epoch-segments of a run's own epochs.
 *
 * @example
 * ```ts
 * import { rehearsalSegments } from "./rehearsal.ts";
 * const c = { dataset: "toy", model: { kind: "mlp" as const, hidden: [4] }, method: { name: "sgd" as const }, seed: 0,
 *   epochs: 250, batchSize: 8, schedule: { baseLr: 0.1, milestones: [60, 120, 160, 200], factor: 0.2 },
 *   momentum: 0.9, weightDecay: 0, keepEpochs: [200, 250] };
 * const s = rehearsalSegments(c).map((g) => `${g.start}-${g.end}`).join();
 * if (s !== "0-60,60-120,120-160,160-200,200-250") throw new Error(s);
 * ```
 */
export function rehearsalSegments(config: RunConfig): EpochSegment[] {
  const first = startEpoch(config);
  const cuts = [
    ...new Set([
      first,
      ...config.schedule.milestones,
      ...config.keepEpochs,
      ...(config.rehearsal?.cuts ?? []),
      config.epochs,
    ]),
  ].filter((e) => e >= first && e <= config.epochs).sort((a, b) => a - b);
  const out: EpochSegment[] = [];
  for (let i = 1; i < cuts.length; i++) {
    out.push({ start: cuts[i - 1], end: cuts[i] });
  }
  return out;
}

/** What a rehearsed run does in one epoch. */
export interface RehearsalEpoch {
  /** Training steps (the rehearsal's `steps` in a segment's first epoch, else 0). */
  steps: number;
  /** Evaluate and checkpoint (the last epoch of a segment). */
  closesSegment: boolean;
}

/**
 * What rehearsed run `config` does in 0-based epoch `epoch`.
 *
 * @example
 * ```ts
 * import { rehearsalEpoch } from "./rehearsal.ts";
 * const c = { dataset: "toy", model: { kind: "mlp" as const, hidden: [4] }, method: { name: "sgd" as const }, seed: 0,
 *   epochs: 10, batchSize: 8, schedule: { baseLr: 0.1, milestones: [4], factor: 0.2 },
 *   momentum: 0.9, weightDecay: 0, keepEpochs: [], rehearsal: { steps: 2, evalImages: 8, standIn: true } };
 * const e = [0, 1, 3, 4, 9].map((k) => rehearsalEpoch(c, k));
 * if (e.map((r) => `${r.steps}${r.closesSegment ? "c" : ""}`).join() !== "2,0,0c,2,0c") throw new Error(JSON.stringify(e));
 * ```
 */
export function rehearsalEpoch(
  config: RunConfig,
  epoch: number,
): RehearsalEpoch {
  const r = config.rehearsal;
  if (!r) throw new RangeError("rehearsalEpoch: the run is not a rehearsal");
  const segs = rehearsalSegments(config);
  return {
    steps: segs.some((s) => s.start === epoch) ? r.steps : 0,
    closesSegment: segs.some((s) => s.end === epoch + 1),
  };
}

function chainStarts(config: RunConfig, from: number): number[] {
  const own = rehearsalSegments(config).map((s) => s.start);
  const first = startEpoch(config);
  if (!config.from || first <= from) return own;
  return [
    ...chainStarts(config.from.run, from).filter((e) => e < first),
    ...own,
  ];
}

/**
 * The absolute epoch of a rehearsed run's optimizer step number `count`
 * (0-based, counted from `optEpochOffset`, where the optimizer state began:
 * the run's start, or for a continuation with the same method the start of
 * the chain it continues). Its learning rate is the schedule's at that epoch.
 *
 * @example
 * ```ts
 * import { rehearsalStepEpoch } from "./rehearsal.ts";
 * const base = { dataset: "toy", model: { kind: "mlp" as const, hidden: [4] }, method: { name: "sam" as const }, seed: 0,
 *   batchSize: 8, schedule: { baseLr: 0.1, milestones: [60, 120, 160, 200], factor: 0.2 },
 *   momentum: 0.9, weightDecay: 0, rehearsal: { steps: 2, evalImages: 8, standIn: true } };
 * const sam200 = { ...base, epochs: 200, keepEpochs: [200] };
 * const sam250 = { ...base, epochs: 250, keepEpochs: [250], from: { run: sam200, epoch: 200 } };
 * const at = rehearsalStepEpoch(sam250, 0);
 * if ([0, 1, 2, 7, 8, 9].map(at).join() !== "0,0,60,160,200,200") throw new Error();
 * ```
 */
export function rehearsalStepEpoch(
  config: RunConfig,
  optEpochOffset: number,
): (count: number) => number {
  const r = config.rehearsal;
  if (!r) {
    throw new RangeError("rehearsalStepEpoch: the run is not a rehearsal");
  }
  const starts = chainStarts(config, optEpochOffset);
  return (count) =>
    starts[Math.min(starts.length - 1, Math.floor(count / r.steps))];
}
