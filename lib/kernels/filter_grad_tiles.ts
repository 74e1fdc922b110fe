/**
 * The filter gradient's micro-kernels, generated as WebAssembly SIMD
 * (`wasm_module.ts`) and run on the wasm backend's own heap: a tile of
 * `mr` input channels by `nr` output channels of one filter tap,
 * accumulated over a run of output pixels straight from the NHWC input and
 * output gradient, with no im2col and no repacking.
 *
 * `t{mr}x{nr}(x, dy, acc, images, rows, cols, xColStride, xRowStride,
 * xImageStride, dyStride, accStride, tapRows, tapCols, xTapRowStride,
 * xTapColStride, accTapStride)` does, for each of `tapRows x tapCols` filter
 * taps and i < mr, j < nr, `acc[i][j] += x[p][i] * dy[p][j]` over the
 * pixels p of `images` images of `rows` rows of `cols` pixels, in that
 * order (images, rows, pixels), each product rounded to float32 and then
 * added (no fused multiply-add), so one accumulator's sum is exactly that
 * of a plain float32 loop in the same order. Pointers and strides are in
 * bytes: `x` walks `xColStride` per pixel, `xRowStride` per row and
 * `xImageStride` per image, `dy` walks `dyStride` per pixel (its rows and
 * images are contiguous), row i of `acc` is at `acc + i * accStride`; tap
 * (kh, kw) starts x at `x + kh * xTapRowStride + kw * xTapColStride` and
 * its accumulators at `acc + (kh * tapCols + kw) * accTapStride`. The taps
 * share the same pixels, which stay in L1 across them. `nr` is 8 or 4
 * (float32x4 lanes) or 1 (scalar, for output channels that are not a
 * multiple of 4); `mr` is 1..{@link TILE_ROWS}. Every count must be at
 * least 1.
 *
 * A 5x8 tile holds 10 accumulators, 2 dy vectors and one broadcast x in 13
 * of the 16 SIMD registers V8 uses on x86-64; it reached 17-19 G
 * multiply-adds/s on one core of this project's CI machine, against 12-17
 * for 4x8, 2x16, 8x4 and 6x8 (the latter spills), measured on a 64x32x32x64
 * layer.
 *
 * @module
 */
import { F32, I32, V128, WasmFunction, wasmModule } from "./wasm_module.ts";

/**
 * Input channels per tile (the most a tile function takes).
 *
 * @example
 * ```ts
 * import { TILE_ROWS } from "./filter_grad_tiles.ts";
 * if (TILE_ROWS !== 5) throw new Error();
 * ```
 */
export const TILE_ROWS = 5;

/** Output channels per tile, widest first (the lane widths generated). */
export const TILE_COLUMNS = [8, 4, 1] as const;

/** A generated tile function (all arguments are i32). */
export type TileKernel = (
  x: number,
  dy: number,
  acc: number,
  images: number,
  rows: number,
  cols: number,
  xRowStride: number,
  xImageStride: number,
  accStride: number,
  tapRows: number,
  tapCols: number,
  xTapRowStride: number,
  xTapColStride: number,
  accTapStride: number,
) => void;

const PARAMS = [
  "x",
  "dy",
  "acc",
  "images",
  "rows",
  "cols",
  "xRowStride",
  "xImageStride",
  "accStride",
  "tapRows",
  "tapCols",
  "xTapRowStride",
  "xTapColStride",
  "accTapStride",
] as const;
const P = Object.fromEntries(PARAMS.map((p, i) => [p, i])) as Record<
  typeof PARAMS[number],
  number
>;

/** Pixels per iteration of the inner loop (the strides are constants). */
const UNROLL = 4;

