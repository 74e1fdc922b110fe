/**
 * Per-epoch metrics as JSON lines (`metrics.jsonl`, one object per line).
 * Appending is crash-safe for readers: a line cut short by a kill is ignored
 * by {@link readMetrics}, and {@link truncateMetrics} drops records past the
 * epoch a resumed run restarts from, so the file never holds an epoch twice.
 *
 * @module
 */
import { writeFileAtomic } from "../atomic_write.ts";

/** What one finished epoch reports. */
export interface EpochRecord {
  /** The absolute epoch number just finished (1-based). */
  epoch: number;
  /** The method that trained this epoch. */
  method: string;
  /** Mean training loss over the epoch's update batches. */
  trainLoss: number;
  /** Training error (%) of the epoch's update batches, measured during training. */
  trainError: number;
  /** Test loss and error (%) at the end of the epoch. */
  testLoss: number;
  testError: number;
  /** Learning rate used during the epoch. */
  lr: number;
  /** Steps taken. */
  steps: number;
  /** Wall-clock seconds of the epoch's training steps (excluding evaluation). */
  seconds: number;
  /** Wall-clock seconds of the whole epoch, evaluation included (absent in older logs). */
  wallSeconds?: number;
  /** CPU seconds this process used during the epoch, all threads, evaluation included (Linux; absent in older logs). */
  cpuSeconds?: number;
  /** The machine's 1-minute load average at the end of the epoch (absent in older logs or without --allow-sys). */
  load1?: number;
  /**
   * Means of the PoF / SAM step telemetry over the epoch (absent for SGD),
   * e.g. `xi`, `gamma`, `perturbationNorm`, `lossAtTheta0` (PoF's
   * update-batch loss at theta0, comparable with SGD's and SAM's
   * `trainLoss`; PoF's `trainLoss` is taken at theta'); for PoF also
   * `xiCapFraction` (fraction of the epoch's line searches that hit `maxXi`)
   * and `xiMedian` (median xi*).
   */
  telemetry?: Record<string, number>;
}

/** The fields of an {@link EpochRecord} that measure the machine, not the run. */
export type MachineFields = "seconds" | "wallSeconds" | "cpuSeconds" | "load1";

/**
 * The part of a record that an exact resume must reproduce bit for bit:
 * everything but the wall-clock, CPU-time and load fields, which differ from
 * run to run.
 *
 * @example
 * ```ts
 * import { deterministicPart } from "./metrics_log.ts";
 * const r = { epoch: 1, method: "sgd", trainLoss: 0.5, trainError: 10, testLoss: 0.6,
 *   testError: 12, lr: 0.1, steps: 3, seconds: 2, wallSeconds: 3, cpuSeconds: 5, load1: 1 };
 * const d = deterministicPart(r);
 * if ("seconds" in d || "load1" in d || d.trainLoss !== 0.5) throw new Error(JSON.stringify(d));
 * ```
 */
export function deterministicPart(
  r: EpochRecord,
): Omit<EpochRecord, MachineFields> {
  const { seconds: _s, wallSeconds: _w, cpuSeconds: _c, load1: _l, ...rest } =
    r;
  return rest;
}

/**
 * Appends one record as a JSON line.
 *
 * @example
 * ```ts
 * import { appendMetrics, readMetrics } from "./metrics_log.ts";
 * const path = (await Deno.makeTempDir()) + "/m.jsonl";
 * await appendMetrics(path, { epoch: 1, method: "sgd", trainLoss: 1, trainError: 50,
 *   testLoss: 1, testError: 40, lr: 0.1, steps: 3, seconds: 0.5 });
 * if ((await readMetrics(path))[0].testError !== 40) throw new Error();
 * ```
 */
export async function appendMetrics(
  path: string,
  record: EpochRecord,
): Promise<void> {
  const f = await Deno.open(path, { append: true, create: true });
  try {
    const bytes = new TextEncoder().encode(JSON.stringify(record) + "\n");
    let off = 0;
    while (off < bytes.length) off += await f.write(bytes.subarray(off));
  } finally {
    f.close();
  }
}

/**
 * Reads every complete record; a missing file is an empty log, a last line
 * cut short by a crash is ignored, any other malformed line is an error.
 *
 * @example
 * ```ts
 * import { readMetrics } from "./metrics_log.ts";
 * const path = (await Deno.makeTempDir()) + "/m.jsonl";
 * await Deno.writeTextFile(path, '{"epoch":1}\n{"epo');
 * if ((await readMetrics(path)).length !== 1) throw new Error();
 * ```
 */
export async function readMetrics(path: string): Promise<EpochRecord[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const lines = text.split("\n");
  const out: EpochRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === "") continue;
    const complete = i < lines.length - 1; // followed by a newline
    try {
      out.push(JSON.parse(line));
    } catch (e) {
      if (!complete) break;
      throw new Error(
        `${path}:${i + 1}: malformed metrics line ${JSON.stringify(line)}: ${
          (e as Error).message
        }`,
      );
    }
    if (!complete) break;
  }
  return out;
}

/**
 * Rewrites the log (atomically) keeping only records with `epoch <= lastEpoch`.
 *
 * @example
 * ```ts
 * import { appendMetrics, readMetrics, truncateMetrics } from "./metrics_log.ts";
 * const path = (await Deno.makeTempDir()) + "/m.jsonl";
 * for (const epoch of [1, 2, 3]) {
 *   await appendMetrics(path, { epoch, method: "sgd", trainLoss: 1, trainError: 1,
 *     testLoss: 1, testError: 1, lr: 0.1, steps: 1, seconds: 0 });
 * }
 * await truncateMetrics(path, 2);
 * if ((await readMetrics(path)).length !== 2) throw new Error();
 * ```
 */
export async function truncateMetrics(
  path: string,
  lastEpoch: number,
): Promise<void> {
  const kept = (await readMetrics(path)).filter((r) => r.epoch <= lastEpoch);
  await writeFileAtomic(
    path,
    kept.map((r) => JSON.stringify(r) + "\n").join(""),
  );
}
