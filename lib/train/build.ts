/**
 * Turns a {@link RunConfig} into the pieces the runner trains: the model,
 * the method (with its learning-rate schedule over absolute epochs), the
 * training stream and the evaluation sets. This is the one place where
 * dataset, model and method names meet the library's implementations.
 *
 * Datasets: `toy` (the machine-generated MLP task of Figs. 1-2, data seed 0,
 * independent of the run seed) and the image datasets of `lib/data`
 * (training augmentation as `lib/data` defines per dataset; SVHN trains on
 * train + extra, as in the paper). `trainLimit` / `testLimit` keep the first
 * n examples of a split. The train error is measured on the first
 * `min(train, test)` training examples without augmentation, in inference
 * mode.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { Rng } from "../rng.ts";
import type { Model } from "../models/model.ts";
import { mlp } from "../models/mlp.ts";
import { wideResNet } from "../models/wide_resnet.ts";
import { toyData } from "../data/teacher_mlp_data.ts";
import { loadDataset } from "../data/datasets.ts";
import {
  datasetInfo as imageDatasetInfo,
  runDatasetInfo,
  SYNTHETIC_8X8,
} from "../data/dataset_registry.ts";
import type { ImageSet } from "../data/image_set.ts";
import { DataLoader } from "../data/loader.ts";
import { syntheticImages } from "../data/synthetic_images.ts";
import type { AugmentConfig } from "../data/augment.ts";
import { sgdMethod } from "../optim/sgd.ts";
import { samMethod } from "../optim/sam.ts";
import { pofMethod } from "../optim/pof.ts";
import type { Batch } from "../data/batch.ts";
import type { EvalData, TrainData } from "../data/batch.ts";
import type { Method } from "../optim/method.ts";
import { lrAt, type RunConfig } from "./run_config.ts";
import { rehearsalSegments, rehearsalStepEpoch } from "./rehearsal.ts";
import { standInImages } from "../data/stand_in_images.ts";
import type { RunBuilder, RunParts } from "./runner.ts";
import {
  type ArrayDataset,
  arrayEvalData,
  arrayTrainData,
  limitDataset,
} from "../data/array_data.ts";

/**
 * The network a run trains (no parameters allocated).
 *
 * @example
 * ```ts
 * import { modelFor } from "./build.ts";
 * const m = modelFor({ kind: "mlp", hidden: [8, 8] }, "toy");
 * if (m.numClasses !== 4 || m.inputShape[0] !== 16) throw new Error();
 * ```
 */
export function modelFor(spec: RunConfig["model"], dataset: string): Model {
  const info = runDatasetInfo(dataset);
  if (spec.kind === "mlp") {
    if (info.inputShape.length !== 1) {
      throw new RangeError(
        `an MLP needs vector inputs; dataset "${dataset}" has shape [${info.inputShape}]`,
      );
    }
    return mlp({
      inputDim: info.inputShape[0],
      hidden: spec.hidden,
      numClasses: info.numClasses,
    });
  }
  return wideResNet({
    depth: spec.depth,
    widen: spec.widen,
    numClasses: info.numClasses,
    inputShape: info.inputShape,
  });
}

/**
 * Images per epoch and forward multiply-adds per image of a run (for
 * `--dry-run`).
 *
 * @example
 * ```ts
 * import { runWork } from "./build.ts";
 * const w = runWork({ dataset: "toy", model: { kind: "mlp", hidden: [8] }, method: { name: "sgd" },
 *   seed: 0, epochs: 1, batchSize: 32, schedule: { baseLr: 0.1, milestones: [], factor: 1 },
 *   momentum: 0.9, weightDecay: 0, keepEpochs: [], trainLimit: 100 });
 * if (w.imagesPerEpoch !== 96 || w.multiplyAddsPerImage !== 16 * 8 + 8 * 4) throw new Error(JSON.stringify(w));
 * ```
 */
export function runWork(
  config: RunConfig,
): { imagesPerEpoch: number; multiplyAddsPerImage: number } {
  const info = runDatasetInfo(config.dataset);
  const n = Math.min(info.trainSize, config.trainLimit ?? Infinity);
  return {
    imagesPerEpoch: Math.floor(n / config.batchSize) * config.batchSize,
    multiplyAddsPerImage: modelFor(config.model, config.dataset).multiplyAdds,
  };
}