function tileFunction(
  mr: number,
  nr: number,
  xColStride: number,
  dyStride: number,
): WasmFunction {
  const f = new WasmFunction(`t${mr}x${nr}`, PARAMS.length);
  const vector = nr >= 4;
  const nv = vector ? nr / 4 : 1;
  const type = vector ? V128 : F32;
  const acc = Array.from({ length: mr * nv }, () => f.local(type));
  const a = f.local(type);
  const b = Array.from({ length: nv }, () => f.local(type));
  const [xTapRow, xTap, accTapRow, accTap, khLeft, kwLeft] = [0, 0, 0, 0, 0, 0]
    .map(() => f.local(I32));
  const [dyp, imagesLeft, xImage, xRow, rowsLeft, xp, colsLeft] = [
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ].map(() => f.local(I32));
  const get = (p: keyof typeof P) => f.localGet(P[p]);
  const add = (to: number, p: keyof typeof P) =>
    f.localGet(to).localGet(P[p]).i32Add().localSet(to);
  const countDown = (i: number) =>
    f.localGet(i).i32Const(1).i32Sub().localTee(i).brIf(0);
  const accAddress = (i: number) => {
    f.localGet(accTap);
    if (i > 0) get("accStride").i32Const(i).i32Mul().i32Add();
  };
  const load = (offset: number) =>
    vector ? f.v128Load(offset) : f.f32Load(offset);
  get("x").localSet(xTapRow);
  get("acc").localSet(accTapRow);
  get("tapRows").localSet(khLeft);
  f.loop(() => {
    f.localGet(xTapRow).localSet(xTap).localGet(accTapRow).localSet(accTap);
    get("tapCols").localSet(kwLeft);
    f.loop(() => {
      for (let i = 0; i < mr; i++) {
        for (let j = 0; j < nv; j++) {
          accAddress(i);
          load(16 * j).localSet(acc[i * nv + j]);
        }
      }
      get("dy").localSet(dyp).localGet(xTap).localSet(xImage);
      get("images").localSet(imagesLeft);
      f.loop(() => {
        f.localGet(xImage).localSet(xRow).localGet(P.rows).localSet(rowsLeft);
        f.loop(() => {
          f.localGet(xRow).localSet(xp);
          const pixel = (u: number) => {
            for (let j = 0; j < nv; j++) {
              f.localGet(dyp);
              load(u * dyStride + 16 * j).localSet(b[j]);
            }
            for (let i = 0; i < mr; i++) {
              f.localGet(xp);
              const at = u * xColStride + 4 * i;
              (vector ? f.v128Load32Splat(at) : f.f32Load(at)).localSet(a);
              for (let j = 0; j < nv; j++) {
                const k = acc[i * nv + j];
                f.localGet(k).localGet(a).localGet(b[j]);
                if (vector) f.f32x4Mul().f32x4Add();
                else f.f32Mul().f32Add();
                f.localSet(k);
              }
            }
          };
          // cols / UNROLL groups of pixels, then cols % UNROLL single ones.
          for (const count of [UNROLL, 1]) {
            f.localGet(P.cols);
            if (count > 1) f.i32Const(Math.log2(UNROLL)).i32ShrU();
            else f.i32Const(UNROLL - 1).i32And();
            f.localSet(colsLeft);
            f.block(() => {
              f.localGet(colsLeft).i32Eqz().brIf(0);
              f.loop(() => {
                for (let u = 0; u < count; u++) pixel(u);
                f.localGet(xp).i32Const(count * xColStride).i32Add()
                  .localSet(xp);
                f.localGet(dyp).i32Const(count * dyStride).i32Add()
                  .localSet(dyp);
                countDown(colsLeft);
              });
            });
          }
          add(xRow, "xRowStride");
          countDown(rowsLeft);
        });
        add(xImage, "xImageStride");
        countDown(imagesLeft);
      });
      for (let i = 0; i < mr; i++) {
        for (let j = 0; j < nv; j++) {
          accAddress(i);
          f.localGet(acc[i * nv + j]);
          if (vector) f.v128Store(16 * j);
          else f.f32Store(0);
        }
      }
      add(xTap, "xTapColStride");
      add(accTap, "accTapStride");
      countDown(kwLeft);
    });
    add(xTapRow, "xTapRowStride");
    f.localGet(accTapRow).localGet(P.accTapStride).localGet(P.tapCols)
      .i32Mul().i32Add().localSet(accTapRow);
    countDown(khLeft);
  });
  return f;
}

