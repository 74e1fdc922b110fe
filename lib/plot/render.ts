/**
 * Offline rendering of vega-lite specs: compile to vega with the pinned
 * `vega-lite` and render an SVG string with the pinned `vega` headless view
 * (renderer "none": no canvas, no DOM, no network).
 *
 * @module
 */
import * as vega from "npm:vega@5.33.1";
import * as vl from "npm:vega-lite@5.23.0";
import type { VegaLiteSpec } from "./figures.ts";

/** The pinned versions the specs are compiled and rendered with. */
export const PLOT_VERSIONS: Readonly<{ vega: string; vegaLite: string }> = {
  vega: "5.33.1",
  vegaLite: "5.23.0",
};

/**
 * Compiles a vega-lite spec to a vega spec (throws with vega-lite's message
 * on an invalid spec).
 *
 * @example
 * ```ts
 * import { compileToVega } from "./render.ts";
 * const v = compileToVega({ data: { values: [{ a: 1 }] }, mark: "point",
 *   encoding: { x: { field: "a", type: "quantitative" } } });
 * if (!Array.isArray(v.marks)) throw new Error();
 * ```
 */
export function compileToVega(spec: VegaLiteSpec): vega.Spec {
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) {
    throw new TypeError(`a vega-lite spec must be an object, got ${spec}`);
  }
  // deno-lint-ignore no-explicit-any
  return vl.compile(spec as any).spec as vega.Spec;
}

/**
 * Renders a vega-lite spec to an SVG string, offline.
 *
 * @example
 * ```ts
 * import { renderSvg } from "./render.ts";
 * const svg = await renderSvg({ data: { values: [{ a: 1 }, { a: 2 }] },
 *   mark: "point", encoding: { x: { field: "a", type: "quantitative" } } });
 * if (!svg.startsWith("<svg")) throw new Error(svg.slice(0, 40));
 * ```
 */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const view = new vega.View(vega.parse(compileToVega(spec)), {
    renderer: "none",
  });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
