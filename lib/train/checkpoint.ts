/**
 * Atomic binary checkpoints of everything a run needs to continue exactly:
 * parameters (phi and theta), BatchNorm state, optimizer slots and step
 * count, the run's RNG state, the data loader's state and the epoch.
 *
 * File layout (little-endian): the 8 magic bytes `POFCKPT1`, a uint32 header
 * length, the UTF-8 JSON header (meta + tensor table), zero padding to a
 * multiple of 4, then every tensor's float32 data in table order. The header's
 * `format` is the layout's version ({@link CHECKPOINT_FORMAT}; files without
 * it are version 1); a file of another version is refused with one line
 * naming both versions. A golden version-1 file is committed under
 * `lib/train/testdata/` and its test keeps every later version reading it. A file is
 * written to a temporary name in the same folder, flushed to disk, then
 * renamed, so a kill at any moment leaves either the previous checkpoint or
 * the new one, never a partial file under a checkpoint name.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { Params } from "../tree.ts";
import type { RngState } from "../rng.ts";
import type { TrainState } from "../optim/method.ts";
import { TMP_PREFIX, writeFileAtomic } from "../atomic_write.ts";

const MAGIC = "POFCKPT1";

/**
 * The checkpoint layout version this code writes and reads.
 *
 * @example
 * ```ts
 * import { CHECKPOINT_FORMAT } from "./checkpoint.ts";
 * if (CHECKPOINT_FORMAT !== 1) throw new Error();
 * ```
 */
export const CHECKPOINT_FORMAT = 1;

/** What a checkpoint holds. */
export interface Checkpoint {
  /** Finished epochs (absolute). */
  epoch: number;
  state: TrainState;
  /** State of the run's {@link Rng}. */
  rng: RngState;
  /** The training data loader's serialisable state. */
  loader: unknown;
  /** Any other JSON the run wants back (e.g. the run id). */
  extra?: Record<string, unknown>;
}

interface TensorEntry {
  group: string;
  key: string;
  shape: number[];
  offset: number;
  length: number;
}

function groups(state: TrainState): [string, Params][] {
  const out: [string, Params][] = [
    ["features", state.params.features],
    ["classifier", state.params.classifier],
    ["bn", state.bn],
  ];
  for (const name of Object.keys(state.opt.slots)) {
    out.push([`slot:${name}`, state.opt.slots[name]]);
  }
  return out;
}

/**
 * Serialises a checkpoint into bytes (the file layout above).
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { decodeCheckpoint, encodeCheckpoint } from "./checkpoint.ts";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * const state = { params: { features: { w: tf.tensor([1, 2]) }, classifier: {} }, bn: {},
 *   opt: { slots: {}, count: 3 } };
 * const bytes = await encodeCheckpoint({ epoch: 1, state, rng: [1, 2, 3, 4], loader: null });
 * const back = decodeCheckpoint(bytes, "example");
 * if (back.state.params.features.w.dataSync()[1] !== 2 || back.state.opt.count !== 3) throw new Error();
 * ```
 */
export async function encodeCheckpoint(ckpt: Checkpoint): Promise<Uint8Array> {
  const table: TensorEntry[] = [];
  const datas: Float32Array[] = [];
  let offset = 0;
  for (const [group, tree] of groups(ckpt.state)) {
    for (const key of Object.keys(tree)) {
      const t = tree[key];
      if (t.dtype !== "float32") {
        throw new Error(
          `checkpoint: ${group}/${key} has dtype ${t.dtype}; only float32 is stored`,
        );
      }
      const data = (await t.data()) as Float32Array;
      table.push({
        group,
        key,
        shape: t.shape.slice(),
        offset,
        length: data.length,
      });
      datas.push(data);
      offset += data.length;
    }
  }
  const header = new TextEncoder().encode(JSON.stringify({
    format: CHECKPOINT_FORMAT,
    epoch: ckpt.epoch,
    count: ckpt.state.opt.count,
    slots: Object.keys(ckpt.state.opt.slots),
    rng: ckpt.rng,
    loader: ckpt.loader ?? null,
    extra: ckpt.extra ?? {},
    tensors: table,
    floats: offset,
  }));
  const headStart = 12;
  const dataStart = Math.ceil((headStart + header.length) / 4) * 4;
  const bytes = new Uint8Array(dataStart + offset * 4);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(bytes.buffer).setUint32(8, header.length, true);
  bytes.set(header, headStart);
  const floats = new Float32Array(bytes.buffer, dataStart, offset);
  let at = 0;
  for (const d of datas) {
    floats.set(d, at);
    at += d.length;
  }
  return bytes;
}

