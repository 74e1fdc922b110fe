/**
 * `deno task bench --short` end to end, as a subprocess: the JSON has every
 * figure issue 8 lists, each figure is consistent with the raw measurements
 * it is derived from, no optimizer leaks tensors, and the printed table shows
 * each target beside its measurement. No timing thresholds (speed targets are
 * benchmark figures, never unit tests).
 */
import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { BENCH_TARGETS, type BenchResult } from "./bench.ts";
import { median } from "../lib/stats.ts";

const FIGURES = [
  "sam_over_sgd",
  "pof_over_sgd",
  "speedup",
  "train_over_forward",
  "augment_images_per_s",
  "leaked_tensors",
  "scaling",
] as const;

/**
 * Forward multiply-adds per image of WRN-10-1 on 32x32x3, by hand: conv
 * 3->16 (1024 px x 27 x 16), block 16->16 (2 x 1024 x 144 x 16), block
 * 16->32 stride 2 (256 x 144 x 32 + 256 x 288 x 32 + 1x1 shortcut
 * 256 x 16 x 32), block 32->64 stride 2 (64 x 288 x 64 + 64 x 576 x 64 +
 * 64 x 32 x 64), classifier 64 x 10.
 */
const MACS_WRN_10_1_32 = 442_368 + 2 * 2_359_296 +
  (1_179_648 + 2_359_296 + 131_072) + (1_179_648 + 2_359_296 + 131_072) + 640;

Deno.test("bench --short writes every figure and prints it beside its target", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bench_test_" });
  const out = `${dir}/sub/bench.json`;
  try {
    const root = new URL("..", import.meta.url).pathname;
    const o = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `--import-map=${root}tools/offline_import_map.json`,
        `${root}repro/bench.ts`,
        "--short",
        "--no-webgpu",
        "--threads",
        "2",
        "--out",
        out,
      ],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(o.stdout);
    const stderr = new TextDecoder().decode(o.stderr);
    assert(o.success, `bench failed (code ${o.code}):\n${stderr.slice(-3000)}`);

    const r = JSON.parse(await Deno.readTextFile(out)) as BenchResult;
    assertEquals(r.mode, "short");
    assertEquals(r.backend.backend, "wasm");

    // Every figure is present, finite and positive (leaks: exactly zero).
    for (const k of FIGURES) {
      const v = r[k] as number;
      assert(Number.isFinite(v), `${k} = ${v}`);
      const t = r.targets[k];
      assert(t, `targets.${k} missing`);
      assertEquals(t.value, v, `targets.${k}.value`);
      assertEquals(
        t.target,
        `${BENCH_TARGETS[k].op} ${BENCH_TARGETS[k].value}`,
      );
      const met = BENCH_TARGETS[k].op === "<="
        ? v <= BENCH_TARGETS[k].value
        : v >= BENCH_TARGETS[k].value;
      assertEquals(t.met, met, `targets.${k}.met`);
      if (k !== "leaked_tensors") assert(v > 0, `${k} = ${v}`);
    }

    // Leaked tensors: a correctness property, exactly 0 for each optimizer.
    assertEquals(Object.keys(r.leaks).sort(), ["pof", "sam", "sgd"]);
    for (const [name, l] of Object.entries(r.leaks)) {
      assertEquals(l.steps, 50, `${name} leak steps`);
      assert(l.before > 0, `${name}: ${l.before} tensors before`);
      assertEquals(l.after, l.before, `${name} leaked tensors`);
    }
    assertEquals(r.leaked_tensors, 0);

    // The ratios are the ratios of the recorded medians.
    const m = r.methods;
    const basis = m.ratioClock === "cpu" ? m.medianCpuMs! : m.medianMs;
    assertAlmostEquals(r.sam_over_sgd, basis.sam / basis.sgd, 1e-9);
    assertAlmostEquals(r.pof_over_sgd, basis.pof / basis.sgd, 1e-9);
    for (const n of ["sgd", "sam", "pof"]) {
      assert(m.stepsMs[n].length >= 1, `${n} steps`);
      // stepsMs are rounded to whole ms.
      assertAlmostEquals(m.medianMs[n], median(m.stepsMs[n]), 0.51);
    }
    assertAlmostEquals(
      r.speedup,
      r.small.cpuStepMs / r.small.fastStepMs,
      1e-9,
    );
    assert(r.trainModelForwardMs.wall > 0);

    // Threads: recorded beside backend and device; scaling is the ratio of
    // the recorded medians of the 1-thread and N-thread children.
    assertEquals(r.threads, r.backend.threads);
    assertEquals(r.threads, 2);
    const sc = r.scalingDetail!;
    assertEquals(sc.threads, 2);
    assertEquals(sc.oneThreadMs.length, 1);
    assertAlmostEquals(
      r.scaling!,
      median(sc.oneThreadMs) / median(sc.allThreadsMs),
      0.02 * r.scaling!,
    );
    // gmacs_per_s: 3 forward passes' multiply-adds of the step model per SGD step.
    const wrn10 = 3 * MACS_WRN_10_1_32 * r.methods.batch;
    assertAlmostEquals(
      r.gmacs_per_s,
      wrn10 / (r.methods.medianMs.sgd / 1000) / 1e9,
      1e-6 * r.gmacs_per_s,
    );
    assertAlmostEquals(
      r.quick_images_per_s,
      r.quick.batch / (r.quick.stepMs / 1000),
      1e-6 * r.quick_images_per_s,
    );
    assert(r.parallel !== null && r.parallel.gain > 0);
    assertEquals(r.webgpu, null);

    // Printed table: one row per figure with its value and target.
    const lines = stdout.split("\n");
    assert(lines.some((l) => /figure\s+value\s+target\s+met/.test(l)), stdout);
    for (const k of FIGURES) {
      const row = lines.find((l) => l.startsWith(k));
      assert(row, `no row for ${k} in:\n${stdout}`);
      const t = BENCH_TARGETS[k];
      assert(row.includes(`target ${t.op} ${t.value}`), row);
      const shown = Number(row.slice(k.length).trim().split(/\s+/)[0]);
      // Printed with 3 decimals, or none from 100 up.
      const v = r[k] as number;
      assertAlmostEquals(shown, v, Math.abs(v) >= 100 ? 0.51 : 0.00051);
      assert(/\b(yes|NO)\s*$/.test(row), row);
    }
    assert(stdout.includes(`wrote ${out}`), stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
