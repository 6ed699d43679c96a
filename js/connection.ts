/**
 * Connecting to a directory (or URI) of tables.
 */
import { isRecordBatchLike, isSchemaLike, isTableLike, schemaToJson, toWireBatches } from "./arrow";
import { InvalidArgumentError } from "./errors";
import { callNative, callNativeSync, loadNative } from "./native-loader";
import type {
  NativeConnection,
  NativeConnectOptions,
  NativeCreateTableOptions,
  NativeWriteNote,
} from "./native-types";
import { Table } from "./table";
import type {
  CloneTableOptions,
  ConnectionOptions,
  CreateEmptyTableOptions,
  CreateTableOptions,
  Data,
  OpenTableOptions,
  SchemaInput,
  TableNamesOptions,
} from "./types";
import {
  checkInteger,
  checkOneOf,
  checkString,
  checkTableName,
  checkVersion,
  describe,
  writeNote,
} from "./validate";

/**
 * Open a database: a directory (or object-store URI) whose tables are stored as
 * `<uri>/<name>.lance`, the layout `@lancedb/lancedb` uses too.
 *
 * @param uri A local path (`"./data"`) or a URI (`"file:///..."`, `"s3://bucket/prefix"`).
 * @param options `storageOptions` are handed to lance untouched.
 *
 * @example
 * ```ts
 * const db = await connect("./data");
 * const table = await db.openTable("quotes");
 * ```
 */
export async function connect(uri: string, options: ConnectionOptions = {}): Promise<Connection> {
  checkString(uri, "connect uri");
  const storageOptions = options?.storageOptions;
  if (storageOptions !== undefined) {
    if (typeof storageOptions !== "object" || storageOptions === null) {
      throw new InvalidArgumentError("storageOptions must be an object of strings");
    }
    for (const [k, v] of Object.entries(storageOptions)) {
      if (typeof v !== "string") {
        throw new InvalidArgumentError(`storageOptions.${k} must be a string, got ${describe(v)}`);
      }
    }
  }
  const native: NativeConnectOptions = {};
  if (storageOptions) native.storageOptions = { ...storageOptions };
  if (options?.durable !== undefined) {
    if (typeof options.durable !== "boolean") {
      throw new InvalidArgumentError(`durable must be a boolean, got ${describe(options.durable)}`);
    }
    native.durable = options.durable;
  }
  if (options?.conflictRetries !== undefined) {
    checkInteger(options.conflictRetries, "conflictRetries", 0);
    native.conflictRetries = options.conflictRetries;
  }
  const interval = options?.readConsistencyInterval;
  if (interval !== undefined) {
    if (typeof interval !== "number" || !Number.isFinite(interval) || interval < 0) {
      throw new InvalidArgumentError(
        `readConsistencyInterval must be 0 or more seconds, got ${describe(interval)}`,
      );
    }
    native.readConsistencyInterval = interval;
  }
  const module = loadNative();
  const inner = await callNative(() => module.NativeConnection.connect(uri, native));
  return new Connection(inner);
}

/** A database of tables. Get one with {@link connect}. */
export class Connection {
  private readonly inner: NativeConnection;
  private closed = false;

  /** @internal Use {@link connect}. */
  constructor(inner: NativeConnection) {
    this.inner = inner;
  }

  /** The URI this connection was opened with. */
  get uri(): string {
    return this.inner.uri;
  }

  /** True until {@link Connection.close} is called. */
  isOpen(): boolean {
    return !this.closed;
  }

  /**
   * Close the connection. Tables already opened from it stay usable until closed
   * themselves. Safe to call more than once.
   */
  close(): void {
    if (this.closed) return;
    callNativeSync(() => this.inner.close(), "close");
    this.closed = true;
  }

  /** A one-line description, e.g. `Connection(./data)`. */
  display(): string {
    return this.closed ? `Connection(${this.uri}, closed)` : `Connection(${this.uri})`;
  }

  /** Same as {@link Connection.display}. */
  toString(): string {
    return this.display();
  }

  /** Names of the tables, sorted; optionally only those after `startAfter`, at most `limit`. */
  async tableNames(options: TableNamesOptions = {}): Promise<string[]> {
    this.checkOpen();
    const { startAfter, limit } = options ?? {};
    if (startAfter !== undefined) checkString(startAfter, "tableNames startAfter");
    if (limit !== undefined) checkInteger(limit, "tableNames limit", 0);
    let names = [...(await callNative(() => this.inner.tableNames()))].sort();
    if (startAfter !== undefined) names = names.filter((n) => n > startAfter);
    return limit === undefined ? names : names.slice(0, limit);
  }

