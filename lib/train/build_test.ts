import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertNotEquals,
} from "@std/assert";
import { useBackend } from "../backend.ts";
import { fabricateDataset } from "../data/fixture_files.ts";
import { Rng } from "../rng.ts";
import { buildRun, methodFor, sampleBatches } from "./build.ts";
import { syntheticImages } from "../data/synthetic_images.ts";
import type { Batch } from "../data/batch.ts";
import { disposeTrainState } from "../optim/method.ts";
import { cloneTree } from "../tree.ts";
import type { RunConfig } from "./run_config.ts";
import {
  disposeBatch,
  tinyBatch,
  tinyModel,
} from "../../tests/helpers/tiny_model.ts";

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { datasetInfo, SYNTHETIC_8X8 } from "../data/dataset_registry.ts";
import { sgdMethod } from "../optim/sgd.ts";
import { samMethod } from "../optim/sam.ts";
import { pofMethod } from "../optim/pof.ts";
import { maxParamDiff, stepOutcome } from "../../tests/helpers/method_step.ts";

await useBackend("cpu");

/** Records `file` as verified against `md5` in lib/data's `.verified.json`. */
async function markVerified(dir: string, file: string, md5: string) {
  const path = await Deno.realPath(`${dir}/${file}`);
  const st = await Deno.stat(path);
  let rec: Record<string, unknown> = {};
  try {
    rec = JSON.parse(await Deno.readTextFile(`${dir}/.verified.json`));
  } catch { /* first record */ }
  rec[path] = {
    size: st.size,
    mtime: st.mtime!.getTime(),
    verified: `md5 ${md5}`,
  };
  await Deno.writeTextFile(`${dir}/.verified.json`, JSON.stringify(rec));
}

