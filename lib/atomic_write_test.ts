import { assertEquals, assertRejects } from "@std/assert";
import { writeFileAtomic } from "./atomic_write.ts";

Deno.test("an atomic write replaces the file and leaves no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/a.json`;
  await writeFileAtomic(path, "old");
  await writeFileAtomic(path, "new");
  assertEquals(await Deno.readTextFile(path), "new");
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  assertEquals(names, ["a.json"]);
});

Deno.test("a write that fails midway keeps the old file and removes the temporary one", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/a.bin`;
  await writeFileAtomic(path, new Uint8Array([1, 2]));
  await assertRejects(
    () =>
      writeFileAtomic(path, new Uint8Array([9, 9, 9, 9]), {
        write: async (f, b) => {
          await f.write(b.subarray(0, 1));
          throw new Error("disk full");
        },
      }),
    Error,
    "disk full",
  );
  assertEquals([...await Deno.readFile(path)], [1, 2]);
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  assertEquals(names, ["a.bin"]);
});

Deno.test("a write into a missing folder fails when mkdir is off", async () => {
  const dir = await Deno.makeTempDir();
  await assertRejects(
    () => writeFileAtomic(`${dir}/no/a.txt`, "x", { mkdir: false }),
    Deno.errors.NotFound,
  );
});
