/**
 * Fig. 4: test error vs epoch of SAM continued after the switch epoch and
 * of SAM -> PoF, over the whole run and zoomed to the last 70 paper epochs
 * (180-250, scaled), on the preset's first dataset, mean +- std over seeds.
 *
 * Writes `fig4.json` and `fig4.svg`.
 *
 * @module
 */
import { type ErrorCurve, fig4Spec } from "../../lib/plot/figures.ts";
import { renderSvg } from "../../lib/plot/render.ts";
import { pofRun, samContinuedRun } from "../presets.ts";
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
  method: "sam" | "pof",
  histories: EpochRecord[][],
  from: number,
): ErrorCurve {
  const epochs = histories[0].map((r) => r.epoch).filter((e) => e >= from);
  return {
    method,
    points: epochs.map((epoch) => ({
      epoch,
      error: histories.map((h) => h.find((r) => r.epoch === epoch)!.testError),
    })),
  };
}

/** What `fig4.json` holds under `data`. */
export interface Fig4Json {
  dataset: string;
  /** The epoch PoF starts from SAM. */
  switchEpoch: number;
  /** The zoomed panel's epoch range. */
  zoom: [number, number];
  /** SAM continued and SAM -> PoF: test error (%) per seed at each epoch. */
  curves: ErrorCurve[];
}

/**
 * Fig. 4.
 *
 * @example
 * ```ts
 * import { target } from "./fig4.ts";
 * import { PRESETS } from "../presets.ts";
 * if (target.runs(PRESETS.paper, [0, 1, 2]).length !== 6) throw new Error();
 * ```
 */
export const target: Target = {
  name: "fig4",
  title:
    "Fig. 4: test error vs epoch, SAM continued vs SAM -> PoF (full run and zoom)",
  runs(p, seeds) {
    const ds = p.datasets[0];
    return seeds.flatMap((s) => [samContinuedRun(p, ds, s), pofRun(p, ds, s)]);
  },
  async produce(ctx) {
    const p = ctx.preset;
    const ds = p.datasets[0];
    const sam: EpochRecord[][] = [], pof: EpochRecord[][] = [];
    for (const s of ctx.seeds) {
      sam.push(await ctx.runs.history(samContinuedRun(p, ds, s)));
      pof.push(await ctx.runs.history(pofRun(p, ds, s)));
    }
    const curves = [curve("sam", sam, 1), curve("pof", pof, p.switchEpoch)];
    const zoom = fig4Zoom(p);
    const spec = fig4Spec(curves, { zoom, switchEpoch: p.switchEpoch });
    const files = [
      await writeTargetJson(
        ctx,
        "fig4.json",
        {
          dataset: ds.name,
          switchEpoch: p.switchEpoch,
          zoom,
          curves,
        } satisfies Fig4Json,
      ),
      await writeTargetText(ctx, "fig4.svg", await renderSvg(spec)),
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
