import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  parseShard,
  readLock,
  releaseLock,
  shardIds,
  tryLock,
} from "../lib/train/shard.ts";
import { planRuns, runPlan } from "../lib/train/runner.ts";
import { runId, withDependencies } from "../lib/train/run_id.ts";
import type { RunConfig } from "../lib/train/run_config.ts";
import {
  pofRun,
  PRESETS,
  samBaseRun,
  samContinuedRun,
  sgdRun,
} from "./presets.ts";

Deno.test("--shard parsing accepts i/n with 0 <= i < n and names the bad value", () => {
  assertEquals(parseShard("0/1"), { index: 0, count: 1 });
  assertEquals(parseShard("3/4"), { index: 3, count: 4 });
  for (const bad of ["4/4", "1/0", "a/2", "1", "-1/2", "1/2/3", ""]) {
    const e = assertThrows(() => parseShard(bad), RangeError);
    assert((e as Error).message.includes(`"${bad}"`), (e as Error).message);
  }
});

// Table 1's runs for two datasets and two seeds: SGD, SAM-200 (shared),
// SAM-200 -> SAM-250 and SAM-200 -> PoF.
function table1Runs(): RunConfig[] {
  const p = PRESETS.paper;
  const out: RunConfig[] = [];
  for (const ds of p.datasets.slice(0, 2)) {
    for (const s of [0, 1]) {
      out.push(sgdRun(p, ds, s), samContinuedRun(p, ds, s), pofRun(p, ds, s));
    }
  }
  return out;
}

/**
 * A stand-in for training: checks the run's parent is done (a continuation
 * never starts before it), reports the run to `onTrain`, waits the
 * milliseconds it returns, then marks the run done.
 */
function fakeTrainer(dir: string, onTrain: (id: string) => number) {
  return async (config: RunConfig) => {
    const id = runId(config);
    if (config.from) {
      await Deno.stat(`${dir}/${runId(config.from.run)}/done.json`);
    }
    await new Promise((r) => setTimeout(r, onTrain(id)));
    await Deno.writeTextFile(`${dir}/${id}/done.json`, "{}");
  };
}

Deno.test("n shards partition the run list: every run owned exactly once", async () => {
  const all = withDependencies(table1Runs()).map(runId);
  assertEquals(all.length, 16);
  for (const n of [1, 2, 3, 5]) {
    const owned = Array.from(
      { length: n },
      (_, i) => shardIds(all, { index: i, count: n }),
    );
    assertEquals(owned.flat().sort(), [...all].sort());
    assertEquals(new Set(owned.flat()).size, all.length);
  }
  // planRuns marks the same ownership and lists dependencies (owned or not).
  const dir = await Deno.makeTempDir();
  const plans = await Promise.all(
    [0, 1].map((i) => planRuns(table1Runs(), dir, { index: i, count: 2 })),
  );
  for (const plan of plans) assertEquals(plan.length, 16);
  const ownedIds = plans.flatMap((plan) =>
    plan.filter((r) => r.owned).map((r) => r.id)
  );
  assertEquals(ownedIds.sort(), [...all].sort());
});

Deno.test("two shards running at once train every run exactly once, the shared SAM-200 included", async () => {
  const dir = await Deno.makeTempDir();
  const trainedBy = new Map<string, string[]>();
  const fakeTrain = (who: string) =>
    fakeTrainer(dir, (id) => {
      trainedBy.set(id, [...(trainedBy.get(id) ?? []), who]);
      return 5 + (id.length % 7);
    });
  const shards = [0, 1].map((i) =>
    runPlan(table1Runs(), {
      runsDir: dir,
      build: () => Promise.reject(new Error("not used")),
      shard: { index: i, count: 2 },
      lockToken: `shard-${i}`,
      pollSeconds: 0.01,
      train: fakeTrain(`shard-${i}`),
    })
  );
  const [a, b] = await Promise.all(shards);
  const all = withDependencies(table1Runs()).map(runId);
  assertEquals([...a, ...b].sort(), [...all].sort());
  for (const id of all) assertEquals(trainedBy.get(id)?.length, 1, id);
  // Each SAM-200 run is a parent of runs in both shards' lists and was still trained once.
  const p = PRESETS.paper;
  const shared = runId(samBaseRun(p, p.datasets[0], 0));
  assertEquals(trainedBy.get(shared)!.length, 1);
  // Locks are released.
  for (const id of all) assertEquals(await readLock(`${dir}/${id}`), null);
});

