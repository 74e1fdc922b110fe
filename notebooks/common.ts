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
import {
  type ComparisonRow,
  comparisonTable,
  markdownTable,
} from "../lib/plot/tables.ts";
import type { ErrorCurve, Table1ChartRow } from "../lib/plot/figures.ts";
import {
  DATASET_LABEL,
  PAPER_TABLE1,
  type PaperDataset,
  table1Label,
} from "../lib/plot/paper.ts";
import { meanStd } from "../lib/stats.ts";
import { isPresetName, PRESET_NAMES } from "../lib/preset_name.ts";

// The plotting API the notebooks use (the same as `mod.ts` re-exports).
export * from "../lib/plot/figures.ts";
export * from "../lib/stats.ts";
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

// ------------------------------------------------------------------ adapters
// The runner's result files for Table 1, Fig. 4, Table 2 and the fine-tune
// experiment, read into the shapes the plotting module takes. They accept
// the field names the runner may use and fail naming the fields they found.

type Json = Record<string, unknown>;

function keysOf(x: unknown): string {
  return x && typeof x === "object" ? Object.keys(x).join(", ") : String(x);
}

function numbers(x: unknown): number[] | undefined {
  if (typeof x === "number" && Number.isFinite(x)) return [x];
  if (Array.isArray(x) && x.length && x.every((v) => typeof v === "number")) {
    return x as number[];
  }
  return undefined;
}

/** The first field of `o` among `names` holding a number or number[]. */
function pick(o: Json, names: string[]): number[] | undefined {
  for (const n of names) {
    const v = numbers(o[n]);
    if (v) return v;
  }
  return undefined;
}

const ERROR_FIELDS = [
  "errors",
  "testErrors",
  "errorPerSeed",
  "testErrorPerSeed",
  "perSeed",
  "values",
  "testError",
  "error",
];

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
 * Table 1 entries from `table1.json`'s data (an array of rows with
 * dataset, method, epoch and per-seed errors, directly or under `rows` /
 * `entries`), mapping the preset's epochs to the paper's: the end of
 * training is 250, PoF's early evaluation 210, SGD's / SAM's mid one 200.
 *
 * @example
 * ```ts
 * import { table1Entries } from "./common.ts";
 * const e = table1Entries({ rows: [{ dataset: "fashion-mnist", method: "pof",
 *   epoch: 7, errors: [5, 6] }] }, { epochs: 10 });
 * if (e[0].paperEpoch !== 210 || e[0].errors[1] !== 6) throw new Error();
 * ```
 */
export function table1Entries(
  data: unknown,
  config: Json = {},
): OurTable1Entry[] {
  const d = data as Json;
  const list = Array.isArray(d)
    ? d
    : [d?.rows, d?.entries, d?.table].find(Array.isArray);
  if (!list) {
    throw new Error(
      `table1.json: expected an array of rows (or rows / entries), found fields: ${
        keysOf(d)
      }`,
    );
  }
  return (list as Json[]).map((row, i) => {
    const method = String(row.method ?? "").toLowerCase();
    const m = method.includes("pof")
      ? "pof"
      : method.includes("sam")
      ? "sam"
      : method.includes("sgd")
      ? "sgd"
      : undefined;
    const epoch = Number(row.epoch ?? row.evalEpoch);
    const errors = pick(row, ERROR_FIELDS);
    if (!m || !Number.isFinite(epoch) || !errors) {
      throw new Error(
        `table1.json row ${i}: need method, epoch and per-seed errors; found ${
          JSON.stringify(row).slice(0, 200)
        }`,
      );
    }
    const end = Number(config.epochs);
    const paperEpoch = Number(row.paperEpoch) ||
      (epoch === end ? 250 : m === "pof" ? 210 : 200);
    return {
      dataset: String(row.dataset ?? "?"),
      method: m,
      epoch,
      paperEpoch,
      errors,
    };
  });
}

/**
 * Rows for the Table 1 chart and the paper-vs-ours table, with the paper's
 * number where the dataset is one of the paper's.
 *
 * @example
 * ```ts
 * import { table1Rows } from "./common.ts";
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
 * Fig. 4's curves from `fig4.json`'s data: `curves` as an array of
 * `{method, points}`, or per method (`sam`, `pof`, under `curves` or at the
 * top) an array of `{epoch, <errors>}` points.
 *
 * @example
 * ```ts
 * import { fig4Curves } from "./common.ts";
 * const c = fig4Curves({ sam: [{ epoch: 1, testError: [9, 10] }], pof: [{ epoch: 2, errors: [8] }] });
 * if (c.length !== 2 || c[1].points[0].epoch !== 2) throw new Error();
 * ```
 */
