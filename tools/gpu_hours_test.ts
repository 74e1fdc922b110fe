import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { projectGpuHours, STEP_COST } from "./gpu_hours.ts";
import { PRESETS } from "../repro/presets.ts";
import { wideResNet } from "../lib/models/wide_resnet.ts";

Deno.test("projectGpuHours: the paper preset on CIFAR-10, one seed, by hand", async () => {
  const p = { ...PRESETS.paper, datasets: [PRESETS.paper.datasets[0]] };
  const macs = wideResNet({ depth: 28, widen: 10, numClasses: 10 })
    .multiplyAdds;
  const r = await projectGpuHours(p, [0], {
    imagesPerSecond: 1000,
    macsPerImage: macs,
  });
  // SGD 0-250, SAM 0-200, SAM 200-250, PoF 200-250, fine-tuning 250-260.
  assertEquals(r.runs, 5);
  const epochs = 250 + 2 * 200 + 2 * 50 + 1.17 * 50 + 10;
  assertEquals(STEP_COST.pof, 1.17);
  // floor(50,000 / 256) * 256 images per epoch.
  assertAlmostEquals(r.trainingImages, epochs * 49_920, 1e-3);
  // The analyses (Figs. 5/6 on the full splits, Table 2) are real but small.
  assert(r.analysisImages > 0 && r.analysisImages < 0.05 * r.trainingImages);
  assertAlmostEquals(
    r.gpuHours,
    (r.trainingImages + r.analysisImages) / 1000 / 3600,
    1e-9,
  );
  // A fake gpu:check timing twice as fast halves the projection.
  const fast = await projectGpuHours(p, [0], {
    imagesPerSecond: 2000,
    macsPerImage: macs,
  });
  assertAlmostEquals(fast.gpuHours * 2, r.gpuHours, 1e-9);
});

Deno.test("projectGpuHours: SVHN's 604,388 images and Fashion-MNIST's smaller images count as such", async () => {
  const macs = wideResNet({ depth: 28, widen: 10, numClasses: 10 })
    .multiplyAdds;
  const one = async (name: string) =>
    (await projectGpuHours(
      {
        ...PRESETS.paper,
        datasets: PRESETS.paper.datasets.filter((d) => d.name === name),
      },
      [0],
      { imagesPerSecond: 1, macsPerImage: macs },
    )).trainingImages;
  const cifar = await one("cifar10");
  assertAlmostEquals(await one("svhn") / cifar, 604_160 / 49_920, 1e-9);
  const fm = wideResNet({
    depth: 28,
    widen: 10,
    numClasses: 10,
    inputShape: [28, 28, 1],
  }).multiplyAdds;
  assertAlmostEquals(
    await one("fashion-mnist") / cifar,
    (59_904 / 49_920) * (fm / macs),
    1e-9,
  );
  let bad = "";
  await projectGpuHours(PRESETS.paper, [0], {
    imagesPerSecond: 0,
    macsPerImage: 1,
  }).catch((e) => bad = e.message);
  assert(bad.includes("got 0 and 1"), bad);
});