Deno.test("a lock is exclusive between claimants and a dead holder's lock is taken over", async () => {
  const dir = await Deno.makeTempDir();
  assert(await tryLock(dir, "a"));
  assert(await tryLock(dir, "a"), "re-entrant for the same token");
  assert(!(await tryLock(dir, "b")));
  await releaseLock(dir, "b"); // not the holder: no effect
  assert(!(await tryLock(dir, "b")));
  await releaseLock(dir, "a");
  assert(await tryLock(dir, "b"));
  await releaseLock(dir, "b");
  // A lock whose process is gone (pid that cannot exist) on this host is stale.
  const held = JSON.parse(JSON.stringify({
    pid: 2 ** 30,
    hostname: Deno.hostname(),
    token: "dead",
    since: new Date().toISOString(),
  }));
  await Deno.writeTextFile(`${dir}/lock`, JSON.stringify(held));
  assert(await tryLock(dir, "c"));
  assertEquals((await readLock(dir))!.token, "c");
});

Deno.test("--steal: a shard alone trains every run; two stealing shards share the work, each run once, none idle", async () => {
  const all = withDependencies(table1Runs()).map(runId);
  const fake = (dir: string, log: string[], ms: (id: string) => number) =>
    fakeTrainer(dir, (id) => {
      log.push(id);
      return ms(id);
    });
  const plan = (dir: string, i: number, steal: boolean, log: string[]) =>
    runPlan(table1Runs(), {
      runsDir: dir,
      build: () => Promise.reject(new Error("not used")),
      shard: { index: i, count: 2 },
      lockToken: `shard-${i}`,
      pollSeconds: 0.01,
      steal,
      train: fake(dir, log, () => 1),
    });
  // Alone, without --steal a shard trains its own runs and their parents
  // only; with it, every run.
  const own: string[] = [], every: string[] = [];
  await plan(await Deno.makeTempDir(), 0, false, own);
  assert(own.length < all.length, `${own.length} of ${all.length}`);
  await plan(await Deno.makeTempDir(), 0, true, every);
  assertEquals([...every].sort(), [...all].sort());
  // Two stealing shards, shard 1's first run made slow: shard 0 does not
  // wait for it but takes the rest, and every run is trained exactly once.
  const dir = await Deno.makeTempDir();
  const slow = shardIds(all, { index: 1, count: 2 })
    .find((id) => !id.includes("-from"))!;
  const logs: string[][] = [[], []];
  const t0 = performance.now();
  await Promise.all([0, 1].map((i) =>
    runPlan(table1Runs(), {
      runsDir: dir,
      build: () => Promise.reject(new Error("not used")),
      shard: { index: i, count: 2 },
      lockToken: `shard-${i}`,
      pollSeconds: 0.01,
      steal: true,
      train: fake(dir, logs[i], (id) => id === slow ? 300 : 1),
    })
  ));
  assert(performance.now() - t0 < 2000);
  assertEquals([...logs[0], ...logs[1]].sort(), [...all].sort());
  assert(logs[1].includes(slow));
  // While shard 1 held the slow run, shard 0 trained everything else that
  // did not depend on it.
  const dependsOnSlow = withDependencies(table1Runs())
    .filter((c) => c.from && runId(c.from.run) === slow).map(runId);
  const after = logs[1].slice(logs[1].indexOf(slow) + 1);
  assert(after.every((id) => dependsOnSlow.includes(id)), after.join());
  assert(
    logs[0].length > logs[1].length,
    `${logs[0].length} vs ${logs[1].length}`,
  );
});
