/**
 * The one module that decides the TensorFlow.js backend. Nothing else in the
 * project imports a backend package.
 *
 * - `cpu`: pure JavaScript (`@tensorflow/tfjs-backend-cpu`), exact reference.
 * - `wasm`: XNNPACK (`@tensorflow/tfjs-backend-wasm`) plus this project's
 *   gradient kernels (`lib/kernels/`): the filter gradient stock wasm lacks,
 *   and faster input-gradient, transposed-matmul and leading-axis sums. With
 *   more than one thread it runs the package's threaded SIMD binary (started
 *   under Deno by `wasm_threads.ts`); the thread count is fixed per process.
 * - `webgpu`: `@tensorflow/tfjs-backend-webgpu` on `navigator.gpu` (on Linux
 *   without a GPU: Mesa's lavapipe).
 * - `tensorflow`: libtensorflow through `tfjs-node-gpu` (CUDA) or `tfjs-node`
 *   (CPU), imported dynamically only when chosen.
 * - `auto`: `tensorflow` if installed, else the fastest CPU path
 *   ({@link FAST_CPU_BACKEND}, `wasm`: works on a fresh machine with nothing
 *   but Deno).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import { registerProjectKernels } from "./kernels/registry.ts";
import { startKernelPool } from "./kernels/parallel.ts";
import {
  MAX_WASM_THREADS,
  unrefPthreadWorkers,
  withThreadedWasmShims,
} from "./wasm_threads.ts";

/** Backend names accepted by {@link useBackend}. */
export const BACKEND_NAMES = [
  "auto",
  "cpu",
  "wasm",
  "webgpu",
  "tensorflow",
] as const;
/** A backend name accepted by {@link useBackend}. */
export type BackendName = typeof BACKEND_NAMES[number];

/**
 * The backend `auto` picks when `tensorflow` is unavailable, chosen by
 * measurement (`deno task bench`, README "Performance"): `wasm` with the
 * project's kernels trains a WRN tens of times faster than `cpu` and needs no
 * system package. `webgpu` is never picked automatically: on CPU-only Linux
 * it runs on Mesa's lavapipe (a Debian package, slower than `wasm` on few
 * cores), and in Deno it cannot read tensors synchronously (`dataSync`),
 * which the training loop does.
 *
 * @example
 * ```ts
 * import { FAST_CPU_BACKEND } from "./backend.ts";
 * if (FAST_CPU_BACKEND !== "wasm") throw new Error(FAST_CPU_BACKEND);
 * ```
 */
export const FAST_CPU_BACKEND: Exclude<BackendName, "auto" | "tensorflow"> =
  "wasm";

/** Exact pinned versions of the TensorFlow.js packages. */
export const TFJS_VERSION = "4.22.0";

/** What a run used: recorded in every result file. */
export interface BackendInfo {
  /** The name requested (`auto` included). */
  requested: BackendName;
  /** The tfjs backend actually active (`cpu`, `wasm`, `webgpu`, `tensorflow`). */
  backend: string;
  /** A description of the device, e.g. "CPU (2 threads of 2 logical cores, linux-x86_64)", "libtensorflow GPU (...)". */
  device: string;
  /**
   * Threads the backend computes with: `wasm` its XNNPACK pool, `cpu` 1;
   * null where the library decides (`tensorflow`, `webgpu`).
   */
  threads: number | null;
  /** Package that provides the backend, with version. */
  package: string;
  /** Kernels this project registered on top of the backend. */
  projectKernels: string[];
  tfjsVersion: string;
  denoVersion: string;
}

/** Options of {@link useBackend}. */
export interface UseBackendOptions {
  /**
   * Threads of the fast CPU path (`wasm`; default: the count it already runs
   * in this process, else {@link defaultThreads}; at most
   * {@link MAX_WASM_THREADS}). Fixed once `wasm` has started in a process;
   * ignored by the other backends.
   */
  threads?: number;
}

/**
 * The default thread count of the fast CPU path: every logical core.
 *
 * @example
 * ```ts
 * import { defaultThreads } from "./backend.ts";
 * if (defaultThreads() < 1) throw new Error();
 * ```
 */
