/**
 * The command line of `deno task repro`: {@link parseCli} turns the
 * arguments into {@link CliOptions} (or "help"), every bad flag is a
 * {@link UsageError} naming it and its value, and {@link HELP} is the text
 * `--help` prints.
 *
 * @module
 */
import { parseArgs } from "@std/cli";
import {
  BACKEND_NAMES,
  type BackendName,
  parseThreads,
} from "../lib/backend.ts";
import { parseShard, type Shard } from "../lib/train/shard.ts";
import {
  EXTRA_TARGET_NAMES,
  type Preset,
  PRESET_NAMES,
  TARGET_NAMES,
  type TargetName,
} from "./target.ts";
import { getPreset } from "./presets.ts";
import { pilotSettings } from "./targets/pilot.ts";

export interface CliOptions {
  targets: TargetName[];
  preset: Preset;
  seeds: number;
  out: string;
  backend: BackendName;
  /** `--threads`: threads of the fast CPU path (undefined: every logical core). */
  threads?: number;
  shard: Shard;
  /**
   * `--jobs N`: processes to run the experiment as (repro/jobs.ts);
   * undefined: automatic (every logical core on a CPU backend, else 1).
   */
  jobs?: number;
  /** `--train-only`: train the runs (of this shard), write no target files. */
  trainOnly: boolean;
  /**
   * `--steal`: with `--shard`, once this shard's runs are done or waiting on
   * another process, also train other shards' unclaimed runs.
   */
  steal: boolean;
  dryRun: boolean;
  quiet: boolean;
  checkpointEvery: number;
  /** `--data-dir`: the dataset cache folder (undefined: env POF_DATA_DIR, else ./data). */
  dataDir?: string;
  /** `--datasets a,b`: only these of the preset's datasets (undefined: all). */
  datasets?: string[];
  /** `--rehearse N [--rehearse-batch B]`: rehearse the preset (repro/rehearsal.ts). */
  rehearse?: { steps: number; batchSize?: number };
  /** `--grid`: the pilot settings to train (undefined: its whole grid). */
  grid?: string[];
}

/**
 * A command-line mistake: printed as one line, exit code 2.
 *
 * @example
 * ```ts
 * import { parseCli, UsageError } from "./cli.ts";
 * try { parseCli(["fig3"]); throw new Error("accepted"); } catch (e) { if (!(e instanceof UsageError)) throw e; }
 * ```
 */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * The `--help` text.
 *
 * @example
 * ```ts
 * import { HELP } from "./cli.ts";
 * if (!HELP.includes("--shard i/n")) throw new Error();
 * ```
 */
export const HELP = `Usage: deno task repro <target>... [options]
       deno task repro:all [options]          (every target)

Targets:
  fig1      Fig. 1(c,d): per-layer loss increase along top Hessian eigenvectors, toy MLP, SGD vs PoF
  fig2      Fig. 2: mini-batch gradient / Hessian eigenvector alignment, xi* train vs test (toy MLP)
  fig4      Fig. 4: test error vs epoch, SAM continued vs SAM -> PoF (full run and zoom)
  fig5      Fig. 5: histograms of u^T H u, SAM-200 vs PoF-210, train and test
  fig6      Fig. 6: perturbation norms of PoF, SAM and an SGD step (log axis)
  table1    Table 1: test error of SGD, SAM, SAM -> PoF at the paper's epochs, mean +- std over seeds
  table2    Table 2: seconds per epoch of SGD, SAM, PoF and ratios to SGD
  finetune  Sec. 4.2: fine-tuning only the classifier for 10 epochs after PoF
  all       every target above
  pilot     Pilot: SGD vs SAM over a grid of reduced Fashion-MNIST settings, >= 3 seeds
            (not in all; runs alone; results in results/pilot: summary.json, summary.md)

Options:
  --preset NAME        ${PRESET_NAMES.join(" | ")} (default quick)
                         smoke: synthetic data, tiny WRN, minutes on 2 CPU cores (CI)
                         quick: real Fashion-MNIST, reduced WRN and epochs, 3 seeds (cost: README);
                                CIFAR-10/100 and SVHN join Table 1 only if already cached (no downloads)
                         paper: Sec. 4.1 exactly (WRN-28-10, 250 epochs, 4 datasets); GPUs
  --seeds N            number of seeds 0..N-1 (default: the preset's)
  --out DIR            results folder (default results/<preset>); runs go to DIR/runs
  --backend NAME       ${BACKEND_NAMES.join(" | ")} (default auto)
  --threads N          threads of the fast CPU path (wasm; default: every logical core, at most 8);
                         with --jobs N, each process gets max(1, floor(threads / N))
  --jobs N             run as N cooperating processes (default: every logical core on the CPU backends
                         wasm and cpu, 1 on tensorflow and webgpu; never more than the runs left to
                         train): first N processes train the runs (--shard i/N --steal --train-only), then up to
                         N processes write the targets' files, a target that times itself (table2)
                         alone afterwards with every thread; --jobs 1: one process
  --shard i/n          train only shard i of n of the run list (0 <= i < n)
  --steal              with --shard: never wait while other shards' runs are unclaimed; train those
                         too (what --jobs does, so no process idles while runs are left)
  --train-only         train the runs (of this shard) and write no target files (e.g. cluster jobs;
                         run again without it to write them)
  --checkpoint-every K checkpoint every K epochs (default: the preset's)
  --data-dir DIR       dataset cache (default: env POF_DATA_DIR, else ./data)
  --datasets a,b       only these of the preset's datasets (the first one feeds the figures)
  --rehearse N         REHEARSAL, not results: the preset's real model, batch, data sizes and epoch
                         numbers, but only N training steps per epoch-segment and a few evaluation
                         images; datasets not on disk become synthetic stand-ins of the same shape and
                         count; prints each run's memory and checkpoint size (default --out
                         results/<preset>-rehearsal)
  --rehearse-batch B   with --rehearse: update batch B instead of the preset's (weak batch min(32, B))
  --grid A,B,...       pilot only: the grid settings to train (default: all; names in
                         repro/targets/pilot.ts, e.g. n1000-wrn10x1-e60-b64-lr0.1-rho0.05)
  --dry-run            list the runs needed, what is done, and the work estimate; train nothing
  --quiet              no progress output
  -h, --help           this text`;

