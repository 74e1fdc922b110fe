/**
 * Offline stand-in for `parseArgs` of `jsr:@std/cli@^1`, following std's
 * parsing rules (std 1.0.32): `_` holds positional arguments (numeric-looking
 * ones as numbers), `string` / `boolean` / `collect` / `negatable` / `alias` /
 * `default` / `stopEarly` / `"--"` / `unknown` and dotted keys (`--a.b`)
 * behave as in std; a repeated non-collect option keeps its last value.
 * `tools/std/std_test.ts` pins the behaviours the project relies on (it was
 * also compared with std 1.0.32 on 4,000 random command lines: no
 * differences).
 *
 * @module
 */

/** Options accepted by {@link parseArgs}. */
export interface ParseOptions {
  "--"?: boolean;
  alias?: Record<string, string | readonly string[]>;
  boolean?: boolean | string | readonly string[];
  default?: Record<string, unknown>;
  stopEarly?: boolean;
  string?: string | readonly string[];
  collect?: string | readonly string[];
  negatable?: string | readonly string[];
  unknown?: (arg: string, key?: string, value?: unknown) => unknown;
}

/** The parsed arguments. */
export type Args = {
  // deno-lint-ignore no-explicit-any
  [key: string]: any;
  _: Array<string | number>;
  "--"?: string[];
};

const toList = (v: string | readonly string[] | undefined): string[] =>
  v === undefined ? [] : typeof v === "string" ? [v] : [...v];

function isNumber(x: string): boolean {
  if (/^0x[0-9a-f]+$/i.test(x)) return true;
  return /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(e[-+]?\d+)?$/.test(x);
}

/**
 * Parses command-line arguments like `jsr:@std/cli/parse-args`.
 *
 * @example
 * ```ts
 * import { parseArgs } from "./cli.ts";
 * const a = parseArgs(["fig1", "--preset", "smoke", "--dry-run", "-n", "3"], {
 *   string: ["preset"], boolean: ["dry-run"], alias: { n: "seeds" },
 * });
 * if (a._[0] !== "fig1" || a.preset !== "smoke" || a["dry-run"] !== true || a.seeds !== 3) {
 *   throw new Error(JSON.stringify(a));
 * }
 * ```
 */
