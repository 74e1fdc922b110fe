import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { useBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  checkpointName,
  CorruptCheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  loadLatestValidCheckpoint,
  pruneCheckpoints,
  saveCheckpoint,
} from "./checkpoint.ts";

await useBackend("cpu");

function sample(epoch: number, seed: number): Checkpoint {
  const r = new Rng(seed);
  return {
    epoch,
    state: {
      params: {
        features: {
          "conv.kernel": tf.tensor(r.normalArray(3 * 3 * 2), [3, 3, 2]),
        },
        classifier: {
          kernel: tf.tensor(r.normalArray(6), [2, 3]),
          bias: tf.tensor([0.5, -1e-30, 3e38]),
        },
      },
      bn: { "bn.mean": tf.tensor([1, 2]), "bn.variance": tf.tensor([3, 4]) },
      opt: {
        slots: {
          momentum: {
            "features/conv.kernel": tf.tensor(r.normalArray(18), [3, 3, 2]),
          },
        },
        count: 1234,
      },
    },
    rng: r.state(),
    loader: { seed: 7, epoch, position: 0, weakCount: 9 },
    extra: { id: "x", optEpochOffset: 3 },
  };
}

async function flat(c: Checkpoint): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  const add = (prefix: string, t: Record<string, tf.Tensor>) => {
    for (const [k, v] of Object.entries(t)) {
      out[`${prefix}/${k}`] = [...v.shape, ...v.dataSync()];
    }
  };
  add("f", c.state.params.features);
  add("c", c.state.params.classifier);
  add("bn", c.state.bn);
  for (const [s, t] of Object.entries(c.state.opt.slots)) add(`slot:${s}`, t);
  await Promise.resolve();
  return out;
}

Deno.test("encode / decode round-trips every tensor bit-exactly and all metadata", async () => {
  const c = sample(5, 1);
  const back = decodeCheckpoint(await encodeCheckpoint(c), "mem");
  assertEquals(await flat(back), await flat(c));
  assertEquals(back.epoch, 5);
  assertEquals(back.state.opt.count, 1234);
  assertEquals(back.rng, c.rng);
  assertEquals(back.loader, c.loader);
  assertEquals(back.extra, c.extra);
  // A resumed Rng continues where the saved one stood.
  assertEquals(Rng.fromState(back.rng).uint32(), Rng.fromState(c.rng).uint32());
});

Deno.test("a truncated or foreign file is rejected with the file name and sizes", async () => {
  const bytes = await encodeCheckpoint(sample(1, 2));
  const e = assertThrows(() =>
    decodeCheckpoint(bytes.subarray(0, bytes.length - 4), "f.bin")
  );
  assert(
    (e as Error).message.includes("f.bin") &&
      (e as Error).message.includes("truncated"),
  );
  assertThrows(
    () => decodeCheckpoint(new TextEncoder().encode("hello world!"), "g.bin"),
    Error,
    "not a checkpoint",
  );
});

Deno.test("a failed write (kill during the write) leaves the previous checkpoint in place", async () => {
  const dir = await Deno.makeTempDir();
  const first = sample(1, 3);
  await saveCheckpoint(dir, first);
  // Second save: the writer dies after half the bytes.
  const second = { ...sample(2, 4), epoch: 1 };
  await assertRejects(
    () =>
      saveCheckpoint(dir, second, async (f, bytes) => {
        await f.write(bytes.subarray(0, bytes.length >> 1));
        throw new Error("killed");
      }),
    Error,
    "killed",
  );
  assertEquals(await listCheckpoints(dir), [1]);
  const back = await loadCheckpoint(dir, 1);
  assertEquals(await flat(back), await flat(first));
  // A temp file left by a process killed mid-write is not a checkpoint and gets pruned.
  await Deno.writeFile(
    `${dir}/.tmp-999999-${checkpointName(2)}`,
    new Uint8Array(10),
  );
  assertEquals(await latestCheckpoint(dir), 1);
  await pruneCheckpoints(dir, []);
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assertEquals(names, [checkpointName(1)]);
});

