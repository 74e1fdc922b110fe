/**
 * The paper's datasets (CIFAR-10, CIFAR-100, SVHN, Fashion-MNIST) and the
 * in-memory `synthetic-images` set: metadata for the runner, official
 * sources with pinned checksums, the cache, local sources, and
 * {@link loadDataset}.
 *
 * Where files come from, per file, in order:
 * 1. the cache, `<cacheDir>/<dataset>/<file>` (cacheDir: option, else env
 *    `POF_DATA_DIR`, else `./data`), verified once and remembered in
 *    `<cacheDir>/<dataset>/.verified.json` (keyed by path, size, mtime);
 * 2. local source folders that already hold the original files
 *    (`sourceDirs` option, env `POF_DATA_SOURCES` as a `:`-list, and for
 *    Fashion-MNIST Debian's `/usr/share/datasets/fashion-mnist`), used in
 *    place after verification;
 * 3. the official URLs (unless `download: false`).
 *
 * Checksums: the MD5s torchvision publishes (SVHN, Fashion-MNIST) and the
 * CIFAR authors publish for the binary archives. Debian recompresses the
 * Fashion-MNIST `.gz` files, so for those the SHA-256 of the decompressed
 * IDX content is pinned as well (measured from the Debian files, whose
 * source is the upstream repository at commit 55506a9) and accepted.
 *
 * @module
 */
import { openFileStream, readAll } from "./bytes.ts";
import { readCifarTarGz } from "./cifar.ts";
import { downloadFile, type DownloadProgress, md5File } from "./download.ts";
import { DatasetError } from "./errors.ts";
import { parseIdx } from "./idx.ts";
import { type ImageSet, validateImageSet } from "./image_set.ts";
import { sha256Hex } from "./hashing.ts";
import { readSvhnCount, readSvhnMat } from "./svhn.ts";
import { syntheticImages } from "./synthetic_images.ts";
import { writeFileAtomic } from "../atomic_write.ts";

/** Dataset names accepted by {@link loadDataset}. */
export const DATASET_NAMES = [
  "cifar10",
  "cifar100",
  "svhn",
  "fashion-mnist",
  "synthetic-images",
] as const;
/** A dataset name. */
export type DatasetName = typeof DATASET_NAMES[number];

/** One official file. */
export interface RemoteFile {
  name: string;
  /** Official URL first, then mirrors. */
  urls: string[];
  /** MD5 of the file as published. */
  md5: string;
  /** Size in bytes, where published. */
  size?: number;
  /** For `.gz` files: SHA-256 of the decompressed content (accepts recompressed copies). */
  contentSha256?: string;
  /** For information: MD5 of Debian's recompressed copy. */
  debianMd5?: string;
}

/** Training augmentation defaults of a dataset (see `augment.ts`). */
export interface AugmentDefaults {
  /** Zero padding before the random crop (pixels). */
  pad: number;
  /** Horizontal flip with p = 0.5. */
  flip: boolean;
  /** Cutout square side (0 = none). */
  cutout: number;
}

/** Everything the runner needs to know about a dataset. */
export interface DatasetInfo {
  name: DatasetName;
  numClasses: number;
  height: number;
  width: number;
  channels: number;
  /** Per-channel mean / std of pixels scaled to [0, 1], over the training split. */
  mean: number[];
  std: number[];
  trainSize: number;
  testSize: number;
  /** SVHN: size of the `extra` split (train + extra = 604,388). */
  extraSize?: number;
  augment: AugmentDefaults;
  files: RemoteFile[];
  /** Folders checked for the original files before downloading. */
  localDirs: string[];
  /** Class names (index = label). */
  classNames?: string[];
}

const TORONTO = "https://www.cs.toronto.edu/~kriz/";
const UFLDL = "http://ufldl.stanford.edu/housenumbers/";
const FASHION = [
  "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
  "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
];

/** Debian's `dataset-fashion-mnist` install folder. */
export const DEBIAN_FASHION_DIR = "/usr/share/datasets/fashion-mnist";

