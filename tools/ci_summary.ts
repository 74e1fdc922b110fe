/**
 * Counts passed and failed tests in the output of `deno test`, for the one
 * line `.ci/run` ends with.
 *
 * Counting rule: every leaf counts once. A test without steps is a leaf; a
 * test with steps (`t.step`) counts through its innermost steps only, so a
 * failing step is one failure, not three (step, parent step, test). A module
 * that fails outside any test ("Uncaught error from ./x_test.ts FAILED")
 * counts as one failure. Ignored tests and steps are counted apart.
 *
 * Usage: `deno run --allow-read tools/ci_summary.ts <log> [exit-code]` prints
 * `N passed, M failed` and exits 1 when M > 0. If the test command's exit code
 * is non-zero but no failure was parsed (a type error stops `deno test` before
 * any test runs), M is at least 1.
 *
 * @module
 */

/** Counts parsed from `deno test` output. */
export interface TestCounts {
  passed: number;
  failed: number;
  ignored: number;
  /** Deno's own final line, e.g. `ok | 3 passed (2 steps) | 0 failed (1s)`, or null if absent. */
  summaryLine: string | null;
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const RESULT = /^(\s*)(.*) \.\.\. (ok|FAILED|ignored)\b/;
/** A test's first line when its result comes later: `name ...`, maybe with stray stderr text after it. */
const START = /^(\s*)\S.*? \.\.\./;
/** A result whose `name ...` part was cut off by interleaved stderr output (e.g. `Check x.ts`). */
const FRAGMENT = /^\s*(ok|FAILED|ignored)(?: \(|$)/;
const UNCAUGHT = /^Uncaught error from (.+) FAILED\s*$/;
const SUMMARY = /^(ok|FAILED) \| \d+ passed/;

/**
 * Parses `deno test` output (colours allowed) into leaf counts.
 *
 * @example
 * ```ts
 * import { summarizeTestOutput } from "./ci_summary.ts";
 * const out = [
 *   "a ... ok (1ms)",
 *   "b ...",
 *   "  s1 ... ok (0ms)",
 *   "  s2 ... FAILED (1ms)",
 *   "b ... FAILED (due to 1 failed step) (2ms)",
 * ].join("\n");
 * const c = summarizeTestOutput(out);
 * if (c.passed !== 2 || c.failed !== 1) throw new Error(JSON.stringify(c));
 * ```
 */
export function summarizeTestOutput(text: string): TestCounts {
  const counts: TestCounts = {
    passed: 0,
    failed: 0,
    ignored: 0,
    summaryLine: null,
  };
  // children[d] = results seen at depth d since the last result at depth d-1.
  const children: number[] = [];
  // Depth of the last `name ...` line still waiting for its result.
  let pendingDepth: number | null = null;
  let inErrorReport = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(ANSI, "");
    if (/^ (ERRORS|FAILURES) $/.test(line)) inErrorReport = true;
    if (SUMMARY.test(line)) {
      counts.summaryLine = line.trim();
      inErrorReport = false;
      continue;
    }
    if (line.startsWith("running ")) inErrorReport = false;
    if (inErrorReport) continue;
    const u = line.match(UNCAUGHT);
    if (u) {
      counts.failed++;
      continue;
    }
    let depth: number;
    let result: string;
    const m = line.match(RESULT);
    const f = m ? null : line.match(FRAGMENT);
    if (m) {
      depth = Math.floor(m[1].length / 2);
      result = m[3];
    } else if (f && pendingDepth !== null) {
      depth = pendingDepth;
      result = f[1];
    } else {
      const st = line.match(START);
      if (st) pendingDepth = Math.floor(st[1].length / 2);
      continue;
    }
    pendingDepth = null;
    const isParent = (children[depth + 1] ?? 0) > 0;
    children[depth + 1] = 0;
    children[depth] = (children[depth] ?? 0) + 1;
    if (isParent) continue;
    if (result === "ok") counts.passed++;
    else if (result === "FAILED") counts.failed++;
    else counts.ignored++;
  }
  return counts;
}

/**
 * The line `.ci/run` ends with. A non-zero `exitCode` with no parsed failure
 * still reports one failure.
 *
 * @example
 * ```ts
 * import { ciLine } from "./ci_summary.ts";
 * const c = { passed: 5, failed: 0, ignored: 0, summaryLine: null };
 * if (ciLine(c, 0) !== "5 passed, 0 failed") throw new Error();
 * if (ciLine(c, 1) !== "5 passed, 1 failed") throw new Error();
 * ```
 */
export function ciLine(counts: TestCounts, exitCode: number): string {
  const failed = exitCode !== 0 && counts.failed === 0 ? 1 : counts.failed;
  return `${counts.passed} passed, ${failed} failed`;
}

if (import.meta.main) {
  const [log, code] = Deno.args;
  if (!log) {
    console.error(
      "usage: deno run --allow-read tools/ci_summary.ts <log> [exit-code]",
    );
    Deno.exit(2);
  }
  const exitCode = code === undefined ? 0 : Number(code);
  if (!Number.isInteger(exitCode)) {
    console.error(`ci_summary: exit code must be an integer, got "${code}"`);
    Deno.exit(2);
  }
  const counts = summarizeTestOutput(await Deno.readTextFile(log));
  const line = ciLine(counts, exitCode);
  console.log(line);
  Deno.exit(line.endsWith(" 0 failed") ? 0 : 1);
}
