/**
 * Small image sets written in each real on-disk format (CIFAR binary tar.gz,
 * SVHN MAT v5 with compressed elements, Fashion-MNIST IDX gz), with the
 * official file names, for the tests and the smoke preset. The pixels come
 * from {@link syntheticImages}, so they are known exactly.
 *
 * @module
 */
import { gzip } from "./bytes.ts";
import { CIFAR_MEMBERS, type CifarVariant } from "./cifar.ts";
import { encodeIdx } from "./idx.ts";
import { concatImageSets, type ImageSet } from "./image_set.ts";
import { MI, MX, writeMat } from "./mat.ts";
import { md5Hex } from "./hashing.ts";
import { syntheticImages } from "./synthetic_images.ts";
import { writeTar } from "./tar.ts";
import { writeFileAtomic } from "../atomic_write.ts";

function cifarRecords(set: ImageSet, variant: CifarVariant): Uint8Array {
  const lb = variant === "cifar10" ? 1 : 2;
  const rs = lb + 3072;
  const out = new Uint8Array(set.n * rs);
  for (let i = 0; i < set.n; i++) {
    const r = i * rs;
    if (variant === "cifar100") {
      out[r] = set.coarseLabels![i];
      out[r + 1] = set.labels[i];
    } else out[r] = set.labels[i];
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) {
        out[r + lb + 1024 * c + p] = set.images[i * 3072 + 3 * p + c];
      }
    }
  }
  return out;
}

function withCoarse(set: ImageSet, variant: CifarVariant): ImageSet {
  if (variant === "cifar100") {
    set.coarseLabels = set.labels.map((l) => Math.floor(l / 5));
  }
  return set;
}

/**
 * A CIFAR binary `.tar.gz` (same member names and record layout as the
 * official archive; CIFAR-10: 5 train batches of `perBatch` images, CIFAR-100:
 * one train.bin of `5 * perBatch`; test: `perBatch`).
 *
 * @example
 * ```ts
 * import { fabricateCifarTarGz } from "./fixture_files.ts";
 * const f = await fabricateCifarTarGz("cifar100", { perBatch: 2, seed: 0 });
 * if (f.train.n !== 10 || f.test.n !== 2 || f.bytes[0] !== 0x1f) throw new Error();
 * ```
 */
export async function fabricateCifarTarGz(
  variant: CifarVariant,
  opts: { perBatch: number; seed: number },
): Promise<{ bytes: Uint8Array; train: ImageSet; test: ImageSet }> {
  const C = variant === "cifar10" ? 10 : 100;
  const batches = [0, 1, 2, 3, 4].map((b) =>
    withCoarse(
      syntheticImages({
        n: opts.perBatch,
        seed: opts.seed * 100 + b,
        numClasses: C,
      }),
      variant,
    )
  );
  const test = withCoarse(
    syntheticImages({
      n: opts.perBatch,
      seed: opts.seed * 100 + 50,
      numClasses: C,
    }),
    variant,
  );
  const train = concatImageSets(batches);
  if (variant === "cifar100") {
    train.coarseLabels = train.labels.map((l) => Math.floor(l / 5));
  }
  const m = CIFAR_MEMBERS[variant];
  const enc = new TextEncoder();
  const dir = m.test[0].split("/")[0];
  const files = variant === "cifar10"
    ? [
      { name: `${dir}/batches.meta.txt`, data: enc.encode("airplane\n") },
      ...m.train.map((name, b) => ({
        name,
        data: cifarRecords(batches[b], variant),
      })),
      { name: m.test[0], data: cifarRecords(test, variant) },
      { name: `${dir}/readme.html`, data: enc.encode("<html></html>\n") },
    ]
    : [
      { name: `${dir}/fine_label_names.txt`, data: enc.encode("apple\n") },
      { name: m.train[0], data: cifarRecords(train, variant) },
      { name: m.test[0], data: cifarRecords(test, variant) },
    ];
  return { bytes: await gzip(writeTar(files)), train, test };
}

/**
 * An SVHN format-2 `.mat` (v5, compressed elements; `y` stored as MATLAB
 * stores integer doubles, uint8 data in a double array; digit 0 as label 10).
 *
 * @example
 * ```ts
 * import { fabricateSvhnMat } from "./fixture_files.ts";
 * const f = await fabricateSvhnMat({ n: 3, seed: 0 });
 * if (f.set.n !== 3 || f.bytes.length < 128) throw new Error();
 * ```
 */
export async function fabricateSvhnMat(
  opts: { n: number; seed: number; compress?: boolean },
): Promise<{ bytes: Uint8Array; set: ImageSet }> {
  const set = syntheticImages({ n: opts.n, seed: opts.seed });
  const X = new Uint8Array(set.n * 3072);
  for (let i = 0; i < set.n; i++) {
    for (let h = 0; h < 32; h++) {
      for (let w = 0; w < 32; w++) {
        for (let c = 0; c < 3; c++) {
          X[i * 3072 + 1024 * c + 32 * w + h] =
            set.images[i * 3072 + (h * 32 + w) * 3 + c];
        }
      }
    }
  }
  const y = Float64Array.from(set.labels, (l) => (l === 0 ? 10 : l));
  const bytes = await writeMat([
    { name: "X", mxClass: MX.UINT8, dims: [32, 32, 3, set.n], data: X },
    {
      name: "y",
      mxClass: MX.DOUBLE,
      dims: [set.n, 1],
      data: y,
      storeAs: MI.UINT8,
    },
  ], { compress: opts.compress ?? true });
  return { bytes, set };
}

