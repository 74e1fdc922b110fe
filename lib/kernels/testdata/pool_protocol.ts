/**
 * Test helper: starts a kernel pool of 2 Workers (`pool_protocol_worker.ts`)
 * on a shared memory and prints one JSON line: how often each item of a
 * 2000-item job ran and which thread kinds ran them, the error a job that
 * fails in Workers raised, and the same after that error.
 *
 * Usage: deno run -A lib/kernels/testdata/pool_protocol.ts
 *
 * @module
 */
import { runParallel, startKernelPool } from "../parallel.ts";
import { TEST_JOBS } from "./pool_protocol_worker.ts";

const memory = new WebAssembly.Memory({
  initial: 1,
  maximum: 4,
  shared: true,
});
const threads = await startKernelPool(memory, 2, {
  workerScript: new URL("./pool_protocol_worker.ts", import.meta.url),
});
const N = 2000;

function mark(): { runs: number[]; byCaller: number; byWorkers: number } {
  // Grow the memory first: Workers must see the new pages.
  if (memory.buffer.byteLength < 3 * 65536) memory.grow(2);
  const heap = new Float32Array(memory.buffer);
  const at = 2 * 65536 / 4;
  heap.fill(0, at, at + N);
  runParallel(TEST_JOBS[0], heap, [at, 0.01], { items: N });
  const runs = Array.from(heap.subarray(at, at + N));
  return {
    // 1 = the caller ran it once, 2 = a Worker ran it once.
    runs: [...new Set(runs)].sort(),
    byCaller: runs.filter((v) => v === 1).length,
    byWorkers: runs.filter((v) => v === 2).length,
  };
}

const first = mark();
let error = "";
try {
  runParallel(TEST_JOBS[1], new Float32Array(memory.buffer), [], {
    items: N,
  });
} catch (e) {
  error = (e as Error).message;
}
const after = mark();
console.log(JSON.stringify({ threads, first, error, after }));
