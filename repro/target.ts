/**
 * The interface every reproduction target (`repro/targets/<name>.ts`)
 * implements, and the context the runner hands it.
 *
 * A target does two things:
 * 1. {@link Target.runs}: lists the training runs it needs (pure; no
 *    computation). The runner unions the lists of all requested targets
 *    (identical configurations have identical ids, so shared runs such as
 *    SAM-200 appear once), shards them, trains what is missing with
 *    checkpoints, and skips what is done.
 * 2. {@link Target.produce}: once every run is done, computes the data
 *    behind the figure / table (from run metrics and checkpoints, or by its
 *    own small computation, e.g. the toy MLP of Figs. 1-2) and writes
 *    `<out>/<name>.json` (through {@link writeTargetJson}, which adds the
 *    provenance), its figures `<out>/<name>*.svg` and, for tables,
 *    `<out>/<name>.md`.
 *
 * Targets that train nothing through the runner (fig1, fig2, table2) return
 * `[]` from `runs` and describe their own work in {@link Target.work} for
 * `--dry-run`.
 *
 * Each module `repro/targets/<name>.ts` exports its target as
 * `export const target: Target = {...}`; `repro/main.ts` imports it by name.
 *
 * @module
 */
import type { BackendInfo } from "../lib/backend.ts";
import type { Rng } from "../lib/rng.ts";
import type { Model, ModelParams } from "../lib/models/model.ts";
import type { BnState } from "../lib/models/model.ts";
import type { ModelSpec, RunConfig } from "../lib/train/run_config.ts";
import type { EpochRecord } from "../lib/train/metrics_log.ts";

export type {
  ModelSpec,
  RunConfig,
  StepSchedule,
} from "../lib/train/run_config.ts";
import { writeFileAtomic } from "../lib/atomic_write.ts";
import { canonicalJson, runId } from "../lib/train/run_id.ts";
import { PRESET_NAMES, type PresetName } from "../lib/preset_name.ts";
export type { EpochRecord } from "../lib/train/metrics_log.ts";

/**
 * Every target name, in the order `repro:all` runs them.
 *
 * @example
 * ```ts
 * import { TARGET_NAMES } from "./target.ts";
 * if (TARGET_NAMES.length !== 8) throw new Error();
 * ```
 */
export const TARGET_NAMES = [
  "fig1",
  "fig2",
  "fig4",
  "fig5",
  "fig6",
  "table1",
  "table2",
  "finetune",
] as const;
/**
 * Targets that `all` does not run: the pilot (`repro/targets/pilot.ts`),
 * which trains its own grid of candidate settings instead of the preset's.
 *
 * @example
 * ```ts
 * import { EXTRA_TARGET_NAMES } from "./target.ts";
 * if (EXTRA_TARGET_NAMES.join() !== "pilot") throw new Error();
 * ```
 */
export const EXTRA_TARGET_NAMES = ["pilot"] as const;
/** A target name. */
export type TargetName =
  | typeof TARGET_NAMES[number]
  | typeof EXTRA_TARGET_NAMES[number];

// The preset names live in one place, lib/preset_name.ts.
export { PRESET_NAMES, type PresetName };

/** Per-dataset optimisation constants (paper Sec. 4.1: SVHN differs). */
export interface DatasetSettings {
  /** Dataset name as `lib/data` knows it. */
  name: string;
  /** Initial learning rate (paper 0.1, SVHN 0.01). */
  lr: number;
  /** SAM radius (paper 0.05, SVHN 0.01). */
  rho: number;
  /** Use only the first n training / test examples (undefined = all). */
  trainLimit?: number;
  testLimit?: number;
}

/**
 * A named preset: the sizes every target derives its runs from. `paper` is
 * Sec. 4.1 exactly; `quick` and `smoke` compress the epoch axis
 * proportionally (see `repro/presets.ts` for how milestones scale).
 */
