import { assert, assertEquals, assertThrows } from "@std/assert";
import { standInImages } from "./stand_in_images.ts";

Deno.test("standInImages: shape, balanced labels, seeded bytes, roughly uniform", () => {
  const a = standInImages({
    n: 1001,
    height: 28,
    width: 28,
    channels: 1,
    numClasses: 10,
    seed: 3,
  });
  assertEquals(a.images.length, 1001 * 784);
  const counts = new Array(10).fill(0);
  for (const l of a.labels) counts[l]++;
  assertEquals(counts, [101, 100, 100, 100, 100, 100, 100, 100, 100, 100]);
  // Same seed, same bytes; another seed, other bytes.
  const b = standInImages({ ...a, numClasses: 10, seed: 3 });
  assertEquals(b.images, a.images);
  const c = standInImages({ ...a, numClasses: 10, seed: 4 });
  assert(c.images.some((v, i) => v !== a.images[i]));
  // Uniform bytes: mean 127.5, every value present.
  let sum = 0;
  const seen = new Set<number>();
  for (const v of a.images) {
    sum += v;
    seen.add(v);
  }
  const mean = sum / a.images.length;
  assert(Math.abs(mean - 127.5) < 1, `mean ${mean}`);
  assertEquals(seen.size, 256);
});

Deno.test("standInImages: odd byte counts fill the tail; bad sizes are one clear error", () => {
  const s = standInImages({
    n: 3,
    height: 1,
    width: 1,
    channels: 3,
    numClasses: 2,
    seed: 1,
  });
  assertEquals(s.images.length, 9);
  // xorshift32 from 1, by hand: the draws fill bytes 0-3 and 4-7 (little
  // endian), the third draw's low byte is byte 8.
  const draws: number[] = [];
  let x = 1;
  for (let k = 0; k < 3; k++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    draws.push(x);
  }
  const le = (
    w: number,
  ) => [w & 255, (w >>> 8) & 255, (w >>> 16) & 255, w >>> 24];
  assertEquals([...s.images], [
    ...le(draws[0]),
    ...le(draws[1]),
    draws[2] & 255,
  ]);
  assertThrows(
    () =>
      standInImages({
        n: -1,
        height: 1,
        width: 1,
        channels: 1,
        numClasses: 1,
        seed: 0,
      }),
    RangeError,
    "n must be a non-negative integer, got -1",
  );
});
