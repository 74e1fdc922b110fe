/**
 * Table 1: test error (%) of SGD at the mid and last epochs, SAM at the
 * switch and last epochs, and SAM -> PoF at the early and last epochs, on
 * every dataset of the preset, mean +- std over seeds, beside the paper's
 * numbers. Errors are read at those fixed epochs (never "best").
 *
 * The paper's claims are tested seed by seed ({@link table1Pairs}): SAM 250
 * - SGD 250, SAM->PoF 210 - SAM 200, SAM->PoF 250 - SAM 250 and, when the
 * finetune target's runs are in the same results folder, fine-tuned - PoF:
 * the mean paired difference, its 95% Student-t interval and a verdict
 * (`lib/stats.ts`). A cell whose runs differ in anything but the seed is
 * refused ({@link cellErrors}).
 *
 * `table1.json` also holds, per PoF run, how often its xi* line search hit
 * the cap `maxXi` (`xiCapFraction` per epoch and over the run) and the
 * median xi* per epoch ({@link PofCapStats}).
 *
 * Writes `table1.json` ({@link Table1Json}), `table1.md`, `table1.svg`.
 *
 * @module
 */
import {
  type ClaimSide,
  type ClaimTest,
  formatDifference,
  meanStd,
  testClaim,
} from "../../lib/stats.ts";
import {
  comparisonTable,
  formatMeanStd,
  markdownTable,
} from "../../lib/plot/tables.ts";
import { runDatasetInfo } from "../../lib/data/dataset_registry.ts";
import { type Table1ChartRow, table1Spec } from "../../lib/plot/figures.ts";
import { renderSvg } from "../../lib/plot/render.ts";
import {
  DATASET_LABEL,
  PAPER_TABLE1,
  type PaperDataset,
} from "../../lib/plot/paper.ts";
import {
  finetuneRun,
  pofRun,
  samBaseRun,
  samContinuedRun,
  sgdRun,
} from "../presets.ts";
import { runId } from "../../lib/train/run_id.ts";
import {
  cellErrors,
  type EpochRecord,
  type Preset,
  type RunConfig,
  type Target,
  writeTargetJson,
  writeTargetText,
} from "../target.ts";

/** The xi* cap telemetry of one PoF run. */
export interface PofCapStats {
  dataset: string;
  seed: number;
  run: string;
  maxXi: number;
  discardAsymmetric: boolean;
  /** Per PoF epoch: fraction of line searches that hit maxXi, median xi*. */
  epochs: { epoch: number; xiCapFraction: number; xiMedian: number }[];
  /** Mean of the epochs' `xiCapFraction` (NaN when no epoch logged it). */
  xiCapFraction: number;
}

/**
 * The PoF epochs' cap telemetry of a run's history (epochs after `from`
 * whose method is PoF; a missing field is NaN, e.g. runs logged before it
 * existed).
 *
 * @example
 * ```ts
 * import { pofCapStats } from "./table1.ts";
 * const r = (epoch: number, method: string, t?: Record<string, number>) => ({ epoch, method, trainLoss: 0,
 *   trainError: 0, testLoss: 0, testError: 0, lr: 0, steps: 1, seconds: 1, telemetry: t });
 * const s = pofCapStats([r(1, "sam"), r(2, "pof", { xiCapFraction: 0.5, xiMedian: 3 }), r(3, "pof", { xiCapFraction: 0, xiMedian: 1 })], 1);
 * if (s.xiCapFraction !== 0.25 || s.epochs.length !== 2 || s.epochs[0].xiMedian !== 3) throw new Error();
 * ```
 */
export function pofCapStats(
  history: EpochRecord[],
  from: number,
): Pick<PofCapStats, "epochs" | "xiCapFraction"> {
  const epochs = history.filter((r) => r.epoch > from && r.method === "pof")
    .map((r) => ({
      epoch: r.epoch,
      xiCapFraction: r.telemetry?.xiCapFraction ?? NaN,
      xiMedian: r.telemetry?.xiMedian ?? NaN,
    }));
  const f = epochs.map((e) => e.xiCapFraction).filter(Number.isFinite);
  return {
    epochs,
    xiCapFraction: f.length ? f.reduce((a, b) => a + b, 0) / f.length : NaN,
  };
}

