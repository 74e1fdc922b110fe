/**
 * Entry point of a kernel pool Worker (`parallel.ts`): the table of jobs a
 * Worker can run, served over the shared control block. Every job a kernel
 * passes to `runParallel` is listed here; a job missing from this list
 * fails with one line naming it.
 *
 * @module
 */
import { parentPort } from "node:worker_threads";
import { type ParallelJob, serveKernelPool } from "./parallel.ts";
import {
  filterGradPadJob,
  filterGradSumJob,
  filterGradTilesJob,
} from "./conv2d_backprop_filter.ts";
import { batchNormJobs } from "./batch_norm_train.ts";

/**
 * Every job of the project's kernels, by name.
 *
 * @example
 * ```ts
 * import { PARALLEL_JOBS } from "./parallel_worker.ts";
 * const names = PARALLEL_JOBS.map((j) => j.name);
 * if (new Set(names).size !== names.length) throw new Error(names.join());
 * ```
 */
export const PARALLEL_JOBS: ParallelJob[] = [
  filterGradPadJob,
  filterGradTilesJob,
  filterGradSumJob,
  ...batchNormJobs,
];

if (parentPort) serveKernelPool(PARALLEL_JOBS, parentPort);
