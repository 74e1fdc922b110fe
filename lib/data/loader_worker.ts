/**
 * The Web Worker behind `DataLoader.batches({ worker: true })`: receives the
 * image set (pixels in a SharedArrayBuffer) and the {@link BatchPlan} once,
 * then answers `{kind: "batch", epoch, k}` with {@link planBatch}'s result,
 * transferring the arrays. It imports no TensorFlow.js.
 *
 * @module
 */
import {
  type BatchPlan,
  epochOrder,
  type HostBatch,
  planBatch,
} from "./batch_plan.ts";
import type { ImageSet } from "./image_set.ts";

/** The messages this worker accepts. */
export type LoaderWorkerRequest =
  | { kind: "init"; set: ImageSet; plan: BatchPlan }
  | { kind: "batch"; epoch: number; k: number };

/** A worker's state between messages. */
export interface LoaderWorkerState {
  set: ImageSet | null;
  plan: BatchPlan | null;
  orderEpoch: number;
  order: Uint32Array;
}

/**
 * Handles one request (the worker's message handler; exported for tests).
 *
 * @example
 * ```ts
 * import { handleLoaderRequest, newLoaderWorkerState } from "./loader_worker.ts";
 * import { syntheticImages } from "./synthetic_images.ts";
 * const st = newLoaderWorkerState();
 * handleLoaderRequest(st, { kind: "init", set: syntheticImages({ n: 4, seed: 0 }), plan: {
 *   batchSize: 2, seed: 0, augment: { mean: [0, 0, 0], std: [1, 1, 1] }, train: false,
 *   shuffle: false, dropLast: false } });
 * const r = handleLoaderRequest(st, { kind: "batch", epoch: 0, k: 1 });
 * if (!r || r.indices.join() !== "2,3") throw new Error();
 * ```
 */
export function handleLoaderRequest(
  st: LoaderWorkerState,
  req: LoaderWorkerRequest,
): (HostBatch & { k: number }) | null {
  if (req.kind === "init") {
    st.set = req.set;
    st.plan = req.plan;
    st.orderEpoch = -1;
    return null;
  }
  if (!st.set || !st.plan) throw new Error("loader worker: batch before init");
  if (st.orderEpoch !== req.epoch) {
    st.order = epochOrder(st.set.n, st.plan.seed, req.epoch, st.plan.shuffle);
    st.orderEpoch = req.epoch;
  }
  return {
    k: req.k,
    ...planBatch(st.set, st.plan, st.order, req.epoch, req.k),
  };
}

/**
 * A fresh worker state.
 *
 * @example
 * ```ts
 * import { newLoaderWorkerState } from "./loader_worker.ts";
 * if (newLoaderWorkerState().set !== null) throw new Error();
 * ```
 */
export function newLoaderWorkerState(): LoaderWorkerState {
  return { set: null, plan: null, orderEpoch: -1, order: new Uint32Array(0) };
}

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
if (
  typeof scope.WorkerGlobalScope !== "undefined" &&
  scope instanceof scope.WorkerGlobalScope
) {
  const st = newLoaderWorkerState();
  scope.onmessage = (ev: MessageEvent<LoaderWorkerRequest>) => {
    const k = ev.data.kind === "batch" ? ev.data.k : -1;
    try {
      const r = handleLoaderRequest(st, ev.data);
      if (r) scope.postMessage(r, [r.x.buffer, r.y.buffer, r.indices.buffer]);
    } catch (e) {
      scope.postMessage({ k, error: (e as Error).message });
    }
  };
}
