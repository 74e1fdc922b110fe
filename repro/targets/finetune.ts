/**
 * Sec. 4.2 (text): after PoF, fine-tuning only the classifier for 10 epochs
 * (scaled) does not improve the test error. As in the paper, it starts from
 * PoF at the early evaluation epoch (210, i.e. 10 epochs post-trained;
 * scaled), runs SGD on theta only (phi frozen) at the SGD schedule's final
 * learning rate, and compares the test error before (PoF-210) and after
 * (210 + 10), per seed; PoF's own test error at the same end epoch (PoF
 * continued instead of fine-tuning) is recorded beside it. The claim is
 * tested seed by seed: `after - before`, its 95% Student-t interval over
 * the seeds and a verdict (`lib/stats.ts`); seeds whose runs differ in more
 * than the seed are refused.
 *
 * Writes `finetune.json` ({@link FinetuneJson}), `finetune.md`,
 * `finetune.svg`.
 *
 * @module
 */
import { fig4Spec } from "../../lib/plot/figures.ts";
import { renderSvg } from "../../lib/plot/render.ts";
import {
  type ClaimTest,
  formatDifference,
  meanStd,
  testClaim,
} from "../../lib/stats.ts";
import { formatMeanStd, markdownTable } from "../../lib/plot/tables.ts";
import { runId } from "../../lib/train/run_id.ts";
import { finetuneRun, pofRun } from "../presets.ts";
import {
  atEpoch,
  cellErrors,
  type Target,
  writeTargetJson,
  writeTargetText,
} from "../target.ts";

/** What `finetune.json` holds under `data`. */
export interface FinetuneJson {
  dataset: string;
  /** The checkpoint the fine-tuning starts from (seed 0's run id; the other seeds differ only in the seed). */
  from: { run: string; epoch: number };
  /** Every seed's starting run id, in seed order. */
  fromRuns: string[];
  finetuneEpochs: number;
  /** Epoch at which `after` is read (`from.epoch + finetuneEpochs`). */
  endEpoch: number;
  /** Test error (%) of PoF at `from.epoch`, per seed. */
  before: number[];
  /** Test error (%) after the classifier fine-tuning, per seed. */
  after: number[];
  /** `after - before` per seed. */
  difference: number[];
  /** PoF's own test error (%) at `endEpoch` (PoF continued), per seed. */
  pofAtEnd: number[];
  /**
   * The paired test of the paper's claim that fine-tuning does not lower
   * the error: `after - before`, its 95% t-interval, verdict on side +1
   * (`contradicted`: fine-tuning lowered the error; `undecided`: the
   * interval contains 0, which is consistent with the claim).
   */
  comparison: ClaimTest & {
    a: "finetune";
    b: "pof";
    epochA: number;
    epochB: number;
  };
}

/**
 * Classifier-only fine-tuning after PoF.
 *
 * @example
 * ```ts
 * import { target } from "./finetune.ts";
 * import { PRESETS } from "../presets.ts";
 * if (target.runs(PRESETS.paper, [0])[0].from!.epoch !== 210) throw new Error();
 * ```
 */
