// Test helpers: read apache-arrow tables back as plain JS values, so two tables can be
// compared by content (schema + every cell) regardless of how their buffers are sliced.
import type * as arrow from "apache-arrow";
import { schemaToJson } from "../../js/arrow";

/** Normalise one cell: vectors/rows/typed arrays to arrays and objects, bigint to "5n". */
export function plain(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "number" && Number.isNaN(v)) return "NaN";
  if (typeof v !== "object") return v;
  if (v instanceof Date) return v.toISOString();
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<unknown>, plain);
  if (Array.isArray(v)) return v.map(plain);
  const obj = v as { toJSON?: () => unknown; [Symbol.iterator]?: unknown; type?: unknown };
  // Vectors (list cells) iterate their elements, nulls included.
  if (obj.type !== undefined && typeof obj[Symbol.iterator] === "function") {
    return [...(v as Iterable<unknown>)].map(plain);
  }
  // StructRow / MapRow.
  if (typeof obj.toJSON === "function") {
    const json = obj.toJSON() as Record<string, unknown>;
    return Object.fromEntries(Object.entries(json).map(([k, x]) => [k, plain(x)]));
  }
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
}

/** Every cell of the table, row by row, as plain values keyed by column name. */
export function tableRows(t: arrow.Table): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  const columns = t.schema.fields.map((f, i) => [f.name, t.getChildAt(i)!] as const);
  for (let r = 0; r < t.numRows; r++) {
    const row: Record<string, unknown> = {};
    for (const [name, col] of columns) row[name] = plain(col.get(r));
    rows.push(row);
  }
  return rows;
}

/** Schema as contract JSON plus all rows: equal iff the tables hold the same data. */
export function tableContent(t: arrow.Table): {
  schema: unknown;
  numRows: number;
  rows: Record<string, unknown>[];
} {
  return { schema: schemaToJson(t.schema), numRows: t.numRows, rows: tableRows(t) };
}