export interface Preset {
  name: PresetName;
  /** One paragraph printed at the start of every run: what this preset is and how long it takes. */
  description: string;
  /** Datasets of Table 1 (and the first one for the figures). */
  datasets: DatasetSettings[];
  model: ModelSpec;
  /** Total epochs (paper 250). */
  epochs: number;
  /** Epoch at which SAM hands over to PoF (paper 200). */
  switchEpoch: number;
  /** The early PoF evaluation epoch (paper 210). */
  pofEarlyEpoch: number;
  /** Epoch at which SGD / SAM are evaluated besides `epochs` (paper 200). */
  midEpoch: number;
  /** Learning-rate milestones (paper 60/120/160/200) and factor (0.2). */
  milestones: number[];
  lrFactor: number;
  /** Update batch size (paper 256). */
  batchSize: number;
  /** PoF weak batch size (paper 32). */
  weakBatchSize: number;
  /** PoF's gamma range upper end (paper 2). */
  gammaMax: number;
  /**
   * Cap of PoF's xi* line search (ours: the paper sets no bound; 50 in every
   * preset). Part of the PoF run ids.
   */
  maxXi: number;
  /** PoF redraws weak batches whose line loss still falls at `maxXi` (false). */
  discardAsymmetric: boolean;
  /** Feature-extractor learning rate during PoF (paper text 3e-5). */
  pofLr: number;
  /** Nesterov momentum (0.9) and weight decay (5e-4). */
  momentum: number;
  weightDecay: number;
  /** Classifier fine-tuning epochs after PoF (Sec. 4.2 text: 10). */
  finetuneEpochs: number;
  /** Mini-batches per histogram in Figs. 5 and 6 (paper 400). */
  histogramBatches: number;
  /** Epochs Table 2 times per method (steps are capped by `timingSteps`). */
  timingSteps: number;
  /** Default number of seeds (`--seeds`). */
  seeds: number;
  /** Checkpoint interval in epochs (besides the kept evaluation epochs). */
  checkpointEvery: number;
  /**
   * Runs from scratch evaluate every `evalEvery`-th epoch (and at their kept
   * and last epochs); runs that continue another evaluate every epoch.
   * Undefined: every epoch. Part of the run ids where set.
   */
  evalEvery?: number;
  /** Set when the preset is rehearsed (`--rehearse`, see repro/rehearsal.ts); its runs carry it. */
  rehearsal?: PresetRehearsal;
}

/** How a preset is rehearsed (`--rehearse N`, see repro/rehearsal.ts). */
export interface PresetRehearsal {
  /** Training steps per epoch-segment. */
  steps: number;
  /** Evaluation images per split (test error, train error, Figs. 5/6 analyses). */
  evalImages: number;
  /** The preset's batch size before `--rehearse-batch` (equal to `batchSize` without it). */
  realBatchSize: number;
  /** Datasets not on disk, rehearsed on synthetic stand-ins of the same shape and count. */
  standIns: string[];
}

/** Provenance recorded in every result file. */
export interface Provenance {
  target: TargetName;
  preset: PresetName;
  seeds: number[];
  backend: BackendInfo;
  /**
   * Processes that made this result together (`--jobs`, repro/jobs.ts): the
   * runs were trained by that many processes at once, each with
   * `backend.threads` threads. 1 for one process; absent in older files.
   */
  jobs?: number;
  /** Package versions: deno, tfjs, typescript, v8. */
  versions: Record<string, string>;
  /** `git rev-parse HEAD` of the checkout (with `-dirty` when modified), or "unknown". */
  gitCommit: string;
  /** The command line. */
  argv: string[];
  /** ISO time the result was written. */
  writtenAt: string;
  /** Present when the result comes from a rehearsal (`--rehearse`): NOT a result of the paper's experiments. */
  rehearsal?: PresetRehearsal & { note: string };
}

/** What a finished run left: its per-epoch metrics. */
export interface RunResult {
  id: string;
  /** The configuration the run was trained with, as its folder records it. */
  config: RunConfig;
  /** One record per finished epoch of this run (continuations: from their start epoch + 1). */
  epochs: EpochRecord[];
}

/** A checkpoint loaded for analysis. */
export interface LoadedCheckpoint {
  model: Model;
  params: ModelParams;
  bn: BnState;
  epoch: number;
}

/** Access to finished runs, given to {@link Target.produce}. */
export interface RunStore {
  /** Run id of a configuration (stable across processes). */
  id(config: RunConfig): string;
  /** Whether the run has finished in this results folder. */
  done(config: RunConfig): Promise<boolean>;
  /** The metrics of a finished run (throws naming the id if it is not done). */
  result(config: RunConfig): Promise<RunResult>;
  /**
   * The metrics along a run's whole history: its start's chain first (up to
   * the start epoch), then its own epochs.
   */
  history(config: RunConfig): Promise<EpochRecord[]>;
  /** A kept checkpoint of a run (an epoch in `keepEpochs` or its final epoch). The caller disposes the tensors. */
  checkpoint(config: RunConfig, epoch: number): Promise<LoadedCheckpoint>;
  /** The epochs a run has finished so far, done or not (none if never started). */
  progress?(config: RunConfig): Promise<EpochRecord[]>;
}

/** Options of {@link Target.runs} from the command line. */
export interface RunsOptions {
  /** `--grid`: the pilot settings to train (default: its whole grid). */
  grid?: string[];
}