/** Metadata of every dataset. */
export const DATASETS: Record<DatasetName, DatasetInfo> = {
  cifar10: {
    name: "cifar10",
    numClasses: 10,
    height: 32,
    width: 32,
    channels: 3,
    mean: [0.4914, 0.4822, 0.4465],
    std: [0.2023, 0.1994, 0.2010],
    trainSize: 50_000,
    testSize: 10_000,
    augment: { pad: 4, flip: true, cutout: 16 },
    files: [{
      name: "cifar-10-binary.tar.gz",
      urls: [TORONTO + "cifar-10-binary.tar.gz"],
      md5: "c32a1d4ab5d03f1284b67883e8d87530",
      size: 170_052_171,
    }],
    localDirs: [],
    classNames: [
      "airplane",
      "automobile",
      "bird",
      "cat",
      "deer",
      "dog",
      "frog",
      "horse",
      "ship",
      "truck",
    ],
  },
  cifar100: {
    name: "cifar100",
    numClasses: 100,
    height: 32,
    width: 32,
    channels: 3,
    mean: [0.5071, 0.4867, 0.4408],
    std: [0.2675, 0.2565, 0.2761],
    trainSize: 50_000,
    testSize: 10_000,
    augment: { pad: 4, flip: true, cutout: 16 },
    files: [{
      name: "cifar-100-binary.tar.gz",
      urls: [TORONTO + "cifar-100-binary.tar.gz"],
      md5: "03b5dce01913d631647c71ecec9e9cb8",
      size: 168_513_733,
    }],
    localDirs: [],
  },
  svhn: {
    name: "svhn",
    numClasses: 10,
    height: 32,
    width: 32,
    channels: 3,
    mean: [0.4377, 0.4438, 0.4728],
    std: [0.1980, 0.2010, 0.1970],
    trainSize: 73_257,
    testSize: 26_032,
    extraSize: 531_131,
    augment: { pad: 4, flip: true, cutout: 0 },
    files: [
      {
        name: "train_32x32.mat",
        urls: [UFLDL + "train_32x32.mat"],
        md5: "e26dedcc434d2e4c54c9b2d4a06d8373",
      },
      {
        name: "test_32x32.mat",
        urls: [UFLDL + "test_32x32.mat"],
        md5: "eb5a983be6a315427106f1b164d9cef3",
      },
      {
        name: "extra_32x32.mat",
        urls: [UFLDL + "extra_32x32.mat"],
        md5: "a93ce644f1a588dc4d68dda5feec44a7",
      },
    ],
    localDirs: [],
  },
  "fashion-mnist": {
    name: "fashion-mnist",
    numClasses: 10,
    height: 28,
    width: 28,
    channels: 1,
    mean: [0.2859],
    std: [0.3530],
    trainSize: 60_000,
    testSize: 10_000,
    augment: { pad: 4, flip: true, cutout: 0 },
    files: [
      {
        name: "train-images-idx3-ubyte.gz",
        urls: FASHION.map((u) => u + "train-images-idx3-ubyte.gz"),
        md5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        contentSha256:
          "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        debianMd5: "cf8536b0aa1a6ac5fa3f23001093305c",
      },
      {
        name: "train-labels-idx1-ubyte.gz",
        urls: FASHION.map((u) => u + "train-labels-idx1-ubyte.gz"),
        md5: "25c81989df183df01b3e8a0aad5dffbe",
        contentSha256:
          "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        debianMd5: "10bea18fdb374794d4bb42e356e600c9",
      },
      {
        name: "t10k-images-idx3-ubyte.gz",
        urls: FASHION.map((u) => u + "t10k-images-idx3-ubyte.gz"),
        md5: "bef4ecab320f06d8554ea6380940ec79",
        contentSha256:
          "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        debianMd5: "f78720b4224f21cce2f2ccf2d7a94c9a",
      },
      {
        name: "t10k-labels-idx1-ubyte.gz",
        urls: FASHION.map((u) => u + "t10k-labels-idx1-ubyte.gz"),
        md5: "bb300cfdad3c16e7a12a480ee83cd310",
        contentSha256:
          "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        debianMd5: "0d30e22e447f3c33dab9ed536400ac01",
      },
    ],
    localDirs: [DEBIAN_FASHION_DIR],
    classNames: [
      "T-shirt/top",
      "Trouser",
      "Pullover",
      "Dress",
      "Coat",
      "Sandal",
      "Shirt",
      "Sneaker",
      "Bag",
      "Ankle boot",
    ],
  },
  "synthetic-images": {
    name: "synthetic-images",
    numClasses: 10,
    height: 32,
    width: 32,
    channels: 3,
    mean: [0.5, 0.5, 0.5],
    std: [0.25, 0.25, 0.25],
    trainSize: 2_000,
    testSize: 500,
    augment: { pad: 4, flip: false, cutout: 0 },
    files: [],
    localDirs: [],
  },
};

const ALIASES: Record<string, DatasetName> = {
  "cifar-10": "cifar10",
  "cifar-100": "cifar100",
  fashion: "fashion-mnist",
  fashionmnist: "fashion-mnist",
  fashion_mnist: "fashion-mnist",
  "synthetic": "synthetic-images",
};

