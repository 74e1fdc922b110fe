import { assert, assertEquals, assertThrows } from "@std/assert";
import { useBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import { teacherLabel, toyData } from "./teacher_mlp_data.ts";

await useBackend("cpu");

Deno.test("toyData: deterministic, 5% label noise against the teacher, all classes present", () => {
  const a = toyData(new Rng(3), { trainSize: 64, testSize: 8192 });
  const b = toyData(new Rng(3), { trainSize: 16, testSize: 8192 });
  // the test set does not depend on the training-set size
  assertEquals(
    Array.from(a.test.y.subarray(0, 50)),
    Array.from(b.test.y.subarray(0, 50)),
  );
  assertEquals(a.test.x[123], b.test.x[123]);
  const d = a.test;
  let flipped = 0;
  const perClass = [0, 0, 0, 0];
  for (let i = 0; i < d.n; i++) {
    const clean = teacherLabel(a.teacher, d.x.subarray(i * 16, (i + 1) * 16));
    if (clean !== d.y[i]) flipped++;
    perClass[d.y[i]]++;
  }
  // Binomial(8192, 0.05): std 0.0024
  assert(Math.abs(flipped / d.n - 0.05) < 0.01, `noise rate ${flipped / d.n}`);
  assert(perClass.every((c) => c > 0.2 * d.n), `class counts ${perClass}`);
  const clean = toyData(new Rng(3), {
    trainSize: 8,
    testSize: 256,
    labelNoise: 0,
  });
  for (let i = 0; i < 256; i++) {
    assertEquals(
      clean.test.y[i],
      teacherLabel(clean.teacher, clean.test.x.subarray(i * 16, (i + 1) * 16)),
    );
  }
  assertThrows(
    () => toyData(new Rng(0), { labelNoise: 2 }),
    RangeError,
    "got 2",
  );
});
