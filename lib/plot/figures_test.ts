/**
 * Every spec builder: the spec validates against the vendored vega-lite v5
 * JSON schema (ajv), renders to SVG offline, uses the shared colours, and
 * carries the numbers computed independently here.
 */
import { sha256Hex } from "../data/hashing.ts";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { Ajv } from "npm:ajv@8.17.1";
import {
  fig1cSpec,
  fig1dSpec,
  fig2aSpec,
  fig2bSpec,
  fig4Spec,
  fig5Spec,
  fig6Spec,
  table1Spec,
  table2Spec,
  type VegaLiteSpec,
} from "./figures.ts";
import { compileToVega, PLOT_VERSIONS, renderSvg } from "./render.ts";
import { METHOD_STYLE } from "./style.ts";
import { PAPER_TABLE2 } from "./paper.ts";
import { Rng } from "../rng.ts";

const SCHEMA_URL = new URL("./vega_lite_schema.json", import.meta.url);
/** sha256 of build/vega-lite-schema.json in the npm package vega-lite@5.23.0. */
const SCHEMA_SHA256 =
  "1aeeda8aa44dcce60f6b6fb7d8b650487e3e389a8284a2040e590be9a4c7610e";

function sample(rng: Rng, n: number, scale: number): number[] {
  // Log-normal-ish positive values.
  return Array.from(
    { length: n },
    () => scale * Math.exp(rng.uniform() * 2 - 1),
  );
}

function buildAll(): Record<string, VegaLiteSpec> {
  const rng = new Rng(3);
  return {
    fig1c: fig1cSpec([1, 2, 3, 4, 5].map((layer) => ({
      layer,
      deltaL: { sgd: [0.1 * layer, 0.12 * layer], pof: 0.05 * layer },
    }))),
    fig1d: fig1dSpec({
      sgd: [-1, 0, 1].map((t) => ({ t, loss: t * t, direction: 1 })),
      pof: [-1, 0, 1].map((t) => ({ t, loss: t * t / 2, direction: 1 })),
    }),
    fig2a: fig2aSpec([9, 4, 2, 0, 1]),
    fig2b: fig2bSpec({
      xiTrain: sample(rng, 50, 1),
      xiTest: sample(rng, 50, 2),
    }),
    fig4: fig4Spec([
      {
        method: "sam",
        points: [1, 2, 3, 4].map((epoch) => ({
          epoch,
          error: [20 / epoch, 21 / epoch],
        })),
      },
      {
        method: "pof",
        points: [{ epoch: 3, error: [6, 6.5] }, { epoch: 4, error: [5, 5.1] }],
      },
    ], { zoom: [2, 4], switchEpoch: 2 }),
    fig5: fig5Spec({
      train: { sam: sample(rng, 40, 2), pof: sample(rng, 40, 1) },
      test: { sam: sample(rng, 40, 3), pof: sample(rng, 40, 1.5) },
    }),
    fig6: fig6Spec({
      pof: sample(rng, 40, 10),
      sam: sample(rng, 40, 0.05),
      sgd: sample(rng, 40, 1e-5),
    }),
    table1: table1Spec([
      {
        dataset: "Fashion-MNIST",
        method: "sgd",
        label: "SGD 200",
        ours: [5, 5.2],
        paper: { mean: 4.6, std: 0.11, n: 0 },
      },
      {
        dataset: "Fashion-MNIST",
        method: "pof",
        label: "SAM->PoF 210",
        ours: [4.5],
      },
    ]),
    table2: table2Spec({ sgd: 1, sam: 1.8, pof: 1.2 }, PAPER_TABLE2),
  };
}

Deno.test("vendored schema is vega-lite@5.23.0's build/vega-lite-schema.json", async () => {
  const bytes = await Deno.readFile(SCHEMA_URL);
  assertEquals(await sha256Hex(bytes), SCHEMA_SHA256);
  assertEquals(PLOT_VERSIONS.vegaLite, "5.23.0");
  // When the npm package is installed locally, compare byte for byte.
  const local = new URL(
    "../../node_modules/.deno/vega-lite@5.23.0/node_modules/vega-lite/build/vega-lite-schema.json",
    import.meta.url,
  );
  const pkg = await Deno.readFile(local).catch(() => undefined);
  if (pkg) assertEquals(await sha256Hex(pkg), SCHEMA_SHA256);
});

