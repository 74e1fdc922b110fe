/**
 * The fast CPU path's thread count does not change training: 5 steps each of
 * SGD, SAM and PoF with 2 threads equal those with 1 thread to 1e-5 relative
 * (loss of every step, every parameter), and two runs with 2 threads are
 * bitwise identical. Each thread count runs in its own process (the count is
 * fixed per process), through `lib/train/testdata/steps_threads.ts`.
 */
import { assert, assertEquals } from "@std/assert";
import type { MethodTrace } from "../lib/train/testdata/steps_threads.ts";
import { childJson } from "./helpers/child_json.ts";

type Dump = { threads: number } & Record<string, MethodTrace>;

async function dump(threads: number): Promise<Dump> {
  return await childJson("lib/train/testdata/steps_threads.ts", [
    String(threads),
  ]) as Dump;
}

/** Largest |a - b| of a tensor relative to the tensor's largest |b|. */
function relDiff(a: number[], b: number[]): number {
  assertEquals(a.length, b.length);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

Deno.test("2 threads equal 1 thread to 1e-5 after 5 steps of SGD, SAM and PoF; 2 threads are bitwise deterministic", async () => {
  // One after another: 2-thread processes side by side would share cores.
  const one = await dump(1);
  const two = await dump(2);
  const twoAgain = await dump(2);
  assertEquals([one.threads, two.threads, twoAgain.threads], [1, 2, 2]);
  for (const m of ["sgd", "sam", "pof"]) {
    const a = two[m], b = one[m];
    assertEquals(a.losses.length, 5);
    a.losses.forEach((l, s) => {
      assert(Number.isFinite(l), `${m} step ${s}: loss ${l}`);
      assert(
        Math.abs(l - b.losses[s]) <= 1e-5 * Math.abs(b.losses[s]),
        `${m} step ${s}: loss ${l} (2 threads) vs ${b.losses[s]} (1 thread)`,
      );
    });
    assertEquals(Object.keys(a.params).sort(), Object.keys(b.params).sort());
    for (const k of Object.keys(b.params)) {
      const r = relDiff(a.params[k], b.params[k]);
      assert(r <= 1e-5, `${m} ${k}: relative difference ${r}`);
    }
    // The steps did something: the losses change from step to step, and
    // SAM and PoF end somewhere else than SGD.
    assert(new Set(b.losses).size > 1, `${m}: constant loss ${b.losses}`);
    if (m !== "sgd") {
      assert(
        Object.keys(b.params).some((k) =>
          relDiff(b.params[k], one.sgd.params[k]) > 1e-4
        ),
        `${m}: parameters equal SGD's`,
      );
    }
    // Same thread count, same process-independent result, bit for bit.
    assertEquals(twoAgain[m], two[m], `${m}: 2-thread runs differ`);
  }
});
