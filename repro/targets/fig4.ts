/**
 * Fig. 4: test error vs epoch of SAM continued after the switch epoch and
 * of SAM -> PoF, over the whole run and zoomed to the last 70 paper epochs
 * (180-250, scaled), on the preset's first dataset, mean +- std over seeds.
 *
 * Beside it, the training loss per epoch of SGD, SAM and SAM -> PoF
 * (`trainLoss` in `fig4.json`, `fig4_loss.svg`). PoF's logged `trainLoss` is
 * taken at the perturbed classifier theta', so the plot shows PoF's
 * `lossAtTheta0` (the update-batch loss at theta0, same forward pass; epoch
 * telemetry) beside SGD's and SAM's losses; the theta' loss is kept in the
 * JSON as `pofAtThetaPrime`.
 *
 * Writes `fig4.json` ({@link Fig4Json}), `fig4.svg` and `fig4_loss.svg`.
 *
 * @module
 */
import { type ErrorCurve, fig4Spec } from "../../lib/plot/figures.ts";
import { renderSvg } from "../../lib/plot/render.ts";
import { pofRun, samContinuedRun, sgdRun } from "../presets.ts";
import {
  type EpochRecord,
  type Preset,
  type Target,
  writeTargetJson,
  writeTargetText,
} from "../target.ts";

/**
 * The zoom range: paper epochs 180-250 scaled to the preset.
 *
 * @example
 * ```ts
 * import { fig4Zoom } from "./fig4.ts";
 * import { PRESETS } from "../presets.ts";
 * if (fig4Zoom(PRESETS.paper).join() !== "180,250") throw new Error();
 * ```
 */
export function fig4Zoom(p: Preset): [number, number] {
  return [Math.max(1, Math.round((180 / 250) * p.epochs)), p.epochs];
}

function curve(
  method: "sgd" | "sam" | "pof",
  histories: EpochRecord[][],
  from: number,
  value: (r: EpochRecord) => number = (r) => r.testError,
): ErrorCurve {
  // Epochs without the value (a rehearsal's epochs without an evaluation or
  // without steps, lib/train/rehearsal.ts: NaN, read back as null) are left
  // out.
  const evaluated = (h: EpochRecord[], e: number) => {
    const r = h.find((x) => x.epoch === e);
    return r !== undefined && Number.isFinite(value(r));
  };
  const epochs = histories[0].map((r) => r.epoch).filter((e) =>
    e >= from && histories.every((h) => evaluated(h, e))
  );
  return {
    method,
    points: epochs.map((epoch) => ({
      epoch,
      error: histories.map((h) => value(h.find((r) => r.epoch === epoch)!)),
    })),
  };
}

/**
 * The training loss PoF's epochs are compared on: the epoch mean of
 * `lossAtTheta0` (update-batch loss at theta0) for PoF epochs, `trainLoss`
 * otherwise (SGD, SAM, and the SAM epochs before the switch). A PoF epoch
 * without it (logged before it existed) is NaN rather than the theta' loss.
 *
 * @example
 * ```ts
 * import { comparableTrainLoss } from "./fig4.ts";
 * const base = { epoch: 1, trainError: 0, testLoss: 0, testError: 0, lr: 0, steps: 1, seconds: 1 };
 * if (comparableTrainLoss({ ...base, method: "sam", trainLoss: 0.3 }) !== 0.3) throw new Error();
 * const pof = { ...base, method: "pof", trainLoss: 0.9, telemetry: { lossAtTheta0: 0.2 } };
 * if (comparableTrainLoss(pof) !== 0.2) throw new Error();
 * ```
 */
export function comparableTrainLoss(r: EpochRecord): number {
  if (r.method !== "pof") return r.trainLoss;
  return r.telemetry?.lossAtTheta0 ?? NaN;
}

/** What `fig4.json` holds under `data`. */
export interface Fig4Json {
  dataset: string;
  /** The epoch PoF starts from SAM. */
  switchEpoch: number;
  /** The zoomed panel's epoch range. */
  zoom: [number, number];
  /** Test error (%) per epoch: SAM continued, SAM -> PoF (from the switch). */
  curves: ErrorCurve[];
  /**
   * Training loss per epoch (values per seed): SGD, SAM continued, SAM ->
   * PoF from the switch at theta0 (`lossAtTheta0`), all comparable.
   */
  trainLoss: ErrorCurve[];
  /** SAM -> PoF's logged `trainLoss` (at the perturbed theta'), per epoch from the switch. */
  pofAtThetaPrime: ErrorCurve;
}

/**
 * Fig. 4.
 *
 * @example
 * ```ts
 * import { target } from "./fig4.ts";
 * import { PRESETS } from "../presets.ts";
 * if (target.runs(PRESETS.paper, [0, 1, 2]).length !== 9) throw new Error();
 * ```
 */
export const target: Target = {
  name: "fig4",
  title:
    "Fig. 4: test error vs epoch, SAM continued vs SAM -> PoF (full run and zoom)",
  runs(p, seeds) {
    const ds = p.datasets[0];
    return seeds.flatMap((s) => [
      samContinuedRun(p, ds, s),
      pofRun(p, ds, s),
      sgdRun(p, ds, s),
    ]);
  },
  async produce(ctx) {
    const p = ctx.preset;
    const ds = p.datasets[0];
    const sam: EpochRecord[][] = [], pof: EpochRecord[][] = [];
    const sgd: EpochRecord[][] = [];
    for (const s of ctx.seeds) {
      sam.push(await ctx.runs.history(samContinuedRun(p, ds, s)));
      pof.push(await ctx.runs.history(pofRun(p, ds, s)));
      sgd.push(await ctx.runs.history(sgdRun(p, ds, s)));
    }
    const curves = [curve("sam", sam, 1), curve("pof", pof, p.switchEpoch)];
    const zoom = fig4Zoom(p);
    const spec = fig4Spec(curves, { zoom, switchEpoch: p.switchEpoch });
    // PoF from the first epoch after the switch: the switch epoch itself is SAM's.
    const trainLoss = [
      curve("sgd", sgd, 1, comparableTrainLoss),
      curve("sam", sam, 1, comparableTrainLoss),
      curve("pof", pof, p.switchEpoch + 1, comparableTrainLoss),
    ];
    const result: Fig4Json = {
      dataset: ds.name,
      switchEpoch: p.switchEpoch,
      zoom,
      curves,
      trainLoss,
      pofAtThetaPrime: curve("pof", pof, p.switchEpoch + 1, (r) => r.trainLoss),
    };
    const lossSpec = fig4Spec(trainLoss, {
      zoom,
      switchEpoch: p.switchEpoch,
      title: "Training loss: SGD, SAM, SAM -> PoF (at theta0)",
      subtitle:
        "update-batch loss, epoch mean; PoF at theta0 (lossAtTheta0), not at theta'",
      yTitle: "training loss",
    });
    const files = [
      await writeTargetJson(ctx, "fig4.json", result),
      await writeTargetText(ctx, "fig4.svg", await renderSvg(spec)),
      await writeTargetText(ctx, "fig4_loss.svg", await renderSvg(lossSpec)),
    ];
    const last = (c: ErrorCurve) => {
      const e = c.points[c.points.length - 1].error as number[];
      return e.reduce((a, b) => a + b, 0) / e.length;
    };
    return {
      files,
      summary: [
        `${ds.name} epoch ${p.epochs}: SAM ${
          last(curves[0]).toFixed(2)
        }%, SAM->PoF ${last(curves[1]).toFixed(2)}%`,
      ],
    };
  },
};
