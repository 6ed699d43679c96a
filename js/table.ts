/**
 * A versioned table: writes (each a new version), reads, and time travel.
 */
import type * as arrow from "apache-arrow";
import { Type as ArrowType } from "apache-arrow";
import {
  type FieldJson,
  type FieldLike,
  isSchemaLike,
  rowsToTable,
  type SchemaJson,
  schemaFromJson,
  schemaToJson,
  toSqlLiteral,
  typeToJson,
} from "./arrow";
import { Branches } from "./branches";
import { batchesForTable, tableSchemaJson } from "./data";
import {
  type DiffOptions,
  diffVersions,
  type RowHistoryEntry,
  type RowHistoryOptions,
  rowHistory,
  type TableDiff,
  type VersionRef,
} from "./diff";
import { InvalidArgumentError, SchemaMismatchError } from "./errors";
import { formatHistory } from "./history";
import { type CreateIndexOptions, Index, type IndexConfig, type IndexStatistics } from "./indexes";
import { MergeInsertBuilder } from "./merge-insert";
import { callNative, callNativeSync, resultNumber } from "./native-loader";
import type { NativeColumnAlteration, NativeTable, NativeWriteNote } from "./native-types";
import { type OptimizeOptions, type OptimizeReport, optimizeOptions } from "./optimize";
import { Query, type VectorInput, VectorQuery } from "./query";
import { Tags } from "./tags";
import type {
  AddColumnsResult,
  AddColumnsSql,
  AddOptions,
  AddResult,
  AlterColumnsResult,
  ColumnAlteration,
  Data,
  DeleteResult,
  DropColumnsResult,
  RestoreResult,
  SchemaInput,
  UpdateOptions,
  UpdateResult,
  UpdateWhereOptions,
  VerifyProblem,
  VerifyReport,
  Version,
  VersionResult,
  WriteOptions,
} from "./types";
import {
  checkOneOf,
  checkString,
  checkStrings,
  checkVersion,
  describe,
  entriesOf,
  writeNote,
} from "./validate";

/**
 * A table in a {@link Connection}. It shows either the latest version (the default;
 * writes go there) or, after {@link Table.checkout}, one fixed version as a read-only view.
 *
 * Every write creates exactly one new version and resolves to `{ version, ...counts }`;
 * a failed write changes nothing. Obtain tables from `Connection.createTable`,
 * `Connection.createEmptyTable` or `Connection.openTable`.
 */
export class Table {
  private readonly inner: NativeTable;

  /** @internal Use the {@link Connection} methods. */
  constructor(inner: NativeTable) {
    this.inner = inner;
  }

  /** The table's name. */
  get name(): string {
    return this.inner.name;
  }

  /** True until {@link Table.close} is called. */
  isOpen(): boolean {
    return callNativeSync(() => this.inner.isOpen(), "isOpen");
  }

  /** Release the table's resources. Safe to call more than once; later calls on it fail. */
  close(): void {
    callNativeSync(() => this.inner.close(), "close");
  }

  /** A one-line description, e.g. `Table(quotes)` or `Table(quotes, checked out at version 3)`. */
  display(): string {
    if (!this.isOpen()) return `Table(${this.name}, closed)`;
    const v = callNativeSync(() => this.inner.checkedOutVersion(), "checkedOutVersion");
    return v === null ? `Table(${this.name})` : `Table(${this.name}, checked out at version ${v})`;
  }

  /** Same as {@link Table.display}. */
  toString(): string {
    return this.display();
  }

  // ---------------------------------------------------------------- writes

  /**
   * Append rows (`mode: "append"`, the default) or replace all rows
   * (`mode: "overwrite"`). Plain rows are typed with the table's current schema in both
   * modes (missing nullable columns become null; nothing is coerced); to overwrite with a
   * different schema, pass apache-arrow data. `message` and `properties`
   * ({@link WriteOptions}) are kept with the new version.
   *
   * @throws {SchemaMismatchError} when the data does not fit the table.
   * @throws {ReadOnlyCheckoutError} when the table is a checked-out version.
   * @throws {InvalidArgumentError} on an invalid mode, message or properties.
   */
  async add(data: Data, options: AddOptions = {}): Promise<AddResult> {
    const mode = options?.mode ?? "append";
    checkOneOf(mode, ["append", "overwrite"] as const, "add mode");
    const note = writeNote(options ?? undefined, "add");
    const batches = await batchesForTable(this.inner, data, "full");
    const r = await callNative(() => this.inner.add(batches, mode, note));
    return {
      version: resultNumber(r, "version", "add"),
      rowsAdded: resultNumber(r, "rowsAdded", "add"),
    };
  }

