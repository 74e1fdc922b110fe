import {
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertThrows,
} from "@std/assert";
import { ByteReader, gunzip, gzip } from "./bytes.ts";
import { decodeCifarRecords, readCifarTarGz } from "./cifar.ts";
import { DatasetError } from "./errors.ts";
import {
  fabricateCifarTarGz,
  fabricateFashionIdxGz,
  fabricateSvhnMat,
} from "./fixture_files.ts";
import { encodeIdx, parseIdx } from "./idx.ts";
import { collectNumeric, readMat } from "./mat.ts";
import { readSvhnCount, readSvhnMat } from "./svhn.ts";
import { readTar, writeTar } from "./tar.ts";

const fixture = (name: string) =>
  Deno.readFile(new URL(`./testdata/${name}`, import.meta.url));
const stream = (b: Uint8Array) =>
  new Blob([b as Uint8Array<ArrayBuffer>]).stream();

async function expectCode(
  p: Promise<unknown>,
  code: string,
): Promise<DatasetError> {
  const e = await assertRejects(() => p);
  assertInstanceOf(e, DatasetError);
  assertEquals((e as DatasetError).code, code, (e as Error).message);
  return e as DatasetError;
}

Deno.test("svhn: scipy-written MAT v5 (compressed and plain) decode to the closed-form pixels, label 10 -> 0", async () => {
  for (const f of ["svhn_scipy_compressed.mat", "svhn_scipy_plain.mat"]) {
    const s = await readSvhnMat(stream(await fixture(f)), f);
    assertEquals([s.n, s.height, s.width, s.channels], [3, 32, 32, 3]);
    assertEquals(Array.from(s.labels), [0, 1, 5]);
    let bad = 0;
    for (let n = 0; n < 3; n++) {
      for (let h = 0; h < 32; h++) {
        for (let w = 0; w < 32; w++) {
          for (let c = 0; c < 3; c++) {
            const want = (7 * h + 3 * w + 50 * c + 11 * n) % 256;
            if (s.images[((n * 32 + h) * 32 + w) * 3 + c] !== want) bad++;
          }
        }
      }
    }
    assertEquals(bad, 0, f);
    assertEquals(await readSvhnCount(stream(await fixture(f)), f), 3);
  }
});

Deno.test("cifar: Python tarfile (GNU format) archive decodes to the closed-form pixels and labels", async () => {
  const bytes = await fixture("cifar10_tarfile.tar.gz");
  for (const split of ["train", "test"] as const) {
    const s = await readCifarTarGz(stream(bytes), "cifar10", split, "c.tgz");
    const members = split === "train" ? [0, 1, 2, 3, 4] : [5];
    assertEquals(s.n, members.length * 2);
    let k = 0, bad = 0;
    for (const m of members) {
      for (let i = 0; i < 2; i++, k++) {
        assertEquals(s.labels[k], (3 * i + m) % 10);
        for (let h = 0; h < 32; h++) {
          for (let w = 0; w < 32; w++) {
            for (let c = 0; c < 3; c++) {
              const want = (5 * h + 9 * w + 40 * c + 17 * i + 60 * m) % 256;
              if (s.images[k * 3072 + (h * 32 + w) * 3 + c] !== want) bad++;
            }
          }
        }
      }
    }
    assertEquals(bad, 0);
  }
});

Deno.test("cifar-100 records: coarse byte then fine byte; CHW planes become HWC", () => {
  const rec = new Uint8Array(2 + 3072);
  rec[0] = 3; // coarse
  rec[1] = 42; // fine
  // pixel (h=1, w=2): plane index 1*32+2 = 34
  rec[2 + 34] = 11;
  rec[2 + 1024 + 34] = 22;
  rec[2 + 2048 + 34] = 33;
  const s = decodeCifarRecords([rec], "cifar100", "r");
  assertEquals(s.labels[0], 42);
  assertEquals(s.coarseLabels![0], 3);
  const p = (1 * 32 + 2) * 3;
  assertEquals(Array.from(s.images.subarray(p, p + 3)), [11, 22, 33]);
  assertThrows(
    () => decodeCifarRecords([rec.subarray(1)], "cifar100", "r"),
    DatasetError,
    "not a whole number",
  );
});