/** One row of Table 1 as computed. */
export interface Table1Row {
  dataset: string;
  method: "sgd" | "sam" | "pof";
  /** The paper's epoch this row stands for (200, 210 or 250). */
  paperEpoch: number;
  /** The epoch it was read at in this preset. */
  epoch: number;
  /** Test error (%) per seed. */
  errors: number[];
}

/**
 * The rows of Table 1: which run and epoch each cell reads.
 *
 * @example
 * ```ts
 * import { table1Cells } from "./table1.ts";
 * import { PRESETS } from "../presets.ts";
 * if (table1Cells(PRESETS.paper).map((c) => c.epoch).join() !== "200,250,200,250,210,250") throw new Error();
 * ```
 */
export function table1Cells(
  p: Preset,
): { method: "sgd" | "sam" | "pof"; paperEpoch: number; epoch: number }[] {
  return [
    { method: "sgd", paperEpoch: 200, epoch: p.midEpoch },
    { method: "sgd", paperEpoch: 250, epoch: p.epochs },
    { method: "sam", paperEpoch: 200, epoch: p.switchEpoch },
    { method: "sam", paperEpoch: 250, epoch: p.epochs },
    { method: "pof", paperEpoch: 210, epoch: p.pofEarlyEpoch },
    { method: "pof", paperEpoch: 250, epoch: p.epochs },
  ];
}

function label(method: string, paperEpoch: number): string {
  return `${
    method === "pof" ? "SAM->PoF" : method.toUpperCase()
  } ${paperEpoch}`;
}

/**
 * One paired comparison of two cells of Table 1 on one dataset, per seed:
 * `a - b` with its 95% t-interval and the verdict on the paper's claim.
 */
export interface Table1Comparison extends ClaimTest {
  dataset: string;
  /** The methods compared (`finetune`: SAM -> PoF + classifier-only fine-tuning). */
  a: "sgd" | "sam" | "pof" | "finetune";
  b: "sgd" | "sam" | "pof" | "finetune";
  /** The paper's epochs of the two cells (fine-tuning: from PoF 210, 210 + 10 = 220). */
  epochA: number;
  epochB: number;
  /** The epochs read in this preset. */
  readEpochA: number;
  readEpochB: number;
  /** The claim tested, in words. */
  claim: string;
  /** The paper's difference of means, where it reports both cells. */
  paperDiff: number | null;
}

/**
 * The comparisons Table 1 tests: SAM 250 - SGD 250, SAM->PoF 210 - SAM 200
 * (both continue the same SAM-200 run) and SAM->PoF 250 - SAM 250, with
 * the side of 0 the paper's numbers put each on (the paper's sign for its
 * datasets: on Fashion-MNIST PoF is above SAM; below 0 otherwise).
 *
 * @example
 * ```ts
 * import { table1Pairs } from "./table1.ts";
 * const f = table1Pairs("fashion-mnist");
 * if (f.map((c) => c.side).join() !== "-1,1,1") throw new Error(JSON.stringify(f));
 * if (table1Pairs("cifar10").map((c) => c.side).join() !== "-1,-1,-1") throw new Error();
 * ```
 */
export function table1Pairs(dataset: string): {
  a: "sgd" | "sam" | "pof";
  epochA: number;
  b: "sgd" | "sam" | "pof";
  epochB: number;
  side: ClaimSide;
  paperDiff: number | null;
}[] {
  const paper = (m: string, e: number) =>
    PAPER_TABLE1.find((r) =>
      r.dataset === dataset && r.method === m && r.epoch === e
    )?.error.mean;
  const pairs = [
    { a: "sam", epochA: 250, b: "sgd", epochB: 250 },
    { a: "pof", epochA: 210, b: "sam", epochB: 200 },
    { a: "pof", epochA: 250, b: "sam", epochB: 250 },
  ] as const;
  return pairs.map((p) => {
    const pa = paper(p.a, p.epochA), pb = paper(p.b, p.epochB);
    const paperDiff = pa !== undefined && pb !== undefined
      ? Math.round((pa - pb) * 1e6) / 1e6
      : null;
    return {
      ...p,
      side: paperDiff !== null && paperDiff > 0 ? 1 : -1,
      paperDiff,
    };
  });
}