export function defaultThreads(): number {
  return Math.max(1, navigator.hardwareConcurrency ?? 1);
}

/**
 * Parses a `--threads` value: a positive integer, else a RangeError whose
 * one-line message names the value.
 *
 * @example
 * ```ts
 * import { parseThreads } from "./backend.ts";
 * if (parseThreads("4") !== 4) throw new Error();
 * let msg = "";
 * try { parseThreads("1.5"); } catch (e) { msg = (e as Error).message; }
 * if (!msg.includes('"1.5"')) throw new Error(msg);
 * ```
 */
export function parseThreads(value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < 1) {
    throw new RangeError(
      `--threads must be a positive integer, got "${value}"`,
    );
  }
  return Number(value);
}

/**
 * The one-line note printed when `threads` exceeds this machine's logical
 * cores (allowed: the threads then share cores), or null.
 *
 * @example
 * ```ts
 * import { threadsNote } from "./backend.ts";
 * if (threadsNote(1) !== null) throw new Error();
 * if (!threadsNote(1000)!.includes("1000")) throw new Error();
 * ```
 */
export function threadsNote(threads: number): string | null {
  const cores = defaultThreads();
  if (threads <= cores) return null;
  return `note: --threads ${threads} is more than the ${cores} logical cores of this machine; threads will share cores`;
}

let current: BackendInfo | null = null;
/** Threads the `wasm` backend was started with in this process, or null. */
let wasmThreads: number | null = null;

/** The backend chosen by the last {@link useBackend}, or null before any. */
export function backendInfo(): BackendInfo | null {
  return current;
}

/** Thrown when the `tensorflow` backend cannot be loaded. */
export class BackendUnavailableError extends Error {
  override name = "BackendUnavailableError";
}

/** The npm packages that provide the `tensorflow` backend, in the order {@link useBackend} tries them. */
export const TENSORFLOW_PACKAGES = [
  "@tensorflow/tfjs-node-gpu",
  "@tensorflow/tfjs-node",
] as const;
/** One of {@link TENSORFLOW_PACKAGES}. */
export type TensorflowPackage = typeof TENSORFLOW_PACKAGES[number];

/**
 * The command that installs `pkg` with its install script allowed (run from
 * the project root). Both packages are pinned in `deno.json` and `deno.lock`;
 * a plain `deno install` fetches them but skips the install script that
 * downloads libtensorflow 2.9.1 and the native addon, so this command only
 * allows that one script.
 *
 * @example
 * ```ts
 * import { tensorflowInstallCommand } from "./backend.ts";
 * const cmd = tensorflowInstallCommand("@tensorflow/tfjs-node-gpu");
 * if (cmd !== "deno install --allow-scripts=npm:@tensorflow/tfjs-node-gpu@4.22.0") throw new Error(cmd);
 * ```
 */
export function tensorflowInstallCommand(
  pkg: TensorflowPackage = "@tensorflow/tfjs-node-gpu",
): string {
  if (!(TENSORFLOW_PACKAGES as readonly string[]).includes(pkg)) {
    throw new RangeError(
      `Unknown tensorflow backend package "${pkg}"; valid: ${
        TENSORFLOW_PACKAGES.join(", ")
      }`,
    );
  }
  return `deno install --allow-scripts=npm:${pkg}@${TFJS_VERSION}`;
}

/**
 * The message shown when tfjs-node(-gpu) cannot be loaded; `cause` says why.
 *
 * @example
 * ```ts
 * import { tensorflowInstallHint } from "./backend.ts";
 * const hint = tensorflowInstallHint("not installed");
 * if (!hint.includes("deno install --allow-scripts=npm:@tensorflow/tfjs-node-gpu@4.22.0")) throw new Error(hint);
 * ```
 */
export function tensorflowInstallHint(cause: string): string {
  return [
    `The "tensorflow" backend needs @tensorflow/tfjs-node-gpu@${TFJS_VERSION} (NVIDIA GPU, CUDA 11.x + cuDNN 8) or ` +
    `@tensorflow/tfjs-node@${TFJS_VERSION} (CPU) with its native addon; it could not be loaded (${cause}).`,
    `Both are pinned in deno.json and deno.lock, but their install script (which downloads libtensorflow 2.9.1 ` +
    `and the addon from storage.googleapis.com) runs only when allowed. From the project root run`,
    `  ${tensorflowInstallCommand("@tensorflow/tfjs-node-gpu")}   (GPU)`,
    `  ${tensorflowInstallCommand("@tensorflow/tfjs-node")}       (CPU)`,
    `or use the Docker image (README, "Docker and GPU runs"), or choose --backend cpu|wasm|webgpu.`,
  ].join("\n");
}

