import { assertEquals } from "@std/assert";
import {
  rehearsalEpoch,
  rehearsalSegments,
  rehearsalStepEpoch,
} from "./rehearsal.ts";
import type { RunConfig } from "./run_config.ts";
import { lrAt } from "./run_config.ts";

const base: Omit<RunConfig, "method" | "epochs" | "keepEpochs"> = {
  dataset: "cifar10",
  model: { kind: "wrn", depth: 28, widen: 10 },
  seed: 0,
  batchSize: 256,
  schedule: { baseLr: 0.1, milestones: [60, 120, 160, 200], factor: 0.2 },
  momentum: 0.9,
  weightDecay: 5e-4,
  rehearsal: { steps: 3, evalImages: 64, standIn: true },
};
const sam200: RunConfig = {
  ...base,
  method: { name: "sam", rho: 0.05 },
  epochs: 200,
  keepEpochs: [200],
};
const pof: RunConfig = {
  ...base,
  method: { name: "pof" },
  schedule: { baseLr: 3e-5, milestones: [], factor: 1 },
  epochs: 250,
  keepEpochs: [210, 250],
  from: { run: sam200, epoch: 200 },
};
const sam250: RunConfig = {
  ...sam200,
  epochs: 250,
  keepEpochs: [250],
  from: { run: sam200, epoch: 200 },
};

Deno.test("rehearsal: the paper's runs cut at milestones, kept epochs, start and end", () => {
  const s = (c: RunConfig) => rehearsalSegments(c).map((g) => [g.start, g.end]);
  assertEquals(s(sam200), [[0, 60], [60, 120], [120, 160], [160, 200]]);
  assertEquals(s(pof), [[200, 210], [210, 250]]);
  assertEquals(s(sam250), [[200, 250]]);
});

Deno.test("rehearsal: steps in each segment's first epoch, evaluation in its last, every epoch visited", () => {
  const steps: number[] = [];
  const closes: number[] = [];
  for (let e = 200; e < 250; e++) {
    const r = rehearsalEpoch(pof, e);
    if (r.steps) steps.push(e);
    if (r.closesSegment) closes.push(e + 1);
    assertEquals(r.steps === 0 || r.steps === 3, true);
  }
  assertEquals(steps, [200, 210]);
  assertEquals(closes, [210, 250]);
});

Deno.test("rehearsal: step counts map to the segment's epoch through a same-method continuation", () => {
  // SAM-250 continues SAM-200's optimizer (offset 0): 4 segments x 3 steps
  // of SAM-200, then its own segment from 200.
  const at = rehearsalStepEpoch(sam250, 0);
  const epochs = Array.from({ length: 16 }, (_, k) => at(k));
  assertEquals(epochs, [
    0,
    0,
    0,
    60,
    60,
    60,
    120,
    120,
    120,
    160,
    160,
    160,
    200,
    200,
    200,
    200,
  ]);
  // The learning rates a real run would use in those epochs.
  const lrs = epochs.map((e) => lrAt(base.schedule, e));
  assertEquals(lrs[0], 0.1);
  assertEquals(lrs[12], 0.1 * 0.2 ** 4);
  // PoF's fresh optimizer starts at 200.
  const p = rehearsalStepEpoch(pof, 200);
  assertEquals([0, 2, 3, 5, 6].map(p), [200, 200, 210, 210, 210]);
});

Deno.test("rehearsal: extra cuts end segments where a target compares runs", () => {
  const c: RunConfig = {
    ...pof,
    rehearsal: { steps: 1, evalImages: 4, standIn: false, cuts: [220, 300] },
  };
  assertEquals(
    rehearsalSegments(c).map((g) => [g.start, g.end]),
    [[200, 210], [210, 220], [220, 250]],
  );
});
