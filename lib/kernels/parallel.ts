/**
 * The kernel pool: Workers that run our kernels' JavaScript loops (im2col,
 * transposes, the fused BatchNorm's passes) beside the calling thread, on the
 * threaded wasm backend's shared heap. XNNPACK's own pool parallelises the
 * convolutions and matrix products; without this pool everything between
 * them ran on one core.
 *
 * A {@link ParallelJob} is a loop over `items` (e.g. blocks of channels)
 * that reads and writes only the heap, each item touching only its own
 * outputs, so it computes exactly what one thread does: every output element
 * comes from the same arithmetic in the same order whichever thread runs its
 * item (sums are split by channel, never across the summed axis). Results
 * are therefore bitwise identical for any number of threads.
 *
 * Items are claimed one at a time from a shared counter by the calling
 * thread and the Workers alike, so a Worker that wakes late (XNNPACK's pool
 * threads spin for a while after each of their calls and share its core)
 * simply does fewer items. Protocol, on a control block of shared integers:
 * the caller writes the arguments, publishes the job in the claim word
 * (generation << 16 | next item), wakes the Workers, claims items until
 * none is left, closes the job (next item = 65535, past any job's count),
 * then sleeps until no Worker is still inside an item. A
 * Worker marks itself active, then claims with a compare-and-swap that
 * also checks the generation, so a Worker of an earlier job never claims an
 * item of a later one. A round trip costs about 10-30 us.
 *
 * Workers are `node:worker_threads` Workers, un-referenced so that a
 * program exits while they sleep. Started only by `lib/backend.ts`, for the
 * threaded wasm backend; with no pool, {@link runParallel} runs every item
 * on the calling thread.
 *
 * @module
 */
import { Worker } from "node:worker_threads";

/**
 * A loop over items that threads can share. `run` does items `lo..hi-1` on
 * `heap` (the whole wasm heap as float32) with `args` (heap offsets in
 * float32 elements, sizes, flags); an item must touch only its own outputs.
 *
 * @example
 * ```ts
 * import { type ParallelJob, runParallel } from "./parallel.ts";
 * // Item i fills heap[args[0] + i] with args[1].
 * const fill: ParallelJob = {
 *   name: "example.fill",
 *   run(heap, args, lo, hi) {
 *     heap.fill(args[1], args[0] + lo, args[0] + hi);
 *   },
 * };
 * const heap = new Float32Array(8);
 * runParallel(fill, heap, [2, 7], { items: 4 });
 * if (heap.join() !== "0,0,7,7,7,7,0,0") throw new Error(heap.join());
 * ```
 */
export interface ParallelJob {
  /** Unique name (the Workers look the job up by it). */
  name: string;
  /**
   * Does items `lo..hi-1`; `memory` is the heap's `WebAssembly.Memory`
   * where the caller gave one (for jobs that run generated wasm on it).
   */
  run(
    heap: Float32Array,
    args: Float64Array,
    lo: number,
    hi: number,
    memory?: WebAssembly.Memory,
  ): void;
}

/**
 * Jobs touching fewer elements run on the calling thread (a round trip to
 * the Workers costs about 10-30 us, a pass over 2^14 floats about as much).
 *
 * @example
 * ```ts
 * import { MIN_PARALLEL_WORK } from "./parallel.ts";
 * if (MIN_PARALLEL_WORK !== 1 << 14) throw new Error();
 * ```
 */
export const MIN_PARALLEL_WORK = 1 << 14;

/**
 * Most arguments a job takes.
 *
 * @example
 * ```ts
 * import { MAX_JOB_ARGS } from "./parallel.ts";
 * if (MAX_JOB_ARGS < 20) throw new Error();
 * ```
 */
export const MAX_JOB_ARGS = 32;

/**
 * Channels per item of the jobs split by channel (BatchNorm's sums, the
 * filter gradient's transpose): V8 runs an inner loop over 32 channels of
 * a row about as fast per element as one over 64, but one over 16 about
 * 3.5x slower (measured on BatchNorm's moments of [65536, 64]), so finer
 * items would lose more than sharing gains.
 *
 * @example
 * ```ts
 * import { CHANNELS_PER_ITEM } from "./parallel.ts";
 * if (CHANNELS_PER_ITEM !== 32) throw new Error();
 * ```
 */
export const CHANNELS_PER_ITEM = 32;

/**
 * Most items a job has (the claim word keeps the next item in 16 bits).
 *
 * @example
 * ```ts
 * import { MAX_JOB_ITEMS } from "./parallel.ts";
 * if (MAX_JOB_ITEMS !== 65535) throw new Error();
 * ```
 */
export const MAX_JOB_ITEMS = 0xffff;

/** Control block slots (Int32). */
const WAKE = 0, CLAIM = 1, ACTIVE = 2, JOB = 3, ITEMS = 4, ERROR = 5;
const ERROR_LEN = 6, CONTROL_INTS = 8;
const ERROR_BYTES = 1024;

/** The shared memory of a pool, as posted to each Worker. */
interface PoolShared {
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  args: SharedArrayBuffer;
  error: SharedArrayBuffer;
}

