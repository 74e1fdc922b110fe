/**
 * Fig. 6: sizes of classifier-parameter perturbations ||d theta||_2 on a
 * log axis, each on its own method's checkpoint as in the paper, on
 * training mini-batches drawn as that method draws them in training
 * (training augmentation):
 * - PoF: `gamma xi* u` with gamma = 2 on the SAM -> PoF checkpoint at the
 *   early evaluation epoch (PoF-210, scaled), weak batches of PoF's size,
 *   features with PoF's weak-batch BatchNorm policy (batch statistics,
 *   running statistics frozen) and PoF's xi* cap (`maxXi`);
 * - SAM: the classifier part of `rho g / ||g||` (update-batch size) on the
 *   SAM-200 checkpoint (the switch epoch, scaled);
 * - SGD: a step `eta g_theta`, eta = the SGD schedule's learning rate at the
 *   switch epoch (paper: 1.6e-4), on the SGD run's checkpoint at the same
 *   epoch (SGD-200, scaled).
 * Preset's first dataset.
 *
 * Every seed is analysed (its own checkpoints and mini-batches). `fig6.json`
 * ({@link Fig6Json}) holds `pof`, `sam`, `sgd` pooled over the seeds
 * (concatenated in seed order; what the figure and the notebook show),
 * `perSeed: [{seed, pof, sam, sgd}]` beside them, and `sources`: the run id
 * and epoch each series was measured on. Per seed, the log10 median of
 * each series; over the seeds, the paired tests of the paper's ordering
 * PoF > SAM > SGD ({@link logMedians}).
 *
 * Writes `fig6.json` and `fig6.svg`.
 *
 * @module
 */
import { perturbationNorms } from "../../lib/analysis/checkpoint_stats.ts";
import { fig6Spec } from "../../lib/plot/figures.ts";
import { renderSvg } from "../../lib/plot/render.ts";
import {
  type ClaimTest,
  formatDifference,
  median,
  testClaim,
} from "../../lib/stats.ts";
import { disposeTree } from "../../lib/tree.ts";
import { analysisData, runWork, sampleBatches } from "../../lib/train/build.ts";
import type { RunConfig } from "../../lib/train/run_config.ts";
import { lrAt } from "../../lib/train/run_config.ts";
import { runId } from "../../lib/train/run_id.ts";
import { pofRun, samBaseRun, sgdRun } from "../presets.ts";
import {
  checkCell,
  type Preset,
  type Target,
  writeTargetJson,
  writeTargetText,
} from "../target.ts";

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

/** log10 of the median positive norm of one seed, per method. */
export type Fig6Medians = Record<"pof" | "sam" | "sgd", number>;

/** log10 median(a) - log10 median(b) per seed, tested against the paper's ordering (a's perturbations larger). */
export type Fig6Comparison = ClaimTest & {
  a: "pof" | "sam";
  b: "sam" | "sgd";
};

/**
 * Per-seed log10 medians of the positive finite norms (NaN when a seed has
 * none) and the paired tests of the paper's ordering PoF > SAM > SGD
 * (Sec. 4.2: PoF's perturbations a few orders of magnitude above SAM's,
 * SAM's above an SGD step): log10 PoF - log10 SAM and log10 SAM - log10 SGD,
 * side +1; null where a median is missing.
 *
 * @example
 * ```ts
 * import { logMedians } from "./fig6.ts";
 * const r = logMedians([{ pof: [10, 100, 1000], sam: [0.1], sgd: [0.001, -1] }, { pof: [1000], sam: [1], sgd: [0.01] }]);
 * if (r.medians[0].pof !== 2 || r.medians[0].sgd !== -3) throw new Error(JSON.stringify(r.medians));
 * if (r.comparisons[0]!.diffs.join() !== "3,3" || r.comparisons[1]!.diffs.join() !== "2,2") throw new Error();
 * if (r.comparisons[0]!.verdict !== "reproduced") throw new Error();
 * ```
 */
export function logMedians(
  perSeed: readonly Norms[],
): { medians: Fig6Medians[]; comparisons: (Fig6Comparison | null)[] } {
  const lm = (v: number[]) => {
    const f = v.filter((x) => Number.isFinite(x) && x > 0);
    return f.length ? Math.log10(median(f)) : NaN;
  };
  const medians = perSeed.map((r) => ({
    pof: lm(r.pof),
    sam: lm(r.sam),
    sgd: lm(r.sgd),
  }));
  const pairs = [["pof", "sam"], ["sam", "sgd"]] as const;
  const comparisons = pairs.map(([a, b]) => {
    const xa = medians.map((m) => m[a]), xb = medians.map((m) => m[b]);
    if (![...xa, ...xb].every(Number.isFinite)) return null;
    return { a, b, ...testClaim(xa, xb, 1) };
  });
  return { medians, comparisons };
}

/** A checkpoint a series was measured on. */
export interface Fig6Source {
  /** Run id (seed 0's, or the first seed's). */
  run: string;
  epoch: number;
  /** Every seed's run id, in seed order. */
  runs: string[];
}

/** What `fig6.json` holds under `data`. */
export interface Fig6Json extends Norms {
  dataset: string;
  seeds: number[];
  /** The checkpoint of each series (each method's own). */
  sources: Record<keyof Norms, Fig6Source>;
  gamma: number;
  rho: number;
  sgdLr: number;
  maxXi: number;
  pooled: string;
  perSeed: ({ seed: number } & Norms)[];
  /** Per seed (same order as `seeds`): log10 of the median norm per method. */
  medians: Fig6Medians[];
  /** log10 PoF - log10 SAM and log10 SAM - log10 SGD over the seeds, 95% t-interval, verdict (null: a median missing). */
  comparisons: (Fig6Comparison | null)[];
}

