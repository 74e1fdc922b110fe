/**
 * The pilot behind the `quick` preset's settings (issue 12): for a small
 * grid of candidate reduced settings on real Fashion-MNIST (the full
 * 10,000-image test set), trains SGD and SAM for every seed exactly as
 * `quick` would with those settings ({@link reducedPreset}: same runs, same
 * run ids, so finished runs are reused) and asks whether the paper's
 * baseline ordering shows: SAM's mean test error at the last epoch below
 * SGD's by more than their combined standard error,
 * `sqrt(std_SGD^2 / n + std_SAM^2 / n)`, over n >= 3 seeds. It also reports
 * the paired SAM - SGD difference with its 95% t-interval and verdict, and
 * the measured wall time per seed beside the machine's load average.
 *
 * Levers (those the paper leaves free at reduced scale): training-set size,
 * WRN depth and width, epochs (the paper's schedule compressed), batch size
 * with the learning rate scaled linearly from the paper's 0.1 at 256 (or,
 * where a setting says so, another lr: see {@link PILOT_GRID}), and rho in
 * {0.01, 0.02, 0.05}. PoF's own constants are not varied.
 *
 * `deno task repro pilot [--grid NAME,...] [--seeds N]` trains the chosen
 * settings (default: all of {@link PILOT_GRID}; 3 seeds), seed by seed, and
 * rewrites `summary.json` and `summary.md` (default folder `results/pilot`)
 * after every finished run, covering every grid setting with what is done.
 *
 * @module
 */
import {
  meanStd,
  type PairedDifference,
  pairedDifference,
  type Verdict,
  verdictOf,
} from "../../lib/stats.ts";
import { formatMeanStd, markdownTable } from "../../lib/plot/tables.ts";
import {
  reducedPreset,
  type ReducedSetting,
  samContinuedRun,
  sgdRun,
} from "../presets.ts";
import {
  atEpoch,
  type EpochRecord,
  type RunConfig,
  type Target,
  type TargetContext,
  writeTargetJson,
  writeTargetText,
} from "../target.ts";

/** Fashion-MNIST's test-set size: the pilot always uses all of it. */
const TEST_SIZE = 10000;

/**
 * A setting's name: `n<train>-wrn<depth>x<widen>-e<epochs>-b<batch>-rho<rho>`.
 *
 * @example
 * ```ts
 * import { settingName } from "./pilot.ts";
 * const n = settingName({ trainLimit: 10000, depth: 10, widen: 1, epochs: 15, batchSize: 128, rho: 0.02 });
 * if (n !== "n10000-wrn10x1-e15-b128-rho0.02") throw new Error(n);
 * ```
 */
export function settingName(s: ReducedSetting): string {
  const lr = s.lr === undefined ? "" : `-lr${s.lr}`;
  return `n${s.trainLimit}-wrn${s.depth}x${s.widen}-e${s.epochs}-b${s.batchSize}${lr}-rho${s.rho}`;
}

/**
 * The candidate settings. Rough cost of one seed (SGD + SAM, 3 training
 * passes per image per epoch, SAM twice that, plus the evaluations of the
 * 10,000 test images every `evalEvery`-th epoch) scales with
 * `trainLimit * epochs * widen^2`.
 *
 * History (README, "Choosing the quick setting"): a first round on 10,000
 * images (15 epochs, batch 128, lr 0.05) cost about 10 CPU-minutes per SGD
 * epoch with both per-epoch evaluations, far over `quick`'s budget; a second
 * on 2,000 images (30 epochs, batch 64, lr 0.025 linearly scaled) still had
 * 20% training error two thirds of the way through SGD. Both were stopped
 * and are not listed. This round gives up the linear lr scaling (lr 0.1 at
 * batch 64) and trains 1,000 images for 60 epochs.
 *
 * @example
 * ```ts
 * import { PILOT_GRID, settingName } from "./pilot.ts";
 * const names = PILOT_GRID.map(settingName);
 * if (new Set(names).size !== names.length) throw new Error("duplicate setting");
 * if (!PILOT_GRID.every((s) => [0.01, 0.02, 0.05].includes(s.rho))) throw new Error();
 * ```
 */
