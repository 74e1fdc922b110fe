/**
 * Fig. 5: histograms of the Hessian components `u^T H u` along normalised
 * mini-batch gradients u (classifier space), for SAM at the switch epoch
 * (SAM-200) and SAM -> PoF at the early epoch (PoF-210), on training and on
 * test mini-batches. H is the Hessian of the whole split (training set for
 * training batches, test set for test batches, as limited by the preset);
 * the mini-batch's own `u^T H_B u` is stored too. Mini-batches have PoF's
 * weak-batch size, are normalised but not augmented, and come from the
 * preset's first dataset; BatchNorm in inference mode.
 *
 * Every seed is analysed (its own SAM-200 and PoF-210 checkpoints, its own
 * mini-batches). `fig5.json` holds `train: {sam, pof}` and `test: {sam,
 * pof}` pooled over the seeds (the seeds' values concatenated in seed
 * order; what the figure and the notebook show) and `perSeed: [{seed,
 * train, test}]` beside them.
 *
 * Writes `fig5.json` and `fig5.svg`.
 *
 * @module
 */
import { hessianComponents } from "../../lib/analysis/checkpoint_stats.ts";
import { fig5Spec } from "../../lib/plot/figures.ts";
import { renderSvg } from "../../lib/plot/render.ts";
import {
  type ClaimTest,
  formatDifference,
  median,
  testClaim,
} from "../../lib/stats.ts";
import { disposeTree } from "../../lib/tree.ts";
import {
  analysisData,
  analysisLimits,
  imageEvalData,
  runWork,
  sampleBatches,
} from "../../lib/train/build.ts";
import { runDatasetInfo } from "../../lib/data/dataset_registry.ts";
import { pofRun, samBaseRun } from "../presets.ts";
import {
  checkCell,
  type Target,
  writeTargetJson,
  writeTargetText,
} from "../target.ts";

/** u^T H u per mini-batch: H over the whole split (`dataset`) and over the batch itself (`batch`). */
export interface Components {
  dataset: number[];
  batch: number[];
}
/** Fig. 5's values per split and method. */
export type Fig5Split = Record<
  "train" | "test",
  Record<"sam" | "pof", Components>
>;

function empty(): Components {
  return { dataset: [], batch: [] };
}

/**
 * The seeds' values concatenated in seed order, per split and method.
 *
 * @example
 * ```ts
 * import { poolSeeds } from "./fig5.ts";
 * const c = (d: number[]) => ({ dataset: d, batch: d.map((x) => -x) });
 * const one = (a: number) => ({ train: { sam: c([a]), pof: c([a + 1]) }, test: { sam: c([a + 2]), pof: c([a + 3]) } });
 * const p = poolSeeds([one(0), one(10)]);
 * if (p.train.pof.dataset.join() !== "1,11" || p.test.sam.batch.join() !== "-2,-12") throw new Error();
 * ```
 */
export function poolSeeds(perSeed: readonly Fig5Split[]): Fig5Split {
  const out: Fig5Split = {
    train: { sam: empty(), pof: empty() },
    test: { sam: empty(), pof: empty() },
  };
  for (const r of perSeed) {
    for (const split of ["train", "test"] as const) {
      for (const m of ["sam", "pof"] as const) {
        out[split][m].dataset.push(...r[split][m].dataset);
        out[split][m].batch.push(...r[split][m].batch);
      }
    }
  }
  return out;
}

/** The median of a seed's u^T H_D u values per split and method. */
export type Fig5Medians = Record<
  "train" | "test",
  Record<"sam" | "pof", number>
>;

/** PoF - SAM of the per-seed medians of u^T H_D u on one split, tested against the paper's claim (PoF reduces them). */
export type Fig5Comparison = ClaimTest & {
  split: "train" | "test";
  a: "pof";
  b: "sam";
  epochA: number;
  epochB: number;
};

/**
 * Per-seed medians of the whole-split components (finite values only; NaN
 * when a seed has none) and, for each split, the paired PoF - SAM test of
 * the paper's claim that PoF lowers them (side -1); null where a median is
 * missing.
 *
 * @example
 * ```ts
 * import { seedMedians } from "./fig5.ts";
 * const c = (d: number[]) => ({ dataset: d, batch: [] });
 * const one = (s: number) => ({ train: { sam: c([4, 6 + s, 5]), pof: c([2, 3]) }, test: { sam: c([4]), pof: c([5 + s]) } });
 * const r = seedMedians([one(0), one(1)], { samEpoch: 200, pofEpoch: 210 });
 * if (r.medians[1].train.sam !== 5 || r.medians[0].train.pof !== 2.5) throw new Error();
 * if (r.comparisons[0]!.verdict !== "reproduced" || r.comparisons[1]!.verdict !== "undecided") throw new Error();
 * ```
 */
export function seedMedians(
  perSeed: readonly Fig5Split[],
  epochs: { samEpoch: number; pofEpoch: number },
): { medians: Fig5Medians[]; comparisons: (Fig5Comparison | null)[] } {
  const med = (v: number[]) => {
    const f = v.filter(Number.isFinite);
    return f.length ? median(f) : NaN;
  };
  const medians = perSeed.map((r) => ({
    train: { sam: med(r.train.sam.dataset), pof: med(r.train.pof.dataset) },
    test: { sam: med(r.test.sam.dataset), pof: med(r.test.pof.dataset) },
  }));
  const comparisons = (["train", "test"] as const).map((split) => {
    const pof = medians.map((m) => m[split].pof);
    const sam = medians.map((m) => m[split].sam);
    if (![...pof, ...sam].every(Number.isFinite)) return null;
    return {
      split,
      a: "pof" as const,
      b: "sam" as const,
      epochA: epochs.pofEpoch,
      epochB: epochs.samEpoch,
      ...testClaim(pof, sam, -1),
    };
  });
  return { medians, comparisons };
}

