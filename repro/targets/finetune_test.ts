/**
 * The fine-tuning target from a store of finished runs with known test
 * errors (no training): the paired after - before test is checked against
 * values computed by hand.
 */
import {
  assertAlmostEquals,
  assertEquals,
  assertStringIncludes,
} from "@std/assert";
import { Rng } from "../../lib/rng.ts";
import { runId } from "../../lib/train/run_id.ts";
import { PRESETS } from "../presets.ts";
import type { EpochRecord, Provenance, RunStore } from "../target.ts";
import { type FinetuneJson, target } from "./finetune.ts";

Deno.test("finetune: after - before per seed, t-interval and verdict by hand", async () => {
  const p = PRESETS.smoke;
  // PoF ends at 20, 21, 22.5; fine-tuning at 19, 20.2, 21.3.
  const err: Record<string, number[]> = {
    pof: [20, 21, 22.5],
    "sgd-classifier": [19, 20.2, 21.3],
  };
  const store: RunStore = {
    id: runId,
    done: () => Promise.resolve(true),
    result: (c) => Promise.resolve({ id: runId(c), config: c, epochs: [] }),
    history: (c) =>
      Promise.resolve(
        Array.from({ length: c.epochs }, (_, i) =>
          ({
            epoch: i + 1,
            testError: err[c.method.name]?.[c.seed] ?? 50,
          }) as EpochRecord),
      ),
    checkpoint: () => Promise.reject(new Error("not used")),
  };
  const outDir = await Deno.makeTempDir({ prefix: "finetune-" });
  await target.produce({
    preset: p,
    seeds: [0, 1, 2],
    outDir,
    runs: store,
    provenance: { target: "finetune" } as unknown as Provenance,
    rng: (s) => new Rng(s),
    log: () => {},
  });
  const data: FinetuneJson = JSON.parse(
    await Deno.readTextFile(`${outDir}/finetune.json`),
  ).data;
  // Diffs -1, -0.8, -1.2: mean -1, std 0.2, half-width 4.302652730 * 0.2 / sqrt(3).
  const c = data.comparison;
  [-1, -0.8, -1.2].forEach((d, i) => assertAlmostEquals(c.diffs[i], d, 1e-12));
  assertAlmostEquals(c.mean, -1, 1e-12);
  assertAlmostEquals(c.std, 0.2, 1e-12);
  const half = 4.302652730 * 0.2 / Math.sqrt(3);
  assertAlmostEquals(c.ci95![0], -1 - half, 1e-8);
  assertAlmostEquals(c.ci95![1], -1 + half, 1e-8);
  // The interval lies below 0: fine-tuning lowered the error, against the claim.
  assertEquals(c.verdict, "contradicted");
  // As in the paper: from PoF at the early epoch, finetuneEpochs on.
  assertEquals([c.epochA, c.epochB], [
    p.pofEarlyEpoch + p.finetuneEpochs,
    p.pofEarlyEpoch,
  ]);
  assertStringIncludes(
    await Deno.readTextFile(`${outDir}/finetune.md`),
    "-1.00 [-1.50, -0.50] contradicted",
  );
  await Deno.remove(outDir, { recursive: true });
});
