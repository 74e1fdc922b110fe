/**
 * A streaming reader for MATLAB 5 MAT-files (what SVHN format 2's
 * `*_32x32.mat` contain: numeric arrays, optionally inside zlib-compressed
 * `miCOMPRESSED` elements), and a writer used to fabricate such files.
 *
 * Only numeric, non-complex, non-sparse arrays are decoded; other variables
 * are skipped. Both byte orders are read.
 *
 * @module
 */
import { ByteReader, inflateStream } from "./bytes.ts";
import { DatasetError } from "./errors.ts";

/** MAT data types (the `mi*` codes). */
export const MI = {
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  INT64: 12,
  UINT64: 13,
  MATRIX: 14,
  COMPRESSED: 15,
  UTF8: 16,
} as const;

/** MAT array classes (the `mx*_CLASS` codes) this module names. */
export const MX = {
  CHAR: 4,
  DOUBLE: 6,
  SINGLE: 7,
  INT8: 8,
  UINT8: 9,
  INT16: 10,
  UINT16: 11,
  INT32: 12,
  UINT32: 13,
} as const;

const MI_SIZE: Record<number, number> = {
  1: 1,
  2: 1,
  3: 2,
  4: 2,
  5: 4,
  6: 4,
  7: 4,
  9: 8,
  12: 8,
  13: 8,
  16: 1,
};

/** What is known about a numeric variable before its data is read. */
export interface MatArrayInfo {
  name: string;
  /** The `mx` class code. */
  mxClass: number;
  /** MATLAB dimensions (column-major). */
  dims: number[];
  /** The `mi` type the real part is stored as (may be narrower than the class). */
  dataType: number;
  /** Bytes of the real part. */
  dataBytes: number;
  /** True if the file is little-endian. */
  littleEndian: boolean;
}

/**
 * A handler for one variable: consumes the real part from `data` (chunks
 * that total `info.dataBytes`; views, copy before keeping).
 */
export type MatArrayHandler = (
  info: MatArrayInfo,
  data: AsyncGenerator<Uint8Array>,
) => Promise<void>;

const dec = new TextDecoder();

interface Tag {
  type: number;
  bytes: number;
  small: Uint8Array | null;
}

async function readTag(r: ByteReader, le: boolean): Promise<Tag> {
  const t = await r.readExact(8);
  const dv = new DataView(t.buffer);
  const w0 = dv.getUint32(0, le);
  if (w0 >>> 16 !== 0) {
    const bytes = w0 >>> 16;
    if (bytes > 4) {
      throw new DatasetError(
        "format",
        `${r.label}: bad MAT small element (${bytes} bytes)`,
      );
    }
    return { type: w0 & 0xffff, bytes, small: t.subarray(4, 4 + bytes) };
  }
  return { type: w0, bytes: dv.getUint32(4, le), small: null };
}

const pad8 = (n: number) => (8 - (n % 8)) % 8;

async function readSmallOrFull(r: ByteReader, tag: Tag): Promise<Uint8Array> {
  if (tag.small) return tag.small;
  const d = await r.readExact(tag.bytes);
  await r.skip(pad8(tag.bytes));
  return d;
}

async function readMatrix(
  r: ByteReader,
  size: number,
  le: boolean,
  handlers: Record<string, MatArrayHandler>,
): Promise<void> {
  const start = r.offset;
  const flagsTag = await readTag(r, le);
  const flags = await readSmallOrFull(r, flagsTag);
  const fv = new DataView(flags.buffer, flags.byteOffset, flags.byteLength);
  const w = fv.getUint32(0, le);
  const mxClass = w & 0xff;
  const complex = (w >>> 8) & 0x08;
  const dimsTag = await readTag(r, le);
  const dimBytes = await readSmallOrFull(r, dimsTag);
  const dv = new DataView(
    dimBytes.buffer,
    dimBytes.byteOffset,
    dimBytes.byteLength,
  );
  const dims: number[] = [];
  for (let i = 0; i + 4 <= dimsTag.bytes; i += 4) dims.push(dv.getInt32(i, le));
  const nameTag = await readTag(r, le);
  const name = dec.decode(await readSmallOrFull(r, nameTag));
  const numeric = mxClass >= MX.DOUBLE && mxClass <= 15;
  const handler = handlers[name];
  if (numeric && !complex && handler) {
    const dataTag = await readTag(r, le);
    if (!(dataTag.type in MI_SIZE)) {
      throw new DatasetError(
        "format",
        `${r.label}: variable ${name} has unsupported data type ${dataTag.type}`,
      );
    }
    const info: MatArrayInfo = {
      name,
      mxClass,
      dims,
      dataType: dataTag.type,
      dataBytes: dataTag.bytes,
      littleEndian: le,
    };
    if (dataTag.small) {
      const s = dataTag.small;
      await handler(
        info,
        (async function* () {
          yield s;
        })(),
      );
    } else {
      const gen = r.chunks(dataTag.bytes);
      await handler(info, gen);
      // drain whatever the handler left
      for await (const _ of gen) { /* skip */ }
      await r.skip(pad8(dataTag.bytes));
    }
  }
  const used = r.offset - start;
  if (used > size) {
    throw new DatasetError(
      "format",
      `${r.label}: variable ${name} overruns its element (${used} > ${size} bytes)`,
    );
  }
  await r.skip(size - used);
}

