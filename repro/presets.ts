/**
 * The named presets and the runs Table 1 / Figs. 4-6 / fine-tuning derive
 * from them.
 *
 * - `paper`: Sec. 4.1 exactly. WRN-28-10, batch 256, 250 epochs, lr 0.1
 *   (SVHN 0.01) x0.2 at epochs 60/120/160/200, Nesterov 0.9, weight decay
 *   5e-4, SAM rho 0.05 (SVHN 0.01), SAM for 200 epochs then PoF (feature lr
 *   3e-5, weak batch 32, gamma ~ U[0, 2]) to 250; CIFAR-10, CIFAR-100, SVHN,
 *   Fashion-MNIST; 3 seeds.
 * - `quick`: real Fashion-MNIST with a reduced WRN and epoch budget, plus
 *   CIFAR-10, CIFAR-100 and SVHN when they are already in the data cache
 *   (see {@link withCachedDatasets}; nothing is downloaded for them).
 * - `smoke`: synthetic images and a tiny WRN; seconds per run; CI.
 *
 * How the compressed presets scale the epoch axis: with E total epochs
 * (paper 250) and s = E / 250, every paper epoch m maps to `round(m * s)`:
 * milestones 60/120/160/200, the SAM -> PoF switch 200, the early PoF
 * evaluation 210 (at least one epoch after the switch), and the 10
 * fine-tuning epochs (at least 1). The learning-rate values, factor 0.2 and
 * all other constants are the paper's.
 *
 * @module
 */
import type {
  DatasetSettings,
  Preset,
  PresetName,
  RunConfig,
} from "./target.ts";
import { PRESET_NAMES } from "./target.ts";
import { lrAt } from "../lib/train/run_config.ts";
import {
  ensureDatasetFiles,
  type FetchOptions,
} from "../lib/data/dataset_cache.ts";
import { DatasetError } from "../lib/data/errors.ts";

/**
 * The paper's epoch constants (Sec. 4.1).
 *
 * @example
 * ```ts
 * import { PAPER_EPOCHS } from "./presets.ts";
 * if (PAPER_EPOCHS.pofEarly - PAPER_EPOCHS.switch !== 10) throw new Error();
 * ```
 */
export const PAPER_EPOCHS = {
  total: 250,
  switch: 200,
  pofEarly: 210,
  mid: 200,
  milestones: [60, 120, 160, 200],
  finetune: 10,
} as const;

/**
 * Maps the paper's epoch axis onto `total` epochs (see the module doc).
 *
 * @example
 * ```ts
 * import { scaleEpochs } from "./presets.ts";
 * const s = scaleEpochs(10);
 * if (s.milestones.join() !== "2,5,6,8" || s.switch !== 8 || s.pofEarly !== 9) throw new Error(JSON.stringify(s));
 * const p = scaleEpochs(250);
 * if (p.milestones.join() !== "60,120,160,200" || p.pofEarly !== 210 || p.finetune !== 10) throw new Error();
 * ```
 */
export function scaleEpochs(total: number): {
  milestones: number[];
  switch: number;
  pofEarly: number;
  mid: number;
  finetune: number;
} {
  if (!Number.isInteger(total) || total < 3) {
    throw new RangeError(
      `scaleEpochs: total must be an integer >= 3, got ${total}`,
    );
  }
  const s = total / PAPER_EPOCHS.total;
  const at = (m: number) => Math.round(m * s);
  const sw = Math.min(total - 1, Math.max(1, at(PAPER_EPOCHS.switch)));
  const milestones = [
    ...new Set(PAPER_EPOCHS.milestones.map(at).filter((m) => m > 0)),
  ];
  return {
    milestones,
    switch: sw,
    pofEarly: Math.min(total, Math.max(sw + 1, at(PAPER_EPOCHS.pofEarly))),
    mid: sw,
    finetune: Math.max(1, at(PAPER_EPOCHS.finetune)),
  };
}

const PAPER_DATASETS: DatasetSettings[] = [
  { name: "cifar10", lr: 0.1, rho: 0.05 },
  { name: "cifar100", lr: 0.1, rho: 0.05 },
  { name: "svhn", lr: 0.01, rho: 0.01 },
  { name: "fashion-mnist", lr: 0.1, rho: 0.05 },
];

