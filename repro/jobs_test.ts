/**
 * `--jobs N` (repro/jobs.ts): the cost partition on exact small cases, the
 * flags passed on to the children, and end to end on the smoke preset:
 * `--jobs 2` writes what one process writes, a failing job stops the
 * others, and SIGTERM reaches the children. About 40 s on 2 CPU cores.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import {
  forwardedArgs,
  jobsToRun,
  partitionByCost,
  provenanceJobs,
} from "./jobs.ts";
import { PRESETS, sgdRun } from "./presets.ts";
import { runId } from "../lib/train/run_id.ts";
import { deterministicPart, readMetrics } from "../lib/train/metrics_log.ts";

import {
  reproCommand as repro,
  runRepro as run,
} from "../tests/helpers/repro_cli.ts";

Deno.test("partitionByCost: longest processing time first, exact small cases", () => {
  const cost: Record<string, number> = { a: 5, b: 4, c: 3, d: 3, e: 2, f: 1 };
  // By hand, by cost and for the tie c = d in given order (d first):
  // a->0 (5), b->1 (4), d->1 (7), c->0 (8), e->1 (9), f->0 (9); each group
  // in given order.
  assertEquals(
    partitionByCost(["f", "e", "d", "c", "b", "a"], 2, (x) => cost[x]),
    [["f", "c", "a"], ["e", "d", "b"]],
  );
  // 7->0, 5->1, 4->2, 3->2 (least: 4), 1->1 (least: 5).
  assertEquals(
    partitionByCost([7, 5, 4, 3, 1], 3, (x) => x),
    [[7], [5, 1], [4, 3]],
  );
  // Costless items spread by count instead of piling onto the first group.
  assertEquals(partitionByCost(["x", "y", "z"], 2, () => 0), [
    ["x", "z"],
    ["y"],
  ]);
  // Never an empty group; one group holds everything.
  assertEquals(partitionByCost(["p", "q"], 5, () => 1), [["p"], ["q"]]);
  assertEquals(partitionByCost(["p", "q"], 1, () => 1), [["p", "q"]]);
});

Deno.test("jobsToRun: --jobs, capped by the runs left; one process for a shard or <= 1 run", () => {
  const one = { index: 0, count: 1 };
  assertEquals(jobsToRun({ jobs: 3, backend: "wasm", shard: one }, 10), 3);
  assertEquals(jobsToRun({ jobs: 8, backend: "wasm", shard: one }, 5), 5);
  assertEquals(jobsToRun({ jobs: 8, backend: "wasm", shard: one }, 1), 1);
  assertEquals(jobsToRun({ jobs: 8, backend: "wasm", shard: one }, 0), 1);
  assertEquals(
    jobsToRun({ backend: "cpu", shard: { index: 1, count: 2 } }, 10),
    1,
  );
  // Automatic: every logical core on a CPU backend, one on a GPU one.
  const cores = navigator.hardwareConcurrency ?? 1;
  assertEquals(
    jobsToRun({ backend: "cpu", shard: one }, 1000),
    Math.max(1, cores),
  );
  assertEquals(jobsToRun({ backend: "webgpu", shard: one }, 1000), 1);
  assertEquals(jobsToRun({ backend: "tensorflow", shard: one }, 1000), 1);
  assertEquals(provenanceJobs({ POF_REPRO_JOBS: "0" }), 1);
  assertEquals(provenanceJobs({ POF_REPRO_JOBS: "3" }), 3);
});

Deno.test("forwardedArgs: every flag but --jobs and --threads, no targets", () => {
  assertEquals(
    forwardedArgs([
      "table1",
      "--preset=smoke",
      "--out",
      "r/x",
      "fig4",
      "--jobs",
      "2",
      "--threads=4",
      "--quiet",
      "--datasets",
      "a,b",
      "--",
      "--not-a-flag",
    ]),
    ["--preset=smoke", "--out", "r/x", "--quiet", "--datasets", "a,b"],
  );
});

/** Processes (other than this one) whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      if (cmd.includes(text)) pids.push(Number(e.name));
    } catch { /* exited */ }
  }
  return pids;
}

const TARGETS = ["table1", "fig4"];

