import { assertEquals, assertMatch } from "@std/assert";
import { ciLine, summarizeTestOutput } from "./ci_summary.ts";

/** Runs `deno test` on fixture files in a temporary folder; returns its output and exit code. */
async function runFixture(
  files: Record<string, string>,
): Promise<{ text: string; code: number }> {
  const dir = await Deno.makeTempDir({ prefix: "pof_ci_" });
  try {
    for (const [name, src] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, src);
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["test", "--no-config", "--no-lock", ...Object.keys(files)],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return {
      text: dec.decode(out.stdout) + dec.decode(out.stderr),
      code: out.code,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("counts leaves of real deno test output: steps, nested steps, ignores, uncaught errors", async () => {
  const { text, code } = await runFixture({
    "a_test.ts": `Deno.test("plain", () => {});
Deno.test("two steps", async (t) => {
  await t.step("s1", () => {});
  await t.step("s2", () => {});
});`,
    "b_test.ts": `Deno.test("nested", async (t) => {
  await t.step("outer", async (t2) => {
    await t2.step("inner ok", () => {});
    await t2.step("inner bad", () => { throw new Error("boom ... ok"); });
  });
  await t.step({ name: "skipped", ignore: true, fn: () => {} });
});
Deno.test({ name: "ignored", ignore: true, fn: () => {} });
Deno.test("fails", () => { throw new Error("x"); });`,
    "c_test.ts": `throw new Error("module fails to load");`,
  });
  assertEquals(code, 1);
  const c = summarizeTestOutput(text);
  // By hand. Leaves passed: plain, s1, s2, inner ok = 4.
  // Failed: inner bad, fails, c_test.ts (uncaught) = 3. Ignored: skipped, ignored = 2.
  assertEquals(
    { passed: c.passed, failed: c.failed, ignored: c.ignored },
    { passed: 4, failed: 3, ignored: 2 },
  );
  assertMatch(c.summaryLine ?? "", /^FAILED \| /);
  assertEquals(ciLine(c, code), "4 passed, 3 failed");
});

Deno.test("an all-green run and a run stopped by a type error", async () => {
  const ok = await runFixture({
    "a_test.ts": `Deno.test("t", () => {}); Deno.test("u", () => {});`,
  });
  assertEquals(ok.code, 0);
  assertEquals(
    ciLine(summarizeTestOutput(ok.text), ok.code),
    "2 passed, 0 failed",
  );

  const bad = await runFixture({
    "a_test.ts": `const n: number = "not a number"; Deno.test("t", () => {});`,
  });
  assertEquals(bad.code !== 0, true);
  const c = summarizeTestOutput(bad.text);
  assertEquals(c.passed + c.failed, 0);
  assertEquals(ciLine(c, bad.code), "0 passed, 1 failed");
});

Deno.test("a result line split by interleaved stderr output still counts", () => {
  const text = [
    "running 3 tests from ./x_test.ts",
    "a ... ok (1ms)",
    "worker test ...Check lib/data/loader_worker.ts",
    " ok (9s)",
    "parent ...",
    "  step ...Check y.ts",
    "  FAILED (2ms)",
    "parent ... FAILED (due to 1 failed step) (3ms)",
  ].join("\n");
  const c = summarizeTestOutput(text);
  // a, worker test passed; the step failed (its parent is not a leaf).
  assertEquals([c.passed, c.failed, c.ignored], [2, 1, 0]);
});

Deno.test("colour codes and the ERRORS section do not change the counts", () => {
  const text = [
    "running 2 tests from ./x_test.ts",
    "\x1b[0ma ... \x1b[32mok\x1b[0m (1ms)",
    "b ... \x1b[31mFAILED\x1b[0m (1ms)",
    "",
    " ERRORS ",
    "",
    "b => ./x_test.ts:2:6",
    "error: Error: c ... ok",
    "",
    " FAILURES ",
    "",
    "b => ./x_test.ts:2:6",
    "",
    "FAILED | 1 passed | 1 failed (3ms)",
  ].join("\n");
  const c = summarizeTestOutput(text);
  assertEquals([c.passed, c.failed, c.ignored], [1, 1, 0]);
  assertEquals(c.summaryLine, "FAILED | 1 passed | 1 failed (3ms)");
});
