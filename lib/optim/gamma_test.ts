import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertThrows,
} from "@std/assert";
import { Rng } from "../rng.ts";
import { gammaSampler, PAPER_GAMMA } from "./gamma.ts";

Deno.test("gamma U[0, 2] (paper default): one rng.uniform per draw, in range, mean 1, variance 1/3", () => {
  const g = gammaSampler();
  assertEquals(PAPER_GAMMA, { kind: "uniform", low: 0, high: 2 });
  const a = new Rng(5), b = new Rng(5);
  const n = 20000;
  let s = 0, s2 = 0;
  for (let i = 0; i < n; i++) {
    const x = g(i, a);
    assertEquals(x, 2 * b.uniform());
    assert(x >= 0 && x < 2);
    s += x;
    s2 += x * x;
  }
  const mean = s / n;
  assertAlmostEquals(mean, 1, 0.02);
  assertAlmostEquals(s2 / n - mean * mean, 1 / 3, 0.01);
});

Deno.test("gamma: any range, fixed, linear ramp over the step count; validation", () => {
  const r = gammaSampler({ kind: "uniform", low: 1, high: 1.5 });
  const rng = new Rng(1);
  for (let i = 0; i < 100; i++) {
    const x = r(i, rng);
    assert(x >= 1 && x < 1.5, String(x));
  }
  const fixed = gammaSampler({ kind: "fixed", value: 2 });
  const before = rng.state();
  assertEquals(fixed(7, rng), 2);
  assertEquals(rng.state(), before, "fixed gamma consumed randomness");
  const ramp = gammaSampler({ kind: "linear", from: 0, to: 2, steps: 100 });
  assertEquals([0, 25, 50, 100, 500].map((c) => ramp(c, rng)), [
    0,
    0.5,
    1,
    2,
    2,
  ]);
  assertThrows(
    () => gammaSampler({ kind: "uniform", low: 2, high: 0 }),
    RangeError,
    "[2, 0]",
  );
  assertThrows(
    () => gammaSampler({ kind: "fixed", value: NaN }),
    RangeError,
    "NaN",
  );
  assertThrows(
    () =>
      gammaSampler(
        { kind: "bogus" } as unknown as Parameters<typeof gammaSampler>[0],
      ),
    RangeError,
    "bogus",
  );
});
