/**
 * The Dockerfile, tools/install.sh and .ci/run stay in sync with each other
 * and with deno.json / deno.lock: the same pins, the same install steps (CI
 * runs the script the image runs, minus its CUDA-only parts), the base image
 * pinned by digest.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { TENSORFLOW_PACKAGES, TFJS_VERSION } from "../lib/backend.ts";
import { PRESET_NAMES } from "../repro/target.ts";

const ROOT = new URL("../", import.meta.url);
const read = (path: string) => Deno.readTextFileSync(new URL(path, ROOT));

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const lines = text.split("\n").filter((l) => !/^\s*#/.test(l));
  const joined = lines.join("\n").replace(/\\\n/g, " ");
  return joined.split("\n").map((l) => l.trim()).filter((l) => l !== "").map(
    (l) => {
      const m = l.match(/^(\S+)\s+(.*)$/);
      assert(m, `unparsable Dockerfile line: ${l}`);
      return { op: m[1].toUpperCase(), args: m[2] };
    },
  );
}

/** `NAME="value"` assignments at the top level of a shell script, `${NAME}` of earlier ones expanded. */
function shellVars(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^([A-Z_][A-Z0-9_]*)="([^"]*)"$/gm)) {
    out[m[1]] = m[2].replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (_, k) => {
      assert(k in out, `${m[1]} uses \${${k}} before it is set`);
      return out[k];
    });
  }
  return out;
}

const dockerfile = read("Dockerfile");
const instructions = parseDockerfile(dockerfile);
const install = read("tools/install.sh");
const vars = shellVars(install);
const denoJson = JSON.parse(read("deno.json")) as {
  imports: Record<string, string>;
  tasks: Record<string, string>;
};
const lock = JSON.parse(read("deno.lock")) as {
  specifiers: Record<string, string>;
  npm: Record<string, unknown>;
};

Deno.test("the base image is NVIDIA CUDA 11.8 + cuDNN 8 runtime, pinned by digest", () => {
  const froms = instructions.filter((i) => i.op === "FROM");
  assertEquals(froms.length, 1);
  assertMatch(
    froms[0].args,
    /^nvidia\/cuda:11\.8\.\d+-cudnn8-runtime-ubuntu22\.04@sha256:[0-9a-f]{64}$/,
  );
  // The comment says how the digest was obtained and how to check it.
  assertStringIncludes(dockerfile, "How the digest was obtained");
  assertStringIncludes(dockerfile, "docker buildx imagetools inspect");
});

Deno.test("install.sh's tfjs pin agrees with lib/backend.ts, deno.json and deno.lock", () => {
  assertEquals(vars.TFJS_VERSION, TFJS_VERSION);
  for (const [name, spec] of Object.entries(denoJson.imports)) {
    if (!spec.startsWith("npm:")) continue;
    // Every npm import is pinned exactly...
    const m = spec.match(/^npm:(@?[^@]+)@(\d+\.\d+\.\d+)$/);
    assert(m, `deno.json imports "${name}": not an exact npm pin: ${spec}`);
    if (m[1].startsWith("@tensorflow/")) assertEquals(m[2], TFJS_VERSION, spec);
    // ...and locked at that version.
    const locked = lock.specifiers[spec];
    assert(locked, `deno.lock has no entry for ${spec}`);
    assertEquals(locked.split("_")[0], m[2], spec);
    assert(
      `${m[1]}@${locked}` in lock.npm,
      `deno.lock's npm section lacks ${m[1]}@${locked}`,
    );
  }
});

Deno.test("the GPU package whose script the image allows is the one the backend loads, pinned and locked", () => {
  const allowed = vars.CUDA_ALLOW_SCRIPTS.split(/\s+/);
  assertEquals(allowed, [`npm:${TENSORFLOW_PACKAGES[0]}@${TFJS_VERSION}`]);
  for (const pkg of TENSORFLOW_PACKAGES) {
    assertEquals(denoJson.imports[pkg], `npm:${pkg}@${TFJS_VERSION}`);
  }
});

Deno.test("install.sh: Deno pin and integrities, package lists, npm install from the lock", () => {
  assertMatch(vars.DENO_VERSION, /^\d+\.\d+\.\d+$/);
  const [maj, min, pat] = vars.DENO_VERSION.split(".").map(Number);
  // Headless notebooks need Deno >= 2.8.2.
  assert(maj * 1e6 + min * 1e3 + pat >= 2_008_002, vars.DENO_VERSION);
  for (const k of ["DENO_NPM_INTEGRITY_X64", "DENO_NPM_INTEGRITY_ARM64"]) {
    const m = vars[k].match(/^sha512-([A-Za-z0-9+/]+={0,2})$/);
    assert(m, `${k}: ${vars[k]}`);
    assertEquals(atob(m[1]).length, 64, k);
  }
  const apt = vars.APT_PACKAGES.split(/\s+/);
  for (
    const p of [
      "dataset-fashion-mnist",
      "jupyter-client",
      "python3-nbclient",
      "python3-ipykernel",
    ]
  ) assert(apt.includes(p), `APT_PACKAGES lacks ${p}`);
  assert(vars.CUDA_APT_PACKAGES.split(/\s+/).includes("cuda-nvcc-11-8"));
  assertStringIncludes(
    install,
    "install --frozen-lockfile --import-map=tools/offline_import_map.json",
  );
  assertStringIncludes(install, "jupyter --install");
});