/**
 * The run and epoch each Fig. 6 series is measured on: PoF on the SAM ->
 * PoF run at `pofEarlyEpoch`, SAM on the SAM-200 run at `switchEpoch`, SGD
 * on the SGD run at `midEpoch` (= the switch epoch).
 *
 * @example
 * ```ts
 * import { fig6Sources } from "./fig6.ts";
 * import { PRESETS } from "../presets.ts";
 * const s = fig6Sources(PRESETS.paper, 0);
 * if (s.pof.epoch !== 210 || s.sam.epoch !== 200 || s.sgd.epoch !== 200) throw new Error();
 * if (s.sgd.run.method.name !== "sgd" || s.sam.run.method.name !== "sam") throw new Error();
 * ```
 */
export function fig6Sources(
  p: Preset,
  seed: number,
): Record<keyof Norms, { run: RunConfig; epoch: number }> {
  const ds = p.datasets[0];
  return {
    pof: { run: pofRun(p, ds, seed), epoch: p.pofEarlyEpoch },
    sam: { run: samBaseRun(p, ds, seed), epoch: p.switchEpoch },
    sgd: { run: sgdRun(p, ds, seed), epoch: p.midEpoch },
  };
}

/**
 * Fig. 6.
 *
 * @example
 * ```ts
 * import { target } from "./fig6.ts";
 * import { PRESETS } from "../presets.ts";
 * const runs = target.runs(PRESETS.paper, [0]);
 * if (runs.map((r) => r.method.name).join() !== "pof,sam,sgd") throw new Error();
 * if (target.runs(PRESETS.paper, [0, 1]).map((r) => r.seed).join() !== "0,0,0,1,1,1") throw new Error();
 * ```
 */
export const target: Target = {
  name: "fig6",
  title:
    "Fig. 6: perturbation norms of PoF (gamma = 2, PoF-210), SAM (SAM-200) and an SGD step (SGD-200), log axis",
  runs(p, seeds) {
    return seeds.flatMap((s) => {
      const src = fig6Sources(p, s);
      return [src.pof.run, src.sam.run, src.sgd.run];
    });
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
    // Each series' checkpoints must come from runs of one setting.
    for (const which of ["pof", "sam", "sgd"] as const) {
      await checkCell(
        ctx.runs,
        `fig6 ${which}`,
        ctx.seeds.map((s) => fig6Sources(p, s)[which].run),
      );
    }
    const perSeed: ({ seed: number } & Norms)[] = [];
    for (const seed of ctx.seeds) {
      const src = fig6Sources(p, seed);
      const batches = (size: number, label: string) =>
        sampleBatches(data.train, data.trainAugment, {
          batchSize: size,
          count: p.histogramBatches,
          seed: ctx.rng(seed).fork(label).uint32(),
          augmented: true,
        });
      ctx.log(
        `seed ${seed}: PoF (epoch ${src.pof.epoch}) / SAM (${src.sam.epoch}) / SGD (${src.sgd.epoch}) perturbations on ${p.histogramBatches} mini-batches each`,
      );
      const measure = async (
        which: keyof Norms,
        f: (
          ck: Awaited<ReturnType<typeof ctx.runs.checkpoint>>,
        ) => number[],
      ) => {
        const ck = await ctx.runs.checkpoint(
          src[which].run,
          src[which].epoch,
        );
        try {
          return f(ck);
        } finally {
          disposeTree(ck.params.features, ck.params.classifier, ck.bn);
        }
      };
      const state = (ck: Awaited<ReturnType<typeof ctx.runs.checkpoint>>) => ({
        params: ck.params,
        bn: ck.bn,
      });
      perSeed.push({
        seed,
        // PoF's weak-batch forward: batch statistics, running ones frozen
        // (pofMethod's default weakBatchNorm "batch"), and the run's cap.
        pof: await measure("pof", (ck) =>
          perturbationNorms(
            ck.model,
            state(ck),
            batches(p.weakBatchSize, "pof"),
            {
              method: "pof",
              gamma: 2,
              lineSearch: { maxXi: p.maxXi },
            },
            { bn: { train: true, updateStats: false } },
          )),
        sam: await measure("sam", (ck) =>
          perturbationNorms(
            ck.model,
            state(ck),
            batches(p.batchSize, "sam"),
            { method: "sam", rho: ds.rho },
          )),
        sgd: await measure("sgd", (ck) =>
          perturbationNorms(
            ck.model,
            state(ck),
            batches(p.batchSize, "sgd"),
            { method: "sgd", lr: eta },
          )),
      });
    }
    const norms = poolNorms(perSeed);
    const { medians, comparisons } = logMedians(perSeed);
    const source = (which: keyof Norms): Fig6Source => {
      const runs = ctx.seeds.map((s) => runId(fig6Sources(p, s)[which].run));
      return {
        run: runs[0],
        epoch: fig6Sources(p, ctx.seeds[0])[which].epoch,
        runs,
      };
    };
    const result: Fig6Json = {
      dataset: ds.name,
      seeds: ctx.seeds,
      sources: { pof: source("pof"), sam: source("sam"), sgd: source("sgd") },
      gamma: 2,
      rho: ds.rho,
      sgdLr: eta,
      maxXi: p.maxXi,
      pooled:
        `pof / sam / sgd: the ${ctx.seeds.length} seed(s) concatenated in seed order; per seed in perSeed`,
      ...norms,
      perSeed,
      medians,
      comparisons,
    };
    const files = [
      await writeTargetJson(ctx, "fig6.json", result),
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
        ...comparisons.map((c, i) =>
          `log10 median ${["PoF - SAM", "SAM - SGD"][i]} over seeds: ${
            c ? formatDifference(c, c.verdict) : "n/a (a median is missing)"
          }`
        ),
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
