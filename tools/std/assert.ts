/**
 * Offline stand-in for the parts of `jsr:@std/assert@^1` this project uses,
 * with the same signatures and semantics. CI machines cannot reach JSR, so
 * `tools/offline_import_map.json` maps `@std/assert` here; users with JSR get
 * the real module from `deno.json`. `tools/std/std_test.ts` pins the behaviours
 * the project relies on.
 *
 * @module
 */

/** Error thrown by every assertion here (same name as std's). */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function fmt(v: unknown): string {
  try {
    return Deno.inspect(v, { depth: 8, iterableLimit: 200 });
  } catch {
    return String(v);
  }
}

/** SameValueZero: `===` plus NaN equal to itself (std's primitive comparison). */
function sameValueZero(a: unknown, b: unknown): boolean {
  return a === b || Object.is(a, b);
}

function ownKeys(o: object): (string | symbol)[] {
  return [...Object.getOwnPropertyNames(o), ...Object.getOwnPropertySymbols(o)];
}

function isBasicObjectOrArray(o: object): boolean {
  const p = Object.getPrototypeOf(o);
  return p === null || p === Object.prototype || p === Array.prototype;
}

function keysDeep(o: object): Set<string | symbol> {
  const keys = new Set<string | symbol>();
  let cur: object | null = o;
  while (cur !== null && cur !== Object.prototype && cur !== Array.prototype) {
    for (const k of ownKeys(cur)) keys.add(k);
    cur = Object.getPrototypeOf(cur);
  }
  return keys;
}

function prototypesAlike(a: object, b: object): boolean {
  const pa = Object.getPrototypeOf(a), pb = Object.getPrototypeOf(b);
  return pa === pb || (pa === Object.prototype && pb === null) ||
    (pa === null && pb === Object.prototype);
}

/**
 * Deep equality as std defines it: SameValueZero for primitives and typed
 * array elements (`0` equals `-0`, `NaN` equals `NaN`), same prototypes
 * (plain and null-prototype objects alike), Dates by time, RegExps by source,
 * Maps and Sets by deeply equal entries, own keys (a key holding `undefined`
 * differs from a missing key), cycles allowed.
 *
 * @example
 * ```ts
 * import { equal } from "./assert.ts";
 * if (!equal({ a: [1, NaN] }, { a: [1, NaN] }) || equal([1], [2])) throw new Error();
 * ```
 */
export function equal(a: unknown, b: unknown): boolean {
  const seen = new Map<unknown, unknown>();
  const eq = (x: unknown, y: unknown): boolean => {
    if (sameValueZero(x, y)) return true;
    if (
      x === null || y === null || typeof x !== "object" || typeof y !== "object"
    ) {
      return false;
    }
    if (x instanceof Date && y instanceof Date) {
      return Object.is(x.getTime(), y.getTime());
    }
    if (!prototypesAlike(x, y)) return false;
    if (x instanceof RegExp) return String(x) === String(y);
    if (ArrayBuffer.isView(x) && ArrayBuffer.isView(y)) {
      const xa = x as unknown as ArrayLike<unknown>,
        ya = y as unknown as ArrayLike<unknown>;
      if (xa.length !== ya.length) return false;
      for (let i = 0; i < xa.length; i++) {
        if (!sameValueZero(xa[i], ya[i])) return false;
      }
      return true;
    }
    if (seen.get(x) === y) return true;
    if (Object.keys(x).length !== Object.keys(y).length) return false;
    seen.set(x, y);
    if (x instanceof Map && y instanceof Map) {
      if (x.size !== y.size) return false;
      let unmatched = x.size;
      for (const [kx, vx] of x) {
        for (const [ky, vy] of y) {
          if (eq(kx, ky) && eq(vx, vy)) {
            unmatched--;
            break;
          }
        }
      }
      return unmatched === 0;
    }
    if (x instanceof Set && y instanceof Set) {
      if (x.size !== y.size) return false;
      const rest = [...y];
      for (const vx of x) {
        const i = rest.findIndex((vy) => eq(vx, vy));
        if (i < 0) return false;
        rest.splice(i, 1);
      }
      return true;
    }
    let keys: Iterable<string | symbol>;
    if (isBasicObjectOrArray(x)) {
      keys = ownKeys({ ...(x as object), ...(y as object) });
    } else if (x instanceof URL || x instanceof URLSearchParams) {
      return String(x) === String(y);
    } else {
      // Class instances (Errors included): own and inherited properties,
      // non-enumerable ones too, as std's slow path.
      keys = new Set([...keysDeep(x as object), ...keysDeep(y as object)]);
    }
    for (const k of keys) {
      const xo = x as Record<string | symbol, unknown>,
        yo = y as Record<string | symbol, unknown>;
      if (!eq(xo[k], yo[k])) return false;
      if ((k in xo) !== (k in yo)) return false;
    }
    return true;
  };
  return eq(a, b);
}

