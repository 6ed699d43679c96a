/**
 * Strict construction of Arrow `Data` from JS values for a known field type.
 *
 * Nothing is coerced: a value that does not already represent the column's type
 * exactly (a string for a number, 1.5 for an integer, 300 for an Int8, a 3-long
 * vector for FixedSizeList[4], ...) is a {@link SchemaMismatchError} naming the
 * column, the row and what was expected. @lancedb/lancedb stores NaN or pads short
 * vectors in those cases; silently corrupting a versioned table is worse than failing.
 *
 * Buffers are written directly into typed arrays (no apache-arrow builders) because
 * inputs of 100k+ rows of 384-dim vectors are the normal case.
 */
import * as arrow from "apache-arrow";
import { InvalidArgumentError, SchemaMismatchError } from "../errors";
import { TypeId } from "./duck";
import { mismatch, missing, type RowsContext, upperBound } from "./rows-context";

type Values = ArrayLike<unknown>;

const isNil = (v: unknown): v is null | undefined => v === null || v === undefined;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const MAX_INT32_OFFSET = 2147483647;

/** Validity bitmap of `values`; throws for nulls in a non-nullable field (unless masked). */
function validity(
  values: Values,
  nullable: boolean,
  ctx: RowsContext,
): { nullBitmap: Uint8Array | undefined; nullCount: number } {
  const n = values.length;
  const bitmap = new Uint8Array((n + 7) >> 3);
  let nullCount = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (isNil(v)) {
      if (!nullable && !(ctx.masked && ctx.masked[i] === 1)) throw missing(ctx, i, v);
      nullCount++;
    } else {
      bitmap[i >> 3]! |= 1 << (i & 7);
    }
  }
  // No bitmap at all when there are no nulls: that is what apache-arrow and Rust expect.
  return { nullBitmap: nullCount > 0 ? bitmap : undefined, nullCount };
}

/** A list-like JS value: an array or a numeric typed array (not a DataView). */
function isListValue(v: unknown): v is ArrayLike<unknown> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

/** An object we read fields from: not an array, typed array, Date, Map or Set. */
export function isStructValue(v: unknown): v is Record<string, unknown> {
  return (
    typeof v === "object" &&
    v !== null &&
    !Array.isArray(v) &&
    !ArrayBuffer.isView(v) &&
    !(v instanceof Date) &&
    !(v instanceof Map) &&
    !(v instanceof Set)
  );
}

function childField(type: arrow.DataType, index = 0): arrow.Field {
  const f = type.children?.[index];
  if (!f) throw new SchemaMismatchError(`Arrow type ${String(type)} has no child field ${index}`);
  return f;
}

// ---------------------------------------------------------------------------
// integers

function intRange(bitWidth: number, signed: boolean): [number, number] {
  if (signed) return [-(2 ** (bitWidth - 1)), 2 ** (bitWidth - 1) - 1];
  return [0, 2 ** bitWidth - 1];
}

