import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import {
  displayChart,
  displayMarkdown,
  jupyterSink,
  type MimeBundle,
} from "./display.ts";
import { fig2aSpec } from "./figures.ts";
import { VEGA_LITE_MIME } from "./style.ts";

Deno.test("displayChart: one bundle with spec + SVG, SVG file written atomically", async () => {
  const dir = await Deno.makeTempDir();
  const shown: MimeBundle[] = [];
  const spec = fig2aSpec([3, 1]);
  const r = await displayChart("fig2a", spec, {
    dir: `${dir}/figures/`,
    sink: (b) => void shown.push(b),
  });
  assertEquals(shown.length, 1);
  assertEquals(
    Object.keys(shown[0]).sort(),
    [
      VEGA_LITE_MIME,
      "image/svg+xml",
    ].sort(),
  );
  assertEquals(shown[0][VEGA_LITE_MIME], spec);
  const svg = shown[0]["image/svg+xml"] as string;
  assert(svg.startsWith("<svg"), svg.slice(0, 30));
  assertEquals(r.path, `${dir}/figures/fig2a.svg`);
  assertEquals(await Deno.readTextFile(r.path!), svg);
  // No temp files left behind.
  const names = [...Deno.readDirSync(`${dir}/figures`)].map((e) => e.name);
  assertEquals(names, ["fig2a.svg"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("displayChart: no file with dir null; bad names rejected", async () => {
  const r = await displayChart("x", fig2aSpec([1]), { dir: null, sink: null });
  assertEquals(r.path, undefined);
  assertStringIncludes(r.svg, "<svg");
  await assertRejects(
    () => displayChart("../evil", fig2aSpec([1]), { dir: null, sink: null }),
    RangeError,
    '"../evil"',
  );
});

Deno.test("displayMarkdown: text/markdown bundle and optional .md file", async () => {
  const dir = await Deno.makeTempDir();
  const shown: MimeBundle[] = [];
  const md = "| a |\n| --- |\n| 1 |";
  const r = await displayMarkdown(md, {
    name: "t1",
    dir,
    sink: (b) => void shown.push(b),
  });
  assertEquals(shown, [{ "text/markdown": md, "text/plain": md }]);
  assertEquals(await Deno.readTextFile(r.path!), md + "\n");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("jupyterSink: undefined outside the Deno kernel", () => {
  assertEquals(jupyterSink(), undefined);
});
