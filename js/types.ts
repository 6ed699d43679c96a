/**
 * Public option and result types of the facade.
 */
import type { DataTypeLike, RecordBatchLike, SchemaLike, TableLike } from "./arrow";

/**
 * Data accepted by writes: an array of plain row objects, an apache-arrow `Table` or
 * `RecordBatch` (any major 15..21), or an array / iterable of tables and batches.
 *
 * Plain rows are converted strictly: values are never coerced to a column's type.
 * Arrays of numbers become `FixedSizeList<Float32>` vectors when the type is inferred.
 * (Rows are typed `object` rather than `Record<string, unknown>` so that rows declared
 * with interfaces are accepted.)
 */
export type Data =
  | readonly object[]
  | TableLike
  | RecordBatchLike
  | Iterable<TableLike | RecordBatchLike>;

/** Any apache-arrow `Schema` (majors 15..21). */
export type SchemaInput = SchemaLike;

/** Any apache-arrow `DataType` (majors 15..21). */
export type DataTypeInput = DataTypeLike;

/** Options of {@link connect}. */
export interface ConnectionOptions {
  /**
   * Storage options handed to lance untouched (e.g. object-store credentials and
   * endpoints for `s3://` URIs).
   */
  storageOptions?: Record<string, string>;
  /**
   * On local disks, a write resolves only after its data files, deletion files, manifest
   * and the directories that gained entries are flushed to stable storage (fsync).
   * Default true; pass false for scratch tables, where speed matters more than surviving
   * a power cut.
   */
  durable?: boolean;
  /**
   * How often a write is retried when another writer committed a conflicting change
   * first (default 10); then it fails with `COMMIT_CONFLICT`, having written nothing.
   */
  conflictRetries?: number;
  /**
   * Seconds after which a table that follows the latest version looks for versions
   * committed by other handles or processes before a read; 0 checks on every read. By
   * default (as in LanceDB) a table keeps its version until `checkoutLatest()` or a write.
   */
  readConsistencyInterval?: number;
}

/**
 * What a write says about itself, kept in the version it creates and shown by
 * `Table.listVersions` and `Table.history` (also after reopening, and to any later reader
 * of the table through palimpsest). Every write accepts these options.
 *
 * @example
 * ```ts
 * await table.delete("id = 7", { message: "GDPR request", properties: { ticket: "DATA-7" } });
 * ```
 */
export interface WriteOptions {
  /** A free-text message, like a commit message (at most 64 KiB). */
  message?: string;
  /**
   * The caller's own key/value pairs (e.g. `{ job: "nightly", model: "minilm" }`).
   * Keys must be non-empty and must not start with `"palimpsest."` (reserved);
   * values must be strings.
   */
  properties?: Record<string, string>;
}

/** Options of `Connection.createTable`. */
export interface CreateTableOptions extends WriteOptions {
  /**
   * Schema of the new table (an apache-arrow `Schema`). Plain rows are converted to it;
   * without it the schema is inferred from the data.
   */
  schema?: SchemaInput;
  /**
   * `"create"` (default) fails with `TABLE_EXISTS` when the table exists;
   * `"overwrite"` replaces its contents as a new version (the history is kept).
   */
  mode?: "create" | "overwrite";
  /** With mode `"create"`: open the existing table instead of failing. Default false. */
  existOk?: boolean;
  /**
   * Whether rows keep a stable id across updates, merges and compaction (lance's stable
   * row ids). Default true. They give row lineage, which `diff()` without `on` needs.
   * `false` makes manifests, and so branches, smaller after updates (as in LanceDB's
   * default tables: about 1 KB per branch instead of tens of KB); `diff()` then needs `on`.
   * Updates, deletes and whole-row upserts read their rows from memory either way (an
   * upsert into a table whose schema names a primary key goes through lance's merge), and
   * two concurrent `mergeInsert`s of one new key still leave it once. An existing table (mode
   * `"overwrite"`, or `existOk`) keeps its kind; asking for the other fails with
   * `INVALID_ARGUMENT` (drop the table first).
   */
  stableRowIds?: boolean;
}

/** Options of `Connection.createEmptyTable`. */
export interface CreateEmptyTableOptions extends WriteOptions {
  /** As in {@link CreateTableOptions.mode}. */
  mode?: "create" | "overwrite";
  /** As in {@link CreateTableOptions.existOk}. */
  existOk?: boolean;
  /** As in {@link CreateTableOptions.stableRowIds}. */
  stableRowIds?: boolean;
}

/** Options of `Connection.openTable`. */
export interface OpenTableOptions {
  /** Open this version as a read-only view instead of following the latest version. */
  version?: number;
  /** Open this branch (at its latest version, writable; or with `version`, read-only). */
  branch?: string;
  /** Open the version this tag names, read-only. */
  tag?: string;
  /** Open the version that was the latest at this instant, read-only. */
  asOf?: Date;
}

/** Options of `Connection.cloneTable`: at most one of the two. */
export interface CloneTableOptions {
  /** Clone this version of the source (default: its latest). */
  sourceVersion?: number;
  /** Clone the version this tag of the source names. */
  sourceTag?: string;
}

