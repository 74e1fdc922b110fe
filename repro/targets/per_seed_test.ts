/**
 * Figs. 5 and 6 with several seeds: every seed is analysed on its own
 * checkpoints, the pooled arrays (what the figures and notebooks read) are
 * the seeds' arrays concatenated in seed order, and a seed's values do not
 * depend on which other seeds were analysed. Checkpoints come from a store
 * that hands out freshly initialised networks (one per run and epoch), so
 * no training is needed.
 */
import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { useBackend } from "../../lib/backend.ts";
import { Rng } from "../../lib/rng.ts";
import {
  analysisData,
  modelFor,
  sampleBatches,
} from "../../lib/train/build.ts";
import { perturbationNorms } from "../../lib/analysis/checkpoint_stats.ts";
import type { ApplyOptions } from "../../lib/models/model.ts";
import { runId } from "../../lib/train/run_id.ts";
import { pofRun, PRESETS, samBaseRun, sgdRun } from "../presets.ts";
import type {
  Preset,
  Provenance,
  RunConfig,
  RunStore,
  Target,
  TargetContext,
} from "../target.ts";
import { target as fig5 } from "./fig5.ts";
import { target as fig6 } from "./fig6.ts";

await useBackend("wasm");

// Smoke sizes, fewer mini-batches: the test checks bookkeeping, not curvature.
const PRESET: Preset = { ...PRESETS.smoke, histogramBatches: 3 };

const loaded: string[] = [];
// Set by a test: what a run's folder claims it was trained with.
let tampered = (c: RunConfig) => c;
const store: RunStore = {
  id: runId,
  done: () => Promise.resolve(true),
  result: (config) =>
    Promise.resolve({
      id: runId(config),
      config: tampered(config),
      epochs: [],
    }),
  history: () => Promise.reject(new Error("not used")),
  checkpoint(config, epoch) {
    loaded.push(`${runId(config)}@${epoch}`);
    const model = modelFor(config.model, config.dataset);
    const init = model.init(new Rng(config.seed).fork(`${runId(config)}`));
    return Promise.resolve({
      model,
      params: init.params,
      bn: init.state,
      epoch,
    });
  },
};

async function produce(t: Target, seeds: number[]) {
  const outDir = await Deno.makeTempDir({ prefix: `${t.name}-seeds-` });
  const ctx: TargetContext = {
    preset: PRESET,
    seeds,
    outDir,
    runs: store,
    provenance: { target: t.name, seeds } as unknown as Provenance,
    rng: (seed) => new Rng(seed).fork(`target:${t.name}`),
    log: () => {},
  };
  loaded.length = 0;
  const out = await t.produce(ctx);
  const json = JSON.parse(await Deno.readTextFile(`${outDir}/${t.name}.json`));
  await Deno.remove(outDir, { recursive: true });
  return { data: json.data, summary: out.summary, loaded: [...loaded] };
}

Deno.test("fig5 analyses every seed and pools them in seed order", async () => {
  const one = await produce(fig5, [0]);
  const two = await produce(fig5, [0, 1]);
  // One SAM and one PoF checkpoint per seed, each that seed's own.
  assertEquals(one.loaded.length, 2);
  assertEquals(two.loaded.length, 4);
  for (const s of [0, 1]) {
    assertEquals(two.loaded.filter((l) => l.includes(`-s${s}-`)).length, 2);
  }
  assertEquals(two.data.seeds, [0, 1]);
  assertEquals(two.data.perSeed.map((r: { seed: number }) => r.seed), [0, 1]);
  // Seed 0's values are the same whether or not seed 1 is analysed too.
  const { seed: _s, ...seed0 } = two.data.perSeed[0];
  assertEquals(seed0, { train: one.data.train, test: one.data.test });
  assertEquals(one.data.perSeed.length, 1);
  for (const split of ["train", "test"]) {
    for (const m of ["sam", "pof"]) {
      for (const kind of ["dataset", "batch"]) {
        const a = two.data.perSeed[0][split][m][kind] as number[];
        const b = two.data.perSeed[1][split][m][kind] as number[];
        assertEquals(a.length, PRESET.histogramBatches);
        assertEquals(b.length, PRESET.histogramBatches);
        assert(b.every(Number.isFinite), `${split} ${m} ${kind}: ${b}`);
        // Different checkpoints give different values.
        assertNotEquals(a, b);
        assertEquals(two.data[split][m][kind], [...a, ...b]);
      }
    }
  }
  assertEquals(two.summary.length, 2);
  // Per-seed medians of the whole-split components (recomputed here by
  // sorting), and PoF - SAM over seeds.
  for (const [i, r] of two.data.perSeed.entries()) {
    for (const split of ["train", "test"]) {
      for (const m of ["sam", "pof"]) {
        const f = (r[split][m].dataset as number[]).filter(Number.isFinite)
          .sort((a, b) => a - b);
        const h = f.length >> 1;
        assertEquals(
          two.data.medians[i][split][m],
          f.length % 2 ? f[h] : (f[h - 1] + f[h]) / 2,
        );
      }
    }
  }
  for (const split of ["train", "test"]) {
    const c = two.data.comparisons.find((x: { split: string }) =>
      x.split === split
    );
    const diffs = [0, 1].map((i) =>
      two.data.medians[i][split].pof - two.data.medians[i][split].sam
    );
    assertEquals(c.diffs, diffs);
    assertEquals(c.side, -1);
  }
  assert(two.summary[0].includes("2 seeds pooled"), two.summary[0]);
});

