/**
 * Checks of an executed notebook (nbformat v4): no error output, every cell
 * tagged `figure` displayed a vega-lite bundle with a non-empty SVG, every
 * cell tagged `table` a Markdown table; whether it fell back to smoke
 * results; and its code cells as one Deno module (for `deno check`).
 *
 * @module
 */

/** A notebook cell as nbformat v4 stores it (the fields used here). */
export interface NotebookCell {
  cell_type: string;
  source: string | string[];
  metadata?: { tags?: string[]; [k: string]: unknown };
  /** Null or absent when the cell never ran. */
  execution_count?: number | null;
  outputs?: {
    output_type: string;
    name?: string;
    data?: Record<string, unknown>;
    ename?: string;
    evalue?: string;
    text?: string | string[];
  }[];
}

/** An nbformat v4 notebook (the fields used here). */
export interface Notebook {
  cells: NotebookCell[];
  metadata?: Record<string, unknown>;
}

const VEGA_LITE_MIME = "application/vnd.vegalite.v5+json";
const TABLE_SEPARATOR = /^\|( *:?-{3,}:? *\|)+ *$/m;

function text(v: unknown): string {
  return Array.isArray(v) ? v.join("") : typeof v === "string" ? v : "";
}

/**
 * Problems found in an executed notebook (empty when it passes): error
 * outputs; `figure`-tagged cells without a display bundle holding both
 * `application/vnd.vegalite.v5+json` and a non-empty `image/svg+xml`;
 * `table`-tagged cells without a `text/markdown` output containing a
 * Markdown table; code cells never executed.
 *
 * @example
 * ```ts
 * import { checkExecutedNotebook } from "./notebook_check.ts";
 * const p = checkExecutedNotebook({ cells: [{
 *   cell_type: "code", source: "x", execution_count: 1, metadata: { tags: ["table"] },
 *   outputs: [{ output_type: "display_data",
 *     data: { "text/markdown": "| a |\n| --- |\n| 1 |" } }],
 * }] });
 * if (p.length !== 0) throw new Error(p.join("; "));
 * ```
 */
export function checkExecutedNotebook(nb: Notebook): string[] {
  const problems: string[] = [];
  if (!nb || !Array.isArray(nb.cells)) {
    return [
      `not a notebook (no cells array): ${JSON.stringify(nb)?.slice(0, 80)}`,
    ];
  }
  nb.cells.forEach((cell, i) => {
    if (cell.cell_type !== "code") return;
    const outputs = cell.outputs ?? [];
    const where = `cell ${i} (${
      text(cell.source).split("\n")[0].slice(0, 50)
    })`;
    const ec = cell.execution_count;
    if (text(cell.source).trim() !== "" && (ec === null || ec === undefined)) {
      problems.push(`${where}: not executed`);
    }
    for (const o of outputs) {
      if (o.output_type === "error") {
        problems.push(`${where}: error ${o.ename}: ${o.evalue}`);
      }
    }
    const tags = cell.metadata?.tags ?? [];
    const bundles = outputs.filter((o) =>
      (o.output_type === "display_data" ||
        o.output_type === "execute_result") &&
      o.data
    ).map((o) => o.data!);
    if (tags.includes("figure")) {
      const ok = bundles.some((d) => {
        const svg = text(d["image/svg+xml"]);
        const spec = d[VEGA_LITE_MIME];
        return typeof spec === "object" && spec !== null &&
          svg.trimStart().startsWith("<svg") && svg.includes("</svg>") &&
          svg.length > 200;
      });
      if (!ok) {
        problems.push(
          `${where}: tagged "figure" but displayed no vega-lite + SVG bundle`,
        );
      }
    }
    if (tags.includes("table")) {
      const ok = bundles.some((d) =>
        TABLE_SEPARATOR.test(text(d["text/markdown"]))
      );
      if (!ok) {
        problems.push(
          `${where}: tagged "table" but displayed no Markdown table`,
        );
      }
    }
  });
  return problems;
}

/**
 * The notebook's code cells joined into one TypeScript module (in cell
 * order, each headed by a comment naming the cell), with the notebooks'
 * `./common.ts` import pointed at `commonUrl`, so `deno check` can
 * type-check a notebook as a whole.
 *
 * @example
 * ```ts
 * import { notebookModuleSource } from "./notebook_check.ts";
 * const src = notebookModuleSource({ cells: [
 *   { cell_type: "code", source: ['import * as nb from "./common.ts";\n', "nb;"] },
 *   { cell_type: "markdown", source: "# x" },
 * ] }, "file:///repo/notebooks/common.ts");
 * if (!src.includes('from "file:///repo/notebooks/common.ts"')) throw new Error(src);
 * ```
 */
export function notebookModuleSource(nb: Notebook, commonUrl: string): string {
  return nb.cells.map((c, i) =>
    c.cell_type === "code"
      ? `// ---- cell ${i}\n${
        text(c.source).replaceAll('"./common.ts"', JSON.stringify(commonUrl))
      }\n`
      : ""
  ).join("") + "export {};\n";
}

/** The marker `notebooks/results.ts` displays when a target fell back to smoke. */
export const FALLBACK_MARKER = "showing the **smoke** preset";

/**
 * Whether an executed notebook shows smoke results in place of the requested
 * preset's (its `loadTarget` displayed the fallback note).
 *
 * @example
 * ```ts
 * import { FALLBACK_MARKER, fellBackToSmoke } from "./notebook_check.ts";
 * const out = { output_type: "display_data", data: { "text/markdown": `> ${FALLBACK_MARKER}` } };
 * if (!fellBackToSmoke({ cells: [{ cell_type: "code", source: "", outputs: [out] }] })) throw new Error();
 * ```
 */
export function fellBackToSmoke(nb: Notebook): boolean {
  return nb.cells.some((c) =>
    (c.outputs ?? []).some((o) =>
      text(o.data?.["text/markdown"]).includes(FALLBACK_MARKER)
    )
  );
}