/**
 * A dataset's metadata by name (aliases like `cifar-10`, `fashion` accepted).
 *
 * @example
 * ```ts
 * import { datasetInfo } from "./datasets.ts";
 * const d = datasetInfo("cifar-10");
 * if (d.numClasses !== 10 || d.mean[0] !== 0.4914) throw new Error();
 * ```
 */
export function datasetInfo(name: string): DatasetInfo {
  const key =
    (ALIASES[name.toLowerCase()] ?? name.toLowerCase()) as DatasetName;
  const info = DATASETS[key];
  if (!info) {
    throw new DatasetError(
      "usage",
      `unknown dataset "${name}"; valid: ${DATASET_NAMES.join(", ")}`,
    );
  }
  return info;
}

/**
 * The cache folder: `explicit` if given, else env `POF_DATA_DIR`, else `./data`.
 *
 * @example
 * ```ts
 * import { resolveCacheDir } from "./datasets.ts";
 * if (resolveCacheDir("/tmp/x") !== "/tmp/x") throw new Error();
 * ```
 */
export function resolveCacheDir(explicit?: string): string {
  if (explicit) return explicit;
  let env: string | undefined;
  try {
    env = Deno.env.get("POF_DATA_DIR");
  } catch { /* no env permission */ }
  return env && env.length ? env : "./data";
}

function envSources(): string[] {
  try {
    return (Deno.env.get("POF_DATA_SOURCES") ?? "").split(":").filter((s) => s);
  } catch {
    return [];
  }
}

/** Options shared by {@link ensureDatasetFiles} and {@link loadDataset}. */
export interface FetchOptions {
  /** Cache folder (default: env POF_DATA_DIR, else ./data). */
  cacheDir?: string;
  /** Folders holding original files, checked before downloading. */
  sourceDirs?: string[];
  /** Also look in the dataset's default local folders (Debian); default true. */
  useDefaultSources?: boolean;
  /** Allow downloads (default true). */
  download?: boolean;
  /** Replace the official URLs: file URL = base + file name (tests, mirrors). */
  baseUrls?: string[];
  /** Replace pinned MD5s per file name (fabricated data). */
  checksums?: Record<string, string>;
  /** Download progress (e.g. `stderrProgress()`). */
  onProgress?: (p: DownloadProgress) => void;
  /** Only these files (default: all the dataset's files). */
  only?: string[];
  /** The fetch to use (tests). */
  fetch?: typeof fetch;
}

/** Where one file was found. */
export interface ResolvedFile {
  name: string;
  path: string;
  /** `cache`, `local` (a source folder, used in place) or `download`. */
  origin: "cache" | "local" | "download";
  bytes: number;
  /** What was verified: `md5 <hex>` or `content-sha256 <hex>`. */
  verified: string;
}

interface VerifiedEntry {
  size: number;
  mtime: number;
  verified: string;
}

async function readVerified(
  dir: string,
): Promise<Record<string, VerifiedEntry>> {
  try {
    return JSON.parse(await Deno.readTextFile(`${dir}/.verified.json`));
  } catch {
    return {};
  }
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    const s = await Deno.stat(path);
    return s.isFile ? s : null;
  } catch {
    return null;
  }
}

/** Verifies a file against its pinned checksums; returns what matched, or null. */
async function verifyFile(
  path: string,
  file: RemoteFile,
  md5: string,
  allowContent: boolean,
): Promise<string | null> {
  const got = await md5File(path);
  if (got === md5.toLowerCase()) return `md5 ${got}`;
  if (allowContent && file.contentSha256) {
    const raw = await readAll(await openFileStream(path, { gunzipGz: true }))
      .catch(() => null);
    if (raw && (await sha256Hex(raw)) === file.contentSha256) {
      return `content-sha256 ${file.contentSha256}`;
    }
  }
  return null;
}

/**
 * Makes sure each file of a dataset is available and verified (cache, then
 * local sources, then download); returns where each one is.
 *
 * @example
 * ```ts
 * import { ensureDatasetFiles } from "./datasets.ts";
 * import { fabricateDataset } from "./fixture_files.ts";
 * const src = await Deno.makeTempDir(), cache = await Deno.makeTempDir();
 * const fab = await fabricateDataset("cifar10", { n: 5, seed: 0, dir: src });
 * const files = await ensureDatasetFiles("cifar10", { cacheDir: cache, sourceDirs: [src],
 *   checksums: fab.md5, download: false });
 * if (files[0].origin !== "local") throw new Error(files[0].origin);
 * await Deno.remove(src, { recursive: true }); await Deno.remove(cache, { recursive: true });
 * ```
 */