Deno.test("pruning keeps the requested epochs and the latest two", async () => {
  const dir = await Deno.makeTempDir();
  for (const e of [1, 2, 3, 4, 5]) await saveCheckpoint(dir, sample(e, e));
  await pruneCheckpoints(dir, [2]);
  assertEquals(await listCheckpoints(dir), [2, 4, 5]);
  await assertRejects(
    () => loadCheckpoint(dir, 3),
    Error,
    "no checkpoint for epoch 3",
  );
});

Deno.test("a garbled header or tensor table is a CorruptCheckpointError naming the file", async () => {
  const bytes = await encodeCheckpoint(sample(1, 5));
  const headLen = new DataView(bytes.buffer).getUint32(8, true);
  // Overwrite the header's opening brace: not JSON any more.
  const garbled = bytes.slice();
  garbled[12] = 0x78; // "x"
  assertThrows(
    () => decodeCheckpoint(garbled, "h.bin"),
    CorruptCheckpointError,
    "h.bin: corrupt checkpoint header",
  );
  // Valid JSON, right length, but a tensor table that points past the data.
  const head = JSON.parse(
    new TextDecoder().decode(bytes.subarray(12, 12 + headLen)),
  );
  const dataStart = Math.ceil((12 + headLen) / 4) * 4;
  head.tensors[0].offset = head.floats;
  const text = new TextEncoder().encode(JSON.stringify(head));
  const start = Math.ceil((12 + text.length) / 4) * 4;
  const lying = new Uint8Array(start + bytes.length - dataStart);
  lying.set(bytes.subarray(0, 8));
  new DataView(lying.buffer).setUint32(8, text.length, true);
  lying.set(text, 12);
  lying.set(bytes.subarray(dataStart), start);
  assertThrows(
    () => decodeCheckpoint(lying, "t.bin"),
    CorruptCheckpointError,
    "t.bin: corrupt checkpoint tensor table",
  );
  for (const cut of [4, 11, 12 + headLen - 1, bytes.length - 1]) {
    assertThrows(
      () => decodeCheckpoint(bytes.subarray(0, cut), "c.bin"),
      CorruptCheckpointError,
      "c.bin",
    );
  }
});

Deno.test("loadLatestValidCheckpoint: a truncated latest is renamed *.corrupt and the previous one loads", async () => {
  const dir = await Deno.makeTempDir();
  for (const e of [1, 2, 3]) await saveCheckpoint(dir, sample(e, e));
  const three = await Deno.readFile(`${dir}/${checkpointName(3)}`);
  await Deno.writeFile(`${dir}/${checkpointName(3)}`, three.subarray(0, 100));
  const lines: string[] = [];
  const r = await loadLatestValidCheckpoint(dir, {
    warn: (l) => lines.push(l),
  });
  assertEquals(r.checkpoint?.epoch, 2);
  assertEquals(await flat(r.checkpoint!), await flat(sample(2, 2)));
  assertEquals(r.corrupt, [checkpointName(3)]);
  assertEquals(lines.length, 1);
  assert(
    lines[0].startsWith(
      `${dir}/${checkpointName(3)} is truncated or corrupt (`,
    ),
    lines[0],
  );
  assert(
    lines[0].endsWith(
      `renamed to ${
        checkpointName(3)
      }.corrupt, resuming from the previous valid checkpoint (epoch 2)`,
    ),
    lines[0],
  );
  assertEquals(await listCheckpoints(dir), [1, 2]);
  assertEquals(
    (await Deno.readFile(`${dir}/${checkpointName(3)}.corrupt`)).length,
    100,
  );
  // Every checkpoint corrupt: none loads, each is set aside, the run restarts.
  for (const e of [1, 2]) {
    await Deno.writeTextFile(`${dir}/${checkpointName(e)}`, "garbage");
  }
  lines.length = 0;
  const none = await loadLatestValidCheckpoint(dir, {
    warn: (l) => lines.push(l),
    restartEpoch: 0,
  });
  assertEquals(none.checkpoint, null);
  assertEquals(none.corrupt, [checkpointName(2), checkpointName(1)]);
  assertEquals(lines.length, 2);
  for (const l of lines) {
    assert(
      l.endsWith("no valid checkpoint left: restarting the run from epoch 0"),
      l,
    );
  }
  assertEquals(await listCheckpoints(dir), []);
});

