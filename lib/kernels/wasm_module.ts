/**
 * A small WebAssembly encoder: enough of the binary format to generate
 * SIMD kernels at run time (functions of i32 parameters over an imported
 * memory, with i32, f32 and v128 locals, loops and loads/stores), so the
 * project's wasm kernels need no compiler toolchain. Each instruction is a
 * method of {@link WasmFunction} named after its text-format mnemonic;
 * {@link wasmModule} wraps functions into a module that imports its memory
 * as `env.memory` and exports each function by name.
 *
 * Encoding: WebAssembly Core Specification 2.0, section 5 (binary format),
 * and the fixed-width SIMD proposal's opcode table.
 *
 * @module
 */

/** Value types (binary encoding). */
export const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;

/**
 * Unsigned LEB128 encoding of a non-negative integer below 2^32.
 *
 * @example
 * ```ts
 * import { uleb128 } from "./wasm_module.ts";
 * if (uleb128(624485).join() !== "229,142,38") throw new Error(); // the spec's example
 * ```
 */
export function uleb128(n: number): number[] {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new RangeError(`uleb128: need an integer in 0..2^32-1, got ${n}`);
  }
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/**
 * Signed LEB128 encoding of a 32-bit integer.
 *
 * @example
 * ```ts
 * import { sleb128 } from "./wasm_module.ts";
 * if (sleb128(-123456).join() !== "192,187,120") throw new Error(); // the spec's example
 * if (sleb128(64).join() !== "192,0") throw new Error();
 * ```
 */
export function sleb128(n: number): number[] {
  if (!Number.isInteger(n) || n < -0x80000000 || n > 0x7fffffff) {
    throw new RangeError(`sleb128: need a 32-bit integer, got ${n}`);
  }
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) ||
      (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

const name = (s: string) => {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb128(bytes.length), ...bytes];
};
const vector = (
  items: number[][],
) => [...uleb128(items.length), ...items.flat()];
const section = (id: number, body: number[]) => [
  id,
  ...uleb128(body.length),
  ...body,
];

/**
 * One function under construction: `params` i32 parameters (locals
 * `0..params-1`), no result. Instruction methods append their encoding and
 * return `this`, so a body reads as a chain in stack order.
 *
 * @example
 * ```ts
 * import { F32, WasmFunction } from "./wasm_module.ts";
 * const f = new WasmFunction("scale", 2); // scale(p, n): p[0..n) *= 2
 * const v = f.local(F32);
 * f.loop(() => f.localGet(0).localGet(0).f32Load(0).localTee(v).localGet(v).f32Add().f32Store(0)
 *   .localGet(0).i32Const(4).i32Add().localSet(0)
 *   .localGet(1).i32Const(1).i32Sub().localTee(1).brIf(0));
 * if (f.body().at(-1) !== 0x0b) throw new Error();
 * ```
 */
export class WasmFunction {
  readonly name: string;
  readonly params: number;
  #locals: number[] = [];
  #code: number[] = [];

  constructor(name: string, params: number) {
    this.name = name;
    this.params = params;
  }

  /** Declares a local of `type` ({@link I32}, {@link F32}, {@link V128}); returns its index. */
  local(type: number): number {
    this.#locals.push(type);
    return this.params + this.#locals.length - 1;
  }

  /** The function's code entry (locals, instructions, `end`). */
  body(): number[] {
    const decls = vector(this.#locals.map((t) => [1, t]));
    return [...decls, ...this.#code, 0x0b];
  }

  #op(...bytes: number[]): this {
    this.#code.push(...bytes);
    return this;
  }
  #simd(opcode: number, ...immediates: number[]): this {
    return this.#op(0xfd, ...uleb128(opcode), ...immediates);
  }

