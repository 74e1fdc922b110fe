/**
 * `Identity` for the `wasm` backend without a copy. The stock kernel copies
 * the whole buffer, and TensorFlow.js clones (runs `Identity` on) every
 * tensor a kernel saves for its gradient, so a training step on wasm copied
 * hundreds of activation-sized buffers. This kernel shares the input's
 * buffer and increments its reference count, as the backend's own `Reshape`
 * does; wasm kernels never write into their inputs, so sharing is safe.
 * Strings go to the stock kernel.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { stockKernel } from "./stock.ts";

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

/**
 * Pure kernel: the tensor info of the output, which shares `x`'s data (the
 * caller increments the reference count).
 *
 * @example
 * ```ts
 * import { identityImpl } from "./identity.ts";
 * const id = {};
 * const out = identityImpl({ dataId: id, shape: [2, 3], dtype: "float32" });
 * if (out.dataId !== id || out.shape.join() !== "2,3") throw new Error();
 * ```
 */
export function identityImpl(x: tf.TensorInfo): tf.TensorInfo {
  return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
}

function identityWasm(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  if (x.dtype === "string") {
    const stock = stockKernel(tf.Identity, "wasm");
    if (!stock) {
      throw new Error(
        `Identity (wasm): dtype ${x.dtype} needs the stock kernel, which is missing`,
      );
    }
    return stock.kernelFunc(args) as tf.TensorInfo;
  }
  (args.backend as unknown as RefCountingBackend).incRef(x.dataId);
  return identityImpl(x);
}

/**
 * The kernel registration for the `wasm` backend (registered only through
 * `registry.ts`, which keeps the stock kernel as the fallback).
 *
 * @example
 * ```ts
 * import { identityWasmConfig } from "./identity.ts";
 * if (identityWasmConfig.kernelName !== "Identity") throw new Error();
 * ```
 */
export const identityWasmConfig: tf.KernelConfig = {
  kernelName: tf.Identity,
  backendName: "wasm",
  kernelFunc: identityWasm as tf.KernelFunc,
};
