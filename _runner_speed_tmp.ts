import { useBackend } from "./lib/backend.ts";
import { buildRun } from "./lib/train/build.ts";
import { Rng } from "./lib/rng.ts";
await useBackend(Deno.args[0] as "cpu");
for (const [name, ds, shape] of [["sgd","synthetic-images-8x8"],["sam","synthetic-images-8x8"],["pof","synthetic-images-8x8"],["sgd","fashion-mnist"]] as const) {
  const config = { dataset: ds, model: { kind: "wrn" as const, depth: 10, widen: 1 }, method: { name, rho: 0.05, pof: {weakBatchSize: 16, gammaMax: 2} } as any,
    seed: 0, epochs: 1, batchSize: 32, schedule: { baseLr: 0.1, milestones: [], factor: 1 }, momentum: 0.9, weightDecay: 5e-4, keepEpochs: [], trainLimit: 256, testLimit: 128 };
  const parts = await buildRun(config, { optEpochOffset: 0 });
  const init = parts.model.init(new Rng(0));
  let state = { params: init.params, bn: init.state, opt: parts.method.initOpt(init.params) };
  parts.train.startEpoch(0);
  const rng = new Rng(1);
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    const b = parts.train.next();
    const out = parts.method.step(parts.model, state, { batch: b, weakBatch: parts.train.weak }, rng);
    state = out.state;
    console.log(ds, name, i, (performance.now() - t).toFixed(0), "ms", out.metrics.loss.toFixed(3), parts.model.multiplyAdds);
  }
  const t = performance.now();
  let n=0; for (const b of parts.test.batches()) { n += b.y.shape[0]; }
  console.log("eval iter", (performance.now()-t).toFixed(0), n);
}