function buildInt(type: arrow.Int, values: Values, ctx: RowsContext): ArrayBufferView {
  const n = values.length;
  const { bitWidth, isSigned } = type;
  const name = String(type);
  if (bitWidth === 64) {
    const out = isSigned ? new BigInt64Array(n) : new BigUint64Array(n);
    const [min, max] = isSigned ? [INT64_MIN, INT64_MAX] : [0n, UINT64_MAX];
    const expected = `a bigint in [${min}, ${max}] or a safe integer number (${name})`;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (isNil(v)) continue;
      if (typeof v === "bigint") {
        if (v < min || v > max) throw mismatch(ctx, i, expected, v);
        out[i] = v;
      } else if (typeof v === "number" && Number.isSafeInteger(v) && (isSigned || v >= 0)) {
        out[i] = BigInt(v);
      } else {
        throw mismatch(ctx, i, expected, v);
      }
    }
    return out;
  }
  const Ctor = type.ArrayType as Int8ArrayConstructor;
  const out = new Ctor(n);
  const [min, max] = intRange(bitWidth, isSigned);
  const expected = `an integer in [${min}, ${max}] (${name})`;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (isNil(v)) continue;
    if (typeof v === "number") {
      if (!Number.isInteger(v) || v < min || v > max) throw mismatch(ctx, i, expected, v);
      out[i] = v;
    } else if (typeof v === "bigint" && v >= BigInt(min) && v <= BigInt(max)) {
      out[i] = Number(v);
    } else {
      throw mismatch(ctx, i, expected, v);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// floats, bools

function buildFloat(type: arrow.Float, values: Values, ctx: RowsContext): ArrayBufferView {
  const n = values.length;
  const expected = `a number (${String(type)})`;
  if (type.precision === arrow.Precision.HALF) {
    const out = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (isNil(v)) continue;
      if (typeof v !== "number") throw mismatch(ctx, i, expected, v);
      out[i] = arrow.util.float64ToUint16(v);
    }
    return out;
  }
  const out = type.precision === arrow.Precision.SINGLE ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (isNil(v)) continue;
    if (typeof v !== "number") throw mismatch(ctx, i, expected, v);
    out[i] = v;
  }
  return out;
}

function buildBool(values: Values, ctx: RowsContext): Uint8Array {
  const n = values.length;
  const out = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (isNil(v)) continue;
    if (typeof v !== "boolean") throw mismatch(ctx, i, "a boolean (Bool)", v);
    if (v) out[i >> 3]! |= 1 << (i & 7);
  }
  return out;
}

// ---------------------------------------------------------------------------
// strings, binary

function buildUtf8(
  type: arrow.DataType,
  values: Values,
  ctx: RowsContext,
  large: boolean,
): { valueOffsets: Int32Array | BigInt64Array; data: Uint8Array } {
  const n = values.length;
  // Pass 1: validate and measure, so the values buffer is allocated once at its final size.
  let total = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (isNil(v)) continue;
    if (typeof v !== "string") throw mismatch(ctx, i, `a string (${String(type)})`, v);
    total += Buffer.byteLength(v, "utf8");
  }
  if (!large && total > MAX_INT32_OFFSET) {
    throw new SchemaMismatchError(
      `Column "${ctx.path}": ${total} bytes of text exceed the 2 GiB limit of Utf8 in one batch; declare the column LargeUtf8 or add the rows in smaller batches.`,
    );
  }
  // allocUnsafeSlow: not carved from Node's shared pool, so the view owns its memory.
  const data = Buffer.allocUnsafeSlow(total);
  const valueOffsets = large ? new BigInt64Array(n + 1) : new Int32Array(n + 1);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v === "string" && v.length > 0) pos += data.write(v, pos, "utf8");
    if (large) (valueOffsets as BigInt64Array)[i + 1] = BigInt(pos);
    else (valueOffsets as Int32Array)[i + 1] = pos;
  }
  return { valueOffsets, data: new Uint8Array(data.buffer, data.byteOffset, total) };
}

function buildBinary(
  type: arrow.DataType,
  values: Values,
  ctx: RowsContext,
  large: boolean,
): { valueOffsets: Int32Array | BigInt64Array; data: Uint8Array } {
  const n = values.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (isNil(v)) continue;
    if (!(v instanceof Uint8Array))
      throw mismatch(ctx, i, `a Uint8Array or Buffer (${String(type)})`, v);
    total += v.byteLength;
  }
  if (!large && total > MAX_INT32_OFFSET) {
    throw new SchemaMismatchError(
      `Column "${ctx.path}": ${total} bytes exceed the 2 GiB limit of Binary in one batch; declare the column LargeBinary or add the rows in smaller batches.`,
    );
  }
  const data = new Uint8Array(total);
  const valueOffsets = large ? new BigInt64Array(n + 1) : new Int32Array(n + 1);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v instanceof Uint8Array) {
      data.set(v, pos);
      pos += v.byteLength;
    }
    if (large) (valueOffsets as BigInt64Array)[i + 1] = BigInt(pos);
    else (valueOffsets as Int32Array)[i + 1] = pos;
  }
  return { valueOffsets, data };
}

