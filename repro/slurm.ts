/**
 * `deno task repro:slurm --shards n [--out DIR] [--seeds N] [--backend NAME]
 * [--partition P] [--time HH:MM:SS] [--script FILE]`: writes a Slurm array
 * job script for the `paper` preset. Array task i runs
 * `deno task repro:all --preset paper --shard i/n`, so the n tasks split the
 * run list with no overlap (runs shared between shards, such as SAM-200,
 * are claimed with lock files in the shared results folder). Each task
 * writes the targets whose runs are all done; run
 * `deno task repro:all --preset paper` once more after the array (or submit
 * the script's final `--dependency=afterok` step) to write every target.
 *
 * @module
 */
import { parseArgs } from "@std/cli";
import { BACKEND_NAMES } from "../lib/backend.ts";
import { writeFileAtomic } from "../lib/atomic_write.ts";

/** Options of {@link slurmScript}. */
export interface SlurmOptions {
  shards: number;
  out: string;
  seeds?: number;
  backend: string;
  partition?: string;
  time: string;
  /** Absolute path of the repository on the cluster. */
  repo: string;
}

/**
 * The Slurm array job script.
 *
 * @example
 * ```ts
 * import { slurmScript } from "./slurm.ts";
 * const s = slurmScript({ shards: 4, out: "results/paper", backend: "tensorflow", time: "72:00:00", repo: "/src/pof" });
 * if (!s.includes("#SBATCH --array=0-3") || !s.includes("--shard ${SLURM_ARRAY_TASK_ID}/4")) throw new Error(s);
 * ```
 */
export function slurmScript(o: SlurmOptions): string {
  if (!Number.isInteger(o.shards) || o.shards < 1) {
    throw new RangeError(
      `--shards must be a positive integer, got ${o.shards}`,
    );
  }
  const seeds = o.seeds ? ` --seeds ${o.seeds}` : "";
  const common =
    `--preset paper --out ${o.out} --backend ${o.backend}${seeds} --quiet`;
  return [
    "#!/bin/bash",
    "# PoF reproduction, paper preset (Sec. 4.1), one GPU per array task.",
    `# Submit: jid=$(sbatch --parsable ${"$0"}); then, to write every target once all shards are done:`,
    `#   sbatch --dependency=afterok:$jid --wrap "cd ${o.repo} && deno task repro:all ${common}"`,
    "#SBATCH --job-name=pof-repro",
    `#SBATCH --array=0-${o.shards - 1}`,
    "#SBATCH --gres=gpu:1",
    "#SBATCH --cpus-per-task=8",
    "#SBATCH --mem=64G",
    `#SBATCH --time=${o.time}`,
    ...(o.partition ? [`#SBATCH --partition=${o.partition}`] : []),
    "#SBATCH --output=pof-repro-%A_%a.log",
    "set -euo pipefail",
    `cd ${o.repo}`,
    `deno task repro:all ${common} --shard \${SLURM_ARRAY_TASK_ID}/${o.shards}`,
    "",
  ].join("\n");
}

/**
 * Runs the command line; returns the exit code.
 *
 * @example
 * ```ts
 * import { main } from "./slurm.ts";
 * const script = (await Deno.makeTempDir()) + "/job.slurm";
 * if ((await main(["--shards", "2", "--script", script])) !== 0) throw new Error();
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const flags = [
    "shards",
    "out",
    "seeds",
    "backend",
    "partition",
    "time",
    "script",
    "repo",
  ];
  let bad: string | undefined;
  const a = parseArgs(args, {
    string: flags,
    boolean: ["help"],
    unknown: (arg: string) => {
      bad ??= arg;
      return false;
    },
  });
  if (a.help) {
    console.log(
      "Usage: deno task repro:slurm --shards N [--out DIR] [--seeds N] [--backend NAME] " +
        "[--partition P] [--time HH:MM:SS] [--repo PATH] [--script FILE]",
    );
    return 0;
  }
  const fail = (msg: string) => {
    console.error(`error: ${msg}`);
    return 2;
  };
  if (bad) {
    return fail(
      `unknown argument ${bad}; valid: ${
        flags.map((f) => `--${f}`).join(", ")
      }`,
    );
  }
  if (
    a.shards === undefined || !/^\d+$/.test(a.shards) || Number(a.shards) < 1
  ) {
    return fail(`--shards must be a positive integer, got "${a.shards ?? ""}"`);
  }
  if (
    a.seeds !== undefined && (!/^\d+$/.test(a.seeds) || Number(a.seeds) < 1)
  ) {
    return fail(`--seeds must be a positive integer, got "${a.seeds}"`);
  }
  const backend = a.backend ?? "tensorflow";
  if (!(BACKEND_NAMES as readonly string[]).includes(backend)) {
    return fail(
      `unknown backend "${backend}"; valid: ${BACKEND_NAMES.join(", ")}`,
    );
  }
  const script = a.script ?? "repro-paper.slurm";
  const text = slurmScript({
    shards: Number(a.shards),
    out: a.out ?? "results/paper",
    seeds: a.seeds ? Number(a.seeds) : undefined,
    backend,
    partition: a.partition,
    time: a.time ?? "72:00:00",
    repo: a.repo ?? Deno.cwd(),
  });
  await writeFileAtomic(script, text);
  console.log(`wrote ${script}: submit with  sbatch ${script}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