/** Where a `tensorflow` backend package stands in a `node_modules` folder. */
export interface TensorflowPackageStatus {
  /** The package name. */
  package: TensorflowPackage;
  /** The package folder, or null when it is not installed in any folder searched. */
  dir: string | null;
  /** The native addon `lib/napi-v<N>/tfjs_binding.node`, or null when the install script has not put it there. */
  addon: string | null;
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** The `node_modules` folders searched by default: the project's (beside `lib/`), then the working directory's. */
export function defaultNodeModulesDirs(): string[] {
  const dirs: string[] = [];
  const here = new URL("../node_modules", import.meta.url);
  if (here.protocol === "file:") dirs.push(decodeURIComponent(here.pathname));
  const cwd = `${Deno.cwd()}/node_modules`;
  if (!dirs.includes(cwd)) dirs.push(cwd);
  return dirs;
}

/**
 * Looks, without importing or fetching anything, for `pkg` and its native
 * addon in `nodeModulesDirs` (default {@link defaultNodeModulesDirs}).
 * {@link useBackend} imports a package only when its addon is there, so that
 * choosing `tensorflow` or `auto` never downloads a package at run time.
 *
 * @example
 * ```ts
 * import { tensorflowPackageStatus } from "./backend.ts";
 * const s = tensorflowPackageStatus("@tensorflow/tfjs-node", { nodeModulesDirs: ["/nonexistent"] });
 * if (s.dir !== null || s.addon !== null) throw new Error(JSON.stringify(s));
 * ```
 */
export function tensorflowPackageStatus(
  pkg: TensorflowPackage,
  options: { nodeModulesDirs?: string[] } = {},
): TensorflowPackageStatus {
  const dirs = options.nodeModulesDirs ?? defaultNodeModulesDirs();
  for (const nm of dirs) {
    const dir = `${nm}/${pkg}`;
    if (!existsSync(`${dir}/package.json`)) continue;
    let addon: string | null = null;
    if (existsSync(`${dir}/lib`)) {
      const napi = [...Deno.readDirSync(`${dir}/lib`)]
        .map((e) => e.name)
        .filter((n) => /^napi-v\d+$/.test(n))
        .sort((a, b) => Number(b.slice(6)) - Number(a.slice(6)));
      for (const n of napi) {
        if (existsSync(`${dir}/lib/${n}/tfjs_binding.node`)) {
          addon = `${dir}/lib/${n}/tfjs_binding.node`;
          break;
        }
      }
    }
    return { package: pkg, dir, addon };
  }
  return { package: pkg, dir: null, addon: null };
}

/**
 * The backend {@link useBackend}`(name)` will activate, decided without
 * importing or fetching anything: `auto` is `tensorflow` when one of
 * {@link TENSORFLOW_PACKAGES} is installed with its native addon (see
 * {@link tensorflowPackageStatus}), else {@link FAST_CPU_BACKEND}. (Should
 * that package then fail to load, `useBackend("auto")` still falls back to
 * {@link FAST_CPU_BACKEND}.) Other names are returned as they are.
 *
 * @example
 * ```ts
 * import { FAST_CPU_BACKEND, plannedBackend } from "./backend.ts";
 * if (plannedBackend("auto", { nodeModulesDirs: [] }) !== FAST_CPU_BACKEND) throw new Error();
 * if (plannedBackend("cpu") !== "cpu") throw new Error();
 * ```
 */
export function plannedBackend(
  name: BackendName,
  options: { nodeModulesDirs?: string[] } = {},
): Exclude<BackendName, "auto"> {
  if (name !== "auto") return name;
  const installed = TENSORFLOW_PACKAGES.some((pkg) =>
    tensorflowPackageStatus(pkg, options).addon !== null
  );
  return installed ? "tensorflow" : FAST_CPU_BACKEND;
}

/**
 * Restores `util.isNullOrUndefined`, which Node's util dropped and which
 * tfjs-node 4.22 still calls (Deno >= 2.4.4). Must run before the first op.
 */
export async function restoreIsNullOrUndefined(): Promise<boolean> {
  const util = (await import("node:util")).default as unknown as Record<
    string,
    unknown
  >;
  if (typeof util.isNullOrUndefined === "function") return false;
  util.isNullOrUndefined = (x: unknown) => x === null || x === undefined;
  return true;
}

// One literal specifier per package, so that `deno publish` and `deno check`
// can analyze them; each is imported only when its addon is installed.
const TENSORFLOW_IMPORTS: Record<TensorflowPackage, () => Promise<unknown>> = {
  "@tensorflow/tfjs-node-gpu": () =>
    import("npm:@tensorflow/tfjs-node-gpu@4.22.0"),
  "@tensorflow/tfjs-node": () => import("npm:@tensorflow/tfjs-node@4.22.0"),
};

async function loadTensorflow(): Promise<string> {
  await restoreIsNullOrUndefined();
  const errors: string[] = [];
  for (const pkg of TENSORFLOW_PACKAGES) {
    const status = tensorflowPackageStatus(pkg);
    if (status.dir === null) {
      errors.push(`${pkg}: not installed (no node_modules/${pkg})`);
      continue;
    }
    if (status.addon === null) {
      errors.push(
        `${pkg}: installed without its native addon (its install script has not run)`,
      );
      continue;
    }
    try {
      await TENSORFLOW_IMPORTS[pkg]();
      if (tf.findBackend("tensorflow")) return `${pkg}@${TFJS_VERSION}`;
      errors.push(`${pkg}: loaded but registered no "tensorflow" backend`);
    } catch (e) {
      errors.push(`${pkg}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  throw new BackendUnavailableError(tensorflowInstallHint(errors.join("; ")));
}

/**
 * Starts the `wasm` backend with `asked` threads (default: the running
 * count, else {@link defaultThreads}), once per process: one thread runs the
 * single-threaded SIMD binary, more the threaded SIMD binary through
 * {@link withThreadedWasmShims}.
 */
async function loadWasm(asked: number | undefined): Promise<string> {
  const pkg = `@tensorflow/tfjs-backend-wasm@${TFJS_VERSION}`;
  const threads = asked ?? wasmThreads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(
      `useBackend: threads must be a positive integer, got ${threads}`,
    );
  }
  const want = Math.min(threads, MAX_WASM_THREADS);
  if (wasmThreads !== null) {
    if (wasmThreads !== want) {
      throw new RangeError(
        `useBackend: the wasm backend already runs ${wasmThreads} thread(s) in this process; ` +
          `its thread count is fixed per process (asked ${threads})`,
      );
    }
    return pkg;
  }
  const wasm = await import("npm:@tensorflow/tfjs-backend-wasm@4.22.0");
  wasm.setThreadsCount(want);
  if (want === 1) {
    if (!(await tf.setBackend("wasm"))) {
      throw new BackendUnavailableError(`tf.setBackend("wasm") failed`);
    }
  } else {
    // The backend turns threads off on Node.js-like platforms (Deno included).
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
    await withThreadedWasmShims(want, async () => {
      if (!(await tf.setBackend("wasm"))) {
        throw new BackendUnavailableError(
          `tf.setBackend("wasm") failed with ${want} threads`,
        );
      }
    });
    const module = (tf.backend() as unknown as {
      wasm: { wasmMemory: WebAssembly.Memory };
    }).wasm;
    // XNNPACK's pool threads would keep the process alive forever.
    unrefPthreadWorkers(module);
    // Our kernels' JavaScript loops run on as many threads as XNNPACK. If
    // the Workers cannot start (e.g. this module was imported from a URL
    // that node:worker_threads cannot load), they run on the calling thread:
    // slower, the same results.
    try {
      await startKernelPool(module.wasmMemory, want - 1);
    } catch (e) {
      console.error(
        `note: ${
          (e as Error).message
        }; the project's kernels run their loops on one thread`,
      );
    }
  }
  const got = wasm.getThreadsCount();
  if (got !== want) {
    throw new BackendUnavailableError(
      `the wasm backend started ${got} thread(s), ${want} were asked`,
    );
  }
  wasmThreads = got;
  return pkg;
}

async function loadWebgpu(): Promise<string> {
  const gpu =
    (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } })
      .gpu;
  if (!gpu || !(await gpu.requestAdapter())) {
    throw new BackendUnavailableError(
      `The "webgpu" backend needs a WebGPU adapter and none was found ` +
        `(on Linux without a GPU install Mesa's lavapipe: apt-get install mesa-vulkan-drivers).`,
    );
  }
  await import("npm:@tensorflow/tfjs-backend-webgpu@4.22.0");
  return `@tensorflow/tfjs-backend-webgpu@${TFJS_VERSION}`;
}