// The pilot's default seed count (issue 12: >= 3 seeds).
const PILOT_SEEDS = 3;

/**
 * The options that take a value (`--out DIR`); the others are switches.
 *
 * @example
 * ```ts
 * import { STRING_FLAGS } from "./cli.ts";
 * if (!STRING_FLAGS.includes("out") || STRING_FLAGS.includes("quiet")) throw new Error();
 * ```
 */
export const STRING_FLAGS: readonly string[] = [
  "preset",
  "seeds",
  "out",
  "backend",
  "threads",
  "jobs",
  "shard",
  "checkpoint-every",
  "data-dir",
  "datasets",
  "rehearse",
  "rehearse-batch",
  "grid",
];
const BOOLEAN_FLAGS = ["dry-run", "help", "quiet", "steal", "train-only"];

function positiveInt(flag: string, value: unknown): number {
  const s = String(value);
  if (!/^\d+$/.test(s) || Number(s) < 1) {
    throw new UsageError(
      `--${flag} must be a positive integer, got "${s}"`,
    );
  }
  return Number(s);
}

/**
 * Parses the command line; returns `"help"` for `--help`. Every mistake is a
 * {@link UsageError} whose one-line message names the valid choices.
 *
 * @example
 * ```ts
 * import { parseCli } from "./cli.ts";
 * const o = parseCli(["table1", "--preset", "smoke", "--shard", "1/2"]);
 * if (o === "help" || o.preset.name !== "smoke" || o.shard.index !== 1) throw new Error();
 * ```
 */