/** A checkpoint file that is truncated, corrupt or not a checkpoint at all. */
export class CorruptCheckpointError extends Error {
  override name = "CorruptCheckpointError";
}

/**
 * Parses {@link encodeCheckpoint}'s bytes; `source` names the file in errors.
 * Any damage (foreign file, truncation, a garbled header or tensor table)
 * throws {@link CorruptCheckpointError}.
 *
 * @example
 * ```ts
 * import { decodeCheckpoint } from "./checkpoint.ts";
 * try { decodeCheckpoint(new Uint8Array(4), "x.bin"); throw new Error("accepted"); }
 * catch (e) { if (!(e as Error).message.includes("x.bin: not a checkpoint")) throw e; }
 * ```
 */
export function decodeCheckpoint(
  bytes: Uint8Array,
  source: string,
): Checkpoint {
  const bad = (why: string) => new CorruptCheckpointError(`${source}: ${why}`);
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (bytes.length < 12 || magic !== MAGIC) {
    throw bad(
      `not a checkpoint (magic ${
        JSON.stringify(magic)
      }, ${bytes.length} bytes)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headLen = view.getUint32(8, true);
  if (12 + headLen > bytes.length) {
    throw bad(`truncated checkpoint header (${bytes.length} bytes)`);
  }
  let head;
  try {
    head = JSON.parse(
      new TextDecoder().decode(bytes.subarray(12, 12 + headLen)),
    );
  } catch (e) {
    throw bad(`corrupt checkpoint header (${(e as Error).message})`);
  }
  const format = head?.format ?? 1;
  if (format !== CHECKPOINT_FORMAT) {
    // Not corruption: a file this version must not read (kept, not renamed).
    throw new Error(
      `${source}: checkpoint format version ${
        JSON.stringify(format)
      }, but this code reads version ${CHECKPOINT_FORMAT} (${
        typeof format === "number" && format > CHECKPOINT_FORMAT
          ? "written by a newer version: update the code"
          : "not a version this code knows"
      })`,
    );
  }
  const dataStart = Math.ceil((12 + headLen) / 4) * 4;
  if (
    !Number.isInteger(head?.floats) ||
    bytes.length !== dataStart + head.floats * 4
  ) {
    throw bad(
      `checkpoint is ${bytes.length} bytes, expected ${
        dataStart + head?.floats * 4
      } (truncated or corrupt)`,
    );
  }
  const tableOk = Array.isArray(head.slots) && Array.isArray(head.tensors) &&
    (head.tensors as TensorEntry[]).every((e) =>
      Array.isArray(e?.shape) && Number.isInteger(e.offset) &&
      Number.isInteger(e.length) && e.offset >= 0 &&
      e.offset + e.length <= head.floats &&
      e.shape.reduce((a: number, b: number) => a * b, 1) === e.length
    );
  if (!tableOk) throw bad("corrupt checkpoint tensor table");
  // Copy so the tensors do not alias the file buffer (and alignment is guaranteed).
  const floats = new Float32Array(
    bytes.buffer.slice(
      bytes.byteOffset + dataStart,
      bytes.byteOffset + dataStart + head.floats * 4,
    ),
  );
  const trees: Record<string, Params> = {
    features: {},
    classifier: {},
    bn: {},
  };
  for (const s of head.slots as string[]) trees[`slot:${s}`] = {};
  for (const e of head.tensors as TensorEntry[]) {
    (trees[e.group] ??= {})[e.key] = tf.tensor(
      floats.subarray(e.offset, e.offset + e.length),
      e.shape,
      "float32",
    );
  }
  const slots: Record<string, Params> = {};
  for (const s of head.slots as string[]) slots[s] = trees[`slot:${s}`];
  return {
    epoch: head.epoch,
    state: {
      params: { features: trees.features, classifier: trees.classifier },
      bn: trees.bn,
      opt: { slots, count: head.count },
    },
    rng: head.rng,
    loader: head.loader,
    extra: head.extra,
  };
}

/**
 * The file name of the checkpoint at `epoch`.
 *
 * @example
 * ```ts
 * import { checkpointName } from "./checkpoint.ts";
 * if (checkpointName(12) !== "ckpt-e00012.bin") throw new Error();
 * ```
 */
export function checkpointName(epoch: number): string {
  return `ckpt-e${String(epoch).padStart(5, "0")}.bin`;
}

/**
 * Saves a checkpoint as `<dir>/ckpt-eNNNNN.bin` atomically and returns the path.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { latestCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * import { useBackend } from "../backend.ts";
 * await useBackend("cpu");
 * const dir = await Deno.makeTempDir();
 * const state = { params: { features: { w: tf.tensor([1]) }, classifier: {} }, bn: {},
 *   opt: { slots: {}, count: 0 } };
 * await saveCheckpoint(dir, { epoch: 2, state, rng: [1, 2, 3, 4], loader: {} });
 * if ((await latestCheckpoint(dir)) !== 2) throw new Error();
 * ```
 */
export async function saveCheckpoint(
  dir: string,
  ckpt: Checkpoint,
  write?: (f: Deno.FsFile, bytes: Uint8Array) => Promise<void>,
): Promise<string> {
  const path = `${dir}/${checkpointName(ckpt.epoch)}`;
  await writeFileAtomic(path, await encodeCheckpoint(ckpt), { write });
  return path;
}

/**
 * Loads `<dir>/ckpt-eNNNNN.bin`. The caller owns the tensors.
 *
 * @example
 * ```ts
 * import { loadCheckpoint } from "./checkpoint.ts";
 * await loadCheckpoint(await Deno.makeTempDir(), 3).then(() => { throw new Error("found"); }, () => {});
 * ```
 */
export async function loadCheckpoint(
  dir: string,
  epoch: number,
): Promise<Checkpoint> {
  const path = `${dir}/${checkpointName(epoch)}`;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        `no checkpoint for epoch ${epoch}: ${path} does not exist`,
      );
    }
    throw e;
  }
  return decodeCheckpoint(bytes, path);
}

