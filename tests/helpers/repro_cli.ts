/**
 * `repro/main.ts` as a subprocess, the way `deno task repro` runs it (from
 * the repository root, with the offline import map), for the CLI tests.
 *
 * @module
 */

const ROOT = new URL("../..", import.meta.url).pathname;

/**
 * The command for `repro/main.ts <args>`; stdin closed, stderr piped.
 *
 * @example
 * ```ts
 * import { reproCommand } from "./repro_cli.ts";
 * const out = await reproCommand(["--help"]).output();
 * if (out.code !== 0) throw new Error(String(out.code));
 * ```
 */
export function reproCommand(
  args: string[],
  stdout: "piped" | "null" = "piped",
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--import-map=tools/offline_import_map.json",
      "repro/main.ts",
      ...args,
    ],
    cwd: ROOT,
    stdin: "null",
    stdout,
    stderr: "piped",
  });
}

/**
 * Runs `repro/main.ts <args>` to the end: exit code, stdout and stderr.
 *
 * @example
 * ```ts
 * import { runRepro } from "./repro_cli.ts";
 * const r = await runRepro(["--help"]);
 * if (r.code !== 0 || !r.stdout.includes("--jobs")) throw new Error(r.stderr);
 * ```
 */
export async function runRepro(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await reproCommand(args).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}
