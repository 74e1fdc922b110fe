/**
 * `deno task repro:all --preset smoke` end to end (what CI runs): every
 * target writes its JSON (with provenance), its SVG figures and, for
 * tables, Markdown; a second invocation finds every run done and trains
 * nothing. About a minute on 2 CPU cores with the wasm backend.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { TARGET_NAMES } from "./target.ts";
import { RESULT_FIELDS } from "../notebooks/common.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function task(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  assert(
    out.success,
    `deno task ${args.join(" ")} failed:\n${text.slice(-4000)}`,
  );
  const stderr = new TextDecoder().decode(out.stderr);
  // Quiet console: every stderr line is ours ("<preset|target|run id>: ..."),
  // apart from deno task's echo of the command; a dependency's warning (such
  // as the DEP0040 punycode one vega's Node build used to print) fails this.
  const foreign = stderr.split("\n").filter((l) =>
    l.trim() !== "" && !l.startsWith("Task ") && !OURS.test(l)
  );
  assertEquals(foreign, [], `stderr lines that are not ours:\n${stderr}`);
  return new TextDecoder().decode(out.stdout);
}

/** The prefixes of this project's own stderr lines. */
const OURS =
  /^(smoke|quick|paper|backend|fig[1-6]|table[12]|finetune|[a-z0-9.-]+-[0-9a-f]{12}): /;