export async function ensureDatasetFiles(
  name: string,
  opts: FetchOptions = {},
): Promise<ResolvedFile[]> {
  const info = datasetInfo(name);
  const cacheRoot = resolveCacheDir(opts.cacheDir);
  const dir = `${cacheRoot}/${info.name}`;
  const sources = [
    ...(opts.sourceDirs ?? []),
    ...envSources(),
    ...((opts.useDefaultSources ?? true) ? info.localDirs : []),
  ];
  const files = info.files.filter((f) =>
    !opts.only || opts.only.includes(f.name)
  );
  const verified = await readVerified(dir);
  let dirty = false;
  const out: ResolvedFile[] = [];
  const problems: string[] = [];
  for (const file of files) {
    const md5 = opts.checksums?.[file.name] ?? file.md5;
    const allowContent = !opts.checksums?.[file.name];
    const candidates: { path: string; origin: "cache" | "local" }[] = [
      { path: `${dir}/${file.name}`, origin: "cache" },
      ...sources.map((s) => ({
        path: `${s.replace(/\/+$/, "")}/${file.name}`,
        origin: "local" as const,
      })),
    ];
    let found: ResolvedFile | null = null;
    for (const c of candidates) {
      const st = await statOrNull(c.path);
      if (!st) continue;
      const key = await Deno.realPath(c.path);
      const mtime = st.mtime?.getTime() ?? 0;
      const prev = verified[key];
      let ok: string | null = null;
      if (
        prev && prev.size === st.size && prev.mtime === mtime &&
        (prev.verified === `md5 ${md5.toLowerCase()}` ||
          (allowContent &&
            prev.verified === `content-sha256 ${file.contentSha256}`))
      ) ok = prev.verified;
      else {
        ok = await verifyFile(c.path, file, md5, allowContent);
        if (ok) {
          verified[key] = { size: st.size, mtime, verified: ok };
          dirty = true;
        }
      }
      if (ok) {
        found = {
          name: file.name,
          path: c.path,
          origin: c.origin,
          bytes: st.size,
          verified: ok,
        };
        break;
      }
      if (c.origin === "cache") {
        // a corrupt cache file: remove it so that it is fetched again
        await Deno.remove(c.path).catch(() => {});
        problems.push(`cached ${c.path} failed its checksum and was removed`);
      } else {
        problems.push(`${c.path} does not match the pinned checksum`);
      }
    }
    if (!found && (opts.download ?? true)) {
      const urls = opts.baseUrls
        ? opts.baseUrls.map((b) => b + file.name)
        : file.urls;
      const errors: DatasetError[] = [];
      for (const url of urls) {
        try {
          const r = await downloadFile(url, `${dir}/${file.name}`, {
            md5,
            onProgress: opts.onProgress,
            fetch: opts.fetch,
          });
          const st = await Deno.stat(r.path);
          verified[await Deno.realPath(r.path)] = {
            size: st.size,
            mtime: st.mtime?.getTime() ?? 0,
            verified: `md5 ${r.md5}`,
          };
          dirty = true;
          found = {
            name: file.name,
            path: r.path,
            origin: "download",
            bytes: r.bytes,
            verified: `md5 ${r.md5}`,
          };
          break;
        } catch (e) {
          if (!(e instanceof DatasetError)) throw e;
          errors.push(e);
        }
      }
      if (!found) {
        if (dirty) {
          await writeFileAtomic(
            `${dir}/.verified.json`,
            JSON.stringify(verified, null, 1),
          );
        }
        const first = errors[0];
        const also = errors.length > 1
          ? ` (mirrors also failed: ${
            errors.slice(1).map((e) => e.code).join(", ")
          })`
          : "";
        throw new DatasetError(first.code, first.message + also, {
          cause: first,
        });
      }
    }
    if (!found) {
      if (dirty) {
        await writeFileAtomic(
          `${dir}/.verified.json`,
          JSON.stringify(verified, null, 1),
        );
      }
      throw new DatasetError(
        problems.length ? "checksum" : "not-found",
        `${info.name}: ${file.name} is not in ${dir}${
          sources.length ? ` or ${sources.join(", ")}` : ""
        } and downloads are off${
          problems.length ? ` (${problems.join("; ")})` : ""
        }`,
      );
    }
    out.push(found);
  }
  if (dirty) {
    await writeFileAtomic(
      `${dir}/.verified.json`,
      JSON.stringify(verified, null, 1),
    );
  }
  return out;
}

