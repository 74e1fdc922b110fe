/**
 * The pilot's summary from a store of finished runs with known test
 * errors and timings (no training): per-setting means, the paired
 * SAM - SGD interval, the combined-standard-error criterion and the costs
 * are checked against values computed by hand.
 */
import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { runId } from "../../lib/train/run_id.ts";
import { Rng } from "../../lib/rng.ts";
import type {
  EpochRecord,
  Provenance,
  RunConfig,
  RunStore,
  TargetContext,
} from "../target.ts";
import { PILOT_GRID, type PilotJson, settingName, target } from "./pilot.ts";
import { PRESETS } from "../presets.ts";
import { parseCli, UsageError } from "../cli.ts";

// Setting 0: SGD 12, 12.5, 13 and SAM 11, 11.5, 12.3 at the last epoch.
const SGD = [12, 12.5, 13], SAM = [11, 11.5, 12.3];

function records(c: RunConfig, last: number): EpochRecord[] {
  const first = c.from ? c.from.epoch : 0;
  return Array.from({ length: c.epochs - first }, (_, i) => ({
    epoch: first + i + 1,
    method: c.method.name,
    trainLoss: 0,
    trainError: 0,
    testLoss: 0,
    testError: first + i + 1 === c.epochs ? last : 50,
    lr: 0,
    steps: 1,
    seconds: 1,
    wallSeconds: 2,
    cpuSeconds: 1.5,
    load1: 3,
  }));
}

function fakeStore(runs: RunConfig[]): RunStore {
  const byId = new Map(runs.map((c) => [runId(c), c]));
  const errorOf = (c: RunConfig) =>
    c.method.name === "sgd" ? SGD[c.seed] : SAM[c.seed];
  const store: RunStore = {
    id: runId,
    done: (c) => Promise.resolve(byId.has(runId(c))),
    result: (c) =>
      Promise.resolve({
        id: runId(c),
        config: c,
        epochs: records(c, errorOf(c)),
      }),
    async history(c) {
      const own = (await store.result(c)).epochs;
      return c.from ? [...(await store.history(c.from.run)), ...own] : own;
    },
    checkpoint: () => Promise.reject(new Error("not used")),
    progress: (c) =>
      Promise.resolve(byId.has(runId(c)) ? records(c, errorOf(c)) : []),
  };
  return store;
}

