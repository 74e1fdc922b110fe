import {
  assert,
  assertEquals,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { dryRunReport, loadTarget } from "./main.ts";
import { HELP, parseCli, UsageError } from "./cli.ts";
import { PRESET_NAMES, TARGET_NAMES } from "./target.ts";
import { PRESETS } from "./presets.ts";
import { BACKEND_NAMES } from "../lib/backend.ts";
import { datasetInfo } from "../lib/data/dataset_registry.ts";
import { fabricateDataset } from "../lib/data/fixture_files.ts";

import { runRepro as cli } from "../tests/helpers/repro_cli.ts";

Deno.test("every flag error is a UsageError naming the value and the valid choices", () => {
  const cases: [string[], string[]][] = [
    [[], ["no target given", ...TARGET_NAMES]],
    [["fig3"], ['"fig3"', ...TARGET_NAMES, "all"]],
    [["fig1", "--preset", "huge"], ['"huge"', ...PRESET_NAMES]],
    [["fig1", "--preset"], ["--preset needs a value"]],
    [["fig1", "--backend", "tpu"], ['"tpu"', ...BACKEND_NAMES]],
    [["fig1", "--seeds", "0"], ["--seeds", '"0"']],
    [["fig1", "--seeds", "two"], ["--seeds", '"two"']],
    [["fig1", "--seeds", "1.5"], ["--seeds", '"1.5"']],
    [["fig1", "--shard", "2/2"], ["--shard", '"2/2"']],
    [["fig1", "--shard", "x"], ["--shard", '"x"']],
    [["fig1", "--checkpoint-every", "-1"], ["--checkpoint-every"]],
    [["fig1", "--frobnicate"], ["--frobnicate", "--preset", "--dry-run"]],
    [["fig1", "--out", ""], ["--out needs a value"]],
    [["fig1", "--preset", "smoke", "--preset", "paper"], [
      '--preset given more than once (2 times: "smoke", "paper")',
    ]],
    [["fig1", "--seeds=2", "--out", "a", "--seeds", "3"], [
      '--seeds given more than once (2 times: "2", "3")',
    ]],
    [["fig1", "--data-dir", "a", "--data-dir=b", "--data-dir", "c"], [
      "--data-dir given more than once (3 times",
    ]],
    [["fig1", "--data-dir="], ["--data-dir needs a value"]],
    [["fig1", "--threads", "0"], ["--threads", '"0"']],
    [["fig1", "--threads", "abc"], ["--threads", '"abc"']],
    [["fig1", "--threads", "1.5"], ["--threads", '"1.5"']],
    [["fig1", "--jobs", "0"], ["--jobs", '"0"']],
    [["fig1", "--jobs", "abc"], ["--jobs", '"abc"']],
    [["fig1", "--jobs", "1.5"], ["--jobs", '"1.5"']],
    [["fig1", "--jobs", "2", "--shard", "0/2"], [
      "--jobs 2 cannot be combined with --shard 0/2",
    ]],
    [["fig1", "--shard=1/2", "--jobs=1"], [
      "--jobs 1 cannot be combined with --shard 1/2",
    ]],
  ];
  for (const [args, parts] of cases) {
    const e = assertThrows(
      () => parseCli(args),
      UsageError,
      undefined,
      args.join(" "),
    );
    const msg = (e as Error).message;
    assert(!msg.includes("\n"), `one line: ${msg}`);
    for (const p of parts) {
      assertStringIncludes(msg, p, `for ${args.join(" ")}`);
    }
  }
});

Deno.test("defaults, all, and a full valid command line", () => {
  const d = parseCli(["fig4"]);
  assert(d !== "help");
  assertEquals(d.preset.name, "quick");
  assertEquals(d.seeds, PRESETS.quick.seeds);
  assertEquals(d.out, "results/quick");
  assertEquals(d.backend, "auto");
  assertEquals(d.shard, { index: 0, count: 1 });
  assertEquals(d.dryRun, false);
  assertEquals(d.dataDir, undefined);
  assertEquals([d.jobs, d.trainOnly], [undefined, false]);
  const j = parseCli(["table1", "--jobs", "3", "--train-only"]);
  assert(j !== "help");
  assertEquals([j.jobs, j.trainOnly, j.shard.count], [3, true, 1]);
  // A value after "--" is a positional argument, not a second flag.
  assertThrows(
    () => parseCli(["fig1", "--preset", "smoke", "--", "--preset"]),
    UsageError,
    'unknown target "--preset"',
  );
  const all = parseCli(["all", "table1"]);
  assert(all !== "help");
  assertEquals(all.targets, [...TARGET_NAMES]);
  const o = parseCli([
    "table1",
    "fig5",
    "--preset=paper",
    "--seeds",
    "5",
    "--out",
    "x/y",
    "--backend",
    "cpu",
    "--shard",
    "2/3",
    "--dry-run",
    "--checkpoint-every",
    "10",
    "--data-dir=/d/cache",
  ]);
  assert(o !== "help");
  assertEquals(o.targets, ["table1", "fig5"]);
  assertEquals([
    o.preset.name,
    o.seeds,
    o.out,
    o.backend,
    o.dryRun,
    o.checkpointEvery,
    o.dataDir,
  ], [
    "paper",
    5,
    "x/y",
    "cpu",
    true,
    10,
    "/d/cache",
  ]);
  assertEquals(o.shard, { index: 2, count: 3 });
  assertEquals(parseCli(["--help"]), "help");
  assertEquals(parseCli(["fig1", "-h"]), "help");
  for (const t of TARGET_NAMES) assertStringIncludes(HELP, t);
  for (const p of PRESET_NAMES) assertStringIncludes(HELP, p);
});

Deno.test("the CLI exits 2 with one error line on a bad flag, 0 with --help", async () => {
  const bad = await cli(["fig9", "--preset", "smoke"]);
  assertEquals(bad.code, 2);
  assertEquals(bad.stderr.trim().split("\n").length, 1, bad.stderr);
  assertStringIncludes(
    bad.stderr,
    'error: unknown target "fig9"; valid: fig1, fig2',
  );
  const badPreset = await cli(["fig1", "--preset", "tiny"]);
  assertEquals(badPreset.code, 2);
  assertStringIncludes(badPreset.stderr, "valid: smoke, quick, paper");
  for (const v of ["0", "abc", "1.5"]) {
    const badThreads = await cli(["fig1", "--threads", v]);
    assertEquals(badThreads.code, 2);
    assertEquals(badThreads.stderr.trim().split("\n").length, 1);
    assertStringIncludes(badThreads.stderr, `--threads`);
    assertStringIncludes(badThreads.stderr, `"${v}"`);
  }
  const badJobs = await cli(["fig1", "--jobs", "1.5"]);
  assertEquals(badJobs.code, 2);
  assertEquals(
    badJobs.stderr,
    'error: --jobs must be a positive integer, got "1.5"\n',
  );
  // More threads than cores: allowed, with a one-line note.
  const out = await Deno.makeTempDir({ prefix: "main_test_threads_" });
  const many = await cli([
    "fig1",
    "--preset",
    "smoke",
    "--threads",
    "1000",
    "--jobs",
    "1000",
    "--dry-run",
    "--out",
    out,
  ]);
  await Deno.remove(out, { recursive: true });
  assertEquals(many.code, 0, many.stderr);
  const notes = many.stderr.split("\n").filter((l) => l.startsWith("note:"));
  assertEquals(notes.length, 2, many.stderr);
  assertStringIncludes(notes[0], "--threads 1000 is more than the");
  assertStringIncludes(notes[1], "--jobs 1000 is more than the");
  // fig1 trains no runner runs: one process whatever --jobs says.
  assertStringIncludes(many.stdout, "; jobs 1; results in");
  const help = await cli(["--help"]);
  assertEquals(help.code, 0);
  assertStringIncludes(help.stdout, "--dry-run");
  assertStringIncludes(help.stdout, "--threads N");
  assertStringIncludes(help.stdout, "--jobs N");
  assertStringIncludes(help.stdout, "--train-only");
});

Deno.test("--out / --data-dir that cannot be created or written: exit 2, one line with the path and the OS error", async () => {
  const file = await Deno.makeTempFile({ prefix: "pof-not-a-dir-" });
  const cases: [string, string[]][] = [
    ["--out", ["fig4", "--preset", "smoke", "--out", `${file}/out`]],
    ["--data-dir", [
      "fig4",
      "--preset",
      "smoke",
      "--out",
      await Deno.makeTempDir(),
      "--data-dir",
      `${file}/data`,
    ]],
  ];
  if (Deno.uid() !== 0) {
    // A folder without write permission (root would write it anyway).
    const ro = await Deno.makeTempDir();
    await Deno.chmod(ro, 0o555);
    cases.push(["--out", ["fig4", "--preset", "smoke", "--out", ro]]);
  }
  for (const [flag, args] of cases) {
    const r = await cli(args);
    const path = args[args.indexOf(flag) + 1];
    assertEquals(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assertEquals(lines.length, 1, r.stderr);
    assert(
      lines[0].startsWith(`error: ${flag} ${path}: cannot create or write`),
      lines[0],
    );
    assert(/\(os error \d+\)/.test(lines[0]), lines[0]);
    assert(!r.stderr.includes("    at "), r.stderr);
  }
  await Deno.remove(file);
});

Deno.test("--dry-run lists the paper's Table 1 runs once each with the work estimate", async () => {
  const out = await Deno.makeTempDir();
  const options = parseCli([
    "table1",
    "fig4",
    "--preset",
    "paper",
    "--seeds",
    "2",
    "--out",
    out,
    "--dry-run",
  ]);
  assert(options !== "help");
  const targets = await Promise.all(options.targets.map(loadTarget));
  const report = await dryRunReport(targets, options);
  // 4 datasets x 2 seeds x (SGD, SAM-200, SAM-200 -> 250, SAM-200 -> PoF); fig4's runs are among them.
  assertStringIncludes(report, "32 run(s)");
  const lines = report.split("\n").filter((l) =>
    l.trimStart().startsWith("todo")
  );
  assertEquals(lines.length, 32);
  const pof = lines.find((l) => l.includes("cifar10-pof-from200-e250-s1-"))!;
  // 50 epochs x 49,920 images (195 batches of 256) x WRN-28-10's forward multiply-adds.
  assertStringIncludes(pof, "epochs 200->250");
  assertStringIncludes(pof, "left: 50 x 49920 images");
  const sam200 = lines.filter((l) => l.includes("cifar10-sam-e200-s0-"));
  assertEquals(sam200.length, 1);
  assertStringIncludes(report, "Work left for this shard");
  // With two shards, each run is "this shard" in exactly one of the reports.
  const halves = await Promise.all([0, 1].map(async (i) => {
    const o = parseCli([
      "table1",
      "--preset",
      "paper",
      "--seeds",
      "2",
      "--out",
      out,
      "--shard",
      `${i}/2`,
    ]);
    assert(o !== "help");
    return (await dryRunReport([targets[0]], o)).split("\n").filter((l) =>
      /^\s+todo\s+this shard/.test(l)
    );
  }));
  assertEquals(halves[0].length + halves[1].length, 32);
});

Deno.test("--dry-run of quick with --data-dir adds a dataset found verified in that cache", async () => {
  const cache = await Deno.makeTempDir();
  const out = await Deno.makeTempDir();
  try {
    // A real-format CIFAR-10 file in the cache, recorded as verified the way
    // lib/data records it (path, size, mtime, pinned MD5).
    const dir = `${cache}/cifar10`;
    await fabricateDataset("cifar10", { n: 5, seed: 0, dir });
    const file = datasetInfo("cifar10").files[0];
    const path = await Deno.realPath(`${dir}/${file.name}`);
    const st = await Deno.stat(path);
    await Deno.writeTextFile(
      `${dir}/.verified.json`,
      JSON.stringify({
        [path]: {
          size: st.size,
          mtime: st.mtime!.getTime(),
          verified: `md5 ${file.md5}`,
        },
      }),
    );
    const r = await cli([
      "table1",
      "--preset",
      "quick",
      "--data-dir",
      cache,
      "--out",
      out,
      "--dry-run",
    ]);
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stdout, "Cached and included: CIFAR-10 (");
    // Fashion-MNIST's 4 runs per seed, then CIFAR-10's 4 at the same
    // reduced sizes, for quick's 3 seeds.
    assertStringIncludes(r.stdout, "24 run(s)");
    assertStringIncludes(r.stdout, "fashion-mnist-sgd-e60-s0-711b98d7feed");
    assertStringIncludes(r.stdout, "cifar10-sgd-e60-s2-");
    const empty = await cli([
      "table1",
      "--preset",
      "quick",
      "--data-dir",
      `${cache}/none`,
      "--out",
      out,
      "--dry-run",
    ]);
    assertEquals(empty.code, 0, empty.stderr);
    assertStringIncludes(empty.stdout, "Fashion-MNIST only");
    assertStringIncludes(empty.stdout, "12 run(s)");
  } finally {
    await Deno.remove(cache, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("runStore: results carry the configuration the run folder records; a cell refuses a folder of other settings", async () => {
  const { runStore } = await import("./main.ts");
  const { cellErrors } = await import("./target.ts");
  const { sgdRun } = await import("./presets.ts");
  const { runDir } = await import("../lib/train/runner.ts");
  const p = PRESETS.smoke, ds = p.datasets[0];
  const runsDir = await Deno.makeTempDir({ prefix: "store-" });
  const runs = [sgdRun(p, ds, 0), sgdRun(p, ds, 1)];
  // Seed 1's folder holds a run trained with another batch size (copied in).
  const trained = [runs[0], { ...runs[1], batchSize: 8 }];
  for (const [i, c] of runs.entries()) {
    const dir = runDir(runsDir, c);
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/done.json`,
      JSON.stringify({ id: "x", config: trained[i] }),
    );
    await Deno.writeTextFile(
      `${dir}/metrics.jsonl`,
      JSON.stringify({ epoch: p.epochs, testError: 30 + i }) + "\n",
    );
  }
  const store = runStore(runsDir);
  assertEquals((await store.result(runs[1])).config.batchSize, 8);
  assertEquals((await store.progress!(runs[1])).length, 1);
  let err = "";
  await cellErrors(store, "table1 SGD 250", runs, p.epochs).catch((e) =>
    err = (e as Error).message
  );
  assertStringIncludes(err, "table1 SGD 250: refusing");
  assertStringIncludes(err, `batchSize ${p.batchSize} vs 8`);
  // With matching settings the same folder aggregates.
  await Deno.writeTextFile(
    `${runDir(runsDir, runs[1])}/done.json`,
    JSON.stringify({ id: "x", config: runs[1] }),
  );
  assertEquals(await cellErrors(store, "x", runs, p.epochs), [30, 31]);
  await Deno.remove(runsDir, { recursive: true });
});
