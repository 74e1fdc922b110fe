/**
 * Table 2 times PoF from the shared SAM checkpoint (SAM to the switch
 * epoch, seed 0) when that run is done in the output folder, else from a
 * fresh initialisation, and records which. The store below hands out a
 * freshly initialised network as the "checkpoint", so no training is
 * needed.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { useBackend } from "../../lib/backend.ts";
import { Rng } from "../../lib/rng.ts";
import { modelFor } from "../../lib/train/build.ts";
import { runId } from "../../lib/train/run_id.ts";
import { PRESETS, samBaseRun } from "../presets.ts";
import type { Provenance, RunStore, TargetContext } from "../target.ts";
import { target } from "./table2.ts";

const backend = await useBackend("wasm");
const PRESET = { ...PRESETS.smoke, timingSteps: 1 };

async function produce(samDone: boolean) {
  const asked: string[] = [];
  const loaded: string[] = [];
  const store: RunStore = {
    id: runId,
    done(config) {
      asked.push(runId(config));
      return Promise.resolve(samDone);
    },
    result: () => Promise.reject(new Error("not used")),
    history: () => Promise.reject(new Error("not used")),
    checkpoint(config, epoch) {
      loaded.push(`${runId(config)}@${epoch}`);
      const model = modelFor(config.model, config.dataset);
      const init = model.init(new Rng(7).fork("checkpoint"));
      return Promise.resolve({
        model,
        params: init.params,
        bn: init.state,
        epoch,
      });
    },
  };
  const outDir = await Deno.makeTempDir({ prefix: "table2-" });
  const ctx: TargetContext = {
    preset: PRESET,
    seeds: [0],
    outDir,
    runs: store,
    provenance: { target: "table2", backend } as unknown as Provenance,
    rng: (seed) => new Rng(seed).fork("target:table2"),
    log: () => {},
  };
  const out = await target.produce(ctx);
  const data = JSON.parse(await Deno.readTextFile(`${outDir}/table2.json`))
    .data;
  const md = await Deno.readTextFile(`${outDir}/table2.md`);
  await Deno.remove(outDir, { recursive: true });
  return { data, md, summary: out.summary, asked, loaded };
}

Deno.test("table2 times PoF from the SAM checkpoint when that run is done", async () => {
  const sam = runId(samBaseRun(PRESET, PRESET.datasets[0], 0));
  const r = await produce(true);
  assertEquals(r.asked, [sam]);
  assertEquals(r.loaded, [`${sam}@${PRESET.switchEpoch}`]);
  assertEquals(r.data.pofStart, {
    from: "checkpoint",
    run: sam,
    epoch: PRESET.switchEpoch,
  });
  assertStringIncludes(
    r.md,
    `PoF from the SAM-${PRESET.switchEpoch} checkpoint (${sam})`,
  );
  assertStringIncludes(r.summary.join("\n"), sam);
  for (const k of ["sgd", "sam", "pof"]) {
    assert(r.data.secondsPerStep[k] > 0, `${k}: ${r.data.secondsPerStep[k]}`);
  }
});

Deno.test("table2 times PoF from a fresh initialisation without the SAM run", async () => {
  const r = await produce(false);
  assertEquals(r.loaded, []);
  assertEquals(r.data.pofStart, { from: "fresh-init" });
  assertStringIncludes(r.md, "PoF from a fresh initialisation");
  assert(r.data.secondsPerStep.pof > 0);
});
