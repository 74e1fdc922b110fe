import { assert, assertEquals, assertRejects } from "@std/assert";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { useBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import { buildRun } from "./build.ts";
import { checkpointName, listCheckpoints } from "./checkpoint.ts";
import { deterministicPart, readMetrics } from "./metrics_log.ts";
import { readDone, runDir, trainRun } from "./runner.ts";
import { ProgressBar } from "./progress.ts";
import type { RunConfig } from "./run_config.ts";
import { runId } from "./run_id.ts";
import { toyRun } from "./testdata/train_toy.ts";
import type { Method } from "../optim/method.ts";

await useBackend("cpu");

class Stop extends Error {}

Deno.test("an interrupted run resumes from its checkpoint and ends with the same metrics", async () => {
  const config = toyRun(5);
  const a = await Deno.makeTempDir();
  const tensorsBefore = tf.memory().numTensors;
  await trainRun(config, { runsDir: a, build: buildRun, checkpointEvery: 1 });
  // Every tensor the run made (parameters, slots, batches, evaluations) is freed.
  assertEquals(tf.memory().numTensors, tensorsBefore);
  const reference = (await readMetrics(`${runDir(a, config)}/metrics.jsonl`))
    .map(deterministicPart);
  assertEquals(reference.map((r) => r.epoch), [1, 2, 3, 4, 5]);
  // The schedule's milestone at epoch 2 shows in the recorded lr.
  assertEquals(reference[1].lr, 0.05);
  assert(Math.abs(reference[2].lr - 0.01) < 1e-12);

  const b = await Deno.makeTempDir();
  // Stop right after epoch 3's checkpoint, then resume and finish.
  await assertRejects(() =>
    trainRun(config, {
      runsDir: b,
      build: buildRun,
      checkpointEvery: 1,
      afterEpoch: (r) => {
        if (r.epoch === 3) throw new Stop();
      },
    }), Stop);
  assertEquals(await listCheckpoints(runDir(b, config)), [2, 3]);
  assertEquals(await readDone(b, config), null);
  await trainRun(config, { runsDir: b, build: buildRun, checkpointEvery: 1 });
  const resumed = (await readMetrics(`${runDir(b, config)}/metrics.jsonl`))
    .map(deterministicPart);
  assertEquals(resumed, reference);
});

Deno.test("a truncated latest checkpoint: resume from the previous one; none valid: restart; same metrics either way", async () => {
  const config = toyRun(4);
  const ref = await Deno.makeTempDir();
  await trainRun(config, { runsDir: ref, build: buildRun });
  const reference = (await readMetrics(`${runDir(ref, config)}/metrics.jsonl`))
    .map(deterministicPart);
  for (const spoil of ["latest", "all"] as const) {
    const dir = await Deno.makeTempDir();
    await assertRejects(() =>
      trainRun(config, {
        runsDir: dir,
        build: buildRun,
        checkpointEvery: 1,
        afterEpoch: (r) => {
          if (r.epoch === 3) throw new Stop();
        },
      }), Stop);
    const rd = runDir(dir, config);
    assertEquals(await listCheckpoints(rd), [2, 3]);
    const spoilt = spoil === "latest" ? [3] : [2, 3];
    for (const e of spoilt) {
      const path = `${rd}/${checkpointName(e)}`;
      const bytes = await Deno.readFile(path);
      await Deno.writeFile(path, bytes.subarray(0, bytes.length >> 1));
    }
    const lines: string[] = [];
    await trainRun(config, {
      runsDir: dir,
      build: buildRun,
      checkpointEvery: 1,
      warn: (l) => lines.push(l),
    });
    assertEquals(lines.length, spoilt.length, lines.join("\n"));
    const outcome = spoil === "latest"
      ? "resuming from the previous valid checkpoint (epoch 2)"
      : "no valid checkpoint left: restarting the run from epoch 0";
    for (const l of lines) {
      assert(l.startsWith(`${runId(config)}: ${rd}/ckpt-e`), l);
      assert(l.endsWith(outcome), l);
    }
    for (const e of spoilt) {
      assert((await Deno.stat(`${rd}/${checkpointName(e)}.corrupt`)).isFile);
    }
    const resumed = (await readMetrics(`${rd}/metrics.jsonl`)).map(
      deterministicPart,
    );
    assertEquals(resumed, reference);
  }
});

Deno.test("metrics written after the last checkpoint are dropped and recomputed on resume", async () => {
  const config = toyRun(4);
  const dir = await Deno.makeTempDir();
  // Checkpoint every 2 epochs, stop after epoch 3: epoch 3 is logged but not checkpointed.
  await assertRejects(() =>
    trainRun(config, {
      runsDir: dir,
      build: buildRun,
      checkpointEvery: 2,
      afterEpoch: (r) => {
        if (r.epoch === 3) throw new Stop();
      },
    }), Stop);
  const path = `${runDir(dir, config)}/metrics.jsonl`;
  assertEquals((await readMetrics(path)).map((r) => r.epoch), [1, 2, 3]);
  await trainRun(config, { runsDir: dir, build: buildRun, checkpointEvery: 2 });
  assertEquals((await readMetrics(path)).map((r) => r.epoch), [1, 2, 3, 4]);
  const ref = await Deno.makeTempDir();
  await trainRun(config, { runsDir: ref, build: buildRun, checkpointEvery: 2 });
  assertEquals(
    (await readMetrics(path)).map(deterministicPart),
    (await readMetrics(`${runDir(ref, config)}/metrics.jsonl`)).map(
      deterministicPart,
    ),
  );
});

Deno.test("a continuation with the same method equals one uninterrupted run", async () => {
  const whole = toyRun(4);
  const first: RunConfig = { ...toyRun(2), keepEpochs: [2] };
  const rest: RunConfig = { ...toyRun(4), from: { run: first, epoch: 2 } };
  const dir = await Deno.makeTempDir();
  await trainRun(whole, { runsDir: dir, build: buildRun });
  await trainRun(first, { runsDir: dir, build: buildRun });
  await trainRun(rest, { runsDir: dir, build: buildRun });
  const w = (await readMetrics(`${runDir(dir, whole)}/metrics.jsonl`)).map(
    deterministicPart,
  );
  const f = (await readMetrics(`${runDir(dir, first)}/metrics.jsonl`)).map(
    deterministicPart,
  );
  const r = (await readMetrics(`${runDir(dir, rest)}/metrics.jsonl`)).map(
    deterministicPart,
  );
  assertEquals([...f, ...r], w);
  assert(runId(rest) !== runId(whole));
});

Deno.test("a non-finite loss stops the run with a clear message and keeps the checkpoint", async () => {
  const config = toyRun(3);
  const dir = await Deno.makeTempDir();
  // A method that reports a NaN loss from epoch 2 on (step 17 = first step of epoch 2).
  const build: typeof buildRun = async (c, o) => {
    const parts = await buildRun(c, o);
    const inner = parts.method;
    const method: Method = {
      name: inner.name,
      initOpt: (p) => inner.initOpt(p),
      step(model, state, input, rng: Rng) {
        const out = inner.step(model, state, input, rng);
        if (out.state.opt.count > 16) out.metrics.loss = NaN;
        return out;
      },
    };
    return { ...parts, method };
  };
  const err = await assertRejects(() =>
    trainRun(config, { runsDir: dir, build, checkpointEvery: 1 })
  );
  const msg = (err as Error).message;
  assert(msg.includes("non-finite training loss NaN at epoch 2"), msg);
  assert(msg.includes("last checkpoint is kept"), msg);
  assertEquals(await listCheckpoints(runDir(dir, config)), [1]);
});

/** The toy run as a child process, on the fast CPU path with 2 threads. */
function trainToyProcess(runsDir: string, epochs: number) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--import-map=tools/offline_import_map.json",
      "lib/train/testdata/train_toy.ts",
      runsDir,
      String(epochs),
      "--threads",
      "2",
    ],
    cwd: new URL("../..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test("kill -9 at random moments, resume (wasm, 2 threads): final metrics identical to an uninterrupted run", async () => {
  const epochs = 16;
  const config = toyRun(epochs);
  const ref = await Deno.makeTempDir();
  // The uninterrupted reference runs in a process of its own with the same
  // backend and thread count (bitwise determinism for a fixed thread count).
  const full = await trainToyProcess(ref, epochs).output();
  assert(full.success, new TextDecoder().decode(full.stderr));
  const fullOut = new TextDecoder().decode(full.stdout).trim().split("\n");
  assertEquals(JSON.parse(fullOut[fullOut.length - 1]).threads, 2);
  const reference = (await readMetrics(`${runDir(ref, config)}/metrics.jsonl`))
    .map(deterministicPart);
  assertEquals(reference.length, epochs);

  const dir = await Deno.makeTempDir();
  const metricsPath = `${runDir(dir, config)}/metrics.jsonl`;
  const rng = new Rng(20261127);
  let kills = 0;
  for (let k = 0; k < 4; k++) {
    // Kill once the log has reached a random epoch, a random few ms into the
    // next one (so kills land in steps, evaluations and checkpoint writes).
    const have = (await readMetrics(metricsPath)).length;
    const target = Math.min(epochs - 2, have + 1 + rng.int(4));
    const extraMs = rng.int(60);
    const child = trainToyProcess(dir, epochs).spawn();
    let exited = false;
    child.status.then(() => exited = true);
    while (!exited && (await readMetrics(metricsPath)).length < target) {
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, extraMs));
    let killed = false;
    if (!exited) {
      child.kill("SIGKILL");
      killed = true;
      kills++;
    }
    const status = await child.status;
    await child.stdout.cancel();
    await child.stderr.cancel();
    if (killed) {
      // Killed by our signal (or it finished in the instant before it).
      assert(
        status.signal === "SIGKILL" || status.success,
        `killed child ended with code ${status.code}, signal ${status.signal}`,
      );
    } else {
      // Exited on its own: it must have finished the run, not crashed.
      assert(
        status.success && (await readDone(dir, config)),
        `child exited by itself with code ${status.code} before finishing`,
      );
    }
    if (await readDone(dir, config)) break;
  }
  assert(kills >= 3, `only ${kills} kill(s) landed`);
  if (!(await readDone(dir, config))) {
    const last = await trainToyProcess(dir, epochs).output();
    assert(last.success, new TextDecoder().decode(last.stderr));
  }
  const resumed = (await readMetrics(`${runDir(dir, config)}/metrics.jsonl`))
    .map(deterministicPart);
  assertEquals(resumed, reference);
});