interface Pool {
  shared: PoolShared;
  control: Int32Array;
  args: Float64Array;
  error: Uint8Array;
  workers: Worker[];
  jobIndex: Map<string, number>;
  generation: number;
}

let pool: Pool | null = null;

/**
 * Threads a {@link runParallel} call can use: 1 + the pool's Workers (1 when
 * no pool runs).
 *
 * @example
 * ```ts
 * import { kernelPoolThreads } from "./parallel.ts";
 * if (kernelPoolThreads() < 1) throw new Error();
 * ```
 */
export function kernelPoolThreads(): number {
  return pool ? pool.workers.length + 1 : 1;
}

/** Float32 view of the whole heap, refreshed after the memory grows. */
function heapView(
  memory: WebAssembly.Memory,
  last: Float32Array | null,
): Float32Array {
  const buffer = memory.buffer;
  return last && last.buffer.byteLength === buffer.byteLength
    ? last
    : new Float32Array(buffer);
}

/**
 * Claims and runs items of the job of `generation` until none is left (at
 * once when the claim word already belongs to a later job).
 */
function claimItems(
  control: Int32Array,
  generation: number,
  items: number,
  run: (item: number) => void,
): void {
  for (;;) {
    const word = Atomics.load(control, CLAIM);
    const next = word & 0xffff;
    if (word >>> 16 !== generation || next >= items) return;
    if (Atomics.compareExchange(control, CLAIM, word, word + 1) === word) {
      run(next);
    }
  }
}

/**
 * Runs `job` with `args` over `options.items` items on `heap` and returns
 * when every item is done; rethrows a Worker's error. When `heap` views the
 * pool's wasm memory the items are shared with the pool's Workers;
 * otherwise (no pool, or any other array) all run on the calling thread, as
 * they do when `options.work` (the elements the job touches) is below
 * {@link MIN_PARALLEL_WORK}, where waking the Workers costs more than it
 * saves. `options.memory` (the heap's `WebAssembly.Memory`) reaches the
 * job on the calling thread; the Workers pass the pool's own.
 *
 * @example
 * ```ts
 * import { runParallel } from "./parallel.ts";
 * const seen: number[] = [];
 * runParallel({ name: "example.items", run: (_h, _a, lo, hi) => seen.push(lo, hi) },
 *   new Float32Array(0), [], { items: 3 });
 * if (seen.join() !== "0,3") throw new Error(seen.join());
 * ```
 */
export function runParallel(
  job: ParallelJob,
  heap: Float32Array,
  args: number[],
  options: { items: number; work?: number; memory?: WebAssembly.Memory },
): void {
  const { items, memory } = options;
  if (args.length > MAX_JOB_ARGS) {
    throw new RangeError(
      `runParallel: ${job.name} has ${args.length} arguments, at most ${MAX_JOB_ARGS}`,
    );
  }
  if (!Number.isInteger(items) || items < 0 || items > MAX_JOB_ITEMS) {
    throw new RangeError(
      `runParallel: ${job.name} needs 0..${MAX_JOB_ITEMS} items, got ${items}`,
    );
  }
  const p = pool;
  if (
    !p || heap.buffer !== p.shared.memory.buffer || items < 2 ||
    (options.work ?? Infinity) < MIN_PARALLEL_WORK
  ) {
    job.run(heap, Float64Array.from(args), 0, items, memory);
    return;
  }
  const index = p.jobIndex.get(job.name);
  if (index === undefined) {
    throw new Error(
      `runParallel: the kernel pool's Workers have no job "${job.name}"`,
    );
  }
  p.generation = (p.generation + 1) & 0xffff;
  p.args.fill(0);
  p.args.set(args);
  Atomics.store(p.control, JOB, index);
  Atomics.store(p.control, ITEMS, items);
  Atomics.store(p.control, ERROR, 0);
  Atomics.store(p.control, CLAIM, p.generation << 16);
  Atomics.add(p.control, WAKE, 1);
  Atomics.notify(p.control, WAKE);
  let own: unknown = null;
  try {
    claimItems(
      p.control,
      p.generation,
      items,
      (i) => job.run(heap, p.args, i, i + 1, memory),
    );
  } catch (e) {
    own = e;
    // Let the Workers finish: take every item left.
    claimItems(p.control, p.generation, items, () => {});
  }
  // Every item is claimed: close the job, so that a Worker that read this
  // generation late cannot claim "item items" of the next job's count
  // (which the next job writes before it publishes its generation).
  Atomics.store(p.control, CLAIM, (p.generation << 16) | MAX_JOB_ITEMS);
  for (;;) {
    const active = Atomics.load(p.control, ACTIVE);
    if (active === 0) break;
    Atomics.wait(p.control, ACTIVE, active);
  }
  if (own) throw own;
  if (Atomics.load(p.control, ERROR) !== 0) {
    const len = Atomics.load(p.control, ERROR_LEN);
    const text = new TextDecoder().decode(p.error.slice(0, len));
    throw new Error(`kernel pool: ${job.name} failed in a Worker: ${text}`);
  }
}

