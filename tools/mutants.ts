/**
 * Mutation testing: `deno task mutants [--only a,b] [--list] [--timeout s]`.
 *
 * Each mutant in {@link MUTANTS} (tools/mutant_list.ts) is a small, plausible
 * bug: one exact source snippet of one file and its replacement, plus the test
 * files that should catch it. For every mutant this tool copies the tree once
 * into a scratch folder (`node_modules` and `data` linked, never the working
 * tree), writes the mutated file there, runs `deno test` on the mutant's test
 * files, and restores the file. A mutant is caught when those tests fail (or
 * run past the timeout) and survives when they pass.
 *
 * Before anything runs, every snippet must occur exactly once in its file, so
 * that code which moved or changed is noticed instead of silently testing
 * nothing. Prints one line per mutant and `mutants: N caught, M survived`;
 * exits 1 when a mutant survives or a snippet is not found exactly once.
 *
 * `deno test` runs with `--no-check` (mutants are type-correct by
 * construction; type checking each scratch copy would double the cost), so
 * the unmutated tests must pass first: CI runs `deno task test` before this.
 *
 * @module
 */
import { parseArgs } from "@std/cli";
import { MUTANTS } from "./mutant_list.ts";

/** One named source mutation and the tests that must catch it. */
export interface Mutant {
  /** Unique kebab-case name. */
  name: string;
  /** Repository-relative path of the mutated file. */
  file: string;
  /** Exact source text; must occur exactly once in `file`. */
  find: string;
  /** What replaces it. */
  replace: string;
  /** Repository-relative test files that must fail under the mutant. */
  tests: string[];
}

/** The outcome of one mutant. */
export interface MutantResult {
  name: string;
  status: "caught" | "timeout" | "survived";
  seconds: number;
}

/**
 * Problems with a mutant list against the tree at `root`: each snippet must
 * occur exactly once, names must be unique, test files must exist. Empty
 * when the list is sound.
 *
 * @example
 * ```ts
 * import { checkMutants } from "./mutants.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/a.ts`, "x + y; x + y;");
 * await Deno.writeTextFile(`${root}/a_test.ts`, "");
 * const bad = await checkMutants(root, [
 *   { name: "m", file: "a.ts", find: "x + y", replace: "x - y", tests: ["a_test.ts"] },
 * ]);
 * if (bad.length !== 1 || !bad[0].includes("found 2 times")) throw new Error(bad.join());
 * ```
 */
export async function checkMutants(
  root: string,
  mutants: readonly Mutant[],
): Promise<string[]> {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const m of mutants) {
    if (seen.has(m.name)) problems.push(`mutant "${m.name}": duplicate name`);
    seen.add(m.name);
    if (m.find === m.replace) {
      problems.push(`mutant "${m.name}": replacement equals the snippet`);
    }
    if (m.tests.length === 0) {
      problems.push(`mutant "${m.name}": no test files listed`);
    }
    let text: string;
    try {
      text = await Deno.readTextFile(`${root}/${m.file}`);
    } catch {
      problems.push(`mutant "${m.name}": cannot read ${m.file}`);
      continue;
    }
    const count = text.split(m.find).length - 1;
    if (count !== 1) {
      problems.push(
        `mutant "${m.name}": snippet found ${count} times in ${m.file} (must be exactly once): ${
          JSON.stringify(m.find.slice(0, 80))
        }`,
      );
    }
    for (const t of m.tests) {
      try {
        await Deno.stat(`${root}/${t}`);
      } catch {
        problems.push(`mutant "${m.name}": test file ${t} does not exist`);
      }
    }
  }
  return problems;
}

const SKIP = new Set([".git", "node_modules", "data", "results", ".cache"]);
const LINK = ["node_modules", "data"];

/**
 * Copies the tree at `root` into a fresh temporary folder (skipping `.git`,
 * `results` and `.cache`; `node_modules` and `data` become symlinks) and
 * returns its path.
 *
 * @example
 * ```ts
 * import { scratchCopy } from "./mutants.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/lib`);
 * await Deno.writeTextFile(`${root}/lib/a.ts`, "1");
 * const copy = await scratchCopy(root);
 * if (await Deno.readTextFile(`${copy}/lib/a.ts`) !== "1") throw new Error();
 * await Deno.remove(copy, { recursive: true });
 * ```
 */