Deno.test("every spec validates against the vega-lite v5 schema and renders to SVG", async () => {
  const schema = JSON.parse(await Deno.readTextFile(SCHEMA_URL));
  const ajv = new Ajv({ strict: false, allErrors: false, logger: false });
  ajv.addFormat("uri", true);
  ajv.addFormat("uri-reference", true);
  ajv.addFormat(
    "color-hex",
    /^#([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/,
  );
  const validate = ajv.compile(schema);
  // The validator is not vacuous: a misspelt mark and a bad type fail.
  assert(!validate({ mark: "barr", data: { values: [] } }));
  assert(
    !validate({
      mark: "bar",
      encoding: { x: { field: "a", type: "quantitativ" } },
    }),
  );
  for (const [name, spec] of Object.entries(buildAll())) {
    const ok = validate(spec);
    assert(ok, `${name}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
    const svg = await renderSvg(spec);
    assert(svg.startsWith("<svg") && svg.endsWith("</svg>"), name);
    assert(svg.length > 2000, `${name}: SVG only ${svg.length} chars`);
    const title = (spec.title as { text: string }).text;
    assertStringIncludes(svg, title.replaceAll(">", "&gt;"), name);
  }
});

Deno.test("method colours are the same in every figure's SVG", async () => {
  const all = buildAll();
  const uses: Record<string, string[]> = {
    sam: ["fig4", "fig5", "fig6", "table2"],
    pof: ["fig1c", "fig1d", "fig4", "fig5", "fig6", "table1", "table2"],
    sgd: ["fig1c", "fig1d", "fig6", "table1", "table2"],
  };
  for (const [m, figs] of Object.entries(uses)) {
    const color = METHOD_STYLE[m as "sam"].color;
    for (const f of figs) {
      const svg = await renderSvg(all[f]);
      assertStringIncludes(svg, color, `${m} colour ${color} missing in ${f}`);
    }
  }
  // SAM's blue never appears in charts without SAM.
  assert(!(await renderSvg(all.fig1c)).includes(METHOD_STYLE.sam.color));
});

Deno.test("fig1c / fig4 / table1: error bars are mean +- sample std", () => {
  const all = buildAll();
  type Row = Record<string, number | string>;
  const f1 = (all.fig1c.data as { values: Row[] }).values;
  // layer 2, SGD: [0.2, 0.24] -> mean 0.22, std |0.24-0.2|/sqrt(2).
  const r = f1.find((v) => v.layer === "2" && v.method === "SGD")!;
  assertAlmostEquals(r.mean as number, 0.22, 1e-12);
  assertAlmostEquals(r.hi as number, 0.22 + 0.04 / Math.SQRT2, 1e-12);
  assertAlmostEquals(r.lo as number, 0.22 - 0.04 / Math.SQRT2, 1e-12);
  const pof = f1.find((v) => v.layer === "5" && v.method === "PoF")!;
  assertEquals([pof.lo, pof.hi, pof.n], [0.25, 0.25, 1]);
  const panel = (all.fig4.hconcat as VegaLiteSpec[])[0];
  const f4 = (panel.data as { values: Row[] }).values;
  const s2 = f4.find((v) => v.method === "SAM" && v.epoch === 2)!;
  // [10, 10.5]: mean 10.25, std 0.5/sqrt(2).
  assertAlmostEquals(s2.mean as number, 10.25, 1e-12);
  assertAlmostEquals(s2.hi as number, 10.25 + 0.5 / Math.SQRT2, 1e-12);
  // The zoomed panel holds only epochs 2..4.
  const zoom = ((all.fig4.hconcat as VegaLiteSpec[])[1].data as {
    values: Row[];
  }).values;
  assert(zoom.every((v) => (v.epoch as number) >= 2));
  assertEquals(zoom.length, 5);
  const t1 = (all.table1.data as { values: Row[] }).values;
  const ours = t1.find((v) => v.label === "SGD 200" && v.source === "ours")!;
  assertAlmostEquals(ours.hi as number, 5.1 + 0.2 / Math.SQRT2, 1e-12);
  const paper = t1.find((v) => v.label === "SGD 200" && v.source === "paper")!;
  assertAlmostEquals(paper.lo as number, 4.49, 1e-12);
});

Deno.test("fig6: log x-axis, log-spaced bins, counts add up", async () => {
  const data = {
    pof: [1, 10, 100, -1],
    sam: [0.01, 0.02, 0.05],
    sgd: [1e-6, 2e-6],
  };
  const spec = fig6Spec(data, { bins: 8 });
  const vg = (await compileToVega(spec)) as {
    scales: { name: string; type: string }[];
  };
  assertEquals(vg.scales.find((s) => s.name === "x")!.type, "log");
  type Row = { method: string; lo: number; hi: number; count: number };
  const rows = (spec.data as { values: Row[] }).values;
  // 8 log bins from 1e-6 to 100: each spans a factor 10.
  const edges = [...new Set(rows.map((r) => r.lo))].sort((a, b) => a - b);
  for (let i = 0; i < 8; i++) {
    assertAlmostEquals(Math.log10(edges[i]), -6 + i, 1e-9);
  }
  const count = (m: string) =>
    rows.filter((r) => r.method === m).reduce((a, r) => a + r.count, 0);
  assertEquals([count("PoF"), count("SAM"), count("SGD")], [3, 3, 2]);
  assertStringIncludes(
    JSON.stringify(spec.title),
    "1 non-positive values dropped",
  );
  assertThrows(
    () => fig6Spec({ pof: [0], sam: [-1], sgd: [0] }),
    RangeError,
    "no finite positive values",
  );
});

Deno.test("fig2b: median ratio in the subtitle; fig2a indices from 1", () => {
  const spec = fig2bSpec({ xiTrain: [1, 2, 3, 100], xiTest: [4, 5, 6] });
  // medians 2.5 and 5 -> ratio 2.
  assertStringIncludes(JSON.stringify(spec.title), "= 2.00");
  const a = fig2aSpec([0, 7]);
  assertEquals((a.data as { values: unknown[] }).values, [
    { i: 1, count: 0 },
    { i: 2, count: 7 },
  ]);
  assertThrows(() => fig2aSpec([1.5]), RangeError, "got 1.5");
});

Deno.test("spec builders reject bad input, naming the value", () => {
  assertThrows(
    () =>
      fig4Spec([{ method: "adam" as "sam", points: [{ epoch: 1, error: 1 }] }]),
    RangeError,
    '"adam"',
  );
  assertThrows(() => fig1cSpec([]), RangeError, "at least one layer");
  assertThrows(
    () => fig1cSpec([{ layer: 1, deltaL: { sgd: [], pof: 1 } }]),
    RangeError,
    "deltaL.sgd",
  );
  assertThrows(
    () => fig1dSpec({ sgd: [{ t: NaN, loss: 1 }], pof: [{ t: 0, loss: 1 }] }),
    RangeError,
    "landscape.sgd[0]",
  );
  assertThrows(
    () =>
      fig5Spec({ train: { sam: [], pof: [1] }, test: { sam: [1], pof: [1] } }),
    RangeError,
    "train SAM has no values",
  );
  assertThrows(
    () => table2Spec({ sgd: 0, sam: 1, pof: 1 }, PAPER_TABLE2),
    RangeError,
    "ours.sgd",
  );
});

/** The texts of a rendered SVG's legend labels and text marks. */
function svgLabels(svg: string): Set<string> {
  const out = new Set<string>();
  const groups = svg.matchAll(
    /<g class="mark-text role-(legend-label|mark)[^"]*"[^>]*>(.*?)<\/g>/gs,
  );
  for (const g of groups) {
    for (const t of g[2].matchAll(/<text[^>]*>([^<]*)<\/text>/g)) {
      out.add(t[1].replaceAll("&gt;", ">").replaceAll("&amp;", "&"));
    }
  }
  return out;
}

/** The values of every field a spec encodes by colour, stroke dash or opacity: its series. */
function seriesNames(spec: VegaLiteSpec): Set<string> {
  const names = new Set<string>();
  const rows: Record<string, unknown>[] = [];
  const fields = new Set<string>();
  const walk = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== "object") return;
    const o = node as Record<string, unknown>;
    const data = o.data as { values?: Record<string, unknown>[] } | undefined;
    if (data?.values) rows.push(...data.values);
    const enc = o.encoding as Record<string, { field?: string }> | undefined;
    for (const ch of ["color", "strokeDash", "opacity"]) {
      const f = enc?.[ch]?.field;
      if (f) fields.add(f);
    }
    Object.values(o).forEach(walk);
  };
  walk(spec);
  for (const r of rows) {
    for (const f of fields) if (r[f] !== undefined) names.add(String(r[f]));
  }
  return names;
}

Deno.test("every chart names its series (legend or direct labels)", async () => {
  const all = buildAll();
  // The checker is not vacuous: Fig. 4's spec as it was (colour legend
  // switched off on one of the two layers that share it) draws no legend.
  const fig4 = structuredClone(all.fig4) as { hconcat: VegaLiteSpec[] };
  for (const panel of fig4.hconcat) {
    const layers = panel.layer as { encoding: { color?: object } }[];
    layers[0].encoding.color = { ...layers[0].encoding.color, legend: null };
  }
  const unlabelled = svgLabels(await renderSvg(fig4 as VegaLiteSpec));
  assert(
    !unlabelled.has("SAM") && !unlabelled.has("PoF"),
    [...unlabelled].join(),
  );
  const expected: Record<string, string[]> = {
    fig1c: ["SGD", "PoF"],
    fig1d: ["SGD", "PoF"],
    fig2a: [], // one series: the bars are the counts themselves
    fig2b: ["train", "test"],
    fig4: ["SAM", "PoF", "PoF starts"],
    fig5: ["SAM", "PoF"],
    fig6: ["SGD", "SAM", "PoF"],
    table1: ["SGD", "PoF", "paper", "ours"],
    table2: ["SGD", "SAM", "PoF", "paper", "ours"],
  };
  assertEquals(Object.keys(expected).sort(), Object.keys(all).sort());
  for (const [name, spec] of Object.entries(all)) {
    const labels = svgLabels(await renderSvg(spec));
    const series = seriesNames(spec);
    for (const s of [...series, ...expected[name]]) {
      assert(
        labels.has(s),
        `${name}: series "${s}" is not named in the chart (labels: ${
          [...labels].join(", ")
        })`,
      );
    }
    if (expected[name].length === 0) assertEquals([...series], [], name);
  }
});
