/**
 * Target `fig2`: the paper's Fig. 2 on the toy MLP at the SGD minimum
 * (computed here, no runner runs). Writes `fig2.json` (the
 * {@link Fig2Summary} of `lib/analysis/toy_summaries.ts`: `eigIndexCounts`
 * summed over seeds and per seed under the paper's definition (data-loss
 * mini-batch gradient), `eigIndexCountsRegularised` with the
 * weight-decay-regularised gradient, `xiTrain` / `xiTest` of all seeds, median
 * ratios, claim counts), `fig2a.svg` (first 20 eigenvector indices) and
 * `fig2b.svg` (log x-axis).
 *
 * @module
 */
import type { Target, TargetContext, TargetOutput } from "../target.ts";
import { writeTargetJson, writeTargetText } from "../target.ts";
import {
  fig2Config,
  type Fig2Result,
  runFig2,
} from "../../lib/analysis/toy_fig2.ts";
import {
  type Fig2Summary,
  summarizeFig2,
} from "../../lib/analysis/toy_summaries.ts";
import { fig2aSpec, fig2bSpec } from "../../lib/plot/figures.ts";
import { renderSvg } from "../../lib/plot/render.ts";

/** What `fig2.json` holds under `data`: the multi-seed {@link Fig2Summary}. */
export type Fig2Json = Fig2Summary;

/** The fig2 target. */
export const target: Target = {
  name: "fig2",
  title:
    "Fig. 2: mini-batch gradient / Hessian eigenvector alignment, xi* train vs test (toy MLP)",
  runs: () => [],
  work(preset, seeds) {
    const c = fig2Config(preset.name);
    const n = c.data.trainSize ?? 512;
    const perExample = 16 * c.hidden[0] +
      c.hidden.slice(1).reduce((s, h, i) => s + c.hidden[i] * h, 0) +
      c.hidden[c.hidden.length - 1] * 4;
    return [{
      description:
        `toy MLP: ${c.sgd.epochs} SGD epochs, ${c.batches} train + ${c.batches} test mini-batches, x${seeds.length} seeds`,
      multiplyAdds: seeds.length * perExample *
        (3 * Math.floor(n / c.batchSize) * c.sgd.epochs * c.batchSize + n +
          (c.data.testSize ?? 8192)),
    }];
  },
  async produce(ctx: TargetContext): Promise<TargetOutput> {
    const config = fig2Config(ctx.preset.name);
    const results: Fig2Result[] = [];
    for (const seed of ctx.seeds) {
      ctx.log(`seed ${seed}`);
      results.push(
        runFig2(config, {
          seed,
          onProgress: (l) => ctx.log(`[seed ${seed}] ${l}`),
        }),
      );
    }
    const summary = summarizeFig2(results);
    const files = [await writeTargetJson(ctx, "fig2.json", summary)];
    const c = summary.claims;
    const lines = [
      `Fig. 2(a) mode per seed (data-loss gradient, the paper's definition): ${
        summary.modePerSeed.join(", ")
      } (paper: 1); mode at 1 in ${c.modeAtOne}/${c.seeds}`,
      `Fig. 2(a) mode per seed (regularised gradient g_B + wd theta0): ${
        summary.modePerSeedRegularised.join(", ")
      }; mode at 1 in ${c.modeAtOneRegularised}/${c.seeds}`,
      `Fig. 2(b) median xi* test / train per seed: ${
        summary.medianRatioPerSeed.map((r) => r.toFixed(2)).join(", ")
      } (paper: about 2); in [1.5, 3] for ${c.ratioAboutTwo}/${c.seeds}`,
    ];
    try {
      files.push(
        await writeTargetText(
          ctx,
          "fig2a.svg",
          await renderSvg(fig2aSpec(summary.eigIndexCounts.slice(0, 20))),
        ),
      );
      files.push(
        await writeTargetText(
          ctx,
          "fig2b.svg",
          await renderSvg(fig2bSpec(summary, { log: true })),
        ),
      );
    } catch (e) {
      lines.push(`SVG not written: ${(e as Error).message}`);
    }
    return { files, summary: lines };
  },
};