/** What `fig5.json` holds under `data`. */
export type Fig5Json = {
  dataset: string;
  seeds: number[];
  samEpoch: number;
  pofEpoch: number;
  /** Mini-batch size of the batches u and H_B are taken on. */
  batchSize: number;
  quantity: string;
  /** How the seeds are pooled. */
  pooled: string;
  perSeed: ({ seed: number } & Fig5Split)[];
  /** Per seed (same order as `seeds`): the medians of u^T H_D u. */
  medians: Fig5Medians[];
  /** Train and test: PoF - SAM of the per-seed medians, 95% t-interval, verdict (null: a median missing). */
  comparisons: (Fig5Comparison | null)[];
} & Fig5Split;

/**
 * Fig. 5.
 *
 * @example
 * ```ts
 * import { target } from "./fig5.ts";
 * import { PRESETS } from "../presets.ts";
 * if (target.runs(PRESETS.paper, [0])[0].keepEpochs.join() !== "210,250") throw new Error();
 * if (target.runs(PRESETS.paper, [0, 1, 2]).map((r) => r.seed).join() !== "0,1,2") throw new Error();
 * ```
 */
export const target: Target = {
  name: "fig5",
  title: "Fig. 5: histograms of u^T H u, SAM-200 vs PoF-210, train and test",
  runs(p, seeds) {
    return seeds.map((s) => pofRun(p, p.datasets[0], s));
  },
  work(p, seeds) {
    const run = pofRun(p, p.datasets[0], seeds[0]);
    const info = runDatasetInfo(run.dataset);
    const macs = runWork(run).multiplyAddsPerImage;
    const limits = analysisLimits(run);
    const split = Math.min(info.trainSize, limits.train) +
      Math.min(info.testSize, limits.test);
    return [{
      description:
        `u^T H u on ${p.histogramBatches} train + ${p.histogramBatches} test mini-batches of ${p.weakBatchSize} ` +
        `and full-split Hessians (${split} images), at 2 checkpoints x ${seeds.length} seed(s)`,
      multiplyAdds: seeds.length * 2 *
        (2 * p.histogramBatches * p.weakBatchSize + split) * macs,
    }];
  },
  async produce(ctx) {
    const p = ctx.preset;
    const ds = p.datasets[0];
    // The data does not depend on the seed: load it once.
    const data = await analysisData(samBaseRun(p, ds, ctx.seeds[0]));
    // The seeds' checkpoints must come from runs of one setting.
    await checkCell(
      ctx.runs,
      "fig5 SAM",
      ctx.seeds.map((s) => samBaseRun(p, ds, s)),
    );
    await checkCell(
      ctx.runs,
      "fig5 PoF",
      ctx.seeds.map((s) => pofRun(p, ds, s)),
    );
    const perSeed: ({ seed: number } & Fig5Split)[] = [];
    for (const seed of ctx.seeds) {
      const sam = samBaseRun(p, ds, seed), pof = pofRun(p, ds, seed);
      const one: Fig5Split = {
        train: { sam: empty(), pof: empty() },
        test: { sam: empty(), pof: empty() },
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
              `seed ${seed}, ${key} epoch ${epoch}: u^T H u on ${p.histogramBatches} ${split} mini-batches`,
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
            one[split][key] = { dataset: hc.dataset!, batch: hc.batch };
          }
        } finally {
          disposeTree(ck.params.features, ck.params.classifier, ck.bn);
        }
      }
      perSeed.push({ seed, ...one });
    }
    const result = poolSeeds(perSeed);
    const { medians, comparisons } = seedMedians(perSeed, {
      samEpoch: p.switchEpoch,
      pofEpoch: p.pofEarlyEpoch,
    });
    const spec = fig5Spec({
      train: { sam: result.train.sam.dataset, pof: result.train.pof.dataset },
      test: { sam: result.test.sam.dataset, pof: result.test.pof.dataset },
    });
    const files = [
      await writeTargetJson(
        ctx,
        "fig5.json",
        {
          dataset: ds.name,
          seeds: ctx.seeds,
          samEpoch: p.switchEpoch,
          pofEpoch: p.pofEarlyEpoch,
          batchSize: p.weakBatchSize,
          quantity: "u^T H_D u (dataset); u^T H_B u (batch)",
          pooled:
            `train / test: the ${ctx.seeds.length} seed(s) concatenated in seed order; per seed in perSeed`,
          ...result,
          perSeed,
          medians,
          comparisons,
        } satisfies Fig5Json,
      ),
      await writeTargetText(ctx, "fig5.svg", await renderSvg(spec)),
    ];
    const med = (
      v: number[],
    ) => (v.some(Number.isFinite)
      ? median(v.filter(Number.isFinite)).toExponential(2)
      : "n/a");
    const seedNote = ctx.seeds.length > 1
      ? ` (${ctx.seeds.length} seeds pooled; per seed: ${
        perSeed.map((r) =>
          `${r.seed}: ${med(r.train.sam.dataset)} vs ${
            med(r.train.pof.dataset)
          }`
        ).join(", ")
      } on train)`
      : "";
    return {
      files,
      summary: (["train", "test"] as const).map((s, i) => {
        const c = comparisons[i];
        return `${s}: median u^T H u SAM ${med(result[s].sam.dataset)} vs PoF ${
          med(result[s].pof.dataset)
        }${s === "train" ? seedNote : ""}; PoF - SAM of per-seed medians: ${
          c ? formatDifference(c, c.verdict, 4) : "n/a (a median is missing)"
        }`;
      }),
    };
  },
};
