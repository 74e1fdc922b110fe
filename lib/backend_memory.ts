/**
 * Running out of memory on the fast CPU path, said in one line. The `wasm`
 * backend keeps every tensor in one 32-bit WebAssembly heap, which holds at
 * most 4 GiB ({@link WASM_HEAP_BYTES}) whatever the machine has; when an
 * allocation does not fit, the module fails deep inside a kernel with
 * `RuntimeError: memory access out of bounds` (or, in other builds,
 * "Cannot enlarge memory" / "Aborted(OOM)"), which names neither the cause
 * nor a remedy. {@link explainMemoryError} turns such an error into a
 * {@link BackendMemoryError} that says what ran out, how much tensors held,
 * and what to change. Measured (README, GPU section): a WRN-28-10 SGD step
 * at batch 32 on 32x32x3 images fails with 3.4 GB held; batch 16 fits.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";

/** The largest heap of the `wasm` backend (32-bit WebAssembly): 4 GiB. */
export const WASM_HEAP_BYTES = 4 * 1024 ** 3;

/** Messages of the wasm runtime when its heap cannot hold an allocation. */
const HEAP_EXHAUSTED =
  /memory access out of bounds|Cannot enlarge memory|Aborted\(OOM\)|Out of memory|Maximum memory size exceeded/i;

/** A backend ran out of memory (see {@link explainMemoryError}). */
export class BackendMemoryError extends Error {
  override name = "BackendMemoryError";
}

/** Options of {@link explainMemoryError}. */
export interface ExplainMemoryOptions {
  /** The active backend (default `tf.getBackend()`). */
  backend?: string;
  /** Bytes held by tensors when it failed (default `tf.memory().numBytes`). */
  heldBytes?: number;
  /** What to change, e.g. "use a smaller --rehearse-batch" (default: a smaller batch or a GPU backend). */
  remedy?: string;
}

/**
 * `error` explained when it is the `wasm` heap running out, else `error`
 * itself. `what` says what was being done (e.g. the run and its batch).
 *
 * @example
 * ```ts
 * import { BackendMemoryError, explainMemoryError } from "./backend_memory.ts";
 * const oom = new WebAssembly.RuntimeError("memory access out of bounds");
 * const e = explainMemoryError(oom, "SGD step at batch 32", { backend: "wasm", heldBytes: 3.43e9 });
 * if (!(e instanceof BackendMemoryError) || !e.message.includes("3.43 GB")) throw new Error(String(e));
 * const other = new Error("loss is NaN");
 * if (explainMemoryError(other, "step", { backend: "wasm" }) !== other) throw new Error();
 * if (explainMemoryError(oom, "step", { backend: "cpu" }) !== oom) throw new Error();
 * ```
 */
export function explainMemoryError(
  error: unknown,
  what: string,
  options: ExplainMemoryOptions = {},
): unknown {
  const backend = options.backend ?? tf.getBackend();
  if (backend !== "wasm" || error instanceof BackendMemoryError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (!HEAP_EXHAUSTED.test(message)) return error;
  const held = options.heldBytes ?? tf.memory().numBytes;
  const remedy = options.remedy ??
    "use a smaller batch (in a rehearsal: --rehearse-batch), or the tensorflow backend on a GPU";
  return new BackendMemoryError(
    `${what}: out of memory on the wasm backend, whose heap holds at most ${
      WASM_HEAP_BYTES / 1024 ** 3
    } GiB whatever the machine has (tensors held ${
      (held / 1e9).toFixed(2)
    } GB when it failed: "${message}"); ${remedy}`,
    { cause: error },
  );
}