Deno.test("deno task repro:all --preset smoke writes every target's files", async () => {
  const out = await Deno.makeTempDir({ prefix: "repro-smoke-" });
  const t0 = performance.now();
  const stdout = await task([
    "repro:all",
    "--preset",
    "smoke",
    "--backend",
    "wasm",
    "--out",
    out,
    "--quiet",
  ]);
  const firstSeconds = (performance.now() - t0) / 1000;
  assertStringIncludes(stdout, "Summary (preset smoke, backend wasm");
  const files = [...Deno.readDirSync(out)].map((e) => e.name);
  for (const t of TARGET_NAMES) {
    const json = JSON.parse(await Deno.readTextFile(`${out}/${t}.json`));
    assertEquals(json.provenance.target, t);
    assertEquals(json.provenance.preset, "smoke");
    assertEquals(json.provenance.backend.backend, "wasm");
    assertEquals(json.provenance.versions.tfjs, "4.22.0");
    assert(
      /^([0-9a-f]{40}(-dirty)?|unknown)$/.test(json.provenance.gitCommit),
      json.provenance.gitCommit,
    );
    assert(json.data !== undefined, `${t}.json has no data`);
    // What the notebooks require of a current result file is what we write.
    for (const f of RESULT_FIELDS[t]) assert(f in json.data, `${t}: ${f}`);
    const svgs = files.filter((f) => f.startsWith(t) && f.endsWith(".svg"));
    assert(svgs.length >= 1, `${t}: no SVG (files: ${files.join(", ")})`);
    for (const s of svgs) {
      assertStringIncludes(await Deno.readTextFile(`${out}/${s}`), "<svg");
    }
  }
  for (const t of ["table1", "table2", "finetune"]) {
    assertStringIncludes(await Deno.readTextFile(`${out}/${t}.md`), "|");
  }
  // Table 1 reads the preset's fixed epochs: SGD at 8 and 10, SAM at 8 and 10, PoF at 9 and 10.
  const t1 =
    JSON.parse(await Deno.readTextFile(`${out}/table1.json`)).data.rows;
  assertEquals(
    t1.map((r: { method: string; epoch: number }) => `${r.method}${r.epoch}`),
    ["sgd8", "sgd10", "sam8", "sam10", "pof9", "pof10"],
  );
  // Each error is the testError its run logged at that epoch, and a whole
  // number of mistakes on the smoke preset's 128 test images.
  const logged = [...Deno.readDirSync(`${out}/runs`)].map((e) => ({
    name: e.name,
    records: Deno.readTextFileSync(`${out}/runs/${e.name}/metrics.jsonl`)
      .split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l)),
  }));
  for (const r of t1) {
    assertEquals(r.errors.length, 1);
    const mistakes = r.errors[0] * 128 / 100;
    assert(
      Math.abs(mistakes - Math.round(mistakes)) < 1e-9,
      `${r.method}${r.epoch}: error ${r.errors[0]}% is not k/128`,
    );
    const fromLogs = logged
      .filter((run) =>
        new RegExp(`^synthetic-images-8x8-${r.method}(-from\\d+)?-e`).test(
          run.name,
        )
      )
      .flatMap((run) => run.records)
      .filter((m: { epoch: number }) => m.epoch === r.epoch)
      .map((m: { testError: number }) => m.testError);
    assert(fromLogs.length >= 1, `${r.method}${r.epoch}: no run logged it`);
    for (const e of fromLogs) {
      assertEquals(e, r.errors[0], `${r.method}${r.epoch}`);
    }
  }
  // Table 1's SAM 200 equals the shared SAM-200 run's epoch-8 error, which
  // is also where Fig. 4's PoF curve starts.
  const fig4 = JSON.parse(await Deno.readTextFile(`${out}/fig4.json`)).data;
  const pofStart = fig4.curves[1].points[0];
  assertEquals(pofStart.epoch, 8);
  assertEquals(pofStart.error[0], t1[2].errors[0]);
  // Table 2 timed PoF from the shared SAM-200 checkpoint, which table1 trained.
  const t2 = JSON.parse(await Deno.readTextFile(`${out}/table2.json`)).data;
  assertEquals(t2.pofStart.from, "checkpoint");
  assertEquals(t2.pofStart.epoch, 8);
  assert(/^synthetic-images-8x8-sam-e8-s0-/.test(t2.pofStart.run));
  // Figs. 5 and 6 with one seed: the pooled arrays are that seed's.
  const fig5 = JSON.parse(await Deno.readTextFile(`${out}/fig5.json`)).data;
  assertEquals(fig5.seeds, [0]);
  assertEquals(fig5.perSeed.length, 1);
  assertEquals(fig5.perSeed[0].train, fig5.train);
  assertEquals(fig5.perSeed[0].test, fig5.test);
  const fig6 = JSON.parse(await Deno.readTextFile(`${out}/fig6.json`)).data;
  assertEquals(fig6.perSeed.map((r: { seed: number }) => r.seed), [0]);
  assertEquals(fig6.perSeed[0].pof, fig6.pof);
  // Five runs: SGD, SAM-200 (shared), SAM-200 -> SAM, SAM-200 -> PoF, PoF -> fine-tuning.
  assertEquals([...Deno.readDirSync(`${out}/runs`)].length, 5);

  // Again: everything is done, nothing is trained, the dry run says so.
  const dry = await task([
    "repro:all",
    "--preset",
    "smoke",
    "--out",
    out,
    "--dry-run",
  ]);
  assertEquals(
    dry.split("\n").filter((l) => /^\s+done\s/.test(l)).length,
    5,
    dry,
  );
  assertEquals(
    dry.split("\n").filter((l) => /^\s+(todo|partial)\s/.test(l)).length,
    0,
    dry,
  );
  const before = await Deno.readTextFile(
    `${out}/runs/${[...Deno.readDirSync(`${out}/runs`)][0].name}/metrics.jsonl`,
  );
  await task([
    "repro",
    "table1",
    "--preset",
    "smoke",
    "--backend",
    "wasm",
    "--out",
    out,
    "--quiet",
  ]);
  const after = await Deno.readTextFile(
    `${out}/runs/${[...Deno.readDirSync(`${out}/runs`)][0].name}/metrics.jsonl`,
  );
  assertEquals(after, before);
  console.log(`repro:all --preset smoke took ${firstSeconds.toFixed(1)} s`);
});
