/**
 * The package publishes: `deno publish --dry-run` (offline: it checks the
 * graph of `mod.ts` and the file list, and contacts JSR only to upload)
 * exits 0, warns about nothing, and ships the library without its tests.
 */
import { assert, assertEquals } from "@std/assert";

const ROOT = new URL("../", import.meta.url);

Deno.test("deno publish --dry-run: exit 0, no warning, library files only", async () => {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(r.stdout) +
    new TextDecoder().decode(r.stderr);
  assertEquals(r.code, 0, text);
  assert(!/^warning/m.test(text), text);
  const config = JSON.parse(
    Deno.readTextFileSync(new URL("deno.json", ROOT)),
  ) as { name: string; version: string };
  assert(
    text.includes(`Simulating publish of ${config.name}@${config.version}`),
    text,
  );
  const root = new URL(".", ROOT).pathname;
  const shipped = [...text.matchAll(/^\s+file:\/\/(\S+) \(/gm)].map((m) =>
    m[1].slice(root.length)
  );
  assert(shipped.length > 0, text);
  for (const f of ["LICENSE", "README.md", "mod.ts", "lib/backend.ts"]) {
    assert(shipped.includes(f), `${f} not shipped: ${shipped.join(", ")}`);
  }
  const wrong = shipped.filter((f) =>
    f.endsWith("_test.ts") || f.includes("testdata/") ||
    !(f.startsWith("lib/") ||
      ["LICENSE", "README.md", "mod.ts", "deno.json"].includes(f))
  );
  assertEquals(wrong, []);
});

Deno.test("deno.json names the package, its version, licence and entry point", () => {
  const config = JSON.parse(
    Deno.readTextFileSync(new URL("deno.json", ROOT)),
  ) as Record<string, unknown>;
  assertEquals(config.exports, "./mod.ts");
  assertEquals(config.license, "MIT");
  assert(
    /^@[a-z0-9-]+\/[a-z0-9-]+$/.test(String(config.name)),
    String(config.name),
  );
  assert(
    /^\d+\.\d+\.\d+$/.test(String(config.version)),
    String(config.version),
  );
  const licence = Deno.readTextFileSync(new URL("LICENSE", ROOT));
  assert(licence.startsWith("MIT License\n"), licence.slice(0, 40));
});
