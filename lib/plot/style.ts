/**
 * Shared styling for every chart of the reproduction: one colour per method
 * (SGD, SAM, PoF and the classifier fine-tune), one per data split, and the
 * vega-lite schema every spec declares. Every spec builder in `lib/plot`
 * takes its colours from here, so SAM and PoF look the same in every figure.
 *
 * @module
 */

/** The vega-lite major version all specs target (the notebooks' MIME type says v5). */
export const VEGA_LITE_SCHEMA =
  "https://vega.github.io/schema/vega-lite/v5.json";

/** The MIME type JupyterLab renders vega-lite v5 specs with. */
export const VEGA_LITE_MIME = "application/vnd.vegalite.v5+json";

/** A training method as the figures name it. */
export type MethodKey = "sgd" | "sam" | "pof" | "finetune";

/** Every method key, in legend order. */
export const METHOD_KEYS: readonly MethodKey[] = [
  "sgd",
  "sam",
  "pof",
  "finetune",
];

/** Legend label and colour of one series. */
export interface SeriesStyle {
  /** Text shown in legends and tables. */
  label: string;
  /** CSS colour (hex). */
  color: string;
}

/**
 * Method styles, the same in every chart: SAM blue and PoF orange as in the
 * paper's Fig. 5, SGD grey, fine-tune (PoF + classifier fine-tuning) pink.
 *
 * @example
 * ```ts
 * import { METHOD_STYLE } from "./style.ts";
 * if (METHOD_STYLE.pof.label !== "PoF") throw new Error();
 * ```
 */
export const METHOD_STYLE: Readonly<Record<MethodKey, SeriesStyle>> = {
  sgd: { label: "SGD", color: "#7f7f7f" },
  sam: { label: "SAM", color: "#1f77b4" },
  pof: { label: "PoF", color: "#ff7f0e" },
  finetune: { label: "PoF + classifier fine-tune", color: "#e377c2" },
};

/** A data split. */
export type SplitKey = "train" | "test";

/**
 * Split styles (Fig. 2(b)): training green, test purple (kept apart from the
 * method colours).
 *
 * @example
 * ```ts
 * import { SPLIT_STYLE } from "./style.ts";
 * if (SPLIT_STYLE.test.label !== "test") throw new Error();
 * ```
 */
export const SPLIT_STYLE: Readonly<Record<SplitKey, SeriesStyle>> = {
  train: { label: "train", color: "#2ca02c" },
  test: { label: "test", color: "#9467bd" },
};

/** Where a number came from: the paper or this reproduction. */
export type SourceKey = "paper" | "ours";

/**
 * Opacity of bars by source in paper-vs-ours charts: the paper's bars are
 * pale, ours solid, both in the method's colour.
 *
 * @example
 * ```ts
 * import { SOURCE_OPACITY } from "./style.ts";
 * if (!(SOURCE_OPACITY.ours > SOURCE_OPACITY.paper)) throw new Error();
 * ```
 */
export const SOURCE_OPACITY: Readonly<Record<SourceKey, number>> = {
  paper: 0.4,
  ours: 1,
};

/** A vega-lite scale that maps labels to fixed colours. */
export interface ColorScale {
  domain: string[];
  range: string[];
}

/**
 * The colour scale for the given methods, in {@link METHOD_KEYS} order
 * (unknown keys throw, naming the key).
 *
 * @example
 * ```ts
 * import { methodColorScale } from "./style.ts";
 * const s = methodColorScale(["pof", "sam"]);
 * if (s.domain.join() !== "SAM,PoF" || s.range[0] !== "#1f77b4") throw new Error();
 * ```
 */
export function methodColorScale(methods: readonly string[]): ColorScale {
  for (const m of methods) {
    if (!(m in METHOD_STYLE)) {
      throw new RangeError(
        `unknown method "${m}"; expected one of ${METHOD_KEYS.join(", ")}`,
      );
    }
  }
  const keys = METHOD_KEYS.filter((k) => methods.includes(k));
  return {
    domain: keys.map((k) => METHOD_STYLE[k].label),
    range: keys.map((k) => METHOD_STYLE[k].color),
  };
}

/**
 * The colour scale for the train / test splits.
 *
 * @example
 * ```ts
 * import { splitColorScale } from "./style.ts";
 * if (splitColorScale().domain.join() !== "train,test") throw new Error();
 * ```
 */
export function splitColorScale(): ColorScale {
  return {
    domain: [SPLIT_STYLE.train.label, SPLIT_STYLE.test.label],
    range: [SPLIT_STYLE.train.color, SPLIT_STYLE.test.color],
  };
}
