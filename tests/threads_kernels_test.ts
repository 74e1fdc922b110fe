/**
 * The wasm kernels that share work with the kernel pool
 * (`lib/kernels/parallel.ts`: the filter gradient, the fused BatchNorm) give
 * bitwise the same outputs with 3 threads as with 1, on channel counts that
 * split into uneven items, and a job's error reaches the caller. Each thread
 * count runs in its own process (`tests/helpers/pool_kernels.ts`).
 */
import { assert, assertEquals } from "@std/assert";
import { childJson } from "./helpers/child_json.ts";

type Out = { threads: number; error: string; out: Record<string, string> };

async function dump(threads: number): Promise<Out> {
  return await childJson("tests/helpers/pool_kernels.ts", [
    String(threads),
  ]) as Out;
}

Deno.test("kernel pool: filter gradient and fused BatchNorm are bitwise equal with 3 threads and 1", async () => {
  const one = await dump(1);
  const three = await dump(3);
  assertEquals([one.threads, three.threads], [1, 3]);
  assertEquals(Object.keys(one.out).length, 9);
  assertEquals(three.out, one.out);
  assertEquals(one.out.bn_mean_again, one.out.bn_mean);
  for (const r of [one, three]) {
    assert(r.error.includes("relu needs the forward output"), r.error);
  }
});
