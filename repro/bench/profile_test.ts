import { assert, assertEquals } from "@std/assert";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { useBackend } from "../../lib/backend.ts";
import { formatProfile, profileKernels } from "./profile.ts";

Deno.test("profileKernels: counts calls, nests a kernel called by another, restores the kernels", async () => {
  await useBackend("cpu");
  const before = tf.getKernel("Add", "cpu")!.kernelFunc;
  // A stand-in kernel that calls another (as our wasm kernels call BatchMatMul).
  tf.registerKernel({
    kernelName: "ProfileTestOuter",
    backendName: "cpu",
    kernelFunc: (args) => {
      const add = tf.getKernel("Add", "cpu")!;
      return add.kernelFunc({ ...args, attrs: {} }) as tf.TensorInfo;
    },
  });
  try {
    const p = profileKernels("cpu");
    tf.tidy(() => {
      const a = tf.ones([3]);
      tf.add(a, a);
      tf.add(a, a);
      tf.engine().runKernel("ProfileTestOuter", { a, b: a });
    });
    p.stop();
    const t = p.times();
    assertEquals(t.get("Add")?.calls, 2);
    assertEquals(t.get("ProfileTestOuter")?.calls, 1);
    assertEquals(t.get("ProfileTestOuter > Add")?.calls, 1);
    assert(t.get("ProfileTestOuter")!.exclusiveMs >= 0);
    assertEquals(tf.getKernel("Add", "cpu")!.kernelFunc, before);
    p.reset();
    assertEquals(p.times().size, 0);
  } finally {
    tf.unregisterKernel("ProfileTestOuter", "cpu");
  }
});

Deno.test("formatProfile: per-step times, shares of the step, largest first", () => {
  const s = formatProfile(
    "sam",
    200,
    new Map([
      ["Add", { exclusiveMs: 20, calls: 10 }],
      ["Conv2D", { exclusiveMs: 300, calls: 8 }],
    ]),
    { steps: 2 },
  );
  const lines = s.split("\n");
  assertEquals(
    lines[0],
    "sam: 200 ms per step (wall); kernels 160 ms, outside kernels 40 ms",
  );
  assert(lines[1].includes("Conv2D") && lines[1].includes("150.0 ms"));
  assert(lines[1].includes("75.0%") && lines[1].includes("4 calls"));
  assert(lines[2].includes("Add") && lines[2].includes("10.0 ms"));
});

Deno.test("profile.ts: a bad --reps, --depth, --widen, or --batch exits 2 with one line naming it", async () => {
  const script = new URL("./profile.ts", import.meta.url).pathname;
  const map = new URL("../../tools/offline_import_map.json", import.meta.url)
    .pathname;
  for (
    const [flag, value] of [
      ["reps", "0"],
      ["depth", "abc"],
      ["widen", "1.5"],
      ["batch", "-4"],
      ["batch", ""],
    ]
  ) {
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `--import-map=${map}`, script, `--${flag}=${value}`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(o.stderr).trim().split("\n")
      .filter((l) => l.startsWith("profile:"));
    assertEquals(o.code, 2, `--${flag}=${value}`);
    assertEquals(err, [
      `profile: --${flag} must be a positive integer, got "${value}"`,
    ]);
  }
});