function buildFixedSizeBinary(
  type: arrow.FixedSizeBinary,
  values: Values,
  ctx: RowsContext,
): Uint8Array {
  const n = values.length;
  const width = type.byteWidth;
  const out = new Uint8Array(n * width);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (isNil(v)) continue;
    if (!(v instanceof Uint8Array) || v.byteLength !== width) {
      throw mismatch(ctx, i, `a Uint8Array of exactly ${width} bytes (${String(type)})`, v);
    }
    out.set(v, i * width);
  }
  return out;
}

// ---------------------------------------------------------------------------
// dates, times, timestamps, durations

/** Epoch milliseconds of a valid Date, or undefined. */
function dateMs(v: unknown): number | undefined {
  if (!(v instanceof Date)) return undefined;
  const ms = v.getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Int64 temporal values: a bigint, a safe-integer number already in `unit`, or a
 * Date converted by `fromMs` (undefined when Dates are not accepted).
 */
function buildInt64Temporal(
  values: Values,
  ctx: RowsContext,
  expected: string,
  fromMs: ((ms: number) => bigint) | undefined,
): BigInt64Array {
  const n = values.length;
  const out = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (isNil(v)) continue;
    if (typeof v === "bigint") {
      if (v < INT64_MIN || v > INT64_MAX) throw mismatch(ctx, i, expected, v);
      out[i] = v;
    } else if (typeof v === "number") {
      if (!Number.isSafeInteger(v)) throw mismatch(ctx, i, expected, v);
      out[i] = BigInt(v);
    } else {
      const ms = fromMs ? dateMs(v) : undefined;
      if (ms === undefined || !fromMs) throw mismatch(ctx, i, expected, v);
      out[i] = fromMs(ms);
    }
  }
  return out;
}

/** Int32 temporal values (date32, time32): an integer number/bigint in range, or a Date via `fromMs`. */
function buildInt32Temporal(
  values: Values,
  ctx: RowsContext,
  expected: string,
  fromMs: ((ms: number) => number) | undefined,
): Int32Array {
  const n = values.length;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (isNil(v)) continue;
    let x: number | undefined;
    if (typeof v === "number") x = v;
    else if (typeof v === "bigint") x = v >= -(2n ** 31n) && v < 2n ** 31n ? Number(v) : undefined;
    else if (fromMs) {
      const ms = dateMs(v);
      x = ms === undefined ? undefined : fromMs(ms);
    }
    if (x === undefined || !Number.isInteger(x) || x < -(2 ** 31) || x >= 2 ** 31)
      throw mismatch(ctx, i, expected, v);
    out[i] = x;
  }
  return out;
}

const MS_PER_DAY = 86_400_000;

function buildDate(type: arrow.Date_, values: Values, ctx: RowsContext): ArrayBufferView {
  if (type.unit === arrow.DateUnit.DAY) {
    // A Date keeps its UTC calendar day (what apache-arrow's own DateDay builder does).
    return buildInt32Temporal(
      values,
      ctx,
      "a Date or an integer number of days since the epoch (Date32<DAY>)",
      (ms) => Math.floor(ms / MS_PER_DAY),
    );
  }
  return buildInt64Temporal(
    values,
    ctx,
    "a Date or an integer number of milliseconds since the epoch (Date64<MILLISECOND>)",
    (ms) => BigInt(ms),
  );
}

const UNIT_NAMES = ["seconds", "milliseconds", "microseconds", "nanoseconds"];

