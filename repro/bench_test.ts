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
] as const;

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
      const v = r[k];
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
      assertAlmostEquals(shown, r[k], Math.abs(r[k]) >= 100 ? 0.51 : 0.00051);
      assert(/\b(yes|NO)\s*$/.test(row), row);
    }
    assert(stdout.includes(`wrote ${out}`), stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
