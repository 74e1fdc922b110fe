/**
 * `deno task notebooks`: the output checker and the command line (fast), and
 * the real thing: every notebook executed under the Deno Jupyter kernel in
 * the smoke preset (slow: it runs every target's smoke preset once, into a
 * temporary results folder). On a machine without Jupyter the latter is
 * skipped with one line saying how to install it (never under
 * POF_REQUIRE_ALL=1, which CI sets; tools/install.sh installs Jupyter).
 */
import {
  assert,
  assertEquals,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  checkExecutedNotebook,
  FALLBACK_MARKER,
  fellBackToSmoke,
  type Notebook,
  notebookModuleSource,
  NotebookUsageError,
  parseNotebookCli,
  runNotebooks,
} from "./run_notebooks.ts";
import { JUPYTER, testNeeding } from "../tests/helpers/optional.ts";

const SVG = `<svg xmlns="http://www.w3.org/2000/svg">${
  "<g/>".repeat(60)
}</svg>`;
const VL = "application/vnd.vegalite.v5+json";

function cell(
  tags: string[],
  outputs: NonNullable<Notebook["cells"][number]["outputs"]>,
) {
  return {
    cell_type: "code",
    source: "await f();",
    execution_count: 1,
    metadata: { tags },
    outputs,
  };
}

Deno.test("checkExecutedNotebook: accepts good figure and table cells", () => {
  const nb: Notebook = {
    cells: [
      { cell_type: "markdown", source: "# t" },
      cell(["figure"], [{
        output_type: "display_data",
        data: { [VL]: { mark: "bar" }, "image/svg+xml": SVG },
      }]),
      cell(["table"], [{
        output_type: "display_data",
        data: {
          "text/markdown": ["| a | b |\n", "| --- | ---: |\n", "| 1 | 2 |"],
        },
      }]),
    ],
  };
  assertEquals(checkExecutedNotebook(nb), []);
});

Deno.test("checkExecutedNotebook: finds each kind of problem", () => {
  const nb: Notebook = {
    cells: [
      cell(["figure"], [{
        output_type: "display_data",
        data: { "image/svg+xml": SVG }, // no vega-lite spec
      }]),
      cell(["figure"], [{
        output_type: "display_data",
        data: { [VL]: {}, "image/svg+xml": "" }, // empty SVG
      }]),
      cell(["table"], [{
        output_type: "display_data",
        data: { "text/markdown": "no table here" },
      }]),
      cell([], [{ output_type: "error", ename: "TypeError", evalue: "boom" }]),
      { ...cell([], []), execution_count: null },
    ],
  };
  const p = checkExecutedNotebook(nb);
  assertEquals(p.length, 5, p.join("\n"));
  assertStringIncludes(p[0], "cell 0");
  assertStringIncludes(p[1], "cell 1");
  assertStringIncludes(p[2], 'cell 2 (await f();): tagged "table"');
  assertStringIncludes(p[3], "error TypeError: boom");
  assertStringIncludes(p[4], "not executed");
  assertEquals(checkExecutedNotebook({} as Notebook).length, 1);
});

Deno.test("fallback marker: results.ts displays exactly what the runner looks for", async () => {
  const results = await Deno.readTextFile(
    new URL("../notebooks/results.ts", import.meta.url),
  );
  assertStringIncludes(results, FALLBACK_MARKER);
  const note = (t: string): Notebook => ({
    cells: [cell([], [{
      output_type: "display_data",
      data: { "text/markdown": t },
    }])],
  });
  assert(fellBackToSmoke(note(`> x ${FALLBACK_MARKER} y`)));
  assert(!fellBackToSmoke(note("> showing the quick preset")));
});

Deno.test("parseNotebookCli: defaults, flags and errors", () => {
  const d = parseNotebookCli([]);
  assert(d !== "help");
  assertEquals(d, {
    preset: "quick",
    out: "results/notebooks/quick",
    results: "results/quick",
    figures: "results/figures",
    only: [],
    timeout: 3600,
    threads: undefined,
    writeBack: false,
  });
  const t = parseNotebookCli(["--threads", "3"]);
  assert(t !== "help");
  assertEquals(t.threads, 3);
  for (const bad of ["0", "abc", "1.5"]) {
    assertThrows(
      () => parseNotebookCli(["--threads", bad]),
      NotebookUsageError,
      `--threads must be a positive integer, got "${bad}"`,
    );
  }
  const o = parseNotebookCli([
    "--preset=paper",
    "--only",
    "a.ipynb, b",
    "--timeout",
    "60",
    "--write-back",
  ]);
  assert(o !== "help");
  assertEquals([o.preset, o.only, o.timeout, o.writeBack], [
    "paper",
    ["a", "b"],
    60,
    true,
  ]);
  assertEquals(parseNotebookCli(["--help"]), "help");
  assertThrows(
    () => parseNotebookCli(["--preset", "huge"]),
    NotebookUsageError,
    '"huge"',
  );
  assertThrows(
    () => parseNotebookCli(["--timeout", "0"]),
    NotebookUsageError,
    '"0"',
  );
  assertThrows(
    () => parseNotebookCli(["--bogus"]),
    NotebookUsageError,
    "--bogus",
  );
  assertThrows(
    () => parseNotebookCli(["extra"]),
    NotebookUsageError,
    '"extra"',
  );
});

