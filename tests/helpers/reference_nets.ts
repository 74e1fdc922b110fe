/**
 * Test-only float64 reference forward passes, written with plain loops (no
 * TensorFlow.js) from the architectures' published descriptions, not from
 * `lib/models`: the models' tests compare against these.
 *
 * Pre-activation wide residual network (Zagoruyko & Komodakis 2016, the
 * paper's WRN-28-10 family), depth 6n + 4, widen factor k:
 * - a 3x3 convolution to 16 channels;
 * - three groups of n residual blocks of widths 16k, 32k, 64k; the first
 *   block of groups 2 and 3 halves the resolution (stride 2);
 * - each block is pre-activation "BN-ReLU-conv3x3-BN-ReLU-conv3x3" (the
 *   first convolution carries the stride) added to the shortcut: the block's
 *   input itself when the shape is unchanged, else a strided 1x1 convolution
 *   of the block's pre-activated input relu(BN1(x));
 * - a final BN-ReLU and global average pooling give the features; one linear
 *   layer gives the logits.
 * Convolutions have no bias and pad (kernel - 1) / 2 zeros on every side.
 * BatchNorm: in training mode it normalises with the batch's mean and biased
 * variance over (batch, height, width) and moves the running statistics as
 * PyTorch does (momentum 0.1, unbiased batch variance), epsilon 1e-5; in
 * inference mode it normalises with the running statistics.
 *
 * Tensors are flat row-major arrays: images NHWC, kernels [kh, kw, in, out],
 * dense kernels [in, out].
 *
 * @module
 */

/** Flat float64 values keyed like the model's parameters / state. */
export type RefTree = Record<string, ArrayLike<number>>;

/** Logits, features and (training mode) moved BatchNorm statistics. */
export interface RefOutput {
  /** [batch, classes], row-major. */
  logits: Float64Array;
  /** [batch, featureDim], row-major. */
  features: Float64Array;
  /** The running statistics after the pass (inference: unchanged copies). */
  state: Record<string, Float64Array>;
}

const EPS = 1e-5;
const MOMENTUM = 0.1;

interface Img {
  data: Float64Array;
  n: number;
  h: number;
  w: number;
  c: number;
}

function get(tree: RefTree, key: string): ArrayLike<number> {
  const v = tree[key];
  if (v === undefined) throw new Error(`reference: missing "${key}"`);
  return v;
}

function conv(
  x: Img,
  kernel: ArrayLike<number>,
  k: number,
  out: number,
  stride: number,
): Img {
  const pad = (k - 1) / 2;
  const ho = Math.floor((x.h + 2 * pad - k) / stride) + 1;
  const wo = Math.floor((x.w + 2 * pad - k) / stride) + 1;
  const y = new Float64Array(x.n * ho * wo * out);
  for (let b = 0; b < x.n; b++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        for (let o = 0; o < out; o++) {
          let s = 0;
          for (let di = 0; di < k; di++) {
            const r = i * stride + di - pad;
            if (r < 0 || r >= x.h) continue;
            for (let dj = 0; dj < k; dj++) {
              const q = j * stride + dj - pad;
              if (q < 0 || q >= x.w) continue;
              for (let c = 0; c < x.c; c++) {
                s += x.data[((b * x.h + r) * x.w + q) * x.c + c] *
                  kernel[((di * k + dj) * x.c + c) * out + o];
              }
            }
          }
          y[((b * ho + i) * wo + j) * out + o] = s;
        }
      }
    }
  }
  return { data: y, n: x.n, h: ho, w: wo, c: out };
}