/**
 * Training images a run still has to process after `doneEpochs` epochs (for
 * `--dry-run`): the remaining epochs' images, or for a rehearsal its
 * remaining epoch-segments' steps x batch (lib/train/rehearsal.ts).
 *
 * @example
 * ```ts
 * import { trainingImagesLeft } from "./build.ts";
 * const c = { dataset: "toy", model: { kind: "mlp" as const, hidden: [8] }, method: { name: "sgd" as const },
 *   seed: 0, epochs: 10, batchSize: 32, schedule: { baseLr: 0.1, milestones: [4], factor: 1 },
 *   momentum: 0.9, weightDecay: 0, keepEpochs: [], trainLimit: 100 };
 * if (trainingImagesLeft(c, 4) !== 6 * 96) throw new Error();
 * // Rehearsed: segments 0-4 and 4-10, 2 steps each; after epoch 4 one segment is left.
 * const r = { ...c, rehearsal: { steps: 2, evalImages: 8, standIn: true } };
 * if (trainingImagesLeft(r, 0) !== 2 * 2 * 32 || trainingImagesLeft(r, 4) !== 2 * 32) throw new Error();
 * ```
 */
export function trainingImagesLeft(
  config: RunConfig,
  doneEpochs: number,
): number {
  const r = config.rehearsal;
  if (!r) return (config.epochs - doneEpochs) * runWork(config).imagesPerEpoch;
  const segments = rehearsalSegments(config).filter((s) =>
    s.start >= doneEpochs
  );
  return segments.length * r.steps * config.batchSize;
}

/**
 * The method of a run, its learning rate read from the run's schedule at
 * absolute epoch `optEpochOffset + floor(count / stepsPerEpoch)` (for a
 * rehearsal: the epoch of the segment the step belongs to, see
 * {@link rehearsalStepEpoch}).
 *
 * @example
 * ```ts
 * import { methodFor } from "./build.ts";
 * const m = methodFor({ dataset: "toy", model: { kind: "mlp", hidden: [4] }, method: { name: "sam", rho: 0.05 },
 *   seed: 0, epochs: 1, batchSize: 8, schedule: { baseLr: 0.1, milestones: [], factor: 1 },
 *   momentum: 0.9, weightDecay: 0, keepEpochs: [] }, 10, 0);
 * if (m.name !== "sam") throw new Error();
 * ```
 */
export function methodFor(
  config: RunConfig,
  stepsPerEpoch: number,
  optEpochOffset: number,
): Method {
  const epochOf = config.rehearsal
    ? rehearsalStepEpoch(config, optEpochOffset)
    : (count: number) => optEpochOffset + Math.floor(count / stepsPerEpoch);
  const lr = (count: number) => lrAt(config.schedule, epochOf(count));
  const common = {
    lr,
    momentum: config.momentum,
    nesterov: true,
    weightDecay: config.weightDecay,
  };
  switch (config.method.name) {
    case "sgd":
      return sgdMethod(common);
    case "sgd-classifier":
      return sgdMethod({ ...common, trainable: "classifier" });
    case "sam":
      return samMethod({ ...common, rho: config.method.rho ?? 0.05 });
    case "pof": {
      const pof = config.method.pof;
      return pofMethod({
        ...common,
        gamma: { kind: "uniform", low: 0, high: pof?.gammaMax ?? 2 },
        lineSearch: { maxXi: pof?.maxXi ?? 50 },
        discardAsymmetric: pof?.discardAsymmetric ?? false,
      });
    }
    default:
      throw new RangeError(
        `unknown method "${
          (config.method as { name: string }).name
        }"; valid: sgd, sam, pof, sgd-classifier`,
      );
  }
}

const toyCache = new Map<string, { train: ArrayDataset; test: ArrayDataset }>();

function toySplits(): { train: ArrayDataset; test: ArrayDataset } {
  let d = toyCache.get("toy");
  if (!d) {
    const t = toyData(new Rng(0));
    d = { train: t.train, test: t.test };
    toyCache.set("toy", d);
  }
  return d;
}