  /**
   * Create a table from `data` (version 1). With `mode: "overwrite"` an existing table's
   * contents are replaced as a new version (its history is kept). `options.message` and
   * `options.properties` are kept with the version written (nothing is written, and they
   * are ignored, when `existOk` opens an existing table).
   *
   * @param data Plain row objects, an apache-arrow `Table` / `RecordBatch`, or an array or
   *   iterable of them. Empty data needs `options.schema` (or an Arrow table, which carries one).
   * @throws {TableExistsError} with mode `"create"` when the table exists (unless `existOk`,
   *   which opens the existing table and ignores `data`).
   * @throws {SchemaMismatchError} when rows do not fit `options.schema`.
   * @throws {InvalidArgumentError} on an invalid name or options.
   */
  async createTable(name: string, data: Data, options: CreateTableOptions = {}): Promise<Table> {
    this.checkOpen();
    checkTableName(name);
    const { schema, mode, existOk, stableRowIds, note } = createOptions(options, "createTable");
    if (data === undefined || data === null) {
      throw new InvalidArgumentError(
        "createTable needs data (use createEmptyTable for a table without rows)",
      );
    }
    let schemaJson: string | undefined;
    if (schema !== undefined) schemaJson = JSON.stringify(schemaToJson(schema));
    else if (isTableLike(data) || isRecordBatchLike(data)) {
      schemaJson = JSON.stringify(schemaToJson(data.schema));
    }
    const batches = schema === undefined ? toWireBatches(data) : toWireBatches(data, schema);
    if (batches.length === 0 && schemaJson === undefined) {
      throw new InvalidArgumentError(
        `Cannot create table "${name}" from no rows without a schema: pass options.schema or use createEmptyTable`,
      );
    }
    const opts: NativeCreateTableOptions = { mode, existOk, stableRowIds };
    if (schemaJson !== undefined) opts.schema = schemaJson;
    if (note !== null) opts.note = note;
    return new Table(await callNative(() => this.inner.createTable(name, batches, opts)));
  }

  /**
   * Create a table with no rows and the given apache-arrow `schema` (version 1).
   * `options.message` and `options.properties` are kept with that version.
   *
   * @throws {TableExistsError} as in {@link Connection.createTable}.
   */
  async createEmptyTable(
    name: string,
    schema: SchemaInput,
    options: CreateEmptyTableOptions = {},
  ): Promise<Table> {
    this.checkOpen();
    checkTableName(name);
    if (!isSchemaLike(schema)) {
      throw new InvalidArgumentError(
        `createEmptyTable expects an apache-arrow Schema, got ${describe(schema)}`,
      );
    }
    const { mode, existOk, stableRowIds, note } = createOptions(options, "createEmptyTable");
    const opts: NativeCreateTableOptions = {
      mode,
      existOk,
      stableRowIds,
      schema: JSON.stringify(schemaToJson(schema)),
    };
    if (note !== null) opts.note = note;
    return new Table(await callNative(() => this.inner.createTable(name, [], opts)));
  }

  /**
   * A consistent read-only view of several tables as they were at one instant: every
   * table opened through the snapshot shows the version that was its latest at `asOf`
   * (default: now, fixed when the snapshot is taken). Use it for reproducible multi-table
   * training reads.
   *
   * @example
   * ```ts
   * const snap = db.snapshot(new Date("2026-11-01T00:00:00Z"));
   * const [docs, labels] = await Promise.all([snap.openTable("docs"), snap.openTable("labels")]);
   * ```
   */
  snapshot(asOf: Date = new Date()): Snapshot {
    this.checkOpen();
    if (!(asOf instanceof Date) || Number.isNaN(asOf.getTime())) {
      throw new InvalidArgumentError("snapshot() needs a valid Date");
    }
    return new Snapshot(this, new Date(asOf.getTime()));
  }

  /**
   * Open a table at its latest version, or with `options.version` as a read-only view
   * of that version (see `Table.checkout`).
   *
   * @throws {TableNotFoundError} when there is no such table.
   * @throws {VersionNotFoundError} when the version does not exist.
   */
  async openTable(name: string, options: OpenTableOptions = {}): Promise<Table> {
    this.checkOpen();
    checkTableName(name);
    const { version, tag, asOf, branch } = options ?? {};
    const given = [version, tag, asOf].filter((x) => x !== undefined).length;
    if (given > 1) {
      throw new InvalidArgumentError("openTable() takes at most one of version, tag and asOf");
    }
    if (version !== undefined) checkVersion(version, "openTable version");
    if (branch !== undefined) checkString(branch, "openTable branch");
    const onBranch = branch !== undefined && branch !== "main";
    const inner = await callNative(() =>
      this.inner.openTable(name, version === undefined || onBranch ? {} : { version }),
    );
    const table = new Table(inner);
    if (onBranch) {
      await table.branches().checkout(branch);
      if (version !== undefined) await table.checkout(version);
    }
    if (tag !== undefined) await table.checkout(tag);
    if (asOf !== undefined) {
      if (!(asOf instanceof Date)) throw new InvalidArgumentError("openTable asOf must be a Date");
      await table.checkout(asOf);
    }
    return table;
  }