function batchNorm(
  x: Img,
  name: string,
  params: RefTree,
  state: RefTree,
  train: boolean,
  newState: Record<string, Float64Array>,
): Img {
  const gamma = get(params, `${name}.gamma`);
  const beta = get(params, `${name}.beta`);
  const runMean = get(state, `${name}.mean`);
  const runVar = get(state, `${name}.variance`);
  const count = x.n * x.h * x.w;
  const mean = new Float64Array(x.c);
  const variance = new Float64Array(x.c);
  for (let c = 0; c < x.c; c++) {
    if (train) {
      let s = 0;
      for (let p = 0; p < count; p++) s += x.data[p * x.c + c];
      const m = s / count;
      let ss = 0;
      for (let p = 0; p < count; p++) ss += (x.data[p * x.c + c] - m) ** 2;
      mean[c] = m;
      variance[c] = ss / count;
    } else {
      mean[c] = runMean[c];
      variance[c] = runVar[c];
    }
  }
  const y = new Float64Array(x.data.length);
  for (let p = 0; p < count; p++) {
    for (let c = 0; c < x.c; c++) {
      y[p * x.c + c] = gamma[c] * (x.data[p * x.c + c] - mean[c]) /
          Math.sqrt(variance[c] + EPS) + beta[c];
    }
  }
  const m1 = new Float64Array(x.c), v1 = new Float64Array(x.c);
  for (let c = 0; c < x.c; c++) {
    m1[c] = train
      ? (1 - MOMENTUM) * runMean[c] + MOMENTUM * mean[c]
      : runMean[c];
    v1[c] = train
      ? (1 - MOMENTUM) * runVar[c] +
        MOMENTUM * variance[c] * count / (count - 1)
      : runVar[c];
  }
  newState[`${name}.mean`] = m1;
  newState[`${name}.variance`] = v1;
  return { ...x, data: y };
}

function reluImg(x: Img): Img {
  return { ...x, data: x.data.map((v) => Math.max(0, v)) };
}

function addImg(a: Img, b: Img): Img {
  if (a.data.length !== b.data.length) throw new Error("reference: add shape");
  return { ...a, data: a.data.map((v, i) => v + b.data[i]) };
}

function linear(
  f: Float64Array,
  batch: number,
  dim: number,
  kernel: ArrayLike<number>,
  bias: ArrayLike<number>,
  out: number,
): Float64Array {
  const y = new Float64Array(batch * out);
  for (let b = 0; b < batch; b++) {
    for (let o = 0; o < out; o++) {
      let s = bias[o];
      for (let i = 0; i < dim; i++) s += f[b * dim + i] * kernel[i * out + o];
      y[b * out + o] = s;
    }
  }
  return y;
}

/**
 * The reference pre-activation WRN-(depth)-(widen) forward pass (see the
 * module doc). `features` / `classifier` / `state` use the model's keys:
 * `conv0.kernel`, `stage{s}.block{b}.{bn1,bn2}.{gamma,beta}`,
 * `stage{s}.block{b}.{conv1,conv2,shortcut}.kernel`, `bn.{gamma,beta}`;
 * classifier `kernel` / `bias`; state `<bn>.mean` / `<bn>.variance`.
 *
 * @example
 * ```ts
 * import { referenceWrn } from "./reference_nets.ts";
 * // WRN-10-1 with every kernel zero: the features are relu(beta) of the final BN.
 * const f: Record<string, number[]> = {}, s: Record<string, number[]> = {};
 * const bn = (name: string, c: number, beta = 0) => {
 *   f[`${name}.gamma`] = Array(c).fill(1); f[`${name}.beta`] = Array(c).fill(beta);
 *   s[`${name}.mean`] = Array(c).fill(0); s[`${name}.variance`] = Array(c).fill(1);
 * };
 * f["conv0.kernel"] = Array(9 * 16).fill(0);
 * for (const [p, i, o] of [["stage1.block1", 16, 16], ["stage2.block1", 16, 32], ["stage3.block1", 32, 64]] as const) {
 *   bn(`${p}.bn1`, i); bn(`${p}.bn2`, o);
 *   f[`${p}.conv1.kernel`] = Array(9 * i * o).fill(0); f[`${p}.conv2.kernel`] = Array(9 * o * o).fill(0);
 *   if (i !== o) f[`${p}.shortcut.kernel`] = Array(i * o).fill(0);
 * }
 * bn("bn", 64, 0.5);
 * const r = referenceWrn({ depth: 10, widen: 1, numClasses: 2, inputShape: [4, 4, 1] }, {
 *   features: f, classifier: { kernel: Array(128).fill(1), bias: [0, 1] }, state: s,
 *   x: new Float64Array(16), batch: 1, train: false });
 * if (Math.abs(r.features[0] - 0.5) > 1e-12 || Math.abs(r.logits[1] - 33) > 1e-9) throw new Error();
 * ```
 */
