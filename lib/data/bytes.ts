/**
 * Streaming byte input for the parsers: a {@link ByteReader} reads exact
 * lengths from a `ReadableStream<Uint8Array>` (a file, a decompressor, an
 * HTTP body) without holding the whole stream, and {@link inflateStream}
 * / {@link gunzip} wrap the platform's `DecompressionStream` with clear
 * truncated / wrong-format errors.
 *
 * @module
 */
import { DatasetError } from "./errors.ts";

/**
 * Reads exact byte counts from a stream.
 *
 * @example
 * ```ts
 * import { ByteReader } from "./bytes.ts";
 * const r = ByteReader.fromBytes(new Uint8Array([1, 2, 3, 4, 5]), "demo");
 * const a = await r.readExact(2);
 * const b = await r.readExact(3);
 * if (a[1] !== 2 || b[2] !== 5 || !(await r.atEnd())) throw new Error();
 * ```
 */
export class ByteReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);
  #pos = 0;
  #ended = false;
  /** Bytes consumed so far. */
  offset = 0;
  /** A name for error messages (file name). */
  readonly label: string;

  constructor(stream: ReadableStream<Uint8Array>, label: string) {
    this.#reader = stream.getReader();
    this.label = label;
  }

  /** A reader over bytes already in memory. */
  static fromBytes(bytes: Uint8Array, label: string): ByteReader {
    return new ByteReader(
      new ReadableStream<Uint8Array>({
        start(c) {
          if (bytes.length) c.enqueue(bytes);
          c.close();
        },
      }),
      label,
    );
  }

  async #more(): Promise<boolean> {
    if (this.#ended) return false;
    const { value, done } = await this.#reader.read();
    if (done) {
      this.#ended = true;
      return false;
    }
    this.#buf = value;
    this.#pos = 0;
    return true;
  }

  /** True when no bytes are left. */
  async atEnd(): Promise<boolean> {
    while (this.#pos >= this.#buf.length) {
      if (!(await this.#more())) return true;
    }
    return false;
  }

  /**
   * Copies exactly `dest.length` bytes into `dest`; throws a `truncated`
   * {@link DatasetError} if the stream ends first.
   */
  async readInto(dest: Uint8Array): Promise<void> {
    let filled = 0;
    while (filled < dest.length) {
      if (this.#pos >= this.#buf.length && !(await this.#more())) {
        throw new DatasetError(
          "truncated",
          `${this.label} is truncated: needed ${dest.length} bytes at offset ${
            this.offset - filled
          }, the data ended after ${filled}`,
        );
      }
      const take = Math.min(
        dest.length - filled,
        this.#buf.length - this.#pos,
      );
      dest.set(this.#buf.subarray(this.#pos, this.#pos + take), filled);
      this.#pos += take;
      filled += take;
      this.offset += take;
    }
  }

  /** Exactly `n` fresh bytes. */
  async readExact(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    await this.readInto(out);
    return out;
  }

  /**
   * Yields the next `n` bytes as chunks (views into the stream's own
   * buffers: copy before keeping them).
   */
  async *chunks(n: number): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      if (this.#pos >= this.#buf.length && !(await this.#more())) {
        throw new DatasetError(
          "truncated",
          `${this.label} is truncated: ${left} of ${n} bytes missing at offset ${this.offset}`,
        );
      }
      const take = Math.min(left, this.#buf.length - this.#pos);
      const chunk = this.#buf.subarray(this.#pos, this.#pos + take);
      this.#pos += take;
      this.offset += take;
      left -= take;
      yield chunk;
    }
  }

  /** Skips `n` bytes. */
  async skip(n: number): Promise<void> {
    for await (const _ of this.chunks(n)) { /* discard */ }
  }

  /** Reads and discards everything left; returns the byte count. */
  async drain(): Promise<number> {
    let n = this.#buf.length - this.#pos;
    this.offset += n;
    this.#pos = this.#buf.length;
    while (await this.#more()) {
      n += this.#buf.length;
      this.offset += this.#buf.length;
      this.#pos = this.#buf.length;
    }
    return n;
  }

  /** Stops reading and releases the stream. */
  async cancel(): Promise<void> {
    this.#ended = true;
    await this.#reader.cancel().catch(() => {});
  }
}

function asTransform(
  t: CompressionStream | DecompressionStream,
): TransformStream<Uint8Array, Uint8Array> {
  return t as unknown as TransformStream<Uint8Array, Uint8Array>;
}

function decompressError(
  e: unknown,
  format: string,
  label: string,
): DatasetError {
  if (e instanceof DatasetError) return e;
  const msg = (e as Error)?.message ?? String(e);
  const wrongFormat = /header|invalid/i.test(msg) &&
    !/checksum|end of|whole/i.test(msg);
  return new DatasetError(
    wrongFormat ? "format" : "truncated",
    wrongFormat
      ? `${label} is not valid ${format} data (${msg})`
      : `${label}: ${format} data is truncated or corrupt (${msg})`,
    { cause: e },
  );
}

/**
 * Decompresses a stream (`gzip` or zlib `deflate`), mapping decompressor
 * failures to `format` / `truncated` {@link DatasetError}s.
 *
 * @example
 * ```ts
 * import { bytesStream, gzip, inflateStream, readAll } from "./bytes.ts";
 * const gz = bytesStream(await gzip(new Uint8Array([7, 7, 7])));
 * const out = await readAll(inflateStream(gz, "gzip", "x"));
 * if (out.length !== 3 || out[2] !== 7) throw new Error();
 * ```
 */
export function inflateStream(
  input: ReadableStream<Uint8Array>,
  format: "gzip" | "deflate",
  label: string,
): ReadableStream<Uint8Array> {
  const ds = new DecompressionStream(format);
  const reader = input.pipeThrough(asTransform(ds)).getReader();
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      try {
        const { value, done } = await reader.read();
        if (done) c.close();
        else c.enqueue(value);
      } catch (e) {
        c.error(decompressError(e, format === "gzip" ? "gzip" : "zlib", label));
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/**
 * Decompresses a whole gzip buffer.
 *
 * @example
 * ```ts
 * import { gunzip, gzip } from "./bytes.ts";
 * const back = await gunzip(await gzip(new Uint8Array([1, 2, 3])), "x.gz");
 * if (back.join() !== "1,2,3") throw new Error();
 * ```
 */
export async function gunzip(
  data: Uint8Array,
  label: string,
): Promise<Uint8Array> {
  return await readAll(
    inflateStream(
      ByteReaderSource(data),
      "gzip",
      label,
    ),
  );
}

/**
 * Compresses bytes with gzip (`CompressionStream`).
 *
 * @example
 * ```ts
 * import { gzip } from "./bytes.ts";
 * const gz = await gzip(new Uint8Array(10));
 * if (gz[0] !== 0x1f || gz[1] !== 0x8b) throw new Error();
 * ```
 */
export async function gzip(data: Uint8Array): Promise<Uint8Array> {
  return await readAll(
    ByteReaderSource(data).pipeThrough(
      asTransform(new CompressionStream("gzip")),
    ),
  );
}

/**
 * Compresses bytes with zlib (`CompressionStream("deflate")`, RFC 1950).
 *
 * @example
 * ```ts
 * import { zlibCompress } from "./bytes.ts";
 * const z = await zlibCompress(new Uint8Array(10));
 * if (z[0] !== 0x78) throw new Error();
 * ```
 */
export async function zlibCompress(data: Uint8Array): Promise<Uint8Array> {
  return await readAll(
    ByteReaderSource(data).pipeThrough(
      asTransform(new CompressionStream("deflate")),
    ),
  );
}

/**
 * A one-chunk stream over bytes in memory.
 *
 * @example
 * ```ts
 * import { bytesStream, readAll } from "./bytes.ts";
 * const back = await readAll(bytesStream(new Uint8Array([4, 2])));
 * if (back.join() !== "4,2") throw new Error();
 * ```
 */
export function bytesStream(data: Uint8Array): ReadableStream<Uint8Array> {
  return ByteReaderSource(data);
}

function ByteReaderSource(data: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(c) {
      if (data.length) c.enqueue(data);
      c.close();
    },
  });
}

/**
 * Concatenates a whole stream into one array.
 *
 * @example
 * ```ts
 * import { readAll } from "./bytes.ts";
 * const all = await readAll(new Blob([new Uint8Array([1]), new Uint8Array([2])]).stream());
 * if (all.length !== 2) throw new Error();
 * ```
 */
export async function readAll(
  stream: ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const p of stream) {
    parts.push(p);
    n += p.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * A stream over a file; with `gunzipGz`, a `.gz` file is decompressed.
 *
 * @example
 * ```ts
 * import { openFileStream } from "./bytes.ts";
 * const p = await Deno.makeTempFile();
 * await Deno.writeFile(p, new Uint8Array([9]));
 * const s = await openFileStream(p);
 * const all = new Uint8Array(await new Response(s).arrayBuffer());
 * await Deno.remove(p);
 * if (all[0] !== 9) throw new Error();
 * ```
 */
export async function openFileStream(
  path: string,
  options: { gunzipGz?: boolean } = {},
): Promise<ReadableStream<Uint8Array>> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new DatasetError("not-found", `no such file: ${path}`);
    }
    throw e;
  }
  const base = path.split("/").pop() ?? path;
  const raw = file.readable;
  return options.gunzipGz && base.endsWith(".gz")
    ? inflateStream(raw, "gzip", base)
    : raw;
}