/**
 * Starts `workers` Workers on `memory` (a shared `WebAssembly.Memory`, the
 * threaded wasm backend's heap), once per process; resolves when each has
 * loaded its jobs. Returns the number of threads jobs now use. Called by
 * `lib/backend.ts` only; `options.workerScript` (default
 * `parallel_worker.ts`, the project's jobs) is for tests.
 *
 * @example
 * ```ts
 * import { kernelPoolThreads, startKernelPool } from "./parallel.ts";
 * // Zero Workers: nothing starts, jobs run on the calling thread.
 * const mem = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true });
 * if (await startKernelPool(mem, 0) !== 1 || kernelPoolThreads() !== 1) throw new Error();
 * ```
 */
export async function startKernelPool(
  memory: WebAssembly.Memory,
  workers: number,
  options: { workerScript?: URL } = {},
): Promise<number> {
  if (pool) {
    if (pool.shared.memory !== memory || pool.workers.length !== workers) {
      throw new Error(
        `startKernelPool: a pool of ${pool.workers.length} Workers already runs in this process (asked ${workers})`,
      );
    }
    return kernelPoolThreads();
  }
  if (!Number.isInteger(workers) || workers < 0) {
    throw new RangeError(
      `startKernelPool: workers must be a non-negative integer, got ${workers}`,
    );
  }
  if (workers === 0) return 1;
  if (!(memory.buffer instanceof SharedArrayBuffer)) {
    throw new Error(
      "startKernelPool: the wasm heap is not shared memory (the single-threaded wasm binary runs)",
    );
  }
  const shared: PoolShared = {
    memory,
    control: new SharedArrayBuffer(CONTROL_INTS * 4),
    args: new SharedArrayBuffer(MAX_JOB_ARGS * 8),
    error: new SharedArrayBuffer(ERROR_BYTES),
  };
  const started: Worker[] = [];
  let names: string[] = [];
  try {
    for (let i = 0; i < workers; i++) {
      const w = new Worker(
        options.workerScript ??
          new URL("./parallel_worker.ts", import.meta.url),
      );
      started.push(w);
      names = await new Promise<string[]>((resolve, reject) => {
        w.once("message", (m: { jobs: string[] }) => resolve(m.jobs));
        w.once("error", reject);
        w.postMessage(shared);
      });
      w.unref();
    }
  } catch (e) {
    for (const w of started) w.terminate();
    throw new Error(
      `startKernelPool: a Worker failed to start: ${(e as Error).message}`,
    );
  }
  pool = {
    shared,
    control: new Int32Array(shared.control),
    args: new Float64Array(shared.args),
    error: new Uint8Array(shared.error),
    workers: started,
    jobIndex: new Map(names.map((n, i) => [n, i])),
    generation: 0,
  };
  return kernelPoolThreads();
}

/**
 * A Worker's side of the protocol (run by `parallel_worker.ts`): takes the
 * pool's shared memory from the first message, replies with its job names,
 * then serves jobs until the process exits.
 *
 * @example
 * ```ts
 * import { serveKernelPool } from "./parallel.ts";
 * if (typeof serveKernelPool !== "function") throw new Error();
 * ```
 */
export function serveKernelPool(
  jobs: ParallelJob[],
  port: {
    once(event: "message", f: (m: unknown) => void): unknown;
    postMessage(m: unknown): void;
  },
): void {
  port.once("message", (m) => {
    const shared = m as PoolShared;
    const control = new Int32Array(shared.control);
    const args = new Float64Array(shared.args);
    const error = new Uint8Array(shared.error);
    let view: Float32Array | null = null;
    // Read before replying: the first job may be posted right after.
    let seen = Atomics.load(control, WAKE);
    port.postMessage({ jobs: jobs.map((j) => j.name) });
    for (;;) {
      Atomics.wait(control, WAKE, seen);
      seen = Atomics.load(control, WAKE);
      Atomics.add(control, ACTIVE, 1);
      // The job, its arguments and item count belong to the generation
      // read here; a claim succeeds only while that generation is current.
      const generation = Atomics.load(control, CLAIM) >>> 16;
      const job = jobs[Atomics.load(control, JOB)];
      const items = Atomics.load(control, ITEMS);
      try {
        view = heapView(shared.memory, view);
        const heap = view;
        claimItems(
          control,
          generation,
          items,
          (i) => job.run(heap, args, i, i + 1, shared.memory),
        );
      } catch (e) {
        if (Atomics.compareExchange(control, ERROR, 0, 1) === 0) {
          const bytes = new TextEncoder().encode(
            (e as Error)?.message ?? String(e),
          ).slice(0, ERROR_BYTES);
          error.set(bytes);
          Atomics.store(control, ERROR_LEN, bytes.length);
        }
        claimItems(control, generation, items, () => {});
      }
      if (Atomics.sub(control, ACTIVE, 1) === 1) {
        Atomics.notify(control, ACTIVE);
      }
    }
  });
}
