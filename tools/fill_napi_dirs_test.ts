import { assert, assertEquals, assertStringIncludes } from "@std/assert";

const script = new URL("./fill_napi_dirs.sh", import.meta.url).pathname;

async function run(...args: string[]) {
  const out = await new Deno.Command("bash", {
    args: [script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

Deno.test("fill_napi_dirs.sh: the addon and its libtensorflow link land in every napi_versions folder", async () => {
  const pkg = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${pkg}/package.json`,
    JSON.stringify(
      {
        binary: {
          module_path: "./lib/napi-v{napi_build_version}",
          napi_versions: [3, 4, 8],
        },
      },
      null,
      2,
    ),
  );
  await Deno.mkdir(`${pkg}/lib/napi-v4`, { recursive: true });
  await Deno.mkdir(`${pkg}/deps/lib`, { recursive: true });
  await Deno.writeTextFile(`${pkg}/deps/lib/libtensorflow.so.2`, "tf");
  await Deno.writeTextFile(`${pkg}/lib/napi-v4/tfjs_binding.node`, "addon");
  await Deno.symlink(
    "../../deps/lib/libtensorflow.so.2",
    `${pkg}/lib/napi-v4/libtensorflow.so.2`,
  );
  const r = await run(pkg);
  assertEquals(r.code, 0, r.stderr);
  for (const v of [3, 4, 8]) {
    assertEquals(
      await Deno.readTextFile(`${pkg}/lib/napi-v${v}/tfjs_binding.node`),
      "addon",
    );
    // The relative link resolves from the copy too.
    assertEquals(
      await Deno.readTextFile(`${pkg}/lib/napi-v${v}/libtensorflow.so.2`),
      "tf",
    );
  }
  assertEquals(r.stdout.trim().split("\n").length, 2);
  // Idempotent.
  assertEquals((await run(pkg)).stdout, "");
});

Deno.test("fill_napi_dirs.sh: no addon anywhere is one clear error naming the package", async () => {
  const pkg = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${pkg}/package.json`,
    '{"binary": {"napi_versions": [8]}}',
  );
  const r = await run(pkg);
  assert(r.code !== 0);
  assertStringIncludes(
    r.stderr,
    `no lib/napi-v*/tfjs_binding.node under '${pkg}'`,
  );
});
