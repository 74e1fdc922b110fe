/**
 * Vega-lite v5 specs for every figure and table of the paper. Each builder
 * takes the data a `repro` target writes (the `data` field of
 * `<out>/<target>.json`) and returns a self-contained spec (data inline), so
 * it can be rendered offline to SVG ({@link renderSvg} in `render.ts`) and
 * displayed live in JupyterLab. Statistics (mean +- std, histogram bins) are
 * computed here in float64 (`stats.ts`), never by vega-lite, so the numbers in
 * a chart are the numbers in the tables. Colours come from `style.ts`.
 *
 * @module
 */
import {
  binEdges,
  histogram,
  type MeanStd,
  meanStd,
  median,
} from "../stats.ts";
import {
  METHOD_STYLE,
  methodColorScale,
  type MethodKey,
  SOURCE_OPACITY,
  SPLIT_STYLE,
  splitColorScale,
  VEGA_LITE_SCHEMA,
} from "./style.ts";

/** A vega-lite spec: a JSON object. */
export type VegaLiteSpec = { [key: string]: unknown };

/** One value, or one value per seed (summarised as mean +- std). */
export type Sample = number | readonly number[];

/** Common options of the spec builders. */
export interface ChartOptions {
  /** Chart title (each builder has the paper's figure name as default). */
  title?: string;
  /** A second title line. */
  subtitle?: string;
  /** Width of one panel in pixels. */
  width?: number;
  /** Height of one panel in pixels. */
  height?: number;
}

function toValues(s: Sample, what: string): number[] {
  const values = typeof s === "number" ? [s] : [...s];
  if (values.length === 0) throw new RangeError(`${what}: no values given`);
  return values;
}

function summarise(s: Sample, what: string): MeanStd {
  try {
    return meanStd(toValues(s, what));
  } catch (e) {
    throw new RangeError(`${what}: ${(e as Error).message}`);
  }
}

function header(
  defaults: { title: string; subtitle?: string },
  o: ChartOptions,
): VegaLiteSpec {
  const subtitle = o.subtitle ?? defaults.subtitle;
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: subtitle === undefined
      ? { text: o.title ?? defaults.title }
      : { text: o.title ?? defaults.title, subtitle },
    config: {
      view: { stroke: null },
      axis: { grid: true, gridOpacity: 0.4 },
      legend: { labelLimit: 260 },
    },
  };
}

function methodColor(methods: readonly string[], title = "method") {
  return {
    field: "method",
    type: "nominal",
    title,
    scale: methodColorScale(methods),
  };
}

function checkMethod(m: string, what: string): MethodKey {
  if (!(m in METHOD_STYLE)) {
    throw new RangeError(
      `${what}: unknown method "${m}"; expected one of ${
        Object.keys(METHOD_STYLE).join(", ")
      }`,
    );
  }
  return m as MethodKey;
}

function fmt(x: number): string {
  return Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4
    ? x.toPrecision(3)
    : x.toExponential(2);
}

// ---------------------------------------------------------------- Fig. 1

/** One layer of Fig. 1(c): the test-loss increase along its top eigenvector. */
export interface Fig1cLayer {
  /** Layer index (1 = input layer) or name. */
  layer: number | string;
  /** Delta L after SGD and after PoF (one value, or one per seed). */
  deltaL: { sgd: Sample; pof: Sample };
}

/**
 * Fig. 1(c): test-loss increase Delta L along each layer's top Hessian
 * eigenvector, SGD vs PoF, as grouped bars (mean, with +- std error bars
 * when several seeds are given).
 *
 * @example
 * ```ts
 * import { fig1cSpec } from "./figures.ts";
 * const spec = fig1cSpec([{ layer: 1, deltaL: { sgd: 0.1, pof: [0.05, 0.07] } }]);
 * const rows = (spec.data as { values: { method: string; mean: number }[] }).values;
 * const pof = rows.find((r) => r.method === "PoF")!;
 * if (Math.abs(pof.mean - 0.06) > 1e-12) throw new Error(String(pof.mean));
 * ```
 */
