/**
 * Parameter trees: flat, ordered records of named tensors, and the few pure
 * operations the optimizers need on them. Keys are dotted paths such as
 * `"block1.conv1.kernel"`; every function keeps the key order of its first
 * argument and returns new tensors (callers own and dispose them).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";

/** A flat record of named tensors: model parameters, gradients, optimizer slots, BN statistics. */
export type Params = Record<string, tf.Tensor>;

function sameKeys(a: Params, b: Params, what: string): void {
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length || ka.some((k) => !(k in b))) {
    throw new Error(
      `${what}: parameter trees differ: [${ka.join(", ")}] vs [${
        kb.join(", ")
      }]`,
    );
  }
}

/**
 * The tensor at `key`, or an error naming the key and (the start of) the
 * tree's keys.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "./backend.ts";
 * import { leaf } from "./tree.ts";
 * await useBackend("cpu");
 * const w = tf.ones([2]);
 * if (leaf({ w }, "w") !== w) throw new Error();
 * ```
 */
export function leaf(tree: Params, key: string): tf.Tensor {
  const t = tree[key];
  if (t === undefined) {
    const keys = Object.keys(tree);
    throw new Error(
      `missing tensor "${key}" (tree has ${keys.length} keys: ${
        keys.slice(0, 4).join(", ")
      }${keys.length > 4 ? ", ..." : ""})`,
    );
  }
  return t;
}

/**
 * Applies `fn` to every tensor, keeping the keys.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "./backend.ts";
 * import { mapTree } from "./tree.ts";
 * await useBackend("cpu");
 * const doubled = mapTree({ w: tf.ones([2]) }, (t) => tf.mul(t, 2));
 * if (doubled.w.dataSync()[0] !== 2) throw new Error();
 * ```
 */
export function mapTree(
  a: Params,
  fn: (t: tf.Tensor, key: string) => tf.Tensor,
): Params {
  const out: Params = {};
  for (const k of Object.keys(a)) out[k] = fn(a[k], k);
  return out;
}

/** Applies `fn` to matching tensors of two trees with the same keys. */
export function zipTree(
  a: Params,
  b: Params,
  fn: (x: tf.Tensor, y: tf.Tensor, key: string) => tf.Tensor,
): Params {
  sameKeys(a, b, "zipTree");
  const out: Params = {};
  for (const k of Object.keys(a)) out[k] = fn(a[k], b[k], k);
  return out;
}

/** `a + alpha * b`, leafwise (no intermediate tensors survive). */
export function axpy(a: Params, b: Params, alpha = 1): Params {
  return zipTree(
    a,
    b,
    (x, y) =>
      alpha === 1 ? tf.add(x, y) : tf.tidy(() => tf.add(x, tf.mul(y, alpha))),
  );
}

/** `alpha * a`, leafwise. */
export function scaleTree(a: Params, alpha: number | tf.Scalar): Params {
  return mapTree(a, (x) => tf.mul(x, alpha));
}

/** Zeros shaped like every leaf. */
export function zerosLike(a: Params): Params {
  return mapTree(a, (x) => tf.zerosLike(x));
}

/** The global Euclidean norm over all leaves, as a scalar tensor. */
export function globalNorm(a: Params): tf.Scalar {
  return tf.tidy(() => {
    const sq = Object.values(a).map((t) => tf.sum(tf.square(t)));
    return sq.length === 0 ? tf.scalar(0) : tf.sqrt(tf.addN(sq)) as tf.Scalar;
  });
}

/** Copies every leaf (`tf.clone`), e.g. to keep a value past a `dispose`. */
export function cloneTree(a: Params): Params {
  return mapTree(a, (x) => tf.clone(x));
}

/** Disposes every leaf of each tree given. */
export function disposeTree(...trees: (Params | undefined)[]): void {
  for (const t of trees) {
    if (t) {
      for (const v of Object.values(t)) v.dispose();
    }
  }
}

/** Keeps every leaf alive past the enclosing `tf.tidy`. */
export function keepTree<T extends Params>(a: T): T {
  for (const v of Object.values(a)) tf.keep(v);
  return a;
}

/** The number of scalar entries in the tree. */
export function treeSize(a: Params): number {
  return Object.values(a).reduce((n, t) => n + t.size, 0);
}

/** Snapshots the tree as plain arrays (for checkpoints and tests). */
export async function treeToArrays(
  a: Params,
): Promise<Record<string, { shape: number[]; data: Float32Array }>> {
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const k of Object.keys(a)) {
    out[k] = {
      shape: a[k].shape.slice(),
      data: (await a[k].data()) as Float32Array,
    };
  }
  return out;
}

/** The inverse of {@link treeToArrays}. */
export function treeFromArrays(
  a: Record<string, { shape: number[]; data: Float32Array | number[] }>,
): Params {
  const out: Params = {};
  for (const k of Object.keys(a)) {
    out[k] = tf.tensor(a[k].data, a[k].shape, "float32");
  }
  return out;
}
