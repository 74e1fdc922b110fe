/**
 * `deno task repro:gpus [--gpus all|N] [--print] [--] [repro arguments]`
 *
 * Runs the reproduction on several GPUs of one machine: one process per GPU,
 * each `deno task repro <repro arguments> --shard i/n` with
 * `CUDA_VISIBLE_DEVICES` set to its one GPU, in parallel. When every shard
 * has finished, runs `deno task repro <repro arguments>` once more without
 * `--shard` on the first GPU: every run is done by then, so it only writes the
 * figures and tables. Output lines are prefixed with `[gpu <id>]`.
 *
 * `--gpus all` (default) uses the GPUs in `CUDA_VISIBLE_DEVICES` when set,
 * else every GPU `nvidia-smi` lists; `--gpus N` the first N of those. Repro
 * arguments default to `all --preset paper` (the preset from `POF_PRESET`
 * when set). `--print` prints the commands and starts nothing; every other
 * option (e.g. the runner's own `--dry-run`) goes to the runner.
 *
 * @module
 */

/** One process to start. */
export interface ShardCommand {
  /** The GPU it runs on (a `CUDA_VISIBLE_DEVICES` entry), or the first GPU for the final pass. */
  gpu: string;
  /** `i/n`, or null for the final pass that writes the outputs. */
  shard: string | null;
  /** Arguments after the program (`deno`). */
  args: string[];
  /** Environment additions. */
  env: Record<string, string>;
}

/** Options of this tool. */
export interface LaunchOptions {
  /** `"all"` or a positive count. */
  gpus: "all" | number;
  /** `--print`: print the commands, start nothing. */
  dryRun: boolean;
  /** Arguments passed to `deno task repro`. */
  repro: string[];
}

/**
 * Parses the launcher's command line; everything it does not know (or after
 * `--`) goes to the runner.
 *
 * @example
 * ```ts
 * import { parseLaunchArgs } from "./launch_gpus.ts";
 * const o = parseLaunchArgs(["--gpus", "2", "table1", "--preset", "quick"], {});
 * if (o.gpus !== 2 || o.repro.join(" ") !== "table1 --preset quick") throw new Error();
 * ```
 */
export function parseLaunchArgs(
  args: string[],
  env: Record<string, string | undefined>,
): LaunchOptions {
  let gpus: "all" | number = "all";
  let dryRun = false;
  const repro: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      repro.push(...args.slice(i + 1));
      break;
    }
    if (a === "--gpus" || a.startsWith("--gpus=")) {
      const v = a === "--gpus" ? args[++i] : a.slice("--gpus=".length);
      if (v === "all") gpus = "all";
      else if (v !== undefined && /^\d+$/.test(v) && Number(v) >= 1) {
        gpus = Number(v);
      } else {
        throw new RangeError(
          `--gpus must be "all" or a positive integer, got "${v}"`,
        );
      }
    } else if (a === "--print") dryRun = true;
    else if (a === "--shard" || a.startsWith("--shard=")) {
      throw new RangeError(
        `--shard is set by the launcher, one per GPU; do not pass it (got "${a}")`,
      );
    } else repro.push(a);
  }
  if (repro.length === 0) {
    repro.push("all", "--preset", env.POF_PRESET || "paper");
  } else if (
    !repro.some((a) => a === "--preset" || a.startsWith("--preset=")) &&
    env.POF_PRESET
  ) {
    repro.push("--preset", env.POF_PRESET);
  }
  return { gpus, dryRun, repro };
}

/**
 * The GPU ids to use: `CUDA_VISIBLE_DEVICES` entries when set, else the
 * indices `listed` by nvidia-smi (null when it could not be run); `--gpus N`
 * takes the first N (and, with nothing listed, assumes 0..N-1).
 *
 * @example
 * ```ts
 * import { resolveGpuIds } from "./launch_gpus.ts";
 * if (resolveGpuIds("all", { CUDA_VISIBLE_DEVICES: "2,3" }, null).join() !== "2,3") throw new Error();
 * if (resolveGpuIds(2, {}, ["0", "1", "2"]).join() !== "0,1") throw new Error();
 * ```
 */
export function resolveGpuIds(
  gpus: "all" | number,
  env: Record<string, string | undefined>,
  listed: string[] | null,
): string[] {
  const visible = env.CUDA_VISIBLE_DEVICES;
  let ids: string[] | null = null;
  if (visible !== undefined) {
    ids = visible.split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (ids.length === 0) {
      throw new RangeError(
        `CUDA_VISIBLE_DEVICES is set but empty ("${visible}"): no GPU to launch on`,
      );
    }
  } else if (listed !== null) ids = listed;
  if (gpus === "all") {
    if (ids === null) {
      throw new RangeError(
        "--gpus all: nvidia-smi could not be run and CUDA_VISIBLE_DEVICES is not set; pass --gpus N",
      );
    }
    if (ids.length === 0) throw new RangeError("--gpus all: no GPU found");
    return ids;
  }
  if (ids === null) return Array.from({ length: gpus }, (_, i) => String(i));
  if (gpus > ids.length) {
    throw new RangeError(
      `--gpus ${gpus}: only ${ids.length} GPU(s) available (${ids.join(",")})`,
    );
  }
  return ids.slice(0, gpus);
}

