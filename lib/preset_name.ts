/**
 * The names of the experiment presets, in one place: `smoke` (tiny, seconds,
 * for tests and CI), `quick` (reduced sizes, minutes to an hour on a CPU) and
 * `paper` (the paper's settings). The library's toy-figure configs, the
 * `repro/` presets and targets, the notebooks and the tools all take these.
 *
 * @module
 */

/**
 * The preset names, smallest first.
 *
 * @example
 * ```ts
 * import { PRESET_NAMES } from "./preset_name.ts";
 * if (PRESET_NAMES.join() !== "smoke,quick,paper") throw new Error();
 * ```
 */
export const PRESET_NAMES = ["smoke", "quick", "paper"] as const;

/** One of {@link PRESET_NAMES}. */
export type PresetName = typeof PRESET_NAMES[number];

/**
 * Whether `name` is a preset name.
 *
 * @example
 * ```ts
 * import { isPresetName } from "./preset_name.ts";
 * if (!isPresetName("quick") || isPresetName("fast")) throw new Error();
 * ```
 */
export function isPresetName(name: string): name is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(name);
}