Deno.test("--jobs 2 on smoke writes what one process writes, each run trained once", async () => {
  const two = await Deno.makeTempDir({ prefix: "jobs-two-" });
  const one = await Deno.makeTempDir({ prefix: "jobs-one-" });
  try {
    const smoke = ["--preset", "smoke", "--backend", "wasm"];
    const a = await run([...TARGETS, ...smoke, "--out", two, "--jobs", "2"]);
    assertEquals(a.code, 0, a.stderr.slice(-3000));
    // One process, one thread: what each of the two jobs had (2 cores / 2
    // at most; on more cores --threads 2 / --jobs 2 still gives 1).
    const b = await run([
      ...TARGETS,
      ...smoke,
      "--out",
      one,
      "--jobs",
      "1",
      "--threads",
      "1",
      "--quiet",
    ]);
    assertEquals(b.code, 0, b.stderr.slice(-3000));

    assertStringIncludes(a.stderr, "jobs: training 4 run(s) in 2 processes");
    assertStringIncludes(a.stdout, "Summary (preset smoke, 2 jobs x ");
    const summary = a.stdout.slice(a.stdout.lastIndexOf("\nSummary ("));
    for (const t of TARGETS) {
      assertStringIncludes(summary, `\n  ${t.padEnd(9)} ${two}/${t}.json`);
      const x = JSON.parse(await Deno.readTextFile(`${two}/${t}.json`));
      const y = JSON.parse(await Deno.readTextFile(`${one}/${t}.json`));
      assertEquals(x.data, y.data, t);
      assertEquals([x.provenance.jobs, y.provenance.jobs], [2, 1]);
      assertEquals(y.provenance.backend.threads, 1);
    }
    // Both jobs trained (the shard split), every run exactly once, and
    // every epoch equals the one-process run's.
    for (const j of [0, 1]) {
      assert(
        new RegExp(`^\\[job ${j}\\] \\S+-[0-9a-f]{12}: epoch `, "m").test(
          a.stderr,
        ),
        `job ${j} trained nothing:\n${a.stderr}`,
      );
    }
    const runs = [...Deno.readDirSync(`${one}/runs`)].map((e) => e.name);
    assertEquals(runs.length, 4);
    for (const id of runs) {
      const x = await readMetrics(`${two}/runs/${id}/metrics.jsonl`);
      const y = await readMetrics(`${one}/runs/${id}/metrics.jsonl`);
      assertEquals(x.map(deterministicPart), y.map(deterministicPart), id);
      const last = x[x.length - 1].epoch;
      const finals = a.stderr.split("\n").filter((l) =>
        l.includes(`] ${id}: epoch ${last}/${last} `)
      );
      assertEquals(finals.length, 1, `${id}:\n${finals.join("\n")}`);
    }
  } finally {
    await Deno.remove(two, { recursive: true });
    await Deno.remove(one, { recursive: true });
  }
});

Deno.test("--jobs 2: a failing job stops the other; the parent names it and exits 1", async () => {
  const out = await Deno.makeTempDir({ prefix: "jobs-fail-" });
  try {
    // A folder where the SGD run writes its config.json: that run fails.
    const p = PRESETS.smoke;
    const sgd = runId(sgdRun(p, p.datasets[0], 0));
    await Deno.mkdir(`${out}/runs/${sgd}/config.json`, { recursive: true });
    const r = await run([
      "table1",
      "--preset",
      "smoke",
      "--out",
      out,
      "--jobs",
      "2",
    ]);
    assertEquals(r.code, 1, r.stderr.slice(-3000));
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
    assertEquals(errors.length, 1, r.stderr);
    // With --steal either job may be the one that reaches the run first.
    assertMatch(
      errors[0],
      /^error: job ([01]) \(--shard \1\/2\) exited with code 1; stopped the other jobs/,
    );
    assertEquals(processesMentioning(out), []);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("--jobs 2: SIGTERM to the parent reaches the children", async () => {
  const out = await Deno.makeTempDir({ prefix: "jobs-term-" });
  try {
    const child = repro([
      "table1",
      "--preset",
      "smoke",
      "--out",
      out,
      "--jobs",
      "2",
    ], "null").spawn();
    const lines: string[] = [];
    const reader = child.stderr.pipeThrough(new TextDecoderStream())
      .getReader();
    // Once a job has printed, both children are running.
    while (!lines.join("").includes("[job ")) {
      const { value, done } = await reader.read();
      if (done) break;
      lines.push(value);
    }
    child.kill("SIGTERM");
    for (let c = await reader.read(); !c.done; c = await reader.read()) {
      lines.push(c.value);
    }
    const status = await child.status;
    assertEquals(status.code, 128 + 15, lines.join(""));
    assertStringIncludes(lines.join(""), "jobs: stopped by SIGTERM");
    assertEquals(processesMentioning(out), []);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
