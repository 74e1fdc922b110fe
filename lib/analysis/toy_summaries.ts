/**
 * The multi-seed summaries of the toy Figs. 1 and 2 (the payloads of
 * `fig1.json` and `fig2.json`): per-layer means and standard deviations over
 * seeds and, for each claim of the paper, the number of seeds that show it.
 *
 * @module
 */
import { mean, modeIndex, sampleStd } from "../stats.ts";
import type { Fig1Config, Fig1Result } from "./toy_fig1.ts";
import type { Fig2Config, Fig2Result } from "./toy_fig2.ts";

/** Fig. 1 over several seeds: the `fig1.json` payload. */
export interface Fig1Summary {
  seeds: number[];
  config: Fig1Config;
  /** Per layer: mean Delta L over seeds, its std and the per-seed values. */
  layers: {
    layer: number;
    deltaL: { sgd: number; pof: number };
    deltaLStd: { sgd: number; pof: number };
    deltaLPerSeed: { sgd: number[]; pof: number[] };
    /** Mean over seeds of `deltaLAtPoint`. */
    deltaLAtPoint: { sgd: number; pof: number };
    lambda1PerSeed: { sgd: number[]; pof: number[] };
  }[];
  /** The first seed's Fig. 1(d) curves. */
  landscape: Fig1Result["landscape"];
  landscapeTopK: Fig1Result["landscapeTopK"];
  /** Flat-region width along eigenvector 1, per seed. */
  flatWidth: { sgd: number[]; pof: number[] };
  /** How many seeds show each of the paper's claims. */
  claims: {
    /** Delta L(SGD) of the final layer exceeds the mean over layers 1-4. */
    finalLayerLargest: number;
    /** Delta L(SGD) increases from layer 1 to the final layer (Spearman rho > 0 of layer vs Delta L). */
    increasingWithDepth: number;
    /** PoF's final-layer Delta L is below SGD's. */
    pofReducesFinalDeltaL: number;
    /** PoF's flat region along eigenvector 1 is wider than SGD's. */
    pofWiderFlatRegion: number;
    seeds: number;
  };
  metrics: Fig1Result["metrics"][];
  perSeed: Fig1Result[];
}