export function fig1cSpec(
  layers: readonly Fig1cLayer[],
  options: ChartOptions = {},
): VegaLiteSpec {
  if (!Array.isArray(layers) || layers.length === 0) {
    throw new RangeError(`fig1cSpec needs at least one layer, got ${layers}`);
  }
  const values = layers.flatMap((l, i) =>
    (["sgd", "pof"] as const).map((m) => {
      const s = summarise(l.deltaL?.[m], `fig1c layer ${i} deltaL.${m}`);
      return {
        layer: String(l.layer),
        method: METHOD_STYLE[m].label,
        mean: s.mean,
        lo: s.mean - s.std,
        hi: s.mean + s.std,
        n: s.n,
      };
    })
  );
  const x = {
    field: "layer",
    type: "ordinal",
    title: "layer",
    sort: layers.map((l) => String(l.layer)),
  };
  return {
    ...header({
      title: "Fig. 1(c): test-loss increase along each layer's top eigenvector",
      subtitle: "error bars: mean +- std over seeds",
    }, options),
    width: options.width ?? 320,
    height: options.height ?? 220,
    data: { values },
    encoding: { x, xOffset: { field: "method", sort: ["SGD", "PoF"] } },
    layer: [
      {
        mark: "bar",
        encoding: {
          y: { field: "mean", type: "quantitative", title: "Delta L (test)" },
          color: methodColor(["sgd", "pof"]),
        },
      },
      {
        mark: { type: "rule", color: "black" },
        encoding: {
          y: { field: "lo", type: "quantitative" },
          y2: { field: "hi" },
        },
      },
    ],
  };
}

/** One point of a 1-D loss landscape. */
export interface Fig1dPoint {
  /** Step along the direction. */
  t: number;
  loss: number;
  /** Which direction (1 = top eigenvector) when several are plotted. */
  direction?: number;
}

/**
 * Fig. 1(d): training loss along the top final-layer Hessian eigenvector(s),
 * SGD vs PoF (one line per method; dashes distinguish directions when the
 * points carry `direction`).
 *
 * @example
 * ```ts
 * import { fig1dSpec } from "./figures.ts";
 * const spec = fig1dSpec({
 *   sgd: [{ t: -1, loss: 1 }, { t: 0, loss: 0 }, { t: 1, loss: 1 }],
 *   pof: [{ t: -1, loss: 0.5 }, { t: 0, loss: 0 }, { t: 1, loss: 0.5 }],
 * });
 * if ((spec.data as { values: unknown[] }).values.length !== 6) throw new Error();
 * ```
 */
export function fig1dSpec(
  landscape: {
    sgd: readonly Fig1dPoint[];
    pof: readonly Fig1dPoint[];
  },
  options: ChartOptions = {},
): VegaLiteSpec {
  const values: Record<string, unknown>[] = [];
  let directions = false;
  for (const m of ["sgd", "pof"] as const) {
    const pts = landscape?.[m];
    if (!Array.isArray(pts) || pts.length === 0) {
      throw new RangeError(`fig1dSpec: landscape.${m} has no points: ${pts}`);
    }
    pts.forEach((p, i) => {
      if (!Number.isFinite(p.t) || !Number.isFinite(p.loss)) {
        throw new RangeError(
          `fig1dSpec: landscape.${m}[${i}] must have finite t and loss, got ${
            JSON.stringify(p)
          }`,
        );
      }
      if (p.direction !== undefined) directions = true;
      values.push({
        method: METHOD_STYLE[m].label,
        t: p.t,
        loss: p.loss,
        direction: `v${p.direction ?? 1}`,
      });
    });
  }
  const encoding: Record<string, unknown> = {
    x: { field: "t", type: "quantitative", title: "step t along eigenvector" },
    y: { field: "loss", type: "quantitative", title: "training loss" },
    color: methodColor(["sgd", "pof"]),
    detail: { field: "direction" },
  };
  if (directions) {
    encoding.strokeDash = {
      field: "direction",
      type: "nominal",
      title: "eigenvector",
    };
  }
  return {
    ...header({
      title: directions
        ? "Fig. 1(d): training loss along the top final-layer eigenvectors"
        : "Fig. 1(d): training loss along the top final-layer eigenvector",
    }, options),
    width: options.width ?? 320,
    height: options.height ?? 220,
    data: { values },
    mark: { type: "line", strokeWidth: 2 },
    encoding,
  };
}

// ---------------------------------------------------------------- Fig. 2

