/**
 * `--jobs N`: one `deno task repro` as N cooperating processes on one
 * machine, so that an experiment of several runs keeps every core busy on a
 * CPU backend (one process with N wasm threads scales far less than N
 * single-threaded processes; README "Performance"). The parent process
 * computes nothing itself:
 *
 * 1. Training: N children `repro/main.ts <targets> <flags> --shard i/N
 *    --threads T --train-only`, T = max(1, floor(threads / N)). They split
 *    the run list as `--shard` always does (lib/train/shard.ts: by sorted run
 *    id, a shared dependency claimed with a lock file and trained once, the
 *    others waiting for its `done.json`).
 * 2. Writing: every run is done; the targets are split over min(N, targets)
 *    children by their estimated cost ({@link partitionByCost}), each
 *    `repro/main.ts <its targets> <flags> --jobs 1 --threads T`.
 * 3. A target that times itself ({@link Target.timed}, Table 2) runs last,
 *    alone, with every thread, so that no other process shares the cores
 *    while it measures.
 *
 * Children's lines are prefixed `[job i] `; their progress prints one plain
 * line per epoch (their stderr is not a terminal). A failing child stops the
 * others; SIGINT and SIGTERM are passed on to the children. Runs keep their
 * checkpoints either way, so the same command resumes.
 *
 * @module
 */
import { defaultThreads, plannedBackend } from "../lib/backend.ts";
import type { Shard } from "../lib/train/shard.ts";
import { formatDuration } from "../lib/train/progress.ts";
import { type CliOptions, STRING_FLAGS } from "./cli.ts";
import type { Target } from "./target.ts";

/**
 * The environment variable through which the parent tells its children the
 * jobs count; they record it in their results' provenance (`jobs`).
 *
 * @example
 * ```ts
 * import { JOBS_ENV } from "./jobs.ts";
 * if (JOBS_ENV !== "POF_REPRO_JOBS") throw new Error();
 * ```
 */
export const JOBS_ENV = "POF_REPRO_JOBS";

/**
 * The jobs count to record in a result's provenance: {@link JOBS_ENV} when
 * it holds a positive integer (this process is a child of `--jobs`), else 1.
 *
 * @example
 * ```ts
 * import { provenanceJobs } from "./jobs.ts";
 * if (provenanceJobs({ POF_REPRO_JOBS: "4" }) !== 4 || provenanceJobs({}) !== 1) throw new Error();
 * ```
 */
export function provenanceJobs(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): number {
  const v = env[JOBS_ENV];
  return v !== undefined && /^[0-9]+$/.test(v) && Number(v) >= 1
    ? Number(v)
    : 1;
}

/**
 * The default jobs count for a `--backend` value: every logical core when
 * the backend that will run is a CPU one (`wasm`, `cpu`), else 1
 * (`tensorflow` spreads one process over every core itself or runs on a
 * GPU; `webgpu` runs on a GPU).
 *
 * @example
 * ```ts
 * import { defaultJobs } from "./jobs.ts";
 * if (defaultJobs("cpu") !== (navigator.hardwareConcurrency ?? 1) || defaultJobs("webgpu") !== 1) throw new Error();
 * ```
 */
export function defaultJobs(backend: CliOptions["backend"]): number {
  const b = plannedBackend(backend);
  return b === "wasm" || b === "cpu" ? defaultThreads() : 1;
}

/**
 * How many processes to run: 1 for a `--shard` (it is one of several
 * processes already) or when at most one run is left to train; else
 * `--jobs` (default {@link defaultJobs}), at most the runs left.
 *
 * @example
 * ```ts
 * import { jobsToRun } from "./jobs.ts";
 * const o = { jobs: 4, backend: "wasm" as const, shard: { index: 0, count: 1 } };
 * if (jobsToRun(o, 3) !== 3 || jobsToRun(o, 1) !== 1 || jobsToRun({ ...o, jobs: 2 }, 9) !== 2) throw new Error();
 * ```
 */
