/**
 * Showing charts and tables in a Deno Jupyter notebook. A chart is displayed
 * as ONE bundle holding both the live vega-lite spec
 * (`application/vnd.vegalite.v5+json`, rendered by JupyterLab) and a static
 * SVG (`image/svg+xml`, rendered anywhere, e.g. on GitHub), and the SVG is
 * also written to `<figuresDir>/<name>.svg`. Outside a notebook (no
 * `Deno.jupyter`) nothing is displayed but files are still written, so the
 * same code serves the `repro` targets.
 *
 * @module
 */
import type { VegaLiteSpec } from "./figures.ts";
import { renderSvg } from "./render.ts";
import { VEGA_LITE_MIME } from "./style.ts";
import { writeFileAtomic } from "../atomic_write.ts";

/** A Jupyter MIME bundle: MIME type -> content. */
export type MimeBundle = Record<string, unknown>;

/** Where bundles go: `Deno.jupyter.display(bundle, {raw: true})` in a notebook. */
export type DisplaySink = (bundle: MimeBundle) => void | Promise<void>;

type JupyterNs = {
  display(obj: unknown, options?: { raw?: boolean }): Promise<void>;
};

/**
 * The notebook's display function, or `undefined` outside a Deno Jupyter
 * kernel.
 *
 * @example
 * ```ts
 * import { jupyterSink } from "./display.ts";
 * if (jupyterSink() !== undefined) throw new Error("not in a notebook here");
 * ```
 */
export function jupyterSink(): DisplaySink | undefined {
  let j: JupyterNs | undefined;
  try {
    // The getter throws outside the `deno jupyter` kernel.
    j = (Deno as unknown as { jupyter?: JupyterNs }).jupyter;
  } catch {
    return undefined;
  }
  if (!j || typeof j.display !== "function") return undefined;
  return (bundle) => j.display(bundle, { raw: true });
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * The bundle a chart is displayed as: the vega-lite spec and its SVG.
 *
 * @example
 * ```ts
 * import { chartBundle } from "./display.ts";
 * const spec = { data: { values: [{ a: 1 }] }, mark: "point",
 *   encoding: { x: { field: "a", type: "quantitative" } } };
 * const b = await chartBundle(spec);
 * if (!String(b["image/svg+xml"]).startsWith("<svg")) throw new Error();
 * ```
 */
export async function chartBundle(spec: VegaLiteSpec): Promise<MimeBundle> {
  return { [VEGA_LITE_MIME]: spec, "image/svg+xml": await renderSvg(spec) };
}

/** Options of {@link displayChart} and {@link displayMarkdown}. */
export interface DisplayOptions {
  /** Folder the file is written to (default `results/figures`); null = write nothing. */
  dir?: string | null;
  /** Where the bundle goes (default: the notebook's display, if any); null = nowhere. */
  sink?: DisplaySink | null;
}

/** What {@link displayChart} did. */
export interface DisplayedChart {
  bundle: MimeBundle;
  svg: string;
  /** The SVG file written, if any. */
  path?: string;
}

/**
 * Renders `spec` to SVG, writes `<dir>/<name>.svg` and displays the bundle
 * (vega-lite + SVG) in the notebook.
 *
 * @example
 * ```ts
 * import { displayChart } from "./display.ts";
 * const dir = await Deno.makeTempDir();
 * const shown: unknown[] = [];
 * const r = await displayChart("demo", { data: { values: [{ a: 1 }] },
 *   mark: "point", encoding: { x: { field: "a", type: "quantitative" } } },
 *   { dir, sink: (b) => void shown.push(b) });
 * if (shown.length !== 1 || r.path !== `${dir}/demo.svg`) throw new Error();
 * ```
 */
export async function displayChart(
  name: string,
  spec: VegaLiteSpec,
  options: DisplayOptions = {},
): Promise<DisplayedChart> {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new RangeError(
      `chart name must be letters, digits, "_", "-", "." (no path), got "${name}"`,
    );
  }
  const bundle = await chartBundle(spec);
  const svg = bundle["image/svg+xml"] as string;
  const dir = options.dir === undefined ? "results/figures" : options.dir;
  let path: string | undefined;
  if (dir !== null) {
    path = `${dir.replace(/\/+$/, "") || "/"}/${name}.svg`;
    await writeFileAtomic(path, svg);
  }
  const sink = options.sink === undefined ? jupyterSink() : options.sink;
  if (sink) await sink(bundle);
  return { bundle, svg, path };
}

/**
 * Displays Markdown (a table, a note) in the notebook as `text/markdown`
 * (with a `text/plain` copy), and writes `<dir>/<name>.md` when `name` is
 * given and `dir` is not null.
 *
 * @example
 * ```ts
 * import { displayMarkdown } from "./display.ts";
 * const shown: Record<string, unknown>[] = [];
 * await displayMarkdown("| a |\n|---|\n| 1 |", { sink: (b) => void shown.push(b) });
 * if (shown[0]["text/markdown"] !== "| a |\n|---|\n| 1 |") throw new Error();
 * ```
 */
export async function displayMarkdown(
  markdown: string,
  options: DisplayOptions & { name?: string } = {},
): Promise<{ path?: string }> {
  if (typeof markdown !== "string") {
    throw new TypeError(`markdown must be a string, got ${typeof markdown}`);
  }
  let path: string | undefined;
  if (options.name !== undefined) {
    if (!NAME.test(options.name)) {
      throw new RangeError(
        `markdown name must be letters, digits, "_", "-", "." (no path), got "${options.name}"`,
      );
    }
    const dir = options.dir === undefined ? "results/figures" : options.dir;
    if (dir !== null) {
      path = `${dir.replace(/\/+$/, "") || "/"}/${options.name}.md`;
      await writeFileAtomic(
        path,
        markdown.endsWith("\n") ? markdown : markdown + "\n",
      );
    }
  }
  const sink = options.sink === undefined ? jupyterSink() : options.sink;
  if (sink) await sink({ "text/markdown": markdown, "text/plain": markdown });
  return { path };
}
