/**
 * A helper script run as its own process (from the repository root, with the
 * offline import map), its last stdout line parsed as JSON: for tests that
 * need a fresh process, e.g. a different wasm thread count (fixed per
 * process).
 *
 * @module
 */
import { assert } from "@std/assert";

const ROOT = new URL("../..", import.meta.url).pathname;

/**
 * Runs `deno run -A <script> <args>` (`script` relative to the repository
 * root) and returns its last stdout line as JSON; fails with the end of its
 * stderr when it exits non-zero.
 *
 * @example
 * ```ts
 * import { childJson } from "./child_json.ts";
 * const r = await childJson("tests/helpers/pool_kernels.ts", ["1"]) as { threads: number };
 * if (r.threads !== 1) throw new Error(String(r.threads));
 * ```
 */
export async function childJson(
  script: string,
  args: string[] = [],
): Promise<unknown> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `--import-map=${ROOT}tools/offline_import_map.json`,
      `${ROOT}${script}`,
      ...args,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(o.success, new TextDecoder().decode(o.stderr).slice(-2000));
  return JSON.parse(
    new TextDecoder().decode(o.stdout).trim().split("\n").pop()!,
  );
}
