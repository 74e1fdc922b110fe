/**
 * Loss landscapes of a parameter block: along one direction (1-D) and on the
 * plane of two directions (2-D). Directions are float64 vectors in the
 * block's flattening order (`lib/analysis/hessian.ts`); the loss is any
 * {@link BlockObjective} (e.g. training or test loss in chunks).
 *
 * @module
 */
import type { BlockObjective } from "./hessian.ts";
import { flattenParams, objectiveLoss, unflattenLike } from "./hessian.ts";

/** One point of a 1-D landscape. */
export interface LossPoint {
  /** Step along the direction (parameter units for a unit direction). */
  t: number;
  loss: number;
}

/**
 * `L(params + t d)` for each `t` in `ts`.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import { lossAlongDirection } from "./landscape.ts";
 * const obj = { params: { w: tf.tensor1d([1, 0]) },
 *   chunks: [{ weight: 1, loss: (p: Record<string, tf.Tensor>) => tf.sum(tf.square(p.w)) as tf.Scalar }] };
 * const pts = lossAlongDirection(obj, Float64Array.of(-1, 0), [0, 1, 2]);
 * if (pts.map((p) => p.loss).join() !== "1,0,1") throw new Error(JSON.stringify(pts));
 * ```
 */
export function lossAlongDirection(
  obj: BlockObjective,
  direction: ArrayLike<number>,
  ts: number[],
): LossPoint[] {
  const base = flattenParams(obj.params);
  if (direction.length !== base.length) {
    throw new Error(
      `lossAlongDirection: direction has ${direction.length} entries, the block has ${base.length}`,
    );
  }
  const x = new Float64Array(base.length);
  return ts.map((t) => {
    for (let i = 0; i < x.length; i++) x[i] = base[i] + t * direction[i];
    const p = unflattenLike(x, obj.params);
    try {
      return { t, loss: objectiveLoss(obj, p) };
    } finally {
      for (const v of Object.values(p)) v.dispose();
    }
  });
}

/**
 * `L(params + s d1 + t d2)` on the grid `ss x ts`; `loss[i][j]` is at
 * `(ss[i], ts[j])`.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import { lossOnPlane } from "./landscape.ts";
 * const obj = { params: { w: tf.tensor1d([0, 0]) },
 *   chunks: [{ weight: 1, loss: (p: Record<string, tf.Tensor>) => tf.sum(tf.square(p.w)) as tf.Scalar }] };
 * const g = lossOnPlane(obj, Float64Array.of(1, 0), Float64Array.of(0, 1), [1, 2], [0, 3]);
 * if (g.loss[1][1] !== 13) throw new Error(JSON.stringify(g));
 * ```
 */
export function lossOnPlane(
  obj: BlockObjective,
  d1: ArrayLike<number>,
  d2: ArrayLike<number>,
  ss: number[],
  ts: number[],
): { s: number[]; t: number[]; loss: number[][] } {
  const base = flattenParams(obj.params);
  if (d1.length !== base.length || d2.length !== base.length) {
    throw new Error(
      `lossOnPlane: directions have ${d1.length} and ${d2.length} entries, the block has ${base.length}`,
    );
  }
  const x = new Float64Array(base.length);
  const loss = ss.map((s) =>
    ts.map((t) => {
      for (let i = 0; i < x.length; i++) {
        x[i] = base[i] + s * d1[i] + t * d2[i];
      }
      const p = unflattenLike(x, obj.params);
      try {
        return objectiveLoss(obj, p);
      } finally {
        for (const v of Object.values(p)) v.dispose();
      }
    })
  );
  return { s: ss.slice(), t: ts.slice(), loss };
}
