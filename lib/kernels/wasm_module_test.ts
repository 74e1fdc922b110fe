// The encoder against hand-derived bytes and against the engine: every
// instruction the generated kernels use, run on small known inputs.
import { assertEquals, assertThrows } from "@std/assert";
import {
  F32,
  I32,
  sleb128,
  uleb128,
  V128,
  WasmFunction,
  wasmModule,
} from "./wasm_module.ts";

Deno.test("uleb128 and sleb128: boundaries of each byte count", () => {
  assertEquals(uleb128(0), [0]);
  assertEquals(uleb128(127), [0x7f]);
  assertEquals(uleb128(128), [0x80, 0x01]);
  assertEquals(uleb128(16383), [0xff, 0x7f]);
  assertEquals(uleb128(16384), [0x80, 0x80, 0x01]);
  assertEquals(uleb128(0xffffffff), [0xff, 0xff, 0xff, 0xff, 0x0f]);
  assertEquals(sleb128(0), [0]);
  assertEquals(sleb128(63), [0x3f]);
  assertEquals(sleb128(64), [0xc0, 0x00]); // bit 6 set: needs a second byte
  assertEquals(sleb128(-1), [0x7f]);
  assertEquals(sleb128(-64), [0x40]);
  assertEquals(sleb128(-65), [0xbf, 0x7f]);
  assertEquals(sleb128(-0x80000000), [0x80, 0x80, 0x80, 0x80, 0x78]);
  assertThrows(() => uleb128(-1), RangeError, "got -1");
  assertThrows(() => uleb128(2 ** 32), RangeError, "4294967296");
  assertThrows(() => sleb128(1.5), RangeError, "got 1.5");
});

function instantiate(fns: WasmFunction[], shared: boolean) {
  const memory = shared
    ? new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true })
    : new WebAssembly.Memory({ initial: 1 });
  const { exports } = new WebAssembly.Instance(
    new WebAssembly.Module(wasmModule(fns, { shared })),
    { env: { memory } },
  );
  return { exports, heap: new Float32Array(memory.buffer) };
}

Deno.test("wasmModule: a scalar loop (f32 load/add/mul/store, i32 arithmetic, loop/br_if) runs", () => {
  // dot(a, b, n, out): out[0] = sum a[i] * b[i], i < n (n >= 1).
  const f = new WasmFunction("dot", 4);
  const s = f.local(F32);
  f.loop(() =>
    f.localGet(s).localGet(0).f32Load(0).localGet(1).f32Load(0).f32Mul()
      .f32Add().localSet(s)
      .localGet(0).i32Const(4).i32Add().localSet(0)
      .localGet(1).i32Const(4).i32Add().localSet(1)
      .localGet(2).i32Const(1).i32Sub().localTee(2).brIf(0)
  );
  f.localGet(3).localGet(s).f32Store(0);
  const g = new WasmFunction("scaled", 1); // p[0] = p[0] * 3 via i32Mul on an address
  const t = g.local(I32);
  g.localGet(0).i32Const(0).i32Mul().localSet(t); // t = 0
  g.localGet(0).localGet(t).f32Load(0).localGet(t).f32Load(0).f32Add()
    .localGet(t).f32Load(0).f32Add().f32Store(0);
  for (const shared of [false, true]) {
    const { exports, heap } = instantiate([f, g], shared);
    heap.set([1, 2, 3, 10, 20, 30]);
    (exports.dot as (...a: number[]) => void)(0, 12, 3, 28);
    assertEquals(heap[7], 140);
    heap[0] = 1.5;
    (exports.scaled as (p: number) => void)(0);
    assertEquals(heap[0], 4.5);
  }
});

Deno.test("wasmModule: v128 load, load32_splat, mul, add and store at offsets", () => {
  // out = a * splat(s) + b, four lanes; a at 16, b at 32, s at 4, out at 48.
  const f = new WasmFunction("axpy", 1);
  const v = f.local(V128);
  f.localGet(0).v128Load(16).localGet(0).v128Load32Splat(4).f32x4Mul()
    .localGet(0).v128Load(32).f32x4Add().localSet(v);
  f.localGet(0).localGet(v).v128Store(48);
  const { exports, heap } = instantiate([f], false);
  heap.set([0, 2], 0);
  heap.set([1, 2, 3, 4, 10, 20, 30, 40], 4);
  (exports.axpy as (p: number) => void)(0);
  assertEquals([...heap.slice(12, 16)], [12, 24, 36, 48]);
});
