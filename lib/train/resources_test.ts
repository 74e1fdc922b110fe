import { assert, assertEquals } from "@std/assert";
import { describeResources, formatBytes, peakRssBytes } from "./resources.ts";

Deno.test("peakRssBytes: grows past a buffer we touch, never below the current RSS", () => {
  const before = peakRssBytes();
  const big = new Uint8Array(256 * 2 ** 20);
  for (let i = 0; i < big.length; i += 4096) big[i] = 1;
  const after = peakRssBytes();
  assert(after >= Deno.memoryUsage().rss * 0.99, `${after}`);
  if (Deno.build.os === "linux") {
    assert(after - before > 200 * 2 ** 20, `${before} -> ${after}`);
  }
  assertEquals(big[4096], 1);
});

Deno.test("formatBytes / describeResources: units and wording", () => {
  assertEquals(formatBytes(0), "0 B");
  assertEquals(formatBytes(1023), "1023 B");
  assertEquals(formatBytes(146_000_000), "139.24 MiB");
  assertEquals(
    describeResources({
      peakRssBytes: 5 * 2 ** 30,
      checkpointBytes: 292 * 2 ** 20,
      dataBytes: 1_857_000_000,
      peakTensorBytes: 3 * 2 ** 30,
      tensorBytesUnreliable: true,
    }),
    "peak RSS 5.00 GiB, checkpoint 292.00 MiB on disk, data loaders 1.73 GiB, peak tensor memory 3.00 GiB (backend says: unreliable)",
  );
});
