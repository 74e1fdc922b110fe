/**
 * Pins the behaviours of the offline stand-ins `tools/std/assert.ts` and
 * `tools/std/cli.ts` that the project relies on, each as jsr:@std/assert@1 /
 * jsr:@std/cli@1 define it (expected values worked out from std's source,
 * assert 1.0.19 and cli 1.0.32). The stand-ins are imported by path so that
 * this file tests them even when run with the JSR import map.
 */
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertExists,
  assertGreater,
  assertGreaterOrEqual,
  assertInstanceOf,
  AssertionError,
  assertLess,
  assertLessOrEqual,
  assertMatch,
  assertNotEquals,
  assertRejects,
  assertStrictEquals,
  assertStringIncludes,
  assertThrows,
  equal,
  fail,
} from "./assert.ts";
import { parseArgs } from "./cli.ts";

/** Runs `f`; returns the AssertionError it throws, or fails when it does not throw one. */
function failsWith(f: () => unknown): AssertionError {
  try {
    f();
  } catch (e) {
    if (e instanceof AssertionError) return e;
    throw new Error(`expected an AssertionError, got ${e}`);
  }
  throw new Error("expected an AssertionError, nothing was thrown");
}

async function rejectsWith(f: () => Promise<unknown>): Promise<AssertionError> {
  try {
    await f();
  } catch (e) {
    if (e instanceof AssertionError) return e;
    throw new Error(`expected an AssertionError, got ${e}`);
  }
  throw new Error("expected an AssertionError, nothing was thrown");
}

Deno.test("equal: std's deep equality", () => {
  const yes: [unknown, unknown][] = [
    [1, 1],
    [NaN, NaN],
    [0, -0], // SameValueZero, as std
    [{ a: [1, { b: "x" }] }, { a: [1, { b: "x" }] }],
    [new Float32Array([1, 0, NaN]), new Float32Array([1, -0, NaN])],
    [new Date(5), new Date(5)],
    [new Map([["k", [1]]]), new Map([["k", [1]]])],
    [new Set([1, 2]), new Set([2, 1])],
    [new Set([{ a: 1 }]), new Set([{ a: 1 }])], // members compared deeply
    [/a+/g, /a+/g],
    [{}, Object.create(null)], // Object.prototype and null prototypes are alike
  ];
  for (const [a, b] of yes) {
    assert(
      equal(a, b),
      `expected equal: ${Deno.inspect(a)} ${Deno.inspect(b)}`,
    );
  }
  const no: [unknown, unknown][] = [
    [1, "1"],
    [{ a: undefined }, {}],
    [[1, 2], [2, 1]],
    [[], {}],
    [new Float32Array([1]), new Float64Array([1])],
    [new Float32Array([1, 2]), new Float32Array([1])],
    [new Date(5), new Date(6)],
    [new Map([["k", 1]]), new Map([["k", 2]])],
    [new Set([{ a: 1 }]), new Set([{ a: 2 }])],
    [null, undefined],
    [null, {}],
  ];
  for (const [a, b] of no) {
    assert(
      !equal(a, b),
      `expected unequal: ${Deno.inspect(a)} ${Deno.inspect(b)}`,
    );
  }
  // Class instances compare all their properties, non-enumerable and
  // inherited ones included: two Errors thrown at different places differ
  // (their stacks do), one Error equals itself.
  const e1 = new RangeError("x"), e2 = new RangeError("x");
  assert(!equal(e1, e2));
  assert(equal(e1, e1));
  class P {
    constructor(readonly v: number) {}
  }
  assert(equal(new P(1), new P(1)));
  assert(!equal(new P(1), new P(2)));
  assert(!equal(new P(1), { v: 1 }));
  // Cycles terminate.
  const x: Record<string, unknown> = { n: 1 },
    y: Record<string, unknown> = { n: 1 };
  x.self = x;
  y.self = y;
  assert(equal(x, y));
});

Deno.test("assertEquals / assertNotEquals / assertStrictEquals", () => {
  assertEquals([1, { a: new Int32Array([2]) }], [1, {
    a: new Int32Array([2]),
  }]);
  assertEquals(-0, 0);
  const e = failsWith(() => assertEquals({ a: 1 }, { a: 2 }, "ctx"));
  assertStringIncludes(e.message, "ctx");
  assertEquals(e.name, "AssertionError");
  assertNotEquals({ a: 1 }, { a: 2 });
  failsWith(() => assertNotEquals([1], [1]));
  const o = {};
  assertStrictEquals(o, o);
  failsWith(() => assertStrictEquals({}, {}));
  // std's strict equality is Object.is: NaN is itself, 0 is not -0.
  assertStrictEquals(NaN, NaN);
  failsWith(() => assertStrictEquals(0, -0));
});

