/**
 * The merge-insert ("upsert") builder returned by `Table.mergeInsert(on)`.
 */
import { batchesForTable } from "./data";
import { InvalidArgumentError } from "./errors";
import { callNative, resultNumber } from "./native-loader";
import type { MergeOptions, NativeTable } from "./native-types";
import type { Data, MergeResult, WriteOptions } from "./types";
import { checkString, writeNote } from "./validate";

/** Options of the conditional merge clauses. */
export interface MergeClauseOptions {
  /**
   * SQL condition; refer to the existing row as `target.col` and to the new row as
   * `source.col`, e.g. `"target.updated_at < source.updated_at"`.
   */
  where?: string;
}

/**
 * Builds a merge of new rows (the source) into the table (the target), matching rows on
 * the key columns given to `Table.mergeInsert(on)`. Pick at least one clause, then call
 * {@link MergeInsertBuilder.execute}. Each clause method returns a new builder.
 *
 * Plain-object source rows may carry only the key and the columns to change: matched
 * rows keep their other columns.
 *
 * @example
 * ```ts
 * await table.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rows);
 * ```
 */
export class MergeInsertBuilder {
  private readonly inner: NativeTable;
  private readonly on: readonly string[];
  private readonly options: Readonly<MergeOptions>;

  /** @internal Use `Table.mergeInsert(on)`. */
  constructor(inner: NativeTable, on: readonly string[], options?: MergeOptions) {
    this.inner = inner;
    this.on = on;
    this.options = options ?? {
      whenMatchedUpdateAll: false,
      whenNotMatchedInsertAll: false,
      whenNotMatchedBySourceDelete: false,
    };
  }

  /**
   * Replace target rows that match a source row with the source row (only where
   * `options.where` holds, when given).
   */
  whenMatchedUpdateAll(options?: MergeClauseOptions): MergeInsertBuilder {
    const where = clauseWhere(options, "whenMatchedUpdateAll");
    const { whenMatchedUpdateAllWhere: _previous, ...rest } = this.options;
    const next: MergeOptions = { ...rest, whenMatchedUpdateAll: true };
    if (where !== undefined) next.whenMatchedUpdateAllWhere = where;
    return new MergeInsertBuilder(this.inner, this.on, next);
  }

  /** Insert source rows that match no target row. */
  whenNotMatchedInsertAll(): MergeInsertBuilder {
    return new MergeInsertBuilder(this.inner, this.on, {
      ...this.options,
      whenNotMatchedInsertAll: true,
    });
  }

  /**
   * Delete target rows that match no source row (only where `options.where` holds,
   * when given).
   */
  whenNotMatchedBySourceDelete(options?: MergeClauseOptions): MergeInsertBuilder {
    const where = clauseWhere(options, "whenNotMatchedBySourceDelete");
    const { whenNotMatchedBySourceDeleteWhere: _previous, ...rest } = this.options;
    const next: MergeOptions = { ...rest, whenNotMatchedBySourceDelete: true };
    if (where !== undefined) next.whenNotMatchedBySourceDeleteWhere = where;
    return new MergeInsertBuilder(this.inner, this.on, next);
  }

  /**
   * Run the merge with `data` as the source, as one new table version.
   * `options.message` and `options.properties` are kept with that version.
   *
   * @throws {InvalidArgumentError} when no clause was chosen, or on an invalid message or
   *   properties.
   * @throws {ReadOnlyCheckoutError} when the table is a checked-out version.
   * @throws {SchemaMismatchError} when the source does not fit the table.
   */
  async execute(data: Data, options?: WriteOptions): Promise<MergeResult> {
    const o = this.options;
    if (!o.whenMatchedUpdateAll && !o.whenNotMatchedInsertAll && !o.whenNotMatchedBySourceDelete) {
      throw new InvalidArgumentError(
        "mergeInsert needs at least one of whenMatchedUpdateAll(), whenNotMatchedInsertAll() " +
          "or whenNotMatchedBySourceDelete() before execute()",
      );
    }
    const note = writeNote(options, "mergeInsert");
    const batches = await batchesForTable(this.inner, data, "present");
    const r = await callNative(() => this.inner.mergeInsert([...this.on], { ...o }, batches, note));
    return {
      version: resultNumber(r, "version", "mergeInsert"),
      numInsertedRows: resultNumber(r, "rowsAdded", "mergeInsert"),
      numUpdatedRows: resultNumber(r, "rowsUpdated", "mergeInsert"),
      numDeletedRows: resultNumber(r, "rowsDeleted", "mergeInsert"),
    };
  }
}

function clauseWhere(options: MergeClauseOptions | undefined, clause: string): string | undefined {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== "object") {
    throw new InvalidArgumentError(`${clause} options must be an object like { where: "..." }`);
  }
  if (options.where === undefined) return undefined;
  checkString(options.where, `${clause} where`);
  return options.where;
}
