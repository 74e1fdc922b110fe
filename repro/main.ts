/**
 * `deno task repro <target> [flags]`: runs the experiments behind one figure
 * or table of the paper (or `all` of them), with checkpoints, resume and
 * sharding, and writes `<out>/<target>.json`, `<out>/<target>*.svg` and, for
 * tables, `<out>/<target>.md`. `--help` lists everything.
 *
 * @module
 */
import {
  BackendMemoryError,
  explainMemoryError,
} from "../lib/backend_memory.ts";
import { type BackendInfo, threadsNote, useBackend } from "../lib/backend.ts";
import { Rng } from "../lib/rng.ts";
import { runId, withDependencies } from "../lib/train/run_id.ts";
import {
  planRuns,
  readDone,
  runDir,
  runMetrics,
  runPlan,
  trainRun,
} from "../lib/train/runner.ts";
import { loadCheckpoint } from "../lib/train/checkpoint.ts";
import { startEpoch } from "../lib/train/run_config.ts";
import { formatDuration, ProgressBar } from "../lib/train/progress.ts";
import {
  buildRun,
  modelFor,
  runWork,
  trainingImagesLeft,
} from "../lib/train/build.ts";
import { cachedDatasets, withCachedDatasets } from "./presets.ts";
import { rehearsalPreset } from "./rehearsal.ts";
import { describeResources, machineLine } from "../lib/train/resources.ts";
import { type DatasetName, DATASETS } from "../lib/data/dataset_registry.ts";
import { resolveCacheDir } from "../lib/data/dataset_cache.ts";
import type {
  Provenance,
  RunStore,
  Target,
  TargetName,
  TargetOutput,
} from "./target.ts";
import {
  type CliOptions,
  ensureWritableDir,
  HELP,
  parseCli,
  UsageError,
} from "./cli.ts";
import { jobsNote, jobsToRun, provenanceJobs, runJobs } from "./jobs.ts";

/** Parsed command line. */
/**
 * Loads `repro/targets/<name>.ts`'s `target`.
 *
 * @example
 * ```ts
 * import { loadTarget } from "./main.ts";
 * const t = await loadTarget("table1");
 * if (t.name !== "table1") throw new Error();
 * ```
 */
export async function loadTarget(name: TargetName): Promise<Target> {
  const mod = await import(`./targets/${name}.ts`);
  const t = mod.target as Target | undefined;
  if (!t || t.name !== name) {
    throw new Error(
      `repro/targets/${name}.ts must export \`target\` with name "${name}"`,
    );
  }
  return t;
}

/**
 * `git rev-parse HEAD` (+ `-dirty`), or "unknown" outside a checkout.
 *
 * @example
 * ```ts
 * import { gitCommit } from "./main.ts";
 * const c = await gitCommit();
 * if (!/^([0-9a-f]{40}(-dirty)?|unknown)$/.test(c)) throw new Error(c);
 * ```
 */
