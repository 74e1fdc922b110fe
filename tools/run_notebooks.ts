/**
 * `deno task notebooks [--preset smoke|quick|paper] [--out DIR] [--only a,b]
 * [--timeout S] [--threads N] [--write-back]`
 *
 * Executes every notebook in `notebooks/` headlessly under the Deno Jupyter
 * kernel (Python's nbclient drives the kernel `deno`, installed by
 * `deno jupyter --install`; Deno >= 2.8.2 is needed), one after another in
 * file-name order, and saves the executed copies to
 * `results/notebooks/<preset>/` (never over the committed notebooks). The
 * notebooks read the preset from `POF_PRESET` and the results folder from
 * `POF_RESULTS` (default `results/<preset>`), which this tool sets, and a
 * notebook whose results are missing runs `repro` with `POF_THREADS`
 * threads (`--threads`; default every logical core).
 *
 * After execution each copy is checked ({@link checkExecutedNotebook}): no
 * error output, every cell tagged `figure` displayed a vega-lite bundle with
 * a non-empty SVG, every cell tagged `table` a Markdown table. `--write-back`
 * (explicit, never the default) then copies the checked notebooks over the
 * committed ones, which is how the committed outputs are produced; a
 * notebook that fell back to smoke results (its preset's results were
 * missing) is not written back unless the preset is smoke.
 *
 * Exit code: 0 when all notebooks ran and passed the checks, 1 otherwise,
 * 2 for a command-line mistake.
 *
 * @module
 */
import { parseArgs } from "@std/cli";
import { writeFileAtomic } from "../lib/atomic_write.ts";
import { PRESET_NAMES } from "../lib/preset_name.ts";
import { parseThreads, threadsNote } from "../lib/backend.ts";
import {
  checkExecutedNotebook,
  FALLBACK_MARKER,
  fellBackToSmoke,
  type Notebook,
  type NotebookCell,
  notebookModuleSource,
} from "./notebook_check.ts";
import {
  findPython,
  JUPYTER_INSTALL,
  type JupyterProbe,
  probeJupyter,
  run,
} from "./jupyter.ts";

export {
  checkExecutedNotebook,
  FALLBACK_MARKER,
  fellBackToSmoke,
  findPython,
  JUPYTER_INSTALL,
  type JupyterProbe,
  type Notebook,
  type NotebookCell,
  notebookModuleSource,
  probeJupyter,
};

/** The preset names the notebooks understand (the project's, lib/preset_name.ts). */
export const NOTEBOOK_PRESETS = PRESET_NAMES;

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

/** Parsed command line of `deno task notebooks`. */
export interface NotebookCliOptions {
  preset: typeof NOTEBOOK_PRESETS[number];
  /** Folder for the executed copies. */
  out: string;
  /** Results folder the notebooks read (`POF_RESULTS`). */
  results: string;
  /** Folder the notebooks write figure SVGs to (`POF_FIGURES`). */
  figures: string;
  /** Notebook names (without `.ipynb`) to run; empty = all. */
  only: string[];
  /** `--threads`: threads of the fast CPU path for fallback runs (`POF_THREADS`); undefined: every core. */
  threads?: number;
  /** Per-cell timeout in seconds. */
  timeout: number;
  writeBack: boolean;
}

/** A command-line mistake (exit code 2). */
export class NotebookUsageError extends Error {
  override name = "NotebookUsageError";
}

const HELP = `deno task notebooks [flags]
Executes notebooks/*.ipynb under the Deno Jupyter kernel and saves executed copies.
  --preset NAME    ${
  NOTEBOOK_PRESETS.join(" | ")
} (default quick): the results the notebooks read;
                   a notebook whose results are missing runs that target's smoke preset
  --results DIR    results folder the notebooks read (default results/<preset>)
  --out DIR        where executed copies go (default results/notebooks/<preset>)
  --figures DIR    where the notebooks write figure SVGs (default results/figures)
  --only a,b       run only these notebooks (names without .ipynb)
  --timeout S      per-cell timeout in seconds (default 3600)
  --threads N      threads of the fast CPU path when a notebook runs a missing target (default: every core)
  --write-back     after all checks pass, copy the executed notebooks over notebooks/*.ipynb
  --help           this text`;

/**
 * Parses the command line; returns "help" for `--help`.
 *
 * @example
 * ```ts
 * import { parseNotebookCli } from "./run_notebooks.ts";
 * const o = parseNotebookCli(["--preset", "smoke", "--only", "fig6_perturbation_range"]);
 * if (o === "help" || o.out !== "results/notebooks/smoke" || o.only.length !== 1) throw new Error();
 * ```
 */
