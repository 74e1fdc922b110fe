/**
 * Subprocess of runner_test's heap-exhaustion test: a toy run on `wasm` whose
 * method allocates past the 4 GiB heap in its first step. Prints the error's
 * name and message as one JSON line.
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { useBackend } from "../../backend.ts";
import { buildRun } from "../build.ts";
import { trainRun } from "../runner.ts";
import { toyRun } from "./train_toy.ts";

await useBackend("wasm", { threads: 1 });
const held: tf.Tensor[] = [];
try {
  await trainRun(toyRun(2), {
    runsDir: Deno.args[0],
    build: async (config, options) => {
      const parts = await buildRun(config, options);
      return {
        ...parts,
        method: {
          ...parts.method,
          step: () => {
            // 256 MiB at a time until the heap refuses.
            for (;;) held.push(tf.zeros([64 * 1024 * 1024]));
          },
        },
      };
    },
  });
  console.log(JSON.stringify({ name: "none", message: "the run finished" }));
} catch (e) {
  const error = e as Error;
  console.log(JSON.stringify({ name: error.name, message: error.message }));
}