Deno.test("fig6 analyses every seed and pools them in seed order", async () => {
  const one = await produce(fig6, [0]);
  const two = await produce(fig6, [0, 2]);
  // Each series on its own method's checkpoint: PoF-210, SAM-200, SGD-200 (scaled).
  const P = PRESET;
  assertEquals(one.loaded, [
    `${runId(pofRun(P, P.datasets[0], 0))}@${P.pofEarlyEpoch}`,
    `${runId(samBaseRun(P, P.datasets[0], 0))}@${P.switchEpoch}`,
    `${runId(sgdRun(P, P.datasets[0], 0))}@${P.midEpoch}`,
  ]);
  const src = one.data.sources;
  assertEquals(new Set([src.pof.run, src.sam.run, src.sgd.run]).size, 3);
  assertEquals(one.loaded, [
    `${src.pof.run}@${src.pof.epoch}`,
    `${src.sam.run}@${src.sam.epoch}`,
    `${src.sgd.run}@${src.sgd.epoch}`,
  ]);
  assert(/-pof-from8-e10-s0-/.test(src.pof.run), src.pof.run);
  assert(/-sam-e8-s0-/.test(src.sam.run), src.sam.run);
  assert(/-sgd-e10-s0-/.test(src.sgd.run), src.sgd.run);
  assertEquals([src.pof.epoch, src.sam.epoch, src.sgd.epoch], [9, 8, 8]);
  assertEquals(two.loaded.length, 6);
  assert(
    two.loaded.slice(3).every((l) => l.includes("-s2-")),
    two.loaded.join(),
  );
  assertEquals(two.data.sources.sgd.runs.length, 2);
  assertEquals(two.data.seeds, [0, 2]);
  assertEquals(two.data.perSeed.map((r: { seed: number }) => r.seed), [0, 2]);
  const { seed: _s, ...seed0 } = two.data.perSeed[0];
  assertEquals(seed0, {
    pof: one.data.pof,
    sam: one.data.sam,
    sgd: one.data.sgd,
  });
  for (const m of ["pof", "sam", "sgd"]) {
    const a = two.data.perSeed[0][m] as number[];
    const b = two.data.perSeed[1][m] as number[];
    assertEquals(a.length, PRESET.histogramBatches);
    assertEquals(b.length, PRESET.histogramBatches);
    assert(b.every((x) => Number.isFinite(x) && x >= 0), `${m}: ${b}`);
    assertNotEquals(a, b);
    assertEquals(two.data[m], [...a, ...b]);
  }
  // SAM's classifier perturbation is part of rho g / ||g||: at most rho.
  for (const x of two.data.sam) assert(x <= PRESET.datasets[0].rho + 1e-6);
  // Per-seed log10 medians, recomputed here by sorting.
  const med = (v: number[]) => {
    const f = v.filter((x) => x > 0).sort((a, b) => a - b);
    const h = f.length >> 1;
    return Math.log10(f.length % 2 ? f[h] : (f[h - 1] + f[h]) / 2);
  };
  for (const [i, r] of two.data.perSeed.entries()) {
    for (const m of ["pof", "sam", "sgd"]) {
      assertEquals(two.data.medians[i][m], med(r[m]));
    }
  }
  const [pofSam] = two.data.comparisons;
  assertEquals(
    pofSam.diffs,
    [0, 1].map((i) => two.data.medians[i].pof - two.data.medians[i].sam),
  );
  assertEquals(pofSam.n, 2);
  // One pooled line, two comparisons, one line per seed.
  assertEquals(two.summary.length, 5);
});

Deno.test("fig5 and fig6 refuse seeds whose runs differ in more than the seed", async () => {
  tampered = (c) => c.seed === 1 ? { ...c, weightDecay: 0 } : c;
  try {
    for (const t of [fig5, fig6]) {
      const e = await produce(t, [0, 1]).then(() => null, (e) => e as Error);
      assert(e?.message.includes("refusing to aggregate"), String(e));
      assert(
        e!.message.includes(`weightDecay ${PRESET.weightDecay} vs 0`),
        e!.message,
      );
    }
  } finally {
    tampered = (c) => c;
  }
});

Deno.test("fig6 measures PoF with PoF's weak-batch BatchNorm policy on augmented weak batches", async () => {
  const one = await produce(fig6, [0]);
  // Recompute seed 0's PoF series independently of the target's wiring.
  const run = pofRun(PRESET, PRESET.datasets[0], 0);
  const ck = await store.checkpoint(run, PRESET.pofEarlyEpoch);
  const data = await analysisData(run);
  const seed = new Rng(0).fork("target:fig6").fork("pof").uint32();
  const norms = (augmented: boolean, bn: ApplyOptions) =>
    perturbationNorms(
      ck.model,
      { params: ck.params, bn: ck.bn },
      sampleBatches(data.train, augmented ? data.trainAugment : data.augment, {
        batchSize: PRESET.weakBatchSize,
        count: PRESET.histogramBatches,
        seed,
        augmented,
      }),
      { method: "pof", gamma: 2, lineSearch: { maxXi: PRESET.maxXi } },
      { bn },
    );
  const batchStats = { train: true, updateStats: false };
  assertEquals(one.data.pof, norms(true, batchStats));
  // the old wiring (inference-mode BatchNorm, unaugmented batches) differs
  assertNotEquals(one.data.pof, norms(false, { train: false }));
  assertNotEquals(one.data.pof, norms(true, { train: false }));
});
