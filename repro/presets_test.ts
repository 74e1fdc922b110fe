import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  cachedDatasets,
  finetuneRun,
  getPreset,
  PAPER_EPOCHS,
  pofRun,
  PRESETS,
  quickWith,
  samBaseRun,
  samContinuedRun,
  scaleEpochs,
  sgdRun,
  withCachedDatasets,
} from "./presets.ts";
import { lrAt } from "../lib/train/run_config.ts";
import { runId, withDependencies } from "../lib/train/run_id.ts";
import { datasetInfo } from "../lib/data/dataset_registry.ts";
import { fabricateDataset } from "../lib/data/fixture_files.ts";
import { type Preset, TARGET_NAMES } from "./target.ts";
import { useBackend } from "../lib/backend.ts";
import { Rng } from "../lib/rng.ts";
import { methodFor } from "../lib/train/build.ts";
import { sgdMethod } from "../lib/optim/sgd.ts";
import { samMethod } from "../lib/optim/sam.ts";
import { pofMethod } from "../lib/optim/pof.ts";
import { maxParamDiff, stepOutcome } from "../tests/helpers/method_step.ts";

Deno.test("the paper preset is Sec. 4.1", () => {
  const p = PRESETS.paper;
  assertEquals(p.model, { kind: "wrn", depth: 28, widen: 10 });
  assertEquals([p.batchSize, p.epochs, p.switchEpoch, p.pofEarlyEpoch], [
    256,
    250,
    200,
    210,
  ]);
  assertEquals(p.milestones, [60, 120, 160, 200]);
  assertEquals([
    p.lrFactor,
    p.momentum,
    p.weightDecay,
    p.weakBatchSize,
    p.gammaMax,
    p.pofLr,
  ], [
    0.2,
    0.9,
    5e-4,
    32,
    2,
    3e-5,
  ]);
  assertEquals(p.datasets.map((d) => [d.name, d.lr, d.rho, d.trainLimit]), [
    ["cifar10", 0.1, 0.05, undefined],
    ["cifar100", 0.1, 0.05, undefined],
    ["svhn", 0.01, 0.01, undefined],
    ["fashion-mnist", 0.1, 0.05, undefined],
  ]);
  const pof = pofRun(p, p.datasets[0], 0);
  assertEquals(pof.schedule, { baseLr: 3e-5, milestones: [], factor: 1 });
  assertEquals(pof.from!.epoch, 200);
  assertEquals(pof.from!.run, samBaseRun(p, p.datasets[0], 0));
  // SGD's lr at epoch 200+ is 0.1 * 0.2^4 = 1.6e-4, the fine-tuning rate.
  const sgd = sgdRun(p, p.datasets[0], 0);
  assert(Math.abs(lrAt(sgd.schedule, 249) - 1.6e-4) < 1e-15);
  assert(
    Math.abs(finetuneRun(p, p.datasets[0], 0).schedule.baseLr - 1.6e-4) < 1e-15,
  );
  // Sec. 4.2: 10 epochs from PoF at 210 (10 epochs post-trained), not from 250
  const ft = finetuneRun(p, p.datasets[0], 0);
  assertEquals([ft.from!.epoch, ft.epochs], [210, 220]);
  assertEquals(runId(ft.from!.run), runId(pof));
  assert(pof.keepEpochs.includes(210));
  // the xi* cap and the discard policy are part of the PoF run id
  assertEquals([pof.method.pof!.maxXi, pof.method.pof!.discardAsymmetric], [
    50,
    false,
  ]);
  assert(
    runId(pofRun({ ...p, maxXi: 10 }, p.datasets[0], 0)) !== runId(pof),
  );
  assert(
    runId(pofRun({ ...p, discardAsymmetric: true }, p.datasets[0], 0)) !==
      runId(pof),
  );
});

