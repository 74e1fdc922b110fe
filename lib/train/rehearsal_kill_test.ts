/**
 * kill -9 in the middle of writing a full-size (WRN-28-10, about 280 MiB)
 * checkpoint: the run resumes from the previous checkpoint and ends with
 * byte-identical checkpoints and identical metrics to an uninterrupted run.
 */
import { assert, assertEquals } from "@std/assert";
import { runDir } from "./runner.ts";
import { deterministicPart, readMetrics } from "./metrics_log.ts";
import { wrnRehearsalRun } from "./testdata/train_wrn_rehearsal.ts";
import { checkpointName } from "./checkpoint.ts";
import { TMP_PREFIX } from "../atomic_write.ts";

function trainProcess(runsDir: string) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--import-map=tools/offline_import_map.json",
      "lib/train/testdata/train_wrn_rehearsal.ts",
      runsDir,
    ],
    cwd: new URL("../..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  });
}

async function tmpFiles(dir: string): Promise<Deno.DirEntry[]> {
  const out: Deno.DirEntry[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.name.startsWith(TMP_PREFIX) && e.name.includes("ckpt-")) {
        out.push(e);
      }
    }
  } catch {
    // Not created yet.
  }
  return out;
}

Deno.test("kill -9 during a full-size WRN-28-10 checkpoint write: resumes exactly", async () => {
  const config = wrnRehearsalRun();
  const ref = await Deno.makeTempDir();
  const refOut = await trainProcess(ref).output();
  assert(refOut.success, new TextDecoder().decode(refOut.stderr));
  const refDir = runDir(ref, config);
  // Full size: WRN-28-10 weights and SGD momentum, 4 bytes each (README:
  // 36,479,194 parameters on 32x32x3; one input channel instead of three
  // removes 3 x 3 x 2 x 16 first-layer weights).
  const params = 36_479_194 - 3 * 3 * 2 * 16;
  const size = (await Deno.stat(`${refDir}/${checkpointName(3)}`)).size;
  assert(
    size >= 8 * params && size < 8 * params + 2 ** 20,
    `checkpoint ${size} bytes for ${params} parameters`,
  );

  // Kill while the epoch-2 checkpoint is being written (its temporary file
  // exists, epoch 1's is complete, epoch 2's is not yet renamed into place).
  const dir = await Deno.makeTempDir();
  const own = runDir(dir, config);
  const child = trainProcess(dir).spawn();
  let exited = false;
  child.status.then(() => exited = true);
  let killed = false;
  while (!exited) {
    const tmp = await tmpFiles(own);
    const one = await Deno.stat(`${own}/${checkpointName(1)}`).then(
      () => true,
      () => false,
    );
    if (one && tmp.length > 0) {
      child.kill("SIGKILL");
      killed = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await child.status;
  await child.stdout.cancel();
  await child.stderr.cancel();
  assert(
    killed,
    "the run finished before the kill landed in a checkpoint write",
  );
  const two = await Deno.stat(`${own}/${checkpointName(2)}`).then(
    () => true,
    () => false,
  );
  assert(
    !two,
    "the epoch-2 checkpoint was complete: the kill missed the write",
  );

  const resumed = await trainProcess(dir).output();
  assert(resumed.success, new TextDecoder().decode(resumed.stderr));
  for (const e of [1, 2, 3]) {
    const a = await Deno.readFile(`${refDir}/${checkpointName(e)}`);
    const b = await Deno.readFile(`${own}/${checkpointName(e)}`);
    assertEquals(a.length, b.length);
    assert(a.every((v, i) => v === b[i]), `checkpoint ${e} differs`);
  }
  assertEquals(
    (await readMetrics(`${own}/metrics.jsonl`)).map(deterministicPart),
    (await readMetrics(`${refDir}/metrics.jsonl`)).map(deterministicPart),
  );
  await Deno.remove(ref, { recursive: true });
  await Deno.remove(dir, { recursive: true });
});
