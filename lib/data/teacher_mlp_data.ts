/**
 * The machine-generated toy data of the paper's Figs. 1 and 2.
 *
 * The paper says only that the data are "machine-generated" and the network
 * an MLP with 5 weight layers. This generator is this project's choice
 * (documented so that it can be judged): a classification task that a small
 * MLP can fit, with a training set small enough to leave a real train/test
 * generalisation gap.
 *
 * - Inputs: `x ~ N(0, I_inputDim)` (default 16-d).
 * - Labels: the argmax of a random *teacher* MLP
 *   `inputDim -> teacherHidden (ReLU) -> teacherHidden (ReLU) -> numClasses`
 *   with He-normal weights and zero hidden biases; the output biases are
 *   then fitted (on 4,096 calibration inputs from the teacher's fork) so that
 *   the classes are balanced (a raw random teacher gives e.g. 66% / 3%
 *   shares, a near-trivial task), then label noise: with
 *   probability `labelNoise` (default 5%) the label is replaced by a class
 *   drawn uniformly from the *other* classes (training and test alike).
 * - Sizes: 512 training and 8,192 test examples by default.
 *
 * Everything is drawn from the {@link Rng} given, through labelled forks
 * (`"teacher"`, `"train"`, `"test"`), so a seed fixes the data exactly and the
 * test set does not depend on the training-set size.
 *
 * @module
 */
import type { Rng } from "../rng.ts";

/** A dataset held as plain arrays: `x` is row-major [n, ...inputShape]. */
export interface ToyDataset {
  /** Inputs, row-major [n, inputDim]. */
  x: Float32Array;
  /** Labels in [0, numClasses). */
  y: Int32Array;
  /** Number of examples. */
  n: number;
  /** Shape of one example: [inputDim]. */
  inputShape: number[];
  numClasses: number;
}

/** The teacher network that labels the toy data (kept for inspection and tests). */
export interface ToyTeacher {
  /** Weight matrices, row-major [in, out], one per layer. */
  weights: Float64Array[];
  /** Output biases that balance the classes (see {@link toyData}). */
  outputBias: Float64Array;
  /** Layer widths, input first: [inputDim, hidden, hidden, numClasses]. */
  widths: number[];
}

/** Options of {@link toyData} (all optional; defaults in brackets). */
export interface ToyDataOptions {
  /** Input dimension [16]. */
  inputDim?: number;
  /** Number of classes [4]. */
  numClasses?: number;
  /** Training examples [512]. */
  trainSize?: number;
  /** Test examples [8192]. */
  testSize?: number;
  /** Probability that a label is replaced by another class [0.05]. */
  labelNoise?: number;
  /** Width of the teacher's two hidden layers [32]. */
  teacherHidden?: number;
}

/** The toy task: training and test sets and the teacher that labelled them. */
export interface ToyData {
  train: ToyDataset;
  test: ToyDataset;
  teacher: ToyTeacher;
  /** The options used, defaults filled in. */
  options: Required<ToyDataOptions>;
}

/**
 * The teacher's clean (noise-free) label of one input.
 *
 * @example
 * ```ts
 * import { Rng } from "../rng.ts";
 * import { teacherLabel, toyData } from "./teacher_mlp_data.ts";
 * const d = toyData(new Rng(1), { trainSize: 8, testSize: 8, labelNoise: 0 });
 * const x0 = d.train.x.subarray(0, 16);
 * if (teacherLabel(d.teacher, x0) !== d.train.y[0]) throw new Error("label");
 * ```
 */
export function teacherLabel(
  teacher: ToyTeacher,
  x: ArrayLike<number>,
): number {
  let h: Float64Array = Float64Array.from(x);
  const L = teacher.weights.length;
  for (let l = 0; l < L; l++) {
    const nin = teacher.widths[l], nout = teacher.widths[l + 1];
    const w = teacher.weights[l];
    const out = new Float64Array(nout);
    for (let i = 0; i < nin; i++) {
      const hi = h[i];
      if (hi === 0) continue;
      for (let j = 0; j < nout; j++) out[j] += hi * w[i * nout + j];
    }
    if (l < L - 1) {
      for (let j = 0; j < nout; j++) out[j] = Math.max(0, out[j]);
    } else {
      for (let j = 0; j < nout; j++) out[j] += teacher.outputBias[j];
    }
    h = out;
  }
  let best = 0;
  for (let j = 1; j < h.length; j++) if (h[j] > h[best]) best = j;
  return best;
}

