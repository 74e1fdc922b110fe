/**
 * Starting `@tensorflow/tfjs-backend-wasm`'s multi-threaded SIMD binary under
 * Deno. Only `lib/backend.ts` uses this module.
 *
 * The package ships the threaded binary (XNNPACK on a pthreadpool), but under
 * Deno it never runs: the backend believes it is on Node.js and turns threads
 * off (flag `WASM_HAS_MULTITHREAD_SUPPORT`), and forcing the flag on fails
 * three times over, each fixed here for the duration of the backend's start:
 *
 * 1. Emscripten creates its pthread workers with `node:worker_threads` from a
 *    Blob URL (`locateFile`), which Deno's `Worker` rejects (`ERR_WORKER_PATH`:
 *    it wants a file path). We write the worker script to a temporary `.cjs`
 *    file and return its absolute path from `URL.createObjectURL`.
 * 2. The worker script, written for Node, assigns `self`, `location`,
 *    `postMessage` and friends on its global, which are read-only getters in a
 *    Deno worker; a prelude redefines them as writable. Its main script
 *    arrives as a Blob it cannot read synchronously; the worker is told the
 *    path of a file holding the self-contained Emscripten factory instead.
 * 3. The C++ side caps the pool at half of `os.cpus().length` ("two hardware
 *    threads per core"), so on 2 logical cores it starts 1 thread whatever is
 *    asked; `os.cpus` reports `2 * threads` entries while the module starts.
 *
 * Emscripten keeps a Node.js process alive while a pthread runs, and XNNPACK's
 * pool threads run for the life of the process, so a program would never
 * exit; {@link unrefPthreadWorkers} lets it (the pool threads only wait
 * between operations).
 *
 * Emscripten also sets `globalThis.Worker` to Node's `Worker`; the Web
 * `Worker` (used by the data loader) is put back afterwards. The temporary
 * files are deleted once the pool's workers have started (the pool is fixed
 * at start: XNNPACK creates no thread later). XNNPACK's pool holds at most 8
 * threads (the size the binary pre-creates).
 *
 * @module
 */
import os from "node:os";
import threadedFactory from "npm:@tensorflow/tfjs-backend-wasm@4.22.0/wasm-out/tfjs-backend-wasm-threaded-simd.js";
import threadedWorker from "npm:@tensorflow/tfjs-backend-wasm@4.22.0/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js";

/** Most threads the threaded binary's XNNPACK pool can hold. */
export const MAX_WASM_THREADS = 8;

/** Globals of a Deno worker that the Node-flavoured pthread script assigns. */
const WORKER_GLOBALS = [
  "self",
  "location",
  "Worker",
  "importScripts",
  "postMessage",
  "performance",
];

/**
 * The pthread worker script, adapted to Deno (see the module doc): a prelude
 * that makes the globals it assigns writable, the package's script, and a
 * wrapper that loads the Emscripten factory from `mainScriptPath`.
 *
 * @example
 * ```ts
 * import { pthreadWorkerScript } from "./wasm_threads.ts";
 * const s = pthreadWorkerScript("/tmp/x/main.cjs");
 * if (!s.includes('"/tmp/x/main.cjs"') || !s.includes("worker_threads")) throw new Error(s.slice(0, 200));
 * ```
 */
export function pthreadWorkerScript(mainScriptPath: string): string {
  const contents = (threadedWorker as unknown as { wasmWorkerContents: string })
    .wasmWorkerContents;
  // The package keeps the script in a template literal whose "\n" escapes
  // became newlines; inside its string literals they must be escapes again.
  const body = contents.replace(/\n/g, "\\n");
  return [
    `for (const k of ${JSON.stringify(WORKER_GLOBALS)}) {`,
    `  Object.defineProperty(globalThis, k, { value: globalThis[k], writable: true, configurable: true, enumerable: true });`,
    `}`,
    body,
    `{ const handle = self.onmessage; self.onmessage = (e) => {`,
    `  if (e.data && e.data.cmd === "load" && typeof e.data.urlOrBlob !== "string") e.data.urlOrBlob = ${
      JSON.stringify(mainScriptPath)
    };`,
    `  return handle(e);`,
    `}; }`,
    ``,
  ].join("\n");
}

