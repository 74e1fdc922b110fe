/**
 * The one error type of the data layer: every failure to fetch, verify or
 * parse a dataset file is a {@link DatasetError} with a machine-readable
 * {@link DatasetErrorCode} and a one-line message naming the file or URL.
 *
 * @module
 */

/** What went wrong. */
export type DatasetErrorCode =
  | "not-found" // HTTP 404 / 410 or a missing local file
  | "http" // any other HTTP failure status
  | "network" // connection refused, DNS failure, reset that retries did not fix
  | "checksum" // content does not match the pinned checksum (the file is removed)
  | "truncated" // the archive or file ends early
  | "format" // the bytes are not the format expected
  | "usage"; // a bad argument (unknown dataset, split, option)

/**
 * A one-line, user-facing data error.
 *
 * @example
 * ```ts
 * import { DatasetError } from "./errors.ts";
 * const e = new DatasetError("checksum", "bad md5 for x.gz");
 * if (e.code !== "checksum" || !e.message.includes("x.gz")) throw e;
 * ```
 */
export class DatasetError extends Error {
  override name = "DatasetError";
  /** The failure class. */
  readonly code: DatasetErrorCode;
  constructor(code: DatasetErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
