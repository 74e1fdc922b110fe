/**
 * The one way this project writes a file: into a temporary file beside the
 * target (`.tmp-<pid>-<random>-<name>`), flushed to disk, then renamed over
 * the target, so a reader sees the old file or the new one and never a
 * half-written one. On failure the temporary file is removed and the error
 * passed on. Checkpoints, metrics, run records, results, figures, the dataset
 * cache and the benchmark all write through {@link writeFileAtomic}.
 *
 * @module
 */

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /**
   * Writes the bytes to the open temporary file (default: all of them).
   * Tests inject one that fails midway to check that nothing is left behind.
   */
  write?: (file: Deno.FsFile, bytes: Uint8Array) => Promise<void>;
  /** Create the parent folder when missing (default true). */
  mkdir?: boolean;
}

/** Prefix of the temporary files of this process (for cleaning up others'). */
export const TMP_PREFIX = ".tmp-";

/**
 * Writes `data` (text as UTF-8, or bytes) to `path` atomically: temporary
 * file in the same folder, fsync, rename; the temporary file is removed if
 * anything fails.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic_write.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/sub/a.txt`, "hi");
 * await writeFileAtomic(`${dir}/b.bin`, new Uint8Array([1, 2, 3]));
 * if (await Deno.readTextFile(`${dir}/sub/a.txt`) !== "hi") throw new Error();
 * if ((await Deno.readFile(`${dir}/b.bin`)).length !== 3) throw new Error();
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash > 0 ? path.slice(0, slash) : slash === 0 ? "/" : ".";
  if (options.mkdir ?? true) await Deno.mkdir(dir, { recursive: true });
  const bytes = typeof data === "string"
    ? new TextEncoder().encode(data)
    : data;
  const rand = crypto.randomUUID().slice(0, 8);
  const tmp = `${dir}/${TMP_PREFIX}${Deno.pid}-${rand}-${
    path.slice(slash + 1)
  }`;
  const write = options.write ?? writeAll;
  const f = await Deno.open(tmp, { write: true, createNew: true });
  try {
    try {
      await write(f, bytes);
      await f.syncData();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

async function writeAll(f: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await f.write(bytes.subarray(off));
}