  /**
   * Update the rows matching `where` (all rows when omitted), setting columns to JS
   * `values` or to SQL expressions `valuesSql`; exactly one of the two. JS values must
   * fit their columns exactly (as rows given to `add`), then travel as SQL literals.
   * `message` and `properties` ({@link WriteOptions}) are kept with the new version.
   *
   * @example
   * ```ts
   * await table.update({ where: "author = 'Richard'", values: { author: "Rick" } });
   * await table.update({ valuesSql: { price: "price * 1.1" }, message: "inflation" });
   * ```
   */
  async update(options: UpdateOptions): Promise<UpdateResult>;
  /**
   * The `@lancedb/lancedb` form: `updates` maps column names to SQL expressions
   * (e.g. `{ x: "x + 1", name: "'Rick'" }`), `options.where` selects the rows;
   * `options.message` and `options.properties` are kept with the new version.
   */
  async update(
    updates: Record<string, string> | Map<string, string>,
    options?: UpdateWhereOptions,
  ): Promise<UpdateResult>;
  async update(
    first: UpdateOptions | Record<string, string> | Map<string, string>,
    second?: UpdateWhereOptions,
  ): Promise<UpdateResult> {
    const args = updateArgs(first, second);
    const entries = args.values ?? args.valuesSql ?? [];
    const columns = entries.map(([k]) => k);
    const expressions = args.values
      ? typedLiterals(await tableSchemaJson(this.inner), args.values)
      : entries.map(([, v]) => v as string);
    const r = await callNative(() =>
      this.inner.update(args.where, columns, expressions, args.note),
    );
    return {
      version: resultNumber(r, "version", "update"),
      rowsUpdated: resultNumber(r, "rowsUpdated", "update"),
    };
  }

  /**
   * Delete the rows matching a SQL predicate. `options.message` and `options.properties`
   * are kept with the new version.
   *
   * @throws {InvalidPredicateError} when the predicate does not parse.
   * @throws {ColumnNotFoundError} when it names an unknown column.
   */
  async delete(predicate: string, options?: WriteOptions): Promise<DeleteResult> {
    checkString(predicate, "delete predicate");
    const note = writeNote(options, "delete");
    const r = await callNative(() => this.inner.delete(predicate, note));
    return {
      version: resultNumber(r, "version", "delete"),
      numDeletedRows: resultNumber(r, "rowsDeleted", "delete"),
    };
  }

  /**
   * Start a merge-insert ("upsert") matching rows on the key column(s) `on`.
   *
   * @example
   * ```ts
   * await table
   *   .mergeInsert("id")
   *   .whenMatchedUpdateAll()
   *   .whenNotMatchedInsertAll()
   *   .execute(rows, { message: "sync from CRM" });
   * ```
   */
  mergeInsert(on: string | readonly string[]): MergeInsertBuilder {
    const keys = typeof on === "string" ? [on] : on;
    return new MergeInsertBuilder(this.inner, checkStrings(keys, "mergeInsert key columns"));
  }

  /**
   * Add columns, as one new version: either computed ones, `[{ name, valueSql }]`
   * (a SQL expression per row), or all-null ones from apache-arrow `Field`s or a
   * `Schema` (the fields must be nullable). `options.message` and `options.properties`
   * are kept with the new version.
   *
   * @example
   * ```ts
   * await table.addColumns([{ name: "emb", valueSql: "arrow_cast(NULL, 'FixedSizeList(384, Float32)')" }]);
   * await table.addColumns(new Field("note", new Utf8(), true), { message: "free-text notes" });
   * ```
   */
  async addColumns(
    columns: readonly AddColumnsSql[] | FieldLike | readonly FieldLike[] | SchemaInput,
    options?: WriteOptions,
  ): Promise<AddColumnsResult> {
    const note = writeNote(options, "addColumns");
    if (Array.isArray(columns) && columns.length > 0 && columns.every(isAddColumnsSql)) {
      const sql = columns as readonly AddColumnsSql[];
      const names = sql.map((c, i) => {
        checkString(c.name, `addColumns[${i}].name`);
        return c.name;
      });
      const expressions = sql.map((c, i) => {
        checkString(c.valueSql, `addColumns[${i}].valueSql`);
        return c.valueSql;
      });
      const r = await callNative(() => this.inner.addColumnsSql(names, expressions, note));
      return { version: resultNumber(r, "version", "addColumnsSql") };
    }
    const fields = newFields(columns);
    const schema = JSON.stringify(schemaToJson({ fields }));
    const r = await callNative(() => this.inner.addColumnsNull(schema, note));
    return { version: resultNumber(r, "version", "addColumnsNull") };
  }

