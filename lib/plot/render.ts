/**
 * Offline rendering of vega-lite specs: compile to vega with the pinned
 * `vega-lite` and render an SVG string with the pinned `vega` headless view
 * (renderer "none": no canvas, no DOM, no network).
 *
 * @module
 */
import process from "node:process";
import type * as Vega from "npm:vega@5.33.1";
import type * as VegaLite from "npm:vega-lite@5.23.0";
import type { VegaLiteSpec } from "./figures.ts";

/** The pinned versions the specs are compiled and rendered with. */
export const PLOT_VERSIONS: Readonly<{ vega: string; vegaLite: string }> = {
  vega: "5.33.1",
  vegaLite: "5.23.0",
};

let plotModules: Promise<{ vega: typeof Vega; vl: typeof VegaLite }> | null =
  null;

/**
 * Loads `vega` and `vega-lite` on first use. vega's Node build requires
 * node-fetch -> whatwg-url, which requires Node's deprecated built-in
 * `punycode`, and Deno then prints a DEP0040 DeprecationWarning on every run.
 * Nothing here fetches (renderer "none", inline data), so deprecation
 * warnings are muted while these two packages load (Node's check is
 * synchronous, at `require` time) and restored right after; any other
 * deprecation still prints.
 */
function importPlotModules(): Promise<
  { vega: typeof Vega; vl: typeof VegaLite }
> {
  plotModules ??= (async () => {
    // Node's documented flag (`--no-deprecation`); not in Deno's typings.
    const proc = process as typeof process & { noDeprecation?: boolean };
    const was = proc.noDeprecation;
    proc.noDeprecation = true;
    try {
      const vega = await import("npm:vega@5.33.1");
      const vl = await import("npm:vega-lite@5.23.0");
      return { vega, vl };
    } finally {
      proc.noDeprecation = was;
    }
  })();
  return plotModules;
}

/**
 * Compiles a vega-lite spec to a vega spec (throws with vega-lite's message
 * on an invalid spec).
 *
 * @example
 * ```ts
 * import { compileToVega } from "./render.ts";
 * const v = await compileToVega({ data: { values: [{ a: 1 }] }, mark: "point",
 *   encoding: { x: { field: "a", type: "quantitative" } } });
 * if (!Array.isArray(v.marks)) throw new Error();
 * ```
 */
export async function compileToVega(
  spec: VegaLiteSpec,
): Promise<Vega.Spec> {
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) {
    throw new TypeError(`a vega-lite spec must be an object, got ${spec}`);
  }
  const { vl } = await importPlotModules();
  // deno-lint-ignore no-explicit-any
  return vl.compile(spec as any).spec as Vega.Spec;
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
  const { vega } = await importPlotModules();
  const view = new vega.View(vega.parse(await compileToVega(spec)), {
    renderer: "none",
  });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
