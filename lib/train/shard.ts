/**
 * Splitting a run list over n processes (`--shard i/n`) and lock files that
 * keep two processes from training the same run.
 *
 * The split is deterministic: runs (dependencies included) are sorted by id
 * and run k belongs to shard `k mod n`, so every process computes the same
 * partition from the same plan. A run another shard's run depends on (the
 * shared SAM-200 run) is claimed with a lock file (`<run dir>/lock`, created
 * exclusively); whoever gets the lock trains it, the others wait for its
 * `done.json`.
 *
 * @module
 */

/** A parsed `--shard i/n` (0-based `index`). */
export interface Shard {
  index: number;
  count: number;
}

/**
 * Parses `"i/n"` with 0 <= i < n.
 *
 * @example
 * ```ts
 * import { parseShard } from "./shard.ts";
 * const s = parseShard("1/4");
 * if (s.index !== 1 || s.count !== 4) throw new Error();
 * ```
 */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) {
    throw new RangeError(
      `--shard must be i/n with integers 0 <= i < n (e.g. 0/4), got "${text}"`,
    );
  }
  const index = Number(m[1]), count = Number(m[2]);
  if (count < 1 || index >= count) {
    throw new RangeError(
      `--shard must be i/n with integers 0 <= i < n (e.g. 0/4), got "${text}"`,
    );
  }
  return { index, count };
}

/**
 * The ids shard `shard` owns: sort the ids, take every n-th from position i.
 *
 * @example
 * ```ts
 * import { shardIds } from "./shard.ts";
 * const ids = ["c", "a", "b"];
 * const a = shardIds(ids, { index: 0, count: 2 }), b = shardIds(ids, { index: 1, count: 2 });
 * if (a.join() !== "a,c" || b.join() !== "b") throw new Error();
 * ```
 */
export function shardIds(ids: string[], shard: Shard): string[] {
  const sorted = [...new Set(ids)].sort();
  return sorted.filter((_, k) => k % shard.count === shard.index);
}

/** What a lock file holds. */
export interface LockInfo {
  pid: number;
  hostname: string;
  /** Identifies the claimant (default: `<hostname>:<pid>`). */
  token: string;
  since: string;
}

function defaultToken(): string {
  return `${hostname()}:${Deno.pid}`;
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

/** True when `pid` is a live process on this machine (Linux /proc). */
async function alive(pid: number): Promise<boolean> {
  try {
    await Deno.stat(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Tries to claim `<dir>/lock` (exclusive create). Returns true when this
 * process now holds it. A lock left by a dead process on this host is taken
 * over; a lock of another host is respected. `token` identifies the
 * claimant (default `<hostname>:<pid>`; tests give two in-process claimants
 * different tokens).
 *
 * @example
 * ```ts
 * import { releaseLock, tryLock } from "./shard.ts";
 * const dir = await Deno.makeTempDir();
 * if (!(await tryLock(dir))) throw new Error("first claim failed");
 * await releaseLock(dir);
 * ```
 */
export async function tryLock(
  dir: string,
  token: string = defaultToken(),
): Promise<boolean> {
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/lock`;
  const info: LockInfo = {
    pid: Deno.pid,
    hostname: hostname(),
    token,
    since: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await Deno.writeTextFile(path, JSON.stringify(info), { createNew: true });
      return true;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    const held = await readLock(dir);
    if (held === null) continue; // released meanwhile
    if (held.token === token) return true;
    if (held.hostname === info.hostname && !(await alive(held.pid))) {
      // Stale: its holder died. Remove it and try once more.
      await Deno.remove(path).catch(() => {});
      continue;
    }
    return false;
  }
  return false;
}

/**
 * The lock's holder, or null when unlocked.
 *
 * @example
 * ```ts
 * import { readLock, tryLock } from "./shard.ts";
 * const dir = await Deno.makeTempDir();
 * await tryLock(dir, "me");
 * if ((await readLock(dir))?.token !== "me") throw new Error();
 * ```
 */
export async function readLock(dir: string): Promise<LockInfo | null> {
  try {
    return JSON.parse(await Deno.readTextFile(`${dir}/lock`));
  } catch {
    return null;
  }
}

/**
 * Releases a lock held under `token` (no-op otherwise).
 *
 * @example
 * ```ts
 * import { readLock, releaseLock, tryLock } from "./shard.ts";
 * const dir = await Deno.makeTempDir();
 * await tryLock(dir, "me");
 * await releaseLock(dir, "me");
 * if ((await readLock(dir)) !== null) throw new Error();
 * ```
 */
export async function releaseLock(
  dir: string,
  token: string = defaultToken(),
): Promise<void> {
  const held = await readLock(dir);
  if (held && held.token === token) {
    await Deno.remove(`${dir}/lock`).catch(() => {});
  }
}
