/**
 * PoF: Post-Training of Feature Extractor (Sato et al., ICML 2022), reproduced
 * on TensorFlow.js. This module re-exports the public API: backends, the
 * functional models, the SGD / SAM / PoF optimizers, datasets and loaders,
 * the training runner, curvature analysis and plotting.
 *
 * @example Post-train a model with PoF
 * ```ts
 * import { mlp, pofMethod, Rng, useBackend } from "./mod.ts";
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * await useBackend("cpu");
 * const rng = new Rng(0);
 * const model = mlp({ inputDim: 4, hidden: [8, 8, 8, 8], numClasses: 3 });
 * const { params, state: bn } = model.init(rng);
 * const pof = pofMethod({ lr: 1e-3 });
 * let state = { params, bn, opt: pof.initOpt(params) };
 * const batch = () => ({
 *   x: tf.tensor2d(rng.normalArray(32 * 4), [32, 4]),
 *   y: tf.tensor1d(Array.from({ length: 32 }, () => rng.int(3)), "int32"),
 * });
 * const { state: next, metrics } = pof.step(model, state, { batch: batch(), weakBatch: batch }, rng);
 * state = next;
 * if (!(metrics.xi! >= 0)) throw new Error("no line search");
 * ```
 *
 * @module
 */

// Core
export { Rng, type RngState } from "./lib/rng.ts";
export {
  axpy,
  cloneTree,
  disposeTree,
  globalNorm,
  mapTree,
  type Params,
  scaleTree,
  treeSize,
  zerosLike,
  zipTree,
} from "./lib/tree.ts";
export {
  BACKEND_NAMES,
  type BackendInfo,
  backendInfo,
  type BackendName,
  BackendUnavailableError,
  defaultThreads,
  parseThreads,
  plannedBackend,
  TFJS_VERSION,
  useBackend,
  type UseBackendOptions,
} from "./lib/backend.ts";
export {
  BackendMemoryError,
  explainMemoryError,
  type ExplainMemoryOptions,
  WASM_HEAP_BYTES,
} from "./lib/backend_memory.ts";

// Models
export {
  type ApplyOptions,
  type ApplyResult,
  BN_EPSILON,
  BN_MOMENTUM,
  type BnState,
  type Model,
  type ModelParams,
} from "./lib/models/model.ts";
export {
  countErrors,
  perExampleCrossEntropy,
  softmaxCrossEntropy,
} from "./lib/models/loss.ts";
export {
  batchNorm,
  type BatchNormOptions,
  type BnParams,
  type BnStats,
  conv2d,
  type Conv2dOptions,
  dense,
  globalAvgPool,
  relu,
} from "./lib/models/layers.ts";
export {
  type WideResNet,
  wideResNet,
  type WideResNetOptions,
} from "./lib/models/wide_resnet.ts";
export { mlp, type MlpOptions } from "./lib/models/mlp.ts";
export {
  fromLayersModel,
  type FromLayersModelOptions,
  type LayersModelAdapter,
  writeBack,
} from "./lib/models/layers_model.ts";

// Optimizers and training methods
export {
  disposeTrainState,
  type Method,
  type OptState,
  type StepInput,
  type StepMetrics,
  type TrainState,
} from "./lib/optim/method.ts";
export { type Batch, type EvalData, type TrainData } from "./lib/data/batch.ts";
export {
  asSchedule,
  constantSchedule,
  linearSchedule,
  type LinearScheduleOptions,
  type Schedule,
  stepSchedule,
  type StepScheduleOptions,
} from "./lib/optim/schedule.ts";
export {
  addDecayedWeights,
  applyUpdates,
  chain,
  type CountState,
  type EmptyState,
  type GradientTransformation,
  type Optimizer,
  scaleByLearningRate,
  sgd,
  type SgdOptions,
  type SgdState,
  traceMomentum,
  type TraceOptions,
  type TraceState,
} from "./lib/optim/optimizer.ts";
export {
  classifierGradient,
  type ModelGradientOptions,
  type ModelGradients,
  modelGradients,
  treeNorm,
} from "./lib/optim/gradients.ts";
export {
  goldenSection,
  type GoldenSectionResult,
  lineSearch,
  type LineSearchOptions,
  type LineSearchResult,
} from "./lib/optim/line_search.ts";
export {
  type GammaSampler,
  gammaSampler,
  type GammaSpec,
  PAPER_GAMMA,
} from "./lib/optim/gamma.ts";
export { sgdMethod, type SgdMethodConfig } from "./lib/optim/sgd.ts";
export { samMethod, type SamMethodConfig } from "./lib/optim/sam.ts";
export { pofMethod, type PofMethodConfig } from "./lib/optim/pof.ts";