export function fig4Curves(data: unknown): ErrorCurve[] {
  const d = data as Json;
  if (
    Array.isArray(d?.curves) &&
    (d.curves as Json[]).every((c) => Array.isArray(c.points))
  ) {
    return d.curves as ErrorCurve[];
  }
  const src =
    (d?.curves && typeof d.curves === "object" ? d.curves : d) as Json;
  const curves: ErrorCurve[] = [];
  for (const m of ["sgd", "sam", "pof"] as const) {
    const pts = src?.[m];
    if (!Array.isArray(pts)) continue;
    curves.push({
      method: m,
      points: (pts as Json[]).map((p, i) => {
        const error = pick(p, ERROR_FIELDS);
        if (!Number.isFinite(Number(p.epoch)) || !error) {
          throw new Error(
            `fig4.json ${m}[${i}]: need epoch and errors; found ${
              JSON.stringify(p).slice(0, 200)
            }`,
          );
        }
        return { epoch: Number(p.epoch), error };
      }),
    });
  }
  if (!curves.length) {
    throw new Error(
      `fig4.json: no curves found (expected curves or sam / pof arrays); fields: ${
        keysOf(d)
      }`,
    );
  }
  return curves;
}

/**
 * Seconds per epoch of SGD, SAM and PoF from `table2.json`'s data (under
 * `seconds` / `secondsPerEpoch` or at the top; a number, a per-repeat array
 * (mean taken), or an object with `seconds` / `secondsPerEpoch` / `mean`).
 *
 * @example
 * ```ts
 * import { table2Seconds } from "./common.ts";
 * const s = table2Seconds({ seconds: { sgd: [1, 3], sam: 3, pof: { mean: 2.5 } } });
 * if (s.sgd !== 2 || s.pof !== 2.5) throw new Error();
 * ```
 */
export function table2Seconds(
  data: unknown,
): Record<"sgd" | "sam" | "pof", number> {
  const d = data as Json;
  const src = [d?.secondsPerEpoch, d?.seconds, d].find((x) =>
    x && typeof x === "object" && "sgd" in (x as Json)
  ) as Json | undefined;
  if (!src) {
    throw new Error(
      `table2.json: expected seconds per epoch of sgd / sam / pof; fields: ${
        keysOf(d)
      }`,
    );
  }
  const out = {} as Record<"sgd" | "sam" | "pof", number>;
  for (const m of ["sgd", "sam", "pof"] as const) {
    const v = src[m];
    const vals = numbers(v) ??
      (v && typeof v === "object"
        ? pick(v as Json, ["secondsPerEpoch", "seconds", "mean"])
        : undefined);
    if (!vals) {
      throw new Error(
        `table2.json: no seconds for ${m}: ${JSON.stringify(v)?.slice(0, 200)}`,
      );
    }
    out[m] = meanStd(vals).mean;
  }
  return out;
}

/**
 * Test errors (%) per seed after PoF and after PoF + classifier fine-tuning,
 * from `finetune.json`'s data (`pof` / `finetune`, or `before` / `after`,
 * each per-seed errors or an object holding them).
 *
 * @example
 * ```ts
 * import { finetuneErrors } from "./common.ts";
 * const f = finetuneErrors({ pof: { errors: [5, 6] }, finetune: [5.5, 6] });
 * if (f.finetune[0] !== 5.5 || f.pof[1] !== 6) throw new Error();
 * ```
 */
export function finetuneErrors(
  data: unknown,
): { pof: number[]; finetune: number[] } {
  const d = data as Json;
  const get = (names: string[]) => {
    for (const n of names) {
      const v = d?.[n];
      const vals = numbers(v) ??
        (v && typeof v === "object"
          ? pick(v as Json, ERROR_FIELDS)
          : undefined);
      if (vals) return vals;
    }
    return undefined;
  };
  const pof = get(["pof", "before"]);
  const finetune = get(["finetune", "after"]);
  if (!pof || !finetune) {
    throw new Error(
      `finetune.json: expected pof / finetune test errors; fields: ${
        keysOf(d)
      }`,
    );
  }
  return { pof, finetune };
}