/**
 * The module of every tile function, `t{mr}x{nr}` for mr in
 * 1..{@link TILE_ROWS} and nr in {@link TILE_COLUMNS}, for x's and dy's
 * pixel strides `xColStride` and `dyStride` (bytes, built in as constants),
 * importing a `shared` (threaded heap) or unshared memory.
 *
 * @example
 * ```ts
 * import { filterGradTileModule } from "./filter_grad_tiles.ts";
 * if (!WebAssembly.validate(filterGradTileModule(true, 256, 256))) throw new Error();
 * ```
 */
export function filterGradTileModule(
  shared: boolean,
  xColStride: number,
  dyStride: number,
): Uint8Array<ArrayBuffer> {
  for (
    const [name, v] of [["xColStride", xColStride], [
      "dyStride",
      dyStride,
    ]] as const
  ) {
    if (
      !Number.isInteger(v) || v < 4 || v % 4 !== 0 || v * UNROLL > 0x7fffffff
    ) {
      throw new RangeError(
        `filterGradTileModule: ${name} must be a positive multiple of 4 bytes, got ${v}`,
      );
    }
  }
  const fns: WasmFunction[] = [];
  for (let mr = 1; mr <= TILE_ROWS; mr++) {
    for (const nr of TILE_COLUMNS) {
      fns.push(tileFunction(mr, nr, xColStride, dyStride));
    }
  }
  return wasmModule(fns, { shared });
}

const modules = new Map<string, WebAssembly.Module>();
const instances = new WeakMap<
  WebAssembly.Memory,
  Map<string, TileKernel[][]>
>();

/**
 * The tile functions for pixel strides `xColStride` and `dyStride` (bytes)
 * instantiated on `memory` (compiled once per stride pair and thread,
 * instantiated once per memory), as `kernels[mr - 1][c]` for the c-th
 * width of {@link TILE_COLUMNS}.
 *
 * @example
 * ```ts
 * import { tileKernels } from "./filter_grad_tiles.ts";
 * const memory = new WebAssembly.Memory({ initial: 1 });
 * const heap = new Float32Array(memory.buffer);
 * heap.set([2, 3], 0); // x: one pixel, 2 channels
 * heap.set([1, 10, 100, 1000], 4); // dy: one pixel, 4 channels
 * // 2x4 tile, one pixel, accumulators at float 8 (rows 16 bytes apart).
 * tileKernels(memory, 8, 16)[1][1](0, 16, 32, 1, 1, 1, 8, 8, 16, 1, 1, 0, 0, 0);
 * if (heap.slice(8, 16).join() !== "2,20,200,2000,3,30,300,3000") throw new Error();
 * ```
 */
export function tileKernels(
  memory: WebAssembly.Memory,
  xColStride: number,
  dyStride: number,
): TileKernel[][] {
  const shared = memory.buffer instanceof SharedArrayBuffer;
  const key = `${shared} ${xColStride} ${dyStride}`;
  let byKey = instances.get(memory);
  if (!byKey) instances.set(memory, byKey = new Map());
  let kernels = byKey.get(key);
  if (kernels) return kernels;
  let module = modules.get(key);
  if (!module) {
    module = new WebAssembly.Module(
      filterGradTileModule(shared, xColStride, dyStride),
    );
    modules.set(key, module);
  }
  const { exports } = new WebAssembly.Instance(module, { env: { memory } });
  kernels = Array.from(
    { length: TILE_ROWS },
    (_, i) =>
      TILE_COLUMNS.map((nr) => exports[`t${i + 1}x${nr}`] as TileKernel),
  );
  byKey.set(key, kernels);
  return kernels;
}
