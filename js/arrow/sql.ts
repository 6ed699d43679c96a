/**
 * JS values -> SQL text for Lance's expression parser (update `values`, filters built
 * by the facade). Lance parses with sqlparser's generic dialect plus backtick-quoted
 * identifiers, and plans with DataFusion; every form below is one it accepts:
 * - array literals `[1.5, 2.0]` are parsed by Lance itself but only hold plain literals,
 *   so arrays with NULL, NaN/Infinity or nested values use DataFusion's `make_array(...)`;
 * - `CAST('NaN' AS DOUBLE)`: arrow's float parser reads NaN / inf / -inf;
 * - `X'0aff'` hex literals are Binary; `named_struct('a', 1)` builds structs.
 */
import { InvalidArgumentError } from "../errors";

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

function quoteString(s: string): string {
  // Standard SQL escaping; the dialect does not treat backslash as an escape.
  return `'${s.replace(/'/g, "''")}'`;
}

/** A finite number as SQL; `float` forces a floating literal (1 -> 1.0) so arrays stay Float64. */
function numberLiteral(v: number, float: boolean): string {
  if (Number.isNaN(v)) return "CAST('NaN' AS DOUBLE)";
  if (v === Infinity) return "CAST('inf' AS DOUBLE)";
  if (v === -Infinity) return "CAST('-inf' AS DOUBLE)";
  if (Object.is(v, -0)) return "-0.0";
  const s = String(v); // shortest round-trip form; exponents ("1e+21") parse as floats
  if (float && Number.isInteger(v) && !/[.e]/.test(s)) return `${s}.0`;
  return s;
}

function isPlainLiteral(v: unknown): boolean {
  return (
    typeof v === "string" ||
    typeof v === "boolean" ||
    typeof v === "bigint" ||
    (typeof v === "number" && Number.isFinite(v) && !Object.is(v, -0))
  );
}

function arrayLiteral(items: ArrayLike<unknown>, floatArray: boolean): string {
  const list = Array.from(items);
  // Mixed integers and fractions would make Lance's literal array reject 2.5 after an
  // Int64 first element, so any fraction turns every number into a float literal.
  const float = floatArray || list.some((x) => typeof x === "number" && !Number.isInteger(x));
  const kinds = new Set(list.map((x) => (typeof x === "bigint" ? "number" : typeof x)));
  if (list.every(isPlainLiteral) && kinds.size <= 1) {
    return `[${list.map((x) => (typeof x === "number" ? numberLiteral(x, float) : toSqlLiteral(x))).join(", ")}]`;
  }
  return `make_array(${list.map((x) => (typeof x === "number" ? numberLiteral(x, float) : toSqlLiteral(x))).join(", ")})`;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/**
 * Render a JS value as a SQL literal that Lance/DataFusion parses back to the same value:
 * - `null` / `undefined` -> `NULL`; booleans -> `TRUE` / `FALSE`
 * - numbers -> `42`, `1.5`, `1e+21`; NaN / Infinity -> `CAST('NaN' AS DOUBLE)` / `CAST('inf' AS DOUBLE)`
 * - bigint -> `9007199254740993` (Int64 / UInt64 range only)
 * - strings -> `'it''s'`
 * - Date -> `CAST('2024-05-01T12:00:00.000' AS TIMESTAMP(3))` (UTC, millisecond, no time zone)
 * - Uint8Array / Buffer -> `X'0aff'`
 * - arrays / typed arrays -> `[1.0, 2.0]` (Float32Array/Float64Array always float), or
 *   `make_array(...)` when elements are null, non-finite, nested or of mixed kinds
 * - plain objects -> `named_struct('a', 1, 'b', 'x')`
 *
 * @throws InvalidArgumentError for anything else (functions, symbols, Maps, invalid Dates, ...).
 */
export function toSqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  switch (typeof value) {
    case "boolean":
      return value ? "TRUE" : "FALSE";
    case "number":
      return numberLiteral(value, false);
    case "bigint":
      if (value < INT64_MIN || value > UINT64_MAX) {
        throw new InvalidArgumentError(
          `bigint ${value} is outside the Int64/UInt64 range and has no SQL literal`,
        );
      }
      return String(value);
    case "string":
      return quoteString(value);
    case "object":
      break;
    default:
      throw new InvalidArgumentError(`Cannot use a ${typeof value} as a SQL value`);
  }
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms))
      throw new InvalidArgumentError("Cannot use an invalid Date as a SQL value");
    // ISO without the trailing Z: a naive timestamp read as UTC wall-clock time.
    return `CAST('${value.toISOString().slice(0, -1)}' AS TIMESTAMP(3))`;
  }
  if (value instanceof Uint8Array) return `X'${hex(value)}'`;
  if (Array.isArray(value)) return arrayLiteral(value, false);
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const floatArray = value instanceof Float32Array || value instanceof Float64Array;
    return arrayLiteral(value as unknown as ArrayLike<unknown>, floatArray);
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const entries = Object.entries(value as Record<string, unknown>).filter(
      ([, v]) => v !== undefined,
    );
    if (entries.length === 0)
      throw new InvalidArgumentError("Cannot use an empty object as a SQL struct value");
    return `named_struct(${entries.map(([k, v]) => `${quoteString(k)}, ${toSqlLiteral(v)}`).join(", ")})`;
  }
  throw new InvalidArgumentError(
    `Cannot use ${proto?.constructor?.name ?? "this object"} as a SQL value; use a string, number, bigint, boolean, Date, Uint8Array, array or plain object`,
  );
}

/**
 * Quote a column name for Lance SQL: backticks (Lance's identifier quote), with a
 * backtick inside the name doubled. The name is taken literally: `a.b` names a column
 * called "a.b", not field b of struct a.
 */
export function quoteIdentifier(name: string): string {
  if (typeof name !== "string" || name.length === 0) {
    throw new InvalidArgumentError("A column name must be a non-empty string");
  }
  return `\`${name.replace(/`/g, "``")}\``;
}