Deno.test("assertAlmostEquals: std's default and explicit tolerances", () => {
  // Default tolerance: |expected| * 1e-7.
  assertAlmostEquals(1e6 + 0.09, 1e6);
  failsWith(() => assertAlmostEquals(1e6 + 0.11, 1e6));
  // Expected 0: tolerance 0, only exact (or -0) passes.
  assertAlmostEquals(-0, 0);
  failsWith(() => assertAlmostEquals(1e-300, 0));
  // Non-finite expected: tolerance 1e-7, so a finite actual never matches infinity.
  assertAlmostEquals(Infinity, Infinity);
  failsWith(() => assertAlmostEquals(5, Infinity));
  failsWith(() => assertAlmostEquals(NaN, 1, 10));
  assertAlmostEquals(NaN, NaN);
  // Explicit tolerance is absolute and inclusive.
  assertAlmostEquals(1.5, 1, 0.5);
  failsWith(() => assertAlmostEquals(1.5, 1, 0.49));
  const e = failsWith(() => assertAlmostEquals(3, 1, 0.1, "why"));
  assertStringIncludes(e.message, "why");
});

Deno.test("assertThrows: class, message part, returned error, string-message overload", () => {
  const err = assertThrows(
    () => {
      throw new RangeError("bad value 7");
    },
    RangeError,
    "value 7",
  );
  assertInstanceOf(err, RangeError);
  assertEquals(err.message, "bad value 7");
  // A subclass satisfies its base class.
  assertThrows(() => {
    throw new RangeError("x");
  }, Error);
  failsWith(() =>
    assertThrows(() => {
      throw new TypeError("x");
    }, RangeError)
  );
  failsWith(() =>
    assertThrows(
      () => {
        throw new RangeError("x");
      },
      RangeError,
      "y",
    )
  );
  const none = failsWith(() => assertThrows(() => 1));
  assertStringIncludes(none.message, "Expected function to throw");
  // std@1 overload: assertThrows(fn, msg) with a string message.
  const thrown = assertThrows(() => {
    throw "plain";
  }, "no class given");
  assertEquals(thrown, "plain");
  const withMsg = failsWith(() => assertThrows(() => 1, "my message"));
  assertStringIncludes(withMsg.message, "my message");
  // With a class, a non-Error throw is a failure.
  failsWith(() =>
    assertThrows(() => {
      throw "plain";
    }, Error)
  );
});

Deno.test("assertRejects: async twin", async () => {
  const err = await assertRejects(
    () => Promise.reject(new TypeError("no way")),
    TypeError,
    "no",
  );
  assertEquals(err.message, "no way");
  await rejectsWith(() => assertRejects(() => Promise.resolve(1)));
  await rejectsWith(() =>
    assertRejects(() => Promise.reject(new Error("a")), TypeError)
  );
  const withMsg = await rejectsWith(() =>
    assertRejects(() => Promise.resolve(1), "my message")
  );
  assertStringIncludes(withMsg.message, "my message");
});

Deno.test("the remaining assertions", () => {
  assert(1);
  failsWith(() => assert(0));
  assertExists(0);
  assertExists("");
  failsWith(() => assertExists(null));
  failsWith(() => assertExists(undefined));
  assertGreater(2, 1);
  failsWith(() => assertGreater(1, 1));
  assertGreaterOrEqual(1, 1);
  failsWith(() => assertGreaterOrEqual(0, 1));
  assertLess(1, 2);
  failsWith(() => assertLess(2, 2));
  assertLessOrEqual(2, 2);
  failsWith(() => assertLessOrEqual(3, 2));
  assertStringIncludes("abcdef", "cde");
  failsWith(() => assertStringIncludes("abc", "x"));
  assertMatch("v1.2.3", /^v\d+\.\d+\.\d+$/);
  failsWith(() => assertMatch("abc", /^b/));
  assertInstanceOf(new RangeError("x"), Error);
  failsWith(() => assertInstanceOf({}, Error));
  const f = failsWith(() => fail("stop"));
  assertStringIncludes(f.message, "stop");
});

