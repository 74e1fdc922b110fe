/**
 * tools/offline_import_map.json (used by `deno task test` / `check` where JSR
 * is unreachable) and deno.json's imports (used with JSR) name the same
 * packages at the same versions; only the @std entries differ, mapping
 * jsr:@std/<name>@^1 to the stand-in tools/std/<name>.ts.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";

const ROOT = new URL("../", import.meta.url);
const readJson = (path: string) =>
  JSON.parse(Deno.readTextFileSync(new URL(path, ROOT))) as {
    imports: Record<string, string>;
  };

Deno.test("offline import map and deno.json imports agree except for @std", () => {
  const online = readJson("deno.json").imports;
  const offline = readJson("tools/offline_import_map.json").imports;
  assertEquals(Object.keys(offline).sort(), Object.keys(online).sort());
  for (const [name, spec] of Object.entries(online)) {
    if (name.startsWith("@std/")) {
      const std = name.slice("@std/".length);
      assertEquals(spec, `jsr:@std/${std}@^1`, name);
      assertEquals(offline[name], `./std/${std}.ts`, name);
      // The stand-in exists beside the map.
      const file = new URL(offline[name], new URL("tools/", ROOT));
      assert(Deno.statSync(file).isFile, file.pathname);
    } else {
      assertEquals(offline[name], spec, name);
    }
  }
});

Deno.test("every @std module the project imports has a stand-in", () => {
  const offline = readJson("tools/offline_import_map.json").imports;
  const used = new Set<string>();
  const walk = (dir: URL) => {
    for (const e of Deno.readDirSync(dir)) {
      if (e.name === "node_modules" || e.name.startsWith(".")) continue;
      const url = new URL(e.isDirectory ? `${e.name}/` : e.name, dir);
      if (e.isDirectory) walk(url);
      else if (/\.(ts|tsx)$/.test(e.name)) {
        const text = Deno.readTextFileSync(url);
        for (const m of text.matchAll(/from\s+["'](@std\/[^"']+)["']/g)) {
          used.add(m[1]);
        }
      }
    }
  };
  walk(ROOT);
  assert(used.has("@std/assert"), "expected tests to import @std/assert");
  for (const spec of used) {
    // Only bare package names (no sub-paths such as @std/assert/equals), each mapped.
    assertMatch(spec, /^@std\/[a-z-]+$/);
    assert(spec in offline, `${spec} is imported but has no offline stand-in`);
  }
});
