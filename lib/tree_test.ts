import { assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "./backend.ts";
import {
  axpy,
  cloneTree,
  disposeTree,
  globalNorm,
  leaf,
  mapTree,
  scaleTree,
  treeFromArrays,
  treeSize,
  treeToArrays,
  zerosLike,
} from "./tree.ts";

await useBackend("cpu");

Deno.test("tree: axpy, scale, norm match hand-computed values and leak nothing", () => {
  const a = { w: tf.tensor1d([1, 2]), b: tf.tensor1d([3]) };
  const b = { w: tf.tensor1d([10, 20]), b: tf.tensor1d([30]) };
  const before = tf.memory().numTensors;
  const s = axpy(a, b, 0.5);
  assertEquals(Array.from(s.w.dataSync()), [6, 12]);
  assertEquals(Array.from(s.b.dataSync()), [18]);
  const t = scaleTree(a, -2);
  assertEquals(Array.from(t.w.dataSync()), [-2, -4]);
  const n = globalNorm(a);
  assertAlmostEquals(n.dataSync()[0], Math.sqrt(1 + 4 + 9), 1e-6);
  disposeTree(s, t);
  n.dispose();
  assertEquals(tf.memory().numTensors, before);
  disposeTree(a, b);
});

Deno.test("tree: mismatched keys are rejected with both key lists", () => {
  const a = { w: tf.tensor1d([1]) }, b = { v: tf.tensor1d([1]) };
  assertThrows(() => axpy(a, b), Error, "[w] vs [v]");
  disposeTree(a, b);
});

Deno.test("tree: arrays round trip, clone, zeros, size, map keep key order", async () => {
  const a = { z: tf.tensor2d([[1, 2], [3, 4]]), a: tf.tensor1d([5]) };
  const arrays = await treeToArrays(a);
  const back = treeFromArrays(arrays);
  assertEquals(Object.keys(back), ["z", "a"]);
  assertEquals(back.z.shape, [2, 2]);
  assertEquals(Array.from(back.z.dataSync()), [1, 2, 3, 4]);
  assertEquals(treeSize(a), 5);
  const c = cloneTree(a);
  a.a.dispose();
  assertEquals(Array.from(c.a.dataSync()), [5]);
  const z = zerosLike(c);
  assertEquals(Array.from(z.z.dataSync()), [0, 0, 0, 0]);
  const m = mapTree(c, (t, k) => k === "a" ? tf.add(t, 1) : tf.clone(t));
  assertEquals(Array.from(m.a.dataSync()), [6]);
  disposeTree(back, c, z, m, { z: a.z });
});

Deno.test("tree: leaf returns the tensor or names the missing key and the keys", () => {
  const t = {
    a: tf.scalar(1),
    b: tf.scalar(2),
    c: tf.scalar(3),
    d: tf.scalar(4),
    e: tf.scalar(5),
  };
  assertEquals(leaf(t, "b"), t.b);
  assertThrows(
    () => leaf(t, "z"),
    Error,
    'missing tensor "z" (tree has 5 keys: a, b, c, d, ...)',
  );
  disposeTree(t);
});
