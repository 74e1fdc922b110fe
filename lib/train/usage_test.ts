import { assert } from "@std/assert";
import { loadAverage1, processCpuSeconds } from "./usage.ts";

Deno.test({
  name:
    "processCpuSeconds grows by the CPU a busy loop uses, never faster than the wall clock",
  ignore: Deno.build.os !== "linux",
  fn() {
    const c0 = processCpuSeconds()!, w0 = performance.now();
    let x = 0;
    // Spin until the process has used 0.3 s more CPU.
    while (processCpuSeconds()! - c0 < 0.3) {
      for (let i = 0; i < 1e5; i++) x += Math.sqrt(i);
    }
    const wall = (performance.now() - w0) / 1000;
    const cpu = processCpuSeconds()! - c0;
    assert(x > 0);
    // One spinning thread (plus a little of the runtime's own): the CPU
    // used cannot run far ahead of the wall clock (1/100 s ticks).
    assert(
      cpu >= 0.3 && cpu <= wall * 1.5 + 0.02,
      `cpu ${cpu} s, wall ${wall} s`,
    );
    const l = loadAverage1();
    assert(l !== undefined && l >= 0, String(l));
  },
});