Deno.test("the Dockerfile runs install.sh --cuda after copying everything it reads", () => {
  const runIdx = instructions.findIndex((i) =>
    i.op === "RUN" && /bash tools\/install\.sh --cuda\b/.test(i.args)
  );
  assert(runIdx >= 0, "no RUN bash tools/install.sh --cuda");
  const copied = instructions.slice(0, runIdx).filter((i) => i.op === "COPY")
    .flatMap((i) => {
      const parts = i.args.split(/\s+/);
      const dest = parts.pop()!;
      return parts.map((src) =>
        dest.endsWith("/") && !dest.startsWith("./")
          ? `${dest}${src.split("/").pop()}`
          : dest === "./"
          ? src
          : dest
      );
    });
  // Files install.sh reads from the checkout.
  for (const f of ["deno.json", "deno.lock", "tools/install.sh"]) {
    assert(copied.includes(f), `${f} not copied before install.sh: ${copied}`);
  }
  for (const m of install.matchAll(/tools\/[a-z_]+\.json/g)) {
    assert(copied.includes(m[0]), `${m[0]} not copied before install.sh`);
  }
  // The image's node_modules (built with the addon) must not be overwritten by the host's.
  assert(
    read(".dockerignore").split("\n").map((l) => l.trim()).includes(
      "node_modules",
    ),
    ".dockerignore must exclude node_modules",
  );
});

Deno.test(".ci/run runs the same script without the CUDA-only parts, then check and test", () => {
  const ci = read(".ci/run");
  assertMatch(ci, /^if ! bash tools\/install\.sh; then$/m);
  assertEquals(ci.includes("--cuda"), false);
  assertEquals(ci.includes("POF_INSTALL_CUDA"), false);
  const check = ci.indexOf("deno task check");
  const test = ci.indexOf("deno task test");
  assert(check > 0 && test > check);
  // Nothing is skipped in CI; then the Quick start in a clean clone.
  const run = ci.indexOf("\ndeno task test ");
  const require = ci.indexOf("\nexport POF_REQUIRE_ALL=1\n");
  assert(require > 0 && require < run, "POF_REQUIRE_ALL=1 before the tests");
  const fresh = ci.indexOf("if ! bash tools/fresh_clone_check.sh");
  assert(fresh > run, "the fresh-clone check runs after the tests");
});

Deno.test("ENV, CMD, volumes and ports of the image", () => {
  const env = instructions.filter((i) => i.op === "ENV").map((i) => i.args)
    .join(" ");
  assertMatch(env, /\bPOF_PRESET=paper\b/);
  assert((PRESET_NAMES as readonly string[]).includes("paper"));
  assertMatch(env, /\bCUDA_CACHE_PATH=\/cache\/cuda\b/);
  const cmd = instructions.filter((i) => i.op === "CMD");
  assertEquals(cmd.length, 1);
  assertStringIncludes(cmd[0].args, "deno task repro:all");
  assertStringIncludes(cmd[0].args, "$POF_PRESET");
  assert("repro:all" in denoJson.tasks, "deno.json has no task repro:all");
  assert("gpu:check" in denoJson.tasks, "deno.json has no task gpu:check");
  // tools/launch_gpus.ts starts `deno task repro ... --shard i/n`.
  assert("repro" in denoJson.tasks, "deno.json has no task repro");
  assert("repro:gpus" in denoJson.tasks, "deno.json has no task repro:gpus");
  const workdir = instructions.filter((i) => i.op === "WORKDIR").pop()!.args;
  const volumes = JSON.parse(
    instructions.find((i) => i.op === "VOLUME")!.args,
  ) as string[];
  for (const v of ["results", "data"]) {
    assert(volumes.includes(`${workdir}/${v}`), `volume ${workdir}/${v}`);
  }
  assert(volumes.includes("/cache"));
  const port = instructions.find((i) => i.op === "EXPOSE")!.args;
  assertStringIncludes(dockerfile, `jupyter lab --ip=0.0.0.0 --port=${port}`);
  // pip installs are pinned exactly.
  const runs = instructions.filter((i) => i.op === "RUN").map((i) => i.args);
  const pips = runs.flatMap((r) => [...r.matchAll(/pip install ([^&;|]*)/g)]);
  assert(pips.length > 0, "expected a pip install of JupyterLab");
  for (const m of pips) {
    const pkgs = m[1].trim().split(/\s+/).filter((w) => !w.startsWith("-"));
    assert(pkgs.length > 0, m[0]);
    for (const pkg of pkgs) {
      assertMatch(pkg.replace(/"/g, ""), /^[A-Za-z0-9_.-]+==\d+(\.\d+)*$/);
    }
  }
});

Deno.test("the shell scripts parse, and install.sh rejects an unknown option by name", async () => {
  for (
    const f of ["tools/install.sh", ".ci/run", "tools/fresh_clone_check.sh"]
  ) {
    const out = await new Deno.Command("bash", {
      args: ["-n", new URL(f, ROOT).pathname],
      stderr: "piped",
    }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  }
  const out = await new Deno.Command("bash", {
    args: [new URL("tools/install.sh", ROOT).pathname, "--gpu"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 2);
  assertStringIncludes(
    new TextDecoder().decode(out.stderr),
    "unknown option '--gpu'",
  );
});
