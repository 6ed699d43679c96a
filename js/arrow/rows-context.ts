/**
 * Where a value sits while plain rows are turned into Arrow, and the error messages
 * that point the user at it. Every rejection names the column (path), the row index
 * in the caller's array, what was expected and what was found.
 */
import { SchemaMismatchError } from "../errors";

/** Position of the values being built, for error messages. */
export interface RowsContext {
  /** Column path as the user wrote it: `vec`, `meta.author`, `tags[]`. */
  readonly path: string;
  /** Maps an index into the values being built to the row index of the caller's array. */
  rowOf(index: number): number;
  /**
   * 1 where the parent (a struct or fixed-size list slot) is null: the value there is
   * null by construction and must not trip the non-nullable check.
   */
  readonly masked: Uint8Array | null;
}

/** Context of a top-level column. */
export function columnContext(name: string): RowsContext {
  return { path: name, rowOf: (i) => i, masked: null };
}

/** First index `k` with `offsets[k] > value` (offsets ascending), used to map list elements to rows. */
export function upperBound(offsets: ArrayLike<number>, value: number): number {
  let lo = 0;
  let hi = offsets.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (offsets[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Short human description of a JS value for error messages. */
export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  switch (typeof v) {
    case "string": {
      const s = v.length > 40 ? `${v.slice(0, 40)}...` : v;
      return `string ${JSON.stringify(s)}`;
    }
    case "number":
    case "boolean":
      return `${typeof v} ${String(v)}`;
    case "bigint":
      return `bigint ${String(v)}n`;
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
    default:
      break;
  }
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (v instanceof Date)
    return `Date ${Number.isNaN(v.getTime()) ? "Invalid Date" : v.toISOString()}`;
  if (ArrayBuffer.isView(v)) {
    const len = (v as unknown as { length?: number }).length ?? v.byteLength;
    return `a ${v.constructor?.name ?? "typed array"} of length ${len}`;
  }
  const name = (v as object).constructor?.name;
  return name && name !== "Object" ? `a ${name}` : "an object";
}

/** `Column "x", row 3: expected ..., got ...` as a {@link SchemaMismatchError}. */
export function mismatch(
  ctx: RowsContext,
  index: number,
  expected: string,
  got: unknown,
): SchemaMismatchError {
  return new SchemaMismatchError(
    `Column "${ctx.path}", row ${ctx.rowOf(index)}: expected ${expected}, got ${describeValue(got)}.`,
  );
}

/** Error for a null/missing value in a non-nullable field. */
export function missing(ctx: RowsContext, index: number, got: unknown): SchemaMismatchError {
  return new SchemaMismatchError(
    `Column "${ctx.path}", row ${ctx.rowOf(index)}: value is ${got === undefined ? "missing" : "null"} but the field is not nullable.`,
  );
}
