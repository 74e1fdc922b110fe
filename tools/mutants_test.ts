import { assert, assertEquals } from "@std/assert";
import { checkMutants, runMutant, scratchCopy } from "./mutants.ts";
import { MUTANTS } from "./mutant_list.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("the mutant list: >= 20 named mutants across every library area, each snippet found exactly once", async () => {
  assert(MUTANTS.length >= 20, `${MUTANTS.length} mutants`);
  assertEquals(await checkMutants(ROOT, MUTANTS), []);
  for (
    const area of [
      "lib/models/",
      "lib/optim/",
      "lib/train/",
      "lib/data/",
      "lib/analysis/",
      "lib/kernels/",
    ]
  ) {
    assert(MUTANTS.some((m) => m.file.startsWith(area)), `none in ${area}`);
  }
  // The bugs the issue names are on the list.
  for (
    const name of [
      "wrn-no-relu-after-bn2",
      "wrn-shortcut-on-raw-input",
      "wrn-residual-dropped",
      "config-rho-ignored",
      "config-gamma-range-ignored",
      "pof-wrong-sign",
      "sam-weight-decayed-perturbation",
      "sgd-no-nesterov-lookahead",
      "bn-biased-running-variance",
      "bn-backward-wrong",
    ]
  ) {
    assert(MUTANTS.some((m) => m.name === name), `missing ${name}`);
  }
  for (const m of MUTANTS) {
    assert(/^[a-z0-9]+(-[a-z0-9]+)*$/.test(m.name), `name ${m.name}`);
    assert(m.why.length > 10, `${m.name}: say what bug it stands for`);
  }
});

Deno.test("checkMutants names a moved snippet, a missing test file and a duplicate", async () => {
  const root = await Deno.makeTempDir();
  await Deno.writeTextFile(`${root}/a.ts`, "const x = 1 + 2;\n");
  await Deno.writeTextFile(`${root}/a_test.ts`, "");
  const ok = {
    name: "m",
    file: "a.ts",
    find: "1 + 2",
    replace: "1 - 2",
    tests: ["a_test.ts"],
  };
  assertEquals(await checkMutants(root, [ok]), []);
  const problems = await checkMutants(root, [
    ok,
    { ...ok, name: "gone", find: "3 + 4" },
    { ...ok, name: "notest", tests: ["b_test.ts"] },
    ok,
  ]);
  assertEquals(problems.length, 3, problems.join("\n"));
  assert(problems[0].includes('"gone": snippet found 0 times in a.ts'));
  assert(problems[1].includes("b_test.ts does not exist"));
  assert(problems[2].includes('"m": duplicate name'));
  await Deno.remove(root, { recursive: true });
});

Deno.test("runMutant works on a scratch copy: caught, survived, timeout; the copy's file is restored and the original never touched", async () => {
  const root = await Deno.makeTempDir();
  await Deno.mkdir(`${root}/lib`);
  const src = "export const double = (a: number) => 2 * a;\n";
  await Deno.writeTextFile(`${root}/lib/double.ts`, src);
  await Deno.writeTextFile(
    `${root}/lib/double_test.ts`,
    'import { double } from "./double.ts";\nDeno.test("double", () => { if (double(3) !== 6) throw new Error(); });\n',
  );
  const dir = await scratchCopy(root);
  try {
    const m = {
      name: "m",
      file: "lib/double.ts",
      find: "2 * a",
      replace: "a + a",
      tests: ["lib/double_test.ts"],
    };
    const testArgs = ["test", "--no-check"];
    assertEquals((await runMutant(dir, m, { testArgs })).status, "survived");
    assertEquals(
      (await runMutant(dir, { ...m, replace: "3 * a" }, { testArgs })).status,
      "caught",
    );
    const hang = await runMutant(
      dir,
      { ...m, replace: "(() => { while (true) {} })()" },
      { testArgs, timeoutSeconds: 3 },
    );
    assertEquals(hang.status, "timeout");
    assertEquals(await Deno.readTextFile(`${dir}/lib/double.ts`), src);
    assertEquals(await Deno.readTextFile(`${root}/lib/double.ts`), src);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(root, { recursive: true });
  }
});
