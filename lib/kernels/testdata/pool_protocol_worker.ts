/**
 * Test helper: a kernel pool Worker with test jobs (see
 * `pool_protocol.ts`): `test.mark` adds 1 (calling thread) or 2 (a Worker)
 * to `heap[args[0] + item]` after a short busy wait; `test.failInWorkers`
 * throws in Workers only.
 *
 * @module
 */
import { isMainThread, parentPort } from "node:worker_threads";
import { type ParallelJob, serveKernelPool } from "../parallel.ts";

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* wait */ }
}

/**
 * The test jobs, shared with the calling side.
 *
 * @example
 * ```ts
 * import { TEST_JOBS } from "./pool_protocol_worker.ts";
 * const heap = new Float32Array(3);
 * TEST_JOBS[0].run(heap, Float64Array.of(1, 0), 0, 2);
 * if (heap.join() !== "0,1,1") throw new Error(heap.join());
 * ```
 */
export const TEST_JOBS: ParallelJob[] = [
  {
    name: "test.mark",
    run(heap, args, lo, hi) {
      for (let i = lo; i < hi; i++) {
        busy(args[1]);
        heap[args[0] + i] += isMainThread ? 1 : 2;
      }
    },
  },
  {
    name: "test.failInWorkers",
    run(_heap, _args, lo) {
      busy(0.05);
      if (!isMainThread) throw new Error(`item ${lo} failed on purpose`);
    },
  },
];

if (parentPort && !isMainThread) serveKernelPool(TEST_JOBS, parentPort);
