/**
 * Markdown tables for the notebooks and `repro` targets: mean +- std cells,
 * the paper's numbers beside ours, and the difference.
 *
 * @module
 */
import type { MeanStd } from "../stats.ts";
import { meanStd } from "../stats.ts";

/**
 * `mean ± std` with `digits` decimals; `(n=1)` is appended for a single seed
 * (whose std is not an estimate), `n/a` for undefined.
 *
 * @example
 * ```ts
 * import { formatMeanStd } from "./tables.ts";
 * if (formatMeanStd({ mean: 4.6, std: 0.114, n: 3 }) !== "4.60 ± 0.11") throw new Error();
 * if (formatMeanStd({ mean: 4.6, std: 0, n: 1 }) !== "4.60 (n=1)") throw new Error();
 * ```
 */
export function formatMeanStd(
  s: MeanStd | undefined,
  digits = 2,
): string {
  if (s === undefined) return "n/a";
  if (!Number.isFinite(s.mean)) {
    throw new RangeError(`formatMeanStd: mean must be finite, got ${s.mean}`);
  }
  if (s.n === 1) return `${s.mean.toFixed(digits)} (n=1)`;
  return `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}`;
}

function cell(x: string): string {
  return x.replaceAll("\\", "\\\\").replaceAll("|", "\\|").replaceAll(
    "\n",
    " ",
  );
}

/**
 * A GitHub-flavoured Markdown table; `|` in cells is escaped. Columns listed
 * in `alignRight` are right-aligned.
 *
 * @example
 * ```ts
 * import { markdownTable } from "./tables.ts";
 * const t = markdownTable(["a", "b"], [["1", "x|y"]], { alignRight: [0] });
 * if (t !== "| a | b |\n| ---: | --- |\n| 1 | x\\|y |") throw new Error(t);
 * ```
 */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  options: { alignRight?: readonly number[] } = {},
): string {
  if (header.length === 0) {
    throw new RangeError("markdownTable needs at least one column");
  }
  rows.forEach((r, i) => {
    if (r.length !== header.length) {
      throw new RangeError(
        `markdownTable: row ${i} has ${r.length} cells, header has ${header.length}`,
      );
    }
  });
  const right = new Set(options.alignRight ?? []);
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c) => cell(String(c))).join(" | ")} |`;
  return [
    line(header),
    `| ${header.map((_, i) => right.has(i) ? "---:" : "---").join(" | ")} |`,
    ...rows.map(line),
  ].join("\n");
}

/** One row of {@link comparisonTable}. */
export interface ComparisonRow {
  /** Leading label cells (e.g. dataset, method). */
  labels: readonly string[];
  /** The paper's mean +- std, if it reports one. */
  paper?: MeanStd;
  /** Our values, one per seed, if run. */
  ours?: readonly number[];
}

/**
 * A "paper vs ours" table: label columns, then `paper`, `ours` (mean ± std
 * over seeds; the mean alone for one seed or a paper value with n = 1), `ours − paper` (difference of
 * means) and the number of seeds.
 *
 * @example
 * ```ts
 * import { comparisonTable } from "./tables.ts";
 * const t = comparisonTable(["method"], [
 *   { labels: ["SAM 250"], paper: { mean: 4.12, std: 0.05, n: 0 }, ours: [4, 5] },
 * ]);
 * if (!t.includes("| SAM 250 | 4.12 ± 0.05 | 4.50 ± 0.71 | +0.38 | 2 |")) throw new Error(t);
 * ```
 */
export function comparisonTable(
  labelHeader: readonly string[],
  rows: readonly ComparisonRow[],
  options: {
    digits?: number;
    unit?: string;
    /** Header of the paper's column (default "paper"), before the unit. */
    paperHeader?: string;
  } = {},
): string {
  const d = options.digits ?? 2;
  const u = options.unit ? ` (${options.unit})` : "";
  const paperHeader = options.paperHeader ?? "paper";
  const body = rows.map((r, i) => {
    if (r.labels.length !== labelHeader.length) {
      throw new RangeError(
        `comparisonTable: row ${i} has ${r.labels.length} labels, expected ${labelHeader.length}`,
      );
    }
    const ours = r.ours && r.ours.length ? meanStd(r.ours) : undefined;
    const diff = ours && r.paper
      ? `${ours.mean - r.paper.mean >= 0 ? "+" : ""}${
        (ours.mean - r.paper.mean).toFixed(d)
      }`
      : "n/a";
    return [
      ...r.labels,
      r.paper === undefined
        ? "n/a"
        : r.paper.n === 1
        ? r.paper.mean.toFixed(d)
        : `${r.paper.mean.toFixed(d)} ± ${r.paper.std.toFixed(d)}`,
      ours === undefined
        ? "n/a"
        : ours.n === 1
        ? ours.mean.toFixed(d)
        : `${ours.mean.toFixed(d)} ± ${ours.std.toFixed(d)}`,
      diff,
      ours ? String(ours.n) : "0",
    ];
  });
  return markdownTable(
    [...labelHeader, `${paperHeader}${u}`, `ours${u}`, "ours − paper", "seeds"],
    body,
    {
      alignRight: [0, 1, 2, 3].map((k) => labelHeader.length + k),
    },
  );
}