  /**
   * Rename columns, change their nullability or type, as one new version.
   * `options.message` and `options.properties` are kept with it.
   */
  async alterColumns(
    alterations: readonly ColumnAlteration[],
    options?: WriteOptions,
  ): Promise<AlterColumnsResult> {
    if (!Array.isArray(alterations) || alterations.length === 0) {
      throw new InvalidArgumentError("alterColumns expects a non-empty array of alterations");
    }
    const out = alterations.map(toNativeAlteration);
    const note = writeNote(options, "alterColumns");
    const r = await callNative(() => this.inner.alterColumns(out, note));
    return { version: resultNumber(r, "version", "alterColumns") };
  }

  /**
   * Remove columns, as one new version (their data stays readable in older versions).
   * `options.message` and `options.properties` are kept with it.
   */
  async dropColumns(names: readonly string[], options?: WriteOptions): Promise<DropColumnsResult> {
    const list = checkStrings(names, "dropColumns names");
    const note = writeNote(options, "dropColumns");
    const r = await callNative(() => this.inner.dropColumns(list, note));
    return { version: resultNumber(r, "version", "dropColumns") };
  }

  // ----------------------------------------------------------------- reads

  /** Number of rows in the current view, or of those matching the SQL `filter`. */
  async countRows(filter?: string): Promise<number> {
    if (filter === undefined || filter === null)
      return callNative(() => this.inner.countRows(null));
    checkString(filter, "countRows filter");
    // A count memory answers at once runs on this thread: a trip to a worker thread and
    // back would cost more than the count.
    const now = callNativeSync(() => this.inner.countRowsAtOnce(filter), "countRowsAtOnce");
    return now ?? callNative(() => this.inner.countRows(filter));
  }

  /** The schema of the current view, as an apache-arrow `Schema`. */
  async schema(): Promise<arrow.Schema> {
    return schemaFromJson(await callNative(() => this.inner.schema()));
  }

  /** All rows of the current view as one apache-arrow `Table`. */
  async toArrow(): Promise<arrow.Table> {
    return this.query().toArrow();
  }

  /** Start a scan of the current view. */
  query(): Query {
    return new Query(this.inner);
  }

  /** Start a nearest-neighbour search for `vector` (see {@link VectorQuery}). */
  vectorSearch(vector: VectorInput): VectorQuery {
    return new VectorQuery(this.inner, vector);
  }

  /**
   * Search by vector (nearest neighbours) or by text (full-text search over FTS-indexed
   * columns, with a `_score`). A string is a text query unless `queryType` is "vector".
   *
   * @example
   * ```ts
   * await table.search(embedding).limit(5).toArray();
   * await table.search("pickle rick", "fts").limit(5).toArray();
   * ```
   */
  search(vector: VectorInput): VectorQuery;
  search(text: string, queryType?: "fts" | "auto"): Query;
  search(query: VectorInput | string, queryType: "vector" | "fts" | "auto" = "auto"): Query {
    checkOneOf(queryType, ["vector", "fts", "auto"] as const, "search queryType");
    if (typeof query === "string") {
      if (queryType === "vector") {
        throw new InvalidArgumentError(
          'search(text, "vector") needs an embedding; pass the vector itself',
        );
      }
      return this.query().fullTextSearch(query);
    }
    if (queryType === "fts")
      throw new InvalidArgumentError("a full-text search needs a string query");
    return this.vectorSearch(query);
  }

  // --------------------------------------------------------------- indexes