// Data
export { DatasetError, type DatasetErrorCode } from "./lib/data/errors.ts";
export {
  DATASET_NAMES,
  type DatasetInfo,
  datasetInfo,
  type DatasetName,
  DATASETS,
  RUN_DATASETS,
  runDatasetInfo,
  SYNTHETIC_8X8,
} from "./lib/data/dataset_registry.ts";
export {
  ensureDatasetFiles,
  type FetchOptions,
  resolveCacheDir,
} from "./lib/data/dataset_cache.ts";
export {
  loadDataset,
  type LoadedDataset,
  type LoadOptions,
} from "./lib/data/datasets.ts";
export { DataLoader, type LoaderOptions } from "./lib/data/loader.ts";
export { augmentBatch, type AugmentConfig } from "./lib/data/augment.ts";
export { type ImageSet, validateImageSet } from "./lib/data/image_set.ts";
export {
  syntheticImages,
  type SyntheticImagesOptions,
} from "./lib/data/synthetic_images.ts";
export {
  standInImages,
  type StandInOptions,
} from "./lib/data/stand_in_images.ts";
export {
  type ToyData,
  toyData,
  type ToyDataOptions,
  type ToyDataset,
} from "./lib/data/teacher_mlp_data.ts";

// Curvature analysis and the toy experiments
export {
  type BlockObjective,
  denseHessian,
  hessianVectorProduct,
  modelBlockObjective,
  objectiveGradient,
  objectiveLoss,
} from "./lib/analysis/hessian.ts";
export {
  ClassifierCurvature,
  classifierVector,
} from "./lib/analysis/classifier_hessian.ts";
export {
  type EigenPairs,
  type LanczosOptions,
  type LanczosResult,
  lanczosTopK,
  symmetricEigen,
} from "./lib/analysis/eigen.ts";
export {
  lossAlongDirection,
  lossOnPlane,
  type LossPoint,
} from "./lib/analysis/landscape.ts";
export {
  evaluateToy,
  type SetMetrics,
  type ToyModels,
  type ToyPresetName,
  type ToyRunOptions,
  type ToyTrainingConfig,
  toyTrainingConfig,
  trainToyModels,
} from "./lib/analysis/toy_training.ts";
export {
  type Fig1Config,
  fig1Config,
  type Fig1LayerResult,
  type Fig1Result,
  flatWidth,
  layerObjective,
  runFig1,
} from "./lib/analysis/toy_fig1.ts";
export {
  type Fig2Config,
  fig2Config,
  type Fig2Result,
  runFig2,
} from "./lib/analysis/toy_fig2.ts";
export {
  type Fig1Summary,
  type Fig2Summary,
  summarizeFig1,
  summarizeFig2,
} from "./lib/analysis/toy_summaries.ts";
export {
  type HessianComponents,
  hessianComponents,
  type HessianComponentsOptions,
  perturbationNorms,
  pofXiStar,
} from "./lib/analysis/checkpoint_stats.ts";

// Training runner
export {
  planRuns,
  readDone,
  runDir,
  type RunDone,
  runMetrics,
  runPlan,
  type RunPlanOptions,
  trainRun,
  type TrainRunOptions,
} from "./lib/train/runner.ts";
export { evaluate, NonFiniteLossError, trainEpoch } from "./lib/train/loop.ts";
export {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  CorruptCheckpointError,
  latestCheckpoint,
  type LatestValid,
  listCheckpoints,
  loadCheckpoint,
  loadLatestValidCheckpoint,
  saveCheckpoint,
} from "./lib/train/checkpoint.ts";
export { type EpochRecord, readMetrics } from "./lib/train/metrics_log.ts";
export {
  lrAt,
  type MethodSpec,
  type ModelSpec,
  type PofSpec,
  type Rehearsal,
  type RunConfig,
  type StepSchedule,
} from "./lib/train/run_config.ts";
export {
  type EpochSegment,
  rehearsalEpoch,
  rehearsalSegments,
  rehearsalStepEpoch,
} from "./lib/train/rehearsal.ts";
export {
  describeResources,
  formatBytes,
  machineLine,
  peakRssBytes,
  type RunResources,
} from "./lib/train/resources.ts";
export { runId, withDependencies } from "./lib/train/run_id.ts";
export { parseShard, type Shard } from "./lib/train/shard.ts";
export {
  type AnalysisData,
  analysisData,
  buildRun,
} from "./lib/train/build.ts";
export {
  type ArrayDataset,
  arrayEvalData,
  arrayTrainData,
} from "./lib/data/array_data.ts";

// Plotting
export {
  type CurvePoint,
  type ErrorCurve,
  type Fig1cLayer,
  fig1cSpec,
  type Fig1dPoint,
  fig1dSpec,
  fig2aSpec,
  fig2bSpec,
  fig4Spec,
  fig5Spec,
  fig6Spec,
  type Table1ChartRow,
  table1Spec,
  table2Spec,
  type VegaLiteSpec,
} from "./lib/plot/figures.ts";
export { renderSvg } from "./lib/plot/render.ts";
export {
  displayChart,
  displayMarkdown,
  type DisplayOptions,
} from "./lib/plot/display.ts";
export {
  binEdges,
  type ClaimSide,
  type ClaimTest,
  formatDifference,
  histogram,
  mean,
  type MeanStd,
  meanStd,
  median,
  modeIndex,
  type PairedDifference,
  pairedDifference,
  sampleStd,
  studentTCdf,
  testClaim,
  tQuantile,
  type Verdict,
  verdictOf,
} from "./lib/stats.ts";
export {
  type ComparisonRow,
  comparisonTable,
  formatMeanStd,
  markdownTable,
} from "./lib/plot/tables.ts";
export {
  DATASET_LABEL,
  PAPER_FINETUNE,
  PAPER_TABLE1,
  PAPER_TABLE2,
  table1Label,
} from "./lib/plot/paper.ts";
