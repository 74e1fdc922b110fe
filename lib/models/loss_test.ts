import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { useBackend } from "../backend.ts";
import "./layers.ts"; // registers gradients
import {
  countErrors,
  perExampleCrossEntropy,
  softmaxCrossEntropy,
} from "./loss.ts";

await useBackend("cpu");

const LOGITS = [[1, 2, 3], [0, 0, 0], [2, -1, 0.5]];
const LABELS = [2, 0, 1];
/** -log softmax(z)_y by hand, in double precision. */
const ce = (z: number[], y: number) =>
  Math.log(z.reduce((a, v) => a + Math.exp(v), 0)) - z[y];

Deno.test("cross-entropy: per-example and mean equal hand-computed values", () => {
  const want = LOGITS.map((z, i) => ce(z, LABELS[i]));
  // e.g. example 1: log(1 + e^-1 + e^-2) = 0.40760596...
  assertAlmostEquals(want[0], 0.40760596444, 1e-9);
  const per = perExampleCrossEntropy(
    tf.tensor2d(LOGITS),
    tf.tensor1d(LABELS, "int32"),
  );
  assertEquals(per.shape, [3]);
  per.dataSync().forEach((v, i) => assertAlmostEquals(v, want[i], 1e-6));
  const mean = softmaxCrossEntropy(
    tf.tensor2d(LOGITS),
    tf.tensor1d(LABELS, "int32"),
  );
  assertAlmostEquals(
    mean.dataSync()[0],
    (want[0] + want[1] + want[2]) / 3,
    1e-6,
  );
  // Float labels are accepted (cast).
  const f = softmaxCrossEntropy(
    tf.tensor2d(LOGITS),
    tf.tensor1d(LABELS, "float32"),
  );
  assertAlmostEquals(f.dataSync()[0], mean.dataSync()[0], 1e-7);
});

Deno.test("cross-entropy: stable for large logits", () => {
  const l = perExampleCrossEntropy(
    tf.tensor2d([[1000, 0], [-1000, 1000]]),
    tf.tensor1d([1, 1], "int32"),
  ).dataSync();
  assertAlmostEquals(l[0], 1000, 1e-3);
  assertAlmostEquals(l[1], 0, 1e-6);
});

Deno.test("cross-entropy: gradient w.r.t. logits is (softmax - onehot) / batch", () => {
  const g = tf.grad((z: tf.Tensor) =>
    softmaxCrossEntropy(z as tf.Tensor2D, tf.tensor1d(LABELS, "int32"))
  )(tf.tensor2d(LOGITS)).arraySync() as number[][];
  LOGITS.forEach((z, i) => {
    const s = z.reduce((a, v) => a + Math.exp(v), 0);
    z.forEach((v, j) =>
      assertAlmostEquals(
        g[i][j],
        (Math.exp(v) / s - (j === LABELS[i] ? 1 : 0)) / 3,
        1e-6,
      )
    );
  });
});

Deno.test("countErrors: top-1 mistakes, ties go to the lowest index", () => {
  // argmax: 2 (right), 0 (tie -> 0, right), 0 (wrong: label 1).
  assertEquals(
    countErrors(tf.tensor2d(LOGITS), tf.tensor1d(LABELS, "int32")),
    1,
  );
  assertEquals(
    countErrors(tf.tensor2d([[1, 1]]), tf.tensor1d([1], "int32")),
    1,
  );
});

Deno.test("losses: shape errors name the shapes given", () => {
  assertThrows(
    () =>
      softmaxCrossEntropy(tf.tensor2d([[1, 2]]), tf.tensor1d([0, 1], "int32")),
    Error,
    "got [2]",
  );
  assertThrows(
    () =>
      perExampleCrossEntropy(
        tf.tensor1d([1, 2]) as unknown as tf.Tensor2D,
        tf.tensor1d([0], "int32"),
      ),
    Error,
    "got shape [2]",
  );
});
