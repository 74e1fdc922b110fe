/**
 * Seeded, serialisable pseudo-random numbers (xoshiro128**, seeded through
 * splitmix32). Every random choice in the project (initialisation, shuffling,
 * augmentation, gamma sampling, batch draws) takes an {@link Rng} argument, so a
 * run is reproducible from its seed and resumable from {@link Rng.state}.
 *
 * @module
 */

/** The four 32-bit words of a xoshiro128** generator, as saved in checkpoints. */
export type RngState = [number, number, number, number];

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function hashString(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * A seeded random number generator.
 *
 * @example
 * ```ts
 * import { Rng } from "./rng.ts";
 * const a = new Rng(42), b = new Rng(42);
 * if (a.uniform() !== b.uniform()) throw new Error("not deterministic");
 * const resumed = Rng.fromState(a.state());
 * if (resumed.uint32() !== a.uint32()) throw new Error("state not restored");
 * ```
 */
export class Rng {
  #s: Uint32Array;

  /** Seeds the generator from a 32-bit integer seed. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new RangeError(`Rng seed must be a finite number, got ${seed}`);
    }
    const sm = splitmix32(Math.floor(seed));
    this.#s = new Uint32Array([sm(), sm(), sm(), sm()]);
    if (this.#s.every((v) => v === 0)) this.#s[0] = 1;
  }

  /** Restores a generator from {@link Rng.state}. */
  static fromState(state: RngState): Rng {
    if (!Array.isArray(state) || state.length !== 4) {
      throw new TypeError(
        `Rng state must be 4 uint32 words, got ${JSON.stringify(state)}`,
      );
    }
    const r = new Rng(0);
    r.#s.set(state.map((v) => v >>> 0));
    return r;
  }

  /** The generator's whole state (JSON-serialisable). */
  state(): RngState {
    return [this.#s[0], this.#s[1], this.#s[2], this.#s[3]];
  }

  /** An independent generator derived from this one's state and a label; this one is not advanced. */
  fork(label: string): Rng {
    const h = hashString(label);
    const sm = splitmix32((this.#s[0] ^ this.#s[2] ^ h) >>> 0);
    const r = new Rng(0);
    r.#s.set([sm() ^ this.#s[1], sm() ^ this.#s[3], sm(), sm() ^ h]);
    if (r.#s.every((v) => v === 0)) r.#s[0] = 1;
    return r;
  }

  /** A uniform 32-bit unsigned integer. */
  uint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** A uniform double in [0, 1) with 32 bits of randomness. */
  uniform(): number {
    return this.uint32() / 4294967296;
  }

  /** A uniform double in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** A uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) {
      throw new RangeError(`Rng.int needs an integer n in [1, 2^32], got ${n}`);
    }
    const limit = 4294967296 - (4294967296 % n);
    let x = this.uint32();
    while (x >= limit) x = this.uint32();
    return x % n;
  }

  /**
   * A standard normal sample (Box-Muller, cosine branch only, so the state
   * is always just the four words and a resumed generator continues exactly).
   */
  normal(): number {
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fills a new Float32Array with N(mean, std^2) samples. */
  normalArray(n: number, std = 1, mean = 0): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /** A random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