/** Throws unless `expr` is truthy. */
export function assert(expr: unknown, msg = ""): asserts expr {
  if (!expr) {
    throw new AssertionError(msg || "Expected expression to be truthy");
  }
}

/** Throws unless `actual` deep-equals `expected`. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (equal(actual, expected)) return;
  const suffix = msg ? `: ${msg}` : ".";
  throw new AssertionError(
    `Values are not equal${suffix}\n  actual:   ${fmt(actual)}\n  expected: ${
      fmt(expected)
    }`,
  );
}

/** Throws if `actual` deep-equals `expected`. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!equal(actual, expected)) return;
  throw new AssertionError(
    msg ?? `Expected actual: ${fmt(actual)} not to be: ${fmt(expected)}`,
  );
}

/** Throws unless `actual === expected` (Object.is). */
export function assertStrictEquals<T>(
  actual: unknown,
  expected: T,
  msg?: string,
): asserts actual is T {
  if (Object.is(actual, expected)) return;
  throw new AssertionError(
    msg ?? `Values are not strictly equal: ${fmt(actual)} vs ${fmt(expected)}`,
  );
}

/**
 * Throws unless `|actual - expected| <= tolerance`. Like std, the default
 * tolerance is `|expected| * 1e-7` (so exactly 0 when expected is 0), and
 * `1e-7` when expected is not finite; NaN matches only NaN, equal infinities
 * match.
 */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance?: number,
  msg?: string,
): void {
  if (Object.is(actual, expected)) return;
  const delta = Math.abs(expected - actual);
  const tol = tolerance ??
    (Number.isFinite(expected) ? Math.abs(expected * 1e-7) : 1e-7);
  if (delta <= tol) return;
  const suffix = msg ? `: ${msg}` : ".";
  throw new AssertionError(
    `Expected actual: "${actual}" to be close to "${expected}": delta "${delta}" is greater than "${tol}"${suffix}`,
  );
}

/** Throws unless `actual` is neither null nor undefined. */
export function assertExists<T>(
  actual: T,
  msg?: string,
): asserts actual is NonNullable<T> {
  if (actual === undefined || actual === null) {
    throw new AssertionError(
      msg ?? `Expected actual: "${actual}" to not be null or undefined.`,
    );
  }
}

/** Throws unless `actual > expected`. */
export function assertGreater<T>(actual: T, expected: T, msg?: string): void {
  if (actual > expected) return;
  throw new AssertionError(msg ?? `Expect ${fmt(actual)} > ${fmt(expected)}`);
}

/** Throws unless `actual >= expected`. */
export function assertGreaterOrEqual<T>(
  actual: T,
  expected: T,
  msg?: string,
): void {
  if (actual >= expected) return;
  throw new AssertionError(msg ?? `Expect ${fmt(actual)} >= ${fmt(expected)}`);
}

/** Throws unless `actual < expected`. */
export function assertLess<T>(actual: T, expected: T, msg?: string): void {
  if (actual < expected) return;
  throw new AssertionError(msg ?? `Expect ${fmt(actual)} < ${fmt(expected)}`);
}

/** Throws unless `actual <= expected`. */
export function assertLessOrEqual<T>(
  actual: T,
  expected: T,
  msg?: string,
): void {
  if (actual <= expected) return;
  throw new AssertionError(msg ?? `Expect ${fmt(actual)} <= ${fmt(expected)}`);
}

/** Throws unless `actual` contains `expected`. */
export function assertStringIncludes(
  actual: string,
  expected: string,
  msg?: string,
): void {
  if (actual.includes(expected)) return;
  throw new AssertionError(
    msg ?? `Expected actual: "${actual}" to contain: "${expected}".`,
  );
}

/** Throws unless `actual` matches `expected`. */
export function assertMatch(
  actual: string,
  expected: RegExp,
  msg?: string,
): void {
  if (expected.test(actual)) return;
  throw new AssertionError(
    msg ?? `Expected actual: "${actual}" to match: "${expected}".`,
  );
}

/** Throws unless every element of `expected` is (deep-)included in `actual`. */
export function assertArrayIncludes<T>(
  actual: ArrayLike<T>,
  expected: ArrayLike<T>,
  msg?: string,
): void {
  const missing: T[] = [];
  for (let i = 0; i < expected.length; i++) {
    let found = false;
    for (let j = 0; j < actual.length; j++) {
      if (equal(expected[i], actual[j])) {
        found = true;
        break;
      }
    }
    if (!found) missing.push(expected[i]);
  }
  if (missing.length === 0) return;
  throw new AssertionError(
    msg ??
      `Expected actual: "${fmt(actual)}" to include: "${
        fmt(expected)
      }".\nmissing: ${fmt(missing)}`,
  );
}

