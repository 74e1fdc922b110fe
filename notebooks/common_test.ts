/**
 * A result file from an older version of the project (a field the current
 * target writes is missing) read by a notebook gives one line naming the
 * file, the missing fields and the target to re-run; never a TypeError from
 * deep inside a chart builder.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import {
  fig4Curves,
  loadTarget,
  notebookSettings,
  RESULT_FIELDS,
  StaleResultError,
} from "./common.ts";

async function resultsWith(data: unknown): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "pof-stale-" });
  await Deno.writeTextFile(
    `${dir}/fig4.json`,
    JSON.stringify({ provenance: {}, config: {}, data }),
  );
  return dir;
}

Deno.test("a stale fig4.json: one line naming the target to re-run", async () => {
  // The shape an older version wrote: per-method arrays, no `curves`.
  const old = { sam: [{ epoch: 1, error: [10] }], switchEpoch: 1 };
  const dir = await resultsWith(old);
  try {
    const s = notebookSettings({ preset: "quick", resultsDir: dir });
    const e = await assertRejects(
      () => loadTarget("fig4", s),
      StaleResultError,
    );
    assertEquals(
      e.message,
      `${dir}/fig4.json was written by an older version of this project (its data lacks curves, dataset, trainLoss, zoom): ` +
        `re-run \`deno task repro fig4 --preset quick --out ${dir}\``,
    );
    assertEquals(e.message.split("\n").length, 1);
    assertEquals(e.stack, `StaleResultError: ${e.message}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a current fig4.json loads", async () => {
  const data = {
    curves: [{ method: "sam", points: [{ epoch: 1, error: [10, 11] }] }],
    dataset: "synthetic",
    switchEpoch: 1,
    trainLoss: [{ method: "sgd", points: [{ epoch: 1, error: [0.5, 0.6] }] }],
    zoom: [1, 1],
  };
  const dir = await resultsWith(data);
  try {
    const r = await loadTarget(
      "fig4",
      notebookSettings({ preset: "quick", resultsDir: dir }),
    );
    assertEquals(fig4Curves(r.data)[0].points[0].error, [10, 11]);
    assert(!r.fellBack);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RESULT_FIELDS covers every repro target", async () => {
  const { TARGET_NAMES } = await import("../repro/target.ts");
  assertEquals(Object.keys(RESULT_FIELDS).sort(), [...TARGET_NAMES].sort());
});
