import { assertEquals, assertRejects } from "@std/assert";
import {
  appendMetrics,
  type EpochRecord,
  readMetrics,
  truncateMetrics,
} from "./metrics_log.ts";
import { formatDuration, renderProgress } from "./progress.ts";

const rec = (epoch: number): EpochRecord => ({
  epoch,
  method: "sgd",
  trainLoss: 1 / epoch,
  trainError: 10,
  testLoss: 2,
  testError: 20 - epoch,
  lr: 0.1,
  steps: 3,
  seconds: 0.1,
});

Deno.test("metrics: append, read back, a torn last line ignored, a torn middle line an error", async () => {
  const path = `${await Deno.makeTempDir()}/m.jsonl`;
  assertEquals(await readMetrics(path), []);
  for (const e of [1, 2, 3]) await appendMetrics(path, rec(e));
  assertEquals(await readMetrics(path), [rec(1), rec(2), rec(3)]);
  await Deno.writeTextFile(path, '{"epoch":4,"meth', { append: true });
  assertEquals((await readMetrics(path)).length, 3);
  await truncateMetrics(path, 2);
  assertEquals(await readMetrics(path), [rec(1), rec(2)]);
  await Deno.writeTextFile(path, "{oops}\n" + JSON.stringify(rec(5)) + "\n");
  await assertRejects(() => readMetrics(path), Error, "m.jsonl:1: malformed");
});

Deno.test("progress line shows epoch, step, loss, images/s and ETA", () => {
  const line = renderProgress({
    label: "r",
    epoch: 3,
    lastEpoch: 10,
    step: 6,
    stepsPerEpoch: 12,
    loss: 0.12345,
    imagesPerSecond: 250,
    etaSeconds: 4000,
  });
  assertEquals(
    line,
    "r [######------] epoch 3/10 step 6/12 loss 0.1235 250.0 img/s ETA 1h06m",
  );
  assertEquals(formatDuration(59.6), "1m00s");
  assertEquals(formatDuration(NaN), "?");
  assertEquals(
    renderProgress({
      label: "x".repeat(200),
      epoch: 1,
      lastEpoch: 1,
      step: 0,
      stepsPerEpoch: 1,
      loss: NaN,
      imagesPerSecond: 0,
      etaSeconds: 0,
    }, 50).length,
    50,
  );
});
