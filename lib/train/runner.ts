/**
 * Runs: one folder per run id under a results folder, holding
 * `config.json`, `metrics.jsonl` (one line per epoch), the checkpoints
 * (`ckpt-eNNNNN.bin`), a `lock` while a process trains it, and `done.json`
 * when finished. {@link trainRun} starts, resumes (from the latest
 * checkpoint) or skips (done) a run; {@link runPlan} executes a list of runs,
 * dependencies first, for one shard.
 *
 * Continuations (`config.from`) start from the parent run's checkpoint and
 * continue its RNG and loader state; with the same method they also keep its
 * optimizer state (so SAM-200 -> SAM-250 equals one uninterrupted SAM-250
 * run), with a different method (SAM -> PoF, PoF -> classifier fine-tuning)
 * the optimizer state starts fresh and the method's step count restarts at 0.
 *
 * @module
 */
import type { Model } from "../models/model.ts";
import { Rng } from "../rng.ts";
import { disposeTree } from "../tree.ts";
import {
  disposeTrainState,
  type Method,
  type TrainState,
} from "../optim/method.ts";
import type { RunConfig } from "./run_config.ts";
import { evaluatesAt, startEpoch } from "./run_config.ts";
import { runId, withDependencies } from "./run_id.ts";
import {
  type Checkpoint,
  latestCheckpoint,
  loadCheckpoint,
  loadLatestValidCheckpoint,
  pruneCheckpoints,
  saveCheckpoint,
} from "./checkpoint.ts";
import {
  appendMetrics,
  type EpochRecord,
  readMetrics,
  truncateMetrics,
} from "./metrics_log.ts";
import { type EpochOptions, trainEpoch } from "./loop.ts";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { EvalData, TrainData } from "../data/batch.ts";
import { formatDuration, type ProgressBar } from "./progress.ts";
import {
  readLock,
  releaseLock,
  type Shard,
  shardIds,
  tryLock,
} from "./shard.ts";
import { writeFileAtomic } from "../atomic_write.ts";
import { rehearsalEpoch } from "./rehearsal.ts";
import { explainMemoryError } from "../backend_memory.ts";
import {
  describeResources,
  peakRssBytes,
  profilePeakBytes,
  type RunResources,
} from "./resources.ts";
import { loadAverage1, processCpuSeconds } from "./usage.ts";

/** The pieces a run is made of, built from its configuration. */
export interface RunParts {
  model: Model;
  method: Method;
  train: TrainData;
  test: EvalData;
  trainEval: EvalData;
  /** Bytes of images and labels the data loaders hold (for the resources line), optional. */
  dataBytes?: number;
  /** Releases what the parts hold (datasets on the device), optional. */
  dispose?(): void;
}

/**
 * Builds a run's parts. `optEpochOffset` is the absolute epoch at which the
 * method's step count was 0: its learning-rate schedule must read
 * `lrAt(config.schedule, optEpochOffset + floor(count / stepsPerEpoch))`.
 */
export type RunBuilder = (
  config: RunConfig,
  options: { optEpochOffset: number },
) => Promise<RunParts>;

/** Options of {@link trainRun}. */
export interface TrainRunOptions {
  /** Results folder holding one folder per run. */
  runsDir: string;
  build: RunBuilder;
  /** Checkpoint every this many epochs (kept epochs and the last are always saved). */
  checkpointEvery?: number;
  progress?: ProgressBar;
  /** Where one-line warnings go (a corrupt checkpoint set aside); default stderr. */
  warn?: (line: string) => void;
  /** Test hook: called after each epoch's checkpoint decision. */
  afterEpoch?: (record: EpochRecord) => void | Promise<void>;
}

/** What `done.json` holds. */
export interface RunDone {
  id: string;
  config: RunConfig;
  finalEpoch: number;
  final: EpochRecord;
  seconds: number;
  /** What the process that finished the run measured (see lib/train/resources.ts). */
  resources?: RunResources;
}

/**
 * The folder of a run.
 *
 * @example
 * ```ts
 * import { runDir } from "./runner.ts";
 * import { toyRun } from "./testdata/train_toy.ts";
 * if (!runDir("out/runs", toyRun(250)).startsWith("out/runs/toy-sgd-e250-s0-")) throw new Error();
 * ```
 */