export const PILOT_GRID: readonly ReducedSetting[] = [
  {
    trainLimit: 1000,
    depth: 10,
    widen: 1,
    epochs: 60,
    batchSize: 64,
    lr: 0.1,
    rho: 0.05,
  },
  {
    trainLimit: 1000,
    depth: 10,
    widen: 1,
    epochs: 60,
    batchSize: 64,
    lr: 0.1,
    rho: 0.02,
  },
];

/**
 * The grid settings called `names` (all of them for undefined); an unknown
 * name is a RangeError listing the valid ones.
 *
 * @example
 * ```ts
 * import { pilotSettings } from "./pilot.ts";
 * if (pilotSettings(["n1000-wrn10x1-e60-b64-lr0.1-rho0.02"])[0].rho !== 0.02) throw new Error();
 * try { pilotSettings(["n1"]); throw new Error("accepted"); } catch (e) { if (!(e instanceof RangeError)) throw e; }
 * ```
 */
export function pilotSettings(names?: readonly string[]): ReducedSetting[] {
  if (names === undefined) return [...PILOT_GRID];
  return names.map((n) => {
    const s = PILOT_GRID.find((g) => settingName(g) === n);
    if (!s) {
      throw new RangeError(
        `unknown pilot setting "${n}"; valid: ${
          PILOT_GRID.map(settingName).join(", ")
        }`,
      );
    }
    return s;
  });
}

/** The SGD and SAM runs of one setting and seed (SAM's base run is a dependency). */
function runsOf(
  s: ReducedSetting,
  seed: number,
): Record<"sgd" | "sam", RunConfig> {
  const p = reducedPreset(s);
  const ds = p.datasets[0];
  return { sgd: sgdRun(p, ds, seed), sam: samContinuedRun(p, ds, seed) };
}

/** Measured cost of one seed of a setting. */
export interface PilotSeedCost {
  seed: number;
  /** Wall-clock seconds of the SGD run and of the SAM run (base + continuation), evaluation included. */
  sgdSeconds: number;
  samSeconds: number;
  /** CPU seconds of the same (null where an epoch did not record it): the cost on an idle core. */
  sgdCpuSeconds: number | null;
  samCpuSeconds: number | null;
  /** Mean 1-minute load average over the epochs of both runs (null where not recorded). */
  meanLoad: number | null;
}

/** Progress and measured cost of one run of a setting (done or not). */
export interface PilotRunProgress {
  id: string;
  method: "sgd" | "sam";
  seed: number;
  /** The epochs this run covers (SAM: the base run 0 -> switch, then the continuation). */
  fromEpoch: number;
  toEpoch: number;
  done: boolean;
  /** Epochs finished so far, and the test error (%) after the last of them. */
  epochsDone: number;
  testError: number | null;
  /** Mean wall-clock seconds per finished epoch (evaluation included) and mean 1-minute load average over them. */
  secondsPerEpoch: number | null;
  /** Mean CPU seconds per finished epoch (null where not recorded). */
  cpuSecondsPerEpoch: number | null;
  meanLoad: number | null;
}

/** One setting's result in `summary.json`. */
export interface PilotSettingResult {
  name: string;
  setting: ReducedSetting;
  /** Learning rate (0.1 * batch / 256) and the SAM -> PoF switch epoch this setting gets in `quick`. */
  lr: number;
  switchEpoch: number;
  /** Seeds requested, and those whose SGD and SAM runs are both done. */
  seeds: number[];
  seedsDone: number[];
  /** Test error (%) at the last epoch per done seed, and its mean / sample std. */
  sgd: { errors: number[]; mean: number | null; std: number | null };
  sam: { errors: number[]; mean: number | null; std: number | null };
  /** SAM - SGD per done seed with its 95% t-interval (null with fewer than 2 seeds). */
  comparison:
    | (PairedDifference & {
      a: "sam";
      b: "sgd";
      epochA: number;
      epochB: number;
      verdict: Verdict;
    })
    | null;
  /** sqrt(std_SGD^2 / n + std_SAM^2 / n) over the done seeds (null with fewer than 2). */
  combinedSe: number | null;
  /** True when n >= 3 and mean(SGD) - mean(SAM) > combinedSe: the paper's baseline ordering shows. */
  samBeatsSgd: boolean;
  cost: PilotSeedCost[];
  /** Every run of the setting with its progress (what a stopped pilot had measured). */
  runs: PilotRunProgress[];
}