Deno.test("parseArgs: flags, values, numbers and positionals as std parses them", () => {
  assertEquals(
    parseArgs([
      "table1",
      "--preset",
      "smoke",
      "--seeds",
      "3",
      "--out=r/x",
      "7",
    ]),
    { _: ["table1", 7], preset: "smoke", seeds: 3, out: "r/x" },
  );
  // string options stay strings; booleans default to false.
  assertEquals(
    parseArgs(["--seeds", "3", "--dry-run", "fig1"], {
      string: ["seeds", "out"],
      boolean: ["dry-run", "quiet"],
    }),
    { _: ["fig1"], seeds: "3", "dry-run": true, quiet: false },
  );
  // A string option without a value is "".
  assertEquals(parseArgs(["--out"], { string: ["out"] }), { _: [], out: "" });
  // A long option does not take a following argument that starts with "-".
  assertEquals(parseArgs(["--out", "-", "x"], { string: ["out"] }), {
    _: ["-", "x"],
    out: "",
  });
  // Booleans accept a following true/false, and =value.
  assertEquals(
    parseArgs(["--a", "false", "--b=false", "--c", "x"], {
      boolean: ["a", "b", "c"],
    }),
    { _: ["x"], a: false, b: false, c: true },
  );
  // Repeating a non-collect option keeps the last value; collect gathers all.
  assertEquals(parseArgs(["--p", "a", "--p", "b"], { string: ["p"] }), {
    _: [],
    p: "b",
  });
  assertEquals(
    parseArgs(["--source", "x", "--source", "y"], {
      string: ["source"],
      collect: ["source"],
    }),
    { _: [], source: ["x", "y"] },
  );
  // A collected string that is not given is [].
  assertEquals(parseArgs([], { string: ["source"], collect: ["source"] }), {
    _: [],
    source: [],
  });
});

Deno.test("parseArgs: aliases, short flags, negation, defaults", () => {
  assertEquals(
    parseArgs(["-h"], { boolean: ["help"], alias: { h: "help" } }),
    { _: [], h: true, help: true },
  );
  assertEquals(parseArgs(["-n", "3", "-ab", "-k5"]), {
    _: [],
    n: 3,
    a: true,
    b: true,
    k: 5,
  });
  // --no-X of a negatable option is false, for booleans and strings alike.
  assertEquals(
    parseArgs(["--no-parse", "--no-cache"], {
      boolean: ["parse"],
      string: ["cache"],
      negatable: ["parse", "cache"],
      default: { parse: true },
    }),
    { _: [], parse: false, cache: false },
  );
  // A default applies when the option is absent, whatever else is on the line.
  assertEquals(
    parseArgs(["parse", "--data-dir", "/x/parse"], {
      boolean: ["parse"],
      string: ["data-dir"],
      negatable: ["parse"],
      default: { parse: true },
    }),
    { _: ["parse"], parse: true, "data-dir": "/x/parse" },
  );
  assertEquals(
    parseArgs(["--seeds", "2"], { default: { seeds: 5, out: "r" } }),
    {
      _: [],
      seeds: 2,
      out: "r",
    },
  );
  // A non-negatable --no-X is an option named "no-X".
  assertEquals(parseArgs(["--no-such"], { boolean: ["such"] }), {
    _: [],
    such: false,
    "no-such": true,
  });
});

Deno.test("parseArgs: --, stopEarly, unknown", () => {
  assertEquals(parseArgs(["a", "--", "--b", "c"]), { _: ["a", "--b", "c"] });
  assertEquals(parseArgs(["a", "--", "--b"], { "--": true }), {
    _: ["a"],
    "--": ["--b"],
  });
  assertEquals(parseArgs(["x", "--y", "z"], { stopEarly: true }), {
    _: ["x", "--y", "z"],
  });
  // unknown sees every option not declared (declared: string, boolean, alias, collect)
  // and every positional; returning false drops it. A value it consumed is dropped too.
  const seen: string[] = [];
  const a = parseArgs([
    "--preset",
    "p",
    "--bogus",
    "v",
    "pos",
    "-q",
    "--seeds",
    "2",
  ], {
    string: ["preset"],
    boolean: ["help"],
    default: { seeds: 1 },
    unknown: (arg: string, key?: string) => {
      seen.push(key === undefined ? `positional ${arg}` : `${arg} ${key}`);
      return !arg.startsWith("-");
    },
  });
  assertEquals(seen, [
    "--bogus bogus",
    "positional pos",
    "-q q",
    "--seeds seeds",
  ]);
  assertEquals(a, { _: ["pos"], preset: "p", help: false, seeds: 1 });
});