export function runDir(runsDir: string, config: RunConfig): string {
  return `${runsDir}/${runId(config)}`;
}

/**
 * The `done.json` of a finished run, or null.
 *
 * @example
 * ```ts
 * import { readDone } from "./runner.ts";
 * import { toyRun } from "./testdata/train_toy.ts";
 * if ((await readDone(await Deno.makeTempDir(), toyRun(3))) !== null) throw new Error();
 * ```
 */
export async function readDone(
  runsDir: string,
  config: RunConfig,
): Promise<RunDone | null> {
  try {
    return JSON.parse(
      await Deno.readTextFile(`${runDir(runsDir, config)}/done.json`),
    );
  } catch {
    return null;
  }
}

/**
 * Trains a run to its last epoch, resuming from its latest checkpoint, or
 * returns at once when it is done. The caller must hold the run's lock when
 * several processes share the results folder (see {@link runPlan}).
 * The parent of a continuation must be done (or hold the start checkpoint).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * import { buildRun } from "./build.ts";
 * import { trainRun } from "./runner.ts";
 * await useBackend("cpu");
 * const config = { dataset: "toy", model: { kind: "mlp" as const, hidden: [8] }, method: { name: "sgd" as const },
 *   seed: 0, epochs: 2, batchSize: 64, schedule: { baseLr: 0.1, milestones: [], factor: 1 },
 *   momentum: 0.9, weightDecay: 0, keepEpochs: [], testLimit: 64 };
 * const runsDir = await Deno.makeTempDir();
 * const done = await trainRun(config, { runsDir, build: buildRun });
 * if (done.final.epoch !== 2) throw new Error();
 * const again = await trainRun(config, { runsDir, build: buildRun }); // already done: returns at once
 * if (again.final.testError !== done.final.testError) throw new Error();
 * ```
 */