/** Options of `Connection.tableNames`. */
export interface TableNamesOptions {
  /** Only names sorting after this one. */
  startAfter?: string;
  /** At most this many names. */
  limit?: number;
}

/** Options of `Table.add`. */
export interface AddOptions extends WriteOptions {
  /** `"append"` (default) adds rows; `"overwrite"` replaces all rows as a new version. */
  mode?: "append" | "overwrite";
}

/** Options of `Table.update` (the `{ where, values | valuesSql }` form). */
export interface UpdateOptions extends WriteOptions {
  /** SQL filter selecting the rows to update; all rows when omitted. */
  where?: string;
  /** New values as JS values (converted to SQL literals). Exclusive with `valuesSql`. */
  values?: Record<string, unknown> | Map<string, unknown>;
  /** New values as SQL expressions, e.g. `{ x: "x + 1" }`. Exclusive with `values`. */
  valuesSql?: Record<string, string> | Map<string, string>;
}

/** Second argument of `Table.update(updates, options)`, the `@lancedb/lancedb` form. */
export interface UpdateWhereOptions extends WriteOptions {
  /** SQL filter selecting the rows to update; all rows when omitted. */
  where?: string;
}

/** A computed column for `Table.addColumns`: its values are a SQL expression per row. */
export interface AddColumnsSql {
  /** Name of the new column. */
  name: string;
  /** SQL expression over the existing columns, e.g. `"price * 2"` or `"arrow_cast(NULL, 'Utf8')"`. */
  valueSql: string;
}

/** One change for `Table.alterColumns`; at least one of `rename`, `nullable`, `dataType`. */
export interface ColumnAlteration {
  /** The column to change; nested fields use dots (`"meta.author"`). */
  path: string;
  /** New name (last path segment only). */
  rename?: string;
  /** New nullability; a nullable column cannot be made non-nullable. */
  nullable?: boolean;
  /** New type, an apache-arrow `DataType` (the values must be castable). */
  dataType?: DataTypeInput;
}

/** Distance metric of a vector search. */
export type DistanceType = "l2" | "cosine" | "dot";

/** Result of `Table.add`. */
export interface AddResult {
  /** The table version the write created. */
  version: number;
  rowsAdded: number;
}

/** Result of `Table.update`. */
export interface UpdateResult {
  /** The table version the write created. */
  version: number;
  rowsUpdated: number;
}

/** Result of `Table.delete`. */
export interface DeleteResult {
  /** The table version the write created. */
  version: number;
  numDeletedRows: number;
}

/** Result of a merge-insert. */
export interface MergeResult {
  /** The table version the write created. */
  version: number;
  numInsertedRows: number;
  numUpdatedRows: number;
  numDeletedRows: number;
}

/** Result of schema changes (`addColumns`, `alterColumns`, `dropColumns`) and `restore`. */
export interface VersionResult {
  /** The table version the change created. */
  version: number;
}

/** Result of `Table.addColumns`. */
export type AddColumnsResult = VersionResult;
/** Result of `Table.alterColumns`. */
export type AlterColumnsResult = VersionResult;
/** Result of `Table.dropColumns`. */
export type DropColumnsResult = VersionResult;
/** Result of `Table.restore`. */
export type RestoreResult = VersionResult;

/** One entry of a table's history. */
export interface Version {
  /** Version number, starting at 1. */
  version: number;
  /** When the version was committed. */
  timestamp: Date;
  /** lance's summary of the version (row and file totals, e.g. `total_rows`). */
  metadata: Record<string, string>;
  /**
   * What the version did: `"create"`, `"append"`, `"overwrite"`, `"update"`, `"delete"`,
   * `"merge_insert"`, `"add_columns"`, `"alter_columns"`, `"drop_columns"`, `"restore"`,
   * `"create_index"`, `"compaction"`, `"merge_branch"`, `"clone"`, or (for versions other
   * Lance writers made) lance's name for the operation in snake_case; `"unknown"` when
   * nothing was recorded.
   */
  operation: string;
  /**
   * The operation's parameters where known: `predicate` (update, delete), `columns`
   * (update and schema changes; comma-separated), `on` (merge-insert key columns,
   * comma-separated), `restored_from` (restore).
   */
  parameters: Record<string, string>;
  /** Rows the version added; null when unknown (e.g. written by another Lance writer). */
  rowsAdded: number | null;
  /** Rows the version updated; null when unknown. */
  rowsUpdated: number | null;
  /** Rows the version deleted; null when unknown. */
  rowsDeleted: number | null;
  /** The message given with the write ({@link WriteOptions.message}); null when none. */
  message: string | null;
  /** The properties given with the write ({@link WriteOptions.properties}); `{}` when none. */
  properties: Record<string, string>;
  /** Names of the tags pointing at this version, sorted. */
  tags: string[];
}

/** A file `Table.verify` found missing or damaged. */
export interface VerifyProblem {
  /** Path relative to the table directory, e.g. `data/….lance`, `_deletions/…`. */
  path: string;
  kind: "missing" | "truncated" | "unreadable";
  detail: string;
}

/** What `Table.verify` found. */
export interface VerifyReport {
  /** True when every file is present and every fragment reads. */
  ok: boolean;
  version: number;
  filesChecked: number;
  fragmentsRead: number;
  problems: VerifyProblem[];
}
