/**
 * The one registry of kernels this project adds to TensorFlow.js backends
 * (see `lib/kernels/*`). `lib/backend.ts` calls {@link registerProjectKernels}
 * after choosing a backend; nothing else registers kernels.
 *
 * - `wasm`: `Conv2DBackpropFilter` (missing from stock wasm, so convnets could
 *   not train) and `Conv2DBackpropInput` (stock is ~10x slower than the
 *   forward convolution), both built on the backend's own XNNPACK kernels;
 *   `BatchMatMul` with transposed operands and `Sum` over leading axes (the
 *   stock kernels take slow transpose paths that every gradient hits);
 *   `Identity` without a copy (the engine clones every tensor a kernel saves
 *   for its gradient); train-mode BatchNorm (+ ReLU) as three fused kernels
 *   (`batch_norm_train.ts`, used by `lib/models/layers.ts` where registered).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { conv2dBackpropFilterWasmConfig } from "./conv2d_backprop_filter.ts";
import { conv2dBackpropInputWasmConfig } from "./conv2d_backprop_input.ts";
import { batchMatMulWasmConfig } from "./batch_mat_mul.ts";
import { sumWasmConfig } from "./sum.ts";
import { identityWasmConfig } from "./identity.ts";
import { batchNormTrainWasmConfigs } from "./batch_norm_train.ts";
import { rememberStockKernel } from "./stock.ts";

/** Every kernel config this project registers, by backend name. */
export const PROJECT_KERNELS: Record<string, tf.KernelConfig[]> = {
  wasm: [
    conv2dBackpropFilterWasmConfig,
    conv2dBackpropInputWasmConfig,
    batchMatMulWasmConfig,
    sumWasmConfig,
    identityWasmConfig,
    ...batchNormTrainWasmConfigs,
  ],
};

/**
 * Registers the project's kernels for `backendName` (idempotent); a stock
 * kernel that gets replaced is kept for fallbacks (`stock.ts`). Returns the
 * names of the project kernels active on that backend.
 *
 * @example
 * ```ts
 * import { registerProjectKernels } from "./registry.ts";
 * if (registerProjectKernels("cpu").length !== 0) throw new Error("cpu has none");
 * ```
 */
export function registerProjectKernels(backendName: string): string[] {
  const configs = PROJECT_KERNELS[backendName] ?? [];
  const active: string[] = [];
  for (const config of configs) {
    active.push(config.kernelName);
    const existing = tf.getKernel(config.kernelName, backendName);
    if (existing?.kernelFunc === config.kernelFunc) continue;
    if (existing) {
      rememberStockKernel(existing);
      tf.unregisterKernel(config.kernelName, backendName);
    }
    tf.registerKernel(config);
  }
  return active;
}
