import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { assert } from "@std/assert";
import { useBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import { disposeTree } from "../tree.ts";
import { denseHessian, hessianVectorProduct } from "./hessian.ts";
import { ClassifierCurvature, classifierVector } from "./classifier_hessian.ts";
import { lanczosTopK, symmetricEigen } from "./eigen.ts";
import { toyTrainingConfig, trainToyModels } from "./toy_training.ts";
import { layerObjective } from "./toy_fig1.ts";

await useBackend("cpu");

Deno.test("trained toy MLP: generalisation gap; Lanczos and exact final-layer eigenpairs agree with dense Hessians", () => {
  const c = toyTrainingConfig("smoke");
  const r = trainToyModels({ ...c, pof: { ...c.pof, epochs: 0 } }, { seed: 1 });
  const p = r.sgd.params;
  assert(
    r.sgd.test.loss > r.sgd.train.loss + 0.05,
    `gap: ${JSON.stringify(r.sgd)}`,
  );
  // hidden layer 2: Lanczos (double backprop) vs a dense Hessian from n products
  const obj = layerObjective(r.model, p, r.data.train, 2, { chunkSize: 64 });
  const n = Object.values(obj.params).reduce((s, t) => s + t.size, 0);
  const dense = symmetricEigen(denseHessian(obj), n);
  const lz = lanczosTopK((v) => hessianVectorProduct(obj, v), n, {
    k: 2,
    steps: 60,
    rng: new Rng(0),
  });
  for (let k = 0; k < 2; k++) {
    assert(
      Math.abs(lz.values[k] / dense.values[k] - 1) < 1e-3,
      `${lz.values[k]} vs ${dense.values[k]}`,
    );
    const cos = lz.vectors[k].reduce(
      (s, x, i) => s + x * dense.vectors[k][i],
      0,
    );
    assert(Math.abs(cos) >= 0.999, `|cos| ${cos}`);
  }
  // final layer: the exact classifier Hessian vs double backprop through the model
  const fin = layerObjective(r.model, p, r.data.train, 5);
  const feats = new Float32Array(r.data.train.n * r.model.featureDim);
  const x = tf.tensor2d(r.data.train.x, [r.data.train.n, 16]);
  const ft = r.model.features(p.features, {}, x, { train: false }).features;
  feats.set(ft.dataSync());
  const cc = new ClassifierCurvature(
    feats,
    r.data.train.y,
    classifierVector(p.classifier),
    {
      dim: r.model.featureDim,
      numClasses: 4,
    },
  );
  const exact = symmetricEigen(cc.dense(), cc.size);
  const lzf = lanczosTopK((v) => hessianVectorProduct(fin, v), cc.size, {
    k: 1,
    steps: 40,
    rng: new Rng(2),
  });
  assert(
    Math.abs(lzf.values[0] / exact.values[0] - 1) < 1e-3,
    `${lzf.values[0]} vs ${exact.values[0]}`,
  );
  disposeTree(p.features, p.classifier);
});