function describeDevice(backend: string): string {
  const cores = navigator.hardwareConcurrency ?? 1;
  if (backend === "tensorflow") {
    const gpu = Deno.env.get("CUDA_VISIBLE_DEVICES");
    // tfjs-node's backend reports whether libtensorflow found a CUDA device.
    const usingGpu = (tf.findBackend("tensorflow") as unknown as {
      isUsingGpuDevice?: boolean;
    } | null)?.isUsingGpuDevice === true;
    return `libtensorflow ${usingGpu ? "GPU" : "CPU"} (${
      gpu === undefined ? "all visible devices" : `CUDA_VISIBLE_DEVICES=${gpu}`
    })`;
  }
  if (backend === "webgpu") return "WebGPU adapter";
  const threads = backend === "wasm" ? wasmThreads ?? 1 : 1;
  return `CPU (${threads} thread${
    threads === 1 ? "" : "s"
  } of ${cores} logical cores, ${Deno.build.os}-${Deno.build.arch})`;
}

/**
 * tfjs-backend-cpu prints "Hi, looks like you are running TensorFlow.js in
 * Node.js ... install our node backend" to stderr on its first tensor. Here
 * the backend is a deliberate choice (`auto` already takes libtensorflow when
 * it is installed, and the message's advice does not apply under Deno), so
 * that one message is switched off; tfjs's other warnings still print.
 */
