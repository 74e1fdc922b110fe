/**
 * Fig. 6: sizes of classifier-parameter perturbations ||d theta||_2 on a
 * log axis, measured at the SAM -> PoF early checkpoint (PoF-210) on
 * training mini-batches: PoF's `gamma xi* u` with gamma = 2 (weak batches of
 * PoF's size), SAM's classifier part of `rho g / ||g||` (update-batch size),
 * and an SGD step `eta g_theta` with eta = the SGD schedule's learning rate
 * at the switch epoch (paper: 1.6e-4). Preset's first dataset, first seed.
 *
 * Writes `fig6.json` and `fig6.svg`.
 *
 * @module
 */
import { perturbationNorms } from "../../lib/analysis/checkpoint_stats.ts";
import { fig6Spec } from "../../lib/plot/figures.ts";
import { renderSvg } from "../../lib/plot/render.ts";
import { median } from "../../lib/plot/stats.ts";
import { disposeTree } from "../../lib/tree.ts";
import { analysisData, runWork, sampleBatches } from "../../lib/train/build.ts";
import { lrAt } from "../../lib/train/run_config.ts";
import { pofRun } from "../presets.ts";
import { type Target, writeTargetJson, writeTargetText } from "../target.ts";

/**
 * Fig. 6.
 *
 * @example
 * ```ts
 * import { target } from "./fig6.ts";
 * import { PRESETS } from "../presets.ts";
 * if (target.runs(PRESETS.paper, [0])[0].method.name !== "pof") throw new Error();
 * ```
 */
export const target: Target = {
  name: "fig6",
  title:
    "Fig. 6: perturbation norms of PoF (gamma = 2), SAM and an SGD step (log axis)",
  runs(p, seeds) {
    return [pofRun(p, p.datasets[0], seeds[0])];
  },
  work(p, seeds) {
    const macs = runWork(pofRun(p, p.datasets[0], seeds[0]))
      .multiplyAddsPerImage;
    return [{
      description:
        `perturbations on ${p.histogramBatches} mini-batches each of PoF (${p.weakBatchSize}), SAM and SGD (${p.batchSize})`,
      multiplyAdds: p.histogramBatches * (p.weakBatchSize + 2 * p.batchSize) *
        macs,
    }];
  },
  async produce(ctx) {
    const p = ctx.preset;
    const ds = p.datasets[0];
    const seed = ctx.seeds[0];
    const run = pofRun(p, ds, seed);
    const data = await analysisData(run);
    const eta = lrAt(
      { baseLr: ds.lr, milestones: p.milestones, factor: p.lrFactor },
      p.switchEpoch,
    );
    const ck = await ctx.runs.checkpoint(run, p.pofEarlyEpoch);
    const norms: Record<"pof" | "sam" | "sgd", number[]> = {
      pof: [],
      sam: [],
      sgd: [],
    };
    try {
      const state = { params: ck.params, bn: ck.bn };
      const batches = (size: number, label: string) =>
        sampleBatches(data.train, data.augment, {
          batchSize: size,
          count: p.histogramBatches,
          seed: ctx.rng(seed).fork(label).uint32(),
        });
      ctx.log(
        `PoF / SAM / SGD perturbations on ${p.histogramBatches} mini-batches each`,
      );
      norms.pof = perturbationNorms(
        ck.model,
        state,
        batches(p.weakBatchSize, "pof"),
        {
          method: "pof",
          gamma: 2,
        },
      );
      norms.sam = perturbationNorms(
        ck.model,
        state,
        batches(p.batchSize, "sam"),
        {
          method: "sam",
          rho: ds.rho,
        },
      );
      norms.sgd = perturbationNorms(
        ck.model,
        state,
        batches(p.batchSize, "sgd"),
        {
          method: "sgd",
          lr: eta,
        },
      );
    } finally {
      disposeTree(ck.params.features, ck.params.classifier, ck.bn);
    }
    const files = [
      await writeTargetJson(ctx, "fig6.json", {
        dataset: ds.name,
        seed,
        epoch: p.pofEarlyEpoch,
        gamma: 2,
        rho: ds.rho,
        sgdLr: eta,
        ...norms,
      }),
      await writeTargetText(ctx, "fig6.svg", await renderSvg(fig6Spec(norms))),
    ];
    const med = (
      v: number[],
    ) => (v.some((x) => Number.isFinite(x) && x > 0)
      ? median(v.filter((x) => Number.isFinite(x) && x > 0)).toExponential(2)
      : "n/a");
    return {
      files,
      summary: [
        `median ||dtheta||: PoF ${med(norms.pof)}, SAM ${med(norms.sam)}, SGD ${
          med(norms.sgd)
        }`,
      ],
    };
  },
};
