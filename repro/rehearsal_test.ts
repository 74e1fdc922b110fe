/**
 * The rehearsal of the `paper` preset end to end, as CI runs it: WRN-28-10
 * at full size on Fashion-MNIST's shape (60,000 training images, real when
 * on disk, a synthetic stand-in otherwise) with batch 2 (`--rehearse-batch`)
 * and one step per epoch-segment, through the paper's epochs 200 / 210 / 250
 * and every WRN target (figs. 1-2 train toy MLPs only; CI runs them with the
 * smoke preset). A few minutes on 2 CPU cores with the wasm backend.
 */
import {
  assert,
  assertEquals,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { parseCli, UsageError } from "./cli.ts";
import { PRESETS } from "./presets.ts";
import { rehearsalPreset } from "./rehearsal.ts";
import { dryRunReport, loadTarget } from "./main.ts";
import type { EpochRecord } from "./target.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("--rehearse flags: default folder, --rehearse-batch needs --rehearse, --datasets checked", () => {
  const o = parseCli(["fig4", "--preset", "paper", "--rehearse", "2"]);
  assert(o !== "help");
  assertEquals(o.out, "results/paper-rehearsal");
  assertEquals(o.rehearse, { steps: 2, batchSize: undefined });
  assertThrows(
    () => parseCli(["fig4", "--rehearse-batch", "4"]),
    UsageError,
    "--rehearse-batch 4 needs --rehearse N",
  );
  assertThrows(
    () => parseCli(["fig4", "--preset", "paper", "--datasets", "mnist"]),
    UsageError,
    '"mnist" is not a dataset of preset paper',
  );
  assertThrows(
    () => parseCli(["fig4", "--rehearse", "0"]),
    UsageError,
    'got "0"',
  );
  assertThrows(
    () => rehearsalPreset(PRESETS.paper, { steps: 1, standIns: ["mnist"] }),
    RangeError,
    '"mnist" is not a dataset of preset paper',
  );
});

Deno.test("--dry-run of a rehearsal counts the rehearsal's steps and analysis images, not the real epochs", async () => {
  const o = parseCli([
    "fig5",
    "--preset",
    "paper",
    "--rehearse",
    "3",
    "--rehearse-batch",
    "2",
    "--out",
    await Deno.makeTempDir(),
  ]);
  assert(o !== "help");
  const preset = rehearsalPreset(
    { ...o.preset, datasets: [PRESETS.paper.datasets.at(-1)!] },
    { steps: 3, batchSize: 2, standIns: [] },
  );
  const report = await dryRunReport([await loadTarget("fig5")], {
    ...o,
    preset,
    seeds: 1,
  });
  // SAM-200: segments 0-60, 60-120, 120-160, 160-200, 3 steps each of batch 2.
  assertStringIncludes(
    report,
    "epochs 0->200  left: 12 rehearsal step(s) x 2 images",
  );
  // PoF 200 -> 250: segments 200-210 (kept epoch), 210-220 (the
  // fine-tuning's end, a rehearsal cut) and 220-250.
  assert(
    /pof-from200\S+ {2}epochs 200->250 {2}left: 9 rehearsal step\(s\) x 2 images/
      .test(report),
    report,
  );
  // Fig. 5 analyses 2 weak batches (4 images) of each split.
  assertStringIncludes(report, "full-split Hessians (8 images)");
});

const TARGETS = ["fig4", "fig5", "fig6", "table1", "table2", "finetune"];