/** The paper's claim about classifier-only fine-tuning after PoF (Sec. 4.2): it does not lower the error. */
const FINETUNE_SIDE: ClaimSide = 1;

/**
 * The number of test images a dataset's runs are evaluated on.
 *
 * @example
 * ```ts
 * import { testSizeOf } from "./table1.ts";
 * if (testSizeOf({ name: "fashion-mnist", lr: 0.1, rho: 0.05 }) !== 10000) throw new Error();
 * if (testSizeOf({ name: "fashion-mnist", lr: 0.1, rho: 0.05, testLimit: 2000 }) !== 2000) throw new Error();
 * ```
 */
export function testSizeOf(ds: Preset["datasets"][number]): number {
  return Math.min(runDatasetInfo(ds.name).testSize, ds.testLimit ?? Infinity);
}

/**
 * The claims table of `table1.md` and the Table 1 notebook: header and one
 * row per comparison (dataset, difference, claim, the paper's difference,
 * ours with its 95% interval and verdict, seeds).
 *
 * @example
 * ```ts
 * import { table1ClaimTable } from "./table1.ts";
 * const t = table1ClaimTable([{ dataset: "fashion-mnist", a: "sam", b: "sgd", epochA: 250, epochB: 250,
 *   readEpochA: 20, readEpochB: 20, claim: "SAM 250 below SGD 250", paperDiff: -0.51,
 *   diffs: [-1, -0.5], mean: -0.75, std: 0.35, n: 2, ci95: [-3.9, 2.4], side: -1, verdict: "undecided" }]);
 * if (t.rows[0].join("|") !== "Fashion-MNIST|SAM 250 - SGD 250|SAM 250 below SGD 250|-0.51|-0.75 [-3.90, 2.40] undecided|2") throw new Error(t.rows[0].join("|"));
 * ```
 */
export function table1ClaimTable(
  comparisons: readonly Table1Comparison[],
): { header: string[]; rows: string[][] } {
  return {
    header: [
      "dataset",
      "difference (points)",
      "claim",
      "paper",
      "ours [95% CI] verdict",
      "seeds",
    ],
    rows: comparisons.map((c) => [
      DATASET_LABEL[c.dataset as PaperDataset] ?? c.dataset,
      c.a === "finetune"
        ? `fine-tuned ${c.readEpochA} - SAM->PoF ${c.readEpochB}`
        : `${label(c.a, c.epochA)} - ${label(c.b, c.epochB)}`,
      c.claim,
      c.paperDiff === null ? "n/a" : c.paperDiff.toFixed(2),
      formatDifference(c, c.verdict),
      String(c.n),
    ]),
  };
}

/** What `table1.json` holds under `data`. */
export interface Table1Json {
  /** Test images per dataset. */
  testSize: Record<string, number>;
  /** Paired comparisons with 95% t-intervals and verdicts (see {@link Table1Comparison}). */
  comparisons: Table1Comparison[];
  rows: (Table1Row & {
    /** Mean and sample std of `errors`. */
    mean: number;
    std: number;
    /** The paper's mean +- std where the dataset is one of the paper's. */
    paper: { mean: number; std: number } | null;
  })[];
  /** Per PoF run (dataset, seed): the xi* cap telemetry. */
  pofRuns: PofCapStats[];
}

/**
 * Table 1.
 *
 * @example
 * ```ts
 * import { target } from "./table1.ts";
 * import { PRESETS } from "../presets.ts";
 * if (target.runs(PRESETS.paper, [0, 1]).length !== 4 * 2 * 3) throw new Error();
 * ```
 */
