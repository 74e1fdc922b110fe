/**
 * Losses and metrics on logits.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";

function checkLabels(logits: tf.Tensor2D, labels: tf.Tensor1D): void {
  if (logits.rank !== 2) {
    throw new Error(
      `logits must be [batch, classes], got shape [${logits.shape}]`,
    );
  }
  if (labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new Error(
      `labels must be [${
        logits.shape[0]
      }] to match logits [${logits.shape}], got [${labels.shape}]`,
    );
  }
}

/**
 * Mean softmax cross-entropy of integer labels, computed stably
 * (log-sum-exp), differentiable w.r.t. the logits.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { softmaxCrossEntropy } from "./loss.ts";
 * const loss = softmaxCrossEntropy(tf.tensor2d([[0, 0]]), tf.tensor1d([1], "int32"));
 * if (Math.abs(loss.dataSync()[0] - Math.log(2)) > 1e-6) throw new Error();
 * ```
 */
export function softmaxCrossEntropy(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
): tf.Scalar {
  checkLabels(logits, labels);
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits);
    const onehot = tf.oneHot(tf.cast(labels, "int32"), logits.shape[1]);
    return tf.neg(tf.mean(tf.sum(tf.mul(onehot, logp), 1))) as tf.Scalar;
  });
}

/**
 * Per-example softmax cross-entropy, shape [batch].
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { perExampleCrossEntropy } from "./loss.ts";
 * const l = perExampleCrossEntropy(tf.tensor2d([[0, 0], [5, 0]]), tf.tensor1d([0, 0], "int32"));
 * if (l.shape[0] !== 2) throw new Error();
 * ```
 */
export function perExampleCrossEntropy(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
): tf.Tensor1D {
  checkLabels(logits, labels);
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits);
    const onehot = tf.oneHot(tf.cast(labels, "int32"), logits.shape[1]);
    return tf.neg(tf.sum(tf.mul(onehot, logp), 1)) as tf.Tensor1D;
  });
}

/**
 * Number of wrong top-1 predictions (ties resolved to the lowest index).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { countErrors } from "./loss.ts";
 * const n = countErrors(tf.tensor2d([[1, 0], [0, 1]]), tf.tensor1d([0, 0], "int32"));
 * if (n !== 1) throw new Error(String(n));
 * ```
 */
export function countErrors(logits: tf.Tensor2D, labels: tf.Tensor1D): number {
  checkLabels(logits, labels);
  return tf.tidy(() =>
    tf.sum(
      tf.cast(
        tf.notEqual(tf.argMax(logits, 1), tf.cast(labels, "int32")),
        "int32",
      ),
    )
      .dataSync()[0]
  );
}