export async function scratchCopy(root: string): Promise<string> {
  const dest = await Deno.makeTempDir({ prefix: "pof-mutants-" });
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(`${root}/${rel}`)) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (!rel && SKIP.has(e.name)) continue;
      if (e.isDirectory) {
        await Deno.mkdir(`${dest}/${path}`);
        await walk(path);
      } else if (e.isFile) {
        await Deno.copyFile(`${root}/${path}`, `${dest}/${path}`);
      } else if (e.isSymlink) {
        await Deno.symlink(
          await Deno.readLink(`${root}/${path}`),
          `${dest}/${path}`,
        );
      }
    }
  };
  await walk("");
  for (const name of LINK) {
    try {
      await Deno.stat(`${root}/${name}`);
      await Deno.symlink(
        await Deno.realPath(`${root}/${name}`),
        `${dest}/${name}`,
      );
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return dest;
}

/**
 * Applies `mutant` in the scratch tree `dir`, runs its tests there with
 * `deno test`, restores the file, and reports whether the tests caught it.
 * `testArgs` are the arguments before the test files (default: this
 * project's offline test command with `--no-check`).
 *
 * @example
 * ```ts
 * import { runMutant } from "./mutants.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/add.ts`, "export const add = (a: number, b: number) => a + b;\n");
 * await Deno.writeTextFile(`${dir}/add_test.ts`,
 *   'import { add } from "./add.ts";\nDeno.test("add", () => { if (add(2, 3) !== 5) throw new Error(); });\n');
 * const m = { name: "sub", file: "add.ts", find: "a + b", replace: "a - b", tests: ["add_test.ts"] };
 * const r = await runMutant(dir, m, { testArgs: ["test", "--no-check"] });
 * if (r.status !== "caught") throw new Error(r.status);
 * const weak = await runMutant(dir, { ...m, replace: "b + a" }, { testArgs: ["test", "--no-check"] });
 * if (weak.status !== "survived") throw new Error(weak.status);
 * if (!(await Deno.readTextFile(`${dir}/add.ts`)).includes("a + b")) throw new Error("not restored");
 * ```
 */
export async function runMutant(
  dir: string,
  mutant: Mutant,
  options: { testArgs?: string[]; timeoutSeconds?: number; verbose?: boolean } =
    {},
): Promise<MutantResult> {
  const path = `${dir}/${mutant.file}`;
  const original = await Deno.readTextFile(path);
  const count = mutant.find === "" ? 1 : original.split(mutant.find).length - 1;
  if (count !== 1) {
    throw new Error(
      `mutant "${mutant.name}": snippet found ${count} times in ${mutant.file}`,
    );
  }
  const args = options.testArgs ?? [
    "test",
    "-A",
    "--no-check",
    "--import-map=tools/offline_import_map.json",
  ];
  const started = performance.now();
  await Deno.writeTextFile(
    path,
    original.replace(mutant.find, () => mutant.replace),
  );
  let status: MutantResult["status"];
  try {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, (options.timeoutSeconds ?? 900) * 1000);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [...args, ...mutant.tests],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      env: { NO_COLOR: "1" },
      signal: controller.signal,
    }).output();
    clearTimeout(timer);
    if (options.verbose) {
      const d = new TextDecoder();
      console.log(d.decode(out.stdout) + d.decode(out.stderr));
    }
    status = timedOut ? "timeout" : out.success ? "survived" : "caught";
  } finally {
    await Deno.writeTextFile(path, original);
  }
  return {
    name: mutant.name,
    status,
    seconds: (performance.now() - started) / 1000,
  };
}

async function main(): Promise<number> {
  const args = parseArgs(Deno.args, {
    string: ["only", "timeout"],
    boolean: ["list", "verbose", "help", "baseline"],
    negatable: ["baseline"],
    default: { baseline: true },
  });
  if (args.help) {
    console.log(
      "usage: deno task mutants [--only name1,name2] [--list] [--timeout seconds] [--verbose] [--no-baseline]",
    );
    return 0;
  }
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  let selected = MUTANTS;
  if (args.only) {
    const want: string[] = String(args.only).split(",").map((s: string) =>
      s.trim()
    ).filter(Boolean);
    const unknown = want.filter((w) => !MUTANTS.some((m) => m.name === w));
    if (unknown.length) {
      console.error(
        `mutants: unknown mutant(s) ${unknown.join(", ")}; see --list`,
      );
      return 2;
    }
    selected = MUTANTS.filter((m) => want.includes(m.name));
  }
  const timeout = Number(args.timeout ?? 900);
  if (!(timeout > 0)) {
    console.error(
      `mutants: --timeout must be a number > 0, got ${args.timeout}`,
    );
    return 2;
  }
  if (args.list) {
    for (const m of selected) {
      console.log(`${m.name.padEnd(40)} ${m.file}  <- ${m.tests.join(" ")}`);
    }
    return 0;
  }
  const problems = await checkMutants(root, selected);
  if (problems.length) {
    for (const p of problems) console.error(`mutants: ${p}`);
    console.log(`mutants: 0 caught, 0 survived, ${problems.length} broken`);
    return 1;
  }
  const dir = await scratchCopy(root);
  console.log(`mutants: ${selected.length} mutants, scratch copy ${dir}`);
  let caught = 0;
  const survivors: string[] = [];
  try {
    if (args.baseline) {
      // The unmutated tests must pass in the copy, or "caught" means nothing.
      const files = [...new Set(selected.flatMap((m) => m.tests))];
      const base = await runMutant(dir, {
        name: "baseline",
        file: selected[0].file,
        find: "",
        replace: "",
        tests: files,
      }, { timeoutSeconds: timeout, verbose: args.verbose });
      if (base.status !== "survived") {
        console.log(
          `mutants: the unmutated tests fail in the scratch copy (${base.status}, ${
            base.seconds.toFixed(1)
          } s): ${
            files.join(" ")
          }; fix them first (--verbose shows the output)`,
        );
        console.log(`mutants: 0 caught, 0 survived, baseline failed`);
        return 1;
      }
      console.log(
        `baseline ${files.length} test files pass unmutated (${
          base.seconds.toFixed(1)
        } s)`,
      );
    }
    for (const m of selected) {
      const r = await runMutant(dir, m, {
        timeoutSeconds: timeout,
        verbose: args.verbose,
      });
      const ok = r.status !== "survived";
      if (ok) caught++;
      else survivors.push(m.name);
      console.log(
        `${ok ? "caught  " : "SURVIVED"} ${m.name.padEnd(40)} ${
          r.seconds.toFixed(1).padStart(6)
        } s  ${m.file}${r.status === "timeout" ? "  (timed out)" : ""}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  if (survivors.length) {
    console.log(`mutants: survivors: ${survivors.join(", ")}`);
  }
  console.log(`mutants: ${caught} caught, ${survivors.length} survived`);
  return survivors.length ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