function compressed(
  name: PresetName,
  description: string,
  total: number,
  rest: Omit<
    Preset,
    | "name"
    | "description"
    | "epochs"
    | "switchEpoch"
    | "pofEarlyEpoch"
    | "midEpoch"
    | "milestones"
    | "finetuneEpochs"
  >,
): Preset {
  const s = scaleEpochs(total);
  return {
    name,
    description,
    epochs: total,
    switchEpoch: s.switch,
    pofEarlyEpoch: s.pofEarly,
    midEpoch: s.mid,
    milestones: s.milestones,
    finetuneEpochs: s.finetune,
    ...rest,
  };
}

/**
 * Every preset by name.
 *
 * @example
 * ```ts
 * import { PRESETS } from "./presets.ts";
 * if (PRESETS.paper.model.kind !== "wrn" || PRESETS.smoke.epochs !== 10) throw new Error();
 * ```
 */
export const PRESETS: Record<PresetName, Preset> = {
  paper: {
    name: "paper",
    description:
      "paper: Sec. 4.1 exactly: WRN-28-10, batch 256, 250 epochs (SAM 200 -> PoF 50), " +
      "CIFAR-10, CIFAR-100, SVHN, Fashion-MNIST, 3 seeds. Needs GPUs (tensorflow backend): " +
      "16 A100s took 21.8-32.9 s per CIFAR-10 epoch in the paper.",
    datasets: PAPER_DATASETS,
    model: { kind: "wrn", depth: 28, widen: 10 },
    epochs: PAPER_EPOCHS.total,
    switchEpoch: PAPER_EPOCHS.switch,
    pofEarlyEpoch: PAPER_EPOCHS.pofEarly,
    midEpoch: PAPER_EPOCHS.mid,
    milestones: [...PAPER_EPOCHS.milestones],
    lrFactor: 0.2,
    batchSize: 256,
    weakBatchSize: 32,
    gammaMax: 2,
    maxXi: 50,
    discardAsymmetric: false,
    pofLr: 3e-5,
    momentum: 0.9,
    weightDecay: 5e-4,
    finetuneEpochs: PAPER_EPOCHS.finetune,
    histogramBatches: 400,
    timingSteps: 20,
    seeds: 3,
    checkpointEvery: 5,
  },
  quick: compressed(
    "quick",
    "quick: REDUCED settings, not the paper's: real Fashion-MNIST (first 1,000 training " +
      "images, the full 10,000-image test set), WRN-10-1, batch 64, lr 0.1, rho 0.05, 60 " +
      "epochs with the paper's schedule compressed (milestones 14/29/38/48, SAM 48 -> PoF 12), " +
      "test set evaluated every 5th epoch and every epoch after the switch, 3 seeds. " +
      "CIFAR-10, CIFAR-100 and SVHN join Table 1 with the same reduced settings only when " +
      "already in the data cache (deno task data <name>); nothing is downloaded for them.",
    60,
    {
      datasets: [{
        name: "fashion-mnist",
        lr: 0.1,
        rho: 0.05,
        trainLimit: 1000,
      }],
      model: { kind: "wrn", depth: 10, widen: 1 },
      lrFactor: 0.2,
      batchSize: 64,
      weakBatchSize: 32,
      gammaMax: 2,
      maxXi: 50,
      discardAsymmetric: false,
      pofLr: 3e-5,
      momentum: 0.9,
      weightDecay: 5e-4,
      histogramBatches: 100,
      timingSteps: 5,
      seeds: 3,
      checkpointEvery: 1,
      evalEvery: 5,
    },
  ),
  smoke: compressed(
    "smoke",
    "smoke: synthetic 8x8 images (256 training / 128 test), WRN-10-1, batch 32, 10 epochs " +
      "(milestones 2/5/6/8, SAM 8 -> PoF 2), 1 seed: checks the machinery, not the paper; " +
      "a few minutes for all targets on 2 CPU cores with the wasm backend.",
    10,
    {
      datasets: [{
        name: "synthetic-images-8x8",
        lr: 0.1,
        rho: 0.05,
        trainLimit: 256,
        testLimit: 128,
      }],
      model: { kind: "wrn", depth: 10, widen: 1 },
      lrFactor: 0.2,
      batchSize: 32,
      weakBatchSize: 16,
      gammaMax: 2,
      maxXi: 50,
      discardAsymmetric: false,
      pofLr: 3e-5,
      momentum: 0.9,
      weightDecay: 5e-4,
      histogramBatches: 8,
      timingSteps: 2,
      seeds: 1,
      checkpointEvery: 1,
    },
  ),
};

