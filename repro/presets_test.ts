import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  finetuneRun,
  getPreset,
  PAPER_EPOCHS,
  pofRun,
  PRESETS,
  samBaseRun,
  scaleEpochs,
  sgdRun,
} from "./presets.ts";
import { lrAt } from "../lib/train/run_config.ts";

Deno.test("the paper preset is Sec. 4.1", () => {
  const p = PRESETS.paper;
  assertEquals(p.model, { kind: "wrn", depth: 28, widen: 10 });
  assertEquals([p.batchSize, p.epochs, p.switchEpoch, p.pofEarlyEpoch], [
    256,
    250,
    200,
    210,
  ]);
  assertEquals(p.milestones, [60, 120, 160, 200]);
  assertEquals([
    p.lrFactor,
    p.momentum,
    p.weightDecay,
    p.weakBatchSize,
    p.gammaMax,
    p.pofLr,
  ], [
    0.2,
    0.9,
    5e-4,
    32,
    2,
    3e-5,
  ]);
  assertEquals(p.datasets.map((d) => [d.name, d.lr, d.rho, d.trainLimit]), [
    ["cifar10", 0.1, 0.05, undefined],
    ["cifar100", 0.1, 0.05, undefined],
    ["svhn", 0.01, 0.01, undefined],
    ["fashion-mnist", 0.1, 0.05, undefined],
  ]);
  const pof = pofRun(p, p.datasets[0], 0);
  assertEquals(pof.schedule, { baseLr: 3e-5, milestones: [], factor: 1 });
  assertEquals(pof.from!.epoch, 200);
  assertEquals(pof.from!.run, samBaseRun(p, p.datasets[0], 0));
  // SGD's lr at epoch 200+ is 0.1 * 0.2^4 = 1.6e-4, the fine-tuning rate.
  const sgd = sgdRun(p, p.datasets[0], 0);
  assert(Math.abs(lrAt(sgd.schedule, 249) - 1.6e-4) < 1e-15);
  assert(
    Math.abs(finetuneRun(p, p.datasets[0], 0).schedule.baseLr - 1.6e-4) < 1e-15,
  );
  assertEquals(finetuneRun(p, p.datasets[0], 0).epochs, 260);
});

Deno.test("compressed presets scale every paper epoch by E / 250 and keep the order", () => {
  for (let total = 3; total <= 250; total++) {
    const s = scaleEpochs(total);
    const f = total / 250;
    // Each milestone is the rounded scaled paper milestone (duplicates merged).
    assertEquals(
      s.milestones,
      [...new Set(PAPER_EPOCHS.milestones.map((m) => Math.round(m * f)))]
        .filter((m) => m > 0),
    );
    assert(s.switch >= 1 && s.switch < total, `switch ${s.switch} of ${total}`);
    assert(s.pofEarly > s.switch && s.pofEarly <= total);
    assert(s.finetune >= 1);
  }
  assertEquals(PRESETS.quick.milestones, [5, 10, 13, 16]);
  assertEquals([PRESETS.quick.switchEpoch, PRESETS.quick.pofEarlyEpoch], [
    16,
    17,
  ]);
  assertEquals(PRESETS.quick.datasets[0].name, "fashion-mnist");
  assertThrows(() => scaleEpochs(2), RangeError, "got 2");
  assertThrows(
    () => getPreset("medium"),
    RangeError,
    "valid: smoke, quick, paper",
  );
});
