import { assert, assertEquals, assertRejects } from "@std/assert";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { useBackend } from "../backend.ts";
import {
  describeResources,
  formatBytes,
  peakRssBytes,
  profilePeakBytes,
} from "./resources.ts";

Deno.test("peakRssBytes: at least the resident size while a touched 256 MiB buffer lives, in bytes", () => {
  const before = peakRssBytes();
  const big = new Uint8Array(256 * 2 ** 20);
  for (let i = 0; i < big.length; i += 4096) big[i] = 1;
  const rss = Deno.memoryUsage().rss;
  const after = peakRssBytes();
  // The touched pages are resident, so the current RSS exceeds 256 MiB; the
  // peak is never below the current size nor below an earlier peak, and it
  // fits in the machine (a kB / bytes mix-up would break one of these).
  assert(rss > 256 * 2 ** 20, `rss ${rss}`);
  assert(
    after >= rss * 0.99 && after >= before,
    `${before} -> ${after}, rss ${rss}`,
  );
  assert(after <= Deno.systemMemoryInfo().total, `${after}`);
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

Deno.test("profilePeakBytes: a kernel's own error reaches the caller instead of ending the process", async () => {
  // Under tf.profile, kernels run inside the backend's asynchronous timer; the
  // cpu backend's GatherV2 checks its indices inside the kernel, so this
  // error is thrown there (as the wasm heap's exhaustion is).
  await useBackend("cpu");
  const before = tf.memory().numTensors;
  await assertRejects(
    () =>
      profilePeakBytes(() =>
        tf.tidy(() => tf.gather(tf.tensor1d([1, 2]), tf.tensor1d([5], "int32")))
      ),
    Error,
    "not in [0, 1]",
  );
  // And the process goes on: a later profile works and measures.
  const { peakBytes } = await profilePeakBytes(() =>
    tf.tidy(() => tf.add(tf.ones([1000]), 1).dataSync().length)
  );
  // Two live 1000-float tensors at the add (its input and output).
  assert(peakBytes >= 8000, String(peakBytes));
  assertEquals(tf.memory().numTensors, before);
});
