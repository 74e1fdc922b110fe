import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { main } from "./data.ts";

async function capture(
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const log = console.log, error = console.error;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    const code = await main(args);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("deno task data: --fabricate writes real-format files, then lists and parses them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await capture([
      "cifar100",
      "--fabricate",
      "10",
      "--data-dir",
      dir,
    ]);
    assertEquals(r.code, 0, r.err);
    assertStringIncludes(r.out, "cifar-100-binary.tar.gz");
    assertStringIncludes(r.out, "total ");
    // CIFAR-100 fabricated: 5 batches of ceil(10/5) = 2 -> train 10, test 2
    assertStringIncludes(r.out, "train: 10 images");
    assertStringIncludes(r.out, "test: 2 images");
    const st = await Deno.stat(
      `${dir}/fabricated/cifar100/cifar-100-binary.tar.gz`,
    );
    assert(r.out.includes(`${(st.size / 1024).toFixed(1)} KiB`), r.out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task data: offline and missing -> exit 1 with a one-line error; usage errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await capture(["cifar10", "--offline", "--data-dir", dir]);
    assertEquals(r.code, 1);
    assertEquals(r.err.split("\n").length, 1);
    assertStringIncludes(r.err, "cifar-10-binary.tar.gz");
    const u = await capture(["imagenet", "--data-dir", dir]);
    assertEquals(u.code, 1);
    assertStringIncludes(u.err, 'unknown dataset "imagenet"');
    assertEquals((await capture([])).code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task data --data-dir that cannot be created: exit 2, one line with the path and the OS error", async () => {
  const file = await Deno.makeTempFile();
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--import-map=tools/offline_import_map.json",
      "repro/data.ts",
      "synthetic-images",
      "--data-dir",
      `${file}/data`,
    ],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(r.stderr).trim();
  assertEquals(r.code, 2, err);
  assertEquals(err.split("\n").length, 1, err);
  assertStringIncludes(
    err,
    `error: --data-dir ${file}/data: cannot create or write`,
  );
  assertStringIncludes(err, "(os error ");
  await Deno.remove(file);
});
