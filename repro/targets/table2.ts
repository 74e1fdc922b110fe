/**
 * Table 2: training time per epoch of SGD, SAM and PoF, timed in this one
 * process on one backend: each method takes one warm-up step and then
 * `timingSteps` timed update steps on the preset's first dataset (seed 0).
 * SGD and SAM start from the same freshly initialised model. PoF starts
 * where it starts in the paper, from the shared SAM-200 checkpoint (the
 * SAM run to the switch epoch, seed 0), when that run is done in the
 * output folder (e.g. after `table1`), else from the fresh model;
 * `table2.json`'s `pofStart` and `table2.md` say which. (PoF's steps
 * include its weak-batch forward, gradient and line search, whose cost can
 * depend on the weights.) Seconds per epoch = mean step time x
 * update steps per epoch. Reported beside the paper's 21.8 / 32.9 / 25.6 s
 * (16 A100s) as ratios to SGD: the paper's 1.51x (SAM) and 1.17x (PoF).
 *
 * Writes `table2.json`, `table2.md`, `table2.svg`.
 *
 * @module
 */
import { Rng } from "../../lib/rng.ts";
import { table2Spec } from "../../lib/plot/figures.ts";
import { PAPER_TABLE2 } from "../../lib/plot/paper.ts";
import { renderSvg } from "../../lib/plot/render.ts";
import { markdownTable } from "../../lib/plot/tables.ts";
import { buildRun, runWork } from "../../lib/train/build.ts";
import { disposeTrainState, type TrainState } from "../../lib/optim/method.ts";
import { pofRun, samBaseRun, sgdRun } from "../presets.ts";
import {
  type Preset,
  type RunConfig,
  type Target,
  writeTargetJson,
  writeTargetText,
} from "../target.ts";

type Key = "sgd" | "sam" | "pof";

function configs(p: Preset): Record<Key, RunConfig> {
  const ds = p.datasets[0];
  return {
    sgd: sgdRun(p, ds, 0),
    sam: samBaseRun(p, ds, 0),
    pof: pofRun(p, ds, 0),
  };
}

/** Where the timed PoF steps started. */
export type PofStart =
  | { from: "checkpoint"; run: string; epoch: number }
  | { from: "fresh-init" };

/**
 * Times `steps` update steps (after one warm-up step) from `start` (a
 * checkpoint's weights at an absolute epoch; the optimiser state starts
 * fresh, as when the runner switches method) or from a fresh
 * initialisation; returns seconds per step and steps per epoch. Takes
 * ownership of `start`'s tensors.
 */
async function timeMethod(
  config: RunConfig,
  steps: number,
  start?: { params: TrainState["params"]; bn: TrainState["bn"]; epoch: number },
): Promise<{ secondsPerStep: number; stepsPerEpoch: number }> {
  const epoch = start?.epoch ?? 0;
  const parts = await buildRun(config, { optEpochOffset: epoch });
  let state: TrainState;
  if (start) {
    state = {
      params: start.params,
      bn: start.bn,
      opt: parts.method.initOpt(start.params),
    };
  } else {
    const init = parts.model.init(new Rng(0).fork("init"));
    state = {
      params: init.params,
      bn: init.state,
      opt: parts.method.initOpt(init.params),
    };
  }
  const rng = new Rng(0).fork("train");
  parts.train.startEpoch(epoch);
  let seconds = 0;
  try {
    for (let i = 0; i <= steps; i++) {
      const batch = parts.train.next();
      const weak: { x: { dispose(): void }; y: { dispose(): void } }[] = [];
      const t0 = performance.now();
      const out = parts.method.step(parts.model, state, {
        batch,
        weakBatch: () => {
          const b = parts.train.weak!();
          weak.push(b);
          return b;
        },
      }, rng);
      // Read a scalar back so asynchronous backends have finished the step.
      await out.state.params.classifier[
        Object.keys(out.state.params.classifier)[0]
      ].data();
      if (i > 0) seconds += (performance.now() - t0) / 1000;
      state = out.state;
      batch.x.dispose();
      batch.y.dispose();
      for (const b of weak) {
        b.x.dispose();
        b.y.dispose();
      }
    }
  } finally {
    disposeTrainState(state);
    parts.dispose?.();
  }
  return {
    secondsPerStep: seconds / steps,
    stepsPerEpoch: parts.train.stepsPerEpoch,
  };
}

/** What `table2.json` holds under `data`. */
export interface Table2Json {
  /** Steps timed per method (after one warm-up step). */
  timedSteps: number;
  pofStart: PofStart;
  secondsPerStep: Record<Key, number>;
  stepsPerEpoch: number;
  /** Seconds per epoch = seconds per step x steps per epoch. */
  secondsPerEpoch: Record<Key, number>;
  ratioToSgd: Record<Key, number>;
  /** The paper's seconds per epoch (Table 2). */
  paper: Readonly<Record<Key, number>>;
  paperRatioToSgd: Record<Key, number>;
}

/**
 * Table 2.
 *
 * @example
 * ```ts
 * import { target } from "./table2.ts";
 * import { PRESETS } from "../presets.ts";
 * if (target.runs(PRESETS.smoke, [0]).length !== 0 || !(target.work!(PRESETS.smoke, [0])[0].multiplyAdds > 0)) throw new Error();
 * ```
 */