/** Everything a target's `produce` gets. */
export interface TargetContext {
  preset: Preset;
  /** The seeds to use (`0..N-1` for `--seeds N`). */
  seeds: number[];
  /** Output folder (exists). */
  outDir: string;
  runs: RunStore;
  /** Provenance for this target (also added by {@link writeTargetJson}). */
  provenance: Provenance;
  /** A generator for the target's own randomness, derived from the seed and target name. */
  rng(seed: number): Rng;
  /** Prints one line of progress. */
  log(line: string): void;
}

/** Work estimate for `--dry-run` of computation done outside runner runs. */
export interface WorkEstimate {
  /** What the work is, one line. */
  description: string;
  /** Approximate multiply-adds. */
  multiplyAdds: number;
}

/** What `produce` reports back for the final summary table. */
export interface TargetOutput {
  /** Paths of the files written. */
  files: string[];
  /** Short lines for the final summary (e.g. "SAM->PoF 210: 4.31% (paper 4.25)"). */
  summary: string[];
}

/** A reproduction target: one figure or table of the paper. */
export interface Target {
  readonly name: TargetName;
  /** One line for `--help`. */
  readonly title: string;
  /** The runner runs this target needs (pure), in the order to train them. */
  runs(preset: Preset, seeds: number[], options?: RunsOptions): RunConfig[];
  /**
   * True when `produce` works from whatever runs are done (it reports what
   * is missing): the command line then calls it after every finished epoch
   * and run, so stopping a long run keeps an up-to-date summary. Default false:
   * `produce` is called once every run it needs is done.
   */
  readonly partial?: boolean;
  /**
   * True when `produce` measures wall-clock time (Table 2): under `--jobs`
   * it then runs alone, after the other targets, with every thread, so that
   * no other process shares the cores while it times. Default false.
   */
  readonly timed?: boolean;
  /** Work done by `produce` itself (for `--dry-run`); undefined = negligible. */
  work?(preset: Preset, seeds: number[]): WorkEstimate[];
  /** Computes and writes the target's files. */
  produce(ctx: TargetContext): Promise<TargetOutput>;
}

/**
 * Writes `<outDir>/<fileName>` as JSON `{provenance, data}` atomically and
 * returns its path. Every target's `<target>.json` goes through this.
 *
 * @example
 * ```ts
 * import { writeTargetJson, type TargetContext } from "./target.ts";
 * const outDir = await Deno.makeTempDir();
 * const ctx = { outDir, provenance: { target: "fig1" } } as unknown as TargetContext;
 * const path = await writeTargetJson(ctx, "fig1.json", { xs: [1, 2] });
 * const back = JSON.parse(await Deno.readTextFile(path));
 * if (back.data.xs[1] !== 2 || back.provenance.target !== "fig1") throw new Error();
 * ```
 */
export async function writeTargetJson(
  ctx: TargetContext,
  fileName: string,
  data: unknown,
): Promise<string> {
  const path = `${ctx.outDir}/${fileName}`;
  const provenance = { ...ctx.provenance, writtenAt: new Date().toISOString() };
  await writeFileAtomic(
    path,
    JSON.stringify({ provenance, config: ctx.preset, data }, null, 1) + "\n",
  );
  return path;
}

/**
 * Writes a text file (SVG, Markdown) into the output folder atomically and
 * returns its path.
 *
 * @example
 * ```ts
 * import { writeTargetText, type TargetContext } from "./target.ts";
 * const outDir = await Deno.makeTempDir();
 * const p = await writeTargetText({ outDir } as TargetContext, "t.md", "| a |");
 * if (!p.endsWith("/t.md")) throw new Error(p);
 * ```
 */
export async function writeTargetText(
  ctx: TargetContext,
  fileName: string,
  text: string,
): Promise<string> {
  const path = `${ctx.outDir}/${fileName}`;
  await writeFileAtomic(path, text);
  return path;
}

/**
 * The metrics at one absolute epoch of a run history (throws naming the
 * epoch and the range held if absent).
 *
 * @example
 * ```ts
 * import { atEpoch, type EpochRecord } from "./target.ts";
 * const h = [{ epoch: 1, testError: 9 }, { epoch: 2, testError: 7 }] as EpochRecord[];
 * if (atEpoch(h, 2).testError !== 7) throw new Error();
 * ```
 */
export function atEpoch(history: EpochRecord[], epoch: number): EpochRecord {
  const r = history.find((h) => h.epoch === epoch);
  if (!r) {
    throw new Error(
      `no metrics for epoch ${epoch} (history holds epochs ${
        history[0]?.epoch
      }..${history[history.length - 1]?.epoch})`,
    );
  }
  return r;
}