export function parseNotebookCli(
  args: string[],
): NotebookCliOptions | "help" {
  const known = [
    "preset",
    "results",
    "out",
    "figures",
    "only",
    "timeout",
    "threads",
  ];
  const a = parseArgs(args, {
    string: known,
    boolean: ["write-back", "help"],
    unknown: (arg: string) => {
      if (arg.startsWith("-")) {
        throw new NotebookUsageError(
          `unknown flag ${arg}; valid: ${
            [...known, "write-back", "help"].map((f) => "--" + f).join(" ")
          }`,
        );
      }
      throw new NotebookUsageError(`unexpected argument "${arg}"`);
    },
  }) as Record<string, string | boolean | undefined>;
  if (a.help) return "help";
  const preset = (a.preset ?? "quick") as string;
  if (!(NOTEBOOK_PRESETS as readonly string[]).includes(preset)) {
    throw new NotebookUsageError(
      `unknown preset "${preset}"; valid: ${NOTEBOOK_PRESETS.join(", ")}`,
    );
  }
  const timeout = Number(a.timeout ?? 3600);
  if (!Number.isInteger(timeout) || timeout < 1) {
    throw new NotebookUsageError(
      `--timeout must be a positive integer of seconds, got "${a.timeout}"`,
    );
  }
  const only = typeof a.only === "string"
    ? a.only.split(",").map((s) => s.trim().replace(/\.ipynb$/, "")).filter((
      s,
    ) => s)
    : [];
  for (const k of known) {
    if (typeof a[k] === "boolean") {
      throw new NotebookUsageError(`--${k} needs a value`);
    }
  }
  let threads: number | undefined;
  if (a.threads !== undefined) {
    try {
      threads = parseThreads(String(a.threads));
    } catch (e) {
      throw new NotebookUsageError((e as Error).message);
    }
  }
  return {
    preset: preset as NotebookCliOptions["preset"],
    out: (a.out as string | undefined) ?? `results/notebooks/${preset}`,
    results: (a.results as string | undefined) ?? `results/${preset}`,
    figures: (a.figures as string | undefined) ?? "results/figures",
    only,
    timeout,
    threads,
    writeBack: a["write-back"] === true,
  };
}

// Executes one notebook with nbclient, saving the executed copy atomically
// even when a cell fails (so the error can be read).
const EXECUTE_PY = `
import json, os, sys
import nbformat, nbclient
src, dst, cwd, timeout = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
nb = nbformat.read(src, as_version=4)
client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="deno",
    allow_errors=False, resources={"metadata": {"path": cwd}})
err = None
try:
    client.execute()
except Exception as e:
    err = type(e).__name__ + ": " + str(e).strip().splitlines()[-1][:500]
tmp = dst + ".tmp"
nbformat.write(nb, tmp)
os.replace(tmp, dst)
print(json.dumps({"error": err}))
`;

async function executeAndCheck(
  python: string,
  nbDir: string,
  name: string,
  dst: string,
  timeout: number,
  env: Record<string, string>,
): Promise<string[]> {
  const r = await run(python, [
    "-c",
    EXECUTE_PY,
    `${nbDir}/${name}.ipynb`,
    dst,
    nbDir,
    String(timeout),
  ], env);
  const problems: string[] = [];
  let status: { error: string | null } = { error: "no status" };
  try {
    status = JSON.parse(r.stdout.trim().split("\n").pop() ?? "");
  } catch {
    status = {
      error: `nbclient failed (exit ${r.code}): ${
        r.stderr.trim().split("\n").slice(-3).join(" | ")
      }`,
    };
  }
  if (status.error) problems.push(status.error);
  try {
    problems.push(
      ...checkExecutedNotebook(JSON.parse(await Deno.readTextFile(dst))),
    );
  } catch (e) {
    if (!status.error) problems.push(`no executed copy: ${e}`);
  }
  return problems;
}
export interface NotebookResult {
  name: string;
  seconds: number;
  /** Path of the executed copy. */
  path: string;
  /** Execution error (first failing cell) and check problems. */
  problems: string[];
}

/**
 * Executes the notebooks and checks them (the body of `deno task notebooks`).
 *
 * @example
 * ```ts ignore
 * import { runNotebooks } from "./run_notebooks.ts";
 * const r = await runNotebooks({ preset: "smoke", out: "results/notebooks/smoke",
 *   results: "results/smoke", figures: "results/figures", only: ["00_overview"],
 *   timeout: 600, writeBack: false });
 * console.log(r[0].problems);
 * ```
 */