Deno.test("buildRun: an SVHN run whose trainLimit fits in train never loads (or fetches) extra", async () => {
  const cache = await Deno.makeTempDir();
  const prev = Deno.env.get("POF_DATA_DIR");
  Deno.env.set("POF_DATA_DIR", cache);
  try {
    // train (8 images) and test in the cache, verified; no extra_32x32.mat at all:
    // loading train + extra would have to download it and fail.
    const dir = `${cache}/svhn`;
    await fabricateDataset("svhn", { n: 8, seed: 4, dir });
    await Deno.remove(`${dir}/extra_32x32.mat`);
    for (const f of datasetInfo("svhn").files.slice(0, 2)) {
      await markVerified(dir, f.name, f.md5);
    }
    const config: RunConfig = {
      dataset: "svhn",
      model: { kind: "wrn", depth: 10, widen: 1 },
      method: { name: "sgd" },
      seed: 0,
      epochs: 1,
      batchSize: 4,
      schedule: { baseLr: 0.01, milestones: [], factor: 1 },
      momentum: 0.9,
      weightDecay: 5e-4,
      keepEpochs: [],
      trainLimit: 8,
      testLimit: 4,
    };
    const parts = await buildRun(config, { optEpochOffset: 0 });
    assertEquals(parts.train.stepsPerEpoch, 2);
    assertEquals(parts.test.size, 4);
    parts.dispose?.();
  } finally {
    if (prev === undefined) Deno.env.delete("POF_DATA_DIR");
    else Deno.env.set("POF_DATA_DIR", prev);
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("methodFor: a PoF run's maxXi and discardAsymmetric reach the line search", () => {
  const rng = new Rng(5);
  const model = tinyModel({ batchNorm: false });
  const init = model.init(rng);
  const config = (maxXi: number, discardAsymmetric: boolean): RunConfig => ({
    dataset: "toy",
    model: { kind: "mlp", hidden: [4] },
    method: {
      name: "pof",
      pof: { weakBatchSize: 1, gammaMax: 2, maxXi, discardAsymmetric },
    },
    seed: 0,
    epochs: 1,
    batchSize: 8,
    schedule: { baseLr: 0, milestones: [], factor: 1 },
    momentum: 0.9,
    weightDecay: 0,
    keepEpochs: [],
  });
  const made: Batch[] = [];
  const draw = (n: number) => () => {
    const b = tinyBatch(rng, n);
    made.push(b);
    return b;
  };
  // one example: the line loss falls forever, so xi* is the cap
  const step = (c: RunConfig) => {
    const m = methodFor(c, 10, 0);
    const params = {
      features: cloneTree(init.params.features),
      classifier: cloneTree(init.params.classifier),
    };
    const state = { params, bn: cloneTree(init.state), opt: m.initOpt(params) };
    const r = m.step(model, state, {
      batch: draw(8)(),
      weakBatch: draw(1),
    }, rng);
    disposeTrainState(r.state);
    return r.metrics;
  };
  const a = step(config(0.125, false));
  assertEquals([a.xi, a.lineSearches, a.xiCapped, a.discarded], [
    0.125,
    1,
    1,
    0,
  ]);
  const b = step(config(0.25, true));
  assertEquals([b.xi, b.lineSearches, b.xiCapped, b.discarded], [
    0.25,
    11,
    11,
    10,
  ]);
  for (const x of made) disposeBatch(x);
});

Deno.test("sampleBatches: augmented draws apply the training augmentation to the same examples", () => {
  const set = syntheticImages({ n: 12, seed: 3, height: 6, width: 6 });
  const aug = {
    mean: [0.5, 0.5, 0.5],
    std: [0.25, 0.25, 0.25],
    pad: 2,
    flip: true,
  };
  const draw = (augmented: boolean) =>
    [...sampleBatches(set, aug, { batchSize: 4, count: 3, seed: 7, augmented })]
      .map((b) => {
        const out = {
          x: Array.from(b.x.dataSync()),
          y: Array.from(b.y.dataSync()),
        };
        b.x.dispose();
        b.y.dispose();
        return out;
      });
  const plain = draw(false), augmented = draw(true);
  assertEquals(augmented.map((b) => b.y), plain.map((b) => b.y));
  // pad-crop and flip move pixels: the images differ, their normalisation does not
  assertNotEquals(augmented.map((b) => b.x), plain.map((b) => b.x));
  assertEquals(draw(true), augmented);
});

// ---- Wiring: every RunConfig field that changes behaviour reaches the method.
// Each value is non-default; the step built by methodFor must equal the step
// of a method built directly with that value, and differ from the default's.

const WIRED: RunConfig = {
  dataset: "toy",
  model: { kind: "mlp", hidden: [4] },
  method: { name: "sgd" },
  seed: 0,
  epochs: 10,
  batchSize: 16,
  schedule: { baseLr: 0.3, milestones: [2, 5], factor: 0.5 },
  momentum: 0.5,
  weightDecay: 0.01,
  keepEpochs: [],
};

Deno.test("wiring: schedule (baseLr, milestones, factor) and the epoch offset set the step's learning rate", () => {
  for (
    const [count, offset, lr] of [
      [0, 0, 0.3],
      [19, 0, 0.3],
      [20, 0, 0.15],
      [50, 0, 0.075],
      [0, 2, 0.15],
      [30, 2, 0.075],
    ]
  ) {
    const got = stepOutcome(methodFor(WIRED, 10, offset), { count });
    assertEquals(got.metrics.lr, lr, `count ${count} offset ${offset}`);
    const want = stepOutcome(
      sgdMethod({ lr, momentum: 0.5, nesterov: true, weightDecay: 0.01 }),
      { count },
    );
    assertEquals(maxParamDiff(got, want), 0, `count ${count} offset ${offset}`);
  }
});

Deno.test("wiring: momentum and weight decay reach the step (Nesterov)", () => {
  const direct = (momentum: number, weightDecay: number) =>
    stepOutcome(sgdMethod({ lr: 0.3, momentum, nesterov: true, weightDecay }), {
      steps: 2,
    });
  const got = stepOutcome(methodFor(WIRED, 100, 0), { steps: 2 });
  assertEquals(maxParamDiff(got, direct(0.5, 0.01)), 0);
  assert(maxParamDiff(got, direct(0.9, 0.01)) > 1e-3, "momentum ignored?");
  assert(maxParamDiff(got, direct(0.5, 5e-4)) > 1e-4, "weight decay ignored?");
  assert(
    maxParamDiff(
      got,
      stepOutcome(
        sgdMethod({
          lr: 0.3,
          momentum: 0.5,
          nesterov: false,
          weightDecay: 0.01,
        }),
        { steps: 2 },
      ),
    ) > 1e-3,
    "Nesterov off?",
  );
});

Deno.test("wiring: SAM's rho (e.g. SVHN's 0.01) is the step's perturbation radius", () => {
  for (const rho of [0.01, 0.2]) {
    const cfg: RunConfig = { ...WIRED, method: { name: "sam", rho } };
    const got = stepOutcome(methodFor(cfg, 100, 0));
    assertAlmostEquals(got.metrics.samEpsilonNorm!, rho, 1e-6);
    const want = stepOutcome(
      samMethod({
        lr: 0.3,
        momentum: 0.5,
        nesterov: true,
        weightDecay: 0.01,
        rho,
      }),
    );
    assertEquals(maxParamDiff(got, want), 0);
  }
  // No rho: the paper's 0.05.
  const d = stepOutcome(
    methodFor({ ...WIRED, method: { name: "sam" } }, 100, 0),
  );
  assertAlmostEquals(d.metrics.samEpsilonNorm!, 0.05, 1e-6);
});

Deno.test("wiring: PoF's gamma range and feature learning rate reach the step", () => {
  for (const gammaMax of [0.25, 5]) {
    const cfg: RunConfig = {
      ...WIRED,
      method: { name: "pof", pof: { weakBatchSize: 8, gammaMax } },
      schedule: { baseLr: 1e-3, milestones: [], factor: 1 },
    };
    const got = stepOutcome(methodFor(cfg, 100, 0), { rngSeed: 9 });
    // gamma ~ U[0, gammaMax]: the step's rng draws exactly this value.
    assertEquals(got.metrics.gamma, new Rng(9).range(0, gammaMax));
    assertEquals(got.metrics.lr, 1e-3);
    const want = stepOutcome(
      pofMethod({
        lr: 1e-3,
        momentum: 0.5,
        nesterov: true,
        weightDecay: 0.01,
        gamma: { kind: "uniform", low: 0, high: gammaMax },
      }),
      { rngSeed: 9 },
    );
    assertEquals(maxParamDiff(got, want), 0);
    assertEquals(got.classifier, stepOutcome(sgdMethod({ lr: 0 })).classifier);
  }
});

Deno.test("wiring: sgd-classifier trains theta only; sgd trains both", () => {
  const frozen = stepOutcome(sgdMethod({ lr: 0 }));
  const cls = stepOutcome(
    methodFor({ ...WIRED, method: { name: "sgd-classifier" } }, 100, 0),
  );
  assertEquals(cls.features, frozen.features);
  assert(
    maxParamDiff({ ...cls, features: {} }, { ...frozen, features: {} }) > 1e-3,
  );
  const all = stepOutcome(methodFor(WIRED, 100, 0));
  assert(
    maxParamDiff({ ...all, classifier: {} }, { ...frozen, classifier: {} }) >
      1e-3,
  );
});

Deno.test("wiring: batch size and PoF's weak batch size reach the data (toy and image runs)", async () => {
  for (const dataset of ["toy", SYNTHETIC_8X8]) {
    const cfg: RunConfig = {
      ...WIRED,
      dataset,
      model: dataset === "toy"
        ? { kind: "mlp", hidden: [4] }
        : { kind: "wrn", depth: 10, widen: 1 },
      batchSize: 12,
      method: { name: "pof", pof: { weakBatchSize: 5, gammaMax: 2 } },
      trainLimit: 60,
      testLimit: 20,
    };
    const parts = await buildRun(cfg, { optEpochOffset: 0 });
    parts.train.startEpoch(0);
    const b = parts.train.next();
    const w = parts.train.weak!();
    assertEquals([b.y.shape[0], w.y.shape[0]], [12, 5], dataset);
    assertEquals(parts.train.stepsPerEpoch, 5, dataset);
    tf.dispose([b.x, b.y, w.x, w.y]);
  }
});