function limitImages(set: ImageSet, n?: number): ImageSet {
  if (n === undefined || n >= set.n) return set;
  const px = set.height * set.width * set.channels;
  return {
    images: set.images.subarray(0, n * px),
    labels: set.labels.subarray(0, n),
    n,
    height: set.height,
    width: set.width,
    channels: set.channels,
  };
}

const imageCache = new Map<string, ImageSet>();

async function imageSplit(
  name: string,
  split: "train" | "test",
  limit?: number,
  standIn = false,
): Promise<ImageSet> {
  // SVHN trains on train + extra; when a run keeps only its first `limit`
  // images and they all lie in `train`, the 531,131 extra images (1.6 GB of
  // uint8) are not loaded at all.
  const extra = name === "svhn" && split === "train" &&
    !(limit !== undefined && limit <= imageDatasetInfo("svhn").trainSize);
  const key = `${name}/${split}${extra ? "+extra" : ""}${
    standIn ? "/stand-in" : ""
  }`;
  let set = imageCache.get(key);
  if (!set && standIn) {
    // Not on disk (a rehearsal): random images of the same shape and count.
    const info = imageDatasetInfo(name);
    set = standInImages({
      n: split === "test"
        ? info.testSize
        : info.trainSize + (extra ? info.extraSize ?? 0 : 0),
      height: info.height,
      width: info.width,
      channels: info.channels,
      numClasses: info.numClasses,
      seed: split === "train" ? 1 : 2,
    });
    imageCache.set(key, set);
  }
  if (!set && name === SYNTHETIC_8X8) {
    const info = imageDatasetInfo("synthetic-images");
    set = syntheticImages({
      n: split === "train" ? info.trainSize : info.testSize,
      seed: split === "train" ? 0 : 1,
      height: 8,
      width: 8,
    });
    imageCache.set(key, set);
  }
  if (!set) {
    set = await loadDataset(name, { split, extra });
    imageCache.set(key, set);
  }
  return set;
}

/**
 * A {@link TrainData} over `lib/data`'s {@link DataLoader}.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * import { DataLoader } from "../data/loader.ts";
 * import { syntheticImages } from "../data/synthetic_images.ts";
 * import { loaderTrainData } from "./build.ts";
 * await useBackend("cpu");
 * const set = syntheticImages({ n: 10, seed: 0, height: 4, width: 4 });
 * const data = loaderTrainData(new DataLoader(set, { batchSize: 4, seed: 1, augment: { mean: [0, 0, 0], std: [1, 1, 1] } }));
 * data.startEpoch(0);
 * if (data.stepsPerEpoch !== 2 || data.next().y.shape[0] !== 4) throw new Error();
 * ```
 */
export function loaderTrainData(loader: DataLoader): TrainData {
  const data: TrainData = {
    stepsPerEpoch: loader.batchesPerEpoch,
    startEpoch(epoch) {
      const s = loader.state();
      loader.setState({ ...s, epoch, position: 0 });
    },
    next: () => loader.next(),
    weak: () => loader.weakBatch(),
    state: () => loader.state(),
    restore: (s) => loader.setState(s as ReturnType<DataLoader["state"]>),
  };
  return data;
}

/**
 * The examples of `set` in order (no augmentation), as an {@link EvalData}.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * import { syntheticImages } from "../data/synthetic_images.ts";
 * import { imageEvalData } from "./build.ts";
 * await useBackend("cpu");
 * const set = syntheticImages({ n: 10, seed: 0, height: 4, width: 4 });
 * const sizes = [...imageEvalData(set, { mean: [0, 0, 0], std: [1, 1, 1] }, 4).batches()].map((b) => b.y.shape[0]);
 * if (sizes.join() !== "4,4,2") throw new Error(sizes.join());
 * ```
 */