Deno.test("rehearsal of the paper preset at full model and data size, batch 2: every mechanism runs", async () => {
  const out = await Deno.makeTempDir({ prefix: "rehearsal-paper-" });
  const res = await new Deno.Command(Deno.execPath(), {
    args: [
      "task",
      "repro",
      ...TARGETS,
      "--preset",
      "paper",
      "--datasets",
      "fashion-mnist",
      "--seeds",
      "1",
      "--rehearse",
      "1",
      "--rehearse-batch",
      "2",
      "--backend",
      "wasm",
      // One process: two full-size WRN-28-10 processes would double the
      // memory this test needs (--jobs has its own test, jobs_test.ts).
      "--jobs",
      "1",
      "--out",
      out,
      "--quiet",
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(res.stdout);
  assert(
    res.success,
    `rehearsal failed:\n${
      (stdout + new TextDecoder().decode(res.stderr)).slice(-4000)
    }`,
  );
  assertStringIncludes(stdout, "Rehearsal resources per run (backend wasm");

  // Every result says it is a rehearsal, in its provenance and its config.
  for (const t of TARGETS) {
    const json = JSON.parse(await Deno.readTextFile(`${out}/${t}.json`));
    assertEquals(json.provenance.preset, "paper");
    assertStringIncludes(json.provenance.rehearsal.note, "REHEARSAL");
    assertEquals(json.provenance.rehearsal.steps, 1);
    assertEquals(json.provenance.rehearsal.realBatchSize, 256);
    assertEquals(json.config.batchSize, 2);
    assertEquals(json.config.model, { kind: "wrn", depth: 28, widen: 10 });
    assert(
      [...Deno.readDirSync(out)].some((e) =>
        e.name.startsWith(t) && e.name.endsWith(".svg")
      ),
      `${t}: no SVG`,
    );
  }

  // The SGD run: the paper's 250 epochs all logged, one step at the start
  // of each learning-rate segment at that segment's rate, evaluated at the
  // segment ends (the paper's milestones and Table 1's epochs 200 / 250).
  const runs = `${out}/runs`;
  const sgdDir =
    [...Deno.readDirSync(runs)].find((e) =>
      e.name.startsWith("fashion-mnist-sgd-e250-")
    )!.name;
  const records: EpochRecord[] = (await Deno.readTextFile(
    `${runs}/${sgdDir}/metrics.jsonl`,
  )).trim().split("\n").map((l) => JSON.parse(l));
  assertEquals(
    records.map((r) => r.epoch),
    Array.from({ length: 250 }, (_, i) => i + 1),
  );
  const stepped = records.filter((r) => r.steps > 0);
  // (220: where fine-tuning from PoF-210 ends and is compared with PoF.)
  assertEquals(stepped.map((r) => r.epoch), [1, 61, 121, 161, 201, 221]);
  const lrs = stepped.map((r) => r.lr);
  [0.1, 0.02, 0.004, 0.0008, 0.00016, 0.00016].forEach((lr, i) =>
    assert(Math.abs(lrs[i] - lr) < 1e-12 * lr, `${lrs[i]} vs ${lr}`)
  );
  assertEquals(
    records.filter((r) => typeof r.testError === "number").map((r) => r.epoch),
    [60, 120, 160, 200, 220, 250],
  );

  // Full size on disk and in memory: WRN-28-10 (36,479,194 parameters on
  // 32x32x3; one input channel removes 3 x 3 x 2 x 16 first-layer weights)
  // with its SGD momentum, 4 bytes each; 60,000 + 10,000 images of 28 x 28
  // bytes with int32 labels.
  const done = JSON.parse(
    await Deno.readTextFile(`${runs}/${sgdDir}/done.json`),
  );
  const params = 36_479_194 - 3 * 3 * 2 * 16;
  const ck = done.resources.checkpointBytes;
  assert(ck >= 8 * params && ck < 8 * params + 2 ** 20, `checkpoint ${ck}`);
  assertEquals(done.resources.dataBytes, 70_000 * (784 + 4));
  assert(done.resources.peakTensorBytes > 4 * params, "peak tensor bytes");
  assert(done.resources.peakRssBytes > ck, "peak RSS");

  // The shared SAM-200 checkpoint was continued by SAM-250 and PoF, whose
  // curves reach the paper's epochs 210 and 250.
  const fig4 = JSON.parse(await Deno.readTextFile(`${out}/fig4.json`)).data;
  const pof = fig4.curves.find((c: { method: string }) => c.method === "pof");
  assertEquals(
    pof.points.map((p: { epoch: number }) => p.epoch),
    [200, 210, 220, 250],
  );
  const table1 = await Deno.readTextFile(`${out}/table1.md`);
  assertStringIncludes(table1, "210");
});
