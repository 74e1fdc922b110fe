import { assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { Rng } from "./rng.ts";

Deno.test("Rng: same seed gives the same stream, different seeds differ", () => {
  const a = new Rng(7), b = new Rng(7), c = new Rng(8);
  const sa = Array.from({ length: 8 }, () => a.uint32());
  const sb = Array.from({ length: 8 }, () => b.uint32());
  const sc = Array.from({ length: 8 }, () => c.uint32());
  assertEquals(sa, sb);
  assertNotEquals(sa, sc);
});

Deno.test("Rng: state round-trips mid-stream, normals included", () => {
  const a = new Rng(3);
  a.normal();
  a.uniform();
  const b = Rng.fromState(a.state());
  assertEquals(
    Array.from({ length: 5 }, () => a.normal()),
    Array.from({ length: 5 }, () => b.normal()),
  );
});

Deno.test("Rng: moments of uniform and normal, int range and permutation", () => {
  const r = new Rng(11);
  const n = 200_000;
  let su = 0, sn = 0, sn2 = 0;
  for (let i = 0; i < n; i++) {
    su += r.uniform();
    const z = r.normal();
    sn += z;
    sn2 += z * z;
  }
  // Standard errors: uniform mean 0.29/sqrt(n) ~ 6.5e-4; normal mean 2.2e-3; var 3.2e-3.
  if (Math.abs(su / n - 0.5) > 4e-3) throw new Error(`uniform mean ${su / n}`);
  if (Math.abs(sn / n) > 1.2e-2) throw new Error(`normal mean ${sn / n}`);
  if (Math.abs(sn2 / n - 1) > 2e-2) throw new Error(`normal var ${sn2 / n}`);
  const counts = new Array(7).fill(0);
  for (let i = 0; i < 70_000; i++) counts[r.int(7)]++;
  for (const c of counts) {
    if (Math.abs(c - 10_000) > 500) throw new Error(`int counts ${counts}`);
  }
  const p = r.permutation(100);
  assertEquals(
    [...p].sort((x, y) => x - y),
    Array.from({ length: 100 }, (_, i) => i),
  );
  assertThrows(() => r.int(0), RangeError, "got 0");
  assertThrows(() => new Rng(NaN), RangeError, "NaN");
});

Deno.test("Rng: fork is deterministic, label-dependent, and does not advance the parent", () => {
  const a = new Rng(5);
  const before = a.state();
  const f1 = a.fork("init"), f2 = a.fork("init"), f3 = a.fork("data");
  assertEquals(a.state(), before);
  assertEquals(f1.uint32(), f2.uint32());
  assertNotEquals(a.fork("init").uint32(), f3.uint32());
});
