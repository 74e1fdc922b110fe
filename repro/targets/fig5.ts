/**
 * Fig. 5: histograms of the Hessian components `u^T H u` along normalised
 * mini-batch gradients u (classifier space), for SAM at the switch epoch
 * (SAM-200) and SAM -> PoF at the early epoch (PoF-210), on training and on
 * test mini-batches. H is the Hessian of the whole split (training set for
 * training batches, test set for test batches, as limited by the preset);
 * the mini-batch's own `u^T H_B u` is stored too. Mini-batches have PoF's
 * weak-batch size, are normalised but not augmented, and come from the
 * preset's first dataset and first seed; BatchNorm in inference mode.
 *
 * Writes `fig5.json` and `fig5.svg`.
 *
 * @module
 */
import { hessianComponents } from "../../lib/analysis/checkpoint_stats.ts";
import { fig5Spec } from "../../lib/plot/figures.ts";
import { renderSvg } from "../../lib/plot/render.ts";
import { median } from "../../lib/plot/stats.ts";
import { disposeTree } from "../../lib/tree.ts";
import {
  analysisData,
  runDatasetInfo,
  imageEvalData,
  runWork,
  sampleBatches,
} from "../../lib/train/build.ts";
import { pofRun, samBaseRun } from "../presets.ts";
import { type Target, writeTargetJson, writeTargetText } from "../target.ts";

/**
 * Fig. 5.
 *
 * @example
 * ```ts
 * import { target } from "./fig5.ts";
 * import { PRESETS } from "../presets.ts";
 * if (target.runs(PRESETS.paper, [0])[0].keepEpochs.join() !== "210,250") throw new Error();
 * ```
 */
export const target: Target = {
  name: "fig5",
  title: "Fig. 5: histograms of u^T H u, SAM-200 vs PoF-210, train and test",
  runs(p, seeds) {
    return [pofRun(p, p.datasets[0], seeds[0])];
  },
  work(p, seeds) {
    const run = pofRun(p, p.datasets[0], seeds[0]);
    const info = runDatasetInfo(run.dataset);
    const macs = runWork(run).multiplyAddsPerImage;
    const split = Math.min(info.trainSize, run.trainLimit ?? Infinity) +
      Math.min(info.testSize, run.testLimit ?? Infinity);
    return [{
      description:
        `u^T H u on ${p.histogramBatches} train + ${p.histogramBatches} test mini-batches of ${p.weakBatchSize} ` +
        `and full-split Hessians (${split} images), at 2 checkpoints`,
      multiplyAdds: 2 * (2 * p.histogramBatches * p.weakBatchSize + split) *
        macs,
    }];
  },
  async produce(ctx) {
    const p = ctx.preset;
    const ds = p.datasets[0];
    const seed = ctx.seeds[0];
    const sam = samBaseRun(p, ds, seed), pof = pofRun(p, ds, seed);
    const data = await analysisData(sam);
    const result: Record<
      string,
      Record<string, { dataset: number[]; batch: number[] }>
    > = {
      train: {},
      test: {},
    };
    for (
      const [key, run, epoch] of [
        ["sam", sam, p.switchEpoch],
        ["pof", pof, p.pofEarlyEpoch],
      ] as const
    ) {
      const ck = await ctx.runs.checkpoint(run, epoch);
      try {
        for (const split of ["train", "test"] as const) {
          const set = data[split];
          ctx.log(
            `${key} epoch ${epoch}: u^T H u on ${p.histogramBatches} ${split} mini-batches`,
          );
          const batches = sampleBatches(set, data.augment, {
            batchSize: p.weakBatchSize,
            count: p.histogramBatches,
            seed: ctx.rng(seed).fork(split).uint32(),
          });
          const hc = hessianComponents(
            ck.model,
            { params: ck.params, bn: ck.bn },
            batches,
            { dataset: imageEvalData(set, data.augment, 256).batches() },
          );
          result[split][key] = { dataset: hc.dataset!, batch: hc.batch };
        }
      } finally {
        disposeTree(ck.params.features, ck.params.classifier, ck.bn);
      }
    }
    const spec = fig5Spec({
      train: { sam: result.train.sam.dataset, pof: result.train.pof.dataset },
      test: { sam: result.test.sam.dataset, pof: result.test.pof.dataset },
    });
    const files = [
      await writeTargetJson(ctx, "fig5.json", {
        dataset: ds.name,
        seed,
        samEpoch: p.switchEpoch,
        pofEpoch: p.pofEarlyEpoch,
        batchSize: p.weakBatchSize,
        quantity: "u^T H_D u (dataset); u^T H_B u (batch)",
        ...result,
      }),
      await writeTargetText(ctx, "fig5.svg", await renderSvg(spec)),
    ];
    const med = (
      v: number[],
    ) => (v.some(Number.isFinite)
      ? median(v.filter(Number.isFinite)).toExponential(2)
      : "n/a");
    return {
      files,
      summary: (["train", "test"] as const).map((s) =>
        `${s}: median u^T H u SAM ${med(result[s].sam.dataset)} vs PoF ${
          med(result[s].pof.dataset)
        }`
      ),
    };
  },
};