  /**
   * Build an index on `column` as one new version: a vector index (`Index.ivfPq()`,
   * `Index.ivfFlat()`, `Index.hnswSq()`), a scalar index (`Index.btree()`,
   * `Index.bitmap()`, `Index.labelList()`) or a full-text index (`Index.fts()`).
   *
   * @example
   * ```ts
   * await table.createIndex("vector", { config: Index.ivfPq({ numPartitions: 256, numSubVectors: 24 }) });
   * await table.createIndex("category", { config: Index.bitmap() });
   * ```
   * @throws {ColumnNotFoundError} when the column does not exist.
   * @throws {InvalidArgumentError} when the index does not fit the column's type, or
   *   exists and `replace` is false.
   */
  async createIndex(column: string, options: CreateIndexOptions = {}): Promise<VersionResult> {
    checkString(column, "index column");
    if (options === null || typeof options !== "object") {
      throw new InvalidArgumentError(
        `createIndex options must be an object, got ${describe(options)}`,
      );
    }
    const { config, replace, name } = options;
    if (config !== undefined && !(config instanceof Index)) {
      throw new InvalidArgumentError(
        "createIndex config must come from Index.ivfPq(), Index.btree(), ...",
      );
    }
    if (replace !== undefined && typeof replace !== "boolean") {
      throw new InvalidArgumentError(
        `createIndex replace must be a boolean, got ${describe(replace)}`,
      );
    }
    if (name !== undefined) checkString(name, "index name");
    const spec = config?.spec ?? (await this.defaultIndexSpec(column));
    const note = writeNote(options, "createIndex");
    const r = await callNative(() =>
      this.inner.createIndex(column, spec, name ?? null, replace ?? true, note),
    );
    return { version: resultNumber(r, "version", "createIndex") };
  }

  /** The table's indexes, by name. */
  async listIndices(): Promise<IndexConfig[]> {
    return callNative(() => this.inner.listIndices());
  }

  /** Statistics of index `name`, or undefined when there is no such index (as LanceDB). */
  async indexStats(name: string): Promise<IndexStatistics | undefined> {
    checkString(name, "index name");
    const known = await this.listIndices();
    if (!known.some((i) => i.name === name)) return undefined;
    const s = await callNative(() => this.inner.indexStats(name));
    return {
      indexType: s.indexType,
      numIndexedRows: s.numIndexedRows,
      numUnindexedRows: s.numUnindexedRows,
      details: JSON.parse(s.details) as Record<string, unknown>,
    };
  }

  /** Remove index `name` as one new version (older versions keep it). */
  async dropIndex(name: string, options?: WriteOptions): Promise<VersionResult> {
    checkString(name, "index name");
    const note = writeNote(options, "dropIndex");
    const r = await callNative(() => this.inner.dropIndex(name, note));
    return { version: resultNumber(r, "version", "dropIndex") };
  }

  /** IVF_PQ for vector columns, BTREE for anything else. */
  private async defaultIndexSpec(column: string): Promise<Index["spec"]> {
    const schema = await this.schema();
    const field = schema.fields.find((f) => f.name === column);
    const isVector = field !== undefined && field.type.typeId === ArrowType.FixedSizeList;
    return (isVector ? Index.ivfPq() : Index.btree()).spec;
  }

  // -------------------------------------------------------------- versions

  /** The version this table shows: the checked-out one, or the latest. */
  async version(): Promise<number> {
    return callNative(() => this.inner.version());
  }

  /**
   * The whole history (of the current branch), oldest first: for each version when it was
   * made, what it did (`operation`, `parameters`, row counts), the `message` and
   * `properties` its writer gave, and the tags naming it. Versions written by other Lance
   * writers (e.g. `@lancedb/lancedb`) are described from what lance records: their
   * operation, and counts where the row totals tell them (else null); no message.
   */
  async listVersions(): Promise<Version[]> {
    const [versions, tags] = await Promise.all([
      callNative(() => this.inner.listVersions()),
      callNative(() => this.inner.listTags()),
    ]);
    const tagsOf = new Map<number, string[]>();
    for (const t of tags) tagsOf.set(t.version, [...(tagsOf.get(t.version) ?? []), t.name]);
    return versions.map((v) => ({
      version: v.version,
      timestamp: new Date(v.timestamp),
      metadata: { ...v.metadata },
      operation: v.operation || "unknown",
      parameters: { ...v.parameters },
      rowsAdded: v.rowsAdded ?? null,
      rowsUpdated: v.rowsUpdated ?? null,
      rowsDeleted: v.rowsDeleted ?? null,
      message: v.message ?? null,
      properties: { ...v.properties },
      tags: (tagsOf.get(v.version) ?? []).sort(),
    }));
  }