export function jobsToRun(
  options: { jobs?: number; backend: CliOptions["backend"]; shard: Shard },
  runsLeft: number,
): number {
  if (options.shard.count > 1 || runsLeft <= 1) return 1;
  return Math.min(options.jobs ?? defaultJobs(options.backend), runsLeft);
}

/**
 * The one-line note printed when `--jobs` exceeds this machine's logical
 * cores (allowed: the processes then share cores), or null.
 *
 * @example
 * ```ts
 * import { jobsNote } from "./jobs.ts";
 * if (jobsNote(1) !== null || !jobsNote(1000)!.includes("--jobs 1000")) throw new Error();
 * ```
 */
export function jobsNote(jobs: number): string | null {
  const cores = defaultThreads();
  if (jobs <= cores) return null;
  return `note: --jobs ${jobs} is more than the ${cores} logical cores of this machine; jobs will share cores`;
}

/**
 * Splits `items` over at most `bins` non-empty groups, longest processing
 * time first: items by decreasing cost (ties: given order), each to the
 * group with the least total cost so far (ties: fewer items, then the
 * first group). Each group keeps the given order of its items.
 *
 * @example
 * ```ts
 * import { partitionByCost } from "./jobs.ts";
 * const g = partitionByCost(["a", "b", "c"], 2, (x) => ({ a: 3, b: 2, c: 2 })[x]!);
 * if (JSON.stringify(g) !== '[["a"],["b","c"]]') throw new Error(JSON.stringify(g));
 * ```
 */
export function partitionByCost<T>(
  items: readonly T[],
  bins: number,
  cost: (item: T) => number,
): T[][] {
  const n = Math.max(1, Math.min(bins, items.length));
  const load = new Array<number>(n).fill(0);
  const members: number[][] = Array.from({ length: n }, () => []);
  const order = items.map((item, i) => ({ i, c: cost(item) }))
    .sort((a, b) => b.c - a.c || a.i - b.i);
  for (const { i, c } of order) {
    let best = 0;
    for (let k = 1; k < n; k++) {
      if (
        load[k] < load[best] ||
        (load[k] === load[best] && members[k].length < members[best].length)
      ) best = k;
    }
    load[best] += c;
    members[best].push(i);
  }
  return members.filter((m) => m.length > 0)
    .map((m) => m.sort((a, b) => a - b).map((i) => items[i]));
}

/**
 * The command line `args` without its targets (positional arguments),
 * `--jobs` and `--threads`: what every child gets, before its own targets
 * and flags.
 *
 * @example
 * ```ts
 * import { forwardedArgs } from "./jobs.ts";
 * const f = forwardedArgs(["all", "--preset", "smoke", "--jobs=2", "--threads", "4", "--quiet"]);
 * if (f.join(" ") !== "--preset smoke --quiet") throw new Error(f.join(" "));
 * ```
 */
export function forwardedArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") break; // only positional arguments follow
    if (!a.startsWith("-")) continue;
    const body = a.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    const withValue = eq < 0 && STRING_FLAGS.includes(name) &&
      i + 1 < args.length;
    const taken = withValue ? [a, args[++i]] : [a];
    if (name !== "jobs" && name !== "threads") out.push(...taken);
  }
  return out;
}

/**
 * The per-target blocks of a `repro/main.ts` summary printed on stdout:
 * `  <target>  <files>` and its indented result lines, by target name.
 *
 * @example
 * ```ts
 * import { summaryBlocks } from "./jobs.ts";
 * const b = summaryBlocks(["x", "Summary (preset smoke):", "  table1    t.json, t.md",
 *   "            SGD 10: 9%", "  fig4      fig4.json"], ["table1", "fig4"]);
 * if (b.get("table1")!.length !== 2 || b.get("fig4")![0] !== "  fig4      fig4.json") throw new Error();
 * ```
 */
