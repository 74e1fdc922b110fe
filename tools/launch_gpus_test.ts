import { assertEquals, assertThrows } from "@std/assert";
import {
  parseLaunchArgs,
  planShards,
  resolveGpuIds,
  runParallel,
} from "./launch_gpus.ts";

Deno.test("parseLaunchArgs: defaults, POF_PRESET, pass-through and mistakes", () => {
  assertEquals(parseLaunchArgs([], {}), {
    gpus: "all",
    dryRun: false,
    repro: ["all", "--preset", "paper"],
  });
  assertEquals(
    parseLaunchArgs(["--gpus=3", "--print"], { POF_PRESET: "quick" }),
    {
      gpus: 3,
      dryRun: true,
      repro: ["all", "--preset", "quick"],
    },
  );
  // The runner's own --dry-run and everything after -- are passed on.
  assertEquals(
    parseLaunchArgs(["fig4", "--dry-run", "--", "--gpus", "x"], {}).repro,
    ["fig4", "--dry-run", "--gpus", "x"],
  );
  // An explicit --preset wins over POF_PRESET.
  assertEquals(
    parseLaunchArgs(["table1", "--preset", "smoke"], { POF_PRESET: "paper" })
      .repro,
    ["table1", "--preset", "smoke"],
  );
  assertThrows(() => parseLaunchArgs(["--gpus", "0"], {}), RangeError, '"0"');
  assertThrows(
    () => parseLaunchArgs(["--gpus"], {}),
    RangeError,
    '"undefined"',
  );
  assertThrows(
    () => parseLaunchArgs(["--shard", "0/2"], {}),
    RangeError,
    '"--shard"',
  );
});

Deno.test("resolveGpuIds: CUDA_VISIBLE_DEVICES, nvidia-smi's list, counts", () => {
  assertEquals(
    resolveGpuIds("all", { CUDA_VISIBLE_DEVICES: "2, 5,7" }, ["0"]),
    [
      "2",
      "5",
      "7",
    ],
  );
  assertEquals(resolveGpuIds("all", {}, ["0", "1", "2", "3"]), [
    "0",
    "1",
    "2",
    "3",
  ]);
  assertEquals(resolveGpuIds(2, {}, ["0", "1", "2", "3"]), ["0", "1"]);
  assertEquals(resolveGpuIds(3, {}, null), ["0", "1", "2"]);
  assertEquals(resolveGpuIds(1, { CUDA_VISIBLE_DEVICES: "GPU-ab12" }, null), [
    "GPU-ab12",
  ]);
  assertThrows(
    () => resolveGpuIds(5, {}, ["0", "1"]),
    RangeError,
    "only 2 GPU(s) available (0,1)",
  );
  assertThrows(
    () => resolveGpuIds("all", {}, null),
    RangeError,
    "pass --gpus N",
  );
  assertThrows(
    () => resolveGpuIds("all", { CUDA_VISIBLE_DEVICES: "" }, ["0"]),
    RangeError,
    "empty",
  );
});

Deno.test("planShards: shard i of n on GPU ids[i], then the final pass on the first", () => {
  assertEquals(planShards(["4", "6", "7"], ["all", "--preset", "paper"]), [
    {
      gpu: "4",
      shard: "0/3",
      args: ["task", "repro", "all", "--preset", "paper", "--shard", "0/3"],
      env: { CUDA_VISIBLE_DEVICES: "4" },
    },
    {
      gpu: "6",
      shard: "1/3",
      args: ["task", "repro", "all", "--preset", "paper", "--shard", "1/3"],
      env: { CUDA_VISIBLE_DEVICES: "6" },
    },
    {
      gpu: "7",
      shard: "2/3",
      args: ["task", "repro", "all", "--preset", "paper", "--shard", "2/3"],
      env: { CUDA_VISIBLE_DEVICES: "7" },
    },
    {
      gpu: "4",
      shard: null,
      args: ["task", "repro", "all", "--preset", "paper"],
      env: { CUDA_VISIBLE_DEVICES: "4" },
    },
  ]);
  assertThrows(() => planShards([], ["all"]), RangeError);
});

Deno.test("runParallel runs every process, prefixes their lines, returns exit codes", async () => {
  const lines: string[] = [];
  const script = (code: number) =>
    `console.log("a " + Deno.env.get("CUDA_VISIBLE_DEVICES")); ` +
    `console.error("err"); console.log("b"); Deno.exit(${code});`;
  const codes = await runParallel(Deno.execPath(), [
    {
      gpu: "0",
      shard: "0/2",
      args: ["eval", script(0)],
      env: { CUDA_VISIBLE_DEVICES: "0" },
    },
    {
      gpu: "1",
      shard: "1/2",
      args: ["eval", script(3)],
      env: { CUDA_VISIBLE_DEVICES: "1" },
    },
  ], (l) => lines.push(l));
  assertEquals(codes, [0, 3]);
  for (const g of ["0", "1"]) {
    assertEquals(
      lines.filter((l) => l.startsWith(`[gpu ${g}] `)).sort(),
      [`[gpu ${g}] a ${g}`, `[gpu ${g}] b`, `[gpu ${g}] err`],
    );
  }
  assertEquals(lines.length, 6);
});

Deno.test("the launcher runs every shard, then the final pass, through `deno task repro`", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pof_gpus_" });
  try {
    // A stand-in runner: records CUDA_VISIBLE_DEVICES and its arguments, one file per call.
    await Deno.writeTextFile(
      `${dir}/record.ts`,
      `const name = crypto.randomUUID();
await Deno.writeTextFile("${dir}/calls/" + name, JSON.stringify({
  t: performance.timeOrigin + performance.now(),
  gpu: Deno.env.get("CUDA_VISIBLE_DEVICES"),
  args: Deno.args,
}));`,
    );
    await Deno.mkdir(`${dir}/calls`);
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({ tasks: { repro: "deno run -A record.ts" } }),
    );
    const launcher = new URL("./launch_gpus.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-lock", launcher, "--gpus", "2", "--", "fig1"],
      cwd: dir,
      env: { CUDA_VISIBLE_DEVICES: "4,7,9", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, stderr);
    const calls: { t: number; gpu: string; args: string[] }[] = [];
    for await (const e of Deno.readDir(`${dir}/calls`)) {
      calls.push(JSON.parse(await Deno.readTextFile(`${dir}/calls/${e.name}`)));
    }
    calls.sort((a, b) => a.t - b.t);
    assertEquals(calls.length, 3);
    assertEquals(
      calls.slice(0, 2).map((c) => `${c.gpu} ${c.args.join(" ")}`).sort(),
      ["4 fig1 --shard 0/2", "7 fig1 --shard 1/2"],
    );
    assertEquals(`${calls[2].gpu} ${calls[2].args.join(" ")}`, "4 fig1");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