  /**
   * The history as printable text, like `git log --oneline`: one line per version, newest
   * first, with the version, its time (UTC, to the second), the operation, what it changed,
   * the message in quotes, the tags in brackets and the properties in braces.
   * See {@link formatHistory} for the format; use {@link Table.listVersions} for the data.
   *
   * @example
   * ```ts
   * console.log(await table.history());
   * // v3  2025-01-07T10:02:11Z  delete  -1 row  where id = 2  "GDPR request"  [audited]
   * // v2  2025-01-07T10:01:54Z  append  +2 rows  "nightly load"
   * // v1  2025-01-07T10:01:40Z  create  +3 rows
   * ```
   */
  async history(): Promise<string> {
    return formatHistory(await this.listVersions());
  }

  /**
   * Show a past version as a read-only view: reads see that version, writes reject with
   * `READ_ONLY_CHECKOUT`. Return with {@link Table.checkoutLatest}, or make it the
   * latest again with {@link Table.restore}.
   *
   * @param target a version number, a tag name, or a `Date` (the version that was the
   *   latest at that instant).
   * @throws {VersionNotFoundError} when the version does not exist (or, for a date, the
   *   table did not exist yet).
   * @throws {TagNotFoundError} when the tag does not exist.
   */
  async checkout(target: number | string | Date): Promise<void> {
    if (typeof target === "string") {
      checkString(target, "tag name");
      await callNative(() => this.inner.checkoutTag(target));
    } else if (target instanceof Date) {
      const ms = target.getTime();
      if (Number.isNaN(ms)) throw new InvalidArgumentError("checkout() got an invalid Date");
      await callNative(() => this.inner.checkoutAsOf(ms));
    } else {
      checkVersion(target);
      // A version this table checked out before is pinned again at once, on this thread.
      if (!callNativeSync(() => this.inner.checkoutAtOnce(target), "checkoutAtOnce")) {
        await callNative(() => this.inner.checkout(target));
      }
    }
  }

  /** The table's branches; `create` returns a writable table on the new branch. */
  branches(): Branches<Table> {
    return new Branches(this.inner, (inner) => new Table(inner));
  }

  /** The branch this table reads and writes: `"main"` or a branch name. */
  async currentBranch(): Promise<string> {
    return (await callNative(() => this.inner.currentBranch())) ?? "main";
  }

  /** The table's tags: names for versions. */
  tags(): Tags {
    return new Tags(this.inner);
  }

  /** Follow the latest version again (and see writes made since by others). */
  async checkoutLatest(): Promise<void> {
    await callNative(() => this.inner.checkoutLatest());
  }

  /**
   * Make `version` (or, without it, the checked-out version) the content and schema of
   * a new latest version. The history is kept; no data is copied. Afterwards the table
   * follows the latest version. `options.message` and `options.properties` are kept with
   * the new version (pass `undefined` as `version` to restore the checked-out one).
   *
   * @throws {VersionNotFoundError} when the version does not exist.
   */
  async restore(version?: number, options?: WriteOptions): Promise<RestoreResult> {
    if (version !== undefined) checkVersion(version);
    const note = writeNote(options, "restore");
    const r = await callNative(() => this.inner.restore(version ?? null, note));
    return { version: resultNumber(r, "version", "restore") };
  }

  /**
   * What changed from `from` to `to` (default: the version this table shows): rows
   * inserted, updated (new values) and deleted (old values), as apache-arrow tables.
   * Versions may be on different branches: `diff("main", "exp")`.
   *
   * Without `on`, rows are matched by lineage (stable row ids; tables palimpsest creates
   * have them unless created with `stableRowIds: false`). With `on`, by key: works on any
   * Lance table, and a key deleted and inserted again counts as updated.
   *
   * @example
   * ```ts
   * const { inserted, updated, deleted } = await table.diff(3);
   * const byKey = await table.diff("main", "exp", { on: "id" });
   * ```
   * @throws {VersionNotFoundError} / {BranchNotFoundError} for unknown sides.
   */
  async diff(from: VersionRef, to?: VersionRef, options?: DiffOptions): Promise<TableDiff> {
    return diffVersions(this.inner, from, to, options);
  }

