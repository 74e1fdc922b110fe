/**
 * Sec. 4.2 (text): after PoF, fine-tuning only the classifier for 10 epochs
 * (scaled) does not improve the test error. Runs SGD on theta only (phi
 * frozen) from the PoF run's last checkpoint, at the SGD schedule's final
 * learning rate, and compares the test error before and after, per seed.
 *
 * Writes `finetune.json`, `finetune.md`, `finetune.svg`.
 *
 * @module
 */
import { fig4Spec } from "../../lib/plot/figures.ts";
import { renderSvg } from "../../lib/plot/render.ts";
import { meanStd } from "../../lib/stats.ts";
import { formatMeanStd, markdownTable } from "../../lib/plot/tables.ts";
import { finetuneRun, pofRun } from "../presets.ts";
import {
  atEpoch,
  type Target,
  writeTargetJson,
  writeTargetText,
} from "../target.ts";

/** What `finetune.json` holds under `data`. */
export interface FinetuneJson {
  dataset: string;
  /** The SAM -> PoF epoch fine-tuning starts from. */
  pofEpoch: number;
  finetuneEpochs: number;
  /** Test error (%) per seed after PoF and after the fine-tuning. */
  before: number[];
  after: number[];
  /** `after - before` per seed. */
  difference: number[];
}

/**
 * Classifier-only fine-tuning after PoF.
 *
 * @example
 * ```ts
 * import { target } from "./finetune.ts";
 * import { PRESETS } from "../presets.ts";
 * if (target.runs(PRESETS.paper, [0])[0].from!.epoch !== 250) throw new Error();
 * ```
 */
export const target: Target = {
  name: "finetune",
  title:
    "Sec. 4.2: fine-tuning only the classifier for 10 epochs after PoF (does it help?)",
  runs(p, seeds) {
    return seeds.map((s) => finetuneRun(p, p.datasets[0], s));
  },
  async produce(ctx) {
    const p = ctx.preset;
    const ds = p.datasets[0];
    const before: number[] = [], after: number[] = [];
    const curves: { epoch: number; pof: number; finetune: number }[][] = [];
    for (const s of ctx.seeds) {
      const pof = await ctx.runs.history(pofRun(p, ds, s));
      const ft = await ctx.runs.history(finetuneRun(p, ds, s));
      before.push(atEpoch(pof, p.epochs).testError);
      after.push(atEpoch(ft, p.epochs + p.finetuneEpochs).testError);
      curves.push(
        ft.filter((r) => r.epoch >= p.switchEpoch).map((r) => ({
          epoch: r.epoch,
          pof: r.testError,
          finetune: r.testError,
        })),
      );
    }
    const diff = after.map((a, i) => a - before[i]);
    const md = [
      "# Classifier-only fine-tuning after PoF (Sec. 4.2)",
      "",
      `Preset \`${p.name}\`, dataset ${ds.name}, seeds ${
        ctx.seeds.join(", ")
      }: ` +
      `${p.finetuneEpochs} epoch(s) of SGD on the classifier only (features frozen) ` +
      `after SAM -> PoF epoch ${p.epochs}. The paper reports that this does not help.`,
      "",
      markdownTable(
        ["", "test error (%)"],
        [
          [`SAM->PoF ${p.epochs}`, formatMeanStd(meanStd(before))],
          [
            `+ classifier fine-tuning ${p.epochs + p.finetuneEpochs}`,
            formatMeanStd(meanStd(after)),
          ],
          ["difference (after - before)", formatMeanStd(meanStd(diff))],
        ],
        { alignRight: [1] },
      ),
      "",
    ].join("\n");
    const startFt = p.epochs;
    const spec = fig4Spec([
      {
        method: "pof",
        points: curves[0].filter((c) => c.epoch <= startFt).map((_, i) => ({
          epoch: curves[0][i].epoch,
          error: curves.map((c) => c[i].pof),
        })),
      },
      {
        method: "finetune",
        points: curves[0].map((c, i) => ({ epoch: c.epoch, i })).filter((c) =>
          c.epoch >= startFt
        ).map((c) => ({
          epoch: c.epoch,
          error: curves.map((cs) => cs[c.i].finetune),
        })),
      },
    ], { switchEpoch: startFt, switchLabel: "fine-tuning starts" });
    const files = [
      await writeTargetJson(
        ctx,
        "finetune.json",
        {
          dataset: ds.name,
          pofEpoch: p.epochs,
          finetuneEpochs: p.finetuneEpochs,
          before,
          after,
          difference: diff,
        } satisfies FinetuneJson,
      ),
      await writeTargetText(ctx, "finetune.md", md),
      await writeTargetText(ctx, "finetune.svg", await renderSvg(spec)),
    ];
    return {
      files,
      summary: [
        `test error ${meanStd(before).mean.toFixed(2)}% -> ${
          meanStd(after).mean.toFixed(2)
        }% after ${p.finetuneEpochs} classifier-only epoch(s)`,
      ],
    };
  },
};