function buildTimestamp(type: arrow.Timestamp, values: Values, ctx: RowsContext): BigInt64Array {
  const unit = type.unit as number;
  const fromMs = [
    (ms: number) => BigInt(Math.floor(ms / 1000)),
    (ms: number) => BigInt(ms),
    (ms: number) => BigInt(ms) * 1000n,
    (ms: number) => BigInt(ms) * 1_000_000n,
  ][unit];
  const expected = `a Date, or an integer (number or bigint) of ${UNIT_NAMES[unit]} since the epoch (${String(type)})`;
  return buildInt64Temporal(values, ctx, expected, fromMs);
}

function buildTime(type: arrow.Time, values: Values, ctx: RowsContext): ArrayBufferView {
  const expected = `an integer (number or bigint) of ${UNIT_NAMES[type.unit as number]} since midnight (${String(type)})`;
  if (type.bitWidth === 32) return buildInt32Temporal(values, ctx, expected, undefined);
  return buildInt64Temporal(values, ctx, expected, undefined);
}

function buildDuration(type: arrow.Duration, values: Values, ctx: RowsContext): BigInt64Array {
  const expected = `an integer (number or bigint) of ${UNIT_NAMES[type.unit as number]} (${String(type)})`;
  return buildInt64Temporal(values, ctx, expected, undefined);
}

// ---------------------------------------------------------------------------
// nested

function buildList(
  type: arrow.List,
  values: Values,
  ctx: RowsContext,
): { valueOffsets: Int32Array; child: arrow.Data } {
  const n = values.length;
  const field = childField(type);
  const valueOffsets = new Int32Array(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!isNil(v)) {
      if (!isListValue(v)) throw mismatch(ctx, i, `an array (${String(type)})`, v);
      total += v.length;
      if (total > MAX_INT32_OFFSET) {
        throw new SchemaMismatchError(
          `Column "${ctx.path}": more than 2^31-1 list elements in one batch.`,
        );
      }
    }
    valueOffsets[i + 1] = total;
  }
  const childValues = new Array<unknown>(total);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (isNil(v)) continue;
    const list = v as ArrayLike<unknown>;
    for (let k = 0; k < list.length; k++) childValues[pos++] = list[k];
  }
  const childCtx: RowsContext = {
    path: `${ctx.path}[]`,
    rowOf: (j) => ctx.rowOf(upperBound(valueOffsets, j) - 1),
    masked: null,
  };
  return { valueOffsets, child: buildData(field, childValues, childCtx) };
}

/** Thrown inside the vector fast path to fall back to the general path (null elements). */
const NEEDS_GENERAL_PATH = Symbol("needs general path");

/**
 * FixedSizeList<Float32|Float64> straight into one typed array: the embedding case,
 * 100k+ rows x 384 dims, so no per-element allocation.
 */
function buildFloatVectors(
  type: arrow.FixedSizeList,
  field: arrow.Field,
  values: Values,
  ctx: RowsContext,
): arrow.Data {
  const n = values.length;
  const size = type.listSize;
  const childType = field.type as arrow.Float;
  const out =
    childType.precision === arrow.Precision.SINGLE
      ? new Float32Array(n * size)
      : new Float64Array(n * size);
  const expected = `an array of ${size} numbers (${String(type)})`;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (isNil(v)) continue; // zeros under a null slot; the parent's validity hides them
    if (v instanceof Float32Array || v instanceof Float64Array) {
      if (v.length !== size) throw mismatch(ctx, i, expected, v);
      out.set(v, i * size);
    } else if (Array.isArray(v)) {
      if (v.length !== size) throw mismatch(ctx, i, expected, v);
      const base = i * size;
      for (let k = 0; k < size; k++) {
        const x = v[k];
        if (typeof x !== "number") {
          if (isNil(x) && field.nullable) throw NEEDS_GENERAL_PATH;
          throw mismatch(ctx, i, `a number at index ${k} of the vector (${String(type)})`, x);
        }
        out[base + k] = x;
      }
    } else if (
      ArrayBuffer.isView(v) &&
      !(v instanceof DataView) &&
      !(v instanceof BigInt64Array) &&
      !(v instanceof BigUint64Array)
    ) {
      // Other numeric typed arrays hold numbers too; the schema asked for floats.
      const arr = v as unknown as ArrayLike<number>;
      if (arr.length !== size) throw mismatch(ctx, i, expected, v);
      out.set(arr, i * size);
    } else {
      throw mismatch(ctx, i, expected, v);
    }
  }
  return arrow.makeData({ type: childType, length: n * size, nullCount: 0, data: out } as never);
}