/** Options of {@link loadDataset}. */
export interface LoadOptions extends FetchOptions {
  /** `train` or `test` (default `train`). */
  split?: "train" | "test";
  /** SVHN: append the `extra` split to `train` (604,388 images; the paper's setting). */
  extra?: boolean;
  /** `synthetic-images`: number of images (default: the info's train/test size). */
  n?: number;
  /** `synthetic-images`: seed (default 0; test split uses seed + 1). */
  seed?: number;
}

/** A loaded split: pixels, labels and the dataset's metadata. */
export interface LoadedDataset extends ImageSet {
  info: DatasetInfo;
  split: "train" | "test";
  /** The files it was read from. */
  files: ResolvedFile[];
}

/**
 * Fetches (if needed), verifies and parses one split of a dataset.
 *
 * @example
 * ```ts
 * import { loadDataset } from "./datasets.ts";
 * const d = await loadDataset("synthetic-images", { split: "test", n: 30 });
 * if (d.n !== 30 || d.info.numClasses !== 10) throw new Error();
 * ```
 */
export async function loadDataset(
  name: string,
  opts: LoadOptions = {},
): Promise<LoadedDataset> {
  const info = datasetInfo(name);
  const split = opts.split ?? "train";
  if (split !== "train" && split !== "test") {
    throw new DatasetError(
      "usage",
      `split must be "train" or "test", got "${split}"`,
    );
  }
  let set: ImageSet;
  let files: ResolvedFile[] = [];
  if (info.name === "synthetic-images") {
    set = syntheticImages({
      n: opts.n ?? (split === "train" ? info.trainSize : info.testSize),
      seed: (opts.seed ?? 0) + (split === "train" ? 0 : 1),
    });
  } else if (info.name === "cifar10" || info.name === "cifar100") {
    files = await ensureDatasetFiles(info.name, opts);
    set = await readCifarTarGz(
      await openFileStream(files[0].path),
      info.name,
      split,
      files[0].name,
    );
  } else if (info.name === "svhn") {
    const wanted = split === "test"
      ? ["test_32x32.mat"]
      : opts.extra
      ? ["train_32x32.mat", "extra_32x32.mat"]
      : ["train_32x32.mat"];
    files = await ensureDatasetFiles(info.name, { ...opts, only: wanted });
    files.sort((a, b) => wanted.indexOf(a.name) - wanted.indexOf(b.name));
    if (files.length === 1) {
      set = await readSvhnMat(
        await openFileStream(files[0].path),
        files[0].name,
      );
    } else {
      const counts: number[] = [];
      for (const f of files) {
        counts.push(await readSvhnCount(await openFileStream(f.path), f.name));
      }
      const n = counts.reduce((a, b) => a + b, 0);
      // shared, so that a worker loader (`batches({ worker: true })`) needs no copy
      const images = new Uint8Array(new SharedArrayBuffer(n * 3072));
      const labels = new Int32Array(n);
      let offset = 0;
      for (const [i, f] of files.entries()) {
        await readSvhnMat(await openFileStream(f.path), f.name, {
          images,
          labels,
          offset,
        });
        offset += counts[i];
      }
      set = { images, labels, n, height: 32, width: 32, channels: 3 };
    }
  } else {
    const pre = split === "train" ? "train" : "t10k";
    const names = [
      `${pre}-images-idx3-ubyte.gz`,
      `${pre}-labels-idx1-ubyte.gz`,
    ];
    files = await ensureDatasetFiles(info.name, { ...opts, only: names });
    const byName = new Map(files.map((f) => [f.name, f]));
    const img = parseIdx(
      await readAll(
        await openFileStream(byName.get(names[0])!.path, { gunzipGz: true }),
      ),
      names[0],
    );
    const lab = parseIdx(
      await readAll(
        await openFileStream(byName.get(names[1])!.path, { gunzipGz: true }),
      ),
      names[1],
    );
    if (
      img.dims.length !== 3 || img.dims[1] !== 28 || img.dims[2] !== 28 ||
      lab.dims.length !== 1 || lab.dims[0] !== img.dims[0]
    ) {
      throw new DatasetError(
        "format",
        `${info.name}: image dims ${img.dims.join("x")} and label dims ${
          lab.dims.join("x")
        } do not form an Nx28x28 set`,
      );
    }
    set = {
      images: img.data,
      labels: Int32Array.from(lab.data),
      n: img.dims[0],
      height: 28,
      width: 28,
      channels: 1,
    };
  }
  try {
    validateImageSet(set, info.numClasses);
  } catch (e) {
    throw new DatasetError(
      "format",
      `${info.name} ${split}: ${(e as Error).message}`,
    );
  }
  return { ...set, info, split, files };
}
