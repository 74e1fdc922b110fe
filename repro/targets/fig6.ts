/**
 * Fig. 6: sizes of classifier-parameter perturbations ||d theta||_2 on a
 * log axis, measured at the SAM -> PoF early checkpoint (PoF-210) on
 * training mini-batches: PoF's `gamma xi* u` with gamma = 2 (weak batches of
 * PoF's size), SAM's classifier part of `rho g / ||g||` (update-batch size),
 * and an SGD step `eta g_theta` with eta = the SGD schedule's learning rate
 * at the switch epoch (paper: 1.6e-4). Preset's first dataset.
 *
 * Every seed is analysed (its own PoF-210 checkpoint and mini-batches).
 * `fig6.json` holds `pof`, `sam`, `sgd` pooled over the seeds (concatenated
 * in seed order; what the figure and the notebook show) and `perSeed:
 * [{seed, pof, sam, sgd}]` beside them.
 *
 * Writes `fig6.json` and `fig6.svg`.
 *
 * @module
 */
import { perturbationNorms } from "../../lib/analysis/checkpoint_stats.ts";
import { fig6Spec } from "../../lib/plot/figures.ts";
import { renderSvg } from "../../lib/plot/render.ts";
import { median } from "../../lib/stats.ts";
import { disposeTree } from "../../lib/tree.ts";
import { analysisData, runWork, sampleBatches } from "../../lib/train/build.ts";
import { lrAt } from "../../lib/train/run_config.ts";
import { pofRun } from "../presets.ts";
import { type Target, writeTargetJson, writeTargetText } from "../target.ts";

/** Perturbation norms per mini-batch, by method. */
export type Norms = Record<"pof" | "sam" | "sgd", number[]>;

/**
 * The seeds' norms concatenated in seed order, per method.
 *
 * @example
 * ```ts
 * import { poolNorms } from "./fig6.ts";
 * const p = poolNorms([{ pof: [1], sam: [2], sgd: [3] }, { pof: [4, 5], sam: [6], sgd: [] }]);
 * if (p.pof.join() !== "1,4,5" || p.sam.join() !== "2,6" || p.sgd.join() !== "3") throw new Error();
 * ```
 */
export function poolNorms(perSeed: readonly Norms[]): Norms {
  return {
    pof: perSeed.flatMap((r) => r.pof),
    sam: perSeed.flatMap((r) => r.sam),
    sgd: perSeed.flatMap((r) => r.sgd),
  };
}

/** What `fig6.json` holds under `data`. */
export type Fig6Json = {
  dataset: string;
  seeds: number[];
  /** The PoF epoch the norms are measured at. */
  epoch: number;
  gamma: number;
  rho: number;
  /** The SGD learning rate of the compared SGD step. */
  sgdLr: number;
  /** How the seeds are pooled. */
  pooled: string;
  perSeed: ({ seed: number } & Norms)[];
} & Norms;

/**
 * Fig. 6.
 *
 * @example
 * ```ts
 * import { target } from "./fig6.ts";
 * import { PRESETS } from "../presets.ts";
 * if (target.runs(PRESETS.paper, [0])[0].method.name !== "pof") throw new Error();
 * if (target.runs(PRESETS.paper, [0, 1]).map((r) => r.seed).join() !== "0,1") throw new Error();
 * ```
 */
export const target: Target = {
  name: "fig6",
  title:
    "Fig. 6: perturbation norms of PoF (gamma = 2), SAM and an SGD step (log axis)",
  runs(p, seeds) {
    return seeds.map((s) => pofRun(p, p.datasets[0], s));
  },
  work(p, seeds) {
    const macs = runWork(pofRun(p, p.datasets[0], seeds[0]))
      .multiplyAddsPerImage;
    return [{
      description:
        `perturbations on ${p.histogramBatches} mini-batches each of PoF (${p.weakBatchSize}), SAM and SGD (${p.batchSize}), ${seeds.length} seed(s)`,
      multiplyAdds: seeds.length * p.histogramBatches *
        (p.weakBatchSize + 2 * p.batchSize) * macs,
    }];
  },
  async produce(ctx) {
    const p = ctx.preset;
    const ds = p.datasets[0];
    // The data does not depend on the seed: load it once.
    const data = await analysisData(pofRun(p, ds, ctx.seeds[0]));
    const eta = lrAt(
      { baseLr: ds.lr, milestones: p.milestones, factor: p.lrFactor },
      p.switchEpoch,
    );
    const perSeed: ({ seed: number } & Norms)[] = [];
    for (const seed of ctx.seeds) {
      const ck = await ctx.runs.checkpoint(
        pofRun(p, ds, seed),
        p.pofEarlyEpoch,
      );
      try {
        const state = { params: ck.params, bn: ck.bn };
        const batches = (size: number, label: string) =>
          sampleBatches(data.train, data.augment, {
            batchSize: size,
            count: p.histogramBatches,
            seed: ctx.rng(seed).fork(label).uint32(),
          });
        ctx.log(
          `seed ${seed}: PoF / SAM / SGD perturbations on ${p.histogramBatches} mini-batches each`,
        );
        perSeed.push({
          seed,
          pof: perturbationNorms(
            ck.model,
            state,
            batches(p.weakBatchSize, "pof"),
            { method: "pof", gamma: 2 },
          ),
          sam: perturbationNorms(
            ck.model,
            state,
            batches(p.batchSize, "sam"),
            { method: "sam", rho: ds.rho },
          ),
          sgd: perturbationNorms(
            ck.model,
            state,
            batches(p.batchSize, "sgd"),
            { method: "sgd", lr: eta },
          ),
        });
      } finally {
        disposeTree(ck.params.features, ck.params.classifier, ck.bn);
      }
    }
    const norms = poolNorms(perSeed);
    const files = [
      await writeTargetJson(
        ctx,
        "fig6.json",
        {
          dataset: ds.name,
          seeds: ctx.seeds,
          epoch: p.pofEarlyEpoch,
          gamma: 2,
          rho: ds.rho,
          sgdLr: eta,
          pooled:
            `pof / sam / sgd: the ${ctx.seeds.length} seed(s) concatenated in seed order; per seed in perSeed`,
          ...norms,
          perSeed,
        } satisfies Fig6Json,
      ),
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
        }${ctx.seeds.length > 1 ? ` (${ctx.seeds.length} seeds pooled)` : ""}`,
        ...(ctx.seeds.length > 1
          ? perSeed.map((r) =>
            `  seed ${r.seed}: PoF ${med(r.pof)}, SAM ${med(r.sam)}, SGD ${
              med(r.sgd)
            }`
          )
          : []),
      ],
    };
  },
};
