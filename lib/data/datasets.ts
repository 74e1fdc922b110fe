/**
 * Loading a dataset into memory: {@link loadDataset} makes sure the files are
 * there (`dataset_cache.ts`), decodes them (keeping a decoded copy in the
 * cache) and returns the splits as an {@link ImageSet}. The datasets and their
 * metadata are in `dataset_registry.ts`.
 *
 * @module
 */
import { openFileStream, readAll } from "./bytes.ts";
import { readCifarTarGz } from "./cifar.ts";
import { DatasetError } from "./errors.ts";
import { parseIdx } from "./idx.ts";
import { type ImageSet, validateImageSet } from "./image_set.ts";
import { readSvhnCount, readSvhnMat } from "./svhn.ts";
import { syntheticImages } from "./synthetic_images.ts";
import { type DatasetInfo, datasetInfo } from "./dataset_registry.ts";
import {
  ensureDatasetFiles,
  type FetchOptions,
  type ResolvedFile,
} from "./dataset_cache.ts";

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
