/**
 * Structural ("duck") types for apache-arrow objects.
 *
 * Users may build their data with any apache-arrow major from 15 to 21, and a
 * project can hold several copies of the library at once, so `instanceof` checks
 * against our own copy would reject perfectly good data. Everything that reads a
 * user's Arrow object goes through these shapes instead: numeric `typeId`s, `.data`,
 * `.batches`, `.schema.fields`. They are stable across all supported majors.
 */

/**
 * `Type` enum values of apache-arrow JS (stable across 15..21). `type.typeId`
 * always reports the base id (e.g. `Int`, never `Int32`), except `Dictionary` (-1).
 */
export const TypeId = {
  Null: 1,
  Int: 2,
  Float: 3,
  Binary: 4,
  Utf8: 5,
  Bool: 6,
  Decimal: 7,
  Date: 8,
  Time: 9,
  Timestamp: 10,
  Interval: 11,
  List: 12,
  Struct: 13,
  Union: 14,
  FixedSizeBinary: 15,
  FixedSizeList: 16,
  Map: 17,
  Duration: 18,
  LargeBinary: 19,
  LargeUtf8: 20,
  Dictionary: -1,
} as const;

/** Any apache-arrow `DataType`: only `typeId` is guaranteed, the rest depends on it. */
export interface DataTypeLike {
  readonly typeId: number;
  // Parameters, present depending on typeId. Typed `unknown`: they come from user objects.
  readonly bitWidth?: unknown;
  readonly isSigned?: unknown;
  readonly precision?: unknown;
  readonly scale?: unknown;
  readonly unit?: unknown;
  readonly timezone?: unknown;
  readonly byteWidth?: unknown;
  readonly listSize?: unknown;
  readonly keysSorted?: unknown;
  readonly children?: readonly FieldLike[] | null;
  /** Value type of a dictionary type. */
  readonly dictionary?: unknown;
}

/** Any apache-arrow `Field`. */
export interface FieldLike {
  readonly name: string;
  readonly type: DataTypeLike;
  readonly nullable: boolean;
  readonly metadata?: Map<string, string> | null;
}

/** Any apache-arrow `Schema`. */
export interface SchemaLike {
  readonly fields: readonly FieldLike[];
  readonly metadata?: Map<string, string> | null;
}

/** Anything with a typed-array-like byte layout. */
export type BufferLike = ArrayBufferView & { readonly length: number };

/** Any apache-arrow `Data` (one array node, possibly a slice of a larger one). */
export interface DataLike {
  readonly type: DataTypeLike;
  readonly length: number;
  readonly offset: number;
  readonly nullCount: number;
  readonly stride?: number;
  readonly nullBitmap?: Uint8Array | null;
  /** Values buffer; a typed array (`unknown` because Data<Struct> types it as rows). */
  readonly values?: unknown;
  /** Int32Array (or BigInt64Array for large types) of length + 1 entries. */
  readonly valueOffsets?: unknown;
  readonly children: readonly DataLike[];
  /** Present on dictionary-encoded data: a Vector of the dictionary values. */
  readonly dictionary?: VectorLike | null;
}

/** Any apache-arrow `Vector` (only what we read from dictionaries). */
export interface VectorLike {
  readonly length: number;
  get(index: number): unknown;
}

/** Any apache-arrow `RecordBatch`. */
export interface RecordBatchLike {
  readonly schema: SchemaLike;
  readonly data: DataLike;
  readonly numRows: number;
}

/** Any apache-arrow `Table`. */
export interface TableLike {
  readonly schema: SchemaLike;
  readonly batches: readonly RecordBatchLike[];
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null;
}

/** True for any apache-arrow `Schema` (any major 15..21). */
export function isSchemaLike(x: unknown): x is SchemaLike {
  return isObject(x) && Array.isArray(x.fields) && !("batches" in x) && !("data" in x);
}

/** True for any apache-arrow `RecordBatch` (any major 15..21). */
export function isRecordBatchLike(x: unknown): x is RecordBatchLike {
  if (!isObject(x)) return false;
  const data = x.data;
  const schema = x.schema;
  return (
    isObject(data) &&
    Array.isArray(data.children) &&
    isObject(data.type) &&
    isObject(schema) &&
    Array.isArray(schema.fields) &&
    typeof x.numRows === "number"
  );
}

/** True for any apache-arrow `Table` (any major 15..21). */
export function isTableLike(x: unknown): x is TableLike {
  if (!isObject(x)) return false;
  const schema = x.schema;
  return Array.isArray(x.batches) && isObject(schema) && Array.isArray(schema.fields);
}