/** What `summary.json` holds under `data`. */
export interface PilotJson {
  dataset: "fashion-mnist";
  testSize: number;
  /** Logical CPUs of the machine the runs trained on. */
  cpus: number;
  criterion: string;
  settings: PilotSettingResult[];
}

function epochCost(
  records: EpochRecord[],
): { seconds: number; cpuSeconds: number | null; loads: number[] } {
  let seconds = 0, cpu = 0, cpuAll = records.length > 0;
  const loads: number[] = [];
  for (const r of records) {
    seconds += r.wallSeconds ?? r.seconds;
    if (r.cpuSeconds === undefined) cpuAll = false;
    else cpu += r.cpuSeconds;
    if (r.load1 !== undefined) loads.push(r.load1);
  }
  return { seconds, cpuSeconds: cpuAll ? cpu : null, loads };
}

/**
 * The summary of one setting from the runs done in `ctx.runs`.
 *
 * @example
 * ```ts
 * import { PILOT_GRID, settingResult } from "./pilot.ts";
 * import type { TargetContext } from "../target.ts";
 * const ctx = { seeds: [0, 1, 2], runs: { id: () => "x", done: () => Promise.resolve(false) } } as unknown as TargetContext;
 * const r = await settingResult(ctx, PILOT_GRID[0]);
 * if (r.seedsDone.length !== 0 || r.comparison !== null || r.samBeatsSgd) throw new Error();
 * ```
 */
export async function settingResult(
  ctx: TargetContext,
  s: ReducedSetting,
): Promise<PilotSettingResult> {
  const p = reducedPreset(s);
  const seedsDone: number[] = [];
  const sgd: number[] = [], sam: number[] = [];
  const cost: PilotSeedCost[] = [];
  for (const seed of ctx.seeds) {
    const r = runsOf(s, seed);
    if (!(await ctx.runs.done(r.sgd)) || !(await ctx.runs.done(r.sam))) {
      continue;
    }
    seedsDone.push(seed);
    sgd.push(atEpoch(await ctx.runs.history(r.sgd), s.epochs).testError);
    sam.push(atEpoch(await ctx.runs.history(r.sam), s.epochs).testError);
    const g = epochCost((await ctx.runs.result(r.sgd)).epochs);
    const base = epochCost((await ctx.runs.result(r.sam.from!.run)).epochs);
    const cont = epochCost((await ctx.runs.result(r.sam)).epochs);
    const loads = [...g.loads, ...base.loads, ...cont.loads];
    cost.push({
      seed,
      sgdSeconds: g.seconds,
      samSeconds: base.seconds + cont.seconds,
      sgdCpuSeconds: g.cpuSeconds,
      samCpuSeconds: base.cpuSeconds === null || cont.cpuSeconds === null
        ? null
        : base.cpuSeconds + cont.cpuSeconds,
      meanLoad: loads.length ? meanStd(loads).mean : null,
    });
  }
  const runs: PilotRunProgress[] = [];
  for (const seed of ctx.seeds) {
    const r = runsOf(s, seed);
    for (
      const [method, c] of [
        ["sgd", r.sgd],
        ["sam", r.sam.from!.run],
        ["sam", r.sam],
      ] as const
    ) {
      const recs = await ctx.runs.progress?.(c) ?? [];
      const cost = epochCost(recs);
      runs.push({
        id: ctx.runs.id(c),
        method,
        seed,
        fromEpoch: c.from ? c.from.epoch : 0,
        toEpoch: c.epochs,
        done: await ctx.runs.done(c),
        epochsDone: recs.length,
        testError: recs.length ? recs[recs.length - 1].testError : null,
        secondsPerEpoch: recs.length ? cost.seconds / recs.length : null,
        cpuSecondsPerEpoch: cost.cpuSeconds === null
          ? null
          : cost.cpuSeconds / recs.length,
        meanLoad: cost.loads.length ? meanStd(cost.loads).mean : null,
      });
    }
  }
  const n = seedsDone.length;
  const ms = (v: number[]) => n ? meanStd(v) : { mean: null, std: null };
  const comparison = n >= 2
    ? (() => {
      const d = pairedDifference(sam, sgd);
      return {
        a: "sam" as const,
        b: "sgd" as const,
        epochA: s.epochs,
        epochB: s.epochs,
        ...d,
        verdict: verdictOf(d.ci95, -1),
      };
    })()
    : null;
  const combinedSe = n >= 2
    ? Math.sqrt((meanStd(sgd).std ** 2 + meanStd(sam).std ** 2) / n)
    : null;
  return {
    name: settingName(s),
    setting: s,
    lr: p.datasets[0].lr,
    switchEpoch: p.switchEpoch,
    seeds: ctx.seeds,
    seedsDone,
    sgd: { errors: sgd, mean: ms(sgd).mean, std: ms(sgd).std },
    sam: { errors: sam, mean: ms(sam).mean, std: ms(sam).std },
    comparison,
    combinedSe,
    samBeatsSgd: n >= 3 && combinedSe !== null &&
      meanStd(sgd).mean - meanStd(sam).mean > combinedSe,
    cost,
    runs,
  };
}