export const target: Target = {
  name: "finetune",
  title:
    "Sec. 4.2: fine-tuning only the classifier for 10 epochs after PoF-210 (does it help?)",
  runs(p, seeds) {
    return seeds.map((s) => finetuneRun(p, p.datasets[0], s));
  },
  async produce(ctx) {
    const p = ctx.preset;
    const ds = p.datasets[0];
    const start = p.pofEarlyEpoch, end = p.pofEarlyEpoch + p.finetuneEpochs;
    const before = await cellErrors(
      ctx.runs,
      `finetune ${ds.name} SAM->PoF ${start}`,
      ctx.seeds.map((s) => pofRun(p, ds, s)),
      start,
    );
    const after = await cellErrors(
      ctx.runs,
      `finetune ${ds.name} fine-tuned ${end}`,
      ctx.seeds.map((s) => finetuneRun(p, ds, s)),
      end,
    );
    const comparison = {
      a: "finetune" as const,
      b: "pof" as const,
      epochA: end,
      epochB: start,
      ...testClaim(after, before, 1),
    };
    const pofAtEnd: number[] = [];
    const curves: { epoch: number; pof: number; finetune: number }[][] = [];
    for (const s of ctx.seeds) {
      const pof = await ctx.runs.history(pofRun(p, ds, s));
      const ft = await ctx.runs.history(finetuneRun(p, ds, s));
      pofAtEnd.push(atEpoch(pof, end).testError);
      curves.push(
        // Epochs without an evaluation (a rehearsal's) are left out.
        ft.filter((r) =>
          r.epoch >= p.switchEpoch && Number.isFinite(r.testError)
        ).map((r) => ({
          epoch: r.epoch,
          pof: r.epoch <= start ? r.testError : atEpoch(pof, r.epoch).testError,
          finetune: r.testError,
        })),
      );
    }
    const diff = comparison.diffs;
    const md = [
      "# Classifier-only fine-tuning after PoF (Sec. 4.2)",
      "",
      `Preset \`${p.name}\`, dataset ${ds.name}, seeds ${
        ctx.seeds.join(", ")
      }: ` +
      `${p.finetuneEpochs} epoch(s) of SGD on the classifier only (features frozen) ` +
      `from SAM -> PoF epoch ${start} (the paper: from PoF at 210, 10 epochs post-trained). ` +
      `The paper reports that this does not help (2.40% -> 2.39 +- 0.03%, CIFAR-10).`,
      "",
      markdownTable(
        ["", "test error (%)"],
        [
          [`SAM->PoF ${start}`, formatMeanStd(meanStd(before))],
          [
            `+ classifier fine-tuning to ${end}`,
            formatMeanStd(meanStd(after)),
          ],
          ["difference (after - before)", formatMeanStd(meanStd(diff))],
          [`SAM->PoF ${end} (PoF continued)`, formatMeanStd(meanStd(pofAtEnd))],
        ],
        { alignRight: [1] },
      ),
      "",
      `Paired difference after - before, mean [95% Student-t interval over ${ctx.seeds.length} seed(s)] ` +
      `and verdict on the claim that fine-tuning does not lower the error ` +
      `(\`contradicted\` if the interval lies below 0; \`undecided\`, an interval containing 0, ` +
      `is consistent with the claim): ${
        formatDifference(comparison, comparison.verdict)
      }.`,
      "",
    ].join("\n");
    const spec = fig4Spec([
      {
        method: "pof",
        points: curves[0].map((c, i) => ({
          epoch: c.epoch,
          error: curves.map((cs) => cs[i].pof),
        })),
      },
      {
        method: "finetune",
        points: curves[0].map((c, i) => ({ epoch: c.epoch, i })).filter((c) =>
          c.epoch >= start
        ).map((c) => ({
          epoch: c.epoch,
          error: curves.map((cs) => cs[c.i].finetune),
        })),
      },
    ], { switchEpoch: start, switchLabel: "fine-tuning starts" });
    const fromRuns = ctx.seeds.map((s) => runId(pofRun(p, ds, s)));
    const result: FinetuneJson = {
      dataset: ds.name,
      from: { run: fromRuns[0], epoch: start },
      fromRuns,
      finetuneEpochs: p.finetuneEpochs,
      endEpoch: end,
      before,
      after,
      difference: diff,
      pofAtEnd,
      comparison,
    };
    const files = [
      await writeTargetJson(ctx, "finetune.json", result),
      await writeTargetText(ctx, "finetune.md", md),
      await writeTargetText(ctx, "finetune.svg", await renderSvg(spec)),
    ];
    return {
      files,
      summary: [
        `test error ${meanStd(before).mean.toFixed(2)}% (PoF ${start}) -> ${
          meanStd(after).mean.toFixed(2)
        }% after ${p.finetuneEpochs} classifier-only epoch(s); PoF continued to ${end}: ${
          meanStd(pofAtEnd).mean.toFixed(2)
        }%; after - before ${formatDifference(comparison, comparison.verdict)}`,
      ],
    };
  },
};
