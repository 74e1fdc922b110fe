// Every generated tile against a plain float32 loop in the documented order,
// bitwise: strided x (not contiguous), several images, rows and taps, rows
// of whole unrolled groups of pixels, of a group and a remainder, and of a
// remainder only, accumulating onto non-zero accumulators.
import { assertEquals } from "@std/assert";
import { Rng } from "../rng.ts";
import { TILE_COLUMNS, TILE_ROWS, tileKernels } from "./filter_grad_tiles.ts";

Deno.test("tile kernels: every mr x nr equals a plain float32 loop bitwise", () => {
  const rng = new Rng(21);
  for (const shared of [false, true]) {
    const memory = shared
      ? new WebAssembly.Memory({ initial: 16, maximum: 16, shared: true })
      : new WebAssembly.Memory({ initial: 16 });
    const heap = new Float32Array(memory.buffer);
    const kernels = tileKernels(memory, 4 * 7 * 2, 4 * 9);
    assertEquals(tileKernels(memory, 4 * 7 * 2, 4 * 9), kernels); // instantiated once
    // Geometry (floats): x pixel stride 7 (a 7-channel layout), 2 taps down
    // and 3 across, dy pixels of 9 floats, accumulator rows of 11.
    const [images, rows, tapRows, tapCols] = [2, 3, 2, 3];
    const xCol = 7 * 2, xRow = 7 * 15, xImage = 7 * 80, xTapRow = 7 * 9;
    const xTapCol = 7, dyStride = 9, accStride = 11, accTap = 64;
    const [X, DY, ACC] = [0, 4000, 8000];
    let count = 0;
    for (let mr = 1; mr <= TILE_ROWS; mr++) {
      TILE_COLUMNS.forEach((nr, w) => {
        const cols = [7, 2, 8][count++ % 3];
        heap.set(rng.normalArray(8000), 0);
        heap.set(rng.normalArray(600), ACC);
        const want = heap.slice(ACC, ACC + 600);
        const f = Math.fround;
        for (let kh = 0; kh < tapRows; kh++) {
          for (let kw = 0; kw < tapCols; kw++) {
            for (let i = 0; i < mr; i++) {
              for (let j = 0; j < nr; j++) {
                const a = (kh * tapCols + kw) * accTap + i * accStride + j;
                let s = want[a];
                let p = DY + j;
                for (let n = 0; n < images; n++) {
                  for (let r = 0; r < rows; r++) {
                    for (let c = 0; c < cols; c++) {
                      const xv = heap[
                        X + n * xImage + r * xRow + c * xCol + kh * xTapRow +
                        kw * xTapCol + i
                      ];
                      s = f(s + f(xv * heap[p]));
                      p += dyStride;
                    }
                  }
                }
                want[a] = s;
              }
            }
          }
        }
        kernels[mr - 1][w](
          4 * X,
          4 * DY,
          4 * ACC,
          images,
          rows,
          cols,
          4 * xRow,
          4 * xImage,
          4 * accStride,
          tapRows,
          tapCols,
          4 * xTapRow,
          4 * xTapCol,
          4 * accTap,
        );
        const got = heap.slice(ACC, ACC + 600);
        for (let k = 0; k < 600; k++) {
          if (!Object.is(got[k], want[k])) {
            throw new Error(
              `t${mr}x${nr} (shared ${shared}, ${cols} columns): accumulator ${k} is ${
                got[k]
              }, the plain loop gives ${want[k]}`,
            );
          }
        }
      });
    }
  }
});
