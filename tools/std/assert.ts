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

/** Deep equality as std defines it (structure, prototypes of typed arrays, Maps, Sets, Dates). */
export function equal(a: unknown, b: unknown): boolean {
  const seen = new Map<unknown, unknown>();
  const eq = (x: unknown, y: unknown): boolean => {
    if (Object.is(x, y)) return true;
    if (
      x === null || y === null || typeof x !== "object" || typeof y !== "object"
    ) {
      return false;
    }
    if (x instanceof Date && y instanceof Date) {
      return Object.is(x.getTime(), y.getTime());
    }
    if (x instanceof RegExp && y instanceof RegExp) {
      return String(x) === String(y);
    }
    if (Object.getPrototypeOf(x) !== Object.getPrototypeOf(y)) return false;
    if (seen.get(x) === y) return true;
    seen.set(x, y);
    if (x instanceof Map && y instanceof Map) {
      if (x.size !== y.size) return false;
      for (const [k, v] of x) if (!y.has(k) || !eq(v, y.get(k))) return false;
      return true;
    }
    if (x instanceof Set && y instanceof Set) {
      if (x.size !== y.size) return false;
      for (const v of x) if (!y.has(v)) return false;
      return true;
    }
    if (ArrayBuffer.isView(x) && ArrayBuffer.isView(y)) {
      const xa = x as unknown as ArrayLike<unknown>,
        ya = y as unknown as ArrayLike<unknown>;
      if (xa.length !== ya.length) return false;
      for (let i = 0; i < xa.length; i++) {
        if (!Object.is(xa[i], ya[i])) return false;
      }
      return true;
    }
    const kx = Object.keys(x as object), ky = Object.keys(y as object);
    if (kx.length !== ky.length) return false;
    for (const k of kx) {
      if (!Object.hasOwn(y as object, k)) return false;
      if (
        !eq(
          (x as Record<string, unknown>)[k],
          (y as Record<string, unknown>)[k],
        )
      ) return false;
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
 * tolerance is `1e-7` relative to `expected` (absolute when expected is 0... std uses
 * `Math.abs(expected * 1e-7)`); NaN never matches, equal infinities do.
 */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance?: number,
  msg?: string,
): void {
  if (Object.is(actual, expected)) return;
  const delta = Math.abs(expected - actual);
  const tol = tolerance ?? Math.abs(expected * 1e-7);
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

function checkError(
  e: unknown,
  ErrorClass?: new (...args: never[]) => Error,
  msgIncludes?: string,
): void {
  if (ErrorClass && !(e instanceof ErrorClass)) {
    throw new AssertionError(
      `Expected error to be instance of "${ErrorClass.name}", but was "${
        (e as Error)?.constructor?.name
      }": ${fmt(e)}`,
    );
  }
  if (msgIncludes !== undefined) {
    const m = e instanceof Error ? e.message : String(e);
    if (!m.includes(msgIncludes)) {
      throw new AssertionError(
        `Expected error message to include "${msgIncludes}", but got "${m}".`,
      );
    }
  }
}

/**
 * Throws unless `fn` throws (optionally an instance of `ErrorClass` whose
 * message includes `msgIncludes`); returns the thrown error.
 */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  ErrorClass?: new (...args: never[]) => E,
  msgIncludes?: string,
  msg?: string,
): E {
  let thrown = false;
  let err: unknown;
  try {
    fn();
  } catch (e) {
    thrown = true;
    err = e;
  }
  if (!thrown) {
    throw new AssertionError(msg ?? "Expected function to throw.");
  }
  checkError(err, ErrorClass, msgIncludes);
  return err as E;
}

/** Async twin of {@link assertThrows}. */
export async function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  ErrorClass?: new (...args: never[]) => E,
  msgIncludes?: string,
  msg?: string,
): Promise<E> {
  let thrown = false;
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    thrown = true;
    err = e;
  }
  if (!thrown) {
    throw new AssertionError(msg ?? "Expected function to reject.");
  }
  checkError(err, ErrorClass, msgIncludes);
  return err as E;
}

/** Always throws (marks unreachable code). */
export function fail(msg?: string): never {
  throw new AssertionError(`Failed assertion${msg ? `: ${msg}` : "."}`);
}
