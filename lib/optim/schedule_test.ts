import { assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import {
  asSchedule,
  constantSchedule,
  linearSchedule,
  stepSchedule,
} from "./schedule.ts";

Deno.test("stepSchedule: paper defaults drop x0.2 at epochs 60/120/160/200", () => {
  const spe = 196; // 50,000 / 256 rounded up
  const lr = stepSchedule({ init: 0.1, stepsPerEpoch: spe });
  const expected = (epoch: number) => {
    let v = 0.1;
    for (const m of [60, 120, 160, 200]) if (epoch >= m) v *= 0.2;
    return v;
  };
  for (const epoch of [0, 59, 60, 61, 119, 120, 159, 160, 199, 200, 249]) {
    assertAlmostEquals(lr(epoch * spe), expected(epoch), 1e-15);
    assertAlmostEquals(lr(epoch * spe + spe - 1), expected(epoch), 1e-15);
  }
  assertAlmostEquals(lr(200 * spe), 1.6e-4, 1e-15);
});

Deno.test("stepSchedule: custom milestones and factor; validation", () => {
  const lr = stepSchedule({
    init: 1,
    stepsPerEpoch: 3,
    milestones: [2],
    factor: 0.5,
  });
  assertEquals([0, 5, 6, 100].map(lr), [1, 1, 0.5, 0.5]);
  assertThrows(() => stepSchedule({ init: 1, stepsPerEpoch: 0 }), RangeError);
  assertThrows(
    () => stepSchedule({ init: 1, stepsPerEpoch: 1, milestones: [5, 3] }),
    RangeError,
    "5, 3",
  );
});

Deno.test("constant and linear schedules", () => {
  assertEquals(constantSchedule(3)(10), 3);
  const s = linearSchedule({ from: 1, to: 3, steps: 8 });
  assertEquals([0, 2, 4, 8, 20].map(s), [1, 1.5, 2, 3, 3]);
  assertEquals(linearSchedule({ from: 1, to: 3, steps: 0 })(0), 3);
  assertEquals(asSchedule(0.2)(7), 0.2);
  assertThrows(() => constantSchedule(NaN), RangeError, "NaN");
});
