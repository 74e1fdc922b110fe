/**
 * CIFAR-10 / CIFAR-100 "binary version" archives: a gzip'd tar holding
 * fixed-size records `<label bytes><1024 R><1024 G><1024 B>` (row-major
 * planes). CIFAR-10 records have one label byte, CIFAR-100 two (coarse, fine).
 *
 * @module
 */
import { ByteReader, inflateStream } from "./bytes.ts";
import { DatasetError } from "./errors.ts";
import type { ImageSet } from "./image_set.ts";
import { readTar } from "./tar.ts";

/** Which CIFAR archive. */
export type CifarVariant = "cifar10" | "cifar100";

/** The members of each archive, per split, in the order they are concatenated. */
export const CIFAR_MEMBERS: Record<
  CifarVariant,
  { train: string[]; test: string[] }
> = {
  cifar10: {
    train: [1, 2, 3, 4, 5].map((i) =>
      `cifar-10-batches-bin/data_batch_${i}.bin`
    ),
    test: ["cifar-10-batches-bin/test_batch.bin"],
  },
  cifar100: {
    train: ["cifar-100-binary/train.bin"],
    test: ["cifar-100-binary/test.bin"],
  },
};

const PIXELS = 32 * 32 * 3;

/**
 * Converts CIFAR binary records to an {@link ImageSet} (NHWC; CIFAR-100
 * fine labels, coarse ones in `coarseLabels`).
 *
 * @example
 * ```ts
 * import { decodeCifarRecords } from "./cifar.ts";
 * const rec = new Uint8Array(1 + 3072);
 * rec[0] = 7; rec[1] = 10; rec[1 + 1024] = 20; rec[1 + 2048] = 30; // pixel (0,0) = RGB(10,20,30)
 * const s = decodeCifarRecords([rec], "cifar10", "t");
 * if (s.labels[0] !== 7 || s.images.subarray(0, 3).join() !== "10,20,30") throw new Error();
 * ```
 */
export function decodeCifarRecords(
  chunks: Uint8Array[],
  variant: CifarVariant,
  label: string,
): ImageSet {
  const lb = variant === "cifar10" ? 1 : 2;
  const rs = lb + PIXELS;
  let n = 0;
  for (const c of chunks) {
    if (c.length % rs !== 0) {
      throw new DatasetError(
        "format",
        `${label}: a ${variant} member of ${c.length} bytes is not a whole number of ${rs}-byte records`,
      );
    }
    n += c.length / rs;
  }
  const images = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  const coarse = variant === "cifar100" ? new Int32Array(n) : undefined;
  let i = 0;
  for (const c of chunks) {
    for (let r = 0; r < c.length; r += rs, i++) {
      if (coarse) {
        coarse[i] = c[r];
        labels[i] = c[r + 1];
      } else labels[i] = c[r];
      const src = r + lb;
      const dst = i * PIXELS;
      for (let p = 0; p < 1024; p++) {
        images[dst + 3 * p] = c[src + p];
        images[dst + 3 * p + 1] = c[src + 1024 + p];
        images[dst + 3 * p + 2] = c[src + 2048 + p];
      }
    }
  }
  const set: ImageSet = {
    images,
    labels,
    n,
    height: 32,
    width: 32,
    channels: 3,
  };
  if (coarse) set.coarseLabels = coarse;
  return set;
}

/**
 * Reads one split from a CIFAR binary `.tar.gz` stream. Throws `format` if
 * a member is missing or malformed, `truncated` if the archive ends early.
 *
 * @example
 * ```ts
 * import { fabricateCifarTarGz } from "./fixture_files.ts";
 * import { readCifarTarGz } from "./cifar.ts";
 * import { bytesStream } from "./bytes.ts";
 * const { bytes, test } = await fabricateCifarTarGz("cifar10", { perBatch: 2, seed: 1 });
 * const s = await readCifarTarGz(bytesStream(bytes), "cifar10", "test", "c.tar.gz");
 * if (s.n !== test.n || s.labels.join() !== test.labels.join()) throw new Error();
 * ```
 */
export async function readCifarTarGz(
  stream: ReadableStream<Uint8Array>,
  variant: CifarVariant,
  split: "train" | "test",
  label: string,
): Promise<ImageSet> {
  const want = CIFAR_MEMBERS[variant][split];
  const got = new Map<string, Uint8Array>();
  const reader = new ByteReader(inflateStream(stream, "gzip", label), label);
  try {
    await readTar(reader, async (entry, r) => {
      if (want.includes(entry.name)) {
        got.set(entry.name, await r.readExact(entry.size));
      }
    });
  } catch (e) {
    await reader.cancel();
    throw e;
  }
  const missing = want.filter((m) => !got.has(m));
  if (missing.length) {
    throw new DatasetError(
      "format",
      `${label} is not the ${variant} binary archive: missing ${
        missing.join(", ")
      }`,
    );
  }
  return decodeCifarRecords(want.map((m) => got.get(m)!), variant, label);
}