/**
 * Fig. 2(a): how many mini-batches have their gradient most aligned with the
 * i-th Hessian eigenvector (`counts[0]` is eigenvector 1, the largest).
 *
 * @example
 * ```ts
 * import { fig2aSpec } from "./figures.ts";
 * const spec = fig2aSpec([5, 3, 1]);
 * const rows = (spec.data as { values: { i: number; count: number }[] }).values;
 * if (rows[0].i !== 1 || rows[2].count !== 1) throw new Error();
 * ```
 */
export function fig2aSpec(
  counts: readonly number[],
  options: ChartOptions = {},
): VegaLiteSpec {
  if (!Array.isArray(counts) || counts.length === 0) {
    throw new RangeError(`fig2aSpec needs counts, got ${counts}`);
  }
  counts.forEach((c, i) => {
    if (!Number.isInteger(c) || c < 0) {
      throw new RangeError(
        `fig2aSpec: count ${i} must be a non-negative integer, got ${c}`,
      );
    }
  });
  const total = counts.reduce((a, b) => a + b, 0);
  return {
    ...header({
      title:
        "Fig. 2(a): eigenvector index most aligned with mini-batch gradients",
      subtitle: `argmax_i |v_i . g_B| over ${total} mini-batches`,
    }, options),
    width: options.width ?? 320,
    height: options.height ?? 220,
    data: { values: counts.map((count, k) => ({ i: k + 1, count })) },
    mark: { type: "bar", color: METHOD_STYLE.sgd.color },
    encoding: {
      x: { field: "i", type: "ordinal", title: "eigenvector index i" },
      y: { field: "count", type: "quantitative", title: "mini-batches" },
    },
  };
}

/** Options of the histogram figures. */
export interface HistogramOptions extends ChartOptions {
  /** Number of bins (default 30). */
  bins?: number;
  /** Log-spaced bins on a log x-axis (values <= 0 are dropped and counted). */
  log?: boolean;
}

function histogramRows(
  groups: { label: Record<string, string>; values: readonly number[] }[],
  o: HistogramOptions,
  what: string,
): { rows: Record<string, unknown>[]; dropped: number } {
  let dropped = 0;
  const kept = groups.map((g) => {
    if (!Array.isArray(g.values) || g.values.length === 0) {
      throw new RangeError(
        `${what}: ${Object.values(g.label).join(" ")} has no values`,
      );
    }
    const v = g.values.filter((x) => Number.isFinite(x) && (!o.log || x > 0));
    dropped += g.values.length - v.length;
    return { ...g, values: v };
  });
  const all = kept.flatMap((g) => g.values);
  if (all.length === 0) {
    throw new RangeError(
      `${what}: no finite${o.log ? " positive" : ""} values to plot`,
    );
  }
  const edges = binEdges(all, { bins: o.bins ?? 30, log: o.log ?? false });
  const rows = kept.flatMap((g) =>
    g.values.length === 0
      ? []
      : histogram(g.values, edges).bins.map((b) => ({ ...g.label, ...b }))
  );
  return { rows, dropped };
}

function histogramLayer(
  colorField: string,
  color: unknown,
  log: boolean,
  xTitle: string,
): Record<string, unknown> {
  return {
    mark: { type: "bar", opacity: 0.55, binSpacing: 0 },
    encoding: {
      x: {
        field: "lo",
        type: "quantitative",
        title: xTitle,
        scale: log ? { type: "log" } : { zero: false },
        axis: log ? { format: ".0e" } : {},
      },
      x2: { field: "hi" },
      y: {
        field: "fraction",
        type: "quantitative",
        title: "fraction of mini-batches",
        stack: null,
      },
      y2: { datum: 0 },
      color: { ...(color as object), field: colorField },
    },
  };
}

/**
 * Fig. 2(b): distributions of xi*_B (distance to the mini-batch loss minimum
 * along the normalised gradient) on training vs test mini-batches, with the
 * medians marked and their ratio in the subtitle.
 *
 * @example
 * ```ts
 * import { fig2bSpec } from "./figures.ts";
 * const spec = fig2bSpec({ xiTrain: [1, 2, 3], xiTest: [2, 4, 6] }, { bins: 5 });
 * if (!JSON.stringify(spec.title).includes("2.00")) throw new Error();
 * ```
 */