Deno.test("runNotebooks: refuses to write over the committed notebooks", async () => {
  const o = parseNotebookCli(["--out", "notebooks", "--only", "00_overview"]);
  assert(o !== "help");
  const root = new URL("../", import.meta.url).pathname;
  const cwd = Deno.cwd();
  Deno.chdir(root);
  try {
    let err: unknown;
    await runNotebooks(o, () => {}).catch((e) => err = e);
    assert(err instanceof NotebookUsageError, String(err));
    assertStringIncludes((err as Error).message, "committed notebooks");
  } finally {
    Deno.chdir(cwd);
  }
});

Deno.test("every notebook's code type-checks as one module", async () => {
  const nbDir = new URL("../notebooks/", import.meta.url);
  const tmp = await Deno.makeTempDir({ prefix: "pof-nbcheck-" });
  const files: string[] = [];
  for (const e of Deno.readDirSync(nbDir)) {
    if (!e.name.endsWith(".ipynb")) continue;
    const nb = JSON.parse(await Deno.readTextFile(new URL(e.name, nbDir)));
    const path = `${tmp}/${e.name.replace(/\.ipynb$/, ".ts")}`;
    await Deno.writeTextFile(
      path,
      notebookModuleSource(nb, new URL("common.ts", nbDir).href),
    );
    files.push(path);
  }
  assert(files.length >= 5, `only ${files.length} notebooks`);
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", ...files],
    cwd: tmp,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(r.stderr);
  assertEquals(r.code, 0, err);
  await Deno.remove(tmp, { recursive: true });
});

await testNeeding(JUPYTER, {
  name:
    "findPython registers the Deno kernel on first use when Jupyter is there (a fresh HOME)",
  async fn() {
    const home = await Deno.makeTempDir({ prefix: "pof-home-" });
    const script = `
      import { findPython, probeJupyter } from "./tools/run_notebooks.ts";
      const before = await probeJupyter();
      const lines = [];
      const py = await findPython((l) => lines.push(l));
      const after = await probeJupyter();
      console.log(JSON.stringify({ before: before.kernel, lines, py, after: after.kernel }));
    `;
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        "--import-map=tools/offline_import_map.json",
        script,
      ],
      cwd: new URL("..", import.meta.url).pathname,
      env: { HOME: home, XDG_DATA_HOME: `${home}/.local/share` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(r.stdout).trim().split("\n").pop()!;
    assertEquals(r.code, 0, new TextDecoder().decode(r.stderr));
    const got = JSON.parse(out);
    assertEquals(got.before, false);
    assertEquals(got.after, true);
    assertEquals(got.lines, [
      "notebooks: registering the Deno Jupyter kernel (deno jupyter --install)",
    ]);
    assert(
      Deno.statSync(`${home}/.local/share/jupyter/kernels/deno/kernel.json`)
        .isFile,
    );
    await Deno.remove(home, { recursive: true });
  },
});

await testNeeding(JUPYTER, {
  name: "every notebook executes under the Deno kernel in the smoke preset",
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "pof-notebooks-" });
    const lines: string[] = [];
    const results = await runNotebooks({
      preset: "smoke",
      out: `${tmp}/executed`,
      results: `${tmp}/results`,
      figures: `${tmp}/figures`,
      only: [],
      timeout: 1200,
      writeBack: false,
    }, (l) => lines.push(l));
    const failed = results.filter((r) => r.problems.length);
    assertEquals(
      failed.map((r) => `${r.name}: ${r.problems.join("; ")}`),
      [],
      lines.join("\n"),
    );
    assert(results.length >= 9, `only ${results.length} notebooks ran`);
    // Every figure cell wrote its SVG.
    const svgs = [...Deno.readDirSync(`${tmp}/figures`)].map((e) => e.name);
    assert(svgs.length >= 8, `figures written: ${svgs.join(", ")}`);
    for (const s of svgs) {
      assert(s.startsWith("smoke_") && s.endsWith(".svg"), s);
    }
    await Deno.remove(tmp, { recursive: true });
  },
});