export async function trainRun(
  config: RunConfig,
  options: TrainRunOptions,
): Promise<RunDone> {
  const id = runId(config);
  const dir = `${options.runsDir}/${id}`;
  const done = await readDone(options.runsDir, config);
  if (done) return done;
  await Deno.mkdir(dir, { recursive: true });
  await writeFileAtomic(
    `${dir}/config.json`,
    JSON.stringify({ id, config }, null, 1) + "\n",
  );
  const metricsPath = `${dir}/metrics.jsonl`;
  const first = startEpoch(config);
  if (config.epochs <= first) {
    throw new RangeError(
      `run ${id}: epochs (${config.epochs}) must exceed its start epoch (${first})`,
    );
  }
  const every = Math.max(1, options.checkpointEvery ?? 1);
  const keep = [...config.keepEpochs, config.epochs];

  // Where to start: own checkpoint, parent's checkpoint, or fresh.
  let ckpt: Checkpoint | null = null;
  let optEpochOffset = 0;
  let freshOpt = false;
  const warn = options.warn ?? ((line: string) => console.error(line));
  const own = await loadLatestValidCheckpoint(dir, {
    warn: (line) => warn(`${id}: ${line}`),
    restartEpoch: first,
  });
  if (own.checkpoint !== null) {
    ckpt = own.checkpoint;
    optEpochOffset = Number(ckpt.extra?.optEpochOffset ?? 0);
    await truncateMetrics(metricsPath, ckpt.epoch);
  } else {
    await truncateMetrics(metricsPath, first);
    if (config.from) {
      const parentDir = `${options.runsDir}/${runId(config.from.run)}`;
      ckpt = await loadCheckpoint(parentDir, config.from.epoch);
      if (config.from.run.method.name === config.method.name) {
        optEpochOffset = Number(ckpt.extra?.optEpochOffset ?? 0);
      } else {
        optEpochOffset = config.from.epoch;
        freshOpt = true;
      }
    }
  }
  const parts = await options.build(config, { optEpochOffset });
  let state: TrainState;
  let rng: Rng;
  if (ckpt) {
    state = ckpt.state;
    rng = Rng.fromState(ckpt.rng);
    parts.train.restore(ckpt.loader);
    if (freshOpt) {
      for (const slot of Object.values(state.opt.slots)) disposeTree(slot);
      state = { ...state, opt: parts.method.initOpt(state.params) };
    }
  } else {
    const init = parts.model.init(new Rng(config.seed).fork("init"));
    state = {
      params: init.params,
      bn: init.state,
      opt: parts.method.initOpt(init.params),
    };
    rng = new Rng(config.seed).fork("train");
  }
  const startAt = ckpt ? ckpt.epoch : first;
  const t0 = performance.now();
  let last: EpochRecord | null = null;
  let checkpointBytes: number | null = null;
  let peakTensorBytes: number | null = null;
  const bar = options.progress;
  bar?.line(
    `${id}: ${
      startAt > first
        ? `resuming at epoch ${startAt}`
        : `starting at epoch ${startAt}`
    }, training to ${config.epochs}`,
  );
  try {
    for (let e = startAt; e < config.epochs; e++) {
      const te = performance.now(), cpu0 = processCpuSeconds();
      // A rehearsal: steps only in a segment's first epoch, evaluation and
      // checkpoint only in its last (lib/train/rehearsal.ts).
      const rehearse = config.rehearsal ? rehearsalEpoch(config, e) : null;
      const evaluate = rehearse === null
        ? evaluatesAt(config, e + 1)
        : rehearse.closesSegment;
      const epochOptions = {
        model: parts.model,
        method: parts.method,
        data: parts.train,
        epoch: e,
        rng,
        test: evaluate ? parts.test : undefined,
        trainEval: evaluate ? parts.trainEval : undefined,
        maxSteps: rehearse?.steps,
        onStep: (p: Parameters<NonNullable<EpochOptions["onStep"]>>[0]) => {
          const done = (e - startAt) + p.step / p.stepsPerEpoch;
          const elapsed = (performance.now() - t0) / 1000;
          bar?.update({
            ...p,
            label: id,
            lastEpoch: config.epochs,
            etaSeconds: elapsed / done * (config.epochs - startAt - done),
          });
        },
      };
      let out: ReturnType<typeof trainEpoch>;
      try {
        if (rehearse && rehearse.steps > 0) {
          // Rehearsals measure the peak bytes of live tensors of their steps.
          const profiled = await profilePeakBytes(() =>
            trainEpoch(state, epochOptions)
          );
          out = profiled.result;
          peakTensorBytes = Math.max(
            peakTensorBytes ?? 0,
            profiled.peakBytes,
          );
        } else {
          out = trainEpoch(state, epochOptions);
        }
      } catch (error) {
        throw explainMemoryError(
          error,
          `run ${id}, epoch ${e + 1}, batch ${config.batchSize}`,
        );
      }
      state = out.state;
      last = {
        ...out.record,
        wallSeconds: (performance.now() - te) / 1000,
        cpuSeconds: cpu0 === undefined
          ? undefined
          : processCpuSeconds()! - cpu0,
        load1: loadAverage1(),
      };
      await appendMetrics(metricsPath, last);
      const epoch = e + 1;
      const save = rehearse
        ? rehearse.closesSegment
        : epoch % every === 0 || keep.includes(epoch);
      if (save) {
        const path = await saveCheckpoint(dir, {
          epoch,
          state,
          rng: rng.state(),
          loader: parts.train.state(),
          extra: { id, optEpochOffset },
        });
        checkpointBytes = (await Deno.stat(path)).size;
        await pruneCheckpoints(dir, keep);
      }
      const t = out.record.telemetry;
      const pof = t?.xiCapFraction !== undefined
        ? ` (at theta0 ${t.lossAtTheta0?.toFixed(4)}, xi* median ${
          t.xiMedian?.toPrecision(3)
        }, at cap ${(100 * t.xiCapFraction).toFixed(1)}%)`
        : "";
      // A rehearsal's bookkeeping-only epochs are not printed.
      const shown = !rehearse || rehearse.steps > 0 || rehearse.closesSegment;
      if (shown) {
        // A rehearsal's epoch without steps has no loss or learning rate.
        const stepped = !rehearse || rehearse.steps > 0;
        bar?.line(
          `${id}: epoch ${epoch}/${config.epochs}${
            stepped
              ? ` loss ${out.record.trainLoss.toFixed(4)}${pof}`
              : " (no steps in this epoch of the rehearsal)"
          }${
            Number.isFinite(out.record.testError)
              ? ` train err ${out.record.trainError.toFixed(2)}% test err ${
                out.record.testError.toFixed(2)
              }%`
              : " (not evaluated)"
          }${stepped ? ` lr ${out.record.lr.toExponential(2)}` : ""} (${
            formatDuration((performance.now() - te) / 1000)
          })`,
        );
      }
      await options.afterEpoch?.(last);
    }
  } finally {
    disposeTrainState(state);
    parts.dispose?.();
  }
  const records = await readMetrics(metricsPath);
  const final = last ?? records[records.length - 1];
  const resources: RunResources = {
    peakRssBytes: peakRssBytes(),
    checkpointBytes,
    dataBytes: parts.dataBytes ?? null,
    peakTensorBytes,
  };
  if (peakTensorBytes !== null && tf.memory().unreliable) {
    resources.tensorBytesUnreliable = true;
  }
  bar?.line(`${id}: resources: ${describeResources(resources)}`);
  const result: RunDone = {
    id,
    config,
    finalEpoch: config.epochs,
    final,
    seconds: (performance.now() - t0) / 1000,
    resources,
  };
  await writeFileAtomic(
    `${dir}/done.json`,
    JSON.stringify(result, null, 1) + "\n",
  );
  return result;
}