export function fig2bSpec(
  data: { xiTrain: readonly number[]; xiTest: readonly number[] },
  options: HistogramOptions = {},
): VegaLiteSpec {
  const { rows, dropped } = histogramRows(
    [
      { label: { split: SPLIT_STYLE.train.label }, values: data?.xiTrain },
      { label: { split: SPLIT_STYLE.test.label }, values: data?.xiTest },
    ],
    options,
    "fig2bSpec",
  );
  const finite = (v: readonly number[]) =>
    v.filter((x) => Number.isFinite(x) && (!options.log || x > 0));
  const mTrain = median(finite(data.xiTrain));
  const mTest = median(finite(data.xiTest));
  const log = options.log ?? false;
  const color = { type: "nominal", title: "split", scale: splitColorScale() };
  return {
    ...header({
      title:
        "Fig. 2(b): distribution of xi*_B on training vs test mini-batches",
      subtitle: `median test / median train = ${fmt(mTest / mTrain)}` +
        (dropped ? ` (${dropped} non-plottable values dropped)` : ""),
    }, options),
    width: options.width ?? 320,
    height: options.height ?? 220,
    layer: [
      {
        data: { values: rows },
        ...histogramLayer("split", color, log, "xi*_B"),
      },
      {
        data: {
          values: [
            { split: SPLIT_STYLE.train.label, median: mTrain },
            { split: SPLIT_STYLE.test.label, median: mTest },
          ],
        },
        mark: { type: "rule", strokeDash: [4, 3], strokeWidth: 2 },
        encoding: {
          x: { field: "median", type: "quantitative" },
          color: { ...color, field: "split" },
        },
      },
    ],
  };
}

// ---------------------------------------------------------------- Fig. 4

/** One epoch of a test-error curve: the error (%) per seed. */
export interface CurvePoint {
  epoch: number;
  /** Test error (%) at this epoch (or the quantity `yTitle` names), one value or one per seed. */
  error: Sample;
}

/** A test-error curve of one method. */
export interface ErrorCurve {
  method: MethodKey;
  points: readonly CurvePoint[];
}

/** Options of {@link fig4Spec}. */
export interface Fig4Options extends ChartOptions {
  /** A second, zoomed panel over this epoch range (paper: [180, 250]). */
  zoom?: [number, number];
  /** The y-axis title (default "test error (%)"; e.g. a training-loss plot). */
  yTitle?: string;
  /** Epoch where PoF starts (a labelled vertical rule; paper 200). */
  switchEpoch?: number;
  /** The label of the {@link Fig4Options.switchEpoch} rule (default "PoF starts"). */
  switchLabel?: string;
}

function curvePanel(
  values: Record<string, unknown>[],
  methods: MethodKey[],
  o: Fig4Options,
  range?: [number, number],
): VegaLiteSpec {
  const x = {
    field: "epoch",
    type: "quantitative",
    title: "epoch",
    scale: range ? { domain: range, nice: false } : { nice: false },
  };
  const layers: Record<string, unknown>[] = [
    {
      mark: { type: "area", opacity: 0.2 },
      encoding: {
        x,
        y: { field: "lo", type: "quantitative" },
        y2: { field: "hi" },
        color: methodColor(methods),
      },
    },
    {
      mark: { type: "line", strokeWidth: 2 },
      encoding: {
        x,
        y: {
          field: "mean",
          type: "quantitative",
          title: o.yTitle ?? "test error (%)",
          scale: { zero: false },
        },
        color: methodColor(methods),
      },
    },
  ];
  if (o.switchEpoch !== undefined) {
    const at = { values: [{ epoch: o.switchEpoch }] };
    layers.push({
      data: at,
      mark: { type: "rule", strokeDash: [4, 3], color: "black" },
      encoding: { x: { field: "epoch", type: "quantitative" } },
    }, {
      // A direct label, so the dashed line reads without the caption.
      data: at,
      mark: {
        type: "text",
        align: "left",
        baseline: "top",
        dx: 3,
        y: 2,
        fontSize: 10,
        text: o.switchLabel ?? "PoF starts",
      },
      encoding: { x: { field: "epoch", type: "quantitative" } },
    });
  }
  const panel: VegaLiteSpec = {
    width: o.width ?? 320,
    height: o.height ?? 220,
    data: {
      values: range
        ? values.filter((v) =>
          (v.epoch as number) >= range[0] && (v.epoch as number) <= range[1]
        )
        : values,
    },
    layer: layers,
  };
  if (range) panel.title = `epochs ${range[0]}-${range[1]}`;
  return panel;
}