export const target: Target = {
  name: "table1",
  title:
    "Table 1: test error of SGD, SAM, SAM -> PoF at the paper's epochs, mean +- std over seeds",
  runs(p, seeds) {
    const out: RunConfig[] = [];
    for (const ds of p.datasets) {
      for (const s of seeds) {
        out.push(sgdRun(p, ds, s), samContinuedRun(p, ds, s), pofRun(p, ds, s));
      }
    }
    return out;
  },
  async produce(ctx) {
    const p = ctx.preset;
    const rows: Table1Row[] = [];
    const dsLabel = (name: string) =>
      DATASET_LABEL[name as PaperDataset] ?? name;
    for (const ds of p.datasets) {
      for (const cell of table1Cells(p)) {
        const runs = ctx.seeds.map((s) =>
          cell.method === "sgd"
            ? sgdRun(p, ds, s)
            : cell.method === "pof"
            ? pofRun(p, ds, s)
            : cell.epoch <= p.switchEpoch
            ? samBaseRun(p, ds, s)
            : samContinuedRun(p, ds, s)
        );
        const errors = await cellErrors(
          ctx.runs,
          `table1 ${dsLabel(ds.name)} ${label(cell.method, cell.paperEpoch)}`,
          runs,
          cell.epoch,
        );
        rows.push({ dataset: ds.name, ...cell, errors });
      }
    }
    const pofRuns: PofCapStats[] = [];
    for (const ds of p.datasets) {
      for (const s of ctx.seeds) {
        const run = pofRun(p, ds, s);
        pofRuns.push({
          dataset: ds.name,
          seed: s,
          run: runId(run),
          maxXi: p.maxXi,
          discardAsymmetric: p.discardAsymmetric,
          ...pofCapStats(await ctx.runs.history(run), p.switchEpoch),
        });
      }
    }
    const paperOf = (r: Table1Row) =>
      PAPER_TABLE1.find((e) =>
        e.dataset === r.dataset && e.method === r.method &&
        e.epoch === r.paperEpoch
      )?.error;
    const comparisons: Table1Comparison[] = [];
    for (const ds of p.datasets) {
      const row = (m: string, e: number) =>
        rows.find((r) =>
          r.dataset === ds.name && r.method === m && r.paperEpoch === e
        )!;
      for (const pair of table1Pairs(ds.name)) {
        const ra = row(pair.a, pair.epochA), rb = row(pair.b, pair.epochB);
        comparisons.push({
          dataset: ds.name,
          a: pair.a,
          b: pair.b,
          epochA: pair.epochA,
          epochB: pair.epochB,
          readEpochA: ra.epoch,
          readEpochB: rb.epoch,
          claim: `${label(pair.a, pair.epochA)} ${
            pair.side < 0 ? "below" : "above"
          } ${label(pair.b, pair.epochB)}`,
          paperDiff: pair.paperDiff,
          ...testClaim(ra.errors, rb.errors, pair.side),
        });
      }
    }
    // Fine-tuned - PoF (Sec. 4.2, first dataset), when the finetune
    // target's runs are in this results folder too (as in repro:all).
    const ds0 = p.datasets[0];
    const ftRuns = ctx.seeds.map((s) => finetuneRun(p, ds0, s));
    let ftDone = true;
    for (const r of ftRuns) ftDone &&= await ctx.runs.done(r);
    if (ftDone) {
      // As in the paper: from PoF at the early epoch (210), 10 epochs (scaled).
      const start = p.pofEarlyEpoch, end = start + p.finetuneEpochs;
      const after = await cellErrors(
        ctx.runs,
        `table1 ${dsLabel(ds0.name)} fine-tuned`,
        ftRuns,
        end,
      );
      const before = rows.find((r) =>
        r.dataset === ds0.name && r.method === "pof" && r.paperEpoch === 210
      )!.errors;
      comparisons.push({
        dataset: ds0.name,
        a: "finetune",
        b: "pof",
        epochA: 220,
        epochB: 210,
        readEpochA: end,
        readEpochB: start,
        claim:
          "classifier-only fine-tuning after SAM->PoF 210 does not lower the error (paper, one CIFAR-10 model: 2.40 -> 2.39)",
        paperDiff: null,
        ...testClaim(after, before, FINETUNE_SIDE),
      });
    }
    const claims = table1ClaimTable(comparisons);
    const md = [
      `# Table 1: test error (%)`,
      "",
      `Preset \`${p.name}\`: ${p.description}`,
      "",
      `Seeds: ${ctx.seeds.join(", ")}. Test images: ${
        p.datasets.map((d) => `${dsLabel(d.name)} ${testSizeOf(d)}`).join(", ")
      }. "epoch" is the epoch read in this preset ` +
      `(the paper's 200 / 210 / 250 scaled to ${p.epochs} epochs). ` +
      `Ours: mean ± sample std over the seeds. ` +
      `The paper's numbers are for its own settings (WRN-28-10, 250 epochs, full datasets).`,
      "",
      comparisonTable(
        ["dataset", "method", "epoch"],
        rows.map((r) => ({
          labels: [
            dsLabel(r.dataset),
            label(r.method, r.paperEpoch),
            String(r.epoch),
          ],
          paper: paperOf(r),
          ours: r.errors,
        })),
        { unit: "%" },
      ),
      "",
      `xi* cap (maxXi = ${p.maxXi}, discardAsymmetric ${p.discardAsymmetric}): ` +
      `fraction of PoF's line searches whose weak-batch loss still fell at the cap, ` +
      `mean over the PoF epochs: ${
        pofRuns.map((r) =>
          `${dsLabel(r.dataset)} seed ${r.seed} ${
            Number.isFinite(r.xiCapFraction)
              ? (100 * r.xiCapFraction).toFixed(1) + "%"
              : "n/a"
          }`
        ).join(", ")
      }.`,
      "",
      "## Claims: paired differences per seed",
      "",
      "Each difference is taken seed by seed (the runs of one seed share " +
      "their initialisation and, for PoF and SAM, the SAM-200 run); ours is " +
      "its mean with a 95% Student-t interval over the seeds. Verdict: " +
      "`reproduced` when the interval excludes 0 on the paper's side, " +
      "`contradicted` when it excludes 0 on the other side, `undecided` when " +
      "it contains 0. For the fine-tuning claim (no improvement), an " +
      "`undecided` interval is consistent with the paper; `contradicted` " +
      "means fine-tuning lowered the error.",
      "",
      markdownTable(claims.header, claims.rows, { alignRight: [3, 5] }),
      ...(ftDone ? [] : [
        "",
        "(Fine-tuned - PoF: not in this results folder; run the finetune target too.)",
      ]),
      "",
    ].join("\n");
    const chart: Table1ChartRow[] = rows.map((r) => ({
      dataset: dsLabel(r.dataset),
      method: r.method,
      label: label(r.method, r.paperEpoch),
      ours: r.errors,
      paper: paperOf(r),
    }));
    const files = [
      await writeTargetJson(
        ctx,
        "table1.json",
        {
          testSize: Object.fromEntries(
            p.datasets.map((d) => [d.name, testSizeOf(d)]),
          ),
          comparisons,
          rows: rows.map((r) => ({
            ...r,
            mean: meanStd(r.errors).mean,
            std: meanStd(r.errors).std,
            paper: paperOf(r) ?? null,
          })),
          pofRuns,
        } satisfies Table1Json,
      ),
      await writeTargetText(ctx, "table1.md", md),
      await writeTargetText(
        ctx,
        "table1.svg",
        await renderSvg(table1Spec(chart)),
      ),
    ];
    return {
      files,
      summary: [
        ...rows.filter((r) => r.paperEpoch !== 200).map((r) =>
          `${dsLabel(r.dataset)} ${
            label(r.method, r.paperEpoch)
          } (epoch ${r.epoch}): ${formatMeanStd(meanStd(r.errors))}%${
            paperOf(r) ? ` (paper ${paperOf(r)!.mean.toFixed(2)})` : ""
          }`
        ),
        ...comparisons.map((c, i) =>
          `${dsLabel(c.dataset)} ${claims.rows[i][1]}: ${
            formatDifference(c, c.verdict)
          }`
        ),
      ],
    };
  },
};
