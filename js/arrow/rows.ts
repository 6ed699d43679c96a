/**
 * Plain JS rows -> apache-arrow Table, strictly (see rows-build.ts for the rules).
 */
import * as arrow from "apache-arrow";
import { InvalidArgumentError, SchemaMismatchError } from "../errors";
import { isSchemaLike, type SchemaLike } from "./duck";
import { buildData } from "./rows-build";
import { columnContext } from "./rows-context";
import { inferField } from "./rows-infer";
import { normalizeSchema } from "./schema-json";

function checkRows(rows: unknown): asserts rows is Record<string, unknown>[] {
  if (!Array.isArray(rows)) throw new InvalidArgumentError("Expected an array of row objects");
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (typeof row !== "object" || row === null || Array.isArray(row) || ArrayBuffer.isView(row)) {
      throw new InvalidArgumentError(
        `Row ${i} is not an object (got ${row === null ? "null" : Array.isArray(row) ? "an array" : typeof row}); each row must map column names to values.`,
      );
    }
  }
}

/** Column names in first-seen order across all rows; keys whose value is undefined count as absent. */
function columnNames(rows: readonly Record<string, unknown>[]): string[] {
  const names = new Set<string>();
  for (const row of rows) {
    for (const key of Object.keys(row)) if (row[key] !== undefined) names.add(key);
  }
  return [...names];
}

/** Reject keys the schema does not have: they would otherwise be dropped silently. */
function checkKeys(rows: readonly Record<string, unknown>[], schema: arrow.Schema): void {
  const names = new Set(schema.fields.map((f) => f.name));
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    for (const key of Object.keys(row)) {
      if (!names.has(key) && row[key] !== undefined) {
        throw new SchemaMismatchError(
          `Column "${key}", row ${i}: the column is not in the schema (columns: ${[...names].join(", ")}).`,
        );
      }
    }
  }
}

function columnValues(rows: readonly Record<string, unknown>[], name: string): unknown[] {
  const values = new Array<unknown>(rows.length);
  for (let i = 0; i < rows.length; i++) values[i] = rows[i]![name];
  return values;
}

/**
 * Build an apache-arrow `Table` (one record batch) from plain row objects.
 *
 * With `schema` (any apache-arrow major 15..21; dictionary fields are built as their
 * value type), every value must already be of its column's type: no value is coerced,
 * unknown keys and nulls in non-nullable fields are rejected. Without `schema`, the
 * schema is inferred (see {@link inferField}); inferred fields are nullable.
 *
 * @throws SchemaMismatchError naming the column, the row index and what was expected.
 * @throws InvalidArgumentError for non-object rows and Decimal values.
 */
export function rowsToTable(rows: Record<string, unknown>[], schema?: SchemaLike): arrow.Table {
  checkRows(rows);
  if (schema !== undefined && schema !== null && !isSchemaLike(schema)) {
    throw new InvalidArgumentError("schema must be an apache-arrow Schema");
  }
  let target: arrow.Schema;
  const columns = new Map<string, unknown[]>();
  if (schema) {
    target = normalizeSchema(schema);
    checkKeys(rows, target);
  } else {
    if (rows.length === 0) {
      throw new SchemaMismatchError(
        "No rows to infer a schema from; pass a schema (options.schema) for an empty table.",
      );
    }
    const names = columnNames(rows);
    if (names.length === 0)
      throw new SchemaMismatchError("The rows have no columns; pass a schema or rows with values.");
    const fields = names.map((name) => {
      const values = columnValues(rows, name);
      columns.set(name, values);
      return inferField(name, values);
    });
    target = new arrow.Schema(fields);
  }
  if (rows.length === 0) return new arrow.Table(target);
  const children = target.fields.map((field) =>
    buildData(
      field,
      columns.get(field.name) ?? columnValues(rows, field.name),
      columnContext(field.name),
    ),
  );
  const data = arrow.makeData({
    type: new arrow.Struct(target.fields),
    length: rows.length,
    nullCount: 0,
    children,
  });
  return new arrow.Table(target, new arrow.RecordBatch(target, data));
}