Deno.test("compressed presets fine-tune from the scaled PoF-210 checkpoint", () => {
  for (const p of [PRESETS.quick, PRESETS.smoke]) {
    const ds = p.datasets[0];
    const ft = finetuneRun(p, ds, 0);
    assertEquals(ft.from!.epoch, p.pofEarlyEpoch);
    assertEquals(ft.epochs, p.pofEarlyEpoch + p.finetuneEpochs);
    assert(p.pofEarlyEpoch < p.epochs);
    assert(pofRun(p, ds, 0).keepEpochs.includes(p.pofEarlyEpoch));
  }
  assertEquals([PRESETS.quick.pofEarlyEpoch, PRESETS.smoke.pofEarlyEpoch], [
    50,
    9,
  ]);
});

Deno.test("compressed presets scale every paper epoch by E / 250 and keep the order", () => {
  for (let total = 3; total <= 250; total++) {
    const s = scaleEpochs(total);
    const f = total / 250;
    // Each milestone is the rounded scaled paper milestone (duplicates merged).
    assertEquals(
      s.milestones,
      [...new Set(PAPER_EPOCHS.milestones.map((m) => Math.round(m * f)))]
        .filter((m) => m > 0),
    );
    assert(s.switch >= 1 && s.switch < total, `switch ${s.switch} of ${total}`);
    assert(s.pofEarly > s.switch && s.pofEarly <= total);
    assert(s.finetune >= 1);
  }
  assertEquals(PRESETS.quick.milestones, [14, 29, 38, 48]);
  assertEquals([PRESETS.quick.switchEpoch, PRESETS.quick.pofEarlyEpoch], [
    48,
    50,
  ]);
  assertEquals(PRESETS.quick.datasets[0].name, "fashion-mnist");
  assertThrows(() => scaleEpochs(2), RangeError, "got 2");
  assertThrows(
    () => getPreset("medium"),
    RangeError,
    "valid: smoke, quick, paper",
  );
});

// The run ids of the quick preset's Fashion-MNIST runs (seed 0): adding
// cached datasets must not change them, or finished quick runs would be
// trained again. (The PoF ids changed once, deliberately, when maxXi and
// discardAsymmetric joined the PoF run configuration; fine-tuning moved to
// PoF-210, scaled 17, with issue 13.)
const QUICK_FASHION_IDS: Record<string, string[]> = {
  fig4: [
    "fashion-mnist-pof-from48-e60-s0-e359ddd65bfa",
    "fashion-mnist-sam-e48-s0-1411e5902e44",
    "fashion-mnist-sam-from48-e60-s0-a41a713eec47",
    "fashion-mnist-sgd-e60-s0-711b98d7feed",
  ],
  fig5: [
    "fashion-mnist-pof-from48-e60-s0-e359ddd65bfa",
    "fashion-mnist-sam-e48-s0-1411e5902e44",
  ],
  fig6: [
    "fashion-mnist-pof-from48-e60-s0-e359ddd65bfa",
    "fashion-mnist-sam-e48-s0-1411e5902e44",
    "fashion-mnist-sgd-e60-s0-711b98d7feed",
  ],
  table1: [
    "fashion-mnist-pof-from48-e60-s0-e359ddd65bfa",
    "fashion-mnist-sam-e48-s0-1411e5902e44",
    "fashion-mnist-sam-from48-e60-s0-a41a713eec47",
    "fashion-mnist-sgd-e60-s0-711b98d7feed",
  ],
  table2: [],
  finetune: [
    "fashion-mnist-pof-from48-e60-s0-e359ddd65bfa",
    "fashion-mnist-sam-e48-s0-1411e5902e44",
    "fashion-mnist-sgd-classifier-from50-e52-s0-7d2a5d85316e",
  ],
};

/** Writes a cache record the way lib/data does after verifying a file. */
async function markVerified(dir: string, file: string, verified: string) {
  const path = await Deno.realPath(`${dir}/${file}`);
  const st = await Deno.stat(path);
  let rec: Record<string, unknown> = {};
  try {
    rec = JSON.parse(await Deno.readTextFile(`${dir}/.verified.json`));
  } catch { /* first record */ }
  rec[path] = { size: st.size, mtime: st.mtime!.getTime(), verified };
  await Deno.writeTextFile(`${dir}/.verified.json`, JSON.stringify(rec));
}

