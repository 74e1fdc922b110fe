/**
 * Target `fig1`: the paper's Fig. 1(c, d) on the toy MLP (computed here, no
 * runner runs). Writes `fig1.json` (the {@link Fig1Summary} of
 * `lib/analysis/toy_summaries.ts`: per-layer Delta L for SGD and PoF with the
 * spread over seeds, the Fig. 1(d) landscapes, claim counts, per-seed
 * details), `fig1c.svg` and `fig1d.svg`.
 *
 * Presets: `smoke` (tiny MLP, seconds), `quick` (full toy data, 150 SGD +
 * 50 PoF epochs), `paper` (300 + 100 epochs, finer grids). The seeds are
 * the runner's (`--seeds N` = 0..N-1); each seed fixes data, init and
 * training.
 *
 * @module
 */
import type { Target, TargetContext, TargetOutput } from "../target.ts";
import { writeTargetJson, writeTargetText } from "../target.ts";
import {
  fig1Config,
  type Fig1Result,
  runFig1,
} from "../../lib/analysis/toy_fig1.ts";
import {
  type Fig1Summary,
  summarizeFig1,
} from "../../lib/analysis/toy_summaries.ts";
import { fig1cSpec, fig1dSpec } from "../../lib/plot/figures.ts";
import { renderSvg } from "../../lib/plot/render.ts";

function fmt(x: number): string {
  return x.toExponential(2);
}

/** What `fig1.json` holds under `data`: the multi-seed {@link Fig1Summary}. */
export type Fig1Json = Fig1Summary;

/** The fig1 target. */
export const target: Target = {
  name: "fig1",
  title:
    "Fig. 1(c,d): per-layer loss increase along top Hessian eigenvectors, toy MLP, SGD vs PoF",
  runs: () => [],
  work(preset, seeds) {
    const c = fig1Config(preset.name);
    const n = c.data.trainSize ?? 512;
    const perExample = 16 * c.hidden[0] +
      c.hidden.slice(1).reduce((s, h, i) => s + c.hidden[i] * h, 0) +
      c.hidden[c.hidden.length - 1] * 4;
    const steps = Math.floor(n / c.batchSize) *
      (c.sgd.epochs + 2 * c.pof.epochs);
    return [{
      description:
        `toy MLP: ${c.sgd.epochs} SGD + ${c.pof.epochs} PoF epochs, Lanczos and landscapes, x${seeds.length} seeds`,
      multiplyAdds: seeds.length * 3 * perExample *
        (steps * c.batchSize + 2 * c.lanczosSteps * 4 * n * 3 +
          2 * 5 * c.deltaPoints * (c.data.testSize ?? 8192)),
    }];
  },
  async produce(ctx: TargetContext): Promise<TargetOutput> {
    const config = fig1Config(ctx.preset.name);
    const results: Fig1Result[] = [];
    for (const seed of ctx.seeds) {
      ctx.log(`seed ${seed}`);
      results.push(
        runFig1(config, {
          seed,
          onProgress: (l) => ctx.log(`[seed ${seed}] ${l}`),
        }),
      );
    }
    const summary = summarizeFig1(results);
    const files = [await writeTargetJson(ctx, "fig1.json", summary)];
    const c = summary.claims;
    const lines = [
      ...summary.layers.map((l) =>
        `layer ${l.layer}: Delta L SGD ${fmt(l.deltaL.sgd)} +- ${
          fmt(l.deltaLStd.sgd)
        }, PoF ${fmt(l.deltaL.pof)} +- ${fmt(l.deltaLStd.pof)}`
      ),
      `final layer has the largest Delta L (SGD) in ${c.finalLayerLargest}/${c.seeds} seeds; ` +
      `Delta L grows with depth in ${c.increasingWithDepth}/${c.seeds}`,
      `PoF reduces the final-layer Delta L in ${c.pofReducesFinalDeltaL}/${c.seeds} seeds; ` +
      `wider flat region (eigvec 1) in ${c.pofWiderFlatRegion}/${c.seeds}`,
    ];
    try {
      files.push(
        await writeTargetText(
          ctx,
          "fig1c.svg",
          await renderSvg(fig1cSpec(summary.layers.map((l) => ({
            layer: l.layer,
            deltaL: { sgd: l.deltaLPerSeed.sgd, pof: l.deltaLPerSeed.pof },
          })))),
        ),
      );
      const pts = (m: "sgd" | "pof") =>
        summary.landscapeTopK[m].flatMap((curve, k) =>
          curve.map((p) => ({ ...p, direction: k + 1 }))
        );
      files.push(
        await writeTargetText(
          ctx,
          "fig1d.svg",
          await renderSvg(fig1dSpec({ sgd: pts("sgd"), pof: pts("pof") })),
        ),
      );
    } catch (e) {
      lines.push(`SVG not written: ${(e as Error).message}`);
    }
    return { files, summary: lines };
  },
};
