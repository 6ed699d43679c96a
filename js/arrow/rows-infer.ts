/**
 * Schema inference for plain JS rows, used when the caller gives no schema.
 *
 * The rules are deliberately few and predictable (see {@link inferSchema}); anything
 * ambiguous (a column that is null everywhere, mixed kinds, integer typed arrays)
 * is an error asking for an explicit schema rather than a guess that would be
 * frozen into the table's first version.
 */
import * as arrow from "apache-arrow";
import { SchemaMismatchError } from "../errors";
import { isStructValue } from "./rows-build";
import { columnContext, describeValue, type RowsContext, upperBound } from "./rows-context";

type Kind = "number" | "bigint" | "string" | "boolean" | "date" | "binary" | "list" | "struct";

const isNil = (v: unknown): v is null | undefined => v === null || v === undefined;

function kindOf(v: unknown): Kind | undefined {
  switch (typeof v) {
    case "number":
    case "bigint":
    case "string":
    case "boolean":
      return typeof v as Kind;
    case "object":
      break;
    default:
      return undefined;
  }
  if (v instanceof Date) return "date";
  // Buffer is a Uint8Array; Uint8ClampedArray is not and is not treated as bytes.
  if (v instanceof Uint8Array) return "binary";
  if (Array.isArray(v) || v instanceof Float32Array || v instanceof Float64Array) return "list";
  if (ArrayBuffer.isView(v)) return undefined; // other typed arrays: ambiguous element type
  return isStructValue(v) ? "struct" : undefined;
}

function needSchema(ctx: RowsContext, why: string): SchemaMismatchError {
  return new SchemaMismatchError(
    `Column "${ctx.path}": ${why}; pass a schema (options.schema) to say what it holds.`,
  );
}

/** Infer a type from `values`; undefined when every value is null/undefined. */
function inferType(values: ArrayLike<unknown>, ctx: RowsContext): arrow.DataType | undefined {
  let kind: Kind | undefined;
  let first = -1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (isNil(v)) continue;
    const k = kindOf(v);
    if (k === undefined) {
      throw needSchema(
        ctx,
        `row ${ctx.rowOf(i)} holds ${describeValue(v)}, whose Arrow type cannot be inferred`,
      );
    }
    if (kind === undefined) {
      kind = k;
      first = i;
    } else if (k !== kind) {
      // number + bigint is one integer column (Int64 accepts safe-integer numbers).
      if ((k === "number" || k === "bigint") && (kind === "number" || kind === "bigint")) {
        kind = "bigint";
        continue;
      }
      throw new SchemaMismatchError(
        `Column "${ctx.path}", row ${ctx.rowOf(i)}: expected ${kind} like row ${ctx.rowOf(first)}, got ${describeValue(v)}; a column holds one type (pass a schema to be explicit).`,
      );
    }
  }
  switch (kind) {
    case undefined:
      return undefined;
    case "number":
      return new arrow.Float64();
    case "bigint":
      return new arrow.Int64();
    case "string":
      return new arrow.Utf8();
    case "boolean":
      return new arrow.Bool();
    case "date":
      return new arrow.TimestampMillisecond();
    case "binary":
      return new arrow.Binary();
    case "list":
      return inferList(values, ctx);
    case "struct":
      return inferStruct(values, ctx);
  }
}

/**
 * Number arrays are embedding vectors: Float32 elements, FixedSizeList when every
 * row has the same length, List otherwise. Other element kinds give List<inferred>.
 */
function inferList(values: ArrayLike<unknown>, ctx: RowsContext): arrow.DataType {
  let size = -1;
  let sameSize = true;
  let firstElement: unknown;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as ArrayLike<unknown> | null | undefined;
    if (isNil(v)) continue;
    if (size === -1) size = v.length;
    else if (v.length !== size) sameSize = false;
    if (firstElement === undefined) {
      for (let k = 0; k < v.length; k++) {
        if (!isNil(v[k])) {
          firstElement = v[k];
          break;
        }
      }
    }
  }
  if (firstElement === undefined)
    throw needSchema(ctx, "every list is empty or all-null, so its element type is unknown");
  if (typeof firstElement === "number") {
    const item = new arrow.Field("item", new arrow.Float32(), true);
    return sameSize && size > 0 ? new arrow.FixedSizeList(size, item) : new arrow.List(item);
  }
  // Flatten the elements and infer their type like a column of their own.
  const offsets: number[] = [0];
  const flat: unknown[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as ArrayLike<unknown> | null | undefined;
    if (!isNil(v)) for (let k = 0; k < v.length; k++) flat.push(v[k]);
    offsets.push(flat.length);
  }
  const childCtx: RowsContext = {
    path: `${ctx.path}[]`,
    rowOf: (j) => ctx.rowOf(upperBound(offsets, j) - 1),
    masked: null,
  };
  const child = inferType(flat, childCtx);
  if (!child) throw needSchema(childCtx, "every element is null");
  return new arrow.List(new arrow.Field("item", child, true));
}

/** Plain objects are structs; their keys (in first-seen order) become nullable children. */
function inferStruct(values: ArrayLike<unknown>, ctx: RowsContext): arrow.DataType {
  const keys = new Set<string>();
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!isNil(v)) for (const k of Object.keys(v as object)) keys.add(k);
  }
  if (keys.size === 0)
    throw needSchema(ctx, "every object is empty, and a struct needs at least one field");
  const fields = [...keys].map((key) => {
    const child = new Array<unknown>(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as Record<string, unknown> | null | undefined;
      child[i] = isNil(v) ? null : v[key];
    }
    const childCtx: RowsContext = { path: `${ctx.path}.${key}`, rowOf: ctx.rowOf, masked: null };
    const type = inferType(child, childCtx);
    if (!type) throw needSchema(childCtx, "the field is null or missing in every row");
    return new arrow.Field(key, type, true);
  });
  return new arrow.Struct(fields);
}

/**
 * Infer the field of the column `name` from its values (one per row). The field is nullable.
 * - number -> Float64; bigint (or bigint mixed with numbers) -> Int64; string -> Utf8;
 *   boolean -> Bool; Date -> Timestamp(millisecond, no timezone); Uint8Array/Buffer -> Binary
 * - arrays / Float32Array / Float64Array of numbers -> FixedSizeList<Float32>(n) when every
 *   row has the same length n, else List<Float32>; arrays of anything else -> List<inferred>
 * - plain objects -> Struct of the inferred keys
 * - a column null in every row, mixed kinds, other values -> {@link SchemaMismatchError}
 */
export function inferField(name: string, values: ArrayLike<unknown>): arrow.Field {
  const ctx = columnContext(name);
  const type = inferType(values, ctx);
  if (!type)
    throw needSchema(
      ctx,
      "the value is null or missing in every row, so its type cannot be inferred",
    );
  return new arrow.Field(name, type, true);
}