/**
 * The per-epoch metrics of a run (complete lines only).
 *
 * @example
 * ```ts
 * import { runMetrics } from "./runner.ts";
 * import { toyRun } from "./testdata/train_toy.ts";
 * if ((await runMetrics(await Deno.makeTempDir(), toyRun(3))).length !== 0) throw new Error();
 * ```
 */
export function runMetrics(
  runsDir: string,
  config: RunConfig,
): Promise<EpochRecord[]> {
  return readMetrics(`${runDir(runsDir, config)}/metrics.jsonl`);
}

/** The status of one planned run, for `--dry-run` and summaries. */
export interface PlannedRun {
  id: string;
  config: RunConfig;
  /** Owned by this shard (else only trained here if a dependency is unclaimed). */
  owned: boolean;
  status: "done" | "partial" | "todo";
  /** Latest checkpoint epoch, if any. */
  checkpoint: number | null;
}

/**
 * The runs a shard executes: every run (dependencies included) in
 * dependency order, each marked owned or not and with its status.
 *
 * @example
 * ```ts
 * import { planRuns } from "./runner.ts";
 * const c = { dataset: "d", model: { kind: "mlp" as const, hidden: [4] },
 *   method: { name: "sgd" as const }, seed: 0, epochs: 1, batchSize: 2,
 *   schedule: { baseLr: 0.1, milestones: [], factor: 0.2 }, momentum: 0.9,
 *   weightDecay: 0, keepEpochs: [] };
 * const plan = await planRuns([c], await Deno.makeTempDir());
 * if (plan.length !== 1 || plan[0].status !== "todo") throw new Error();
 * ```
 */
export async function planRuns(
  configs: RunConfig[],
  runsDir: string,
  shard: Shard = { index: 0, count: 1 },
): Promise<PlannedRun[]> {
  const all = withDependencies(configs);
  const owned = new Set(shardIds(all.map(runId), shard));
  const out: PlannedRun[] = [];
  for (const config of all) {
    const id = runId(config);
    const done = await readDone(runsDir, config);
    const checkpoint = await latestCheckpoint(`${runsDir}/${id}`);
    out.push({
      id,
      config,
      owned: owned.has(id),
      status: done ? "done" : checkpoint !== null ? "partial" : "todo",
      checkpoint,
    });
  }
  return out;
}