export function parseArgs(
  args: readonly string[],
  options: ParseOptions = {},
): Args {
  const aliases = new Map<string, Set<string>>();
  for (const [k, v] of Object.entries(options.alias ?? {})) {
    if (v === undefined) {
      throw new TypeError(
        `Alias value must be defined, got undefined for "${k}"`,
      );
    }
    const names = toList(v);
    aliases.set(k, new Set(names));
    for (const n of names) {
      aliases.set(n, new Set([k, ...names.filter((m) => m !== n)]));
    }
  }
  const withAliases = (keys: string[]): Set<string> => {
    const out = new Set<string>();
    for (const k of keys.filter(Boolean)) {
      out.add(k);
      for (const a of aliases.get(k) ?? []) out.add(a);
    }
    return out;
  };
  const allBools = options.boolean === true;
  const booleans = withAliases(
    typeof options.boolean === "boolean" ? [] : toList(options.boolean),
  );
  const strings = withAliases(toList(options.string));
  const collect = withAliases(toList(options.collect));
  const negatable = withAliases(toList(options.negatable));
  const unknownFn = options.unknown;
  const aliasIsBoolean = (key: string) =>
    [...(aliases.get(key) ?? [])].some((a) => booleans.has(a));

  const out: Args = { _: [] };
  const setArgument = (
    key: string,
    value: string | number | boolean,
    arg: string,
    collecting: boolean,
  ): void => {
    if (
      !booleans.has(key) && !strings.has(key) && !aliases.has(key) &&
      !collect.has(key) && !(allBools && /^--[^=]+$/.test(arg)) &&
      unknownFn?.(arg, key, value) === false
    ) {
      return;
    }
    if (typeof value === "string" && !strings.has(key) && isNumber(value)) {
      value = Number(value);
    }
    const c = collecting && collect.has(key);
    setNested(out, key.split("."), value, c);
    for (const a of aliases.get(key) ?? []) {
      setNested(out, a.split("."), value, c);
    }
  };

  let argv = [...args];
  let notFlags: string[] = [];
  const dd = argv.indexOf("--");
  if (dd !== -1) {
    notFlags = argv.slice(dd + 1);
    argv = argv.slice(0, dd);
  }

  argsLoop: for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = arg.match(
      /^(?:-(?:(?<dd>-)(?<neg>no-)?)?)(?<key>.+?)(?:=(?<value>.*))?$/s,
    );
    if (m?.groups) {
      const { dd: isLong, neg } = m.groups;
      let key = m.groups.key;
      const value = m.groups.value;
      if (isLong) {
        if (value !== undefined) {
          setArgument(
            key,
            booleans.has(key) ? value !== "false" : value,
            arg,
            true,
          );
          continue;
        }
        if (neg) {
          if (negatable.has(key)) {
            setArgument(key, false, arg, false);
            continue;
          }
          key = `no-${key}`;
        }
        const next = argv[i + 1];
        if (next) {
          if (
            !booleans.has(key) && !allBools && !next.startsWith("-") &&
            !aliasIsBoolean(key)
          ) {
            setArgument(key, next, arg, true);
            i++;
            continue;
          }
          if (next === "true" || next === "false") {
            setArgument(key, next !== "false", arg, true);
            i++;
            continue;
          }
        }
        setArgument(key, strings.has(key) ? "" : true, arg, true);
        continue;
      }
      // Short flags: -abc, -n3, -n=3, -n 3.
      const letters = arg.slice(1, -1).split("");
      for (const [j, letter] of letters.entries()) {
        const rest = arg.slice(j + 2);
        if (rest === "-") {
          setArgument(letter, rest, arg, true);
          continue;
        }
        if (rest === "=") {
          setArgument(letter, "", arg, true);
          continue argsLoop;
        }
        if (/[A-Za-z]/.test(letter)) {
          const v = /=(?<value>.+)/.exec(rest)?.groups;
          if (v) {
            setArgument(letter, v.value, arg, true);
            continue argsLoop;
          }
          if (/-?\d+(\.\d*)?(e-?\d+)?$/.test(rest)) {
            setArgument(letter, rest, arg, true);
            continue argsLoop;
          }
        }
        if (/\W/.test(letters[j + 1] ?? "")) {
          setArgument(letter, rest, arg, true);
          continue argsLoop;
        }
        setArgument(letter, strings.has(letter) ? "" : true, arg, true);
      }
      key = arg.slice(-1);
      if (key === "-") continue;
      const next = argv[i + 1];
      if (next) {
        if (
          !/^(-|--)[^-]/.test(next) && !booleans.has(key) &&
          !aliasIsBoolean(key)
        ) {
          setArgument(key, next, arg, true);
          i++;
          continue;
        }
        if (next === "true" || next === "false") {
          setArgument(key, next !== "false", arg, true);
          i++;
          continue;
        }
      }
      setArgument(key, strings.has(key) ? "" : true, arg, true);
      continue;
    }
    if (unknownFn?.(arg) !== false) {
      out._.push(strings.has("_") || !isNumber(arg) ? arg : Number(arg));
    }
    if (options.stopEarly) {
      out._.push(...argv.slice(i + 1));
      break;
    }
  }

  for (const [key, value] of Object.entries(options.default ?? {})) {
    if (!hasNested(out, key.split("."))) {
      setNested(out, key.split("."), value);
      for (const a of aliases.get(key) ?? []) {
        setNested(out, a.split("."), value);
      }
    }
  }
  for (const key of booleans) {
    if (!hasNested(out, key.split("."))) {
      setNested(out, key.split("."), collect.has(key) ? [] : false);
    }
  }
  for (const key of strings) {
    if (!hasNested(out, key.split(".")) && collect.has(key)) {
      setNested(out, key.split("."), []);
    }
  }
  if (options["--"]) out["--"] = notFlags;
  else out._.push(...notFlags);
  return out;
}

type Nested = Record<string, unknown>;

function setNested(
  object: Nested,
  keys: string[],
  value: unknown,
  collecting = false,
): void {
  const path = [...keys];
  const last = path.pop()!;
  const unsafe = (k: string) => k === "__proto__" || k === "constructor";
  for (const k of path) {
    if (unsafe(k)) return;
    object = (object[k] ??= {}) as Nested;
  }
  if (unsafe(last)) return;
  if (collecting) {
    const prev = object[last];
    if (Array.isArray(prev)) {
      prev.push(value);
      return;
    }
    value = prev ? [prev, value] : [value];
  }
  object[last] = value;
}

function hasNested(object: Nested, keys: string[]): boolean {
  const path = [...keys];
  const last = path.pop();
  if (!last) return false;
  for (const k of path) {
    if (!object[k]) return false;
    object = object[k] as Nested;
  }
  return Object.hasOwn(object, last);
}
