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