// A configuration with every seed (its own and its start's) set to 0.
function withoutSeed(c: RunConfig): RunConfig {
  return {
    ...c,
    seed: 0,
    from: c.from ? { ...c.from, run: withoutSeed(c.from.run) } : undefined,
  };
}

/**
 * Refuses to aggregate one cell of a table or figure over runs whose
 * settings differ in anything but the seed (e.g. a results folder holding
 * runs of two presets under one name): throws one line naming the cell,
 * the two runs and the settings in which they differ.
 *
 * @example
 * ```ts
 * import { checkSameSettings } from "./target.ts";
 * import { PRESETS, sgdRun } from "./presets.ts";
 * const p = PRESETS.smoke, ds = p.datasets[0];
 * checkSameSettings("SGD 250", [sgdRun(p, ds, 0), sgdRun(p, ds, 1)]); // seeds only: fine
 * try {
 *   checkSameSettings("SGD 250", [sgdRun(p, ds, 0), { ...sgdRun(p, ds, 1), batchSize: 64 }]);
 *   throw new Error("accepted");
 * } catch (e) { if (!(e as Error).message.includes("batchSize 32 vs 64")) throw e; }
 * ```
 */
export function checkSameSettings(
  cell: string,
  configs: readonly RunConfig[],
): void {
  if (configs.length < 2) return;
  const ref = withoutSeed(configs[0]);
  const refJson = canonicalJson(ref);
  for (const c of configs.slice(1)) {
    const other = withoutSeed(c);
    if (canonicalJson(other) === refJson) continue;
    const keys = [...new Set([...Object.keys(ref), ...Object.keys(other)])]
      .sort()
      .filter((k) =>
        canonicalJson(
          (ref as unknown as Record<string, unknown>)[k] ?? null,
        ) !==
          canonicalJson(
            (other as unknown as Record<string, unknown>)[k] ?? null,
          )
      );
    const show = (v: unknown) => v === undefined ? "unset" : canonicalJson(v);
    throw new Error(
      `${cell}: refusing to aggregate runs of different settings: ${
        runId(configs[0])
      } vs ${runId(c)} (${
        keys.map((k) =>
          `${k} ${show((ref as unknown as Record<string, unknown>)[k])} vs ${
            show((other as unknown as Record<string, unknown>)[k])
          }`
        ).join("; ")
      })`,
    );
  }
}

/**
 * {@link checkSameSettings} on the configurations the runs of one cell
 * were actually trained with (as their folders record them).
 *
 * @example
 * ```ts
 * import { checkCell, type RunStore } from "./target.ts";
 * import { PRESETS, sgdRun } from "./presets.ts";
 * const p = PRESETS.smoke, ds = p.datasets[0];
 * const store = { result: (c: unknown) => Promise.resolve({ config: c }) } as unknown as RunStore;
 * await checkCell(store, "fig5 SAM", [sgdRun(p, ds, 0), sgdRun(p, ds, 1)]);
 * ```
 */
export async function checkCell(
  store: RunStore,
  cell: string,
  runs: readonly RunConfig[],
): Promise<void> {
  const stored: RunConfig[] = [];
  for (const r of runs) stored.push((await store.result(r)).config);
  checkSameSettings(cell, stored);
}

/**
 * The test errors (%) of one table cell: for each run (one per seed), its
 * metrics at `epoch`, after {@link checkSameSettings} on the configurations
 * the runs were actually trained with (their stored `done.json`).
 *
 * @example
 * ```ts
 * import { cellErrors, type RunStore } from "./target.ts";
 * import { PRESETS, sgdRun } from "./presets.ts";
 * const p = PRESETS.smoke, ds = p.datasets[0];
 * const runs = [sgdRun(p, ds, 0), sgdRun(p, ds, 1)];
 * const store = {
 *   result: (c: typeof runs[0]) => Promise.resolve({ config: c }),
 *   history: (c: typeof runs[0]) => Promise.resolve([{ epoch: 10, testError: 20 + c.seed }]),
 * } as unknown as RunStore;
 * if ((await cellErrors(store, "SGD 250", runs, 10)).join() !== "20,21") throw new Error();
 * ```
 */
export async function cellErrors(
  store: RunStore,
  cell: string,
  runs: readonly RunConfig[],
  epoch: number,
): Promise<number[]> {
  await checkCell(store, cell, runs);
  const errors: number[] = [];
  for (const r of runs) {
    errors.push(atEpoch(await store.history(r), epoch).testError);
  }
  return errors;
}