function buildFixedSizeList(
  type: arrow.FixedSizeList,
  values: Values,
  ctx: RowsContext,
): arrow.Data {
  const field = childField(type);
  const size = type.listSize;
  if (
    field.type.typeId === TypeId.Float &&
    (field.type as arrow.Float).precision !== arrow.Precision.HALF
  ) {
    try {
      return buildFloatVectors(type, field, values, ctx);
    } catch (e) {
      if (e !== NEEDS_GENERAL_PATH) throw e;
    }
  }
  const n = values.length;
  const childValues = new Array<unknown>(n * size).fill(null);
  const masked = new Uint8Array(n * size);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (isNil(v)) {
      masked.fill(1, i * size, (i + 1) * size);
      continue;
    }
    if (!isListValue(v) || v.length !== size)
      throw mismatch(ctx, i, `an array of exactly ${size} values (${String(type)})`, v);
    for (let k = 0; k < size; k++) childValues[i * size + k] = v[k];
  }
  const childCtx: RowsContext = {
    path: `${ctx.path}[]`,
    rowOf: (j) => ctx.rowOf(Math.floor(j / size)),
    masked,
  };
  return buildData(field, childValues, childCtx);
}

function buildStruct(type: arrow.Struct, values: Values, ctx: RowsContext): arrow.Data[] {
  const n = values.length;
  const fields = type.children;
  const names = new Set(fields.map((f) => f.name));
  const columns = fields.map(() => new Array<unknown>(n).fill(null));
  const masked = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (isNil(v)) {
      masked[i] = 1;
      continue;
    }
    if (!isStructValue(v))
      throw mismatch(ctx, i, `an object with fields ${[...names].join(", ")} (Struct)`, v);
    for (const key of Object.keys(v)) {
      if (!names.has(key) && v[key] !== undefined) {
        throw new SchemaMismatchError(
          `Column "${ctx.path}", row ${ctx.rowOf(i)}: field "${key}" is not in the struct (expected fields: ${[...names].join(", ")}).`,
        );
      }
    }
    for (let c = 0; c < fields.length; c++) columns[c]![i] = v[fields[c]!.name];
  }
  return fields.map((f, c) =>
    buildData(f, columns[c]!, {
      path: `${ctx.path}.${f.name}`,
      rowOf: ctx.rowOf,
      // A child slot under a null struct is null by construction (a masked struct slot is null too).
      masked,
    }),
  );
}

function buildMap(
  type: arrow.Map_,
  values: Values,
  ctx: RowsContext,
): { valueOffsets: Int32Array; child: arrow.Data } {
  const n = values.length;
  const entries = childField(type);
  const entriesType = entries.type as arrow.Struct;
  const [keyField, valueField] = [childField(entriesType, 0), childField(entriesType, 1)];
  const valueOffsets = new Int32Array(n + 1);
  const keys: unknown[] = [];
  const vals: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!isNil(v)) {
      if (v instanceof Map) {
        for (const [k, x] of v) {
          keys.push(k);
          vals.push(x);
        }
      } else if (isStructValue(v)) {
        for (const [k, x] of Object.entries(v)) {
          keys.push(k);
          vals.push(x);
        }
      } else {
        throw mismatch(ctx, i, `a Map or an object (${String(type)})`, v);
      }
    }
    valueOffsets[i + 1] = keys.length;
  }
  const rowOf = (j: number) => ctx.rowOf(upperBound(valueOffsets, j) - 1);
  const keyData = buildData(keyField, keys, {
    path: `${ctx.path}.${keyField.name}`,
    rowOf,
    masked: null,
  });
  const valueData = buildData(valueField, vals, {
    path: `${ctx.path}.${valueField.name}`,
    rowOf,
    masked: null,
  });
  const child = arrow.makeData({
    type: entriesType,
    length: keys.length,
    nullCount: 0,
    children: [keyData, valueData],
  });
  return { valueOffsets, child };
}

