/**
 * The slice of tfjs-backend-wasm's `BackendWasm` API that this project's
 * wasm kernels use (the package exports no type for it).
 *
 * @module
 */
import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";

/**
 * What a wasm kernel calls on its `backend` argument: allocate an output on
 * the heap, view a tensor's heap bytes as float32 (views detach when the
 * heap grows, so take them after allocating), free a temporary.
 */
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  disposeData(dataId: tf.DataId): boolean;
}
