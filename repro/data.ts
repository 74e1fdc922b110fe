/**
 * `deno task data <name> [...]`: fetches a dataset (cache, local sources,
 * then the official URLs), verifies it, and prints what is cached and its
 * size; by default also parses each split and prints its image count and
 * label histogram.
 *
 * ```
 * deno task data fashion-mnist
 * deno task data cifar10 --data-dir /big/disk/pof-data
 * deno task data svhn --source /mnt/datasets/svhn --offline
 * deno task data cifar100 --fabricate 50   # small fake copy in the real format
 * ```
 *
 * Flags: `--data-dir DIR` (else env POF_DATA_DIR, else ./data),
 * `--source DIR` (repeatable; folders holding the original files),
 * `--offline` (no downloads), `--no-parse`, `--extra` (SVHN: also
 * `extra_32x32.mat` in the train split), `--fabricate N` (write an N-image
 * synthetic copy in the official format to `<data-dir>/fabricated/<name>`
 * and load it from there), `--help`.
 *
 * @module
 */
import { ensureWritableDir } from "./cli.ts";
import { parseArgs } from "@std/cli";
import { loadDataset } from "../lib/data/datasets.ts";
import { DATASET_NAMES, datasetInfo } from "../lib/data/dataset_registry.ts";
import {
  ensureDatasetFiles,
  resolveCacheDir,
} from "../lib/data/dataset_cache.ts";
import { stderrProgress } from "../lib/data/download.ts";
import { DatasetError } from "../lib/data/errors.ts";
import { fabricateDataset } from "../lib/data/fixture_files.ts";

const USAGE = `usage: deno task data <${
  DATASET_NAMES.join("|")
}> [--data-dir DIR] [--source DIR]... [--offline] [--no-parse] [--extra] [--fabricate N]`;

function human(n: number): string {
  const u = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${u[i]}`;
}

/**
 * Runs the CLI on `args`; returns the exit code.
 *
 * @example
 * ```ts
 * import { main } from "./data.ts";
 * if ((await main(["synthetic-images", "--no-parse"])) !== 0) throw new Error();
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const a = parseArgs(args, {
    string: ["data-dir", "source", "fabricate"],
    boolean: ["offline", "parse", "extra", "help"],
    collect: ["source"],
    negatable: ["parse"],
    default: { parse: true },
    alias: { h: "help" },
  });
  if (a.help) {
    console.log(USAGE);
    return 0;
  }
  if (a._.length === 0) {
    console.error(USAGE);
    return 2;
  }
  const cacheDir = resolveCacheDir(a["data-dir"]);
  if (a["data-dir"] !== undefined) {
    try {
      await ensureWritableDir(cacheDir, "--data-dir");
    } catch (e) {
      console.error(`error: ${(e as Error).message}`);
      return 2;
    }
  }
  try {
    for (const raw of a._) {
      const info = datasetInfo(String(raw));
      let sourceDirs: string[] = a.source ?? [];
      let checksums: Record<string, string> | undefined;
      if (a.fabricate !== undefined) {
        const n = Number(a.fabricate);
        if (!Number.isInteger(n) || n < 1) {
          throw new DatasetError(
            "usage",
            `--fabricate needs a positive integer, got "${a.fabricate}"`,
          );
        }
        if (info.name === "synthetic-images") {
          throw new DatasetError(
            "usage",
            "--fabricate applies to the file-based datasets only",
          );
        }
        const dir = `${cacheDir}/fabricated/${info.name}`;
        const fab = await fabricateDataset(info.name, { n, seed: 0, dir });
        sourceDirs = [dir];
        checksums = fab.md5;
        console.log(
          `${info.name}: wrote a ${n}-image fabricated copy to ${dir}`,
        );
      }
      const opts = {
        cacheDir: a.fabricate !== undefined
          ? `${cacheDir}/fabricated/cache`
          : cacheDir,
        sourceDirs,
        checksums,
        useDefaultSources: a.fabricate === undefined,
        download: !a.offline,
        onProgress: stderrProgress(),
      };
      const only = info.name === "svhn" && !a.extra
        ? ["train_32x32.mat", "test_32x32.mat"]
        : undefined;
      const files = info.files.length
        ? await ensureDatasetFiles(info.name, { ...opts, only })
        : [];
      console.log(
        `${info.name}: ${info.numClasses} classes, ${info.height}x${info.width}x${info.channels}`,
      );
      let total = 0;
      for (const f of files) {
        total += f.bytes;
        console.log(
          `  ${f.name.padEnd(28)} ${human(f.bytes).padStart(10)}  ${
            f.origin.padEnd(8)
          } ${f.path}  (${f.verified})`,
        );
      }
      if (files.length) {
        console.log(`  total ${human(total)} in ${files.length} file(s)`);
      } else console.log("  generated in memory (no files)");
      if (a.parse) {
        for (const split of ["train", "test"] as const) {
          const t0 = performance.now();
          const d = await loadDataset(info.name, {
            ...opts,
            split,
            extra: a.extra,
            onProgress: undefined,
          });
          const hist = new Array(info.numClasses).fill(0);
          for (const l of d.labels) hist[l]++;
          const shown = hist.length > 10
            ? `${hist.slice(0, 10).join(" ")} ...`
            : hist.join(" ");
          console.log(
            `  ${split}: ${d.n} images (${human(d.images.length)} uint8) in ${
              ((performance.now() - t0) / 1000).toFixed(1)
            } s; labels per class: ${shown}`,
          );
        }
      }
    }
    return 0;
  } catch (e) {
    if (e instanceof DatasetError) {
      console.error(`error: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
