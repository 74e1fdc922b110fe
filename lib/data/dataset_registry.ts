/**
 * The one dataset registry: the paper's datasets (CIFAR-10, CIFAR-100, SVHN,
 * Fashion-MNIST) and the in-memory `synthetic-images` set with their
 * metadata, official sources and pinned checksums ({@link DATASETS}), and
 * every name a training run accepts with the sizes it sees
 * ({@link RUN_DATASETS}: those plus the teacher-MLP `toy` data and the 8x8
 * synthetic images).
 *
 * Checksums: the MD5s torchvision publishes (SVHN, Fashion-MNIST) and the
 * CIFAR authors publish for the binary archives. Debian recompresses the
 * Fashion-MNIST `.gz` files, so for those the SHA-256 of the decompressed
 * IDX content is pinned as well (measured from the Debian files, whose
 * source is the upstream repository at commit 55506a9) and accepted.
 *
 * @module
 */
import { DatasetError } from "./errors.ts";

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

/**
 * Where Fashion-MNIST's Debian copy is looked for: env
 * `POF_DEBIAN_FASHION_DIR` when set (CI points it at an empty folder to check
 * a machine without the package), else {@link DEBIAN_FASHION_DIR}.
 *
 * @example
 * ```ts
 * import { debianFashionDir } from "./dataset_registry.ts";
 * if (!debianFashionDir().startsWith("/")) throw new Error(debianFashionDir());
 * ```
 */
export function debianFashionDir(): string {
  try {
    return Deno.env.get("POF_DEBIAN_FASHION_DIR") || DEBIAN_FASHION_DIR;
  } catch {
    return DEBIAN_FASHION_DIR; // no env permission
  }
}

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
    get localDirs() {
      return [debianFashionDir()];
    },
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
 * import { datasetInfo } from "./dataset_registry.ts";
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

/** Static facts about a dataset (no data loaded). */
export interface RunDatasetInfo {
  name: string;
  trainSize: number;
  testSize: number;
  inputShape: number[];
  numClasses: number;
}

const TOY: RunDatasetInfo = {
  name: "toy",
  trainSize: 512,
  testSize: 8192,
  inputShape: [16],
  numClasses: 4,
};

/**
 * `synthetic-images` at 8x8 pixels (same generator, seeds and sizes as
 * the 32x32 one): the smoke preset's data, 16x cheaper per image.
 * Training augmentation: 1-pixel padded random crop, normalised like
 * `synthetic-images`.
 *
 * @example
 * ```ts
 * import { runDatasetInfo, SYNTHETIC_8X8 } from "./dataset_registry.ts";
 * if (runDatasetInfo(SYNTHETIC_8X8).inputShape.join() !== "8,8,3") throw new Error();
 * ```
 */
export const SYNTHETIC_8X8 = "synthetic-images-8x8";

/**
 * Every dataset a run can train on (`RunConfig.dataset`): `toy` (the teacher-MLP data), `synthetic-images-8x8` and every image dataset of {@link DATASETS}, with the sizes a run sees.
 *
 * @example
 * ```ts
 * import { RUN_DATASETS } from "./dataset_registry.ts";
 * if (RUN_DATASETS.svhn.trainSize !== 73257 + 531131) throw new Error();
 * ```
 */
export const RUN_DATASETS: Record<string, RunDatasetInfo> = {
  toy: TOY,
  [SYNTHETIC_8X8]: {
    name: SYNTHETIC_8X8,
    trainSize: datasetInfo("synthetic-images").trainSize,
    testSize: datasetInfo("synthetic-images").testSize,
    inputShape: [8, 8, 3],
    numClasses: datasetInfo("synthetic-images").numClasses,
  },
};
for (const name of DATASET_NAMES) {
  const d = datasetInfo(name);
  RUN_DATASETS[name] = {
    name,
    // SVHN trains on train + extra (paper), as buildRun loads it.
    trainSize: d.trainSize + (name === "svhn" ? d.extraSize ?? 0 : 0),
    testSize: d.testSize,
    inputShape: [d.height, d.width, d.channels],
    numClasses: d.numClasses,
  };
}

/**
 * Static facts of a dataset; an unknown name is an error listing the valid ones.
 *
 * @example
 * ```ts
 * import { runDatasetInfo } from "./dataset_registry.ts";
 * if (runDatasetInfo("toy").numClasses !== 4) throw new Error();
 * ```
 */
export function runDatasetInfo(name: string): RunDatasetInfo {
  const d = RUN_DATASETS[name];
  if (!d) {
    throw new RangeError(
      `unknown dataset "${name}"; valid: ${
        Object.keys(RUN_DATASETS).join(", ")
      }`,
    );
  }
  return d;
}
