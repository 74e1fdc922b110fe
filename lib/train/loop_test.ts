import { assertAlmostEquals, assertEquals } from "@std/assert";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { useBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import { disposeTree, type Params } from "../tree.ts";
import { wideResNet } from "../models/wide_resnet.ts";
import { evaluate } from "./loop.ts";
import {
  referenceCrossEntropy,
  referenceWrn,
  type RefTree,
} from "../../tests/helpers/reference_nets.ts";

await useBackend("cpu");

Deno.test("evaluate: inference-mode loss (example-weighted over uneven batches) and error % equal the float64 reference network's", () => {
  const arch = { depth: 10, widen: 1, numClasses: 3, inputShape: [8, 8, 3] };
  const m = wideResNet(arch);
  const rng = new Rng(31);
  const { params, state } = m.init(rng);
  // Running statistics far from a batch's own, so train mode would differ.
  for (const k of Object.keys(state)) {
    const lo = k.endsWith(".mean") ? -0.5 : 0.3,
      hi = k.endsWith(".mean") ? 0.5 : 3;
    const old = state[k];
    state[k] = tf.tensor1d(
      Float32Array.from({ length: old.size }, () => rng.range(lo, hi)),
    );
    old.dispose();
  }
  const n = 5, px = 8 * 8 * 3;
  const x = Float32Array.from(rng.normalArray(n * px));
  const y = [0, 2, 1, 1, 0];
  const data = {
    size: n,
    *batches() {
      for (const [a, b] of [[0, 3], [3, 5]]) {
        yield {
          x: tf.tensor4d(x.subarray(a * px, b * px), [b - a, 8, 8, 3]),
          y: tf.tensor1d(y.slice(a, b), "int32"),
        };
      }
    },
  };
  const got = evaluate(
    m,
    { params, bn: state, opt: { slots: {}, count: 0 } },
    data,
  );
  const host = (t: Params): RefTree =>
    Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.dataSync()]));
  const ref = referenceWrn(arch, {
    features: host(params.features),
    classifier: host(params.classifier),
    state: host(state),
    x,
    batch: n,
    train: false,
  });
  let wrong = 0;
  for (let b = 0; b < n; b++) {
    const z = Array.from(ref.logits.subarray(b * 3, b * 3 + 3));
    if (z.indexOf(Math.max(...z)) !== y[b]) wrong++;
  }
  assertAlmostEquals(got.loss, referenceCrossEntropy(ref.logits, y, 3), 1e-5);
  assertEquals(got.error, (100 * wrong) / n);
  disposeTree(params.features, params.classifier, state);
});