// ---------------------------------------------------------------------------

/**
 * Build the Arrow `Data` of `field` from `values` (one per slot), strictly.
 * `field.type` must be of this package's apache-arrow (see `normalizeSchema`).
 */
export function buildData(field: arrow.Field, values: Values, ctx: RowsContext): arrow.Data {
  const type = field.type;
  const length = values.length;
  if (type.typeId === TypeId.Null) {
    for (let i = 0; i < length; i++) {
      if (!isNil(values[i])) throw mismatch(ctx, i, "null (the column's type is Null)", values[i]);
    }
    return arrow.makeData({ type: type as arrow.Null, length });
  }
  const { nullBitmap, nullCount } = validity(values, field.nullable, ctx);
  const base = { type, length, nullCount, nullBitmap };
  const make = (props: Record<string, unknown>): arrow.Data =>
    arrow.makeData({ ...base, ...props } as never);

  switch (type.typeId) {
    case TypeId.Int:
      return make({ data: buildInt(type as arrow.Int, values, ctx) });
    case TypeId.Float:
      return make({ data: buildFloat(type as arrow.Float, values, ctx) });
    case TypeId.Bool:
      return make({ data: buildBool(values, ctx) });
    case TypeId.Utf8:
      return make(buildUtf8(type, values, ctx, false));
    case TypeId.LargeUtf8:
      return make(buildUtf8(type, values, ctx, true));
    case TypeId.Binary:
      return make(buildBinary(type, values, ctx, false));
    case TypeId.LargeBinary:
      return make(buildBinary(type, values, ctx, true));
    case TypeId.FixedSizeBinary:
      return make({ data: buildFixedSizeBinary(type as arrow.FixedSizeBinary, values, ctx) });
    case TypeId.Date:
      return make({ data: buildDate(type as arrow.Date_, values, ctx) });
    case TypeId.Timestamp:
      return make({ data: buildTimestamp(type as arrow.Timestamp, values, ctx) });
    case TypeId.Time:
      return make({ data: buildTime(type as arrow.Time, values, ctx) });
    case TypeId.Duration:
      return make({ data: buildDuration(type as arrow.Duration, values, ctx) });
    case TypeId.Decimal: {
      for (let i = 0; i < length; i++) {
        if (!isNil(values[i])) {
          throw new InvalidArgumentError(
            `Column "${ctx.path}", row ${ctx.rowOf(i)}: Decimal values are not supported from plain objects; pass Arrow data (an apache-arrow Table or RecordBatch) instead.`,
          );
        }
      }
      const words = ((type as arrow.Decimal).bitWidth ?? 128) / 32;
      return make({ data: new Uint32Array(length * words) });
    }
    case TypeId.List:
      return make(buildList(type as arrow.List, values, ctx));
    case TypeId.FixedSizeList:
      return make({ child: buildFixedSizeList(type as arrow.FixedSizeList, values, ctx) });
    case TypeId.Struct:
      return make({ children: buildStruct(type as arrow.Struct, values, ctx) });
    case TypeId.Map:
      return make(buildMap(type as arrow.Map_, values, ctx));
    default:
      throw new SchemaMismatchError(
        `Column "${ctx.path}": type ${String(type)} cannot be built from plain objects.`,
      );
  }
}
