/**
 * The import graph of `lib/` points only downward (CONTRIBUTING.md): tree/rng
 * -> models, data -> optim -> train -> analysis, and nothing in `lib/` reaches
 * `repro/`, the notebooks or the tools. Every relative specifier counts,
 * including those inside `@example` blocks, which `deno test --doc` runs.
 */
import { assertEquals } from "@std/assert";

const LIB = new URL("./", import.meta.url).pathname;

/**
 * Rank of each layer: a module may import only layers of strictly lower
 * rank, or its own layer. Layers of equal rank (models, data, plot) are
 * independent of each other.
 */
const RANK: Record<string, number> = {
  kernels: 0,
  atomic_write: 0,
  stats: 0,
  preset_name: 0,
  wasm_threads: 0,
  rng: 1,
  backend: 1,
  backend_memory: 1,
  tree: 2,
  models: 3,
  data: 3,
  plot: 3,
  optim: 4,
  train: 5,
  analysis: 6,
};

/** `lib/<layer>/...` or `lib/<layer>.ts` -> layer; null outside lib/. */
function layerOf(relPath: string): string | null {
  if (!relPath.startsWith("lib/")) return null;
  const rest = relPath.slice(4);
  const slash = rest.indexOf("/");
  return slash < 0 ? rest.replace(/(_test)?\.ts$/, "") : rest.slice(0, slash);
}

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}${e.name}`;
    if (e.isDirectory) yield* tsFiles(`${path}/`);
    else if (e.name.endsWith(".ts")) yield path;
  }
}

/** The relative specifiers a source text imports (code and doc examples). */
export function relativeImports(source: string): string[] {
  const out: string[] = [];
  const re =
    /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g;
  for (const m of source.matchAll(re)) out.push(m[1]);
  return out;
}

/**
 * Every import in `lib/` that breaks the layering, as
 * `file -> target (why)`.
 */
async function violations(): Promise<string[]> {
  const root = new URL("../", import.meta.url).pathname;
  const bad: string[] = [];
  for await (const file of tsFiles(LIB)) {
    const from = file.slice(root.length);
    if (from === "lib/layering_test.ts") continue; // its fixtures are strings
    const isTest = from.endsWith("_test.ts");
    const fromLayer = layerOf(from)!;
    if (!(fromLayer in RANK)) {
      bad.push(`${from}: unknown layer ${fromLayer} (add it to RANK)`);
      continue;
    }
    const text = await Deno.readTextFile(file);
    for (const spec of relativeImports(text)) {
      const target = new URL(spec, `file://${file}`).pathname.slice(
        root.length,
      );
      const toLayer = layerOf(target);
      if (toLayer === null) {
        // Tests may use the shared test helpers; nothing else leaves lib/.
        if (isTest && target.startsWith("tests/helpers/")) continue;
        bad.push(`${from} -> ${target} (outside lib/)`);
        continue;
      }
      if (toLayer === fromLayer || isTest) continue;
      if (!(RANK[toLayer] < RANK[fromLayer])) {
        bad.push(
          `${from} -> ${target} (${fromLayer} may not import ${toLayer})`,
        );
      }
    }
  }
  return bad.sort();
}

Deno.test("relativeImports finds static, dynamic and doc-example imports", () => {
  const src = [
    'import { a } from "./a.ts";',
    'import type { B } from "../b.ts";',
    'export * from "./c.ts";',
    'import "./d.ts";',
    'const e = await import("../../e.ts");',
    ' * import { f } from "../../repro/f.ts";',
    'import { g } from "npm:g@1";',
  ].join("\n");
  assertEquals(relativeImports(src), [
    "./a.ts",
    "../b.ts",
    "./c.ts",
    "./d.ts",
    "../../e.ts",
    "../../repro/f.ts",
  ]);
});

Deno.test("lib/ imports point only downward and never leave lib/", async () => {
  assertEquals(await violations(), []);
});