function minutes(s: number): string {
  return (s / 60).toFixed(1);
}

// The runs of the settings that have started: progress, last test error,
// measured seconds per epoch and load.
function runsSection(data: PilotJson): string[] {
  // A run shared by several settings (SGD does not depend on rho) is
  // listed once, under every setting that uses it.
  const byId = new Map<string, { names: string[]; run: PilotRunProgress }>();
  for (const r of data.settings) {
    if (!r.runs.some((x) => x.epochsDone > 0)) continue;
    for (const x of r.runs) {
      const e = byId.get(x.id);
      if (e) e.names.push(r.name);
      else byId.set(x.id, { names: [r.name], run: x });
    }
  }
  const started = [...byId.values()].filter((e) => e.run.epochsDone > 0);
  if (!started.length) return [];
  const waiting = byId.size - started.length;
  const f = (x: number | null, d: number) => x === null ? "-" : x.toFixed(d);
  return [
    "## Runs started (done or stopped part-way)",
    "",
    markdownTable(
      [
        "setting(s)",
        "run",
        "epochs done",
        "test error (%) at the last",
        "wall s / epoch",
        "CPU s / epoch",
        "load",
      ],
      started.map(({ names, run: x }) => [
        names.join(", "),
        `${x.method} seed ${x.seed} (${x.fromEpoch} -> ${x.toEpoch})`,
        `${x.epochsDone} of ${x.toEpoch - x.fromEpoch}${
          x.done ? " (done)" : ""
        }`,
        f(x.testError, 2),
        f(x.secondsPerEpoch, 0),
        f(x.cpuSecondsPerEpoch, 0),
        f(x.meanLoad, 1),
      ]),
      { alignRight: [2, 3, 4, 5, 6] },
    ),
    "",
    ...(waiting
      ? [`${waiting} more run(s) of these settings not started.`, ""]
      : []),
  ];
}

/**
 * The Markdown summary of the pilot.
 *
 * @example
 * ```ts
 * import { pilotMarkdown } from "./pilot.ts";
 * const md = pilotMarkdown({ dataset: "fashion-mnist", testSize: 10000, cpus: 2, criterion: "c", settings: [] });
 * if (!md.startsWith("# Pilot")) throw new Error(md);
 * ```
 */
