/**
 * Typed errors. Every failure surfaced by palimpsest is a {@link PalimpsestError}
 * with a stable {@link ErrorCode}, so callers can branch on `err.code` (or on the
 * subclass) instead of parsing message text.
 */

/** The stable error codes; the native module uses the same strings. */
export type ErrorCode =
  | "TABLE_NOT_FOUND"
  | "TABLE_EXISTS"
  | "VERSION_NOT_FOUND"
  | "TAG_NOT_FOUND"
  | "BRANCH_NOT_FOUND"
  | "SCHEMA_MISMATCH"
  | "INVALID_PREDICATE"
  | "COLUMN_NOT_FOUND"
  | "READ_ONLY_CHECKOUT"
  | "INVALID_ARGUMENT"
  | "COMMIT_CONFLICT"
  | "MERGE_CONFLICT"
  | "CORRUPT_TABLE"
  | "IO"
  | "INTERNAL";

/** Base class of every error palimpsest throws. */
export class PalimpsestError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    // `cause` goes through the standard ErrorOptions so stack printers show the chain.
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = "PalimpsestError";
  }
}

/** Options accepted by every subclass constructor. */
export interface ErrorOptions {
  cause?: unknown;
}

/** The table does not exist at the given location. */
export class TableNotFoundError extends PalimpsestError {
  constructor(message: string, options?: ErrorOptions) {
    super("TABLE_NOT_FOUND", message, options);
    this.name = "TableNotFoundError";
  }
}

/** A table with that name already exists (and the mode does not allow replacing it). */
export class TableExistsError extends PalimpsestError {
  constructor(message: string, options?: ErrorOptions) {
    super("TABLE_EXISTS", message, options);
    this.name = "TableExistsError";
  }
}

/** The requested version (or point in time) does not exist. */
export class VersionNotFoundError extends PalimpsestError {
  constructor(message: string, options?: ErrorOptions) {
    super("VERSION_NOT_FOUND", message, options);
    this.name = "VersionNotFoundError";
  }
}

/** The requested tag does not exist. */
export class TagNotFoundError extends PalimpsestError {
  constructor(message: string, options?: ErrorOptions) {
    super("TAG_NOT_FOUND", message, options);
    this.name = "TagNotFoundError";
  }
}

/** The requested branch does not exist. */
export class BranchNotFoundError extends PalimpsestError {
  constructor(message: string, options?: ErrorOptions) {
    super("BRANCH_NOT_FOUND", message, options);
    this.name = "BranchNotFoundError";
  }
}

/** Data does not fit the table's schema (or a schema could not be determined). */
export class SchemaMismatchError extends PalimpsestError {
  constructor(message: string, options?: ErrorOptions) {
    super("SCHEMA_MISMATCH", message, options);
    this.name = "SchemaMismatchError";
  }
}

/** A filter / SQL expression could not be parsed or planned. */
export class InvalidPredicateError extends PalimpsestError {
  constructor(message: string, options?: ErrorOptions) {
    super("INVALID_PREDICATE", message, options);
    this.name = "InvalidPredicateError";
  }
}

/** A referenced column does not exist. */
export class ColumnNotFoundError extends PalimpsestError {
  constructor(message: string, options?: ErrorOptions) {
    super("COLUMN_NOT_FOUND", message, options);
    this.name = "ColumnNotFoundError";
  }
}

/** A write was attempted on a checked-out (read-only) version. */
export class ReadOnlyCheckoutError extends PalimpsestError {
  constructor(message: string, options?: ErrorOptions) {
    super("READ_ONLY_CHECKOUT", message, options);
    this.name = "ReadOnlyCheckoutError";
  }
}

/** An argument was of the wrong shape or out of range. */
export class InvalidArgumentError extends PalimpsestError {
  constructor(message: string, options?: ErrorOptions) {
    super("INVALID_ARGUMENT", message, options);
    this.name = "InvalidArgumentError";
  }
}

/** A concurrent writer committed first and the operation could not be rebased. */
export class CommitConflictError extends PalimpsestError {
  constructor(message: string, options?: ErrorOptions) {
    super("COMMIT_CONFLICT", message, options);
    this.name = "CommitConflictError";
  }
}

