/**
 * Measurements of `deno task bench` in child processes (the thread count of
 * the fast CPU path is fixed per process): the SGD step time with 1 thread
 * over that with N threads, and the throughput gain of two single-thread
 * runs side by side. Each child is `repro/bench.ts --child`.
 *
 * @module
 */
import { median } from "../../lib/stats.ts";
import { buildModel } from "./measure.ts";
import type { BenchModel } from "./plan.ts";

/**
 * Runs `copies` child processes at once, each timing `steps` SGD steps of `m`
 * with `threads` threads after one warm-up step; returns each child's step
 * times (ms; process start-up and warm-up excluded).
 *
 * @example
 * ```ts ignore
 * import { childStepMs } from "./scaling.ts";
 * import type { BenchModel } from "./plan.ts";
 * const m: BenchModel = { depth: 10, widen: 1, inputShape: [16, 16, 3], batch: 8 };
 * const [a, b] = await childStepMs(m, { copies: 2, steps: 3, threads: 1 });
 * console.log(a, b);
 * ```
 */
export async function childStepMs(
  m: BenchModel,
  { copies, steps, threads }: {
    copies: number;
    steps: number;
    threads: number;
  },
): Promise<number[][]> {
  const args = [
    "run",
    "-A",
    `--import-map=${
      new URL("../../tools/offline_import_map.json", import.meta.url).pathname
    }`,
    new URL("../bench.ts", import.meta.url).pathname,
    "--child",
    String(steps),
    "--child-model",
    JSON.stringify(m),
    "--threads",
    String(threads),
  ];
  const outs = await Promise.all(
    Array.from(
      { length: copies },
      () =>
        new Deno.Command(Deno.execPath(), {
          args,
          stdout: "piped",
          stderr: "piped",
        }).output(),
    ),
  );
  return outs.map((o) => {
    const text = new TextDecoder().decode(o.stdout).trim().split("\n").pop();
    let ms: unknown = null;
    try {
      ms = JSON.parse(text ?? "");
    } catch { /* reported below */ }
    if (
      !o.success || !Array.isArray(ms) ||
      !ms.every((t) => typeof t === "number" && Number.isFinite(t))
    ) {
      throw new Error(
        `bench child failed (stdout "${text}"): ${
          new TextDecoder().decode(o.stderr).slice(-2000)
        }`,
      );
    }
    return ms as number[];
  });
}

/** The scaling measurement: SGD step times with 1 and with N threads. */
export interface Scaling {
  model: string;
  batch: number;
  threads: number;
  /** Median SGD step (ms) of each 1-thread child, in run order. */
  oneThreadMs: number[];
  /** Median SGD step (ms) of each N-thread child, in run order. */
  allThreadsMs: number[];
  /** Median of oneThreadMs over median of allThreadsMs. */
  scaling: number;
  /** `uptime`'s load averages (1, 5, 15 min) before and after, where readable. */
  loadBefore: number[] | null;
  loadAfter: number[] | null;
}

function loadAverages(): number[] | null {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).map(
      Number,
    );
  } catch {
    return null;
  }
}

/**
 * Alternates child processes with 1 and `threads` threads, `pairs` times;
 * `log` receives one line per pair.
 *
 * @example
 * ```ts ignore
 * import { measureScaling } from "./scaling.ts";
 * import type { BenchModel } from "./plan.ts";
 * const m: BenchModel = { depth: 10, widen: 1, inputShape: [32, 32, 3], batch: 16 };
 * const s = await measureScaling(m, { threads: 2, pairs: 1, steps: 3 });
 * console.log(s.scaling, s.loadBefore);
 * ```
 */
export async function measureScaling(
  m: BenchModel,
  { threads, pairs, steps, log = () => {} }: {
    threads: number;
    pairs: number;
    steps: number;
    log?: (line: string) => void;
  },
): Promise<Scaling> {
  const loadBefore = loadAverages();
  const one: number[] = [], all: number[] = [];
  for (let i = 0; i < pairs; i++) {
    const [a] = await childStepMs(m, { copies: 1, steps, threads: 1 });
    one.push(median(a));
    const [b] = await childStepMs(m, { copies: 1, steps, threads });
    all.push(median(b));
    log(
      `  pair ${i + 1}: 1 thread ${
        median(a).toFixed(0)
      } ms/step, ${threads} threads ${median(b).toFixed(0)} ms/step`,
    );
  }
  return {
    model: buildModel(m).name,
    batch: m.batch,
    threads,
    oneThreadMs: one.map(Math.round),
    allThreadsMs: all.map(Math.round),
    scaling: median(one) / median(all),
    loadBefore,
    loadAfter: loadAverages(),
  };
}