/** Throws unless `actual` is an instance of `expectedType`. */
export function assertInstanceOf<
  T extends abstract new (...args: never[]) => unknown,
>(
  actual: unknown,
  expectedType: T,
  msg = "",
): asserts actual is InstanceType<T> {
  if (actual instanceof expectedType) return;
  throw new AssertionError(
    msg || `Expected object to be an instance of "${expectedType.name}".`,
  );
}

// deno-lint-ignore no-explicit-any
type ErrorClass<E extends Error> = abstract new (...args: any[]) => E;

/** Splits std's overloads: (fn, msg) or (fn, ErrorClass, msgIncludes, msg). */
function throwsArgs<E extends Error>(
  errorClassOrMsg: ErrorClass<E> | string | undefined,
  msgIncludesOrMsg: string | undefined,
  msg: string | undefined,
): { cls?: ErrorClass<E>; includes?: string; msg?: string } {
  if (typeof errorClassOrMsg === "string") return { msg: errorClassOrMsg };
  if (
    errorClassOrMsg === undefined ||
    errorClassOrMsg.prototype instanceof Error ||
    errorClassOrMsg.prototype === Error.prototype
  ) {
    return { cls: errorClassOrMsg, includes: msgIncludesOrMsg, msg };
  }
  return { msg: msgIncludesOrMsg };
}

function checkError<E extends Error>(
  e: unknown,
  a: { cls?: ErrorClass<E>; includes?: string; msg?: string },
): void {
  if (!a.cls) return;
  const suffix = a.msg ? `: ${a.msg}` : ".";
  if (!(e instanceof Error)) {
    throw new AssertionError(`A non-Error object was thrown${suffix}`);
  }
  if (!(e instanceof a.cls)) {
    throw new AssertionError(
      `Expected error to be instance of "${a.cls.name}", but was "${e.constructor?.name}"${suffix}`,
    );
  }
  if (a.includes !== undefined && !e.message.includes(a.includes)) {
    throw new AssertionError(
      `Expected error message to include "${a.includes}", but got "${e.message}"${suffix}`,
    );
  }
}

/**
 * Throws unless `fn` throws; returns what it threw. std's two forms:
 * `assertThrows(fn, msg?)`, and `assertThrows(fn, ErrorClass, msgIncludes?,
 * msg?)`, which also requires an instance of `ErrorClass` (a non-Error throw
 * fails) whose message includes `msgIncludes`.
 *
 * @example
 * ```ts
 * import { assertThrows } from "./assert.ts";
 * const e = assertThrows(() => { throw new RangeError("bad 3"); }, RangeError, "3");
 * if (e.message !== "bad 3") throw new Error();
 * ```
 */
export function assertThrows(fn: () => unknown, msg?: string): unknown;
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  ErrorClass: ErrorClass<E>,
  msgIncludes?: string,
  msg?: string,
): E;
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  errorClassOrMsg?: ErrorClass<E> | string,
  msgIncludesOrMsg?: string,
  msg?: string,
): E | unknown {
  const a = throwsArgs(errorClassOrMsg, msgIncludesOrMsg, msg);
  let thrown = false;
  let err: unknown;
  try {
    fn();
  } catch (e) {
    thrown = true;
    err = e;
  }
  if (!thrown) {
    throw new AssertionError(
      `Expected function to throw${a.msg ? `: ${a.msg}` : "."}`,
    );
  }
  checkError(err, a);
  return err;
}

/**
 * Async twin of {@link assertThrows}: awaits `fn()` and requires a rejection.
 *
 * @example
 * ```ts
 * import { assertRejects } from "./assert.ts";
 * await assertRejects(() => Promise.reject(new TypeError("no")), TypeError, "no");
 * ```
 */
export function assertRejects(
  fn: () => PromiseLike<unknown>,
  msg?: string,
): Promise<unknown>;
export function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  ErrorClass: ErrorClass<E>,
  msgIncludes?: string,
  msg?: string,
): Promise<E>;
export async function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  errorClassOrMsg?: ErrorClass<E> | string,
  msgIncludesOrMsg?: string,
  msg?: string,
): Promise<E | unknown> {
  const a = throwsArgs(errorClassOrMsg, msgIncludesOrMsg, msg);
  let thrown = false;
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    thrown = true;
    err = e;
  }
  if (!thrown) {
    throw new AssertionError(
      `Expected function to reject${a.msg ? `: ${a.msg}` : "."}`,
    );
  }
  checkError(err, a);
  return err;
}

/** Always throws (marks unreachable code). */
export function fail(msg?: string): never {
  throw new AssertionError(`Failed assertion${msg ? `: ${msg}` : "."}`);
}
