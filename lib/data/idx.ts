/**
 * IDX files (the MNIST / Fashion-MNIST format): big-endian magic
 * `0x0000 TT DD` (TT = 0x08 unsigned byte, DD = number of dimensions), then DD
 * big-endian uint32 sizes, then the data.
 *
 * @module
 */
import { DatasetError } from "./errors.ts";

/** A decoded IDX array (unsigned-byte data only). */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/**
 * Parses an uncompressed IDX ubyte file.
 *
 * @example
 * ```ts
 * import { encodeIdx, parseIdx } from "./idx.ts";
 * const a = parseIdx(encodeIdx([2, 1], new Uint8Array([4, 5])), "t");
 * if (a.dims.join() !== "2,1" || a.data[1] !== 5) throw new Error();
 * ```
 */
export function parseIdx(bytes: Uint8Array, label: string): IdxArray {
  if (bytes.length < 4) {
    throw new DatasetError(
      "truncated",
      `${label} is truncated: ${bytes.length} bytes, no IDX header`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint32(0, false);
  const type = (magic >>> 8) & 0xff, nd = magic & 0xff;
  if (magic >>> 16 !== 0 || type !== 0x08 || nd < 1 || nd > 4) {
    throw new DatasetError(
      "format",
      `${label} is not an unsigned-byte IDX file (magic 0x${
        magic.toString(16).padStart(8, "0")
      })`,
    );
  }
  const head = 4 + 4 * nd;
  if (bytes.length < head) {
    throw new DatasetError(
      "truncated",
      `${label} is truncated inside its IDX header`,
    );
  }
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < nd; i++) {
    dims.push(dv.getUint32(4 + 4 * i, false));
    count *= dims[i];
  }
  if (bytes.length - head < count) {
    throw new DatasetError(
      "truncated",
      `${label} is truncated: header says ${count} values (${
        dims.join("x")
      }), file has ${bytes.length - head}`,
    );
  }
  if (bytes.length - head > count) {
    throw new DatasetError(
      "format",
      `${label} has ${bytes.length - head - count} bytes after its ${
        dims.join("x")
      } IDX data`,
    );
  }
  return { dims, data: bytes.subarray(head) };
}

/**
 * Encodes an unsigned-byte IDX file (used to fabricate test data).
 *
 * @example
 * ```ts
 * import { encodeIdx } from "./idx.ts";
 * const b = encodeIdx([3], new Uint8Array([1, 2, 3]));
 * if (b.length !== 4 + 4 + 3 || b[2] !== 8 || b[3] !== 1) throw new Error();
 * ```
 */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(
      `encodeIdx: dims ${
        dims.join("x")
      } need ${count} values, got ${data.length}`,
    );
  }
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x0800 | dims.length, false);
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