/**
 * The four Fashion-MNIST IDX `.gz` files (28x28x1).
 *
 * @example
 * ```ts
 * import { fabricateFashionIdxGz } from "./fixture_files.ts";
 * const f = await fabricateFashionIdxGz({ nTrain: 4, nTest: 2, seed: 0 });
 * if (Object.keys(f.files).length !== 4 || f.test.n !== 2) throw new Error();
 * ```
 */
export async function fabricateFashionIdxGz(
  opts: { nTrain: number; nTest: number; seed: number },
): Promise<
  { files: Record<string, Uint8Array>; train: ImageSet; test: ImageSet }
> {
  const mk = (n: number, s: number) =>
    syntheticImages({ n, seed: s, height: 28, width: 28, channels: 1 });
  const train = mk(opts.nTrain, opts.seed * 100 + 1);
  const test = mk(opts.nTest, opts.seed * 100 + 2);
  const lab = (s: ImageSet) => Uint8Array.from(s.labels);
  return {
    files: {
      "train-images-idx3-ubyte.gz": await gzip(
        encodeIdx([train.n, 28, 28], train.images),
      ),
      "train-labels-idx1-ubyte.gz": await gzip(
        encodeIdx([train.n], lab(train)),
      ),
      "t10k-images-idx3-ubyte.gz": await gzip(
        encodeIdx([test.n, 28, 28], test.images),
      ),
      "t10k-labels-idx1-ubyte.gz": await gzip(encodeIdx([test.n], lab(test))),
    },
    train,
    test,
  };
}

/** Fabricated files of one dataset: name -> bytes, and the expected contents. */
export interface FabricatedDataset {
  /** Official file name -> file bytes. */
  files: Record<string, Uint8Array>;
  /** Official file name -> md5 of the bytes (to pass as checksum overrides). */
  md5: Record<string, string>;
  train: ImageSet;
  test: ImageSet;
  /** SVHN only: the `extra` split. */
  extra?: ImageSet;
}

/**
 * Fabricates a small copy of a real dataset's files (official names and
 * formats) and, with `dir`, writes them there (atomically).
 *
 * @example
 * ```ts
 * import { fabricateDataset } from "./fixture_files.ts";
 * const f = await fabricateDataset("svhn", { n: 4, seed: 0 });
 * if (!("extra_32x32.mat" in f.files) || f.train.n !== 4) throw new Error();
 * ```
 */
export async function fabricateDataset(
  name: "cifar10" | "cifar100" | "svhn" | "fashion-mnist",
  opts: { n: number; seed: number; dir?: string },
): Promise<FabricatedDataset> {
  let out: Omit<FabricatedDataset, "md5">;
  if (name === "cifar10" || name === "cifar100") {
    const f = await fabricateCifarTarGz(name, {
      perBatch: Math.max(1, Math.ceil(opts.n / 5)),
      seed: opts.seed,
    });
    out = {
      files: {
        [
          name === "cifar10"
            ? "cifar-10-binary.tar.gz"
            : "cifar-100-binary.tar.gz"
        ]: f.bytes,
      },
      train: f.train,
      test: f.test,
    };
  } else if (name === "svhn") {
    const tr = await fabricateSvhnMat({ n: opts.n, seed: opts.seed * 10 + 1 });
    const te = await fabricateSvhnMat({
      n: Math.max(1, opts.n >> 1),
      seed: opts.seed * 10 + 2,
    });
    const ex = await fabricateSvhnMat({ n: opts.n, seed: opts.seed * 10 + 3 });
    out = {
      files: {
        "train_32x32.mat": tr.bytes,
        "test_32x32.mat": te.bytes,
        "extra_32x32.mat": ex.bytes,
      },
      train: tr.set,
      test: te.set,
      extra: ex.set,
    };
  } else if (name === "fashion-mnist") {
    const f = await fabricateFashionIdxGz({
      nTrain: opts.n,
      nTest: Math.max(1, opts.n >> 1),
      seed: opts.seed,
    });
    out = f;
  } else {
    throw new RangeError(`fabricateDataset: unknown dataset "${name}"`);
  }
  const md5: Record<string, string> = {};
  for (const [f, b] of Object.entries(out.files)) md5[f] = md5Hex(b);
  if (opts.dir) {
    await Deno.mkdir(opts.dir, { recursive: true });
    for (const [f, b] of Object.entries(out.files)) {
      await writeFileAtomic(`${opts.dir}/${f}`, b);
    }
  }
  return { ...out, md5 };
}
