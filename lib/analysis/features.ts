/**
 * The exact classifier curvature of a mini-batch given its features
 * ({@link batchCurvature}; the features come from `featuresOf` of
 * `lib/models/model.ts`). The toy figures and the checkpoint statistics both
 * go through it.
 *
 * @module
 */
import { ClassifierCurvature } from "./classifier_hessian.ts";

/**
 * The exact classifier curvature (float64) of a mini-batch at classifier
 * parameters `theta`, from row-major features (`labels.length` rows, or the
 * rows `options.rows` of a larger feature matrix).
 *
 * @example
 * ```ts
 * import { batchCurvature } from "./features.ts";
 * const feats = new Float32Array([1, 0, 0, 1, 1, 1]);
 * const c = batchCurvature(feats, new Int32Array([0, 1, 1]), new Float64Array(6), {
 *   numClasses: 2, rows: [0, 2],
 * });
 * if (c.size !== 6) throw new Error(String(c.size));
 * ```
 */
export function batchCurvature(
  features: Float32Array,
  labels: Int32Array,
  theta: Float64Array,
  options: { numClasses: number; rows?: ArrayLike<number> },
): ClassifierCurvature {
  const { numClasses, rows } = options;
  const dim = features.length / labels.length;
  if (!Number.isInteger(dim)) {
    throw new RangeError(
      `batchCurvature: ${features.length} feature values do not split into ${labels.length} rows`,
    );
  }
  if (!rows) {
    return new ClassifierCurvature(features, labels, theta, {
      dim,
      numClasses,
    });
  }
  const f = new Float32Array(rows.length * dim);
  const y = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const j = rows[i];
    f.set(features.subarray(j * dim, (j + 1) * dim), i * dim);
    y[i] = labels[j];
  }
  return new ClassifierCurvature(f, y, theta, { dim, numClasses });
}
