/**
 * Where a notebook reads from and writes to (preset, results folder, figures
 * folder), and loading a target's results as `deno task repro` wrote them:
 * checked against the fields the notebooks read, and, when they are
 * missing, produced by running that target's smoke preset through the
 * runner's CLI so the notebook always executes.
 *
 * @module
 */
import type { Fig1Json } from "../repro/targets/fig1.ts";
import type { Fig2Json } from "../repro/targets/fig2.ts";
import type { Fig4Json } from "../repro/targets/fig4.ts";
import type { Fig5Json } from "../repro/targets/fig5.ts";
import type { Fig6Json } from "../repro/targets/fig6.ts";
import type { Table1Json } from "../repro/targets/table1.ts";
import type { Table2Json } from "../repro/targets/table2.ts";
import type { FinetuneJson } from "../repro/targets/finetune.ts";
import { displayMarkdown } from "../lib/plot/display.ts";
import { isPresetName, PRESET_NAMES } from "../lib/preset_name.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

/**
 * The absolute path of a file given relative to the repository root (e.g.
 * `CITATION.cff`), independent of the notebook kernel's working directory.
 *
 * @example
 * ```ts
 * import { repoPath } from "./results.ts";
 * if (!(await Deno.readTextFile(repoPath("deno.json"))).includes("tasks")) throw new Error();
 * ```
 */
export function repoPath(relative: string): string {
  return `${ROOT}/${relative.replace(/^\/+/, "")}`;
}

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
 * import { notebookSettings } from "./results.ts";
 * const s = notebookSettings({ preset: "smoke" });
 * if (!s.resultsDir.endsWith("/results/smoke")) throw new Error(s.resultsDir);
 * ```
 */
export function notebookSettings(
  override: Partial<NotebookSettings> = {},
): NotebookSettings {
  const env = (k: string) => Deno.env.get(k) || undefined;
  const preset = override.preset ?? env("POF_PRESET") ?? "quick";
  if (!isPresetName(preset)) {
    throw new RangeError(
      `unknown preset "${preset}"; valid: ${PRESET_NAMES.join(", ")}`,
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

export type {
  FinetuneJson,
  Fig1Json,
  Fig2Json,
  Fig4Json,
  Fig5Json,
  Fig6Json,
  Table1Json,
  Table2Json,
};

/**
 * What each target writes under `data` in `<target>.json`: the types the
 * targets export. Reading a result is {@link loadTarget}, typed by this map.
 */
export interface TargetJson {
  fig1: Fig1Json;
  fig2: Fig2Json;
  fig4: Fig4Json;
  fig5: Fig5Json;
  fig6: Fig6Json;
  table1: Table1Json;
  table2: Table2Json;
  finetune: FinetuneJson;
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
 * The top-level `data` fields of each target's result file that this version
 * of the project needs (each a key of that target's exported type, checked
 * by the compiler; repro/repro_all_test.ts checks them against fresh output).
 * A file without one of them was written by an older version.
 */
export const RESULT_FIELDS: {
  readonly [K in keyof TargetJson]: readonly (keyof TargetJson[K] & string)[];
} = {
  fig1: ["claims", "config", "flatWidth", "landscape", "layers", "perSeed"],
  fig2: [
    "claims",
    "eigIndexCounts",
    "eigIndexCountsRegularised",
    "perSeed",
    "xiTest",
    "xiTrain",
  ],
  fig4: ["curves", "dataset", "switchEpoch", "trainLoss", "zoom"],
  fig5: [
    "comparisons",
    "dataset",
    "medians",
    "perSeed",
    "pofEpoch",
    "samEpoch",
    "test",
    "train",
  ],
  fig6: [
    "comparisons",
    "dataset",
    "medians",
    "perSeed",
    "pof",
    "sam",
    "sgd",
    "sources",
  ],
  table1: ["comparisons", "pofRuns", "rows", "testSize"],
  table2: ["pofStart", "ratioToSgd", "secondsPerEpoch"],
  finetune: [
    "after",
    "before",
    "comparison",
    "dataset",
    "difference",
    "from",
  ],
};

/**
 * A result file written by an older version of the project: its message is
 * one line naming the file, the missing fields and the command that rewrites
 * it, and it prints without a stack trace.
 *
 * @example
 * ```ts
 * import { StaleResultError } from "./results.ts";
 * const e = new StaleResultError("fig4.json lacks curves");
 * if (e.stack !== "StaleResultError: fig4.json lacks curves") throw new Error(e.stack);
 * ```
 */
export class StaleResultError extends Error {
  override name = "StaleResultError";
  constructor(message: string) {
    super(message);
    this.stack = `${this.name}: ${message}`;
  }
}

/**
 * Throws {@link StaleResultError} when `data` (a result file's `data` field)
 * lacks a field that this version's `target` writes ({@link RESULT_FIELDS}).
 *
 * @example
 * ```ts
 * import { checkResultFields } from "./results.ts";
 * try {
 *   checkResultFields("fig4", { curves: [] }, { path: "results/quick/fig4.json", preset: "quick" });
 *   throw new Error("accepted");
 * } catch (e) {
 *   if (!(e as Error).message.includes("re-run `deno task repro fig4 --preset quick")) throw e;
 * }
 * ```
 */
export function checkResultFields(
  target: string,
  data: unknown,
  where: { path: string; preset: string },
): void {
  const need: readonly string[] =
    RESULT_FIELDS[target as keyof TargetJson] ?? [];
  const have = data && typeof data === "object" ? data : {};
  const missing = need.filter((f) => !(f in have));
  if (missing.length === 0) return;
  const dir = where.path.slice(0, where.path.lastIndexOf("/"));
  const out = dir === `${ROOT}/results/${where.preset}` ? "" : ` --out ${dir}`;
  throw new StaleResultError(
    `${where.path} was written by an older version of this project (its data lacks ${
      missing.join(", ")
    }): re-run \`deno task repro ${target} --preset ${where.preset}${out}\``,
  );
}

/**
 * Reads `<resultsDir>/<target>.json`; when it is missing, uses
 * `<smokeDir>/<target>.json`, running `repro/main.ts <target> --preset
 * smoke` first if that is missing too. Says in the notebook where the numbers
 * come from.
 *
 * @example
 * ```ts ignore
 * import { loadTarget, notebookSettings } from "./results.ts";
 * const r = await loadTarget("fig6", notebookSettings());
 * console.log(r.preset, r.data.pof.length);
 * ```
 */
export async function loadTarget<K extends keyof TargetJson>(
  target: K,
  s: NotebookSettings,
): Promise<TargetResult<TargetJson[K]>> {
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
          // `deno task notebooks --threads N` passes its thread count on.
          ...(Deno.env.get("POF_THREADS")
            ? ["--threads", Deno.env.get("POF_THREADS")!]
            : []),
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
  checkResultFields(target, json.data, { path, preset });
  if (fellBack) {
    await displayMarkdown(
      `> **Note.** No \`${s.preset}\` results for \`${target}\` in \`${s.resultsDir}\`; ` +
        `showing the **smoke** preset (tiny synthetic run that only checks the pipeline; ` +
        `its numbers say nothing about the paper). Run \`deno task repro ${target} --preset ${s.preset}\` ` +
        `and re-run this notebook for real numbers.`,
    );
  }
  return {
    data: json.data as TargetJson[K],
    config: json.config ?? {},
    provenance: json.provenance ?? {},
    path,
    preset,
    fellBack,
  };
}
/**
 * One line describing the settings, with paths relative to the repository.
 *
 * @example
 * ```ts
 * import { describeSettings, notebookSettings } from "./results.ts";
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
