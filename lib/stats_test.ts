import { assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import {
  binEdges,
  formatDifference,
  histogram,
  meanStd,
  median,
  pairedDifference,
  studentTCdf,
  tQuantile,
  verdictOf,
} from "./stats.ts";
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

Deno.test("studentTCdf: closed forms for df 1 and 2, symmetry", () => {
  for (const t of [-7, -1.3, 0, 0.4, 2, 12.7]) {
    // df 1 (Cauchy): 1/2 + atan(t) / pi; df 2: 1/2 + t / (2 sqrt(2 + t^2)).
    assertAlmostEquals(studentTCdf(t, 1), 0.5 + Math.atan(t) / Math.PI, 1e-14);
    assertAlmostEquals(
      studentTCdf(t, 2),
      0.5 + t / (2 * Math.sqrt(2 + t * t)),
      1e-14,
    );
    assertAlmostEquals(studentTCdf(-t, 5), 1 - studentTCdf(t, 5), 1e-14);
  }
  // df 3: 1/2 + (atan(x) + x / (1 + x^2)) / pi with x = t / sqrt(3).
  const x = 1.7 / Math.sqrt(3);
  assertAlmostEquals(
    studentTCdf(1.7, 3),
    0.5 + (Math.atan(x) + x / (1 + x * x)) / Math.PI,
    1e-14,
  );
  assertThrows(() => studentTCdf(1, 2.5), RangeError, "2.5");
});

Deno.test("tQuantile: closed forms and published 97.5% points", () => {
  const p = 0.975;
  assertAlmostEquals(tQuantile(p, 1), Math.tan(Math.PI * (p - 0.5)), 1e-10);
  assertAlmostEquals(
    tQuantile(p, 2),
    (2 * p - 1) / Math.sqrt(2 * p * (1 - p)),
    1e-12,
  );
  // Published two-sided 95% points of t (10 significant digits).
  assertAlmostEquals(tQuantile(p, 4), 2.776445105, 1e-9);
  assertAlmostEquals(tQuantile(p, 9), 2.262157163, 1e-9);
  assertAlmostEquals(tQuantile(p, 30), 2.042272456, 1e-9);
  // Large df tends to the normal's 1.959963985.
  assertAlmostEquals(tQuantile(p, 100000), 1.959963985, 1e-4);
  assertAlmostEquals(tQuantile(0.025, 4), -2.776445105, 1e-9);
  assertEquals(tQuantile(0.5, 7), 0);
  assertThrows(() => tQuantile(1, 3), RangeError, "got 1");
  assertThrows(() => tQuantile(0.9, 0), RangeError, "got 0");
});

Deno.test("pairedDifference: hand-computed intervals for n = 3 and 5", () => {
  // n = 3: diffs 1, 2, 3; mean 2, std 1, half-width 4.302652730 / sqrt(3).
  const three = pairedDifference([11, 12, 13], [10, 10, 10]);
  assertEquals(three.diffs, [1, 2, 3]);
  assertAlmostEquals(three.ci95![0], 2 - 2.484137712, 1e-8);
  assertAlmostEquals(three.ci95![1], 2 + 2.484137712, 1e-8);
  assertEquals(verdictOf(three.ci95, -1), "undecided");
  // n = 5: diffs -0.5, -0.2, -0.4, -0.1, -0.3; mean -0.3,
  // std sqrt(0.1 / 4) = 0.158113883, half-width 2.776445105 * 0.070710678.
  const five = pairedDifference([4.5, 4.8, 4.6, 4.9, 4.7], [5, 5, 5, 5, 5]);
  assertAlmostEquals(five.mean, -0.3, 1e-12);
  assertAlmostEquals(five.std, 0.158113883, 1e-9);
  assertAlmostEquals(five.ci95![0], -0.3 - 0.196324316, 1e-8);
  assertAlmostEquals(five.ci95![1], -0.3 + 0.196324316, 1e-8);
  assertEquals(verdictOf(five.ci95, -1), "reproduced");
  assertEquals(verdictOf(five.ci95, 1), "contradicted");
  // One seed: no interval, undecided.
  const one = pairedDifference([3], [2]);
  assertEquals(one.ci95, null);
  assertEquals(verdictOf(one.ci95, 1), "undecided");
  assertThrows(() => pairedDifference([1, 2], [1]), RangeError, "2 vs 1");
  assertThrows(() => pairedDifference([1, NaN], [1, 2]), RangeError, "NaN");
});

Deno.test("formatDifference", () => {
  assertEquals(
    formatDifference({ mean: 0.1234, ci95: [-0.2, 0.45] }, "undecided"),
    "0.12 [-0.20, 0.45] undecided",
  );
  assertEquals(
    formatDifference({ mean: 1, ci95: null }, "undecided", 1),
    "1.0 (one seed: no interval) undecided",
  );
});
