/**
 * Run ids derived from the run's configuration alone: the same
 * configuration gets the same id in every process, on every machine, so
 * shards sharing a results folder agree on which run is which.
 *
 * @module
 */
import type { RunConfig } from "./run_config.ts";

/**
 * Canonical JSON: object keys sorted, `undefined` members dropped, numbers
 * as JavaScript prints them. Two equal configurations give equal strings
 * whatever order their keys were written in.
 *
 * @example
 * ```ts
 * import { canonicalJson } from "./run_id.ts";
 * if (canonicalJson({ b: 1, a: [2, { d: undefined, c: 3 }] }) !== '{"a":[2,{"c":3}],"b":1}') {
 *   throw new Error();
 * }
 * ```
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) {
      throw new Error(`canonicalJson: non-finite number ${value}`);
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return `[${
      value.map((v) => v === undefined ? "null" : canonicalJson(v)).join(",")
    }]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${
    keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")
  }}`;
}

/**
 * A 64-bit FNV-1a hash of a string's UTF-8 bytes, as 16 hex digits.
 *
 * @example
 * ```ts
 * import { fnv1a64 } from "./run_id.ts";
 * // Published FNV-1a 64 test vectors.
 * if (fnv1a64("") !== "cbf29ce484222325") throw new Error();
 * if (fnv1a64("a") !== "af63dc4c8601ec8c") throw new Error();
 * ```
 */
export function fnv1a64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let h = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  const mask = 0xffffffffffffffffn;
  for (const b of bytes) {
    h ^= BigInt(b);
    h = (h * prime) & mask;
  }
  return h.toString(16).padStart(16, "0");
}

/**
 * The id of a run: a readable prefix (dataset, method, start, end epoch,
 * seed) and 12 hex digits of the hash of its canonical configuration.
 *
 * @example
 * ```ts
 * import { runId } from "./run_id.ts";
 * const config = {
 *   dataset: "synthetic-images", model: { kind: "mlp" as const, hidden: [8] },
 *   method: { name: "sgd" as const }, seed: 0, epochs: 2, batchSize: 4,
 *   schedule: { baseLr: 0.1, milestones: [], factor: 0.2 }, momentum: 0.9,
 *   weightDecay: 5e-4, keepEpochs: [],
 * };
 * const id = runId(config);
 * if (!id.startsWith("synthetic-images-sgd-e2-s0-")) throw new Error(id);
 * if (runId({ ...config }) !== id) throw new Error("not stable");
 * ```
 */
export function runId(config: RunConfig): string {
  const hash = fnv1a64(canonicalJson(config)).slice(0, 12);
  const from = config.from ? `-from${config.from.epoch}` : "";
  const method = config.method.name;
  return `${config.dataset}-${method}${from}-e${config.epochs}-s${config.seed}-${hash}`;
}

/**
 * Every run a list needs, dependencies (`from` chains) included, each once,
 * parents before children, otherwise in the order first met.
 *
 * @example
 * ```ts
 * import { runId, withDependencies } from "./run_id.ts";
 * const base = {
 *   dataset: "d", model: { kind: "mlp" as const, hidden: [8] },
 *   method: { name: "sam" as const, rho: 0.05 }, seed: 0, epochs: 4, batchSize: 4,
 *   schedule: { baseLr: 0.1, milestones: [], factor: 0.2 }, momentum: 0.9,
 *   weightDecay: 5e-4, keepEpochs: [4],
 * };
 * const child = { ...base, epochs: 5, from: { run: base, epoch: 4 } };
 * const all = withDependencies([child, child]);
 * if (all.length !== 2 || runId(all[0]) !== runId(base)) throw new Error();
 * ```
 */
export function withDependencies(configs: RunConfig[]): RunConfig[] {
  const seen = new Set<string>();
  const out: RunConfig[] = [];
  const visit = (c: RunConfig) => {
    const id = runId(c);
    if (seen.has(id)) return;
    if (c.from) visit(c.from.run);
    seen.add(id);
    out.push(c);
  };
  for (const c of configs) visit(c);
  return out;
}