Deno.test("fabricated files round-trip through the readers (CIFAR-10/100 tar.gz, SVHN .mat, Fashion IDX gz)", async () => {
  for (const v of ["cifar10", "cifar100"] as const) {
    const f = await fabricateCifarTarGz(v, { perBatch: 3, seed: 4 });
    const tr = await readCifarTarGz(stream(f.bytes), v, "train", "x");
    assertEquals(tr.images, f.train.images);
    assertEquals(tr.labels, f.train.labels);
    if (v === "cifar100") assertEquals(tr.coarseLabels, f.train.coarseLabels);
    const te = await readCifarTarGz(stream(f.bytes), v, "test", "x");
    assertEquals(te.images, f.test.images);
  }
  const sv = await fabricateSvhnMat({ n: 7, seed: 3 });
  const s = await readSvhnMat(stream(sv.bytes), "x.mat");
  assertEquals(s.images, sv.set.images);
  assertEquals(s.labels, sv.set.labels);
  // into a shared buffer at an offset
  const images = new Uint8Array(10 * 3072), labels = new Int32Array(10);
  await readSvhnMat(stream(sv.bytes), "x.mat", { images, labels, offset: 2 });
  assertEquals(images.subarray(2 * 3072, 9 * 3072), sv.set.images);
  assertEquals(labels.subarray(2, 9), sv.set.labels);
  assertEquals(images[0], 0);
  const fm = await fabricateFashionIdxGz({ nTrain: 5, nTest: 3, seed: 1 });
  const img = parseIdx(
    await gunzip(fm.files["train-images-idx3-ubyte.gz"], "i"),
    "i",
  );
  assertEquals(img.dims, [5, 28, 28]);
  assertEquals(img.data, fm.train.images);
});

Deno.test("idx: hand-built header; truncated and wrong-format files are named", () => {
  const b = new Uint8Array([
    0,
    0,
    8,
    2,
    0,
    0,
    0,
    2,
    0,
    0,
    0,
    3,
    1,
    2,
    3,
    4,
    5,
    6,
  ]);
  const a = parseIdx(b, "h");
  assertEquals(a.dims, [2, 3]);
  assertEquals(Array.from(a.data), [1, 2, 3, 4, 5, 6]);
  assertEquals(encodeIdx([2, 3], a.data), b);
  const e1 = assertThrows(
    () => parseIdx(b.subarray(0, 15), "t.idx"),
    DatasetError,
  );
  assertEquals(e1.code, "truncated");
  const bad = b.slice();
  bad[2] = 0x0d; // float type
  const e2 = assertThrows(() => parseIdx(bad, "f.idx"), DatasetError);
  assertEquals(e2.code, "format");
});

Deno.test("tar: ustar header checksum and names; truncated archive and non-tar input", async () => {
  const data = new Uint8Array(700).map((_, i) => i % 251);
  const t = writeTar([{ name: "a/b.bin", data }, {
    name: "c",
    data: new Uint8Array(1),
  }]);
  // header fields by hand: size in octal at 124
  assertEquals(new TextDecoder().decode(t.subarray(124, 135)), "00000001274");
  const names: string[] = [];
  await readTar(ByteReader.fromBytes(t, "t"), async (e, r) => {
    names.push(e.name);
    if (e.name === "a/b.bin") assertEquals(await r.readExact(e.size), data);
  });
  assertEquals(names, ["a/b.bin", "c"]);
  await expectCode(
    readTar(
      ByteReader.fromBytes(t.subarray(0, 1024 + 512), "t"),
      async () => {},
    ),
    "truncated",
  );
  await expectCode(
    readTar(
      ByteReader.fromBytes(new Uint8Array(600).fill(65), "junk"),
      async () => {},
    ),
    "format",
  );
});