export function referenceWrn(
  arch: {
    depth: number;
    widen: number;
    numClasses: number;
    inputShape: number[];
  },
  run: {
    features: RefTree;
    classifier: RefTree;
    state: RefTree;
    x: ArrayLike<number>;
    batch: number;
    train: boolean;
  },
): RefOutput {
  const { depth, widen, numClasses, inputShape } = arch;
  const { features: phi, state, train } = run;
  const n = (depth - 4) / 6;
  const widths = [16, 16 * widen, 32 * widen, 64 * widen];
  const newState: Record<string, Float64Array> = {};
  let x: Img = {
    data: Float64Array.from(run.x),
    n: run.batch,
    h: inputShape[0],
    w: inputShape[1],
    c: inputShape[2],
  };
  x = conv(x, get(phi, "conv0.kernel"), 3, widths[0], 1);
  for (let g = 1; g <= 3; g++) {
    for (let b = 1; b <= n; b++) {
      const p = `stage${g}.block${b}`;
      const stride = g > 1 && b === 1 ? 2 : 1;
      const out = widths[g];
      const a = reluImg(batchNorm(x, `${p}.bn1`, phi, state, train, newState));
      let r = conv(a, get(phi, `${p}.conv1.kernel`), 3, out, stride);
      r = reluImg(batchNorm(r, `${p}.bn2`, phi, state, train, newState));
      r = conv(r, get(phi, `${p}.conv2.kernel`), 3, out, 1);
      const shortcut = x.c === out && stride === 1
        ? x
        : conv(a, get(phi, `${p}.shortcut.kernel`), 1, out, stride);
      x = addImg(r, shortcut);
    }
  }
  x = reluImg(batchNorm(x, "bn", phi, state, train, newState));
  const dim = x.c;
  const f = new Float64Array(x.n * dim);
  const hw = x.h * x.w;
  for (let b = 0; b < x.n; b++) {
    for (let p = 0; p < hw; p++) {
      for (let c = 0; c < dim; c++) {
        f[b * dim + c] += x.data[(b * hw + p) * dim + c] / hw;
      }
    }
  }
  const logits = linear(
    f,
    x.n,
    dim,
    get(run.classifier, "kernel"),
    get(run.classifier, "bias"),
    numClasses,
  );
  return { logits, features: f, state: newState };
}

/**
 * The reference ReLU MLP: `hidden.length` layers `relu(h W_i + b_i)` are the
 * features, one linear layer the logits. Keys `layer{i}.kernel` / `.bias`,
 * classifier `kernel` / `bias`. No BatchNorm: `state` is `{}`.
 *
 * @example
 * ```ts
 * import { referenceMlp } from "./reference_nets.ts";
 * const r = referenceMlp({ inputDim: 2, hidden: [1], numClasses: 1 }, {
 *   features: { "layer1.kernel": [1, -1], "layer1.bias": [0.5] },
 *   classifier: { kernel: [2], bias: [1] }, x: [3, 1, 0, 2], batch: 2 });
 * if (r.features.join() !== "2.5,0" || r.logits.join() !== "6,1") throw new Error(r.logits.join());
 * ```
 */
export function referenceMlp(
  arch: { inputDim: number; hidden: number[]; numClasses: number },
  run: {
    features: RefTree;
    classifier: RefTree;
    x: ArrayLike<number>;
    batch: number;
  },
): RefOutput {
  let h = Float64Array.from(run.x);
  let dim = arch.inputDim;
  arch.hidden.forEach((width, i) => {
    h = linear(
      h,
      run.batch,
      dim,
      get(run.features, `layer${i + 1}.kernel`),
      get(run.features, `layer${i + 1}.bias`),
      width,
    ).map((v) => Math.max(0, v));
    dim = width;
  });
  const logits = linear(
    h,
    run.batch,
    dim,
    get(run.classifier, "kernel"),
    get(run.classifier, "bias"),
    arch.numClasses,
  );
  return { logits, features: h, state: {} };
}

/**
 * Mean softmax cross-entropy of row-major `[batch, classes]` logits in
 * float64 (log-sum-exp shifted by the row maximum).
 *
 * @example
 * ```ts
 * import { referenceCrossEntropy } from "./reference_nets.ts";
 * const l = referenceCrossEntropy([0, 0], [1], 2);
 * if (Math.abs(l - Math.log(2)) > 1e-15) throw new Error();
 * ```
 */
export function referenceCrossEntropy(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
): number {
  let total = 0;
  for (let b = 0; b < labels.length; b++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) {
      max = Math.max(max, logits[b * classes + c]);
    }
    let s = 0;
    for (let c = 0; c < classes; c++) {
      s += Math.exp(logits[b * classes + c] - max);
    }
    total += max + Math.log(s) - logits[b * classes + labels[b]];
  }
  return total / labels.length;
}