/** Options of {@link runPlan}. */
export interface RunPlanOptions extends TrainRunOptions {
  shard?: Shard;
  /**
   * Never wait while runs are unclaimed: this shard's runs first, then any
   * other shard's, each as soon as its dependency is done; wait only when
   * every run left is held by another process (what `--jobs` uses).
   */
  steal?: boolean;
  /** Seconds between checks while waiting for another process's run. */
  pollSeconds?: number;
  /** Lock token of this process (default `<hostname>:<pid>`). */
  lockToken?: string;
  /** Trains one run (default {@link trainRun}); tests inject a counter. */
  train?: (config: RunConfig, options: TrainRunOptions) => Promise<unknown>;
}

/**
 * Executes this shard's runs: for each owned run in dependency order, first
 * makes sure its dependencies are done (claiming and training an unclaimed
 * one, waiting for one another process holds), then claims and trains it.
 * With `steal`, it never waits while a run is claimable: it repeatedly takes
 * the first unclaimed run (own runs first, then other shards') whose parent
 * is done, and waits only when every run left is held by another process.
 * Returns the ids this process trained.
 *
 * @example
 * ```ts
 * import { runPlan } from "./runner.ts";
 * import { runId } from "./run_id.ts";
 * import { toyRun } from "./testdata/train_toy.ts";
 * const sam = { ...toyRun(200), method: { name: "sam" as const, rho: 0.05 } };
 * const pof = { ...toyRun(250), method: { name: "pof" as const }, from: { run: sam, epoch: 200 } };
 * const trained: string[] = [];
 * const runsDir = await Deno.makeTempDir();
 * await runPlan([pof], {
 *   runsDir, build: () => Promise.reject(new Error("unused")),
 *   train: async (c) => {
 *     trained.push(runId(c));
 *     await Deno.writeTextFile(`${runsDir}/${runId(c)}/done.json`, "{}");
 *   },
 * });
 * if (trained.length !== 2 || !trained[0].includes("-sam-e200-")) throw new Error(trained.join());
 * ```
 */
export async function runPlan(
  configs: RunConfig[],
  options: RunPlanOptions,
): Promise<string[]> {
  const shard = options.shard ?? { index: 0, count: 1 };
  const all = withDependencies(configs);
  const owned = new Set(shardIds(all.map(runId), shard));
  const byId = new Map(all.map((c) => [runId(c), c]));
  const trained: string[] = [];
  const train = options.train ?? trainRun;
  const poll = (options.pollSeconds ?? 5) * 1000;

  const sleep = () => new Promise((r) => setTimeout(r, poll));
  // Claims the run's lock and trains it unless it is done by then; false
  // when another process holds the lock.
  const claimAndTrain = async (config: RunConfig): Promise<boolean> => {
    const id = runId(config);
    const dir = `${options.runsDir}/${id}`;
    if (!(await tryLock(dir, options.lockToken))) return false;
    try {
      if (!(await readDone(options.runsDir, config))) {
        await train(config, options);
        trained.push(id);
      }
    } finally {
      await releaseLock(dir, options.lockToken);
    }
    return true;
  };

  const ensure = async (config: RunConfig): Promise<void> => {
    if (config.from) await ensure(config.from.run);
    const id = runId(config);
    let announced = false;
    while (true) {
      if (await readDone(options.runsDir, config)) return;
      if (await claimAndTrain(config)) return;
      if (!announced) {
        const dir = `${options.runsDir}/${id}`;
        const holder = await readLock(dir);
        options.progress?.line(
          `${id}: being trained by pid ${holder?.pid} on ${holder?.hostname}; waiting for it`,
        );
        announced = true;
      }
      await sleep();
    }
  };
  if (options.steal) {
    const ids = [...byId.keys()];
    const order = [
      ...ids.filter((id) => owned.has(id)),
      ...ids.filter((id) => !owned.has(id)),
    ];
    while (true) {
      let left = 0, claimed = false;
      for (const id of order) {
        const config = byId.get(id)!;
        if (await readDone(options.runsDir, config)) continue;
        left++;
        const from = config.from?.run;
        if (from && !(await readDone(options.runsDir, from))) continue;
        if (!(await claimAndTrain(config))) continue;
        claimed = true;
        break; // back to the first run left: own runs keep priority
      }
      if (left === 0) return trained;
      if (!claimed) await sleep();
    }
  }
  for (const id of [...byId.keys()]) {
    if (owned.has(id)) await ensure(byId.get(id)!);
  }
  return trained;
}