/**
 * Fig. 4: test error vs epoch, SAM continued vs SAM -> PoF (mean line and a
 * +- std band over seeds), optionally with a zoomed second panel.
 *
 * @example
 * ```ts
 * import { fig4Spec } from "./figures.ts";
 * const spec = fig4Spec([
 *   { method: "sam", points: [{ epoch: 1, error: [10, 12] }, { epoch: 2, error: 9 }] },
 *   { method: "pof", points: [{ epoch: 2, error: [8, 8] }] },
 * ], { zoom: [2, 2] });
 * if (!Array.isArray(spec.hconcat) || spec.hconcat.length !== 2) throw new Error();
 * ```
 */
export function fig4Spec(
  curves: readonly ErrorCurve[],
  options: Fig4Options = {},
): VegaLiteSpec {
  if (!Array.isArray(curves) || curves.length === 0) {
    throw new RangeError(`fig4Spec needs at least one curve, got ${curves}`);
  }
  const methods: MethodKey[] = [];
  const values = curves.flatMap((c, ci) => {
    const m = checkMethod(c.method, `fig4Spec curve ${ci}`);
    methods.push(m);
    if (!Array.isArray(c.points) || c.points.length === 0) {
      throw new RangeError(`fig4Spec: curve ${ci} (${m}) has no points`);
    }
    return c.points.map((p: CurvePoint) => {
      if (!Number.isFinite(p.epoch)) {
        throw new RangeError(
          `fig4Spec: curve ${ci} has a non-finite epoch: ${p.epoch}`,
        );
      }
      const s = summarise(p.error, `fig4Spec curve ${ci} epoch ${p.epoch}`);
      return {
        method: METHOD_STYLE[m].label,
        epoch: p.epoch,
        mean: s.mean,
        lo: s.mean - s.std,
        hi: s.mean + s.std,
        n: s.n,
      };
    });
  });
  const head = header({
    title: "Fig. 4: test error of SAM continued vs SAM -> PoF",
    subtitle: "line: mean over seeds; band: +- std",
  }, options);
  if (!options.zoom) {
    return { ...head, ...curvePanel(values, methods, options) };
  }
  const [a, b] = options.zoom;
  if (!(Number.isFinite(a) && Number.isFinite(b) && a <= b)) {
    throw new RangeError(`fig4Spec: zoom must be [lo, hi], got [${a}, ${b}]`);
  }
  return {
    ...head,
    hconcat: [
      curvePanel(values, methods, options),
      curvePanel(values, methods, options, [a, b]),
    ],
  };
}

// ---------------------------------------------------------------- Fig. 5

/**
 * Fig. 5: histograms of u^T H u (u the normalised mini-batch gradient in
 * classifier space), SAM vs PoF, one panel for training and one for test
 * mini-batches (shared bins).
 *
 * @example
 * ```ts
 * import { fig5Spec } from "./figures.ts";
 * const spec = fig5Spec({
 *   train: { sam: [2, 3, 4], pof: [1, 1.5, 2] },
 *   test: { sam: [3, 4], pof: [1, 2] },
 * }, { bins: 4 });
 * if ((spec.data as { values: unknown[] }).values.length !== 16) throw new Error();
 * ```
 */
export function fig5Spec(
  data: {
    train: { sam: readonly number[]; pof: readonly number[] };
    test: { sam: readonly number[]; pof: readonly number[] };
  },
  options: HistogramOptions = {},
): VegaLiteSpec {
  const groups = (["train", "test"] as const).flatMap((split) =>
    (["sam", "pof"] as const).map((m) => ({
      label: { split, method: METHOD_STYLE[m].label },
      values: data?.[split]?.[m],
    }))
  );
  const { rows, dropped } = histogramRows(groups, options, "fig5Spec");
  const log = options.log ?? false;
  const layer = histogramLayer(
    "method",
    methodColor(["sam", "pof"]),
    log,
    "u^T H u",
  );
  return {
    ...header({
      title: "Fig. 5: Hessian components u^T H u along mini-batch gradients",
      subtitle: "SAM (before PoF) vs PoF" +
        (dropped ? ` (${dropped} non-plottable values dropped)` : ""),
    }, options),
    data: { values: rows },
    facet: {
      column: {
        field: "split",
        type: "nominal",
        title: null,
        sort: ["train", "test"],
        header: { labelExpr: "datum.value + ' mini-batches'" },
      },
    },
    spec: {
      width: options.width ?? 280,
      height: options.height ?? 200,
      ...layer,
    },
  };
}

