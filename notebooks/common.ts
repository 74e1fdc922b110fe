/**
 * What every notebook shares: its settings and result loading
 * (`results.ts`), the adapters from result files to chart rows
 * (`adapters.ts`), the plotting API, and displaying charts and tables. No
 * algorithm code: the data come from `repro`, the charts from `lib/plot`.
 *
 * @module
 */
import { displayChart, displayMarkdown } from "../lib/plot/display.ts";
import type { VegaLiteSpec } from "../lib/plot/figures.ts";
import { comparisonTable, markdownTable } from "../lib/plot/tables.ts";
import type { NotebookSettings } from "./results.ts";

// The plotting API the notebooks use (the same as `mod.ts` re-exports).
export * from "../lib/plot/figures.ts";
export * from "../lib/stats.ts";
export * from "../lib/plot/style.ts";
export * from "../lib/plot/tables.ts";
export * from "../lib/plot/paper.ts";
export { displayChart, displayMarkdown } from "../lib/plot/display.ts";
export * from "./results.ts";
export * from "./adapters.ts";
// The claims table of Table 1 (the same rows as table1.md).
export { table1ClaimTable } from "../repro/targets/table1.ts";

/**
 * Displays a chart (vega-lite + SVG bundle) and writes
 * `<figuresDir>/<preset>_<name>.svg`.
 *
 * @example
 * ```ts ignore
 * import { chart, fig2aSpec, notebookSettings } from "./common.ts";
 * await chart("fig2a", fig2aSpec([3, 1]), notebookSettings(), "smoke");
 * ```
 */
export async function chart(
  name: string,
  spec: VegaLiteSpec,
  s: NotebookSettings,
  preset: string,
): Promise<void> {
  await displayChart(`${preset}_${name}`, spec, { dir: s.figuresDir });
}

/**
 * Displays a Markdown table.
 *
 * @example
 * ```ts ignore
 * import { table } from "./common.ts";
 * await table(["a"], [["1"]]);
 * ```
 */
export async function table(
  header: string[],
  rows: string[][],
): Promise<void> {
  await displayMarkdown(markdownTable(header, rows));
}

/**
 * Displays a paper-vs-ours table (see `comparisonTable`).
 *
 * @example
 * ```ts ignore
 * import { compareTable } from "./common.ts";
 * await compareTable(["quantity"], [{ labels: ["x"], ours: [1] }]);
 * ```
 */
export async function compareTable(
  ...args: Parameters<typeof comparisonTable>
): Promise<void> {
  await displayMarkdown(comparisonTable(...args));
}

/**
 * Displays Markdown text (a computed reading of the result).
 *
 * @example
 * ```ts ignore
 * import { md } from "./common.ts";
 * await md("**PoF** reduced the error.");
 * ```
 */
export async function md(text: string): Promise<void> {
  await displayMarkdown(text);
}

/**
 * A short description of the provenance of a result: preset, seeds, backend,
 * commit.
 *
 * @example
 * ```ts
 * import { describeRun } from "./common.ts";
 * const d = describeRun({ preset: "smoke", provenance: { seeds: [0, 1], gitCommit: "abc" } });
 * if (!d.includes("seeds 0, 1")) throw new Error(d);
 * ```
 */
export function describeRun(
  r: { preset: string; provenance: Record<string, unknown> },
): string {
  const p = r.provenance;
  const seeds = Array.isArray(p.seeds) ? p.seeds.join(", ") : "?";
  const b =
    (p.backend && typeof p.backend === "object" ? p.backend : {}) as Record<
      string,
      unknown
    >;
  const backend = b.device
    ? `${b.backend ?? "?"} on ${b.device}`
    : String(b.backend ?? "?");
  const commit = String(p.gitCommit ?? "?");
  return `preset ${r.preset}, seeds ${seeds}, backend ${backend}, commit ${
    commit.slice(0, 12)
  }${commit.endsWith("-dirty") ? "-dirty" : ""}, written ${p.writtenAt ?? "?"}`;
}
