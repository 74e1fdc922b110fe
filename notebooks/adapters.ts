/**
 * The targets' result files read into the shapes the plotting module takes
 * (Table 1 entries and rows, Fig. 4 curves, Table 2 seconds, fine-tuning
 * errors).
 *
 * @module
 */
import type { Fig4Json } from "../repro/targets/fig4.ts";
import type { Table1Json } from "../repro/targets/table1.ts";
import type { Table2Json } from "../repro/targets/table2.ts";
import type { FinetuneJson } from "../repro/targets/finetune.ts";
import type { ComparisonRow } from "../lib/plot/tables.ts";
import type { ErrorCurve, Table1ChartRow } from "../lib/plot/figures.ts";
import {
  DATASET_LABEL,
  PAPER_TABLE1,
  type PaperDataset,
  table1Label,
} from "../lib/plot/paper.ts";

// ------------------------------------------------------------------ adapters
// The targets' result files read into the shapes the plotting module takes.

/** One Table 1 entry of ours: our test errors (%) per seed. */
export interface OurTable1Entry {
  dataset: string;
  method: "sgd" | "sam" | "pof";
  /** The epoch evaluated in this preset. */
  epoch: number;
  /** The paper's epoch this corresponds to (200, 210 or 250). */
  paperEpoch: number;
  errors: number[];
}

/**
 * Table 1 entries from `table1.json`'s data: one per row, our test errors (%)
 * per seed with the paper's epoch the row stands for.
 *
 * @example
 * ```ts
 * import { table1Entries } from "./adapters.ts";
 * const e = table1Entries({ rows: [{ dataset: "fashion-mnist", method: "pof",
 *   epoch: 7, paperEpoch: 210, errors: [5, 6], mean: 5.5, std: 0.7, paper: null }] });
 * if (e[0].paperEpoch !== 210 || e[0].errors[1] !== 6) throw new Error();
 * ```
 */
export function table1Entries(
  data: Pick<Table1Json, "rows">,
): OurTable1Entry[] {
  return data.rows.map(({ dataset, method, epoch, paperEpoch, errors }) => ({
    dataset,
    method,
    epoch,
    paperEpoch,
    errors,
  }));
}

/**
 * Rows for the Table 1 chart and the paper-vs-ours table, with the paper's
 * number where the dataset is one of the paper's.
 *
 * @example
 * ```ts
 * import { table1Rows } from "./adapters.ts";
 * const r = table1Rows([{ dataset: "fashion-mnist", method: "sam", epoch: 10,
 *   paperEpoch: 250, errors: [4] }]);
 * if (r[0].chart.paper?.mean !== 4.12 || r[0].compare.labels[1] !== "SAM 250") throw new Error();
 * ```
 */
export function table1Rows(entries: OurTable1Entry[]): {
  chart: Table1ChartRow;
  compare: ComparisonRow;
}[] {
  const order = { sgd: 0, sam: 1, pof: 2 };
  return [...entries].sort((a, b) =>
    a.dataset.localeCompare(b.dataset) ||
    order[a.method] - order[b.method] || a.paperEpoch - b.paperEpoch
  ).map((e) => {
    const paper = PAPER_TABLE1.find((p) =>
      p.dataset === e.dataset && p.method === e.method &&
      p.epoch === e.paperEpoch
    )?.error;
    const dataset = DATASET_LABEL[e.dataset as PaperDataset] ?? e.dataset;
    const label = table1Label(e.method, e.paperEpoch);
    return {
      chart: { dataset, method: e.method, label, ours: e.errors, paper },
      compare: {
        labels: [dataset, label, String(e.epoch)],
        paper,
        ours: e.errors,
      },
    };
  });
}

/**
 * Fig. 4's curves from `fig4.json`'s data.
 *
 * @example
 * ```ts
 * import { fig4Curves } from "./adapters.ts";
 * const c = fig4Curves({ curves: [
 *   { method: "sam", points: [{ epoch: 1, error: [9, 10] }] },
 *   { method: "pof", points: [{ epoch: 2, error: [8] }] }] });
 * if (c.length !== 2 || c[1].points[0].epoch !== 2) throw new Error();
 * ```
 */
export function fig4Curves(data: Pick<Fig4Json, "curves">): ErrorCurve[] {
  return data.curves;
}

/**
 * Seconds per epoch of SGD, SAM and PoF from `table2.json`'s data.
 *
 * @example
 * ```ts
 * import { table2Seconds } from "./adapters.ts";
 * const s = table2Seconds({ secondsPerEpoch: { sgd: 2, sam: 3, pof: 2.5 } } as never);
 * if (s.sgd !== 2 || s.pof !== 2.5) throw new Error();
 * ```
 */
export function table2Seconds(
  data: Table2Json,
): Record<"sgd" | "sam" | "pof", number> {
  return data.secondsPerEpoch;
}

/**
 * Test errors (%) per seed after PoF and after PoF + classifier fine-tuning,
 * from `finetune.json`'s data.
 *
 * @example
 * ```ts
 * import { finetuneErrors } from "./adapters.ts";
 * const f = finetuneErrors({ before: [5, 6], after: [5.5, 6] });
 * if (f.finetune[0] !== 5.5 || f.pof[1] !== 6) throw new Error();
 * ```
 */
export function finetuneErrors(
  data: Pick<FinetuneJson, "before" | "after">,
): { pof: number[]; finetune: number[] } {
  return { pof: data.before, finetune: data.after };
}