export async function gitCommit(): Promise<string> {
  const here = new URL("..", import.meta.url).pathname;
  const run = async (args: string[]) => {
    const out = await new Deno.Command("git", {
      args: ["-C", here, ...args],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!out.success) throw new Error("git failed");
    return new TextDecoder().decode(out.stdout).trim();
  };
  try {
    const head = await run(["rev-parse", "HEAD"]);
    const dirty = (await run(["status", "--porcelain", "--untracked-files=no"]))
      .length > 0;
    return dirty ? `${head}-dirty` : head;
  } catch {
    return "unknown";
  }
}

/**
 * A {@link RunStore} over a runs folder.
 *
 * @example
 * ```ts
 * import { runStore } from "./main.ts";
 * import { PRESETS, sgdRun } from "./presets.ts";
 * const store = runStore(await Deno.makeTempDir());
 * const c = sgdRun(PRESETS.smoke, PRESETS.smoke.datasets[0], 0);
 * if (!store.id(c).includes("-sgd-e10-s0-")) throw new Error(store.id(c));
 * await store.result(c).then(() => { throw new Error("not done yet"); }, () => {});
 * if (await store.done(c)) throw new Error("not done yet");
 * ```
 */
export function runStore(runsDir: string): RunStore {
  const store: RunStore = {
    id: runId,
    async done(config) {
      return (await readDone(runsDir, config)) !== null;
    },
    async result(config) {
      const done = await readDone(runsDir, config);
      if (!done) {
        throw new Error(
          `run ${runId(config)} is not done (results folder ${runsDir})`,
        );
      }
      return {
        id: runId(config),
        // What the folder says it trained (a copied or renamed folder
        // shows here, and cellErrors refuses to mix it into a cell).
        config: done.config ?? config,
        epochs: await runMetrics(runsDir, config),
      };
    },
    progress(config) {
      return runMetrics(runsDir, config);
    },
    async history(config) {
      const own = (await store.result(config)).epochs;
      if (!config.from) return own;
      const before = (await store.history(config.from.run)).filter((r) =>
        r.epoch <= startEpoch(config)
      );
      return [...before, ...own];
    },
    async checkpoint(config, epoch) {
      const ckpt = await loadCheckpoint(runDir(runsDir, config), epoch);
      for (const slot of Object.values(ckpt.state.opt.slots)) {
        for (const t of Object.values(slot)) t.dispose();
      }
      return {
        model: modelFor(config.model, config.dataset),
        params: ckpt.state.params,
        bn: ckpt.state.bn,
        epoch,
      };
    },
  };
  return store;
}

function fmtNum(x: number): string {
  if (x >= 1e15) return `${(x / 1e15).toFixed(2)} P`;
  if (x >= 1e12) return `${(x / 1e12).toFixed(2)} T`;
  if (x >= 1e9) return `${(x / 1e9).toFixed(2)} G`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  return x.toFixed(0);
}

/**
 * The `--dry-run` report: runs needed, their status, and the work estimate.
 *
 * @example
 * ```ts
 * import { dryRunReport, loadTarget } from "./main.ts";
 * import { parseCli } from "./cli.ts";
 * const o = parseCli(["table1", "--preset", "paper", "--out", await Deno.makeTempDir()]);
 * if (o === "help") throw new Error();
 * const report = await dryRunReport([await loadTarget("table1")], o);
 * if (!report.includes("48 run(s)")) throw new Error(report);
 * ```
 */
export async function dryRunReport(
  targets: Target[],
  options: CliOptions,
): Promise<string> {
  const seeds = Array.from({ length: options.seeds }, (_, i) => i);
  const runsDir = `${options.out}/runs`;
  const configs = targets.flatMap((t) =>
    t.runs(options.preset, seeds, { grid: options.grid })
  );
  const plan = await planRuns(configs, runsDir, options.shard);
  const lines: string[] = [];
  lines.push(options.preset.description);
  lines.push(
    `Dry run: ${
      targets.map((t) => t.name).join(", ")
    }; preset ${options.preset.name}; seeds ${
      seeds.join(",")
    }; shard ${options.shard.index}/${options.shard.count}; jobs ${
      options.jobs ?? 1
    }; results in ${options.out}`,
  );
  lines.push(
    `${plan.length} run(s) (dependencies included; runs shared between targets listed once):`,
  );
  let totalMacs = 0;
  for (const r of plan) {
    const w = runWork(r.config);
    const doneEpochs = r.status === "done"
      ? r.config.epochs
      : (r.checkpoint ?? startEpoch(r.config));
    const left = r.config.epochs - doneEpochs;
    const images = trainingImagesLeft(r.config, doneEpochs);
    const macs = images * w.multiplyAddsPerImage;
    if (r.owned && r.status !== "done") totalMacs += macs;
    lines.push(
      `  ${r.status.padEnd(7)} ${
        r.owned ? "this shard " : "other/dep  "
      }${r.id}  epochs ${startEpoch(r.config)}->${r.config.epochs}${
        r.status === "partial" ? ` (checkpoint ${r.checkpoint})` : ""
      }  left: ${
        r.config.rehearsal
          ? `${
            images / r.config.batchSize
          } rehearsal step(s) x ${r.config.batchSize}`
          : `${left} x ${w.imagesPerEpoch}`
      } images x ${fmtNum(w.multiplyAddsPerImage)} MACs = ${
        fmtNum(macs)
      } forward MACs`,
    );
  }
  for (const t of targets) {
    for (const w of t.work?.(options.preset, seeds) ?? []) {
      totalMacs += w.multiplyAdds;
      lines.push(
        `  compute ${t.name}: ${w.description} (${
          fmtNum(w.multiplyAdds)
        } MACs)`,
      );
    }
  }
  lines.push(
    `Work left for this shard: ${
      fmtNum(totalMacs)
    } forward multiply-adds (a training step costs about 3x its forward pass, SAM about 6x).`,
  );
  return lines.join("\n");
}

function versions(): Record<string, string> {
  return {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    tfjs: "4.22.0",
  };
}

/**
 * Runs the command line; returns the exit code.
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * if ((await main(["--help"])) !== 0) throw new Error();
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let options: CliOptions;
  try {
    const parsed = parseCli(args);
    if (parsed === "help") {
      console.log(HELP);
      return 0;
    }
    options = parsed;
  } catch (e) {
    if (e instanceof UsageError || e instanceof RangeError) {
      console.error(`error: ${(e as Error).message}`);
      return 2;
    }
    throw e;
  }
  try {
    await ensureWritableDir(options.out, "--out");
    if (options.dataDir !== undefined) {
      await ensureWritableDir(options.dataDir, "--data-dir");
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`error: ${e.message}`);
    return 2;
  }
  const note = options.threads === undefined
    ? null
    : threadsNote(options.threads);
  if (note) console.error(note);
  if (options.dataDir !== undefined) {
    // The runs load their data through lib/data, which reads POF_DATA_DIR.
    Deno.env.set("POF_DATA_DIR", options.dataDir);
  }
  // quick: add the datasets already cached (verified, no downloads).
  const cacheDir = resolveCacheDir(options.dataDir);
  let preset = await withCachedDatasets(options.preset, { cacheDir });
  if (options.datasets) {
    const keep = options.datasets;
    preset = {
      ...preset,
      datasets: keep.map((n) => preset.datasets.find((d) => d.name === n)!),
    };
  }
  if (options.rehearse) {
    // Datasets with files to download (the generated ones are always there).
    const names = preset.datasets.map((d) => d.name).filter((n) =>
      n in DATASETS && DATASETS[n as DatasetName].files.length > 0
    );
    const onDisk = await cachedDatasets(names, { cacheDir });
    preset = rehearsalPreset(preset, {
      ...options.rehearse,
      standIns: names.filter((n) => !onDisk.includes(n)),
    });
  }
  options = { ...options, preset };
  const targets: Target[] = [];
  for (const name of options.targets) targets.push(await loadTarget(name));
  await Deno.mkdir(`${options.out}/runs`, { recursive: true });
  const seeds = Array.from({ length: options.seeds }, (_, i) => i);
  const runsDir = `${options.out}/runs`;
  const perTarget = new Map(
    targets.map((
      t,
    ) => [t.name, t.runs(options.preset, seeds, { grid: options.grid })]),
  );
  const all = withDependencies([...perTarget.values()].flat());
  // --jobs: how many processes (1 for a shard or at most one run left).
  const jobsNoteLine = options.jobs === undefined
    ? null
    : jobsNote(options.jobs);
  if (jobsNoteLine) console.error(jobsNoteLine);
  const runsLeft = (await planRuns(all, runsDir))
    .filter((r) => r.status !== "done").length;
  const jobs = jobsToRun(options, runsLeft);
  options = { ...options, jobs };
  if (options.dryRun) {
    console.log(await dryRunReport(targets, options));
    return 0;
  }
  if (jobs > 1) {
    return await runJobs(args, targets, { options, jobs, runsLeft });
  }
  const bar = new ProgressBar({ quiet: options.quiet });
  const say = (s: string) => options.quiet ? undefined : console.error(s);
  say(
    options.targets.includes("pilot")
      ? "pilot: SGD vs SAM on reduced Fashion-MNIST settings (repro/targets/pilot.ts)"
      : options.preset.description,
  );
  const backend: BackendInfo = await useBackend(options.backend, {
    threads: options.threads,
  });
  say(`backend: ${backend.backend} (${backend.package}) on ${backend.device}`);
  const t0 = performance.now();
  const store = runStore(runsDir);
  const commit = await gitCommit();
  const provenanceOf = (t: Target): Provenance => {
    const provenance: Provenance = {
      target: t.name,
      preset: options.preset.name,
      seeds,
      backend,
      jobs: provenanceJobs(),
      versions: versions(),
      gitCommit: commit,
      argv: ["repro/main.ts", ...args],
      writtenAt: new Date().toISOString(),
    };
    const rehearsal = options.preset.rehearsal;
    if (rehearsal) {
      provenance.rehearsal = {
        ...rehearsal,
        note:
          `REHEARSAL (--rehearse): ${rehearsal.steps} step(s) per epoch-segment; ` +
          (rehearsal.standIns.length
            ? `synthetic stand-ins for ${
              rehearsal.standIns.join(", ")
            } (not on disk); `
            : "") +
          "these numbers measure the machinery, not the paper's experiments",
      };
    }
    return provenance;
  };
  const produce = (t: Target): Promise<TargetOutput> =>
    t.produce({
      preset: options.preset,
      seeds,
      outDir: options.out,
      runs: store,
      provenance: provenanceOf(t),
      rng: (seed) => new Rng(seed).fork(`target:${t.name}`),
      log: (line) => bar.line(`${t.name}: ${line}`),
    });
  // Targets that summarise partial results rewrite their files after
  // every finished run, so stopping a long run keeps a current summary.
  const partial = options.trainOnly ? [] : targets.filter((t) => t.partial);
  try {
    await runPlan(all, {
      runsDir,
      build: buildRun,
      checkpointEvery: options.checkpointEvery,
      progress: bar,
      shard: options.shard,
      steal: options.steal,
      train: partial.length
        ? async (config, o) => {
          const update = async () => {
            for (const t of partial) await produce(t);
          };
          await trainRun(config, { ...o, afterEpoch: update });
          await update();
        }
        : undefined,
    });
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 1;
  }
  if (options.trainOnly) {
    console.log(
      `\nSummary (preset ${options.preset.name}, backend ${backend.backend}, ${
        formatDuration((performance.now() - t0) / 1000)
      }): trained the runs of shard ${options.shard.index}/${options.shard.count}; target files not written (--train-only)`,
    );
    return 0;
  }
  const summary: [string, TargetOutput | string][] = [];
  for (const t of targets) {
    const needed = withDependencies(perTarget.get(t.name)!);
    const missing: string[] = [];
    for (const c of needed) {
      if (!(await readDone(runsDir, c))) missing.push(runId(c));
    }
    if (missing.length && !t.partial) {
      summary.push([
        t.name,
        `waiting for ${missing.length} run(s) of other shards (${
          missing[0]
        }, ...); run again without --shard to write its files`,
      ]);
      continue;
    }
    const tt = performance.now();
    say(`${t.name}: producing (${t.title})`);
    let out: TargetOutput;
    try {
      out = await produce(t);
    } catch (e) {
      // Out of wasm heap in a target's own steps (Table 2's timing, the
      // figures' statistics): one line, as for the runs.
      const explained = explainMemoryError(e, `target ${t.name}`);
      if (!(explained instanceof BackendMemoryError)) throw e;
      console.error(`error: ${explained.message}`);
      return 1;
    }
    summary.push([t.name, out]);
    say(
      `${t.name}: wrote ${out.files.join(", ")} (${
        formatDuration((performance.now() - tt) / 1000)
      })`,
    );
  }
  const lines = [
    "",
    `Summary (preset ${options.preset.name}, backend ${backend.backend}, ${
      formatDuration((performance.now() - t0) / 1000)
    }):`,
  ];
  for (const [name, out] of summary) {
    if (typeof out === "string") lines.push(`  ${name.padEnd(9)} ${out}`);
    else {
      lines.push(`  ${name.padEnd(9)} ${out.files.join(", ")}`);
      for (const s of out.summary) lines.push(`  ${"".padEnd(9)} ${s}`);
    }
  }
  if (options.preset.rehearsal) {
    lines.push(
      "",
      `Rehearsal resources per run (backend ${backend.backend}; ${machineLine()}):`,
    );
    for (const c of all) {
      const done = await readDone(runsDir, c);
      if (done?.resources) {
        lines.push(`  ${runId(c)}: ${describeResources(done.resources)}`);
      }
    }
  }
  console.log(lines.join("\n"));
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