export function parseCli(args: string[]): CliOptions | "help" {
  const unknown: string[] = [];
  const a = parseArgs(args, {
    string: STRING_FLAGS,
    // Collected so that a flag given twice is seen (parseArgs would keep the last).
    collect: STRING_FLAGS,
    boolean: BOOLEAN_FLAGS,
    alias: { h: "help" },
    unknown: (arg: string) => {
      if (arg.startsWith("-")) {
        unknown.push(arg);
        return false;
      }
      return true;
    },
  });
  if (a.help) return "help";
  if (unknown.length) {
    throw new UsageError(
      `unknown option ${unknown[0]}; valid: ${
        [...STRING_FLAGS, ...BOOLEAN_FLAGS].map((f) => `--${f}`).join(", ")
      } (see --help)`,
    );
  }
  const flag: Record<string, string | undefined> = {};
  for (const f of STRING_FLAGS) {
    const given = (a[f] ?? []) as string[];
    if (given.length > 1) {
      throw new UsageError(
        `--${f} given more than once (${given.length} times: ${
          given.map((v) => JSON.stringify(v)).join(", ")
        }); give it once`,
      );
    }
    if (given[0] === "") {
      throw new UsageError(`--${f} needs a value (see --help)`);
    }
    flag[f] = given[0];
  }
  const names = a._.map(String);
  const valid = [...TARGET_NAMES, "all", ...EXTRA_TARGET_NAMES].join(", ");
  if (names.length === 0) {
    throw new UsageError(`no target given; valid: ${valid}`);
  }
  const targets: TargetName[] = [];
  for (const n of names) {
    if (n === "all") targets.push(...TARGET_NAMES);
    else if (
      ([...TARGET_NAMES, ...EXTRA_TARGET_NAMES] as string[]).includes(n)
    ) {
      targets.push(n as TargetName);
    } else {
      throw new UsageError(`unknown target "${n}"; valid: ${valid}`);
    }
  }
  const pilot = targets.includes("pilot");
  if (pilot && new Set(targets).size > 1) {
    throw new UsageError(
      `pilot runs alone (it trains its own grid, not the preset's runs); got targets ${
        [...new Set(targets)].join(", ")
      }`,
    );
  }
  let grid: string[] | undefined;
  if (flag.grid !== undefined) {
    if (!pilot) {
      throw new UsageError(
        `--grid "${flag.grid}" applies to the pilot target only`,
      );
    }
    grid = flag.grid.split(",").map((g) => g.trim()).filter((g) => g);
    try {
      pilotSettings(grid);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const presetName = flag.preset ?? "quick";
  if (!(PRESET_NAMES as readonly string[]).includes(presetName)) {
    throw new UsageError(
      `unknown preset "${presetName}"; valid: ${PRESET_NAMES.join(", ")}`,
    );
  }
  const preset = getPreset(presetName);
  const backend = flag.backend ?? "auto";
  if (!(BACKEND_NAMES as readonly string[]).includes(backend)) {
    throw new UsageError(
      `unknown backend "${backend}"; valid: ${BACKEND_NAMES.join(", ")}`,
    );
  }
  let threads: number | undefined;
  if (flag.threads !== undefined) {
    try {
      threads = parseThreads(flag.threads);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const jobs = flag.jobs === undefined
    ? undefined
    : positiveInt("jobs", flag.jobs);
  if (jobs !== undefined && flag.shard !== undefined) {
    throw new UsageError(
      `--jobs ${flag.jobs} cannot be combined with --shard ${flag.shard}: --jobs runs its own shards; give one of them`,
    );
  }
  let shard: Shard = { index: 0, count: 1 };
  if (flag.shard !== undefined) {
    try {
      shard = parseShard(flag.shard);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  let datasets: string[] | undefined;
  if (flag.datasets !== undefined) {
    datasets = flag.datasets.split(",").map((d) => d.trim());
    const valid = preset.datasets.map((d) => d.name);
    const bad = datasets.find((d) => !valid.includes(d));
    if (bad !== undefined) {
      throw new UsageError(
        `--datasets: "${bad}" is not a dataset of preset ${preset.name}; valid: ${
          valid.join(", ")
        }`,
      );
    }
  }
  if (flag["rehearse-batch"] !== undefined && flag.rehearse === undefined) {
    throw new UsageError(
      `--rehearse-batch ${flag["rehearse-batch"]} needs --rehearse N`,
    );
  }
  const rehearse = flag.rehearse === undefined ? undefined : {
    steps: positiveInt("rehearse", flag.rehearse),
    batchSize: flag["rehearse-batch"] === undefined
      ? undefined
      : positiveInt("rehearse-batch", flag["rehearse-batch"]),
  };
  return {
    targets: [...new Set(targets)],
    preset,
    seeds: flag.seeds === undefined
      ? (pilot ? PILOT_SEEDS : preset.seeds)
      : positiveInt("seeds", flag.seeds),
    out: flag.out ??
      (pilot
        ? "results/pilot"
        : `results/${preset.name}${rehearse ? "-rehearsal" : ""}`),
    backend: backend as BackendName,
    threads,
    shard,
    jobs,
    trainOnly: a["train-only"] === true,
    steal: a.steal === true,
    dryRun: a["dry-run"] === true,
    quiet: a.quiet === true,
    checkpointEvery: flag["checkpoint-every"] === undefined
      ? preset.checkpointEvery
      : positiveInt("checkpoint-every", flag["checkpoint-every"]),
    dataDir: flag["data-dir"],
    datasets,
    rehearse,
    grid,
  };
}

/**
 * Creates `path` (with its parents) and checks that this process can write
 * there, by writing and removing an empty probe file. Throws a
 * {@link UsageError} whose one line names the flag, the path and the OS error.
 *
 * @example
 * ```ts
 * import { ensureWritableDir } from "./cli.ts";
 * const file = await Deno.makeTempFile();
 * try { await ensureWritableDir(`${file}/out`, "--out"); throw new Error("accepted"); }
 * catch (e) { if (!(e as Error).message.startsWith(`--out ${file}/out: cannot`)) throw e; }
 * ```
 */
export async function ensureWritableDir(
  path: string,
  flag: string,
): Promise<void> {
  try {
    await Deno.mkdir(path, { recursive: true });
    const probe = `${path}/.pof-write-probe-${Deno.pid}`;
    await Deno.writeFile(probe, new Uint8Array(0));
    await Deno.remove(probe);
  } catch (e) {
    const err = e as Error;
    throw new UsageError(
      `${flag} ${path}: cannot create or write this folder (${err.name}: ${
        err.message.split("\n")[0]
      })`,
    );
  }
}
