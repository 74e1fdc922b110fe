/**
 * What a run cost in memory and disk, measured by the runner and printed at
 * the end of every run (and kept in its `done.json`): the process's peak
 * resident memory, the size of its last checkpoint, the bytes its data
 * loaders hold, and (rehearsals) the peak bytes of live tensors during its
 * training steps as TensorFlow.js's engine counts them.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";

/** Resources of one run (see the module doc). */
export interface RunResources {
  /** Peak resident set size of the process so far (Linux VmHWM; elsewhere the current RSS), bytes. */
  peakRssBytes: number;
  /** Size on disk of the run's last checkpoint, bytes (null: none written by this process). */
  checkpointBytes: number | null;
  /** Images and labels the run's data loaders hold (training split, incl. SVHN extra, and test split), bytes. */
  dataBytes: number | null;
  /** Peak bytes of live tensors during the training steps (tf.profile; null: not measured). */
  peakTensorBytes: number | null;
  /** True when the backend says its tensor byte counts are unreliable (tf.memory().unreliable). */
  tensorBytesUnreliable?: boolean;
}

/**
 * Peak resident memory of this process in bytes: `VmHWM` of
 * `/proc/self/status` where it exists, else the current resident size.
 *
 * @example
 * ```ts
 * import { peakRssBytes } from "./resources.ts";
 * if (!(peakRssBytes() >= Deno.memoryUsage().rss * 0.5)) throw new Error();
 * ```
 */
export function peakRssBytes(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
    if (m) return Number(m[1]) * 1024;
  } catch {
    // Not Linux: fall through.
  }
  return Deno.memoryUsage().rss;
}

/**
 * Bytes in binary units: `512 B`, `1.50 KiB`, `139.45 MiB`, `1.73 GiB`.
 *
 * @example
 * ```ts
 * import { formatBytes } from "./resources.ts";
 * if (formatBytes(1536) !== "1.50 KiB" || formatBytes(3 * 2 ** 30) !== "3.00 GiB") throw new Error();
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes, u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(2)} ${units[u]}`;
}

/**
 * One line describing a run's resources.
 *
 * @example
 * ```ts
 * import { describeResources } from "./resources.ts";
 * const s = describeResources({ peakRssBytes: 2 ** 30, checkpointBytes: 2 ** 20, dataBytes: null, peakTensorBytes: null });
 * if (s !== "peak RSS 1.00 GiB, checkpoint 1.00 MiB on disk, data loaders n/a, peak tensor memory not measured") throw new Error(s);
 * ```
 */
export function describeResources(r: RunResources): string {
  const b = (v: number | null, none: string) =>
    v === null ? none : formatBytes(v);
  return `peak RSS ${formatBytes(r.peakRssBytes)}, checkpoint ${
    b(r.checkpointBytes, "none written")
  } on disk, data loaders ${b(r.dataBytes, "n/a")}, peak tensor memory ${
    r.peakTensorBytes === null
      ? "not measured"
      : formatBytes(r.peakTensorBytes) +
        (r.tensorBytesUnreliable ? " (backend says: unreliable)" : "")
  }`;
}

/**
 * The machine and its load, for labelling measured figures: logical cores,
 * memory, OS and the 1/5/15-minute load averages.
 *
 * @example
 * ```ts
 * import { machineLine } from "./resources.ts";
 * if (!/^\d+ logical cores, [\d.]+ GiB memory, .+, load average [\d.]+ [\d.]+ [\d.]+$/.test(machineLine())) throw new Error(machineLine());
 * ```
 */
export function machineLine(): string {
  const load = Deno.loadavg().map((v) => v.toFixed(2)).join(" ");
  return `${navigator.hardwareConcurrency} logical cores, ${
    (Deno.systemMemoryInfo().total / 2 ** 30).toFixed(1)
  } GiB memory, ${Deno.build.os}-${Deno.build.arch}, load average ${load}`;
}

/**
 * `fn()` run under `tf.profile`, with the peak bytes of live tensors during
 * it. While profiling, TensorFlow.js runs every kernel inside the backend's
 * asynchronous timer, so an error thrown by a kernel (the `wasm` heap running
 * out, say) would become an unhandled promise rejection that ends the
 * process with a stack trace, while the engine carries on with the kernel's
 * missing outputs. Here such a rejection is caught and the first kernel
 * error is thrown instead, so callers see it like any other.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { useBackend } from "../backend.ts";
 * import { profilePeakBytes } from "./resources.ts";
 * await useBackend("cpu");
 * const { result, peakBytes } = await profilePeakBytes(() => tf.tidy(() => tf.sum(tf.ones([256])).dataSync()[0]));
 * if (result !== 256 || peakBytes < 1024) throw new Error(`${result} ${peakBytes}`);
 * ```
 */
export async function profilePeakBytes<T>(
  fn: () => T,
): Promise<{ result: T; peakBytes: number }> {
  const kernelErrors: unknown[] = [];
  const onRejection = (event: PromiseRejectionEvent) => {
    kernelErrors.push(event.reason);
    event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  let result: T | undefined;
  const thrown: unknown[] = [];
  let peakBytes = 0;
  try {
    peakBytes = (await tf.profile(() => void (result = fn()))).peakBytes;
  } catch (error) {
    thrown.push(error);
  } finally {
    // Rejections are reported once the current task's microtasks have run.
    await new Promise((resolve) => setTimeout(resolve, 0));
    globalThis.removeEventListener("unhandledrejection", onRejection);
  }
  // The kernel's own error first: what the engine threw after it is a
  // consequence (outputs missing).
  const [first] = [...kernelErrors, ...thrown];
  if (kernelErrors.length + thrown.length > 0) throw first;
  return { result: result as T, peakBytes };
}
