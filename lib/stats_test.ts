import { assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { binEdges, histogram, meanStd, median } from "./stats.ts";
import { Rng } from "./rng.ts";

Deno.test("meanStd: sample std by hand", () => {
  // Sum of squared deviations from 5 is 32; n - 1 = 7.
  const s = meanStd([2, 4, 4, 4, 5, 5, 7, 9]);
  assertEquals(s.mean, 5);
  assertAlmostEquals(s.std, Math.sqrt(32 / 7), 1e-12);
  assertEquals(s.n, 8);
  assertEquals(meanStd([3.5]), { mean: 3.5, std: 0, n: 1 });
  assertThrows(() => meanStd([]), RangeError, "at least one");
  assertThrows(() => meanStd([1, NaN]), RangeError, "value 1");
});

Deno.test("median: odd, even, unsorted", () => {
  assertEquals(median([5, 1, 3]), 3);
  assertEquals(median([10, 2, 4, 8]), 6);
});

Deno.test("binEdges: linear, log, degenerate, bad input", () => {
  assertEquals(binEdges([0, 1, 4], { bins: 4 }), [0, 1, 2, 3, 4]);
  const e = binEdges([1, 1000], { bins: 3, log: true });
  [1, 10, 100, 1000].forEach((x, i) => assertAlmostEquals(e[i], x, 1e-9 * x));
  assertEquals(binEdges([2, 2], { bins: 2 }), [1.5, 2, 2.5]);
  assertEquals(binEdges([3], { bins: 1, log: true }), [1.5, 6]);
  assertEquals(binEdges([], { bins: 2, range: [0, 1] }), [0, 0.5, 1]);
  assertThrows(() => binEdges([0, 1], { log: true }), RangeError, "> 0");
  assertThrows(() => binEdges([1], { bins: 0 }), RangeError, "got 0");
  assertThrows(() => binEdges([1], { range: [2, 1] }), RangeError, "[2,1]");
});

Deno.test("histogram: counts match a brute-force scan", () => {
  const rng = new Rng(7);
  const values = Array.from({ length: 500 }, () => rng.uniform() * 10 - 2);
  const edges = [-1, 0, 0.5, 3, 7, 7.5];
  const h = histogram(values, edges);
  for (let i = 0; i < edges.length - 1; i++) {
    const last = i === edges.length - 2;
    const brute = values.filter((v) =>
      v >= edges[i] && (last ? v <= edges[i + 1] : v < edges[i + 1])
    ).length;
    assertEquals(h.bins[i].count, brute, `bin ${i}`);
  }
  const inside = values.filter((v) => v >= -1 && v <= 7.5).length;
  assertEquals(h.outside, values.length - inside);
  const total = h.bins.reduce((a, b) => a + b.fraction, 0);
  assertAlmostEquals(total, 1, 1e-12);
  // The maximum lands in the last bin, an edge value in the bin it opens.
  assertEquals(histogram([7.5, 0.5], edges).bins.map((b) => b.count), [
    0,
    0,
    1,
    0,
    1,
  ]);
  assertThrows(() => histogram([1], [0, 0]), RangeError, "strictly");
});