export function summaryBlocks(
  stdout: readonly string[],
  targets: readonly string[],
): Map<string, string[]> {
  const blocks = new Map<string, string[]>();
  const start = stdout.findIndex((l) => l.startsWith("Summary ("));
  if (start < 0) return blocks;
  let current: string[] | null = null;
  for (const line of stdout.slice(start + 1)) {
    const name = /^ {2}(\S+) /.exec(line)?.[1];
    if (name !== undefined && targets.includes(name)) {
      current = [line];
      blocks.set(name, current);
    } else if (current && line.startsWith(" ".repeat(12))) current.push(line);
    else current = null;
  }
  return blocks;
}

/** One child process to start. */
interface Job {
  /** What it does, for messages ("--shard 0/2", "writing table1, fig4"). */
  what: string;
  args: string[];
}

/** How a phase ended: every job succeeded, one failed, or a signal came. */
type PhaseEnd =
  | { ok: true; stdout: string[][] }
  | { ok: false; job: number; code: number }
  | { ok: false; signal: Deno.Signal };

const SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM"];
const SIGNAL_NUMBER: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

async function pipeLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop()!;
    for (const p of parts) onLine(p);
  }
  if (rest !== "") onLine(rest);
}

/** Starts `jobs` at once and waits for all; the first failure or a signal stops the others. */
async function runPhase(jobs: Job[], jobsCount: number): Promise<PhaseEnd> {
  const main = new URL("./main.ts", import.meta.url).pathname;
  const importMap =
    new URL("../tools/offline_import_map.json", import.meta.url).pathname;
  const children = jobs.map((job) =>
    new Deno.Command(Deno.execPath(), {
      // What `deno task repro` runs (deno.json), with absolute paths.
      args: ["run", "-A", `--import-map=${importMap}`, main, ...job.args],
      env: { [JOBS_ENV]: String(jobsCount) },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn()
  );
  const live = new Set(children);
  const stopOthers = (signal: Deno.Signal) => {
    for (const c of live) {
      try {
        c.kill(signal);
      } catch { /* exited meanwhile */ }
    }
  };
  let end: PhaseEnd | null = null;
  const onSignal = (signal: Deno.Signal) => () => {
    end ??= { ok: false, signal };
    stopOthers(signal);
  };
  const handlers = SIGNALS.map((s) => [s, onSignal(s)] as const);
  for (const [s, h] of handlers) Deno.addSignalListener(s, h);
  const stdout: string[][] = jobs.map(() => []);
  try {
    await Promise.all(children.map(async (child, i) => {
      const prefix = `[job ${i}] `;
      const [status] = await Promise.all([
        child.status,
        pipeLines(child.stdout, (l) => {
          stdout[i].push(l);
          console.log(prefix + l);
        }),
        pipeLines(child.stderr, (l) => console.error(prefix + l)),
      ]);
      live.delete(child);
      if (!status.success && end === null) {
        end = { ok: false, job: i, code: status.code };
        stopOthers("SIGTERM");
      }
    }));
  } finally {
    for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  }
  return end ?? { ok: true, stdout };
}

/** Prints why a phase stopped; returns the exit code. */
function stopped(end: PhaseEnd, jobs: Job[]): number {
  if (end.ok) return 0;
  const keep =
    "finished runs and checkpoints are kept: run the same command again to resume";
  if ("signal" in end) {
    console.error(`jobs: stopped by ${end.signal}; ${keep}`);
    return 128 + SIGNAL_NUMBER[end.signal];
  }
  console.error(
    `error: job ${end.job} (${
      jobs[end.job].what
    }) exited with code ${end.code}; stopped the other jobs; ${keep}`,
  );
  return 1;
}

/** Options of {@link runJobs}. */
export interface RunJobsOptions {
  /** The parsed command line (with the resolved preset). */
  options: CliOptions;
  /** Processes to run (> 1). */
  jobs: number;
  /** Runs left to train, for the first message. */
  runsLeft: number;
}

/**
 * Runs `targets` as `jobs` processes (see the module doc) and prints one
 * summary: wall time and each target's files. `args` is the command line
 * as given (its flags are passed on). Returns the exit code: 0; 1 when a
 * child failed (naming it and its exit code); 128 + the signal's number
 * when SIGINT or SIGTERM stopped it.
 *
 * @example
 * ```ts
 * import { runJobs } from "./jobs.ts";
 * if (typeof runJobs !== "function") throw new Error();
 * ```
 */
export async function runJobs(
  args: readonly string[],
  targets: readonly Target[],
  { options, jobs, runsLeft }: RunJobsOptions,
): Promise<number> {
  const say = (s: string) => options.quiet ? undefined : console.error(s);
  const threads = options.threads ?? defaultThreads();
  const perJob = Math.max(1, Math.floor(threads / jobs));
  const common = forwardedArgs(args);
  const names = targets.map((t) => t.name);
  const t0 = performance.now();

  say(
    `jobs: training ${runsLeft} run(s) in ${jobs} processes (--shard i/${jobs} --steal, ${perJob} thread(s) each)`,
  );
  const training: Job[] = Array.from({ length: jobs }, (_, i) => ({
    what: `--shard ${i}/${jobs}`,
    args: [
      ...names,
      ...common,
      "--shard",
      `${i}/${jobs}`,
      "--steal",
      "--threads",
      String(perJob),
      ...(options.trainOnly ? [] : ["--train-only"]),
    ],
  }));
  const trained = await runPhase(training, jobs);
  if (!trained.ok) return stopped(trained, training);
  const t1 = performance.now();
  const head =
    `Summary (preset ${options.preset.name}, ${jobs} jobs x ${perJob} thread(s), ${
      formatDuration((t1 - t0) / 1000)
    }`;
  if (options.trainOnly) {
    console.log(
      `\n${head}): trained every run; target files not written (--train-only)`,
    );
    return 0;
  }

  const seeds = Array.from({ length: options.seeds }, (_, i) => i);
  const cost = (t: Target) =>
    (t.work?.(options.preset, seeds) ?? [])
      .reduce((s, w) => s + w.multiplyAdds, 0);
  const groups = partitionByCost(targets.filter((t) => !t.timed), jobs, cost);
  const writing: Job[] = groups.map((g) => ({
    what: `writing ${g.map((t) => t.name).join(", ")}`,
    args: [
      ...g.map((t) => t.name),
      ...common,
      "--jobs",
      "1",
      "--threads",
      String(perJob),
    ],
  }));
  const timed = targets.filter((t) => t.timed);
  const timing: Job[] = timed.length === 0 ? [] : [{
    what: `timing ${timed.map((t) => t.name).join(", ")} alone`,
    args: [
      ...timed.map((t) => t.name),
      ...common,
      "--jobs",
      "1",
      "--threads",
      String(threads),
    ],
  }];
  const outputs: string[][] = [];
  for (const phase of [writing, timing]) {
    if (phase.length === 0) continue;
    say(`jobs: ${phase.map((j, i) => `[job ${i}] ${j.what}`).join("; ")}`);
    const end = await runPhase(phase, jobs);
    if (!end.ok) return stopped(end, phase);
    outputs.push(...end.stdout);
  }

  const t2 = performance.now();
  const lines = [
    "",
    `${head} training, ${formatDuration((t2 - t1) / 1000)} writing, ${
      formatDuration((t2 - t0) / 1000)
    } in all):`,
  ];
  const blocks = summaryBlocks(outputs.flat(), names);
  for (const name of names) {
    lines.push(
      ...(blocks.get(name) ??
        [`  ${name.padEnd(9)} (no summary line: see its job's output above)`]),
    );
  }
  console.log(lines.join("\n"));
  return 0;
}