export function pilotMarkdown(data: PilotJson): string {
  const rows = data.settings.map((r) => {
    const n = r.seedsDone.length;
    const pm = (m: number | null, s: number | null) =>
      m === null ? "-" : formatMeanStd({ mean: m, std: s ?? 0, n });
    const c = r.comparison;
    const secs = r.cost.map((c) => c.sgdSeconds + c.samSeconds);
    const cpu = r.cost.flatMap((c) =>
      c.sgdCpuSeconds === null || c.samCpuSeconds === null
        ? []
        : [c.sgdCpuSeconds + c.samCpuSeconds]
    );
    const loads = r.cost.flatMap((c) =>
      c.meanLoad === null ? [] : [c.meanLoad]
    );
    return [
      r.name,
      String(r.lr),
      `${r.seedsDone.length} of ${r.seeds.length}`,
      pm(r.sgd.mean, r.sgd.std),
      pm(r.sam.mean, r.sam.std),
      c
        ? `${c.mean.toFixed(2)} [${c.ci95![0].toFixed(2)}, ${
          c.ci95![1].toFixed(2)
        }] ${c.verdict}`
        : "-",
      r.combinedSe === null ? "-" : r.combinedSe.toFixed(2),
      r.seedsDone.length >= 3 ? (r.samBeatsSgd ? "yes" : "no") : "(n < 3)",
      r.cost.length
        ? `${minutes(meanStd(r.cost.map((c) => c.sgdSeconds)).mean)} + ${
          minutes(meanStd(r.cost.map((c) => c.samSeconds)).mean)
        } = ${minutes(meanStd(secs).mean)}`
        : "-",
      cpu.length === r.cost.length && cpu.length
        ? minutes(meanStd(cpu).mean)
        : "-",
      loads.length ? meanStd(loads).mean.toFixed(1) : "-",
    ];
  });
  return [
    "# Pilot: which reduced Fashion-MNIST setting shows SAM below SGD?",
    "",
    `Test error (%) at the last epoch on the full ${data.testSize}-image Fashion-MNIST test set, ` +
    `mean +- sample std over the seeds done. Criterion: ${data.criterion}`,
    "",
    `Cost is measured per seed (SGD run + SAM run, evaluation included) on a ` +
    `${data.cpus}-CPU machine: wall time, and the CPU time the training process used ` +
    `(what an idle core would take; recorded by runs from this version on); the load ` +
    `column is the mean 1-minute load average over those runs' epochs (the machine may ` +
    `be shared: compare wall times only at similar load).`,
    "",
    markdownTable(
      [
        "setting",
        "lr",
        "seeds done",
        "SGD",
        "SAM",
        "SAM - SGD [95% CI] verdict",
        "combined SE",
        "SAM < SGD by > SE",
        "wall min / seed (SGD + SAM)",
        "CPU min / seed",
        "load",
      ],
      rows,
      { alignRight: [1, 2, 3, 4, 6, 8, 9, 10] },
    ),
    "",
    ...runsSection(data),
  ].join("\n");
}

/**
 * The pilot target (not part of `all`).
 *
 * @example
 * ```ts
 * import { target } from "./pilot.ts";
 * import { PRESETS } from "../presets.ts";
 * const runs = target.runs(PRESETS.quick, [0, 1], { grid: ["n1000-wrn10x1-e60-b64-lr0.1-rho0.05"] });
 * // Seed by seed: SGD, then SAM (its base run is trained first as a dependency).
 * if (runs.map((r) => `${r.method.name}${r.seed}`).join() !== "sgd0,sam0,sgd1,sam1") throw new Error();
 * if (runs[0].testLimit !== undefined || runs[0].trainLimit !== 1000) throw new Error();
 * ```
 */
export const target: Target = {
  name: "pilot",
  title:
    "Pilot: SGD vs SAM over a grid of reduced Fashion-MNIST settings (chooses quick's)",
  partial: true,
  runs(_p, seeds, options) {
    const out: RunConfig[] = [];
    for (const s of pilotSettings(options?.grid)) {
      for (const seed of seeds) {
        const r = runsOf(s, seed);
        out.push(r.sgd, r.sam);
      }
    }
    return out;
  },
  async produce(ctx) {
    const settings: PilotSettingResult[] = [];
    for (const s of PILOT_GRID) settings.push(await settingResult(ctx, s));
    const data: PilotJson = {
      dataset: "fashion-mnist",
      testSize: TEST_SIZE,
      cpus: navigator.hardwareConcurrency,
      criterion:
        "mean(SGD) - mean(SAM) > sqrt(std_SGD^2 / n + std_SAM^2 / n) with n >= 3 seeds " +
        "(the paper's baseline ordering, issue 12); the 95% t-interval of the paired " +
        "SAM - SGD differences gives the verdict (reproduced: entirely below 0).",
      settings,
    };
    const files = [
      await writeTargetJson(ctx, "summary.json", data),
      await writeTargetText(ctx, "summary.md", pilotMarkdown(data)),
    ];
    return {
      files,
      summary: settings.filter((r) => r.seedsDone.length > 0).map((r) =>
        `${r.name}: ${r.seedsDone.length} seed(s), SGD ${
          r.sgd.mean!.toFixed(2)
        }%, SAM ${r.sam.mean!.toFixed(2)}%${
          r.comparison ? `, SAM - SGD verdict ${r.comparison.verdict}` : ""
        }`
      ),
    };
  },
};
