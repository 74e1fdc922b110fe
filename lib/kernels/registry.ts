/**
 * The one registry of kernels this project adds to TensorFlow.js backends
 * (see `lib/kernels/*`). `lib/backend.ts` calls {@link registerProjectKernels}
 * after choosing a backend; nothing else registers kernels.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";

/** Every kernel config this project registers, by backend name. */
export const PROJECT_KERNELS: Record<string, tf.KernelConfig[]> = {};

/**
 * Registers the project's kernels for `backendName` (idempotent).
 * Returns the kernel names registered.
 *
 * @example
 * ```ts
 * import { registerProjectKernels } from "./registry.ts";
 * registerProjectKernels("cpu");
 * ```
 */
export function registerProjectKernels(backendName: string): string[] {
  const configs = PROJECT_KERNELS[backendName] ?? [];
  const done: string[] = [];
  for (const config of configs) {
    const existing = tf.getKernel(config.kernelName, backendName);
    if (existing?.kernelFunc === config.kernelFunc) continue;
    if (existing) tf.unregisterKernel(config.kernelName, backendName);
    tf.registerKernel(config);
    done.push(config.kernelName);
  }
  return done;
}
