import { assert, assertEquals } from "@std/assert";
import { useBackend } from "../backend.ts";
import { fig2Config, runFig2 } from "./toy_fig2.ts";

await useBackend("cpu");

Deno.test("runFig2 (smoke): counts cover every batch, xi* >= 0", () => {
  const cfg = fig2Config("smoke");
  const r = runFig2(cfg, { seed: 0 });
  assertEquals(r.eigIndexCounts.reduce((a, b) => a + b, 0), cfg.batches);
  assertEquals(r.eigIndexCountsBy.data.reduce((a, b) => a + b, 0), cfg.batches);
  assertEquals(r.eigIndexCounts.length, (16 + 1) * 4);
  assertEquals([r.xiTrain.length, r.xiTest.length], [cfg.batches, cfg.batches]);
  assert(r.xiTrain.every((x) => x >= 0 && x <= cfg.maxXi));
  assert(r.cosTop.every((x) => x >= 0 && x <= 1 + 1e-12));
  for (let i = 1; i < r.eigenvalues.length; i++) {
    assert(r.eigenvalues[i] <= r.eigenvalues[i - 1]);
  }
});