export function imageEvalData(
  set: ImageSet,
  augment: AugmentConfig,
  batchSize: number,
): EvalData {
  const loader = new DataLoader(set, {
    batchSize,
    seed: 0,
    augment,
    train: false,
  });
  return {
    size: set.n,
    *batches(): Generator<Batch> {
      for (let k = 0; k < loader.batchesPerEpoch; k++) {
        const h = loader.hostBatch(0, k);
        yield {
          x: tf.tensor4d(h.x, h.shape, "float32"),
          y: tf.tensor1d(h.y, "int32"),
        };
      }
    },
  };
}

async function buildImageRun(
  config: RunConfig,
  optEpochOffset: number,
  model: Model,
): Promise<RunParts> {
  const standIn = config.rehearsal?.standIn ?? false;
  const train = limitImages(
    await imageSplit(config.dataset, "train", config.trainLimit, standIn),
    config.trainLimit,
  );
  const testSet = limitImages(
    await imageSplit(config.dataset, "test", undefined, standIn),
    config.testLimit,
  );
  // A rehearsal evaluates only its first few test / training images.
  const evalImages = config.rehearsal?.evalImages;
  const test = limitImages(testSet, evalImages);
  const augment = trainAugment(config);
  const loader = new DataLoader(train, {
    batchSize: config.batchSize,
    seed: new Rng(config.seed).fork("loader").uint32(),
    augment,
    train: true,
    weakBatchSize: config.method.pof?.weakBatchSize ?? 32,
  });
  const data = loaderTrainData(loader);
  const evalBatch = Math.max(config.batchSize, 128);
  return {
    model,
    method: methodFor(config, data.stepsPerEpoch, optEpochOffset),
    train: data,
    test: imageEvalData(test, augment, evalBatch),
    trainEval: imageEvalData(limitImages(train, test.n), augment, evalBatch),
    dataBytes: train.images.byteLength + train.labels.byteLength +
      testSet.images.byteLength + testSet.labels.byteLength,
  };
}

/**
 * Builds a run's parts (see {@link RunBuilder}).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * import { buildRun } from "./build.ts";
 * await useBackend("cpu");
 * const parts = await buildRun({ dataset: "toy", model: { kind: "mlp", hidden: [8] }, method: { name: "sgd" },
 *   seed: 0, epochs: 1, batchSize: 32, schedule: { baseLr: 0.1, milestones: [], factor: 1 },
 *   momentum: 0.9, weightDecay: 0, keepEpochs: [] }, { optEpochOffset: 0 });
 * if (parts.train.stepsPerEpoch !== 16 || parts.test.size !== 8192) throw new Error();
 * ```
 */
export const buildRun: RunBuilder = (config, { optEpochOffset }) => {
  const model = modelFor(config.model, config.dataset);
  if (config.dataset !== "toy") {
    return buildImageRun(config, optEpochOffset, model);
  }
  const splits = toySplits();
  const train = limitDataset(splits.train, config.trainLimit);
  const test = limitDataset(splits.test, config.testLimit);
  const data = arrayTrainData(train, {
    batchSize: config.batchSize,
    weakBatchSize: config.method.pof?.weakBatchSize,
    rng: new Rng(config.seed).fork("loader"),
  });
  const parts: RunParts = {
    model,
    method: methodFor(config, data.stepsPerEpoch, optEpochOffset),
    train: data,
    test: arrayEvalData(test, 1024),
    trainEval: arrayEvalData(limitDataset(train, test.n), 1024),
  };
  return Promise.resolve(parts);
};

/** The training augmentation of an image run (normalisation, pad-crop, flip, cutout). */
function trainAugment(config: RunConfig): AugmentConfig {
  const small = config.dataset === SYNTHETIC_8X8;
  const info = imageDatasetInfo(small ? "synthetic-images" : config.dataset);
  return {
    mean: info.mean,
    std: info.std,
    pad: small ? 1 : info.augment.pad,
    flip: info.augment.flip,
    cutout: info.augment.cutout,
  };
}

/** A run's image splits (limited as the run limits them) and normalisation, for analyses. */
export interface AnalysisData {
  train: ImageSet;
  test: ImageSet;
  /** Normalisation only (no random augmentation). */
  augment: AugmentConfig;
  /** The run's training augmentation (for batches drawn as training draws them). */
  trainAugment: AugmentConfig;
}

