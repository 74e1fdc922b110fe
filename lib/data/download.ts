/**
 * HTTP(S) downloads for dataset files: progress with bytes and ETA, resume
 * of a partial file with HTTP Range after a dropped connection, MD5
 * verification, and a temp-file-then-rename discipline so that a failure
 * never leaves a file that looks complete. Failures are one-line
 * {@link DatasetError}s: `not-found` (404/410), `http` (other statuses),
 * `network` (refused / unreachable), `checksum` (the bad file is removed).
 *
 * @module
 */
import { DatasetError } from "./errors.ts";
import { Md5 } from "./hashing.ts";

/** Progress of one download. */
export interface DownloadProgress {
  /** The file's name. */
  name: string;
  /** Bytes on disk so far (resumed bytes included). */
  received: number;
  /** Total size if the server said, else null. */
  total: number | null;
  /** Bytes per second over this transfer. */
  rate: number;
  /** Seconds left at the current rate, or null if unknown. */
  etaSeconds: number | null;
  /** True on the final report. */
  done: boolean;
}

/** Options of {@link downloadFile}. */
export interface DownloadOptions {
  /** Expected MD5 (hex); verified after the transfer. */
  md5?: string;
  /** Retries after failures that made no progress (default 4). */
  retries?: number;
  /** Base delay between retries in ms (default 300; doubles each time). */
  retryDelayMs?: number;
  /** Called as bytes arrive (at most every ~100 ms) and once at the end. */
  onProgress?: (p: DownloadProgress) => void;
  /** The fetch to use (tests). */
  fetch?: typeof fetch;
}

/** What {@link downloadFile} did. */
export interface DownloadResult {
  path: string;
  bytes: number;
  md5: string;
  url: string;
  /** How many times the transfer was resumed with a Range request. */
  resumes: number;
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw e;
  }
}

/**
 * MD5 of a file, streamed.
 *
 * @example
 * ```ts
 * import { md5File } from "./download.ts";
 * const p = await Deno.makeTempFile();
 * await Deno.writeTextFile(p, "abc");
 * const h = await md5File(p);
 * await Deno.remove(p);
 * if (h !== "900150983cd24fb0d6963f7d28e17f72") throw new Error(h);
 * ```
 */
export async function md5File(path: string): Promise<string> {
  const h = new Md5();
  const f = await Deno.open(path, { read: true });
  for await (const chunk of f.readable) h.update(chunk);
  return h.hex();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function describeNetworkError(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur; i++) {
    const msg = ((cur as Error)?.message ?? String(cur)).split("\n")[0];
    if (msg && !parts.some((p) => p.includes(msg))) parts.push(msg);
    cur = (cur as Error)?.cause;
  }
  return parts.join(": ");
}

/**
 * Downloads `url` to `dest`: bytes go to `dest + ".part"`, a dropped
 * connection is resumed with `Range: bytes=<have>-`, and only a transfer whose
 * MD5 matches is renamed to `dest`. A `.part` left by an earlier run is
 * resumed too.
 *
 * @example
 * ```ts
 * import { downloadFile } from "./download.ts";
 * const ac = new AbortController();
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
 *   () => new Response("abc"));
 * const dir = await Deno.makeTempDir();
 * const r = await downloadFile(`http://127.0.0.1:${server.addr.port}/abc.txt`, `${dir}/abc.txt`,
 *   { md5: "900150983cd24fb0d6963f7d28e17f72" });
 * ac.abort();
 * await server.finished;
 * await Deno.remove(dir, { recursive: true });
 * if (r.bytes !== 3) throw new Error();
 * ```
 */
