import { assert, assertEquals } from "@std/assert";
import {
  formatDuration,
  ProgressBar,
  type ProgressState,
  renderProgress,
} from "./progress.ts";

const STATE: ProgressState = {
  label: "fashion-mnist-sam-e16-s0-4d733335314f",
  epoch: 3,
  lastEpoch: 16,
  step: 10,
  stepsPerEpoch: 40,
  loss: 0.51234,
  imagesPerSecond: 123.45,
  etaSeconds: 3725,
};

Deno.test("renderProgress: step, loss, images/s and the run's ETA; cut from the left to the width", () => {
  const line = renderProgress(STATE, 200);
  assertEquals(
    line,
    "fashion-mnist-sam-e16-s0-4d733335314f [###---------] epoch 3/16 step 10/40 " +
      "loss 0.5123 123.5 img/s ETA 1h02m",
  );
  const cut = renderProgress(STATE, 50);
  assertEquals(cut.length, 50);
  assert(cut.startsWith("...") && cut.endsWith("123.5 img/s ETA 1h02m"), cut);
  assertEquals(formatDuration(59.4), "59s");
  assertEquals(formatDuration(Infinity), "?");
});

Deno.test("ProgressBar on a terminal: a live line redrawn in place, throttled, then permanent lines", () => {
  const out: string[] = [];
  const bar = new ProgressBar({
    tty: true,
    write: (s) => out.push(s),
    columns: () => 0, // a pseudo-terminal that reports no size
  });
  bar.update(STATE);
  bar.update({ ...STATE, step: 11 }); // within 250 ms: not redrawn
  bar.update({ ...STATE, step: 40 }); // the epoch's last step: always drawn
  bar.line("epoch 3/16 done");
  assertEquals(out.length, 3, JSON.stringify(out));
  assertEquals(out[0], `\r${renderProgress(STATE, 100)}\x1b[K`);
  assert(out[0].includes("step 10/40") && out[0].includes("ETA 1h02m"));
  assert(out[1].includes("step 40/40"), out[1]);
  assertEquals(out[2], "\r\x1b[Kepoch 3/16 done\n");
});

Deno.test("ProgressBar off a terminal: plain per-epoch lines only; quiet: nothing", () => {
  const out: string[] = [];
  const bar = new ProgressBar({ tty: false, write: (s) => out.push(s) });
  bar.update(STATE);
  bar.line("epoch 3/16 done");
  assertEquals(out, ["epoch 3/16 done\n"]);
  const quiet: string[] = [];
  const q = new ProgressBar({
    quiet: true,
    tty: true,
    write: (s) => quiet.push(s),
  });
  q.update(STATE);
  q.line("x");
  assertEquals(quiet, []);
});
