import { assertEquals } from "@std/assert";
import { Md5, md5Hex, sha256Hex } from "./hashing.ts";
import { Rng } from "../rng.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("md5: RFC 1321 appendix A.5 test suite", () => {
  const vectors: [string, string][] = [
    ["", "d41d8cd98f00b204e9800998ecf8427e"],
    ["a", "0cc175b9c0f1b6a831c399e269772661"],
    ["abc", "900150983cd24fb0d6963f7d28e17f72"],
    ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
    ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
    [
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
      "d174ab98d277d9f5a5611c2c9f419d9f",
    ],
    [
      "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
      "57edf4a22be3c955ac49da2e2107b67a",
    ],
  ];
  for (const [msg, want] of vectors) assertEquals(md5Hex(enc(msg)), want, msg);
});

Deno.test("md5: incremental updates in random pieces equal one-shot, across block boundaries", () => {
  const rng = new Rng(3);
  const data = new Uint8Array(10_000).map(() => rng.int(256));
  const whole = md5Hex(data);
  for (let trial = 0; trial < 5; trial++) {
    const h = new Md5();
    let i = 0;
    while (i < data.length) {
      const n = Math.min(data.length - i, rng.int(200));
      h.update(data.subarray(i, i + n));
      i += n;
    }
    assertEquals(h.hex(), whole);
  }
  // lengths around the 55/56/64-byte padding boundaries, against one million 'a' style check
  assertEquals(
    md5Hex(enc("a".repeat(55))),
    "ef1772b6dff9a122358552954ad0df65",
  );
  assertEquals(
    md5Hex(enc("a".repeat(56))),
    "3b0c8ac703f828b04c6c197006d17218",
  );
  assertEquals(
    md5Hex(enc("a".repeat(64))),
    "014842d480b571495a4a0363793f7367",
  );
});

Deno.test("sha256: FIPS 180-2 vector", async () => {
  assertEquals(
    await sha256Hex(enc("abc")),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});
