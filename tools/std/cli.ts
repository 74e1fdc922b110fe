/**
 * Offline stand-in for `parseArgs` of `jsr:@std/cli@^1` (the subset this
 * project uses), with std's signature and semantics: `_` holds positional
 * arguments (numeric-looking ones as numbers), `string` / `boolean` /
 * `collect` / `negatable` / `alias` / `default` / `stopEarly` / `"--"` /
 * `unknown` behave as documented for std. `tools/std/std_test.ts` pins them.
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
  const aliases = new Map<string, string[]>();
  for (const [k, v] of Object.entries(options.alias ?? {})) {
    const names = toList(v);
    aliases.set(k, names);
    for (const n of names) aliases.set(n, [k, ...names.filter((m) => m !== n)]);
  }
  const allBooleans = options.boolean === true;
  const booleans = new Set<string>(
    options.boolean === true || options.boolean === false
      ? []
      : toList(options.boolean),
  );
  const strings = new Set<string>(toList(options.string));
  const collect = new Set<string>(toList(options.collect));
  const negatable = new Set<string>(toList(options.negatable));
  for (const set of [booleans, strings, collect, negatable]) {
    for (const k of [...set]) for (const a of aliases.get(k) ?? []) set.add(a);
  }
  const out: Args = { _: [] };
  const isBool = (k: string) =>
    booleans.has(k) || (allBooleans && !strings.has(k));
  const known = (k: string) =>
    booleans.has(k) || strings.has(k) || collect.has(k) || aliases.has(k) ||
    Object.hasOwn(options.default ?? {}, k);

  const explicit = new Set<string>();
  const set = (key: string, value: unknown) => {
    for (const k of [key, ...(aliases.get(key) ?? [])]) {
      explicit.add(k);
      if (collect.has(k)) {
        const prev = out[k];
        out[k] = Array.isArray(prev) ? [...prev, value] : [value];
      } else out[k] = value;
    }
  };
  const setArg = (key: string, value: unknown, arg: string): void => {
    if (
      options.unknown && !known(key) &&
      options.unknown(arg, key, value) === false
    ) {
      return;
    }
    if (
      typeof value === "string" && !strings.has(key) && !isBool(key) &&
      isNumber(value)
    ) {
      value = Number(value);
    }
    set(key, value);
  };

  // Booleans start false unless defaulted (std behaviour); collected flags start [].
  for (const k of booleans) if (!(k in out)) out[k] = false;
  for (const k of collect) if (!(k in out)) out[k] = [];

  let rest: string[] = [];
  const argv = [...args];
  const dd = argv.indexOf("--");
  if (dd !== -1) {
    rest = argv.slice(dd + 1);
    argv.length = dd;
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    let m: RegExpMatchArray | null;
    if ((m = arg.match(/^--([^=]+)=([\s\S]*)$/))) {
      const [, key, v] = m;
      if (isBool(key)) setArg(key, v !== "false", arg);
      else setArg(key, v, arg);
    } else if ((m = arg.match(/^--no-(.+)/)) && negatable.has(m[1])) {
      setArg(m[1], strings.has(m[1]) ? "" : false, arg);
    } else if ((m = arg.match(/^--(.+)/))) {
      const key = m[1];
      const next = argv[i + 1];
      if (
        next !== undefined && !/^(-|--)[^-]/.test(next) && !isBool(key) &&
        !(aliases.get(key) ?? []).some(isBool)
      ) {
        setArg(key, next, arg);
        i++;
      } else if (
        next !== undefined && (next === "true" || next === "false") &&
        isBool(key)
      ) {
        setArg(key, next === "true", arg);
        i++;
      } else setArg(key, strings.has(key) ? "" : true, arg);
    } else if (/^-[^-]+/.test(arg)) {
      const letters = arg.slice(1);
      for (let j = 0; j < letters.length; j++) {
        const key = letters[j];
        const remaining = letters.slice(j + 1);
        if (remaining.startsWith("=")) {
          setArg(key, remaining.slice(1), arg);
          break;
        }
        if (remaining && /[A-Za-z]/.test(remaining[0]) || isBool(key)) {
          if (remaining && !/[A-Za-z]/.test(remaining[0]) && !isBool(key)) {
            setArg(key, remaining, arg);
            break;
          }
          if (j === letters.length - 1) {
            const next = argv[i + 1];
            if (isBool(key) && (next === "true" || next === "false")) {
              setArg(key, next === "true", arg);
              i++;
            } else setArg(key, strings.has(key) ? "" : true, arg);
          } else setArg(key, strings.has(key) ? "" : true, arg);
          continue;
        }
        if (remaining) {
          setArg(key, remaining, arg);
          break;
        }
        const next = argv[i + 1];
        if (next !== undefined && !/^(-|--)[^-]/.test(next)) {
          setArg(key, next, arg);
          i++;
        } else setArg(key, strings.has(key) ? "" : true, arg);
      }
    } else {
      if (!options.unknown || options.unknown(arg) !== false) {
        out._.push(strings.has("_") || !isNumber(arg) ? arg : Number(arg));
      }
      if (options.stopEarly) {
        out._.push(...argv.slice(i + 1));
        break;
      }
    }
  }
  for (const [k, v] of Object.entries(options.default ?? {})) {
    if (
      !(k in out) ||
      (booleans.has(k) && out[k] === false && !args.some((a) => a.includes(k)))
    ) {
      set(k, v);
    }
  }
  if (options["--"]) out["--"] = rest;
  else out._.push(...rest);
  return out;
}