// ---------------------------------------------------------------- Fig. 6

/**
 * Fig. 6: histograms of classifier-perturbation norms on a log x-axis: PoF
 * ||gamma xi* u|| (gamma = 2), SAM's ||epsilon||, and the SGD update
 * ||eta g||; non-positive values cannot be placed on a log axis and are
 * dropped (their number is shown in the subtitle).
 *
 * @example
 * ```ts
 * import { fig6Spec } from "./figures.ts";
 * const spec = fig6Spec({ pof: [1, 10], sam: [0.05, 0.04], sgd: [1e-5, 2e-5] });
 * const x = ((spec.encoding as Record<string, { scale: { type: string } }>).x);
 * if (x.scale.type !== "log") throw new Error();
 * ```
 */
export function fig6Spec(
  data: {
    pof: readonly number[];
    sam: readonly number[];
    sgd: readonly number[];
  },
  options: HistogramOptions = {},
): VegaLiteSpec {
  const o = { ...options, log: options.log ?? true };
  const groups = (["sgd", "sam", "pof"] as const).map((m) => ({
    label: { method: METHOD_STYLE[m].label },
    values: data?.[m],
  }));
  const { rows, dropped } = histogramRows(groups, o, "fig6Spec");
  const medians = (["sgd", "sam", "pof"] as const).map((m) => {
    const v = data[m].filter((x) => Number.isFinite(x) && x > 0);
    return v.length ? `${METHOD_STYLE[m].label} ${fmt(median(v))}` : "";
  }).filter((s) => s).join(", ");
  return {
    ...header({
      title: "Fig. 6: sizes of classifier-parameter perturbations ||dtheta||",
      subtitle: `medians: ${medians}` +
        (dropped ? ` (${dropped} non-positive values dropped)` : ""),
    }, options),
    width: options.width ?? 360,
    height: options.height ?? 220,
    data: { values: rows },
    ...histogramLayer(
      "method",
      methodColor(["sgd", "sam", "pof"]),
      o.log,
      "||dtheta||_2" + (o.log ? " (log scale)" : ""),
    ),
  };
}

// ---------------------------------------------------------------- Tables

/** One row of the Table 1 chart: a method at an epoch on a dataset. */
export interface Table1ChartRow {
  /** Dataset label (facet). */
  dataset: string;
  /** Method (colour). */
  method: MethodKey;
  /** Row label, e.g. "SAM->PoF 210". */
  label: string;
  /** Our test errors (%), one per seed; absent if not run. */
  ours?: readonly number[];
  /** The paper's number, if any. */
  paper?: MeanStd;
}

/**
 * Table 1 as a chart: test error (%) per method, the paper's bars (pale)
 * beside ours (solid), mean +- std error bars, one panel per dataset with its
 * own y-scale.
 *
 * @example
 * ```ts
 * import { table1Spec } from "./figures.ts";
 * const spec = table1Spec([{
 *   dataset: "Fashion-MNIST", method: "sam", label: "SAM 250",
 *   ours: [4, 5], paper: { mean: 4.12, std: 0.05, n: 0 },
 * }]);
 * if ((spec.data as { values: unknown[] }).values.length !== 2) throw new Error();
 * ```
 */