Deno.test("quick adds the datasets already cached and verified, downloads nothing, keeps Fashion-MNIST's run ids", async () => {
  const cache = await Deno.makeTempDir();
  let fetches = 0;
  const spy = ((..._a: unknown[]) => {
    fetches++;
    return Promise.reject(new Error("no downloads here"));
  }) as typeof fetch;
  try {
    // CIFAR-10: real-format files in the cache, recorded as verified
    // against the pinned MD5 (what `deno task data cifar10` leaves).
    const c10 = `${cache}/cifar10`;
    await fabricateDataset("cifar10", { n: 5, seed: 1, dir: c10 });
    const c10File = datasetInfo("cifar10").files[0];
    await markVerified(c10, c10File.name, `md5 ${c10File.md5}`);
    // SVHN: train and test verified, but no extra_32x32.mat (runs need it).
    const sv = `${cache}/svhn`;
    await fabricateDataset("svhn", { n: 3, seed: 2, dir: sv });
    await Deno.remove(`${sv}/extra_32x32.mat`);
    for (const f of datasetInfo("svhn").files.slice(0, 2)) {
      await markVerified(sv, f.name, `md5 ${f.md5}`);
    }
    // CIFAR-100: present but never verified, and not the pinned bytes.
    const c100 = `${cache}/cifar100`;
    const fab100 = await fabricateDataset("cifar100", {
      n: 5,
      seed: 3,
      dir: c100,
    });
    const names = ["cifar10", "cifar100", "svhn"];
    assertEquals(
      await cachedDatasets(names, {
        cacheDir: cache,
        fetch: spy,
        useDefaultSources: false,
      }),
      ["cifar10"],
    );
    assertEquals(fetches, 0);
    // ensureDatasetFiles drops a cached file that fails its checksum.
    await assertRejects(() => Deno.stat(`${c100}/cifar-100-binary.tar.gz`));
    // With its own checksum (fabricated data) CIFAR-100 verifies for real,
    // and lib/data records it.
    await fabricateDataset("cifar100", { n: 5, seed: 3, dir: c100 });
    assertEquals(
      await cachedDatasets(["cifar100"], {
        cacheDir: cache,
        fetch: spy,
        checksums: fab100.md5,
      }),
      ["cifar100"],
    );
    const rec = JSON.parse(await Deno.readTextFile(`${c100}/.verified.json`));
    assertEquals(
      Object.values(rec).map((r) => (r as { verified: string }).verified),
      [`md5 ${fab100.md5["cifar-100-binary.tar.gz"]}`],
    );
    assertEquals(fetches, 0);

    // The preset: Fashion-MNIST first and unchanged, then CIFAR-10.
    const q = await withCachedDatasets(PRESETS.quick, {
      cacheDir: cache,
      fetch: spy,
    });
    assertEquals(fetches, 0);
    assertEquals(q.datasets.map((d) => d.name), ["fashion-mnist", "cifar10"]);
    assertEquals(q.datasets[0], PRESETS.quick.datasets[0]);
    assertEquals(q.datasets[1], {
      name: "cifar10",
      lr: 0.1,
      rho: 0.05,
      trainLimit: 1000,
    });
    assertStringIncludes(q.description, PRESETS.quick.description);
    assertStringIncludes(q.description, "Cached and included: CIFAR-10 (");
    const { epochs, milestones, model, batchSize } = q;
    assertEquals({ epochs, milestones, model, batchSize }, {
      epochs: PRESETS.quick.epochs,
      milestones: PRESETS.quick.milestones,
      model: PRESETS.quick.model,
      batchSize: PRESETS.quick.batchSize,
    });
    for (const name of TARGET_NAMES) {
      if (name === "fig1" || name === "fig2") continue;
      const { target } = await import(`./targets/${name}.ts`);
      const ids = withDependencies(target.runs(q, [0])).map(runId).sort();
      const fashion = ids.filter((id) => id.startsWith("fashion-mnist-"));
      assertEquals(fashion, QUICK_FASHION_IDS[name], name);
      const others = ids.filter((id) => !id.startsWith("fashion-mnist-"));
      if (name === "table1") {
        assertEquals(others.map((id) => id.replace(/-[0-9a-f]{12}$/, "")), [
          "cifar10-pof-from48-e60-s0",
          "cifar10-sam-e48-s0",
          "cifar10-sam-from48-e60-s0",
          "cifar10-sgd-e60-s0",
        ]);
      } else assertEquals(others, [], name);
    }
    // Nothing cached: Fashion-MNIST only, and it says so.
    const none = await withCachedDatasets(PRESETS.quick, {
      cacheDir: await Deno.makeTempDir({ dir: cache }),
    });
    assertEquals(none.datasets, PRESETS.quick.datasets);
    assertStringIncludes(none.description, "Fashion-MNIST only");
    // Other presets are never changed.
    assertEquals(quickWith(PRESETS.smoke, ["cifar10"]), PRESETS.smoke);
    assertEquals(
      await withCachedDatasets(PRESETS.paper, { cacheDir: cache }),
      PRESETS.paper,
    );
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("wiring: every preset field that changes behaviour reaches the method's step", async () => {
  await useBackend("cpu");
  // Non-default values everywhere (paper: lr 0.1, rho 0.05, x0.2, momentum
  // 0.9, wd 5e-4, PoF lr 3e-5, gamma U[0, 2], weak batch 32).
  const p: Preset = {
    ...PRESETS.smoke,
    datasets: [{ ...PRESETS.smoke.datasets[0], lr: 0.07, rho: 0.02 }],
    milestones: [1, 3],
    lrFactor: 0.3,
    momentum: 0.8,
    weightDecay: 1e-3,
    pofLr: 2e-3,
    gammaMax: 0.7,
    weakBatchSize: 5,
  };
  const ds = p.datasets[0];
  const common = { momentum: 0.8, nesterov: true, weightDecay: 1e-3 };
  // SGD: dataset lr, milestones, factor, momentum, weight decay.
  const sgd = sgdRun(p, ds, 0);
  for (const [count, lr] of [[0, 0.07], [10, 0.07 * 0.3], [30, 0.07 * 0.09]]) {
    const got = stepOutcome(methodFor(sgd, 10, 0), { count });
    assertAlmostEquals(got.metrics.lr, lr, 1e-15);
    const want = stepOutcome(sgdMethod({ ...common, lr: got.metrics.lr }), {
      count,
    });
    assertEquals(maxParamDiff(got, want), 0);
  }
  // SAM (base and continued): the dataset's rho.
  for (const run of [samBaseRun(p, ds, 0), samContinuedRun(p, ds, 0)]) {
    const got = stepOutcome(methodFor(run, 1000, 0));
    assertAlmostEquals(got.metrics.samEpsilonNorm!, 0.02, 1e-6);
    const want = stepOutcome(samMethod({ ...common, lr: 0.07, rho: 0.02 }));
    assertEquals(maxParamDiff(got, want), 0);
  }
  // PoF: feature lr, gamma range, weak batch size.
  const pof = pofRun(p, ds, 0);
  assertEquals(pof.method.pof?.weakBatchSize, 5);
  const got = stepOutcome(methodFor(pof, 1000, p.switchEpoch), { rngSeed: 3 });
  assertEquals(got.metrics.lr, 2e-3);
  assertEquals(got.metrics.gamma, new Rng(3).range(0, 0.7));
  const want = stepOutcome(
    pofMethod({
      ...common,
      lr: 2e-3,
      gamma: { kind: "uniform", low: 0, high: 0.7 },
    }),
    { rngSeed: 3 },
  );
  assertEquals(maxParamDiff(got, want), 0);
  // Fine-tuning: classifier only, at the SGD schedule's last rate.
  const ft = finetuneRun(p, ds, 0);
  const fto = stepOutcome(methodFor(ft, 1000, p.epochs));
  assertAlmostEquals(fto.metrics.lr, 0.07 * 0.09, 1e-15);
  assertEquals(fto.features, stepOutcome(sgdMethod({ lr: 0 })).features);
  const ftWant = stepOutcome(
    sgdMethod({ ...common, lr: 0.07 * 0.09, trainable: "classifier" }),
  );
  assertEquals(maxParamDiff(fto, ftWant), 0);
});