/**
 * Epochs of the checkpoints in `dir`, ascending (temporary files ignored).
 *
 * @example
 * ```ts
 * import { listCheckpoints } from "./checkpoint.ts";
 * if ((await listCheckpoints("/nonexistent-dir")).length !== 0) throw new Error();
 * ```
 */
export async function listCheckpoints(dir: string): Promise<number[]> {
  const out: number[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const m = /^ckpt-e(\d+)\.bin$/.exec(e.name);
      if (m && e.isFile) out.push(Number(m[1]));
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return out.sort((a, b) => a - b);
}

/**
 * The latest checkpoint epoch in `dir`, or null when there is none.
 *
 * @example
 * ```ts
 * import { latestCheckpoint } from "./checkpoint.ts";
 * if ((await latestCheckpoint(await Deno.makeTempDir())) !== null) throw new Error();
 * ```
 */
export async function latestCheckpoint(dir: string): Promise<number | null> {
  const all = await listCheckpoints(dir);
  return all.length ? all[all.length - 1] : null;
}

/** How {@link loadLatestValidCheckpoint} fared: the checkpoint (or null) and what it set aside. */
export interface LatestValid {
  /** The newest checkpoint that decodes, or null when none does. */
  checkpoint: Checkpoint | null;
  /** Files found corrupt and renamed to `<name>.corrupt`, newest first. */
  corrupt: string[];
}

/**
 * Loads the newest checkpoint in `dir` that decodes. Each newer one that is
 * truncated or corrupt is renamed to `<name>.corrupt` (kept for inspection,
 * never read again) and reported through `warn` in one line saying where
 * the run goes on from: the previous valid checkpoint, or a restart when no
 * valid one is left. Returns null checkpoint when `dir` has none.
 *
 * @example
 * ```ts
 * import { loadLatestValidCheckpoint } from "./checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/ckpt-e00003.bin`, "half a file");
 * const lines: string[] = [];
 * const r = await loadLatestValidCheckpoint(dir, { warn: (l) => lines.push(l) });
 * if (r.checkpoint !== null || !lines[0].includes("no valid checkpoint left: restarting")) throw new Error(lines[0]);
 * await Deno.stat(`${dir}/ckpt-e00003.bin.corrupt`);
 * ```
 */
export async function loadLatestValidCheckpoint(
  dir: string,
  options: { warn?: (line: string) => void; restartEpoch?: number } = {},
): Promise<LatestValid> {
  const epochs = (await listCheckpoints(dir)).reverse();
  const bad: { name: string; why: string }[] = [];
  let found: Checkpoint | null = null;
  for (const epoch of epochs) {
    try {
      found = await loadCheckpoint(dir, epoch);
      break;
    } catch (e) {
      if (!(e instanceof CorruptCheckpointError)) throw e;
      const name = checkpointName(epoch);
      await Deno.rename(`${dir}/${name}`, `${dir}/${name}.corrupt`);
      bad.push({ name, why: e.message.slice(e.message.indexOf(": ") + 2) });
    }
  }
  const next = found
    ? `resuming from the previous valid checkpoint (epoch ${found.epoch})`
    : `no valid checkpoint left: restarting the run from epoch ${
      options.restartEpoch ?? 0
    }`;
  for (const b of bad) {
    options.warn?.(
      `${dir}/${b.name} is truncated or corrupt (${b.why}); renamed to ${b.name}.corrupt, ${next}`,
    );
  }
  return { checkpoint: found, corrupt: bad.map((b) => b.name) };
}

/**
 * Deletes checkpoints other than `keep` epochs and the latest two (the
 * previous one is the way back when the latest turns out corrupt), and
 * leftover temporary files of dead writers.
 *
 * @example
 * ```ts
 * import { checkpointName, listCheckpoints, pruneCheckpoints } from "./checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * for (const e of [5, 10, 11, 12]) await Deno.writeFile(`${dir}/${checkpointName(e)}`, new Uint8Array(1));
 * await pruneCheckpoints(dir, [10]);
 * const left = (await listCheckpoints(dir)).join();
 * if (left !== "10,11,12") throw new Error(left); // 10 kept, 11 and 12 the latest two
 * ```
 */
export async function pruneCheckpoints(
  dir: string,
  keep: number[],
): Promise<void> {
  const all = await listCheckpoints(dir);
  const latestTwo = all.slice(-2);
  for (const e of all) {
    if (!latestTwo.includes(e) && !keep.includes(e)) {
      await Deno.remove(`${dir}/${checkpointName(e)}`).catch(() => {});
    }
  }
  for await (const e of Deno.readDir(dir)) {
    if (
      e.name.startsWith(TMP_PREFIX) &&
      !e.name.startsWith(`${TMP_PREFIX}${Deno.pid}-`)
    ) {
      await Deno.remove(`${dir}/${e.name}`).catch(() => {});
    }
  }
}