// ---- The golden checkpoint: a file written by format version 1, committed.
// Its content is written out by hand below. If the layout ever changes, bump
// CHECKPOINT_FORMAT, keep this file and its test (the new code must still
// read version 1, or refuse it with one clear line), and add a golden file
// for the new version.
const GOLDEN = new URL("./testdata/golden-format1.ckpt", import.meta.url);

function golden(): Checkpoint {
  return {
    epoch: 3,
    state: {
      params: {
        features: {
          "conv.kernel": tf.tensor([0.5, -1.25, 2, 3.5, -0.125, 1e-3], [
            1,
            1,
            2,
            3,
          ]),
          "bn.gamma": tf.tensor([1, 0.75]),
        },
        classifier: {
          kernel: tf.tensor([[1, -2], [0.25, 4]]),
          bias: tf.tensor([0.1, -0.1]),
        },
      },
      bn: {
        "bn.mean": tf.tensor([0.3, -0.7]),
        "bn.variance": tf.tensor([1.5, 0.02]),
      },
      opt: {
        slots: {
          momentum: {
            "features/conv.kernel": tf.tensor([1, 2, 3, 4, 5, 6], [1, 1, 2, 3]),
            "classifier/kernel": tf.tensor([[-1, 0], [0, 1e-6]]),
          },
        },
        count: 42,
      },
    },
    rng: [1, 2, 3, 4294967295],
    loader: { seed: 11, epoch: 3, position: 0, weakCount: 17 },
    extra: { id: "golden", optEpochOffset: 0 },
  };
}

Deno.test("golden checkpoint (format 1): the committed file decodes to its hand-written values and this version writes it byte for byte", async () => {
  const bytes = await Deno.readFile(GOLDEN);
  const got = decodeCheckpoint(bytes, GOLDEN.pathname);
  const want = golden();
  assertEquals(await flat(got), await flat(want));
  // A few values spelled out, independent of the helper above.
  assertEquals([...got.state.params.classifier.kernel.dataSync()], [
    1,
    -2,
    0.25,
    4,
  ]);
  assertEquals(got.state.params.features["conv.kernel"].shape, [1, 1, 2, 3]);
  assertEquals(
    got.state.opt.slots.momentum["classifier/kernel"].dataSync()[3],
    Math.fround(1e-6),
  );
  assertEquals(
    [got.epoch, got.state.opt.count, got.rng, got.loader, got.extra],
    [3, 42, [1, 2, 3, 4294967295], want.loader, want.extra],
  );
  assertEquals(await encodeCheckpoint(want), bytes);
});

Deno.test("checkpoint format version: files without one read as 1; another version is refused in one line naming both", async () => {
  const bytes = await Deno.readFile(GOLDEN);
  const headLen = new DataView(bytes.buffer).getUint32(8, true);
  const head = JSON.parse(
    new TextDecoder().decode(bytes.subarray(12, 12 + headLen)),
  );
  assertEquals(head.format, CHECKPOINT_FORMAT);
  const floats = bytes.subarray(Math.ceil((12 + headLen) / 4) * 4);
  const rebuild = (h: Record<string, unknown>) => {
    const hb = new TextEncoder().encode(JSON.stringify(h));
    const start = Math.ceil((12 + hb.length) / 4) * 4;
    const out = new Uint8Array(start + floats.length);
    out.set(bytes.subarray(0, 8));
    new DataView(out.buffer).setUint32(8, hb.length, true);
    out.set(hb, 12);
    out.set(floats, start);
    return out;
  };
  const { format: _, ...legacy } = head;
  const old = decodeCheckpoint(rebuild(legacy), "old.ckpt");
  assertEquals(await flat(old), await flat(golden()));
  for (
    const [v, why] of [[2, "newer version"], ["x", "not a version"]] as const
  ) {
    const e = assertThrows(
      () => decodeCheckpoint(rebuild({ ...head, format: v }), "f.ckpt"),
      Error,
    );
    assert(
      !e.message.includes("\n") &&
        e.message.includes(
          `f.ckpt: checkpoint format version ${JSON.stringify(v)}`,
        ) &&
        e.message.includes("reads version 1") && e.message.includes(why),
      e.message,
    );
  }
});