/**
 * How many images of each split the checkpoint analyses of a run use (its
 * `trainLimit` / `testLimit`; a rehearsal only its first `evalImages`;
 * Infinity: the whole split).
 *
 * @example
 * ```ts
 * import { analysisLimits } from "./build.ts";
 * const c = { dataset: "cifar10", model: { kind: "wrn" as const, depth: 10, widen: 1 }, method: { name: "sgd" as const },
 *   seed: 0, epochs: 1, batchSize: 8, schedule: { baseLr: 0.1, milestones: [], factor: 1 },
 *   momentum: 0.9, weightDecay: 0, keepEpochs: [], testLimit: 100 };
 * const a = analysisLimits(c), b = analysisLimits({ ...c, rehearsal: { steps: 1, evalImages: 64, standIn: true } });
 * if (a.train !== Infinity || a.test !== 100 || b.train !== 64 || b.test !== 64) throw new Error();
 * ```
 */
export function analysisLimits(
  config: RunConfig,
): { train: number; test: number } {
  const cap = config.rehearsal?.evalImages ?? Infinity;
  return {
    train: Math.min(config.trainLimit ?? Infinity, cap),
    test: Math.min(config.testLimit ?? Infinity, cap),
  };
}

/**
 * The data a run trained on, for checkpoint analyses (Figs. 5, 6).
 *
 * @example
 * ```ts
 * import { analysisData } from "./build.ts";
 * const d = await analysisData({ dataset: "synthetic-images-8x8", model: { kind: "wrn", depth: 10, widen: 1 },
 *   method: { name: "sgd" }, seed: 0, epochs: 1, batchSize: 8, schedule: { baseLr: 0.1, milestones: [], factor: 1 },
 *   momentum: 0.9, weightDecay: 0, keepEpochs: [], trainLimit: 20, testLimit: 10 });
 * if (d.train.n !== 20 || d.test.n !== 10 || d.train.height !== 8) throw new Error();
 * ```
 */
export async function analysisData(config: RunConfig): Promise<AnalysisData> {
  const small = config.dataset === SYNTHETIC_8X8;
  const info = imageDatasetInfo(small ? "synthetic-images" : config.dataset);
  const standIn = config.rehearsal?.standIn ?? false;
  const n = analysisLimits(config);
  return {
    train: limitImages(
      await imageSplit(config.dataset, "train", undefined, standIn),
      n.train,
    ),
    test: limitImages(
      await imageSplit(config.dataset, "test", undefined, standIn),
      n.test,
    ),
    augment: { mean: info.mean, std: info.std },
    trainAugment: trainAugment(config),
  };
}

/**
 * `count` mini-batches of `batchSize` examples of `set`, normalised (and
 * randomly augmented by `augment`'s pad / flip / cutout when `augmented`,
 * as training batches are), drawn without replacement within each pass over
 * a seeded shuffle (passes repeat with fresh shuffles until `count`
 * batches).
 *
 * @example
 * ```ts
 * import { sampleBatches } from "./build.ts";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * import { syntheticImages } from "../data/synthetic_images.ts";
 * const set = syntheticImages({ n: 10, seed: 0, height: 4, width: 4 });
 * const bs = [...sampleBatches(set, { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }, { batchSize: 4, count: 5, seed: 1 })];
 * if (bs.length !== 5 || bs[4].y.shape[0] !== 4) throw new Error();
 * ```
 */
export function* sampleBatches(
  set: ImageSet,
  augment: AugmentConfig,
  options: {
    batchSize: number;
    count: number;
    seed: number;
    augmented?: boolean;
  },
): Generator<Batch> {
  const loader = new DataLoader(set, {
    batchSize: Math.min(options.batchSize, set.n),
    seed: options.seed,
    augment,
    train: options.augmented ?? false,
    shuffle: true,
    dropLast: true,
  });
  let made = 0;
  for (let epoch = 0; made < options.count; epoch++) {
    for (let k = 0; k < loader.batchesPerEpoch && made < options.count; k++) {
      const h = loader.hostBatch(epoch, k);
      made++;
      yield {
        x: tf.tensor4d(h.x, h.shape, "float32"),
        y: tf.tensor1d(h.y, "int32"),
      };
    }
  }
}
