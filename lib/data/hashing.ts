/**
 * Content hashes: MD5 (RFC 1321), incremental, in plain TypeScript (WebCrypto
 * has no MD5, and the checksums torchvision publishes for CIFAR, SVHN and
 * Fashion-MNIST are MD5), and SHA-256 through WebCrypto (the decoded-cache
 * keys). Used only for integrity checks, never for security.
 *
 * @module
 */

const S = [
  7,
  12,
  17,
  22,
  7,
  12,
  17,
  22,
  7,
  12,
  17,
  22,
  7,
  12,
  17,
  22,
  5,
  9,
  14,
  20,
  5,
  9,
  14,
  20,
  5,
  9,
  14,
  20,
  5,
  9,
  14,
  20,
  4,
  11,
  16,
  23,
  4,
  11,
  16,
  23,
  4,
  11,
  16,
  23,
  4,
  11,
  16,
  23,
  6,
  10,
  15,
  21,
  6,
  10,
  15,
  21,
  6,
  10,
  15,
  21,
  6,
  10,
  15,
  21,
];
const K = new Int32Array(64);
for (let i = 0; i < 64; i++) {
  K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 4294967296) | 0;
}
const G = new Uint8Array(64);
for (let i = 0; i < 64; i++) {
  G[i] = i < 16
    ? i
    : i < 32
    ? (5 * i + 1) % 16
    : i < 48
    ? (3 * i + 5) % 16
    : (7 * i) % 16;
}

/**
 * An incremental MD5 hash.
 *
 * @example
 * ```ts
 * import { Md5 } from "./hashing.ts";
 * const h = new Md5();
 * h.update(new TextEncoder().encode("a"));
 * h.update(new TextEncoder().encode("bc"));
 * if (h.hex() !== "900150983cd24fb0d6963f7d28e17f72") throw new Error(h.hex());
 * ```
 */
export class Md5 {
  #h = new Int32Array([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476]);
  #block = new Uint8Array(64);
  #blockView = new DataView(this.#block.buffer);
  #fill = 0;
  #length = 0;
  #m = new Int32Array(16);
  #done = false;

  /** Feeds bytes; returns this. */
  update(data: Uint8Array): this {
    if (this.#done) throw new Error("Md5.update called after hex()/digest()");
    let i = 0;
    this.#length += data.length;
    if (this.#fill > 0) {
      const take = Math.min(64 - this.#fill, data.length);
      this.#block.set(data.subarray(0, take), this.#fill);
      this.#fill += take;
      i = take;
      if (this.#fill < 64) return this;
      this.#compress(this.#blockView, 0);
      this.#fill = 0;
    }
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (; i + 64 <= data.length; i += 64) this.#compress(view, i);
    if (i < data.length) {
      this.#block.set(data.subarray(i), 0);
      this.#fill = data.length - i;
    }
    return this;
  }

  #compress(view: DataView, off: number): void {
    const m = this.#m;
    for (let j = 0; j < 16; j++) m[j] = view.getInt32(off + 4 * j, true);
    const h = this.#h;
    let a = h[0], b = h[1], c = h[2], d = h[3];
    for (let j = 0; j < 64; j++) {
      let f: number;
      if (j < 16) f = (b & c) | (~b & d);
      else if (j < 32) f = (d & b) | (~d & c);
      else if (j < 48) f = b ^ c ^ d;
      else f = c ^ (b | ~d);
      const t = d;
      d = c;
      c = b;
      const x = (a + f + K[j] + m[G[j]]) | 0;
      b = (b + ((x << S[j]) | (x >>> (32 - S[j])))) | 0;
      a = t;
    }
    h[0] = (h[0] + a) | 0;
    h[1] = (h[1] + b) | 0;
    h[2] = (h[2] + c) | 0;
    h[3] = (h[3] + d) | 0;
  }

  /** The 16-byte digest (finalises the hash). */
  digest(): Uint8Array {
    if (!this.#done) {
      const bits = this.#length * 8;
      const pad = new Uint8Array(
        ((this.#fill < 56 ? 56 : 120) - this.#fill) + 8,
      );
      pad[0] = 0x80;
      const pv = new DataView(pad.buffer);
      pv.setUint32(pad.length - 8, bits >>> 0, true);
      pv.setUint32(pad.length - 4, Math.floor(bits / 4294967296), true);
      this.update(pad);
      this.#done = true;
    }
    const out = new Uint8Array(16);
    const ov = new DataView(out.buffer);
    for (let j = 0; j < 4; j++) ov.setInt32(4 * j, this.#h[j], true);
    return out;
  }

  /** The digest as 32 lowercase hex digits (finalises the hash). */
  hex(): string {
    return toHex(this.digest());
  }
}

/**
 * Lowercase hex of bytes.
 *
 * @example
 * ```ts
 * import { toHex } from "./hashing.ts";
 * if (toHex(new Uint8Array([0, 255])) !== "00ff") throw new Error();
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/**
 * MD5 of a byte array, as hex.
 *
 * @example
 * ```ts
 * import { md5Hex } from "./hashing.ts";
 * if (md5Hex(new Uint8Array()) !== "d41d8cd98f00b204e9800998ecf8427e") throw new Error();
 * ```
 */
export function md5Hex(data: Uint8Array): string {
  return new Md5().update(data).hex();
}

/**
 * SHA-256 of a byte array (WebCrypto), as hex.
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./hashing.ts";
 * const h = await sha256Hex(new TextEncoder().encode("abc"));
 * if (!h.startsWith("ba7816bf")) throw new Error(h);
 * ```
 */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  const buf = await crypto.subtle.digest(
    "SHA-256",
    data as Uint8Array<ArrayBuffer>,
  );
  return toHex(new Uint8Array(buf));
}