/**
 * The levers of a reduced Fashion-MNIST setting that the paper leaves free
 * at reduced scale (issue 12's pilot grid): training-set size, WRN depth
 * and width, epochs (the paper's schedule compressed), batch size (the
 * learning rate scaled linearly from the paper's 0.1 at 256) and SAM's rho.
 */
export interface ReducedSetting {
  /** First n training images. */
  trainLimit: number;
  /** First n test images (undefined: the full 10,000). */
  testLimit?: number;
  depth: number;
  widen: number;
  epochs: number;
  batchSize: number;
  rho: number;
  /**
   * Learning rate; undefined: the paper's 0.1 at batch 256 scaled linearly,
   * `0.1 * batchSize / 256`.
   */
  lr?: number;
}

/**
 * `quick` with its Fashion-MNIST lever values replaced by `s`: the runs of
 * the returned preset are the runs `quick` would make with those values,
 * with the same run ids, so a pilot's finished runs are reused if `quick`
 * adopts the setting. Learning rate `0.1 * batchSize / 256`.
 *
 * @example
 * ```ts
 * import { reducedPreset } from "./presets.ts";
 * const p = reducedPreset({ trainLimit: 10000, depth: 10, widen: 2, epochs: 15, batchSize: 128, rho: 0.02 });
 * if (p.datasets[0].lr !== 0.05 || p.datasets[0].testLimit !== undefined || p.switchEpoch !== 12) throw new Error();
 * ```
 */
export function reducedPreset(s: ReducedSetting): Preset {
  const {
    name: _n,
    description: _d,
    datasets: _ds,
    epochs: _e,
    switchEpoch: _s,
    pofEarlyEpoch: _p,
    midEpoch: _m,
    milestones: _ms,
    finetuneEpochs: _f,
    ...rest
  } = PRESETS.quick;
  return compressed(
    "quick",
    `reduced Fashion-MNIST setting: first ${s.trainLimit} training / ${
      s.testLimit ?? "all 10,000"
    } test images, WRN-${s.depth}-${s.widen}, batch ${s.batchSize} ` +
      `(lr ${
        s.lr ?? 0.1 * s.batchSize / 256
      }), rho ${s.rho}, ${s.epochs} epochs with the paper's schedule compressed`,
    s.epochs,
    {
      ...rest,
      datasets: [{
        name: "fashion-mnist",
        lr: s.lr ?? 0.1 * s.batchSize / 256,
        rho: s.rho,
        trainLimit: s.trainLimit,
        testLimit: s.testLimit,
      }],
      model: { kind: "wrn", depth: s.depth, widen: s.widen },
      batchSize: s.batchSize,
    },
  );
}

/**
 * The datasets `quick` adds to Table 1 when they are already cached, with
 * the same reduced sizes as its Fashion-MNIST (first 1,000 training images,
 * the whole test set) and, as for Fashion-MNIST, the paper's per-dataset
 * learning rate (unscaled) and SAM radius.
 *
 * @example
 * ```ts
 * import { QUICK_CACHED_DATASETS } from "./presets.ts";
 * if (QUICK_CACHED_DATASETS.map((d) => d.name).join() !== "cifar10,cifar100,svhn") throw new Error();
 * ```
 */
export const QUICK_CACHED_DATASETS: readonly DatasetSettings[] = PAPER_DATASETS
  .filter((d) => d.name !== "fashion-mnist")
  .map((d) => ({ ...d, trainLimit: 1000 }));

const PRETTY: Record<string, string> = {
  cifar10: "CIFAR-10",
  cifar100: "CIFAR-100",
  svhn: "SVHN",
};

/**
 * Which of `names` are available without downloading: every file is in the
 * data cache (`opts.cacheDir`, else env `POF_DATA_DIR`, else `./data`) or
 * a local source folder and passes its checksum (remembered in the
 * cache's `.verified.json` by `lib/data`, so a verified file is not hashed
 * again). This is `ensureDatasetFiles` with downloads off; as there, a
 * cached file that fails its checksum is removed. SVHN needs all three
 * files, as the runs train on train + extra.
 *
 * @example
 * ```ts
 * import { cachedDatasets } from "./presets.ts";
 * const empty = await Deno.makeTempDir();
 * if ((await cachedDatasets(["cifar10"], { cacheDir: empty })).length !== 0) throw new Error();
 * ```
 */
export async function cachedDatasets(
  names: readonly string[],
  opts: Omit<FetchOptions, "download"> = {},
): Promise<string[]> {
  const found: string[] = [];
  for (const name of names) {
    try {
      await ensureDatasetFiles(name, { ...opts, download: false });
      found.push(name);
    } catch (e) {
      if (!(e instanceof DatasetError)) throw e;
    }
  }
  return found;
}