/**
 * Reads a MAT v5 file from `stream`, calling `handlers[name]` for each
 * numeric variable of that name (in file order). Throws `format` for
 * anything that is not a v5 MAT-file, `truncated` if it ends early.
 *
 * @example
 * ```ts
 * import { readMat, writeMat, MX, MI } from "./mat.ts";
 * import { bytesStream } from "./bytes.ts";
 * const file = await writeMat([{ name: "y", mxClass: MX.DOUBLE, dims: [2, 1],
 *   data: new Float64Array([10, 3]), storeAs: MI.UINT8 }], { compress: true });
 * let got: number[] = [];
 * await readMat(bytesStream(file), "t.mat", {
 *   y: async (info, data) => {
 *     for await (const c of data) got = [...got, ...c];
 *     if (info.dataType !== MI.UINT8) throw new Error();
 *   },
 * });
 * if (got.join() !== "10,3") throw new Error(got.join());
 * ```
 */
export async function readMat(
  stream: ReadableStream<Uint8Array>,
  label: string,
  handlers: Record<string, MatArrayHandler>,
): Promise<void> {
  const r = new ByteReader(stream, label);
  const head = await r.readExact(128).catch((e) => {
    throw new DatasetError(
      "format",
      `${label} is not a MAT-file: shorter than the 128-byte header`,
      { cause: e },
    );
  });
  const text = dec.decode(head.subarray(0, 10));
  const endian = String.fromCharCode(head[126], head[127]);
  if (!text.startsWith("MATLAB 5.0") || (endian !== "IM" && endian !== "MI")) {
    await r.cancel();
    const hint = dec.decode(head.subarray(0, 8)).startsWith("\x89HDF")
      ? " (it looks like HDF5, i.e. a v7.3 MAT-file)"
      : "";
    throw new DatasetError(
      "format",
      `${label} is not a MATLAB 5 MAT-file (header "${
        text.replace(/[^\x20-\x7e]/g, "?")
      }", endian "${endian}")${hint}`,
    );
  }
  const le = endian === "IM";
  try {
    while (!(await r.atEnd())) {
      const tag = await readTag(r, le);
      if (tag.type === MI.COMPRESSED) {
        const inner = new ByteReader(
          inflateStream(
            ReadableStream.from(r.chunks(tag.bytes)),
            "deflate",
            label,
          ),
          label,
        );
        const itag = await readTag(inner, le);
        if (itag.type === MI.MATRIX) {
          await readMatrix(inner, itag.bytes, le, handlers);
        }
        // drain (also consumes the outer chunks exactly)
        await inner.drain();
      } else if (tag.type === MI.MATRIX) {
        await readMatrix(r, tag.bytes, le, handlers);
        await r.skip(pad8(tag.bytes));
      } else {
        if (tag.small) continue;
        await r.skip(tag.bytes + pad8(tag.bytes));
      }
    }
  } catch (e) {
    // stop reading (closes a file stream) before reporting
    await r.cancel();
    throw e;
  }
}

/**
 * Reads all of a variable's real part into a Float64Array (any stored type).
 *
 * @example
 * ```ts
 * import { collectNumeric, MI } from "./mat.ts";
 * const chunks = (async function* () { yield new Uint8Array([1, 0, 2, 0]); })();
 * const v = await collectNumeric({ name: "a", mxClass: 6, dims: [2, 1],
 *   dataType: MI.INT16, dataBytes: 4, littleEndian: true }, chunks);
 * if (v.join() !== "1,2") throw new Error();
 * ```
 */
export async function collectNumeric(
  info: MatArrayInfo,
  data: AsyncGenerator<Uint8Array>,
): Promise<Float64Array> {
  const raw = new Uint8Array(info.dataBytes);
  let o = 0;
  for await (const c of data) {
    raw.set(c, o);
    o += c.length;
  }
  const size = MI_SIZE[info.dataType];
  const n = Math.floor(raw.length / size);
  const out = new Float64Array(n);
  const dv = new DataView(raw.buffer);
  const le = info.littleEndian;
  for (let i = 0; i < n; i++) {
    const p = i * size;
    switch (info.dataType) {
      case MI.INT8:
        out[i] = dv.getInt8(p);
        break;
      case MI.UINT8:
      case MI.UTF8:
        out[i] = raw[p];
        break;
      case MI.INT16:
        out[i] = dv.getInt16(p, le);
        break;
      case MI.UINT16:
        out[i] = dv.getUint16(p, le);
        break;
      case MI.INT32:
        out[i] = dv.getInt32(p, le);
        break;
      case MI.UINT32:
        out[i] = dv.getUint32(p, le);
        break;
      case MI.SINGLE:
        out[i] = dv.getFloat32(p, le);
        break;
      case MI.DOUBLE:
        out[i] = dv.getFloat64(p, le);
        break;
      case MI.INT64:
        out[i] = Number(dv.getBigInt64(p, le));
        break;
      case MI.UINT64:
        out[i] = Number(dv.getBigUint64(p, le));
        break;
    }
  }
  return out;
}

