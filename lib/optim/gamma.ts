/**
 * PoF's expansion factor gamma (paper Eq. 4-5): drawn each step from a
 * sampler. The paper samples gamma ~ U[0, 2] every iteration; it also
 * mentions a fixed value and a linear ramp from 0 to 2.
 *
 * @module
 */
import type { Rng } from "../rng.ts";
import { linearSchedule } from "./schedule.ts";

/** How gamma is chosen: uniform in [low, high), fixed, or a linear ramp over steps. */
export type GammaSpec =
  | { kind: "uniform"; low: number; high: number }
  | { kind: "fixed"; value: number }
  | { kind: "linear"; from: number; to: number; steps: number };

/** Draws gamma for step `count` (steps already taken), using `rng` when random. */
export type GammaSampler = (count: number, rng: Rng) => number;

/** The paper's setting: U[0, 2] each step. */
export const PAPER_GAMMA: GammaSpec = { kind: "uniform", low: 0, high: 2 };

function finite(name: string, v: number): void {
  if (!Number.isFinite(v)) {
    throw new RangeError(`gamma ${name} must be a finite number, got ${v}`);
  }
}

/**
 * Builds a sampler from a spec. Uniform draws take exactly one
 * `rng.uniform()`; fixed and linear do not touch `rng`.
 *
 * @example
 * ```ts
 * import { gammaSampler } from "./gamma.ts";
 * import { Rng } from "../rng.ts";
 * const g = gammaSampler({ kind: "uniform", low: 0, high: 2 });
 * const x = g(0, new Rng(1));
 * if (!(x >= 0 && x < 2)) throw new Error(String(x));
 * const ramp = gammaSampler({ kind: "linear", from: 0, to: 2, steps: 10 });
 * if (ramp(5, new Rng(1)) !== 1) throw new Error();
 * ```
 */
export function gammaSampler(spec: GammaSpec = PAPER_GAMMA): GammaSampler {
  switch (spec.kind) {
    case "uniform": {
      finite("low", spec.low);
      finite("high", spec.high);
      if (spec.high < spec.low) {
        throw new RangeError(
          `gamma range must have low <= high, got [${spec.low}, ${spec.high}]`,
        );
      }
      const { low, high } = spec;
      return (_count, rng) => rng.range(low, high);
    }
    case "fixed": {
      finite("value", spec.value);
      const v = spec.value;
      return () => v;
    }
    case "linear": {
      const s = linearSchedule(spec);
      return (count) => s(count);
    }
    default:
      throw new RangeError(
        `gamma spec kind must be "uniform", "fixed" or "linear", got ${
          JSON.stringify(spec)
        }`,
      );
  }
}
