/**
 * Table 1: test error (%) of SGD at the mid and last epochs, SAM at the
 * switch and last epochs, and SAM -> PoF at the early and last epochs, on
 * every dataset of the preset, mean +- std over seeds, beside the paper's
 * numbers. Errors are read at those fixed epochs (never "best").
 *
 * `table1.json` also holds, per PoF run, how often its xi* line search hit
 * the cap `maxXi` (`xiCapFraction` per epoch and over the run) and the
 * median xi* per epoch ({@link PofCapStats}).
 *
 * Writes `table1.json` ({@link Table1Json}), `table1.md`, `table1.svg`.
 *
 * @module
 */
import { meanStd } from "../../lib/stats.ts";
import { comparisonTable } from "../../lib/plot/tables.ts";
import { type Table1ChartRow, table1Spec } from "../../lib/plot/figures.ts";
import { renderSvg } from "../../lib/plot/render.ts";
import {
  DATASET_LABEL,
  PAPER_TABLE1,
  type PaperDataset,
} from "../../lib/plot/paper.ts";
import { pofRun, samBaseRun, samContinuedRun, sgdRun } from "../presets.ts";
import { runId } from "../../lib/train/run_id.ts";
import {
  atEpoch,
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

/** What `table1.json` holds under `data`. */
export interface Table1Json {
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
    for (const ds of p.datasets) {
      for (const cell of table1Cells(p)) {
        const errors: number[] = [];
        for (const s of ctx.seeds) {
          const run = cell.method === "sgd"
            ? sgdRun(p, ds, s)
            : cell.method === "pof"
            ? pofRun(p, ds, s)
            : cell.epoch <= p.switchEpoch
            ? samBaseRun(p, ds, s)
            : samContinuedRun(p, ds, s);
          errors.push(
            atEpoch(await ctx.runs.history(run), cell.epoch).testError,
          );
        }
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
    const dsLabel = (name: string) =>
      DATASET_LABEL[name as PaperDataset] ?? name;
    const md = [
      `# Table 1: test error (%)`,
      "",
      `Preset \`${p.name}\`: ${p.description}`,
      "",
      `Seeds: ${
        ctx.seeds.join(", ")
      }. "epoch" is the epoch read in this preset ` +
      `(the paper's 200 / 210 / 250 scaled to ${p.epochs} epochs). ` +
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
      summary: rows.filter((r) => r.paperEpoch !== 200).map((r) =>
        `${dsLabel(r.dataset)} ${
          label(r.method, r.paperEpoch)
        } (epoch ${r.epoch}): ${meanStd(r.errors).mean.toFixed(2)}%${
          paperOf(r) ? ` (paper ${paperOf(r)!.mean.toFixed(2)})` : ""
        }`
      ),
    };
  },
};
