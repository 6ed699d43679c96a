/**
 * Turning write input ({@link Data}) into wire batches for the native side.
 *
 * Internal: not part of the public API.
 */
import {
  isRecordBatchLike,
  isTableLike,
  type SchemaJson,
  schemaFromJson,
  toWireBatches,
  type WireBatch,
} from "./arrow";
import { callNative } from "./native-loader";
import type { NativeTable } from "./native-types";
import type { Data } from "./types";

/** True when `data` is a non-empty array of plain row objects (not Arrow tables/batches). */
export function isPlainRows(data: unknown): data is readonly Record<string, unknown>[] {
  return (
    Array.isArray(data) &&
    data.length > 0 &&
    data.every(
      (r) =>
        typeof r === "object" &&
        r !== null &&
        !Array.isArray(r) &&
        !isTableLike(r) &&
        !isRecordBatchLike(r),
    )
  );
}

/** The table's current schema as {@link SchemaJson}. */
export async function tableSchemaJson(inner: NativeTable): Promise<SchemaJson> {
  const text = await callNative(() => inner.schema());
  return JSON.parse(text) as SchemaJson;
}

/**
 * How plain rows are typed when written to an existing table:
 * - `"full"`: with the table's whole schema (missing nullable columns become null);
 * - `"present"`: with the table's schema restricted to the columns the rows name
 *   (for merge-insert, whose source may carry only the key and the changed columns).
 */
export type RowTarget = "full" | "present";

/**
 * Convert write input for an existing table. Plain rows are typed with the table's
 * schema (never coerced; values that do not fit are `SCHEMA_MISMATCH`); Arrow input is
 * passed as it is, and the native side checks it against the table.
 */
export async function batchesForTable(
  inner: NativeTable,
  data: Data,
  target: RowTarget,
): Promise<WireBatch[]> {
  if (!isPlainRows(data)) return toWireBatches(data);
  const schema = await tableSchemaJson(inner);
  return toWireBatches(data, schemaFromJson(target === "full" ? schema : present(schema, data)));
}

/**
 * `schema` restricted to the columns the rows name (in table order). When a row names a
 * column the table lacks, the whole schema is returned so the conversion reports it.
 */
function present(schema: SchemaJson, rows: readonly Record<string, unknown>[]): SchemaJson {
  const names = new Set<string>();
  for (const row of rows) {
    for (const [k, v] of Object.entries(row)) if (v !== undefined) names.add(k);
  }
  const known = new Set(schema.fields.map((f) => f.name));
  for (const n of names) if (!known.has(n)) return schema;
  return { ...schema, fields: schema.fields.filter((f) => names.has(f.name)) };
}