Deno.test("pilot summary: means, paired interval, criterion and costs by hand", async () => {
  const name = settingName(PILOT_GRID[0]);
  const runs = target.runs(PRESETS.quick, [0, 1, 2], { grid: [name] });
  // Every SAM continuation's base run is done too.
  const all = [...runs, ...runs.flatMap((c) => c.from ? [c.from.run] : [])];
  // Seed 2's SAM run is missing in the second store.
  const partial = all.filter((c) => !(c.seed === 2 && c.method.name === "sam"));
  const outDir = await Deno.makeTempDir({ prefix: "pilot-" });
  const ctx = (store: RunStore): TargetContext => ({
    preset: PRESETS.quick,
    seeds: [0, 1, 2],
    outDir,
    runs: store,
    provenance: { target: "pilot" } as unknown as Provenance,
    rng: (s) => new Rng(s),
    log: () => {},
  });

  await target.produce(ctx(fakeStore(partial)));
  let data: PilotJson = JSON.parse(
    await Deno.readTextFile(`${outDir}/summary.json`),
  ).data;
  let r = data.settings.find((s) => s.name === name)!;
  assertEquals(r.seedsDone, [0, 1]);
  assertEquals(data.testSize, 10000);
  assertEquals(r.samBeatsSgd, false); // n = 2 < 3
  assertEquals(r.comparison!.diffs, [-1, -1]);
  // Other settings: nothing done.
  assert(
    data.settings.filter((s) => s.name !== name).every((s) =>
      s.seedsDone.length === 0 && s.comparison === null
    ),
  );

  await target.produce(ctx(fakeStore(all)));
  data = JSON.parse(await Deno.readTextFile(`${outDir}/summary.json`)).data;
  r = data.settings.find((s) => s.name === name)!;
  assertEquals(r.seedsDone, [0, 1, 2]);
  assertEquals(r.sgd.errors, SGD);
  assertEquals(r.sam.errors, SAM);
  assertAlmostEquals(r.sgd.mean!, 12.5, 1e-12);
  assertAlmostEquals(r.sgd.std!, 0.5, 1e-12);
  // SAM: mean 34.8 / 3 = 11.6; deviations -0.6, -0.1, 0.7: std sqrt(0.86 / 2).
  assertAlmostEquals(r.sam.mean!, 11.6, 1e-12);
  assertAlmostEquals(r.sam.std!, Math.sqrt(0.43), 1e-12);
  // Combined SE sqrt((0.25 + 0.43) / 3) = 0.476; 12.5 - 11.6 = 0.9 > it.
  assertAlmostEquals(r.combinedSe!, Math.sqrt(0.68 / 3), 1e-12);
  assertEquals(r.samBeatsSgd, true);
  // Diffs -1, -1, -0.7: mean -0.9, std sqrt((0.01 + 0.01 + 0.04) / 2).
  const c = r.comparison!;
  assertAlmostEquals(c.mean, -0.9, 1e-12);
  assertAlmostEquals(c.std, Math.sqrt(0.03), 1e-12);
  const half = 4.302652730 * Math.sqrt(0.03) / Math.sqrt(3);
  assertAlmostEquals(c.ci95![0], -0.9 - half, 1e-8);
  assertAlmostEquals(c.ci95![1], -0.9 + half, 1e-8);
  assertEquals(c.verdict, "reproduced"); // half = 0.430 < 0.9
  // Cost: 2 s (1.5 CPU s) per epoch; SGD 60 epochs, SAM 48 + 12.
  assertEquals(r.cost[0], {
    seed: 0,
    sgdSeconds: 120,
    samSeconds: 120,
    sgdCpuSeconds: 90,
    samCpuSeconds: 90,
    meanLoad: 3,
  });
  // Runs: SGD, SAM base (48 epochs), SAM continued (12) per seed.
  assertEquals(r.runs.length, 9);
  assertEquals(
    r.runs.slice(0, 3).map((x) => [x.method, x.epochsDone, x.done]),
    [["sgd", 60, true], ["sam", 48, true], ["sam", 12, true]],
  );
  assertEquals(r.runs[0].secondsPerEpoch, 2);
  assertEquals(r.runs[0].cpuSecondsPerEpoch, 1.5);
  assertEquals(r.runs[0].meanLoad, 3);
  assertEquals(r.runs[0].testError, 12);
  const md = await Deno.readTextFile(`${outDir}/summary.md`);
  assert(md.includes(`| ${name} |`), md);
  assert(md.includes("-0.90 [-1.33, -0.47] reproduced"), md);
  // Wall 120 + 120 s = 4.0 min per seed, CPU 90 + 90 s = 3.0 min.
  assert(md.includes("| 2.0 + 2.0 = 4.0 | 3.0 | 3.0 |"), md);
  assert(md.includes("| sam seed 2 (48 -> 60) | 12 of 12 (done) |"), md);
  await Deno.remove(outDir, { recursive: true });
});

Deno.test("pilot on the command line: runs alone, --grid checked, 3 seeds and results/pilot by default", () => {
  const o = parseCli(["pilot", "--grid", settingName(PILOT_GRID[1])]);
  if (o === "help") throw new Error();
  assertEquals(o.seeds, 3);
  assertEquals(o.out, "results/pilot");
  assertEquals(o.grid, [settingName(PILOT_GRID[1])]);
  const bad = (args: string[], text: string) => {
    try {
      parseCli(args);
    } catch (e) {
      assert(e instanceof UsageError, String(e));
      assert((e as Error).message.includes(text), (e as Error).message);
      return;
    }
    throw new Error(`accepted ${args}`);
  };
  bad(["pilot", "--grid", "n5"], 'unknown pilot setting "n5"');
  bad(["pilot", "table1"], "pilot runs alone");
  bad(["table1", "--grid", "x"], "pilot target only");
  // `all` does not include the pilot.
  const a = parseCli(["all"]);
  if (a === "help") throw new Error();
  assert(!a.targets.includes("pilot"));
});