export function table1Spec(
  rows: readonly Table1ChartRow[],
  options: ChartOptions = {},
): VegaLiteSpec {
  if (!Array.isArray(rows) || rows.length === 0) {
    throw new RangeError(`table1Spec needs rows, got ${rows}`);
  }
  const methods = new Set<MethodKey>();
  const values: Record<string, unknown>[] = [];
  rows.forEach((r, i) => {
    const m = checkMethod(r.method, `table1Spec row ${i}`);
    methods.add(m);
    const push = (source: "paper" | "ours", s: MeanStd) =>
      values.push({
        dataset: r.dataset,
        label: r.label,
        method: METHOD_STYLE[m].label,
        source,
        mean: s.mean,
        lo: s.mean - s.std,
        hi: s.mean + s.std,
      });
    if (r.paper) push("paper", r.paper);
    if (r.ours) push("ours", summarise(r.ours, `table1Spec row ${i} ours`));
  });
  if (values.length === 0) {
    throw new RangeError("table1Spec: no row has paper or ours values");
  }
  const labels = [...new Set(rows.map((r) => r.label))];
  return {
    ...header({
      title:
        "Table 1: test error (%), paper (pale) vs this reproduction (solid)",
      subtitle: "error bars: mean +- std over seeds",
    }, options),
    data: { values },
    facet: { column: { field: "dataset", type: "nominal", title: null } },
    resolve: { scale: { y: "independent" } },
    spec: {
      width: options.width ?? 240,
      height: options.height ?? 200,
      encoding: {
        x: { field: "label", type: "nominal", title: null, sort: labels },
        xOffset: { field: "source", sort: ["paper", "ours"] },
      },
      layer: [
        {
          mark: "bar",
          encoding: {
            y: {
              field: "mean",
              type: "quantitative",
              title: "test error (%)",
              scale: { zero: false },
            },
            color: methodColor([...methods]),
            opacity: {
              field: "source",
              type: "ordinal",
              sort: ["paper", "ours"],
              title: "source",
              scale: {
                domain: ["paper", "ours"],
                range: [SOURCE_OPACITY.paper, SOURCE_OPACITY.ours],
              },
            },
          },
        },
        {
          mark: { type: "rule", color: "black" },
          encoding: {
            y: { field: "lo", type: "quantitative" },
            y2: { field: "hi" },
          },
        },
      ],
    },
  };
}

/**
 * Table 2 as a chart: seconds per epoch relative to SGD (absolute seconds
 * are not comparable across hardware), the paper's ratios (pale) beside ours.
 *
 * @example
 * ```ts
 * import { table2Spec } from "./figures.ts";
 * const spec = table2Spec({ sgd: 2, sam: 3, pof: 2.5 }, { sgd: 21.8, sam: 32.9, pof: 25.6 });
 * const v = (spec.data as { values: { source: string; method: string; ratio: number }[] }).values;
 * if (v.find((r) => r.source === "ours" && r.method === "SAM")!.ratio !== 1.5) throw new Error();
 * ```
 */
export function table2Spec(
  ours: Readonly<Record<"sgd" | "sam" | "pof", number>>,
  paper: Readonly<Record<"sgd" | "sam" | "pof", number>>,
  options: ChartOptions = {},
): VegaLiteSpec {
  const values: Record<string, unknown>[] = [];
  for (const [source, t] of [["paper", paper], ["ours", ours]] as const) {
    for (const m of ["sgd", "sam", "pof"] as const) {
      const s = t?.[m];
      if (!(Number.isFinite(s) && s > 0)) {
        throw new RangeError(
          `table2Spec: ${source}.${m} must be a positive number of seconds, got ${s}`,
        );
      }
    }
    for (const m of ["sgd", "sam", "pof"] as const) {
      values.push({
        method: METHOD_STYLE[m].label,
        source,
        seconds: t[m],
        ratio: t[m] / t.sgd,
      });
    }
  }
  return {
    ...header({
      title: "Table 2: time per epoch relative to SGD",
      subtitle: "paper: WRN-28-10, CIFAR-10, 16 A100 (pale); ours (solid)",
    }, options),
    width: options.width ?? 260,
    height: options.height ?? 200,
    data: { values },
    mark: "bar",
    encoding: {
      x: {
        field: "method",
        type: "nominal",
        title: null,
        sort: ["SGD", "SAM", "PoF"],
        axis: { labelAngle: 0 },
      },
      xOffset: { field: "source", sort: ["paper", "ours"] },
      y: { field: "ratio", type: "quantitative", title: "seconds / SGD's" },
      color: methodColor(["sgd", "sam", "pof"]),
      opacity: {
        field: "source",
        type: "ordinal",
        sort: ["paper", "ours"],
        title: "source",
        scale: {
          domain: ["paper", "ours"],
          range: [SOURCE_OPACITY.paper, SOURCE_OPACITY.ours],
        },
      },
      tooltip: [
        { field: "source" },
        { field: "method" },
        { field: "seconds", type: "quantitative", format: ".2f" },
        { field: "ratio", type: "quantitative", format: ".2f" },
      ],
    },
  };
}