/**
 * `quick` with the {@link QUICK_CACHED_DATASETS} that `available` lists
 * appended after Fashion-MNIST (which stays first: the figures, Table 2 and
 * fine-tuning use the first dataset, so their runs and run ids do not
 * change), and its description saying which joined. Other presets are
 * returned unchanged.
 *
 * @example
 * ```ts
 * import { PRESETS, quickWith } from "./presets.ts";
 * const q = quickWith(PRESETS.quick, ["svhn"]);
 * if (q.datasets.map((d) => d.name).join() !== "fashion-mnist,svhn" || q.datasets[1].lr !== 0.01) throw new Error();
 * if (!q.description.includes("Cached and included: SVHN")) throw new Error(q.description);
 * ```
 */
export function quickWith(
  preset: Preset,
  available: readonly string[],
): Preset {
  if (preset.name !== "quick") return preset;
  const extra = QUICK_CACHED_DATASETS.filter((d) => available.includes(d.name))
    .map((d) => ({ ...d }));
  const note = extra.length
    ? ` Cached and included: ${
      extra.map((d) => PRETTY[d.name]).join(", ")
    } (each adds its own Table 1 runs, about 1.34x the multiply-adds per image of Fashion-MNIST).`
    : " None of them is cached: Fashion-MNIST only.";
  return {
    ...preset,
    description: preset.description + note,
    datasets: [...preset.datasets, ...extra],
  };
}

/**
 * `preset` as it runs on this machine: for `quick`, with the
 * {@link QUICK_CACHED_DATASETS} found by {@link cachedDatasets} (no
 * downloads); other presets unchanged.
 *
 * @example
 * ```ts
 * import { PRESETS, withCachedDatasets } from "./presets.ts";
 * const q = await withCachedDatasets(PRESETS.quick, { cacheDir: await Deno.makeTempDir() });
 * if (q.datasets.length !== 1 || q.datasets[0].name !== "fashion-mnist") throw new Error();
 * if ((await withCachedDatasets(PRESETS.paper)) !== PRESETS.paper) throw new Error();
 * ```
 */
export async function withCachedDatasets(
  preset: Preset,
  opts: Omit<FetchOptions, "download"> = {},
): Promise<Preset> {
  if (preset.name !== "quick") return preset;
  return quickWith(
    preset,
    await cachedDatasets(QUICK_CACHED_DATASETS.map((d) => d.name), opts),
  );
}

/**
 * The preset called `name`; an unknown name is a RangeError listing the valid ones.
 *
 * @example
 * ```ts
 * import { getPreset } from "./presets.ts";
 * if (getPreset("paper").epochs !== 250) throw new Error();
 * ```
 */
