/**
 * The named source mutations of `deno task mutants` (see tools/mutants.ts
 * and the README's Development section): each one a small plausible bug, the
 * exact snippet it replaces, and the test files that must catch it.
 *
 * @module
 */
import type { Mutant } from "./mutants.ts";

/**
 * Every mutant; `why` says what bug it stands for.
 *
 * @example
 * ```ts
 * import { MUTANTS } from "./mutant_list.ts";
 * if (MUTANTS.length < 20 || new Set(MUTANTS.map((m) => m.name)).size !== MUTANTS.length) throw new Error();
 * ```
 */
export const MUTANTS: readonly (Mutant & { why: string })[] = [
  {
    name: "wrn-no-relu-after-bn2",
    why:
      "WRN block without the ReLU after bn2 (the fused BN + ReLU told not to apply it)",
    file: "lib/models/wide_resnet.ts",
    find:
      "hh = bnRelu(hh, `${p}.bn2`, phi, state, newState, o) as tf.Tensor4D;",
    replace:
      "hh = tf.sub(bnRelu(hh, `${p}.bn2`, phi, state, newState, o), bnRelu(tf.neg(hh), `${p}.bn2`, phi, state, {}, o)) as tf.Tensor4D;",
    tests: ["lib/models/wide_resnet_test.ts"],
  },
  {
    name: "wrn-shortcut-on-raw-input",
    why: "1x1 shortcut applied to the raw block input instead of relu(bn1(x))",
    file: "lib/models/wide_resnet.ts",
    find: "const skip = blk.equal ? y : conv2d(\n          a as tf.Tensor4D,",
    replace:
      "const skip = blk.equal ? y : conv2d(\n          y as tf.Tensor4D,",
    tests: ["lib/models/wide_resnet_test.ts"],
  },
  {
    name: "wrn-residual-dropped",
    why: "the residual addition dropped",
    file: "lib/models/wide_resnet.ts",
    find: "y = tf.add(hh, skip);",
    replace: "y = tf.add(hh, tf.mul(skip, 0));",
    tests: ["lib/models/wide_resnet_test.ts"],
  },
  {
    name: "wrn-bn-relu-dropped",
    why:
      "every ReLU after the WRN's BatchNorms dropped (fused BN + ReLU without its ReLU)",
    file: "lib/models/wide_resnet.ts",
    find: "{ ...o, relu: true },",
    replace: "{ ...o, relu: false },",
    tests: ["lib/models/wide_resnet_test.ts"],
  },
  {
    name: "fused-bn-biased-variance-denominator",
    why: "the fused BatchNorm's batch variance divided by n - 1 instead of n",
    file: "lib/kernels/batch_norm_train.ts",
    find: "out.variance[j] = q[j] / n;",
    replace: "out.variance[j] = q[j] / (n - 1);",
    tests: ["lib/kernels/kernels_test.ts"],
  },
  {
    name: "fused-bn-grad-no-mean-term",
    why: "the fused BatchNorm's input gradient without the -dbeta/n term",
    file: "lib/kernels/batch_norm_train.ts",
    find: "a[j] = -k[j] * sg[j] / n;",
    replace: "a[j] = 0;",
    tests: ["lib/kernels/kernels_test.ts"],
  },
  {
    name: "bn-biased-running-variance",
    why: "running variance moved with the biased batch variance",
    file: "lib/models/layers.ts",
    find: ": momentum * n / (n - 1),",
    replace: ": momentum,",
    tests: ["lib/models/layers_test.ts"],
  },
  {
    name: "bn-momentum-flipped",
    why: "Keras momentum convention instead of PyTorch's",
    file: "lib/models/layers.ts",
    find: "tf.mul(stats.mean, 1 - momentum),\n        tf.mul(mean, momentum),",
    replace:
      "tf.mul(stats.mean, momentum),\n        tf.mul(mean, 1 - momentum),",
    tests: ["lib/models/layers_test.ts"],
  },
  {
    name: "bn-backward-wrong",
    why: "BatchNorm backward missing the 1/n of the variance term",
    file: "lib/models/layers.ts",
    find: "tf.mul(xh, tf.mul(dgamma, tf.div(k, n))),",
    replace: "tf.mul(xh, tf.mul(dgamma, k)),",
    tests: ["lib/models/layers_test.ts"],
  },
  {
    name: "mlp-bias-dropped",
    why: "hidden-layer biases ignored",
    file: "lib/models/mlp.ts",
    find: "leaf(phi, `layer${i}.bias`) as tf.Tensor1D,",
    replace: "tf.zerosLike(leaf(phi, `layer${i}.bias`)) as tf.Tensor1D,",
    tests: ["lib/models/mlp_test.ts"],
  },
  {
    name: "pof-wrong-sign",
    why: "PoF perturbs theta along +u instead of -u",
    file: "lib/optim/pof.ts",
    find: "mapTree(theta0, (t, k) => tf.sub(t, tf.mul(u[k], scale)))",
    replace: "mapTree(theta0, (t, k) => tf.add(t, tf.mul(u[k], scale)))",
    tests: ["lib/optim/pof_test.ts"],
  },
  {
    name: "pof-line-search-ascent",
    why: "line search along the ascent direction",
    file: "lib/optim/pof.ts",
    find: "lineSearch((xi) => lineLoss(line, xi), options.lineSearch)",
    replace: "lineSearch((xi) => lineLoss(line, -xi), options.lineSearch)",
    tests: ["lib/optim/pof_test.ts"],
  },
  {
    name: "sam-weight-decayed-perturbation",
    why: "SAM perturbs along the weight-decayed gradient",
    file: "lib/optim/sam.ts",
    find: "? samPerturbation(g1, w, { rho, adaptive, eta })",
    replace:
      "? samPerturbation(\n          tf.tidy(() => {\n            const o: Params = {};\n            for (const k of Object.keys(g1)) {\n              o[k] = tf.add(g1[k], tf.mul(w[k], config.weightDecay ?? 5e-4));\n            }\n            return o;\n          }),\n          w,\n          { rho, adaptive, eta },\n        )",
    tests: ["lib/optim/sam_test.ts"],
  },
  {
    name: "sgd-no-nesterov-lookahead",
    why: "Nesterov flag ignored (heavy-ball step)",
    file: "lib/optim/optimizer.ts",
    find:
      "? axpy(updates, newTrace, momentum)\n          : cloneTree(newTrace);",
    replace: "? cloneTree(newTrace)\n          : cloneTree(newTrace);",
    tests: ["lib/optim/optimizer_test.ts", "lib/optim/sgd_test.ts"],
  },
  {
    name: "sgd-weight-decay-dropped",
    why: "weight decay never added",
    file: "lib/optim/optimizer.ts",
    find: ": tf.tidy(() => axpy(updates, pick(params, updates), weightDecay)),",
    replace: ": cloneTree(updates),",
    tests: ["lib/optim/optimizer_test.ts"],
  },
  {
    name: "golden-section-uphill",
    why: "golden-section search keeps the worse half",
    file: "lib/optim/line_search.ts",
    find: "if (fc <= fd) {",
    replace: "if (fc >= fd) {",
    tests: ["lib/optim/line_search_test.ts"],
  },
  {
    name: "gamma-range-ignored",
    why: "gamma sampler ignores its range",
    file: "lib/optim/gamma.ts",
    find: "return (_count, rng) => rng.range(low, high);",
    replace: "return (_count, rng) => rng.range(0, 2);",
    tests: ["lib/optim/gamma_test.ts"],
  },
  {
    name: "schedule-milestone-late",
    why: "learning-rate drop one epoch late",
    file: "lib/optim/schedule.ts",
    find: "for (const m of sorted) if (epoch >= m) value *= factor;",
    replace: "for (const m of sorted) if (epoch > m) value *= factor;",
    tests: ["lib/optim/schedule_test.ts"],
  },
  {
    name: "config-rho-ignored",
    why: "the run's SAM rho ignored (SVHN 0.01 becomes 0.05)",
    file: "lib/train/build.ts",
    find: "return samMethod({ ...common, rho: config.method.rho ?? 0.05 });",
    replace: "return samMethod({ ...common, rho: 0.05 });",
    tests: ["lib/train/build_test.ts"],
  },
  {
    name: "config-gamma-range-ignored",
    why: "the run's PoF gamma range ignored",
    file: "lib/train/build.ts",
    find: 'gamma: { kind: "uniform", low: 0, high: pof?.gammaMax ?? 2 },',
    replace: 'gamma: { kind: "uniform", low: 0, high: 2 },',
    tests: ["lib/train/build_test.ts"],
  },
  {
    name: "config-weak-batch-ignored",
    why: "the run's weak batch size ignored (image runs)",
    file: "lib/train/build.ts",
    find: "weakBatchSize: config.method.pof?.weakBatchSize ?? 32,",
    replace: "weakBatchSize: 32,",
    tests: ["lib/train/build_test.ts"],
  },
  {
    name: "config-momentum-ignored",
    why: "the run's momentum ignored",
    file: "lib/train/build.ts",
    find: "momentum: config.momentum,",
    replace: "momentum: 0.9,",
    tests: ["lib/train/build_test.ts"],
  },
  {
    name: "config-weight-decay-ignored",
    why: "the run's weight decay ignored",
    file: "lib/train/build.ts",
    find: "weightDecay: config.weightDecay,",
    replace: "weightDecay: 5e-4,",
    tests: ["lib/train/build_test.ts"],
  },
  {
    name: "config-epoch-offset-ignored",
    why: "a continued run restarts the schedule at epoch 0",
    file: "lib/train/build.ts",
    find:
      ": (count: number) => optEpochOffset + Math.floor(count / stepsPerEpoch);",
    replace: ": (count: number) => Math.floor(count / stepsPerEpoch);",
    tests: ["lib/train/build_test.ts"],
  },
  {
    name: "config-lr-milestone-late",
    why: "run schedule drops the rate one epoch late",
    file: "lib/train/run_config.ts",
    find: "const k = schedule.milestones.filter((m) => m <= epoch).length;",
    replace: "const k = schedule.milestones.filter((m) => m < epoch).length;",
    tests: ["lib/train/build_test.ts"],
  },
  {
    name: "preset-gamma-ignored",
    why: "the preset's gamma range not passed to PoF runs",
    file: "repro/presets.ts",
    find: "gammaMax: p.gammaMax,",
    replace: "gammaMax: 2,",
    tests: ["repro/presets_test.ts"],
  },
  {
    name: "preset-max-xi-ignored",
    why: "the preset's xi* cap not passed to PoF runs",
    file: "repro/presets.ts",
    find: "maxXi: p.maxXi,",
    replace: "maxXi: 50,",
    tests: ["repro/presets_test.ts"],
  },
  {
    name: "checkpoint-drops-step-count",
    why: "checkpoint forgets the optimizer step count",
    file: "lib/train/checkpoint.ts",
    find: "count: ckpt.state.opt.count,",
    replace: "count: 0,",
    tests: ["lib/train/checkpoint_test.ts"],
  },
  {
    name: "checkpoint-version-unchecked",
    why:
      "a checkpoint of another format version is read as if it were this one",
    file: "lib/train/checkpoint.ts",
    find: "if (format !== CHECKPOINT_FORMAT) {",
    replace: "if (format !== CHECKPOINT_FORMAT && false) {",
    tests: ["lib/train/checkpoint_test.ts"],
  },
  {
    name: "evaluate-train-mode",
    why: "test error measured with batch statistics instead of running ones",
    file: "lib/train/loop.ts",
    find:
      "const r = model.apply(state.params, state.bn, batch.x, { train: false });",
    replace:
      "const r = model.apply(state.params, state.bn, batch.x, {\n        train: true,\n        updateStats: false,\n      });",
    tests: ["lib/train/loop_test.ts"],
  },
  {
    name: "evaluate-unweighted-mean",
    why:
      "evaluation loss is the mean of batch means, so a short last batch is overweighted",
    file: "lib/train/loop.ts",
    find:
      '  let lossSum = 0, errors = 0, n = 0;\n  for (const batch of data.batches()) {\n    const bs = batch.y.shape[0];\n    const [l, e] = tf.tidy(() => {\n      const r = model.apply(state.params, state.bn, batch.x, { train: false });\n      return [\n        softmaxCrossEntropy(r.logits, batch.y).dataSync()[0],\n        countErrors(r.logits, batch.y),\n      ];\n    });\n    lossSum += l * bs;\n    errors += e;\n    n += bs;\n    batch.x.dispose();\n    batch.y.dispose();\n  }\n  if (n === 0) throw new Error("evaluate: the evaluation data has no examples");\n  return { loss: lossSum / n, error: (100 * errors) / n };',
    replace:
      '  let lossSum = 0, errors = 0, n = 0, batches = 0;\n  for (const batch of data.batches()) {\n    const bs = batch.y.shape[0];\n    const [l, e] = tf.tidy(() => {\n      const r = model.apply(state.params, state.bn, batch.x, { train: false });\n      return [\n        softmaxCrossEntropy(r.logits, batch.y).dataSync()[0],\n        countErrors(r.logits, batch.y),\n      ];\n    });\n    lossSum += l;\n    batches++;\n    errors += e;\n    n += bs;\n    batch.x.dispose();\n    batch.y.dispose();\n  }\n  if (n === 0) throw new Error("evaluate: the evaluation data has no examples");\n  return { loss: lossSum / batches, error: (100 * errors) / n };',
    tests: ["lib/train/loop_test.ts"],
  },
  {
    name: "pof-weak-bn-policy-ignored",
    why:
      "PoF's weak-batch BatchNorm policy option never reaches the line search",
    file: "lib/optim/pof.ts",
    find: "            weakBatchNorm,\n",
    replace: '            weakBatchNorm: "batch",\n',
    tests: ["lib/optim/methods_test.ts"],
  },
  {
    name: "pof-discard-limit-off-by-one",
    why: "PoF discards one weak batch more than maxDiscards",
    file: "lib/optim/pof.ts",
    find: "discarded < maxDiscards",
    replace: "discarded <= maxDiscards",
    tests: ["lib/optim/methods_test.ts", "lib/optim/pof_test.ts"],
  },
  {
    name: "augment-flip-off-by-one",
    why: "horizontal flip shifted by one pixel",
    file: "lib/data/augment.ts",
    find: "const sx = (flipped ? crop - 1 - x : x) + dx - pad;",
    replace: "const sx = (flipped ? crop - x : x) + dx - pad;",
    tests: ["lib/data/augment_test.ts"],
  },
  {
    name: "normalise-multiplies-std",
    why: "normalisation multiplies by std",
    file: "lib/data/augment.ts",
    find: "lut[c * 256 + v] = (v / 255 - cfg.mean[c]) / cfg.std[c];",
    replace: "lut[c * 256 + v] = (v / 255 - cfg.mean[c]) * cfg.std[c];",
    tests: ["lib/data/augment_test.ts"],
  },
  {
    name: "weak-batch-repeats",
    why: "every weak batch is the same draw",
    file: "lib/data/loader.ts",
    find: "    this.#weakCount++;\n    return toTensors(b);",
    replace: "    return toTensors(b);",
    tests: ["lib/data/loader_test.ts"],
  },
  {
    name: "hvp-chunk-weight-ignored",
    why: "chunked Hessian-vector product ignores chunk weights",
    file: "lib/analysis/hessian.ts",
    find: "for (let i = 0; i < n; i++) out[i] += c.weight * d[i];",
    replace: "for (let i = 0; i < n; i++) out[i] += d[i];",
    tests: ["lib/analysis/hessian_test.ts"],
  },
  {
    name: "lanczos-no-orthogonalisation",
    why: "Lanczos without (re)orthogonalisation",
    file: "lib/analysis/eigen.ts",
    find: "for (let pass = 0; pass < 2; pass++) {",
    replace: "for (let pass = 0; pass < 0; pass++) {",
    tests: ["lib/analysis/hessian_test.ts"],
  },
  {
    name: "uhu-unnormalised-u",
    why: "Fig. 5's u^T H u with u = g instead of g / ||g||",
    file: "lib/analysis/checkpoint_stats.ts",
    find: "const u = g.map((x) => x / n);",
    replace: "const u = g.map((x) => x);",
    tests: ["lib/analysis/checkpoint_stats_test.ts"],
  },
  {
    name: "fig1-delta-from-train-curve",
    why: "Fig. 1(c)'s Delta L at the point read from the training-loss curve",
    file: "lib/analysis/toy_fig1.ts",
    find: "row.deltaLAtPoint[m] = te.deltaL;",
    replace: "row.deltaLAtPoint[m] = tr.deltaL;",
    tests: ["lib/analysis/toy_fig1_test.ts"],
  },
  {
    name: "fig2-align-unregularised",
    why:
      "Fig. 2(a) aligns the data gradient where it claims the regularised one",
    file: "lib/analysis/toy_fig2.ts",
    find: 'align(r.gradient.map((x, j) => x + wd * theta[j]), "regularised");',
    replace: 'align(r.gradient, "regularised");',
    tests: ["lib/analysis/toy_fig2_test.ts"],
  },
  {
    name: "fig2-align-data-regularised",
    why:
      "Fig. 2(a)'s headline counts use the regularised gradient, not the paper's data-loss gradient",
    file: "lib/analysis/toy_fig2.ts",
    find: 'align(r.gradient, "data");',
    replace: 'align(r.gradient.map((x, j) => x + wd * theta[j]), "data");',
    tests: ["lib/analysis/toy_fig2_test.ts"],
  },
  {
    name: "im2col-right-edge",
    why: "im2col reads one pixel past the right edge",
    file: "lib/kernels/im2col.ts",
    find: "if (!rowOk || iw < 0 || iw >= W) {",
    replace: "if (!rowOk || iw < 0 || iw > W) {",
    tests: ["lib/kernels/kernels_test.ts"],
  },
  {
    name: "sum-overwrites",
    why: "leading-axes Sum keeps only the last row",
    file: "lib/kernels/sum.ts",
    find: "for (let j = 0; j < inner; j++) acc[j] += x[base + j];",
    replace: "for (let j = 0; j < inner; j++) acc[j] = x[base + j];",
    tests: ["lib/kernels/kernels_test.ts"],
  },
  {
    name: "filter-grad-item-drops-a-column",
    why:
      "the filter gradient's tiles items end one output channel early (each group's last channel never summed)",
    file: "lib/kernels/conv2d_backprop_filter.ts",
    find: "const co1 = Math.min(CO, co0 + COLUMN_GROUP);",
    replace: "const co1 = Math.min(CO, co0 + COLUMN_GROUP - 1);",
    tests: ["lib/kernels/kernels_test.ts"],
  },
  {
    name: "filter-grad-sum-drops-last-chunk",
    why:
      "the filter gradient adds all but the last image chunk's partial gradient",
    file: "lib/kernels/conv2d_backprop_filter.ts",
    find: "for (let c = 1; c < chunks; c++) {",
    replace: "for (let c = 1; c < chunks - 1; c++) {",
    tests: ["lib/kernels/kernels_test.ts"],
  },
  {
    name: "filter-grad-pad-ignores-left-padding",
    why:
      "the padded copy of x is shifted: rows copied without their left padding",
    file: "lib/kernels/conv2d_backprop_filter.ts",
    find: "base + ((ih + g.padTop) * wp + g.padLeft) * C,",
    replace: "base + (ih + g.padTop) * wp * C,",
    tests: ["lib/kernels/kernels_test.ts"],
  },
  {
    name: "filter-grad-tile-tap-stride",
    why:
      "the generated tile steps to the next filter tap by a pixel stride instead of the tap stride",
    file: "lib/kernels/filter_grad_tiles.ts",
    find: 'add(xTap, "xTapColStride");',
    replace: 'add(xTap, "xColStride");',
    tests: ["lib/kernels/filter_grad_tiles_test.ts"],
  },
  {
    name: "filter-grad-tile-remainder-mask",
    why:
      "the generated tile's leftover pixels after the unrolled groups are counted with the wrong mask (cols & 2)",
    file: "lib/kernels/filter_grad_tiles.ts",
    find: "else f.i32Const(UNROLL - 1).i32And();",
    replace: "else f.i32Const(UNROLL - 2).i32And();",
    tests: ["lib/kernels/filter_grad_tiles_test.ts"],
  },
  {
    name: "pool-bn-normalise-item-drops-a-row",
    why: "the BatchNorm normalisation's pool items end one row early",
    file: "lib/kernels/batch_norm_train.ts",
    find: "r1 = Math.min(n, hi * per);",
    replace: "r1 = Math.min(n, hi * per - 1);",
    tests: ["tests/threads_kernels_test.ts"],
  },
];
