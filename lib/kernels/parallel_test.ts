/**
 * The kernel pool (`parallel.ts`): every item of a job runs exactly once,
 * shared between the calling thread and the Workers; an error in a Worker
 * reaches the caller and the pool keeps working (in a child process: the
 * pool is one per process; `testdata/pool_protocol.ts`). The pooled wasm
 * kernels are compared across thread counts in
 * `tests/threads_kernels_test.ts`.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  MAX_JOB_ARGS,
  MAX_JOB_ITEMS,
  runParallel,
  startKernelPool,
} from "./parallel.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function child(script: string): Promise<unknown> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `--import-map=${ROOT}tools/offline_import_map.json`,
      `${ROOT}lib/kernels/testdata/${script}`,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(o.success, new TextDecoder().decode(o.stderr).slice(-2000));
  return JSON.parse(
    new TextDecoder().decode(o.stdout).trim().split("\n").pop()!,
  );
}

Deno.test("kernel pool: each of 2000 items runs once, Workers take part, a Worker's error reaches the caller", async () => {
  type Marks = { runs: number[]; byCaller: number; byWorkers: number };
  const r = await child("pool_protocol.ts") as {
    threads: number;
    first: Marks;
    error: string;
    after: Marks;
  };
  assertEquals(r.threads, 3);
  for (const m of [r.first, r.after]) {
    // 1: run once by the caller, 2: once by a Worker; never 0, 3, 4.
    assert(m.runs.every((v) => v === 1 || v === 2), m.runs.join());
    assertEquals(m.byCaller + m.byWorkers, 2000);
    assert(m.byWorkers > 0, `Workers ran ${m.byWorkers} items`);
    assert(m.byCaller > 0, `the caller ran ${m.byCaller} items`);
  }
  assert(
    r.error.startsWith("kernel pool: test.failInWorkers failed in a Worker:") &&
      r.error.includes("failed on purpose"),
    r.error,
  );
});

Deno.test("runParallel: bad item and argument counts are named; without a pool it runs every item on the caller", () => {
  const seen: number[][] = [];
  const job = {
    name: "t",
    run: (_h: Float32Array, a: Float64Array, lo: number, hi: number) =>
      seen.push([a[0], lo, hi]),
  };
  runParallel(job, new Float32Array(1), [5], { items: 7 });
  assertEquals(seen, [[5, 0, 7]]);
  assertThrows(
    () => runParallel(job, new Float32Array(1), [], { items: 1.5 }),
    RangeError,
    "got 1.5",
  );
  assertThrows(
    () =>
      runParallel(job, new Float32Array(1), [], { items: MAX_JOB_ITEMS + 1 }),
    RangeError,
    `got ${MAX_JOB_ITEMS + 1}`,
  );
  assertThrows(
    () =>
      runParallel(job, new Float32Array(1), new Array(MAX_JOB_ARGS + 1), {
        items: 1,
      }),
    RangeError,
    `${MAX_JOB_ARGS + 1} arguments`,
  );
});

Deno.test("startKernelPool: needs shared memory and a whole number of Workers", async () => {
  const plain = new WebAssembly.Memory({ initial: 1 });
  await assertRejects(
    () => startKernelPool(plain, 1),
    Error,
    "not shared memory",
  );
  const shared = new WebAssembly.Memory({
    initial: 1,
    maximum: 1,
    shared: true,
  });
  await assertRejects(() => startKernelPool(shared, -1), RangeError, "got -1");
  assertEquals(await startKernelPool(shared, 0), 1);
  // A Worker that fails to load: one error naming the cause, no pool left
  // behind (jobs still run on the caller).
  await assertRejects(
    () =>
      startKernelPool(shared, 1, {
        workerScript: new URL(
          "./testdata/pool_broken_worker.ts",
          import.meta.url,
        ),
      }),
    Error,
    "a Worker failed to start",
  );
  const heap = new Float32Array(2);
  runParallel(
    {
      name: "t",
      run: (h, _a, lo, hi) => h.fill(1, lo, hi),
    },
    heap,
    [],
    { items: 2 },
  );
  assertEquals([...heap], [1, 1]);
});