export async function runNotebooks(
  o: NotebookCliOptions,
  log: (line: string) => void = console.log,
): Promise<NotebookResult[]> {
  const nbDir = `${ROOT}/notebooks`;
  const all = [...Deno.readDirSync(nbDir)]
    .filter((e) => e.isFile && e.name.endsWith(".ipynb"))
    .map((e) => e.name.replace(/\.ipynb$/, ""))
    .sort();
  for (const n of o.only) {
    if (!all.includes(n)) {
      throw new NotebookUsageError(
        `no notebook "${n}"; valid: ${all.join(", ")}`,
      );
    }
  }
  const names = o.only.length ? all.filter((n) => o.only.includes(n)) : all;
  const abs = (p: string) => p.startsWith("/") ? p : `${Deno.cwd()}/${p}`;
  const out = abs(o.out).replace(/\/+$/, "");
  if ((await Deno.realPath(nbDir)) === out || out === nbDir) {
    throw new NotebookUsageError(
      `--out ${o.out} is the committed notebooks folder; executed copies never go there (use --write-back)`,
    );
  }
  await Deno.mkdir(out, { recursive: true });
  const python = await findPython(log);
  const env: Record<string, string> = {
    POF_PRESET: o.preset,
    POF_RESULTS: abs(o.results),
    POF_FIGURES: abs(o.figures),
    NO_COLOR: "1",
  };
  if (o.threads !== undefined) {
    env.POF_THREADS = String(o.threads);
    const note = threadsNote(o.threads);
    if (note) log(note);
  }
  const results: NotebookResult[] = [];
  for (const name of names) {
    const t0 = performance.now();
    const dst = `${out}/${name}.ipynb`;
    log(`notebooks: executing ${name} (preset ${o.preset}) ...`);
    // The Deno kernel occasionally publishes a cell's display_data after the
    // cell has finished (seen 2 times in 3 runs of the whole set, never the
    // same cell), so nbclient records the cell without it. A notebook whose
    // only problems are such missing displays is executed once more; a
    // missing display twice in a row, or any cell error, is a failure.
    let problems: string[] = [];
    for (let attempt = 1; attempt <= 2; attempt++) {
      problems = await executeAndCheck(
        python,
        nbDir,
        name,
        dst,
        o.timeout,
        env,
      );
      const onlyMissing = problems.length > 0 &&
        problems.every((p) => p.includes("displayed no"));
      if (!onlyMissing || attempt === 2) break;
      log(`notebooks: ${name}: ${problems.join("; ")}; executing again`);
    }
    const seconds = (performance.now() - t0) / 1000;
    results.push({
      name,
      seconds,
      path: dst,
      problems: [...new Set(problems)],
    });
    log(
      `notebooks: ${name} ${problems.length ? "FAILED" : "ok"} in ${
        seconds.toFixed(1)
      } s -> ${dst}`,
    );
    for (const p of new Set(problems)) log(`  ${p}`);
  }
  const failed = results.filter((r) => r.problems.length);
  if (o.writeBack) {
    if (failed.length) {
      log("notebooks: --write-back skipped: some notebooks failed");
    } else {
      for (const r of results) {
        const target = `${nbDir}/${r.name}.ipynb`;
        const executed = JSON.parse(await Deno.readTextFile(r.path));
        if (o.preset !== "smoke" && fellBackToSmoke(executed)) {
          log(
            `notebooks: NOT writing back ${r.name}: it shows smoke results (no ${o.preset} results for it)`,
          );
          continue;
        }
        await writeFileAtomic(target, await Deno.readFile(r.path));
        // Keep the committed notebooks `deno fmt` clean.
        await run(Deno.execPath(), ["fmt", "--quiet", target]);
        log(`notebooks: wrote back ${target}`);
      }
    }
  }
  return results;
}

if (import.meta.main) {
  let options: NotebookCliOptions | "help";
  try {
    options = parseNotebookCli(Deno.args);
  } catch (e) {
    if (e instanceof NotebookUsageError) {
      console.error(`notebooks: ${e.message}`);
      Deno.exit(2);
    }
    throw e;
  }
  if (options === "help") {
    console.log(HELP);
    Deno.exit(0);
  }
  try {
    const results = await runNotebooks(options);
    const failed = results.filter((r) => r.problems.length);
    console.log(
      `notebooks: ${
        results.length - failed.length
      } passed, ${failed.length} failed`,
    );
    Deno.exit(failed.length ? 1 : 0);
  } catch (e) {
    if (e instanceof NotebookUsageError) {
      console.error(`notebooks: ${e.message}`);
      Deno.exit(2);
    }
    console.error(`notebooks: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