// Fits the output biases so that each class takes ~1/C of the calibration
// inputs: repeated shifts of each bias by log((1/C) / share) times the logit scale.
function balanceClasses(teacher: ToyTeacher, rng: Rng, d: number): void {
  const m = 4096, C = teacher.widths[teacher.widths.length - 1];
  const xs: Float64Array[] = [];
  for (let i = 0; i < m; i++) {
    xs.push(Float64Array.from({ length: d }, () => rng.normal()));
  }
  const b = teacher.outputBias;
  b.fill(0);
  const zs = xs.map((x) => logitsOf(teacher, x));
  let scale = 0;
  for (const z of zs) for (const v of z) scale += Math.abs(v);
  scale /= m * C;
  for (let it = 0; it < 300; it++) {
    const share = new Float64Array(C);
    for (const z of zs) {
      let best = 0;
      for (let c = 1; c < C; c++) if (z[c] + b[c] > z[best] + b[best]) best = c;
      share[best] += 1 / m;
    }
    for (let c = 0; c < C; c++) {
      b[c] += 0.3 * scale * Math.log(1 / C / Math.max(share[c], 0.5 / m));
    }
  }
}

function logitsOf(teacher: ToyTeacher, x: Float64Array): Float64Array {
  let h = x;
  const L = teacher.weights.length;
  for (let l = 0; l < L; l++) {
    const nin = teacher.widths[l], nout = teacher.widths[l + 1];
    const w = teacher.weights[l];
    const out = new Float64Array(nout);
    for (let i = 0; i < nin; i++) {
      for (let j = 0; j < nout; j++) out[j] += h[i] * w[i * nout + j];
    }
    if (l < L - 1) {
      for (let j = 0; j < nout; j++) out[j] = Math.max(0, out[j]);
    }
    h = out;
  }
  return h;
}

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(
      `toyData: ${name} must be an integer >= ${min}, got ${v}`,
    );
  }
}

function makeSet(
  rng: Rng,
  n: number,
  teacher: ToyTeacher,
  o: Required<ToyDataOptions>,
): ToyDataset {
  const d = o.inputDim;
  const x = new Float32Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) x[i * d + j] = rng.normal();
    let label = teacherLabel(teacher, x.subarray(i * d, (i + 1) * d));
    if (o.labelNoise > 0 && rng.uniform() < o.labelNoise) {
      label = (label + 1 + rng.int(o.numClasses - 1)) % o.numClasses;
    }
    y[i] = label;
  }
  return { x, y, n, inputShape: [d], numClasses: o.numClasses };
}

/**
 * Generates the toy task deterministically from `rng` (which is not advanced:
 * only labelled forks of it are used).
 *
 * @example
 * ```ts
 * import { Rng } from "../rng.ts";
 * import { toyData } from "./teacher_mlp_data.ts";
 * const a = toyData(new Rng(7), { trainSize: 32, testSize: 64 });
 * const b = toyData(new Rng(7), { trainSize: 32, testSize: 64 });
 * if (a.train.x[5] !== b.train.x[5] || a.test.y[9] !== b.test.y[9]) throw new Error();
 * if (a.train.inputShape[0] !== 16 || a.test.n !== 64) throw new Error();
 * ```
 */
export function toyData(rng: Rng, options: ToyDataOptions = {}): ToyData {
  const o: Required<ToyDataOptions> = {
    inputDim: options.inputDim ?? 16,
    numClasses: options.numClasses ?? 4,
    trainSize: options.trainSize ?? 512,
    testSize: options.testSize ?? 8192,
    labelNoise: options.labelNoise ?? 0.05,
    teacherHidden: options.teacherHidden ?? 32,
  };
  checkInt("inputDim", o.inputDim, 1);
  checkInt("numClasses", o.numClasses, 2);
  checkInt("trainSize", o.trainSize, 1);
  checkInt("testSize", o.testSize, 1);
  checkInt("teacherHidden", o.teacherHidden, 1);
  if (!(o.labelNoise >= 0 && o.labelNoise <= 1)) {
    throw new RangeError(
      `toyData: labelNoise must be in [0, 1], got ${o.labelNoise}`,
    );
  }
  const widths = [o.inputDim, o.teacherHidden, o.teacherHidden, o.numClasses];
  const tr = rng.fork("teacher");
  const weights: Float64Array[] = [];
  for (let l = 0; l + 1 < widths.length; l++) {
    const std = Math.sqrt(2 / widths[l]);
    const w = new Float64Array(widths[l] * widths[l + 1]);
    for (let i = 0; i < w.length; i++) w[i] = std * tr.normal();
    weights.push(w);
  }
  const teacher: ToyTeacher = {
    weights,
    widths,
    outputBias: new Float64Array(o.numClasses),
  };
  balanceClasses(teacher, tr, o.inputDim);
  return {
    train: makeSet(rng.fork("train"), o.trainSize, teacher, o),
    test: makeSet(rng.fork("test"), o.testSize, teacher, o),
    teacher,
    options: o,
  };
}