/** A merge-insert could not be applied (e.g. duplicate keys in the source). */
export class MergeConflictError extends PalimpsestError {
  constructor(message: string, options?: ErrorOptions) {
    super("MERGE_CONFLICT", message, options);
    this.name = "MergeConflictError";
  }
}

/** The table's files are damaged or inconsistent. */
export class CorruptTableError extends PalimpsestError {
  constructor(message: string, options?: ErrorOptions) {
    super("CORRUPT_TABLE", message, options);
    this.name = "CorruptTableError";
  }
}

/** The storage layer failed (file system, object store, network). */
export class IoError extends PalimpsestError {
  constructor(message: string, options?: ErrorOptions) {
    super("IO", message, options);
    this.name = "IoError";
  }
}

/** A bug or an unexpected state inside palimpsest (including a Rust panic). */
export class InternalError extends PalimpsestError {
  constructor(message: string, options?: ErrorOptions) {
    super("INTERNAL", message, options);
    this.name = "InternalError";
  }
}

type ErrorCtor = new (message: string, options?: ErrorOptions) => PalimpsestError;

const BY_CODE: Record<ErrorCode, ErrorCtor> = {
  TABLE_NOT_FOUND: TableNotFoundError,
  TABLE_EXISTS: TableExistsError,
  VERSION_NOT_FOUND: VersionNotFoundError,
  TAG_NOT_FOUND: TagNotFoundError,
  BRANCH_NOT_FOUND: BranchNotFoundError,
  SCHEMA_MISMATCH: SchemaMismatchError,
  INVALID_PREDICATE: InvalidPredicateError,
  COLUMN_NOT_FOUND: ColumnNotFoundError,
  READ_ONLY_CHECKOUT: ReadOnlyCheckoutError,
  INVALID_ARGUMENT: InvalidArgumentError,
  COMMIT_CONFLICT: CommitConflictError,
  MERGE_CONFLICT: MergeConflictError,
  CORRUPT_TABLE: CorruptTableError,
  IO: IoError,
  INTERNAL: InternalError,
};

/**
 * Convert an error thrown by the native module (an `Error` whose `code` is one of
 * the {@link ErrorCode}s) into the matching subclass, keeping the original as
 * `cause`. Anything without a known code becomes an {@link InternalError}.
 * A value that already is a {@link PalimpsestError} is returned unchanged.
 */
export function errorFromNative(err: unknown): PalimpsestError {
  if (err instanceof PalimpsestError) return err;
  const code =
    typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  const message =
    typeof err === "object" &&
    err !== null &&
    typeof (err as { message?: unknown }).message === "string"
      ? (err as { message: string }).message
      : String(err);
  // Async native calls can only carry a message, so the code travels as a "[CODE] " prefix.
  const prefixed = /^\[([A-Z_]+)\] ([\s\S]*)$/.exec(message);
  const known = (c: unknown): c is ErrorCode => typeof c === "string" && Object.hasOwn(BY_CODE, c);
  if (prefixed && known(prefixed[1])) {
    return new BY_CODE[prefixed[1]](prefixed[2] ?? "", { cause: err });
  }
  // napi-rs rejects arguments of the wrong JS type before any native code runs.
  if (typeof code === "string" && NAPI_ARGUMENT_STATUSES.has(code)) {
    return new InvalidArgumentError(`wrong argument type: ${message}`, { cause: err });
  }
  const Ctor = known(code) ? BY_CODE[code] : InternalError;
  return new Ctor(message, { cause: err });
}

/** napi statuses that mean "an argument had the wrong type or shape". */
const NAPI_ARGUMENT_STATUSES = new Set([
  "InvalidArg",
  "ObjectExpected",
  "StringExpected",
  "NameExpected",
  "FunctionExpected",
  "NumberExpected",
  "BooleanExpected",
  "ArrayExpected",
  "BigintExpected",
  "DateExpected",
  "ArrayBufferExpected",
  "DetachableArraybufferExpected",
]);
