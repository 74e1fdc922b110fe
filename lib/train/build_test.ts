import { assertEquals, assertNotEquals } from "@std/assert";
import { useBackend } from "../backend.ts";
import { datasetInfo } from "../data/dataset_registry.ts";
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