Deno.test("evalEvery: only every k-th, kept and last epochs are evaluated, and training is unchanged", async () => {
  const every = toyRun(5);
  const sparse: RunConfig = { ...every, keepEpochs: [3], evalEvery: 2 };
  const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
  await trainRun(every, { runsDir: a, build: buildRun });
  await trainRun(sparse, { runsDir: b, build: buildRun });
  const full = await readMetrics(`${runDir(a, every)}/metrics.jsonl`);
  const part = await readMetrics(`${runDir(b, sparse)}/metrics.jsonl`);
  const evaluated = part.filter((r) => Number.isFinite(r.testError))
    .map((r) => r.epoch);
  assertEquals(evaluated, [2, 3, 4, 5]);
  for (const r of part) {
    const f = full[r.epoch - 1];
    // Evaluation draws no randomness: the training path is the same.
    assertEquals(r.trainLoss, f.trainLoss);
    if (evaluated.includes(r.epoch)) {
      assertEquals([r.testError, r.trainError], [f.testError, f.trainError]);
    } else assert(!Number.isFinite(r.trainError), `epoch ${r.epoch}`);
  }
  assert(runId(sparse) !== runId({ ...every, keepEpochs: [3] }));
});

Deno.test("a step that exhausts the wasm heap fails with one line naming the run, its batch and the 4 GiB limit", async () => {
  // Real exhaustion of the real backend, in a child process (the heap is
  // spent afterwards): the wasm runtime's own message must be recognised.
  const dir = await Deno.makeTempDir();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./testdata/heap_exhaustion_run.ts", import.meta.url).pathname,
      dir,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  const { name, message } = JSON.parse(text.split("\n").at(-1)!);
  assertEquals(name, "BackendMemoryError", message);
  const id = runId(toyRun(2));
  assert(
    message.startsWith(
      `run ${id}, epoch 1, batch 32: out of memory on the wasm backend`,
    ),
    message,
  );
  assert(message.includes("at most 4 GiB"), message);
  assert(/tensors held 4\.\d\d GB/.test(message), message);
  assert(!message.includes("\n"), message);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a rehearsed run prints its stepping and evaluated epochs, never a NaN loss or learning rate", async () => {
  const config: RunConfig = {
    ...toyRun(6),
    rehearsal: { steps: 1, evalImages: 16, standIn: false },
  };
  const dir = await Deno.makeTempDir();
  const lines: string[] = [];
  await trainRun(config, {
    runsDir: dir,
    build: buildRun,
    progress: new ProgressBar({ tty: false, write: (t) => lines.push(t) }),
  });
  const text = lines.join("");
  // Segments 0-2 (milestone) and 2-6: steps in epochs 1 and 3, evaluations
  // in epochs 2 and 6; epochs 4-5 are bookkeeping only and not printed.
  assert(
    /epoch 1\/6 loss \d\.\d{4} \(not evaluated\) lr 5\.00e-2/.test(text),
    text,
  );
  assert(
    /epoch 2\/6 \(no steps in this epoch of the rehearsal\) train err/.test(
      text,
    ),
    text,
  );
  assert(
    /epoch 3\/6 loss \d\.\d{4} \(not evaluated\) lr 1\.00e-2/.test(text),
    text,
  );
  assert(!text.includes("epoch 4/6"), text);
  assert(!/NaN/.test(text), text);
  await Deno.remove(dir, { recursive: true });
});