Deno.test("cifar/svhn: truncated archives and wrong formats give truncated / format errors", async () => {
  const f = await fabricateCifarTarGz("cifar10", { perBatch: 2, seed: 1 });
  await expectCode(
    readCifarTarGz(
      stream(f.bytes.subarray(0, f.bytes.length >> 1)),
      "cifar10",
      "train",
      "c.tgz",
    ),
    "truncated",
  );
  await expectCode(
    readCifarTarGz(
      stream(new TextEncoder().encode("<html>404</html>")),
      "cifar10",
      "train",
      "c.tgz",
    ),
    "format",
  );
  // a gzip'd tar that lacks the members
  const other = await gzip(writeTar([{ name: "x", data: new Uint8Array(3) }]));
  const e = await expectCode(
    readCifarTarGz(stream(other), "cifar10", "test", "o.tgz"),
    "format",
  );
  assertEquals(e.message.includes("test_batch.bin"), true);
  const sv = await fabricateSvhnMat({ n: 5, seed: 1 });
  await expectCode(
    readSvhnMat(stream(sv.bytes.subarray(0, sv.bytes.length - 40)), "s.mat"),
    "truncated",
  );
  await expectCode(
    readSvhnMat(stream(sv.bytes.subarray(0, 100)), "s.mat"),
    "format",
  );
  const hdf = new Uint8Array(200);
  hdf.set(new TextEncoder().encode("\x89HDF\r\n"));
  const e2 = await expectCode(readSvhnMat(stream(hdf), "h.mat"), "format");
  assertEquals(e2.message.includes("v7.3"), true);
});

Deno.test("mat: hand-assembled uncompressed element with small-format name and int16 data", async () => {
  const head = new Uint8Array(128).fill(32);
  head.set(new TextEncoder().encode("MATLAB 5.0 MAT-file"));
  head[124] = 0;
  head[125] = 1;
  head[126] = 73; // 'I'
  head[127] = 77; // 'M'
  const words = [
    14,
    56, // miMATRIX, 56 bytes
    6,
    8,
    10,
    0, // flags: miUINT32, 8 bytes, class mxINT16 = 10
    5,
    8,
    2,
    1, // dims: miINT32, 8 bytes, [2, 1]
    (1 << 16) | 1,
    0x61, // small element: miINT8, 1 byte, "a"
    3,
    4, // real part: miINT16, 4 bytes
  ];
  const el = new Uint8Array(8 + 56);
  const dv = new DataView(el.buffer);
  words.forEach((v, i) => dv.setUint32(4 * i, v, true));
  dv.setInt16(56, -3, true);
  dv.setInt16(58, 300, true);
  const file = new Uint8Array(128 + el.length);
  file.set(head);
  file.set(el, 128);
  let got: number[] = [];
  await readMat(stream(file), "hand.mat", {
    a: async (info, data) => {
      assertEquals(info.dims, [2, 1]);
      got = Array.from(await collectNumeric(info, data));
    },
  });
  assertEquals(got, [-3, 300]);
});

Deno.test("readers close their files when they stop early or fail (resource sanitizer)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sv = await fabricateSvhnMat({ n: 300, seed: 1 });
    await Deno.writeFile(`${dir}/a.mat`, sv.bytes);
    await Deno.writeFile(
      `${dir}/bad.mat`,
      sv.bytes.subarray(0, sv.bytes.length - 100),
    );
    const { openFileStream } = await import("./bytes.ts");
    assertEquals(
      await readSvhnCount(await openFileStream(`${dir}/a.mat`), "a.mat"),
      300,
    );
    await expectCode(
      readSvhnMat(await openFileStream(`${dir}/bad.mat`), "bad.mat"),
      "truncated",
    );
    const f = await fabricateCifarTarGz("cifar10", { perBatch: 50, seed: 1 });
    await Deno.writeFile(
      `${dir}/c.tgz`,
      f.bytes.subarray(0, f.bytes.length >> 1),
    );
    await expectCode(
      readCifarTarGz(
        await openFileStream(`${dir}/c.tgz`),
        "cifar10",
        "train",
        "c.tgz",
      ),
      "truncated",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