export async function downloadFile(
  url: string,
  dest: string,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  const {
    md5,
    retries = 4,
    retryDelayMs = 300,
    onProgress,
    fetch: doFetch = fetch,
  } = options;
  const name = dest.split("/").pop() ?? dest;
  const part = `${dest}.part`;
  const dir = dest.slice(0, Math.max(0, dest.lastIndexOf("/")));
  if (dir) await Deno.mkdir(dir, { recursive: true });
  let failures = 0;
  let resumes = 0;
  let total: number | null = null;
  const started = performance.now();
  let startBytes = -1;
  let lastReport = 0;
  for (;;) {
    const have = await fileSize(part);
    if (startBytes < 0) startBytes = have;
    if (total !== null && have === total) break;
    const headers: HeadersInit = have > 0 ? { Range: `bytes=${have}-` } : {};
    let res: Response;
    try {
      res = await doFetch(url, { headers });
    } catch (e) {
      if (++failures > retries) {
        throw new DatasetError(
          "network",
          `cannot download ${url}: ${
            describeNetworkError(e)
          } (no network or host unreachable; ${failures} attempts)`,
          { cause: e },
        );
      }
      await sleep(retryDelayMs * 2 ** (failures - 1));
      continue;
    }
    if (res.status === 404 || res.status === 410) {
      await res.body?.cancel();
      throw new DatasetError(
        "not-found",
        `cannot download ${url}: HTTP ${res.status} ${
          res.statusText || "Not Found"
        }`,
      );
    }
    if (res.status === 416 && have > 0) {
      // the part is already complete (or longer than the file): verify below or restart
      await res.body?.cancel();
      const cr = res.headers.get("content-range");
      const m = cr?.match(/\/(\d+)$/);
      if (m && Number(m[1]) === have) {
        total = have;
        break;
      }
      await Deno.remove(part).catch(() => {});
      continue;
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      if (res.status >= 500 && ++failures <= retries) {
        await sleep(retryDelayMs * 2 ** (failures - 1));
        continue;
      }
      throw new DatasetError(
        "http",
        `cannot download ${url}: HTTP ${res.status} ${res.statusText}`,
      );
    }
    let offset = 0;
    if (res.status === 206) {
      const cr = res.headers.get("content-range") ?? "";
      const m = cr.match(/^bytes (\d+)-(\d+)\/(\d+|\*)$/);
      if (!m || Number(m[1]) !== have) {
        // server ignored our offset: start over
        await res.body?.cancel();
        await Deno.remove(part).catch(() => {});
        continue;
      }
      offset = have;
      if (m[3] !== "*") total = Number(m[3]);
      resumes++;
    } else {
      const len = res.headers.get("content-length");
      total = len === null ? null : Number(len);
    }
    const file = await Deno.open(part, {
      write: true,
      create: true,
      truncate: offset === 0,
      append: offset > 0,
    });
    let received = offset;
    let progressed = false;
    let dropped: unknown = null;
    try {
      for await (const chunk of res.body!) {
        let w = 0;
        while (w < chunk.length) w += await file.write(chunk.subarray(w));
        received += chunk.length;
        progressed = true;
        const now = performance.now();
        if (onProgress && now - lastReport > 100) {
          lastReport = now;
          const rate = (received - startBytes) / ((now - started) / 1000);
          onProgress({
            name,
            received,
            total,
            rate,
            etaSeconds: total !== null && rate > 0
              ? (total - received) / rate
              : null,
            done: false,
          });
        }
      }
    } catch (e) {
      dropped = e;
    } finally {
      file.close();
    }
    if (progressed) failures = 0;
    const short = total !== null && received < total;
    if (dropped !== null || short) {
      if (++failures > retries) {
        throw new DatasetError(
          "network",
          `download of ${url} keeps failing at byte ${received}${
            total !== null ? ` of ${total}` : ""
          }: ${
            dropped ? describeNetworkError(dropped) : "connection closed early"
          } (partial file kept at ${part}; rerun to resume)`,
          { cause: dropped },
        );
      }
      await sleep(retryDelayMs * 2 ** (failures - 1));
      continue;
    }
    if (total === null) total = received;
    break;
  }
  const bytes = await fileSize(part);
  const got = await md5File(part);
  if (md5 && got !== md5.toLowerCase()) {
    await Deno.remove(part).catch(() => {});
    throw new DatasetError(
      "checksum",
      `checksum mismatch for ${name} from ${url}: expected md5 ${md5}, got ${got} (${bytes} bytes; the file was removed)`,
    );
  }
  await Deno.rename(part, dest);
  const secs = (performance.now() - started) / 1000;
  onProgress?.({
    name,
    received: bytes,
    total: bytes,
    rate: (bytes - Math.max(0, startBytes)) / Math.max(secs, 1e-9),
    etaSeconds: 0,
    done: true,
  });
  return { path: dest, bytes, md5: got, url, resumes };
}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function fmtTime(s: number): string {
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h > 0
    ? `${h}:${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}`
    : `${m}:${String(r).padStart(2, "0")}`;
}

/**
 * One progress line: bar, bytes, rate and ETA.
 *
 * @example
 * ```ts
 * import { formatProgress } from "./download.ts";
 * const s = formatProgress({ name: "a.gz", received: 512 * 1024, total: 1024 * 1024,
 *   rate: 256 * 1024, etaSeconds: 2, done: false }, 10);
 * if (!s.includes("[#####-----]") || !s.includes("ETA 0:02")) throw new Error(s);
 * ```
 */
export function formatProgress(p: DownloadProgress, width = 24): string {
  const frac = p.total ? Math.min(1, p.received / p.total) : 0;
  const fill = Math.round(frac * width);
  const bar = p.total
    ? `[${"#".repeat(fill)}${"-".repeat(width - fill)}] ${
      (100 * frac).toFixed(1).padStart(5)
    }%`
    : "[size unknown]";
  const size = p.total
    ? `${fmtBytes(p.received)} / ${fmtBytes(p.total)}`
    : fmtBytes(p.received);
  const eta = p.done
    ? "done"
    : p.etaSeconds === null
    ? "ETA ?"
    : `ETA ${fmtTime(p.etaSeconds)}`;
  return `${p.name} ${bar} ${size} ${fmtBytes(p.rate)}/s ${eta}`;
}

/**
 * A progress callback that draws on stderr: one updating line on a
 * terminal, a line per 10% (and the final one) otherwise.
 *
 * @example
 * ```ts
 * import { stderrProgress } from "./download.ts";
 * const written: string[] = [];
 * const write = Deno.stderr.writeSync;
 * Deno.stderr.writeSync = (b: Uint8Array) => written.push(new TextDecoder().decode(b)) && b.length;
 * try {
 *   const report = stderrProgress();
 *   report({ name: "x", received: 1, total: 1, rate: 1, etaSeconds: 0, done: true });
 * } finally {
 *   Deno.stderr.writeSync = write;
 * }
 * if (!Deno.stderr.isTerminal() && !(written.length === 1 && written[0].startsWith("x ") && written[0].includes("done"))) {
 *   throw new Error(JSON.stringify(written));
 * }
 * ```
 */
export function stderrProgress(): (p: DownloadProgress) => void {
  const tty = Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  let lastDecile = -1;
  return (p) => {
    const line = formatProgress(p);
    if (tty) {
      Deno.stderr.writeSync(enc.encode(`\r\x1b[K${line}${p.done ? "\n" : ""}`));
      return;
    }
    const decile = p.total ? Math.floor((10 * p.received) / p.total) : -1;
    if (p.done || decile > lastDecile) {
      lastDecile = decile;
      Deno.stderr.writeSync(enc.encode(line + "\n"));
    }
  };
}
