/**
 * Test helper: trains one small toy-MLP run into a results folder through
 * the runner (checkpoint every epoch), so that tests can kill it with
 * SIGKILL at random moments and start it again.
 *
 * Usage: deno run -A --import-map=tools/offline_import_map.json
 *   lib/train/testdata/train_toy.ts <runsDir> <epochs> [seed] [--threads N]
 *
 * Without `--threads` it trains on the `cpu` backend; with it, on the fast
 * CPU path (`wasm`) with N threads. Prints the final metrics and the
 * backend's thread count as one JSON line.
 *
 * @module
 */
import { parseThreads, useBackend } from "../../backend.ts";
import { trainRun } from "../runner.ts";
import { buildRun } from "../build.ts";
import type { RunConfig } from "../run_config.ts";

/**
 * The toy run the kill / resume test uses.
 *
 * @example
 * ```ts
 * import { toyRun } from "./train_toy.ts";
 * if (toyRun(3).epochs !== 3) throw new Error();
 * ```
 */
export function toyRun(epochs: number, seed = 0): RunConfig {
  return {
    dataset: "toy",
    model: { kind: "mlp", hidden: [32, 32, 32, 32] },
    method: { name: "sgd" },
    seed,
    epochs,
    batchSize: 32,
    schedule: { baseLr: 0.05, milestones: [2], factor: 0.2 },
    momentum: 0.9,
    weightDecay: 5e-4,
    keepEpochs: [],
    testLimit: 512,
  };
}

if (import.meta.main) {
  const args = [...Deno.args];
  const at = args.indexOf("--threads");
  const threads = at < 0 ? undefined : args.splice(at, 2)[1] ?? "";
  const [runsDir, epochs, seed] = args;
  const info = threads === undefined
    ? await useBackend("cpu")
    : await useBackend("wasm", { threads: parseThreads(threads) });
  const done = await trainRun(toyRun(Number(epochs), Number(seed ?? 0)), {
    runsDir,
    build: buildRun,
    checkpointEvery: 1,
  });
  console.log(JSON.stringify({ final: done.final, threads: info.threads }));
}