  /**
   * Every version of the current branch where the row with key `on = value` was inserted,
   * changed or deleted, oldest first, with its values then.
   *
   * @example
   * ```ts
   * for (const e of await table.rowHistory({ on: "id", value: 42 })) console.log(e.version, e.change, e.values);
   * ```
   */
  async rowHistory(options: RowHistoryOptions): Promise<RowHistoryEntry[]> {
    return rowHistory(this.inner, options);
  }

  /**
   * Compact small files (one new version when anything was rewritten) and, only when asked,
   * remove old versions: those older than `cleanupOlderThan` and/or beyond the newest
   * `keepVersions`. The latest version, tagged versions and versions a branch was forked from
   * are always kept. Nothing is ever removed without one of the two options.
   *
   * @example
   * ```ts
   * const report = await table.optimize({ cleanupOlderThan: 7 * 24 * 3600 * 1000, keepVersions: 20 });
   * console.log(report.versionsRemoved);
   * ```
   */
  async optimize(options: OptimizeOptions = {}): Promise<OptimizeReport> {
    const native = optimizeOptions(options);
    const note = writeNote(options, "optimize");
    return callNative(() => this.inner.optimize(native, note));
  }

  /**
   * Check every file `version` (default: the version shown) needs (data files, deletion
   * files, index files) and read every fragment. Reports what is missing, truncated or
   * unreadable instead of throwing; `ok` is true when nothing is.
   *
   * @example
   * ```ts
   * const report = await table.verify();
   * if (!report.ok) console.error(report.problems);
   * ```
   */
  async verify(version?: number): Promise<VerifyReport> {
    if (version !== undefined) checkVersion(version);
    const r = await callNative(() => this.inner.verify(version ?? null));
    return {
      ok: r.problems.length === 0,
      version: r.version,
      filesChecked: r.filesChecked,
      fragmentsRead: r.fragmentsRead,
      problems: r.problems.map((p) => ({
        path: p.path,
        kind: p.kind as VerifyProblem["kind"],
        detail: p.detail,
      })),
    };
  }

  /** True while a fixed version is checked out (the table is then read-only). */
  isCheckedOut(): boolean {
    return callNativeSync(() => this.inner.checkedOutVersion(), "checkedOutVersion") !== null;
  }
}

function isAddColumnsSql(x: unknown): x is AddColumnsSql {
  return typeof x === "object" && x !== null && "valueSql" in x;
}

function isFieldLike(x: unknown): x is FieldLike {
  if (typeof x !== "object" || x === null) return false;
  const f = x as { name?: unknown; type?: unknown };
  return (
    typeof f.name === "string" &&
    typeof f.type === "object" &&
    f.type !== null &&
    typeof (f.type as { typeId?: unknown }).typeId === "number"
  );
}

/** The fields of an `addColumns` call given as Field / Field[] / Schema. */
function newFields(columns: unknown): FieldLike[] {
  let fields: FieldLike[];
  if (isFieldLike(columns)) fields = [columns];
  else if (Array.isArray(columns) && columns.length > 0 && columns.every(isFieldLike)) {
    fields = [...columns];
  } else if (isSchemaLike(columns) && columns.fields.length > 0) fields = [...columns.fields];
  else {
    throw new InvalidArgumentError(
      "addColumns expects [{ name, valueSql }], an apache-arrow Field, an array of Fields " +
        `or a Schema with at least one field; got ${describe(columns)}`,
    );
  }
  return fields;
}

