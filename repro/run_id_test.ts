import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { canonicalJson, runId, withDependencies } from "../lib/train/run_id.ts";
import {
  pofRun,
  PRESETS,
  samBaseRun,
  samContinuedRun,
  sgdRun,
} from "./presets.ts";

const p = PRESETS.paper;
const ds = p.datasets[0];

Deno.test("run ids do not depend on key order and change with any field", () => {
  const a = sgdRun(p, ds, 0);
  const reordered = Object.fromEntries(Object.entries(a).reverse()) as typeof a;
  assertEquals(runId(reordered), runId(a));
  assertNotEquals(runId(sgdRun(p, ds, 1)), runId(a));
  assertNotEquals(runId({ ...a, weightDecay: 1e-4 }), runId(a));
  assertNotEquals(runId({ ...a, trainLimit: 100 }), runId(a));
  assertEquals(
    canonicalJson({ a: undefined, b: [1, undefined] }),
    '{"b":[1,null]}',
  );
});

Deno.test("run ids are stable across processes", async () => {
  const configs = [
    sgdRun(p, ds, 0),
    samContinuedRun(p, ds, 2),
    pofRun(p, p.datasets[2], 1),
  ];
  const code = `
    import { runId } from "./lib/train/run_id.ts";
    import { PRESETS, pofRun, samContinuedRun, sgdRun } from "./repro/presets.ts";
    const p = PRESETS.paper;
    console.log(JSON.stringify([sgdRun(p, p.datasets[0], 0), samContinuedRun(p, p.datasets[0], 2),
      pofRun(p, p.datasets[2], 1)].map(runId)));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--import-map=tools/offline_import_map.json", code],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const ids = JSON.parse(
    new TextDecoder().decode(out.stdout).trim().split("\n").pop()!,
  );
  assertEquals(ids, configs.map(runId));
  // The readable prefix names dataset, method, start, end epoch and seed.
  assert(ids[1].startsWith("cifar10-sam-from200-e250-s2-"), ids[1]);
});

Deno.test("dependencies come first and a shared parent is listed once", () => {
  const list = withDependencies([
    pofRun(p, ds, 0),
    samContinuedRun(p, ds, 0),
    sgdRun(p, ds, 0),
  ]);
  assertEquals(list.map(runId), [
    runId(samBaseRun(p, ds, 0)),
    runId(pofRun(p, ds, 0)),
    runId(samContinuedRun(p, ds, 0)),
    runId(sgdRun(p, ds, 0)),
  ]);
});