export function getPreset(name: string): Preset {
  if (!(PRESET_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(
      `unknown preset "${name}"; valid: ${PRESET_NAMES.join(", ")}`,
    );
  }
  return PRESETS[name as PresetName];
}

function base(p: Preset, ds: DatasetSettings, seed: number) {
  return {
    dataset: ds.name,
    model: p.model,
    seed,
    batchSize: p.batchSize,
    schedule: { baseLr: ds.lr, milestones: p.milestones, factor: p.lrFactor },
    momentum: p.momentum,
    weightDecay: p.weightDecay,
    trainLimit: ds.trainLimit,
    testLimit: ds.testLimit,
    evalEvery: p.evalEvery,
    rehearsal: p.rehearsal && {
      steps: p.rehearsal.steps,
      evalImages: p.rehearsal.evalImages,
      standIn: p.rehearsal.standIns.includes(ds.name),
      // Fine-tuning's last epoch, where it is compared with PoF continued.
      cuts: [p.pofEarlyEpoch + p.finetuneEpochs],
    },
  };
}

// A run that continues another evaluates every epoch (Fig. 4's zoom).
function continuation(p: Preset, ds: DatasetSettings, seed: number) {
  return { ...base(p, ds, seed), evalEvery: undefined };
}

/**
 * SGD from scratch to the last epoch (Table 1 evaluates it at `midEpoch` and `epochs`).
 *
 * @example
 * ```ts
 * import { PRESETS, sgdRun } from "./presets.ts";
 * const r = sgdRun(PRESETS.paper, PRESETS.paper.datasets[2], 0);
 * if (r.epochs !== 250 || r.schedule.baseLr !== 0.01 || r.keepEpochs.join() !== "200,250") throw new Error();
 * ```
 */
export function sgdRun(
  p: Preset,
  ds: DatasetSettings,
  seed: number,
): RunConfig {
  return {
    ...base(p, ds, seed),
    method: { name: "sgd" },
    epochs: p.epochs,
    keepEpochs: [p.midEpoch, p.epochs],
  };
}

/**
 * SAM from scratch to the switch epoch: the shared SAM-200 run.
 *
 * @example
 * ```ts
 * import { PRESETS, samBaseRun } from "./presets.ts";
 * const r = samBaseRun(PRESETS.paper, PRESETS.paper.datasets[0], 0);
 * if (r.epochs !== 200 || r.method.rho !== 0.05) throw new Error();
 * ```
 */
export function samBaseRun(
  p: Preset,
  ds: DatasetSettings,
  seed: number,
): RunConfig {
  return {
    ...base(p, ds, seed),
    method: { name: "sam", rho: ds.rho },
    epochs: p.switchEpoch,
    keepEpochs: [p.switchEpoch],
  };
}

/**
 * SAM continued from SAM-200 to the last epoch (SAM 250).
 *
 * @example
 * ```ts
 * import { PRESETS, samContinuedRun } from "./presets.ts";
 * const r = samContinuedRun(PRESETS.paper, PRESETS.paper.datasets[0], 0);
 * if (r.from!.epoch !== 200 || r.epochs !== 250) throw new Error();
 * ```
 */
export function samContinuedRun(
  p: Preset,
  ds: DatasetSettings,
  seed: number,
): RunConfig {
  return {
    ...continuation(p, ds, seed),
    method: { name: "sam", rho: ds.rho },
    epochs: p.epochs,
    keepEpochs: [p.epochs],
    from: { run: samBaseRun(p, ds, seed), epoch: p.switchEpoch },
  };
}

/**
 * PoF from SAM-200 to the last epoch, feature lr `pofLr` constant, checkpoints
 * kept at the early evaluation epoch (210) and the last.
 *
 * @example
 * ```ts
 * import { PRESETS, pofRun, samBaseRun } from "./presets.ts";
 * import { runId } from "../lib/train/run_id.ts";
 * const p = PRESETS.paper, ds = p.datasets[0];
 * const r = pofRun(p, ds, 1);
 * if (runId(r.from!.run) !== runId(samBaseRun(p, ds, 1)) || r.from!.epoch !== 200) throw new Error();
 * ```
 */
export function pofRun(
  p: Preset,
  ds: DatasetSettings,
  seed: number,
): RunConfig {
  return {
    ...continuation(p, ds, seed),
    method: {
      name: "pof",
      pof: {
        weakBatchSize: p.weakBatchSize,
        gammaMax: p.gammaMax,
        maxXi: p.maxXi,
        discardAsymmetric: p.discardAsymmetric,
      },
    },
    schedule: { baseLr: p.pofLr, milestones: [], factor: 1 },
    epochs: p.epochs,
    keepEpochs: [p.pofEarlyEpoch, p.epochs],
    from: { run: samBaseRun(p, ds, seed), epoch: p.switchEpoch },
  };
}

/**
 * Fine-tuning of the classifier only for `finetuneEpochs` epochs, starting
 * from PoF at the early evaluation epoch (Sec. 4.2: from PoF at 210, i.e.
 * 10 epochs post-trained; scaled in the compressed presets), at the SGD
 * schedule's final learning rate (0.1 * 0.2^4; the paper gives none).
 *
 * @example
 * ```ts
 * import { finetuneRun, PRESETS } from "./presets.ts";
 * const r = finetuneRun(PRESETS.paper, PRESETS.paper.datasets[0], 0);
 * if (r.method.name !== "sgd-classifier" || r.from!.epoch !== 210 || r.epochs !== 220) throw new Error();
 * ```
 */
export function finetuneRun(
  p: Preset,
  ds: DatasetSettings,
  seed: number,
): RunConfig {
  const lr = lrAt(
    { baseLr: ds.lr, milestones: p.milestones, factor: p.lrFactor },
    p.epochs - 1,
  );
  return {
    ...continuation(p, ds, seed),
    method: { name: "sgd-classifier" },
    schedule: { baseLr: lr, milestones: [], factor: 1 },
    epochs: p.pofEarlyEpoch + p.finetuneEpochs,
    keepEpochs: [],
    from: { run: pofRun(p, ds, seed), epoch: p.pofEarlyEpoch },
  };
}