export const target: Target = {
  name: "table2",
  title: "Table 2: seconds per epoch of SGD, SAM, PoF and ratios to SGD",
  timed: true,
  runs() {
    return [];
  },
  work(p) {
    const c = configs(p);
    const w = runWork(c.sgd);
    return [{
      description:
        `time ${p.timingSteps} (+1 warm-up) steps each of SGD, SAM, PoF, batch ${p.batchSize}`,
      multiplyAdds: 3 * (p.timingSteps + 1) * p.batchSize *
        w.multiplyAddsPerImage,
    }];
  },
  async produce(ctx) {
    const p = ctx.preset;
    const c = configs(p);
    const t: Record<Key, { secondsPerStep: number; stepsPerEpoch: number }> = {
      sgd: { secondsPerStep: 0, stepsPerEpoch: 0 },
      sam: { secondsPerStep: 0, stepsPerEpoch: 0 },
      pof: { secondsPerStep: 0, stepsPerEpoch: 0 },
    };
    for (const k of ["sgd", "sam"] as const) {
      ctx.log(`timing ${p.timingSteps} ${k.toUpperCase()} steps`);
      t[k] = await timeMethod(c[k], p.timingSteps);
    }
    // PoF from the shared SAM-200 checkpoint when it is in the output folder.
    const base = c.pof.from!;
    let pofStart: PofStart = { from: "fresh-init" };
    if (await ctx.runs.done(base.run)) {
      const ck = await ctx.runs.checkpoint(base.run, base.epoch);
      pofStart = {
        from: "checkpoint",
        run: ctx.runs.id(base.run),
        epoch: base.epoch,
      };
      ctx.log(
        `timing ${p.timingSteps} PoF steps from ${pofStart.run} at epoch ${base.epoch}`,
      );
      t.pof = await timeMethod(c.pof, p.timingSteps, {
        params: ck.params,
        bn: ck.bn,
        epoch: base.epoch,
      });
    } else {
      ctx.log(
        `timing ${p.timingSteps} PoF steps from a fresh initialisation (${
          ctx.runs.id(base.run)
        } is not in ${ctx.outDir})`,
      );
      t.pof = await timeMethod(
        { ...c.pof, from: undefined },
        p.timingSteps,
      );
    }
    const pofStartText = pofStart.from === "checkpoint"
      ? `PoF from the SAM-${pofStart.epoch} checkpoint (${pofStart.run})`
      : "PoF from a fresh initialisation (no finished SAM-" + base.epoch +
        " run in the output folder)";
    const perEpoch = {
      sgd: t.sgd.secondsPerStep * t.sgd.stepsPerEpoch,
      sam: t.sam.secondsPerStep * t.sam.stepsPerEpoch,
      pof: t.pof.secondsPerStep * t.pof.stepsPerEpoch,
    };
    const ratio = (k: Key) => perEpoch[k] / perEpoch.sgd;
    const paperRatio = (k: Key) => PAPER_TABLE2[k] / PAPER_TABLE2.sgd;
    const be = ctx.provenance.backend;
    const md = [
      "# Table 2: training time per epoch",
      "",
      `Preset \`${p.name}\` (${
        runWork(c.sgd).imagesPerEpoch
      } images per epoch, batch ${p.batchSize}, dataset ${
        p.datasets[0].name
      }), ` +
      `backend ${be.backend} on ${be.device}; ${p.timingSteps} timed steps per method after one warm-up step; ` +
      `SGD and SAM from a fresh initialisation, ${pofStartText}. ` +
      `The paper's numbers: WRN-28-10 on CIFAR-10, 16 NVIDIA A100 GPUs.`,
      "",
      markdownTable(
        [
          "method",
          "s / epoch (ours)",
          "ratio to SGD (ours)",
          "s / epoch (paper)",
          "ratio (paper)",
        ],
        (["sgd", "sam", "pof"] as const).map((k) => [
          k.toUpperCase() === "POF" ? "PoF" : k.toUpperCase(),
          perEpoch[k].toFixed(2),
          `${ratio(k).toFixed(2)}x`,
          PAPER_TABLE2[k].toFixed(1),
          `${paperRatio(k).toFixed(2)}x`,
        ]),
        { alignRight: [1, 2, 3, 4] },
      ),
      "",
    ].join("\n");
    const files = [
      await writeTargetJson(
        ctx,
        "table2.json",
        {
          timedSteps: p.timingSteps,
          pofStart,
          secondsPerStep: {
            sgd: t.sgd.secondsPerStep,
            sam: t.sam.secondsPerStep,
            pof: t.pof.secondsPerStep,
          },
          stepsPerEpoch: t.sgd.stepsPerEpoch,
          secondsPerEpoch: perEpoch,
          ratioToSgd: { sgd: 1, sam: ratio("sam"), pof: ratio("pof") },
          paper: PAPER_TABLE2,
          paperRatioToSgd: {
            sgd: 1,
            sam: paperRatio("sam"),
            pof: paperRatio("pof"),
          },
        } satisfies Table2Json,
      ),
      await writeTargetText(ctx, "table2.md", md),
      await writeTargetText(
        ctx,
        "table2.svg",
        await renderSvg(table2Spec(perEpoch, PAPER_TABLE2)),
      ),
    ];
    return {
      files,
      summary: [
        `s/epoch SGD ${perEpoch.sgd.toFixed(2)}, SAM ${
          perEpoch.sam.toFixed(2)
        } (${ratio("sam").toFixed(2)}x; paper 1.51x), PoF ${
          perEpoch.pof.toFixed(2)
        } (${ratio("pof").toFixed(2)}x; paper 1.17x)`,
        pofStartText,
      ],
    };
  },
};