function toNativeAlteration(a: ColumnAlteration, i: number): NativeColumnAlteration {
  if (typeof a !== "object" || a === null) {
    throw new InvalidArgumentError(`alterColumns[${i}] must be an object, got ${describe(a)}`);
  }
  checkString(a.path, `alterColumns[${i}].path`);
  const out: NativeColumnAlteration = { path: a.path };
  if (a.rename !== undefined) {
    checkString(a.rename, `alterColumns[${i}].rename`);
    out.rename = a.rename;
  }
  if (a.nullable !== undefined) {
    if (typeof a.nullable !== "boolean") {
      throw new InvalidArgumentError(`alterColumns[${i}].nullable must be a boolean`);
    }
    out.nullable = a.nullable;
  }
  if (a.dataType !== undefined) {
    const t = a.dataType as unknown;
    if (
      typeof t !== "object" ||
      t === null ||
      typeof (t as { typeId?: unknown }).typeId !== "number"
    ) {
      throw new InvalidArgumentError(
        `alterColumns[${i}].dataType must be an apache-arrow DataType (e.g. new Float64()), got ${describe(t)}`,
      );
    }
    out.dataType = JSON.stringify(typeToJson(a.dataType));
  }
  if (out.rename === undefined && out.nullable === undefined && out.dataType === undefined) {
    throw new InvalidArgumentError(
      `alterColumns[${i}] ("${a.path}") changes nothing: give rename, nullable or dataType`,
    );
  }
  return out;
}

/** Both `update` call forms, normalised. `values` (JS values) still need typing. */
interface UpdateArgs {
  where: string | null;
  note: NativeWriteNote | null;
  values?: [string, unknown][];
  valuesSql?: [string, string][];
}

/** Normalise both `update` call forms. */
function updateArgs(first: unknown, second: unknown): UpdateArgs {
  if (typeof first !== "object" || first === null) {
    throw new InvalidArgumentError(
      `update expects { where?, values | valuesSql } or (updates, { where }), got ${describe(first)}`,
    );
  }
  const isOptionsForm =
    second === undefined &&
    !(first instanceof Map) &&
    ("values" in first || "valuesSql" in first || "where" in first);
  let where: unknown;
  const out: UpdateArgs = { where: null, note: null };
  if (isOptionsForm) {
    const o = first as UpdateOptions;
    where = o.where;
    out.note = writeNote(o, "update");
    const hasValues = o.values !== undefined;
    const hasSql = o.valuesSql !== undefined;
    if (hasValues === hasSql) {
      throw new InvalidArgumentError("update needs exactly one of `values` and `valuesSql`");
    }
    if (hasValues) out.values = entriesOf(o.values as Record<string, unknown>, "update values");
    else out.valuesSql = entriesOf(o.valuesSql as Record<string, string>, "update valuesSql");
  } else {
    if (second !== undefined && (typeof second !== "object" || second === null)) {
      throw new InvalidArgumentError(`update options must be an object like { where: "..." }`);
    }
    where = (second as { where?: unknown } | undefined)?.where;
    out.note = writeNote(second, "update");
    out.valuesSql = entriesOf(first as Record<string, string>, "update");
  }
  for (const [k, v] of out.valuesSql ?? []) checkString(v, `update expression for column "${k}"`);
  if (where !== undefined && where !== null) {
    checkString(where, "update where");
    out.where = where;
  }
  return out;
}

/**
 * SQL literals for JS update values, after checking each value fits its column exactly
 * (the same strict rules as rows written with `add`: a string for a number column, or a
 * vector of the wrong length, is `SCHEMA_MISMATCH`). Unknown columns are left for the
 * native side to report as `COLUMN_NOT_FOUND`.
 */
function typedLiterals(schema: SchemaJson, values: readonly [string, unknown][]): string[] {
  const byName = new Map(schema.fields.map((f) => [f.name, f]));
  const known = values.filter(([k]) => byName.has(k));
  if (known.length > 0) {
    const fields = known.map(([k]) => byName.get(k) as FieldJson);
    rowsToTable([Object.fromEntries(known)], schemaFromJson({ fields }));
    for (const [k, v] of known) checkFiniteVector(byName.get(k) as FieldJson, v);
  }
  return values.map(([, v]) => toSqlLiteral(v));
}

/** Vectors (fixed-size lists) must hold finite numbers: NaN or infinity poisons distances. */
function checkFiniteVector(field: FieldJson, value: unknown): void {
  if (field.type.type !== "fixedSizeList" || value === null || typeof value !== "object") return;
  const items = Array.from(value as ArrayLike<unknown>);
  const bad = items.find((x) => typeof x === "number" && !Number.isFinite(x));
  if (bad !== undefined) {
    throw new SchemaMismatchError(
      `column \`${field.name}\` holds vectors, and the new value has a non-finite number (${bad}); vectors must hold finite numbers`,
    );
  }
}