/**
 * The Emscripten factory of the threaded binary as a script that defines the
 * global `WasmBackendModuleThreadedSimd` (what the pthread worker evaluates).
 *
 * @example
 * ```ts
 * import { factoryScript } from "./wasm_threads.ts";
 * if (!factoryScript().startsWith("var WasmBackendModuleThreadedSimd")) throw new Error();
 * ```
 */
export function factoryScript(): string {
  return `var WasmBackendModuleThreadedSimd = (() => { var _scriptDir = undefined; return (${
    String(threadedFactory)
  }); })();\n`;
}

/**
 * Runs `start` (which must set the `wasm` backend up with the threaded
 * binary: flag `WASM_HAS_MULTITHREAD_SUPPORT` on, `setThreadsCount(threads)`,
 * `setBackend("wasm")`) with the shims described in the module doc in place,
 * then removes them and the temporary files, also when `start` fails.
 *
 * @example
 * ```ts
 * import { withThreadedWasmShims } from "./wasm_threads.ts";
 * import os from "node:os";
 * const real = os.cpus().length;
 * const seen = await withThreadedWasmShims(3, () => Promise.resolve(os.cpus().length));
 * if (seen !== 6 || os.cpus().length !== real) throw new Error(String(seen));
 * ```
 */
export async function withThreadedWasmShims<T>(
  threads: number,
  start: () => Promise<T>,
): Promise<T> {
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(
      `withThreadedWasmShims: threads must be a positive integer, got ${threads}`,
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "pof-wasm-threads-" });
  const mainPath = `${dir}/factory.cjs`;
  const workerPath = `${dir}/pthread_worker.cjs`;
  await Deno.writeTextFile(mainPath, factoryScript());
  await Deno.writeTextFile(workerPath, pthreadWorkerScript(mainPath));
  const g = globalThis as unknown as Record<string, unknown>;
  const webWorker = g.Worker;
  const createObjectURL = URL.createObjectURL;
  const nodeOs = os as unknown as { cpus: () => unknown[] };
  const cpus = nodeOs.cpus;
  URL.createObjectURL = (blob: Blob) =>
    // The backend's only Blob URL is the pthread worker script's.
    blob instanceof Blob ? workerPath : createObjectURL(blob);
  nodeOs.cpus = () => {
    const real = cpus.call(os);
    return Array.from({ length: 2 * threads }, (_, i) => real[i % real.length]);
  };
  try {
    return await start();
  } finally {
    URL.createObjectURL = createObjectURL;
    nodeOs.cpus = cpus;
    g.Worker = webWorker;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Lets the process exit although pthreads are running: un-references the
 * workers of the Emscripten module `wasmModule` (the `wasm` backend's
 * `.wasm`) that run a pthread. Returns how many it released (0 for a module
 * without pthreads).
 *
 * @example
 * ```ts
 * import { unrefPthreadWorkers } from "./wasm_threads.ts";
 * let n = 0;
 * const fake = { PThread: { runningWorkers: [{ unref: () => n++ }, { unref: () => n++ }] } };
 * if (unrefPthreadWorkers(fake) !== 2 || n !== 2 || unrefPthreadWorkers({}) !== 0) throw new Error();
 * ```
 */
export function unrefPthreadWorkers(wasmModule: unknown): number {
  const workers = (wasmModule as {
    PThread?: { runningWorkers?: { unref?: () => void }[] };
  })?.PThread?.runningWorkers ?? [];
  let n = 0;
  for (const w of workers) {
    if (typeof w.unref === "function") {
      w.unref();
      n++;
    }
  }
  return n;
}
