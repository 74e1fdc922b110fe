/**
 * The dataset file cache. Where files come from, per file, in order:
 * 1. the cache, `<cacheDir>/<dataset>/<file>` (cacheDir: option, else env
 *    `POF_DATA_DIR`, else `./data`), verified once and remembered in
 *    `<cacheDir>/<dataset>/.verified.json` (keyed by path, size, mtime);
 * 2. local source folders that already hold the original files
 *    (`sourceDirs` option, env `POF_DATA_SOURCES` as a `:`-list, and for
 *    Fashion-MNIST Debian's `/usr/share/datasets/fashion-mnist`), used in
 *    place after verification;
 * 3. the official URLs (unless `download: false`).
 *
 * @module
 */
import { openFileStream, readAll } from "./bytes.ts";
import { downloadFile, type DownloadProgress, md5File } from "./download.ts";
import { DatasetError } from "./errors.ts";
import { sha256Hex } from "./hashing.ts";
import { writeFileAtomic } from "../atomic_write.ts";
import { datasetInfo, type RemoteFile } from "./dataset_registry.ts";

/**
 * The cache folder: `explicit` if given, else env `POF_DATA_DIR`, else `./data`.
 *
 * @example
 * ```ts
 * import { resolveCacheDir } from "./dataset_cache.ts";
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
 * import { ensureDatasetFiles } from "./dataset_cache.ts";
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
