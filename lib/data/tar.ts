/**
 * A minimal streaming tar reader (POSIX ustar, GNU and v7 headers, GNU long
 * names, pax headers skipped) and a ustar writer used to fabricate test
 * archives in the exact layout of the official CIFAR binary tarballs.
 *
 * @module
 */
import type { ByteReader } from "./bytes.ts";
import { DatasetError } from "./errors.ts";

/** One regular-file entry of a tar archive. */
export interface TarEntry {
  /** Path inside the archive. */
  name: string;
  /** Size in bytes. */
  size: number;
  /** Type flag ("0" regular file, "5" directory, ...). */
  type: string;
}

const dec = new TextDecoder();

function cstr(b: Uint8Array): string {
  const z = b.indexOf(0);
  return dec.decode(z < 0 ? b : b.subarray(0, z));
}

function octal(b: Uint8Array, label: string, field: string): number {
  // GNU base-256 encoding for big sizes
  if (b[0] & 0x80) {
    let v = 0;
    for (let i = 1; i < b.length; i++) v = v * 256 + b[i];
    return v;
  }
  const s = cstr(b).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) {
    throw new DatasetError(
      "format",
      `${label} is not a tar archive: bad ${field} field "${s}"`,
    );
  }
  return parseInt(s, 8);
}

/**
 * Reads a tar stream, calling `onFile(entry, reader)` for each regular file;
 * the callback may read up to `entry.size` bytes from `reader` (the rest is
 * skipped). Throws `format` on a bad header checksum and `truncated` if the
 * archive ends early.
 *
 * @example
 * ```ts
 * import { ByteReader } from "./bytes.ts";
 * import { readTar, writeTar } from "./tar.ts";
 * const tar = writeTar([{ name: "d/a.bin", data: new Uint8Array([1, 2]) }]);
 * const seen: string[] = [];
 * await readTar(ByteReader.fromBytes(tar, "t.tar"), async (e, r) => {
 *   seen.push(e.name + ":" + (await r.readExact(e.size)).join());
 * });
 * if (seen[0] !== "d/a.bin:1,2") throw new Error(seen.join());
 * ```
 */
export async function readTar(
  reader: ByteReader,
  onFile: (entry: TarEntry, reader: ByteReader) => Promise<void>,
): Promise<void> {
  const label = reader.label;
  let longName: string | null = null;
  let sawEnd = false;
  let entries = 0;
  while (!(await reader.atEnd())) {
    const h = await reader.readExact(512);
    if (h.every((v) => v === 0)) {
      sawEnd = true;
      break;
    }
    // header checksum: sum of all bytes with the checksum field as spaces
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    const stored = octal(h.subarray(148, 156), label, "checksum");
    if (stored !== sum) {
      throw new DatasetError(
        "format",
        `${label} is not a tar archive (header checksum ${stored} != ${sum} at entry ${entries})`,
      );
    }
    const size = octal(h.subarray(124, 136), label, "size");
    const type = h[156] === 0 ? "0" : String.fromCharCode(h[156]);
    const magic = dec.decode(h.subarray(257, 262));
    let name = cstr(h.subarray(0, 100));
    if (magic === "ustar") {
      const prefix = cstr(h.subarray(345, 500));
      if (prefix && h[262] === 0) name = `${prefix}/${name}`; // POSIX only
    }
    if (longName !== null) {
      name = longName;
      longName = null;
    }
    const padded = Math.ceil(size / 512) * 512;
    entries++;
    if (type === "L") {
      longName = cstr(await reader.readExact(size));
      await reader.skip(padded - size);
      continue;
    }
    if (type === "0" || type === "7") {
      const start = reader.offset;
      await onFile({ name, size, type }, reader);
      const used = reader.offset - start;
      if (used > size) {
        throw new Error(`tar callback read ${used} > ${size} bytes of ${name}`);
      }
      await reader.skip(padded - used);
    } else {
      await reader.skip(padded);
    }
  }
  if (!sawEnd) {
    throw new DatasetError(
      "truncated",
      `${label} is truncated: the tar archive has no end-of-archive block (after ${entries} entries)`,
    );
  }
}

/** A file to put in a tar archive. */
export interface TarFile {
  name: string;
  data: Uint8Array;
}

/**
 * Writes a ustar archive (regular files, names up to 100 bytes).
 *
 * @example
 * ```ts
 * import { writeTar } from "./tar.ts";
 * const t = writeTar([{ name: "x", data: new Uint8Array(3) }]);
 * if (t.length !== 512 + 512 + 1024) throw new Error(String(t.length));
 * ```
 */
export function writeTar(files: TarFile[]): Uint8Array {
  const enc = new TextEncoder();
  let total = 1024;
  for (const f of files) total += 512 + Math.ceil(f.data.length / 512) * 512;
  const out = new Uint8Array(total);
  let o = 0;
  const put = (h: Uint8Array, off: number, s: string) =>
    h.set(enc.encode(s), off);
  for (const f of files) {
    const nb = enc.encode(f.name);
    if (nb.length > 100) {
      throw new RangeError(`tar name longer than 100 bytes: ${f.name}`);
    }
    const h = out.subarray(o, o + 512);
    h.set(nb, 0);
    put(h, 100, "0000644\0");
    put(h, 108, "0001750\0");
    put(h, 116, "0001750\0");
    put(h, 124, f.data.length.toString(8).padStart(11, "0") + "\0");
    put(h, 136, "11262450000\0");
    put(h, 148, "        ");
    h[156] = "0".charCodeAt(0);
    put(h, 257, "ustar\0");
    put(h, 263, "00");
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += h[i];
    put(h, 148, sum.toString(8).padStart(6, "0") + "\0 ");
    out.set(f.data, o + 512);
    o += 512 + Math.ceil(f.data.length / 512) * 512;
  }
  return out;
}