/** A variable for {@link writeMat}. */
export interface MatVariable {
  name: string;
  /** The `mx` class (UINT8 or DOUBLE here). */
  mxClass: number;
  dims: number[];
  /** Values in MATLAB (column-major) order. */
  data: Uint8Array | Float64Array;
  /** Store the real part as this `mi` type (MATLAB stores integer-valued doubles as UINT8). */
  storeAs?: number;
}

/**
 * Writes a little-endian MAT v5 file; with `compress`, each variable is a
 * zlib `miCOMPRESSED` element, as MATLAB's `save -v7` does.
 *
 * @example
 * ```ts
 * import { writeMat, MX } from "./mat.ts";
 * const f = await writeMat([{ name: "X", mxClass: MX.UINT8, dims: [1, 1],
 *   data: new Uint8Array([5]) }]);
 * if (new TextDecoder().decode(f.subarray(0, 10)) !== "MATLAB 5.0") throw new Error();
 * ```
 */
export async function writeMat(
  vars: MatVariable[],
  options: { compress?: boolean } = {},
): Promise<Uint8Array> {
  const { zlibCompress } = await import("./bytes.ts");
  const parts: Uint8Array[] = [];
  const head = new Uint8Array(128).fill(32);
  head.set(
    new TextEncoder().encode(
      "MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: fabricated by pof tests",
    ),
  );
  head.fill(0, 116, 124);
  head[124] = 0x00;
  head[125] = 0x01;
  head[126] = "I".charCodeAt(0);
  head[127] = "M".charCodeAt(0);
  parts.push(head);
  for (const v of vars) {
    const el = matrixElement(v);
    if (options.compress) {
      const z = await zlibCompress(el);
      const tag = new Uint8Array(8);
      const tv = new DataView(tag.buffer);
      tv.setUint32(0, MI.COMPRESSED, true);
      tv.setUint32(4, z.length, true);
      parts.push(tag, z);
    } else parts.push(el);
  }
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function element(type: number, data: Uint8Array): Uint8Array {
  if (data.length <= 4 && data.length > 0) {
    const e = new Uint8Array(8);
    const dv = new DataView(e.buffer);
    dv.setUint32(0, ((data.length << 16) | type) >>> 0, true);
    e.set(data, 4);
    return e;
  }
  const e = new Uint8Array(8 + data.length + pad8(data.length));
  const dv = new DataView(e.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(4, data.length, true);
  e.set(data, 8);
  return e;
}

function matrixElement(v: MatVariable): Uint8Array {
  const flags = new Uint8Array(8);
  new DataView(flags.buffer).setUint32(0, v.mxClass, true);
  const flagsEl = new Uint8Array(16);
  const fv = new DataView(flagsEl.buffer);
  fv.setUint32(0, MI.UINT32, true);
  fv.setUint32(4, 8, true);
  flagsEl.set(flags, 8);
  const dimsData = new Uint8Array(4 * v.dims.length);
  const dd = new DataView(dimsData.buffer);
  v.dims.forEach((d, i) => dd.setInt32(4 * i, d, true));
  const nameEl = element(MI.INT8, new TextEncoder().encode(v.name));
  const storeAs = v.storeAs ??
    (v.data instanceof Uint8Array ? MI.UINT8 : MI.DOUBLE);
  let real: Uint8Array;
  if (storeAs === MI.UINT8) {
    real = v.data instanceof Uint8Array ? v.data : Uint8Array.from(v.data);
  } else if (storeAs === MI.DOUBLE) {
    real = new Uint8Array(Float64Array.from(v.data).buffer);
  } else {
    throw new RangeError(`writeMat: storeAs ${storeAs} not supported`);
  }
  const body = [
    flagsEl,
    element(MI.INT32, dimsData),
    nameEl,
    element(storeAs, real),
  ];
  let n = 0;
  for (const b of body) n += b.length;
  const out = new Uint8Array(8 + n);
  const ov = new DataView(out.buffer);
  ov.setUint32(0, MI.MATRIX, true);
  ov.setUint32(4, n, true);
  let o = 8;
  for (const b of body) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}
