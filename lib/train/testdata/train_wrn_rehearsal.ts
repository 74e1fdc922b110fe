/**
 * A full-size rehearsal run (WRN-28-10, the paper's SGD settings, a
 * Fashion-MNIST-shaped synthetic stand-in of 60,000 images, batch 2, one
 * step per epoch-segment, a checkpoint of about 280 MiB after each of its 3
 * epochs), and a command line that trains it in its own process:
 * `deno run -A lib/train/testdata/train_wrn_rehearsal.ts <runsDir>`. Used by
 * the kill -9 test of lib/train/rehearsal_kill_test.ts.
 *
 * @module
 */
import { useBackend } from "../../backend.ts";
import { trainRun } from "../runner.ts";
import { buildRun } from "../build.ts";
import type { RunConfig } from "../run_config.ts";

/**
 * The run (see the module doc).
 *
 * @example
 * ```ts
 * import { wrnRehearsalRun } from "./train_wrn_rehearsal.ts";
 * const c = wrnRehearsalRun();
 * if (c.model.kind !== "wrn" || c.model.widen !== 10 || !c.rehearsal?.standIn) throw new Error();
 * ```
 */
export function wrnRehearsalRun(): RunConfig {
  return {
    dataset: "fashion-mnist",
    model: { kind: "wrn", depth: 28, widen: 10 },
    method: { name: "sgd" },
    seed: 0,
    epochs: 3,
    batchSize: 2,
    schedule: { baseLr: 0.1, milestones: [1, 2], factor: 0.2 },
    momentum: 0.9,
    weightDecay: 5e-4,
    keepEpochs: [1, 2],
    rehearsal: { steps: 1, evalImages: 2, standIn: true },
  };
}

if (import.meta.main) {
  const [runsDir] = Deno.args;
  await useBackend("wasm");
  const done = await trainRun(wrnRehearsalRun(), { runsDir, build: buildRun });
  console.log(JSON.stringify(done.final));
}
