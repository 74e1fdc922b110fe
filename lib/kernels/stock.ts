/**
 * The stock kernels that `registry.ts` replaced, kept so that a project kernel
 * can hand a case it does not cover back to the original implementation.
 *
 * @module
 */
import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";

const stock = new Map<string, tf.KernelConfig>();

/**
 * Records the stock kernel `config` before the registry replaces it. Only
 * `registry.ts` calls this; the first record per kernel and backend wins.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { rememberStockKernel, stockKernel } from "./stock.ts";
 * const config = { kernelName: "Example", backendName: "none", kernelFunc: () => ({}) };
 * rememberStockKernel(config as unknown as tf.KernelConfig);
 * if (stockKernel("Example", "none") !== (config as unknown)) throw new Error();
 * ```
 */
export function rememberStockKernel(config: tf.KernelConfig): void {
  const key = `${config.backendName}/${config.kernelName}`;
  if (!stock.has(key)) stock.set(key, config);
}

/**
 * The stock kernel a project kernel replaced, or undefined if there was none.
 *
 * @example
 * ```ts
 * import { stockKernel } from "./stock.ts";
 * if (stockKernel("NoSuchKernel", "wasm") !== undefined) throw new Error();
 * ```
 */
export function stockKernel(
  kernelName: string,
  backendName: string,
): tf.KernelConfig | undefined {
  return stock.get(`${backendName}/${kernelName}`);
}
