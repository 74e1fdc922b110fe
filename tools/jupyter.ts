/**
 * Finding Jupyter for `deno task notebooks`: a Python with nbclient that
 * sees the Deno kernel, registering the kernel (`deno jupyter --install`)
 * when Jupyter is there but the kernel is not.
 *
 * @module
 */

const PROBE_PY = `
import nbclient, nbformat
print("nbclient ok")
from jupyter_client.kernelspec import KernelSpecManager
KernelSpecManager().get_kernel_spec("deno")
print("kernel ok")
`;

/**
 * Runs `cmd` with `args` (and `env`), capturing its output; a command that
 * cannot start gives code 127 and the reason on stderr.
 *
 * @example
 * ```ts
 * import { run } from "./jupyter.ts";
 * const r = await run(Deno.execPath(), ["--version"]);
 * if (r.code !== 0 || !r.stdout.includes("deno")) throw new Error(r.stderr);
 * ```
 */
export async function run(
  cmd: string,
  args: string[],
  env?: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const o = await new Deno.Command(cmd, {
      args,
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return {
      code: o.code,
      stdout: dec.decode(o.stdout),
      stderr: dec.decode(o.stderr),
    };
  } catch (e) {
    return { code: 127, stdout: "", stderr: String(e) };
  }
}

/** The command that installs Jupyter's Python side (root needed). */
export const JUPYTER_INSTALL =
  "sudo apt-get install jupyter-client python3-nbclient python3-ipykernel (or pip install nbclient ipykernel)";

/**
 * The Pythons to try: `$PYTHON` if set, else every `python3` on `PATH` in
 * order (so a pyenv shim without Jupyter does not hide the system's).
 */
function pythonCandidates(): string[] {
  const env = Deno.env.get("PYTHON");
  if (env) return [env];
  const out: string[] = [];
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      if (Deno.statSync(`${dir}/python3`).isFile) out.push(`${dir}/python3`);
    } catch { /* not here */ }
  }
  return out;
}

/** What {@link probeJupyter} found. */
export interface JupyterProbe {
  /** A Python with nbclient, or null. */
  python: string | null;
  /** Whether that Python sees the Deno kernel. */
  kernel: boolean;
  /** Why each candidate failed. */
  tried: string[];
}

/**
 * Looks for a Python with nbclient (Jupyter) and whether it sees the `deno`
 * kernel, without changing anything.
 *
 * @example
 * ```ts
 * import { probeJupyter } from "./jupyter.ts";
 * const p = await probeJupyter();
 * if (p.kernel && p.python === null) throw new Error();
 * ```
 */
export async function probeJupyter(): Promise<JupyterProbe> {
  const tried: string[] = [];
  let withoutKernel: string | null = null;
  for (const py of pythonCandidates()) {
    const r = await run(py, ["-c", PROBE_PY]);
    if (r.stdout.includes("kernel ok")) {
      return { python: py, kernel: true, tried };
    }
    if (r.stdout.includes("nbclient ok")) withoutKernel ??= py;
    const last = r.stderr.trim().split("\n").pop() ?? "";
    tried.push(`${py}: ${last}`);
  }
  if (tried.length === 0) tried.push("no python3 on PATH");
  return { python: withoutKernel, kernel: false, tried };
}

/**
 * Finds a Python with nbclient and the `deno` kernel registered. When
 * Jupyter is there but the kernel is not, registers it first (`deno jupyter
 * --install`: the user's kernelspec folder, no root), saying so through
 * `log`. Throws a message saying what to install when there is no Jupyter.
 *
 * @example
 * ```ts ignore
 * import { findPython } from "./jupyter.ts";
 * console.log(await findPython());
 * ```
 */
export async function findPython(
  log: (line: string) => void = console.log,
): Promise<string> {
  let probe = await probeJupyter();
  if (probe.python !== null && !probe.kernel) {
    log(
      "notebooks: registering the Deno Jupyter kernel (deno jupyter --install)",
    );
    const r = await run(Deno.execPath(), ["jupyter", "--install"]);
    if (r.code !== 0) {
      throw new Error(
        `deno jupyter --install failed (exit ${r.code}): ${r.stderr.trim()}`,
      );
    }
    probe = await probeJupyter();
  }
  if (probe.python !== null && probe.kernel) return probe.python;
  throw new Error(
    `no Python with nbclient and the Deno kernel found (${
      probe.tried.join("; ")
    }). Install Jupyter: ${JUPYTER_INSTALL}.`,
  );
}

/** What happened to one notebook. */
