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
  /** The Emscripten module: its memory is `wasmMemory` (threaded binary) or `asm.memory`. */
  wasm?: {
    wasmMemory?: WebAssembly.Memory;
    asm?: { memory?: WebAssembly.Memory };
  };
}

/**
 * Where a tensor's data starts on the wasm heap, in float32 elements (the
 * offsets a kernel pool job takes, `parallel.ts`).
 *
 * @example
 * ```ts
 * import { heapOffset } from "./wasm_backend.ts";
 * const heap = new Float32Array(8);
 * const fake = { typedArrayFromHeap: () => heap.subarray(3, 5) };
 * if (heapOffset(fake as never, { dataId: {}, shape: [2], dtype: "float32" }) !== 3) throw new Error();
 * ```
 */
export function heapOffset(
  backend: WasmBackendLike,
  t: tf.TensorInfo,
): number {
  return backend.typedArrayFromHeap(t).byteOffset / 4;
}

/**
 * The backend's heap as a `WebAssembly.Memory` (shared for the threaded
 * binary), which generated kernels import; one line naming the problem
 * when the backend does not expose it.
 *
 * @example
 * ```ts
 * import { wasmMemory } from "./wasm_backend.ts";
 * const memory = new WebAssembly.Memory({ initial: 1 });
 * const fake = { wasm: { asm: { memory } } };
 * if (wasmMemory(fake as never) !== memory) throw new Error();
 * ```
 */
export function wasmMemory(backend: WasmBackendLike): WebAssembly.Memory {
  const memory = backend.wasm?.wasmMemory ?? backend.wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) {
    throw new Error(
      "wasm backend: its module exposes no WebAssembly.Memory (neither wasmMemory nor asm.memory)",
    );
  }
  return memory;
}