  /**
   * Create table `name` as a shallow clone of the Lance table at `sourceUri` (any Lance
   * table: ours, LanceDB's, pylance's), at its latest version or at `sourceVersion` /
   * `sourceTag`. No data files are copied, so the source must outlive the clone; writes
   * to either side are invisible to the other.
   *
   * @throws {TableExistsError} when `name` exists.
   * @throws {TableNotFoundError} when there is no Lance table at `sourceUri`.
   * @throws {VersionNotFoundError} / {TagNotFoundError} for a missing source version or tag.
   */
  async cloneTable(
    name: string,
    sourceUri: string,
    options: CloneTableOptions = {},
  ): Promise<Table> {
    this.checkOpen();
    checkTableName(name);
    checkString(sourceUri, "cloneTable sourceUri");
    const { sourceVersion, sourceTag } = options ?? {};
    if (sourceVersion !== undefined) checkVersion(sourceVersion, "cloneTable sourceVersion");
    if (sourceTag !== undefined) checkString(sourceTag, "cloneTable sourceTag");
    if (sourceVersion !== undefined && sourceTag !== undefined) {
      throw new InvalidArgumentError("cloneTable() takes sourceVersion or sourceTag, not both");
    }
    const inner = await callNative(() =>
      this.inner.cloneTable(name, sourceUri, {
        ...(sourceVersion === undefined ? {} : { sourceVersion }),
        ...(sourceTag === undefined ? {} : { sourceTag }),
      }),
    );
    return new Table(inner);
  }

  /**
   * Delete a table and its whole history.
   *
   * @throws {TableNotFoundError} when there is no such table.
   */
  async dropTable(name: string): Promise<void> {
    this.checkOpen();
    checkTableName(name);
    await callNative(() => this.inner.dropTable(name));
  }

  private checkOpen(): void {
    if (this.closed) {
      throw new InvalidArgumentError(`Connection to ${this.uri} is closed; connect() again`);
    }
  }
}

function createOptions(
  options: CreateTableOptions | CreateEmptyTableOptions,
  what: string,
): {
  schema: SchemaInput | undefined;
  mode: "create" | "overwrite";
  existOk: boolean;
  stableRowIds: boolean | undefined;
  note: NativeWriteNote | null;
} {
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError(`Table options must be an object, got ${describe(options)}`);
  }
  const mode = options.mode ?? "create";
  checkOneOf(mode, ["create", "overwrite"] as const, "mode");
  const existOk = options.existOk ?? false;
  if (typeof existOk !== "boolean") {
    throw new InvalidArgumentError(`existOk must be a boolean, got ${describe(existOk)}`);
  }
  const stableRowIds = options.stableRowIds;
  if (stableRowIds !== undefined && typeof stableRowIds !== "boolean") {
    throw new InvalidArgumentError(`stableRowIds must be a boolean, got ${describe(stableRowIds)}`);
  }
  const schema = "schema" in options ? options.schema : undefined;
  if (schema !== undefined && !isSchemaLike(schema)) {
    throw new InvalidArgumentError(
      `schema must be an apache-arrow Schema, got ${describe(schema)}`,
    );
  }
  return { schema, mode, existOk, stableRowIds, note: writeNote(options, what) };
}

/**
 * Several tables as they were at one instant; see {@link Connection.snapshot}. Tables
 * opened here are read-only views.
 */
export class Snapshot {
  private readonly connection: Connection;
  /** The instant every table is read at. */
  readonly asOf: Date;

  /** @internal */
  constructor(connection: Connection, asOf: Date) {
    this.connection = connection;
    this.asOf = asOf;
  }

  /**
   * Open `name` at the version that was its latest at {@link Snapshot.asOf}.
   * @throws {VersionNotFoundError} when the table did not exist yet at that instant.
   */
  async openTable(name: string, options: { branch?: string } = {}): Promise<Table> {
    return this.connection.openTable(name, { ...options, asOf: this.asOf });
  }

  /** The version of each named table at {@link Snapshot.asOf}, for recording what was read. */
  async versions(names: readonly string[]): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const name of names) {
      const table = await this.openTable(name);
      try {
        out[name] = await table.version();
      } finally {
        table.close();
      }
    }
    return out;
  }
}