/**
 * The processes to start: one shard per GPU, then the final pass.
 *
 * @example
 * ```ts
 * import { planShards } from "./launch_gpus.ts";
 * const p = planShards(["0", "1"], ["all"]);
 * if (p.length !== 3 || p[1].args.join(" ") !== "task repro all --shard 1/2") throw new Error();
 * if (p[1].env.CUDA_VISIBLE_DEVICES !== "1" || p[2].shard !== null) throw new Error();
 * ```
 */
export function planShards(gpuIds: string[], repro: string[]): ShardCommand[] {
  if (gpuIds.length === 0) throw new RangeError("planShards: no GPU ids given");
  const n = gpuIds.length;
  const shards: ShardCommand[] = gpuIds.map((gpu, i) => ({
    gpu,
    shard: `${i}/${n}`,
    args: ["task", "repro", ...repro, "--shard", `${i}/${n}`],
    env: { CUDA_VISIBLE_DEVICES: gpu },
  }));
  shards.push({
    gpu: gpuIds[0],
    shard: null,
    args: ["task", "repro", ...repro],
    env: { CUDA_VISIBLE_DEVICES: gpuIds[0] },
  });
  return shards;
}

async function pipePrefixed(
  stream: ReadableStream<Uint8Array>,
  prefix: string,
  write: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop()!;
    for (const p of parts) write(`${prefix}${p}`);
  }
  if (rest !== "") write(`${prefix}${rest}`);
}

/**
 * Starts `commands` in parallel with `program` and waits for all; returns
 * their exit codes in order. Output lines go to `write`, prefixed with
 * `[gpu <id>]`.
 *
 * @example
 * ```ts
 * import { runParallel } from "./launch_gpus.ts";
 * const lines: string[] = [];
 * const codes = await runParallel(Deno.execPath(), [
 *   { gpu: "0", shard: "0/1", args: ["eval", "console.log(Deno.env.get('CUDA_VISIBLE_DEVICES'))"], env: { CUDA_VISIBLE_DEVICES: "0" } },
 * ], (l) => lines.push(l));
 * if (codes[0] !== 0 || lines[0] !== "[gpu 0] 0") throw new Error(lines.join("|"));
 * ```
 */
export async function runParallel(
  program: string,
  commands: ShardCommand[],
  write: (line: string) => void,
): Promise<number[]> {
  return await Promise.all(commands.map(async (c) => {
    const child = new Deno.Command(program, {
      args: c.args,
      env: c.env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const prefix = `[gpu ${c.gpu}] `;
    const [status] = await Promise.all([
      child.status,
      pipePrefixed(child.stdout, prefix, write),
      pipePrefixed(child.stderr, prefix, write),
    ]);
    return status.code;
  }));
}

async function listGpuIndices(): Promise<string[] | null> {
  try {
    const out = await new Deno.Command("nvidia-smi", {
      args: ["--query-gpu=index", "--format=csv,noheader"],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!out.success) return null;
    return new TextDecoder().decode(out.stdout).split("\n").map((s) => s.trim())
      .filter((s) => s !== "");
  } catch {
    return null;
  }
}

if (import.meta.main) {
  const env = Deno.env.toObject();
  let plan: ShardCommand[];
  let dryRun: boolean;
  try {
    const opts = parseLaunchArgs(Deno.args, env);
    dryRun = opts.dryRun;
    const ids = resolveGpuIds(opts.gpus, env, await listGpuIndices());
    plan = planShards(ids, opts.repro);
  } catch (e) {
    console.error(`repro:gpus: ${(e as Error).message}`);
    Deno.exit(2);
  }
  const shards = plan.slice(0, -1), final = plan[plan.length - 1];
  for (const c of plan) {
    console.log(
      `repro:gpus: ${
        c.shard === null ? "then" : "start"
      } CUDA_VISIBLE_DEVICES=${c.gpu} deno ${c.args.join(" ")}`,
    );
  }
  if (dryRun) Deno.exit(0);
  const write = (l: string) => console.log(l);
  const codes = await runParallel(Deno.execPath(), shards, write);
  const failed = codes.flatMap((c, i) =>
    c === 0 ? [] : [`shard ${shards[i].shard} (exit ${c})`]
  );
  if (failed.length > 0) {
    console.error(
      `repro:gpus: failed: ${failed.join(", ")}; outputs not written`,
    );
    Deno.exit(1);
  }
  const [code] = await runParallel(Deno.execPath(), [final], write);
  Deno.exit(code);
}
