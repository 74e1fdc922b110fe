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
export * from "./lib/rng.ts";
export * from "./lib/tree.ts";
export * from "./lib/backend.ts";

// Models
export * from "./lib/models/model.ts";
export * from "./lib/models/loss.ts";
export * from "./lib/models/layers.ts";
export * from "./lib/models/wide_resnet.ts";
export * from "./lib/models/mlp.ts";
export * from "./lib/models/layers_model.ts";

// Optimizers and training methods
export * from "./lib/optim/method.ts";
export * from "./lib/data/batch.ts";
export * from "./lib/optim/schedule.ts";
export * from "./lib/optim/optimizer.ts";
export * from "./lib/optim/gradients.ts";
export * from "./lib/optim/line_search.ts";
export * from "./lib/optim/gamma.ts";
export * from "./lib/optim/state.ts";
export * from "./lib/optim/sgd.ts";
export * from "./lib/optim/sam.ts";
export * from "./lib/optim/pof.ts";

// Data
export * from "./lib/data/errors.ts";
export * from "./lib/data/dataset_registry.ts";
export * from "./lib/data/dataset_cache.ts";
export * from "./lib/data/datasets.ts";
export * from "./lib/data/loader.ts";
export * from "./lib/data/batch_plan.ts";
export * from "./lib/data/augment.ts";
export * from "./lib/data/image_set.ts";
export * from "./lib/data/synthetic_images.ts";
export * from "./lib/data/fixture_files.ts";
export * from "./lib/data/download.ts";
export * from "./lib/data/teacher_mlp_data.ts";

// Curvature analysis and the toy experiments
export * from "./lib/analysis/hessian.ts";
export * from "./lib/analysis/classifier_hessian.ts";
export * from "./lib/analysis/eigen.ts";
export * from "./lib/analysis/landscape.ts";
export * from "./lib/analysis/toy_training.ts";
export * from "./lib/analysis/toy_fig1.ts";
export * from "./lib/analysis/toy_fig2.ts";
export * from "./lib/analysis/toy_summaries.ts";
export * from "./lib/analysis/checkpoint_stats.ts";

// Training runner
export * from "./lib/train/runner.ts";
export * from "./lib/train/loop.ts";
export * from "./lib/train/checkpoint.ts";
export * from "./lib/train/metrics_log.ts";
export * from "./lib/train/run_config.ts";
export * from "./lib/train/run_id.ts";
export * from "./lib/train/shard.ts";
export * from "./lib/train/progress.ts";
export * from "./lib/train/build.ts";
export * from "./lib/data/array_data.ts";

// Plotting
export * from "./lib/plot/figures.ts";
export * from "./lib/plot/render.ts";
export * from "./lib/plot/display.ts";
export * from "./lib/stats.ts";
export * from "./lib/plot/tables.ts";
export * from "./lib/plot/style.ts";
export * from "./lib/plot/paper.ts";