  /** `loop ... end` around what `body` emits (`br_if 0` inside repeats it). */
  loop(body: () => void): this {
    this.#op(0x03, 0x40);
    body();
    return this.#op(0x0b);
  }
  /** `block ... end` around what `body` emits (`br_if 0` inside skips to its end). */
  block(body: () => void): this {
    this.#op(0x02, 0x40);
    body();
    return this.#op(0x0b);
  }
  /** Branches to the `depth`-th enclosing label when the i32 on the stack is non-zero. */
  brIf(depth: number): this {
    return this.#op(0x0d, ...uleb128(depth));
  }
  localGet(i: number): this {
    return this.#op(0x20, ...uleb128(i));
  }
  localSet(i: number): this {
    return this.#op(0x21, ...uleb128(i));
  }
  localTee(i: number): this {
    return this.#op(0x22, ...uleb128(i));
  }
  i32Const(c: number): this {
    return this.#op(0x41, ...sleb128(c));
  }
  i32Add(): this {
    return this.#op(0x6a);
  }
  i32Sub(): this {
    return this.#op(0x6b);
  }
  i32Mul(): this {
    return this.#op(0x6c);
  }
  i32And(): this {
    return this.#op(0x71);
  }
  i32ShrU(): this {
    return this.#op(0x76);
  }
  i32Eqz(): this {
    return this.#op(0x45);
  }
  /** `f32.load` at the address on the stack plus `offset` bytes. */
  f32Load(offset: number): this {
    return this.#op(0x2a, 2, ...uleb128(offset));
  }
  f32Store(offset: number): this {
    return this.#op(0x38, 2, ...uleb128(offset));
  }
  f32Add(): this {
    return this.#op(0x92);
  }
  f32Mul(): this {
    return this.#op(0x94);
  }
  /** `v128.load` (16 bytes) at the address on the stack plus `offset`. */
  v128Load(offset: number): this {
    return this.#simd(0x00, 4, ...uleb128(offset));
  }
  /** `v128.load32_splat`: one float32 at address + `offset`, in all four lanes. */
  v128Load32Splat(offset: number): this {
    return this.#simd(0x09, 2, ...uleb128(offset));
  }
  v128Store(offset: number): this {
    return this.#simd(0x0b, 4, ...uleb128(offset));
  }
  f32x4Add(): this {
    return this.#simd(0xe4);
  }
  f32x4Mul(): this {
    return this.#simd(0xe6);
  }
}

/**
 * A module of `functions` (each exported under its name) importing its
 * memory as `env.memory`: `shared` for a threaded heap (declared with
 * maximum 65536 pages, the most a 32-bit memory has, so any shared heap
 * matches), otherwise with no maximum.
 *
 * @example
 * ```ts
 * import { I32, WasmFunction, wasmModule } from "./wasm_module.ts";
 * const f = new WasmFunction("twice", 1); // twice(p): p[0] = 2 * p[0] (f32)
 * f.localGet(0).localGet(0).f32Load(0).localGet(0).f32Load(0).f32Add().f32Store(0);
 * const memory = new WebAssembly.Memory({ initial: 1 });
 * const { exports } = new WebAssembly.Instance(
 *   new WebAssembly.Module(wasmModule([f], { shared: false })), { env: { memory } });
 * new Float32Array(memory.buffer)[1] = 1.5;
 * (exports.twice as (p: number) => void)(4);
 * if (new Float32Array(memory.buffer)[1] !== 3) throw new Error();
 * ```
 */
export function wasmModule(
  functions: WasmFunction[],
  options: { shared: boolean },
): Uint8Array<ArrayBuffer> {
  const types = functions.map((f) => [
    0x60,
    ...vector(Array.from({ length: f.params }, () => [I32])),
    0,
  ]);
  const limits = options.shared
    ? [0x03, ...uleb128(0), ...uleb128(65536)]
    : [0x00, ...uleb128(0)];
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...section(1, vector(types)),
    ...section(
      2,
      vector([[...name("env"), ...name("memory"), 0x02, ...limits]]),
    ),
    ...section(3, vector(functions.map((_, i) => uleb128(i)))),
    ...section(
      7,
      vector(functions.map((f, i) => [...name(f.name), 0x00, ...uleb128(i)])),
    ),
    ...section(
      10,
      vector(functions.map((f) => {
        const body = f.body();
        return [...uleb128(body.length), ...body];
      })),
    ),
  ];
  return new Uint8Array(bytes);
}
