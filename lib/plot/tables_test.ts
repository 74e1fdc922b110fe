import { assertEquals, assertThrows } from "@std/assert";
import { comparisonTable, formatMeanStd, markdownTable } from "./tables.ts";
import {
  PAPER_FINETUNE,
  PAPER_TABLE1,
  PAPER_TABLE2,
  table1Label,
} from "./paper.ts";

Deno.test("markdownTable: layout, escaping, alignment, width check", () => {
  assertEquals(
    markdownTable(["m", "err"], [["SGD", "4.6"], ["a|b", "1"]], {
      alignRight: [1],
    }),
    "| m | err |\n| --- | ---: |\n| SGD | 4.6 |\n| a\\|b | 1 |",
  );
  assertThrows(() => markdownTable(["a"], [["1", "2"]]), RangeError, "row 0");
});

Deno.test("formatMeanStd and comparisonTable: numbers by hand", () => {
  assertEquals(formatMeanStd({ mean: 1.005, std: 0.25, n: 2 }, 1), "1.0 ± 0.3");
  assertEquals(formatMeanStd(undefined), "n/a");
  // ours [4.0, 4.4, 4.8]: mean 4.4, sample std 0.4; diff 4.4 - 4.25 = +0.15.
  const t = comparisonTable(["dataset", "method"], [
    {
      labels: ["Fashion", "PoF 210"],
      paper: { mean: 4.25, std: 0.05, n: 0 },
      ours: [4.0, 4.4, 4.8],
    },
    { labels: ["Fashion", "SGD 200"], ours: [5] },
    { labels: ["CIFAR", "SGD 200"], paper: { mean: 3.22, std: 0.14, n: 0 } },
  ]);
  const lines = t.split("\n");
  assertEquals(
    lines[0],
    "| dataset | method | paper | ours | ours − paper | seeds |",
  );
  assertEquals(
    lines[2],
    "| Fashion | PoF 210 | 4.25 ± 0.05 | 4.40 ± 0.40 | +0.15 | 3 |",
  );
  assertEquals(lines[3], "| Fashion | SGD 200 | n/a | 5.00 | n/a | 1 |");
  assertEquals(lines[4], "| CIFAR | SGD 200 | 3.22 ± 0.14 | n/a | n/a | 0 |");
  const h = comparisonTable(["m"], [{ labels: ["x"], ours: [1, 3] }], {
    unit: "%",
    paperHeader: "paper, CIFAR-10",
    digits: 1,
  }).split("\n");
  assertEquals(
    h[0],
    "| m | paper, CIFAR-10 (%) | ours (%) | ours − paper | seeds |",
  );
  assertEquals(h[2], "| x | n/a | 2.0 ± 1.4 | n/a | 2 |");
  const one = comparisonTable(["m"], [{
    labels: ["y"],
    paper: { mean: 2.4, std: 0, n: 1 },
    ours: [2.5],
  }]);
  assertEquals(one.split("\n")[2], "| y | 2.40 | 2.50 | +0.10 | 1 |");
});

Deno.test("paper numbers: spot checks against the paper's tables", () => {
  assertEquals(PAPER_TABLE1.length, 24);
  const get = (d: string, m: string, e: number) =>
    PAPER_TABLE1.find((r) =>
      r.dataset === d && r.method === m && r.epoch === e
    )!.error;
  assertEquals([
    get("cifar10", "sgd", 200).mean,
    get("cifar10", "sgd", 200).std,
  ], [3.22, 0.14]);
  assertEquals([
    get("cifar100", "pof", 250).mean,
    get("cifar100", "pof", 250).std,
  ], [16.60, 0.05]);
  assertEquals([get("svhn", "sam", 250).mean, get("svhn", "sam", 250).std], [
    1.63,
    0.03,
  ]);
  assertEquals([
    get("fashion-mnist", "pof", 210).mean,
    get("fashion-mnist", "pof", 210).std,
  ], [4.25, 0.05]);
  // Paper Table 2 ratios: SAM 1.51x, PoF 1.17x SGD.
  assertEquals((PAPER_TABLE2.sam / PAPER_TABLE2.sgd).toFixed(2), "1.51");
  assertEquals((PAPER_TABLE2.pof / PAPER_TABLE2.sgd).toFixed(2), "1.17");
  assertEquals(table1Label("sam", 200), "SAM 200");
  assertEquals([
    PAPER_FINETUNE.pof.mean,
    PAPER_FINETUNE.finetune.mean,
    PAPER_FINETUNE.finetune.std,
  ], [2.40, 2.39, 0.03]);
});