function muteCpuBackendAdvice(): void {
  const cpu = tf.findBackend("cpu") as { firstUse?: boolean } | null;
  if (cpu && typeof cpu.firstUse === "boolean") cpu.firstUse = false;
}

/**
 * Activates a backend and returns what was chosen.
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * const info = await useBackend("cpu", { threads: 2 });
 * if (info.backend !== "cpu" || info.threads !== 1) throw new Error(info.backend);
 * ```
 */
export async function useBackend(
  name: BackendName = "auto",
  options: UseBackendOptions = {},
): Promise<BackendInfo> {
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(
      `Unknown backend "${name}"; valid: ${BACKEND_NAMES.join(", ")}`,
    );
  }
  let pkg: string;
  let chosen: string = name;
  if (name === "auto") {
    try {
      pkg = await loadTensorflow();
      chosen = "tensorflow";
    } catch {
      current = {
        ...(await useBackend(FAST_CPU_BACKEND, options)),
        requested: "auto",
      };
      return current;
    }
  } else if (name === "tensorflow") pkg = await loadTensorflow();
  else if (name === "wasm") {
    pkg = await loadWasm(options.threads);
  } else if (name === "webgpu") pkg = await loadWebgpu();
  else pkg = `@tensorflow/tfjs-backend-cpu@${TFJS_VERSION}`;

  const ok = await tf.setBackend(chosen);
  if (!ok) {
    throw new BackendUnavailableError(`tf.setBackend("${chosen}") failed`);
  }
  await tf.ready();
  muteCpuBackendAdvice();
  const projectKernels = registerProjectKernels(chosen);
  current = {
    requested: name,
    backend: tf.getBackend(),
    device: describeDevice(chosen),
    threads: chosen === "wasm" ? wasmThreads : chosen === "cpu" ? 1 : null,
    package: pkg,
    projectKernels,
    tfjsVersion: TFJS_VERSION,
    denoVersion: Deno.version.deno,
  };
  return current;
}
