import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { main, slurmScript } from "./slurm.ts";
import { parseCli } from "./cli.ts";

Deno.test("the Slurm script is an n-task array, each task one shard of the paper preset", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/job.slurm`;
  assertEquals(
    await main([
      "--shards",
      "8",
      "--script",
      path,
      "--repo",
      "/src/pof",
      "--seeds",
      "3",
    ]),
    0,
  );
  const s = await Deno.readTextFile(path);
  assert(s.startsWith("#!/bin/bash\n"));
  assertStringIncludes(s, "#SBATCH --array=0-7\n");
  assertStringIncludes(s, "#SBATCH --gres=gpu:1\n");
  assertStringIncludes(s, "cd /src/pof\n");
  const cmd = s.split("\n").find((l) => l.startsWith("deno task repro:all"))!;
  assertEquals(
    cmd,
    "deno task repro:all --preset paper --out results/paper --backend tensorflow --seeds 3 --quiet --shard ${SLURM_ARRAY_TASK_ID}/8",
  );
  // Every array index gives a command line the CLI accepts, covering shards 0..7 once.
  const shards = Array.from({ length: 8 }, (_, i) => {
    const args = cmd.replace("${SLURM_ARRAY_TASK_ID}", String(i)).split(" ")
      .slice(3);
    const o = parseCli(["all", ...args]);
    assert(o !== "help");
    assertEquals(o.preset.name, "paper");
    return `${o.shard.index}/${o.shard.count}`;
  });
  assertEquals(new Set(shards).size, 8);
});

Deno.test("repro:slurm flag errors exit 2", async () => {
  for (
    const args of [[], ["--shards", "0"], ["--shards", "x"], [
      "--shards",
      "2",
      "--backend",
      "tpu",
    ], [
      "--shards",
      "2",
      "--bogus",
    ], ["--shards", "2", "--seeds", "0"]]
  ) {
    assertEquals(await main(args), 2, args.join(" "));
  }
  let threw = false;
  try {
    slurmScript({
      shards: 0,
      out: "o",
      backend: "cpu",
      time: "1:00:00",
      repo: "/r",
    });
  } catch (e) {
    threw = (e as Error).message.includes("got 0");
  }
  assert(threw);
});
