/**
 * Table 1 from a store of finished runs with known per-seed test errors (no
 * training): the paired comparisons, their t-intervals and verdicts are
 * checked against values computed by hand, and a results folder whose runs
 * for one cell differ in more than the seed is refused.
 */
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
} from "@std/assert";
import { Rng } from "../../lib/rng.ts";
import { runId } from "../../lib/train/run_id.ts";
import { PRESETS } from "../presets.ts";
import type {
  EpochRecord,
  Preset,
  Provenance,
  RunConfig,
  RunStore,
  TargetContext,
} from "../target.ts";
import { type Table1Json, target } from "./table1.ts";

// Smoke's epoch axis (10 epochs), on Fashion-MNIST's first 2,000 test images.
const PRESET: Preset = {
  ...PRESETS.smoke,
  datasets: [{ name: "fashion-mnist", lr: 0.1, rho: 0.05, testLimit: 2000 }],
};
const ERRORS: Record<string, number[]> = {
  sgd: [10, 11, 12],
  sam: [9, 10.5, 11.2],
  pof: [9.2, 10.4, 11.5],
  "sgd-classifier": [9.2, 10.4, 11.4],
};

function store(
  tamper: (c: RunConfig) => RunConfig = (c) => c,
  done = (_c: RunConfig) => true,
): RunStore {
  const s: RunStore = {
    id: runId,
    done: (c) => Promise.resolve(done(c)),
    result: (c) =>
      Promise.resolve({ id: runId(c), config: tamper(c), epochs: [] }),
    history: (c) =>
      Promise.resolve(
        Array.from({ length: c.epochs }, (_, i) =>
          ({
            epoch: i + 1,
            testError: ERRORS[c.method.name][c.seed],
          }) as EpochRecord),
      ),
    checkpoint: () => Promise.reject(new Error("not used")),
  };
  return s;
}

async function produce(runs: RunStore): Promise<Table1Json & { md: string }> {
  const outDir = await Deno.makeTempDir({ prefix: "table1-" });
  try {
    await target.produce(
      {
        preset: PRESET,
        seeds: [0, 1, 2],
        outDir,
        runs,
        provenance: { target: "table1" } as unknown as Provenance,
        rng: (s) => new Rng(s),
        log: () => {},
      } satisfies TargetContext,
    );
    const json = JSON.parse(await Deno.readTextFile(`${outDir}/table1.json`));
    return {
      ...json.data,
      md: await Deno.readTextFile(`${outDir}/table1.md`),
    };
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
}

// t(0.975, 2), published value.
const T2 = 4.302652730;

Deno.test("table1: paired comparisons and verdicts by hand", async () => {
  const t = await produce(store());
  assertEquals(t.testSize, { "fashion-mnist": 2000 });
  const sgd = t.rows.find((r) => r.method === "sgd" && r.paperEpoch === 250)!;
  assertEquals(sgd.errors, [10, 11, 12]);
  assertAlmostEquals(sgd.std, 1, 1e-12);
  assertEquals(
    t.comparisons.map((c) => `${c.a}${c.epochA}-${c.b}${c.epochB}`),
    ["sam250-sgd250", "pof210-sam200", "pof250-sam250", "finetune220-pof210"],
  );
  // SAM - SGD: diffs -1, -0.5, -0.8; mean -2.3 / 3; squared deviations sum
  // 0.38 / 3, std sqrt(0.19 / 3); paper -0.51 (4.12 - 4.63): claim below 0.
  const [samSgd, pof210, pof250, ft] = t.comparisons;
  assertEquals(samSgd.diffs.map((d) => Math.round(d * 10) / 10), [
    -1,
    -0.5,
    -0.8,
  ]);
  assertAlmostEquals(samSgd.mean, -2.3 / 3, 1e-12);
  assertAlmostEquals(samSgd.std, Math.sqrt(0.19 / 3), 1e-12);
  const half = T2 * Math.sqrt(0.19 / 3) / Math.sqrt(3);
  assertAlmostEquals(samSgd.ci95![0], -2.3 / 3 - half, 1e-8);
  assertAlmostEquals(samSgd.ci95![1], -2.3 / 3 + half, 1e-8);
  assertEquals(samSgd.side, -1);
  assertEquals(samSgd.paperDiff, -0.51);
  assertEquals(samSgd.verdict, "reproduced"); // hi = -0.142 < 0
  // PoF 210 - SAM 200: diffs 0.2, -0.1, 0.3; paper +0.11 on Fashion-MNIST
  // (PoF above SAM); the interval contains 0.
  assertEquals(pof210.side, 1);
  assertAlmostEquals(pof210.paperDiff!, 0.11, 1e-9);
  assertAlmostEquals(pof210.mean, 0.4 / 3, 1e-12);
  assertEquals(pof210.verdict, "undecided");
  assertEquals(pof210.readEpochA, PRESET.pofEarlyEpoch);
  assertEquals(pof210.readEpochB, PRESET.switchEpoch);
  assertEquals(pof250.paperDiff, 0.23);
  // Fine-tuned (from PoF 210, 10 epochs scaled) - PoF 210: diffs 0, 0, -0.1.
  assertEquals(ft.readEpochA, PRESET.pofEarlyEpoch + PRESET.finetuneEpochs);
  assertEquals(ft.readEpochB, PRESET.pofEarlyEpoch);
  assertAlmostEquals(ft.mean, -0.1 / 3, 1e-12);
  assertEquals(ft.verdict, "undecided");
  assert(t.md.includes("reproduced"), t.md);
  assert(
    t.md.includes("| 10.00 ± 1.00 |") || t.md.includes("11.00 ± 1.00"),
    t.md,
  );
});

Deno.test("table1: without the fine-tuning runs, three comparisons and a note", async () => {
  const t = await produce(
    store(undefined, (c) => c.method.name !== "sgd-classifier"),
  );
  assertEquals(t.comparisons.length, 3);
  assert(t.md.includes("run the finetune target too"), t.md);
});

Deno.test("table1: a cell mixing runs of different settings is refused", async () => {
  const tamper = (c: RunConfig) =>
    c.method.name === "sgd" && c.seed === 2 ? { ...c, batchSize: 64 } : c;
  await assertRejects(
    () => produce(store(tamper)),
    Error,
    `batchSize ${PRESET.batchSize} vs 64`,
  );
  const e = await produce(store(tamper)).catch((e) => e as Error);
  assert(
    (e as Error).message.startsWith("table1 Fashion-MNIST SGD 200: refusing"),
    (e as Error).message,
  );
  assert(!(e as Error).message.includes("\n"));
});