function spearman(x: number[], y: number[]): number {
  const rank = (a: number[]) => {
    const o = a.map((v, i) => [v, i]).sort((p, q) => p[0] - q[0]);
    const r = new Array(a.length);
    o.forEach(([, i], k) => (r[i] = k));
    return r as number[];
  };
  const rx = rank(x), ry = rank(y);
  const mx = mean(rx), my = mean(ry);
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) ** 2;
    syy += (ry[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/**
 * Aggregates {@link runFig1} results of several seeds (mean, std, claim counts).
 *
 * @example
 * ```ts
 * import { summarizeFig1 } from "./toy_summaries.ts";
 * import type { Fig1Result } from "./toy_fig1.ts";
 * const r = (seed: number, final: number) => ({
 *   seed, config: {}, metrics: {}, seconds: 0,
 *   layers: [1, 2, 3].map((layer) => ({ layer, deltaL: { sgd: layer === 3 ? final : 0.1 * layer, pof: 0.05 }, deltaLAtPoint: { sgd: 0, pof: 0 },
 *     lambda1: { sgd: 1, pof: 1 }, tau: { sgd: 1, pof: 1 } })),
 *   landscape: { sgd: [], pof: [] }, landscapeTopK: { sgd: [], pof: [] },
 *   finalEigenvalues: { sgd: [], pof: [] }, flatWidth: { sgd: [1], pof: [2] },
 * }) as unknown as Fig1Result;
 * const s = summarizeFig1([r(0, 1), r(1, 3)]);
 * if (s.layers[2].deltaL.sgd !== 2 || s.claims.pofReducesFinalDeltaL !== 2) throw new Error();
 * ```
 */
export function summarizeFig1(results: Fig1Result[]): Fig1Summary {
  if (results.length === 0) throw new RangeError("summarizeFig1: no results");
  const L = results[0].layers.length;
  const layers = results[0].layers.map((row, i) => {
    const sgd = results.map((r) => r.layers[i].deltaL.sgd);
    const pof = results.map((r) => r.layers[i].deltaL.pof);
    return {
      layer: row.layer,
      deltaL: { sgd: mean(sgd), pof: mean(pof) },
      deltaLStd: { sgd: sampleStd(sgd), pof: sampleStd(pof) },
      deltaLPerSeed: { sgd, pof },
      deltaLAtPoint: {
        sgd: mean(results.map((r) => r.layers[i].deltaLAtPoint.sgd)),
        pof: mean(results.map((r) => r.layers[i].deltaLAtPoint.pof)),
      },
      lambda1PerSeed: {
        sgd: results.map((r) => r.layers[i].lambda1.sgd),
        pof: results.map((r) => r.layers[i].lambda1.pof),
      },
    };
  });
  const count = (f: (r: Fig1Result) => boolean) => results.filter(f).length;
  return {
    seeds: results.map((r) => r.seed),
    config: results[0].config,
    layers,
    landscape: results[0].landscape,
    landscapeTopK: results[0].landscapeTopK,
    flatWidth: {
      sgd: results.map((r) => r.flatWidth.sgd[0]),
      pof: results.map((r) => r.flatWidth.pof[0]),
    },
    claims: {
      finalLayerLargest: count((r) =>
        r.layers[L - 1].deltaL.sgd >
          mean(r.layers.slice(0, L - 1).map((l) => l.deltaL.sgd))
      ),
      increasingWithDepth: count((r) =>
        spearman(
          r.layers.map((l) => l.layer),
          r.layers.map((l) => l.deltaL.sgd),
        ) > 0
      ),
      pofReducesFinalDeltaL: count((r) =>
        r.layers[L - 1].deltaL.pof < r.layers[L - 1].deltaL.sgd
      ),
      pofWiderFlatRegion: count((r) => r.flatWidth.pof[0] > r.flatWidth.sgd[0]),
      seeds: results.length,
    },
    metrics: results.map((r) => r.metrics),
    perSeed: results,
  };
}

/** Fig. 2 over several seeds: the `fig2.json` payload. */
export interface Fig2Summary {
  seeds: number[];
  config: Fig2Config;
  /**
   * Fig. 2(a) under the paper's definition (data-loss mini-batch gradient,
   * `Fig2Result.eigIndexCounts`), summed over seeds; index 0 = eigenvector 1.
   */
  eigIndexCounts: number[];
  eigIndexCountsPerSeed: number[][];
  /** 1-based mode of each seed's histogram. */
  modePerSeed: number[];
  /** The same with the regularised gradient (`Fig2Result.eigIndexCountsRegularised`). */
  eigIndexCountsRegularised: number[];
  eigIndexCountsRegularisedPerSeed: number[][];
  modePerSeedRegularised: number[];
  /** All seeds' xi* values, concatenated in seed order. */
  xiTrain: number[];
  xiTest: number[];
  medianRatioPerSeed: number[];
  claims: {
    /** Seeds whose Fig. 2(a) mode is eigenvector 1 (data-loss gradient). */
    modeAtOne: number;
    /** The same with the regularised gradient. */
    modeAtOneRegularised: number;
    /** Seeds with median(xiTest) / median(xiTrain) in [1.5, 3] ("about twice"). */
    ratioAboutTwo: number;
    /** Seeds with median(xiTest) > median(xiTrain). */
    testLarger: number;
    seeds: number;
  };
  perSeed: Omit<Fig2Result, "config">[];
}

/**
 * Aggregates {@link runFig2} results of several seeds.
 *
 * @example
 * ```ts
 * import { summarizeFig2 } from "./toy_summaries.ts";
 * import type { Fig2Result } from "./toy_fig2.ts";
 * const r = (seed: number, counts: number[]) => ({
 *   seed, config: {}, metrics: {}, seconds: 0, eigIndexCounts: counts,
 *   eigIndexCountsRegularised: counts.slice().reverse(), eigenvalues: [], cosTop: [],
 *   xiTrain: [1, 2], xiTest: [3, 4], unbracketed: { train: 0, test: 0 }, medianRatio: 7 / 3,
 * }) as unknown as Fig2Result;
 * const s = summarizeFig2([r(0, [3, 1]), r(1, [0, 2])]);
 * if (s.eigIndexCounts.join() !== "3,3" || s.claims.modeAtOne !== 1 || s.xiTest.length !== 4) throw new Error();
 * if (s.modePerSeedRegularised.join() !== "2,1" || s.claims.modeAtOneRegularised !== 1) throw new Error();
 * ```
 */
export function summarizeFig2(results: Fig2Result[]): Fig2Summary {
  if (results.length === 0) throw new RangeError("summarizeFig2: no results");
  const sum = (per: number[][]) =>
    per[0].map((_, i) => per.reduce((s, c) => s + c[i], 0));
  const data = results.map((r) => r.eigIndexCounts);
  const reg = results.map((r) => r.eigIndexCountsRegularised);
  const modes = data.map(modeIndex);
  const modesReg = reg.map(modeIndex);
  const ratios = results.map((r) => r.medianRatio);
  return {
    seeds: results.map((r) => r.seed),
    config: results[0].config,
    eigIndexCounts: sum(data),
    eigIndexCountsPerSeed: data,
    modePerSeed: modes,
    eigIndexCountsRegularised: sum(reg),
    eigIndexCountsRegularisedPerSeed: reg,
    modePerSeedRegularised: modesReg,
    xiTrain: results.flatMap((r) => r.xiTrain),
    xiTest: results.flatMap((r) => r.xiTest),
    medianRatioPerSeed: ratios,
    claims: {
      modeAtOne: modes.filter((m) => m === 1).length,
      modeAtOneRegularised: modesReg.filter((m) => m === 1).length,
      ratioAboutTwo: ratios.filter((x) => x >= 1.5 && x <= 3).length,
      testLarger: ratios.filter((x) => x > 1).length,
      seeds: results.length,
    },
    perSeed: results.map(({ config: _c, ...rest }) => rest),
  };
}
