/**
 * What every notebook shares: its settings (preset, results folder, figures
 * folder), loading a target's results as `deno task repro` wrote them (or,
 * when they are missing, running that target's smoke preset through the
 * runner's CLI so the notebook always executes), and displaying charts and
 * tables. No algorithm code: the data come from `repro`, the charts from
 * `lib/plot`.
 *
 * @module
 */
import { displayChart, displayMarkdown } from "../lib/plot/display.ts";
import type { VegaLiteSpec } from "../lib/plot/figures.ts";
import { comparisonTable, markdownTable } from "../lib/plot/tables.ts";

// The plotting API the notebooks use (the same as `mod.ts` re-exports).
export * from "../lib/plot/figures.ts";
export * from "../lib/plot/stats.ts";
export * from "../lib/plot/style.ts";
export * from "../lib/plot/tables.ts";
export * from "../lib/plot/paper.ts";
export { displayChart, displayMarkdown } from "../lib/plot/display.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

/** Where a notebook reads from and writes to. */
export interface NotebookSettings {
  /** The preset whose results are shown (`POF_PRESET`, default `quick`). */
  preset: string;
  /** Results folder of that preset (`POF_RESULTS`, default `results/<preset>`). */
  resultsDir: string;
  /** Folder the smoke fallback writes to (`results/smoke`). */
  smokeDir: string;
  /** Folder the figures' SVGs are written to (`POF_FIGURES`, default `results/figures`). */
  figuresDir: string;
}

/**
 * The notebook settings from the environment (`deno task notebooks` sets
 * them; a reader in Jupyter gets the defaults).
 *
 * @example
 * ```ts
 * import { notebookSettings } from "./common.ts";
 * const s = notebookSettings({ preset: "smoke" });
 * if (!s.resultsDir.endsWith("/results/smoke")) throw new Error(s.resultsDir);
 * ```
 */
export function notebookSettings(
  override: Partial<NotebookSettings> = {},
): NotebookSettings {
  const env = (k: string) => Deno.env.get(k) || undefined;
  const preset = override.preset ?? env("POF_PRESET") ?? "quick";
  if (!["smoke", "quick", "paper"].includes(preset)) {
    throw new RangeError(
      `unknown preset "${preset}"; valid: smoke, quick, paper`,
    );
  }
  return {
    preset,
    resultsDir: override.resultsDir ?? env("POF_RESULTS") ??
      `${ROOT}/results/${preset}`,
    smokeDir: override.smokeDir ?? `${ROOT}/results/smoke`,
    figuresDir: override.figuresDir ?? env("POF_FIGURES") ??
      `${ROOT}/results/figures`,
  };
}

/** A target's result file: `{provenance, config, data}` as `repro` writes it. */
export interface TargetResult<T> {
  data: T;
  /** The preset used by the run (its sizes). */
  config: Record<string, unknown>;
  provenance: Record<string, unknown>;
  /** The file read. */
  path: string;
  /** The preset these numbers come from (the smoke fallback says "smoke"). */
  preset: string;
  /** True when the requested preset's results were missing and smoke was used. */
  fellBack: boolean;
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/**
 * Reads `<resultsDir>/<target>.json`; when it is missing, uses
 * `<smokeDir>/<target>.json`, running `repro/main.ts <target> --preset
 * smoke` first if that is missing too. Says in the notebook where the numbers
 * come from.
 *
 * @example
 * ```ts ignore
 * import { loadTarget, notebookSettings } from "./common.ts";
 * const r = await loadTarget<{ pof: number[] }>("fig6", notebookSettings());
 * console.log(r.preset, r.data.pof.length);
 * ```
 */
export async function loadTarget<T>(
  target: string,
  s: NotebookSettings,
): Promise<TargetResult<T>> {
  let path = `${s.resultsDir}/${target}.json`;
  let fellBack = false;
  let preset = s.preset;
  if (!(await exists(path))) {
    fellBack = s.preset !== "smoke";
    preset = "smoke";
    const smokePath = `${
      s.preset === "smoke" ? s.resultsDir : s.smokeDir
    }/${target}.json`;
    if (!(await exists(smokePath))) {
      const outDir = smokePath.slice(0, smokePath.lastIndexOf("/"));
      console.log(
        `${path} is missing: running \`deno task repro ${target} --preset smoke --out ${outDir}\` ...`,
      );
      const t0 = performance.now();
      const r = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          `--import-map=${ROOT}/tools/offline_import_map.json`,
          `${ROOT}/repro/main.ts`,
          target,
          "--preset",
          "smoke",
          "--out",
          outDir,
          "--quiet",
        ],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      if (r.code !== 0 || !(await exists(smokePath))) {
        throw new Error(
          `repro ${target} --preset smoke failed (exit ${r.code}):\n` +
            dec.decode(r.stderr).slice(-2000) +
            dec.decode(r.stdout).slice(-1000),
        );
      }
      console.log(
        `... done in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
      );
    }
    path = smokePath;
  }
  const json = JSON.parse(await Deno.readTextFile(path));
  if (!json || typeof json !== "object" || !("data" in json)) {
    throw new Error(`${path} has no "data" field: not a repro result file`);
  }
  if (fellBack) {
    await displayMarkdown(
      `> **Note.** No \`${s.preset}\` results for \`${target}\` in \`${s.resultsDir}\`; ` +
        `showing the **smoke** preset (tiny synthetic run that only checks the pipeline; ` +
        `its numbers say nothing about the paper). Run \`deno task repro ${target} --preset ${s.preset}\` ` +
        `and re-run this notebook for real numbers.`,
    );
  }
  return {
    data: json.data as T,
    config: json.config ?? {},
    provenance: json.provenance ?? {},
    path,
    preset,
    fellBack,
  };
}

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
  const backend = p.backend && typeof p.backend === "object"
    ? String((p.backend as Record<string, unknown>).name ?? "?")
    : "?";
  return `preset ${r.preset}, seeds ${seeds}, backend ${backend}, commit ${
    String(p.gitCommit ?? "?").slice(0, 12)
  }`;
}

/**
 * One line describing the settings, with paths relative to the repository.
 *
 * @example
 * ```ts
 * import { describeSettings, notebookSettings } from "./common.ts";
 * const d = describeSettings(notebookSettings({ preset: "paper" }));
 * if (!d.includes("results/paper")) throw new Error(d);
 * ```
 */
export function describeSettings(s: NotebookSettings): string {
  const rel = (p: string) =>
    p.startsWith(ROOT + "/") ? p.slice(ROOT.length + 1) : p;
  return `preset: ${s.preset}; results: ${rel(s.resultsDir)}; figures: ${
    rel(s.figuresDir)
  }`;
}
