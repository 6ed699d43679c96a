/**
 * Arrow schemas <-> the JSON schema of the native boundary (docs/native-contract.md).
 *
 * The JSON form is what crosses to Rust; it is also how we normalise a schema built
 * with any apache-arrow major (15..21) into our own copy's classes.
 */
import * as arrow from "apache-arrow";
import { InvalidArgumentError, SchemaMismatchError } from "../errors";
import { type DataTypeLike, type FieldLike, type SchemaLike, TypeId } from "./duck";

/** Time unit names of the contract, indexed by apache-arrow's `TimeUnit` enum value. */
export type TimeUnitJson = "second" | "millisecond" | "microsecond" | "nanosecond";

/** A data type on the native boundary. */
export type TypeJson =
  | { type: "null" }
  | { type: "bool" }
  | { type: "int"; bitWidth: 8 | 16 | 32 | 64; signed: boolean }
  | { type: "float"; precision: "half" | "single" | "double" }
  | { type: "utf8" }
  | { type: "largeUtf8" }
  | { type: "binary" }
  | { type: "largeBinary" }
  | { type: "fixedSizeBinary"; byteWidth: number }
  | { type: "date"; unit: "day" | "millisecond" }
  | { type: "timestamp"; unit: TimeUnitJson; timezone: string | null }
  | { type: "time"; unit: TimeUnitJson; bitWidth: 32 | 64 }
  | { type: "duration"; unit: TimeUnitJson }
  | { type: "decimal"; precision: number; scale: number; bitWidth: 128 | 256 }
  | { type: "list"; child: FieldJson }
  | { type: "largeList"; child: FieldJson }
  | { type: "fixedSizeList"; listSize: number; child: FieldJson }
  | { type: "struct"; children: FieldJson[] }
  | { type: "map"; child: FieldJson; keysSorted: boolean };

/** A field on the native boundary. */
export interface FieldJson {
  name: string;
  nullable: boolean;
  type: TypeJson;
  metadata?: Record<string, string>;
}

/** A schema on the native boundary. */
export interface SchemaJson {
  fields: FieldJson[];
  metadata?: Record<string, string>;
}

/**
 * A record batch on the native boundary: JSON schema plus raw buffers, no IPC.
 * `nodes` holds `[length, nullCount, offset]` per array node, depth-first pre-order;
 * `buffers` holds each node's buffers in the order the contract lists.
 */
export interface WireBatch {
  /** {@link SchemaJson}, JSON-encoded. */
  schema: string;
  numRows: number;
  nodes: number[];
  buffers: (Uint8Array | null)[];
}

const TIME_UNITS: readonly TimeUnitJson[] = ["second", "millisecond", "microsecond", "nanosecond"];
const PRECISIONS = ["half", "single", "double"] as const;

function unsupported(type: DataTypeLike, why: string): SchemaMismatchError {
  return new SchemaMismatchError(`Arrow type ${describeType(type)} is not supported: ${why}`);
}

function describeType(type: DataTypeLike): string {
  // apache-arrow types print themselves (e.g. "Dictionary<Int32, Utf8>"); fall back to the id.
  const s = typeof type.toString === "function" ? String(type) : "";
  return s && s !== "[object Object]" ? s : `typeId ${type.typeId}`;
}

function timeUnit(type: DataTypeLike): TimeUnitJson {
  const unit = TIME_UNITS[type.unit as number];
  if (unit === undefined) throw unsupported(type, `unknown time unit ${String(type.unit)}`);
  return unit;
}

function metadataToJson(meta: unknown): Record<string, string> | undefined {
  // Arrow JS keeps metadata as a Map; accept a plain record too for hand-made objects.
  if (meta == null) return undefined;
  const entries: [string, string][] =
    meta instanceof Map ? [...meta.entries()] : Object.entries(meta as Record<string, string>);
  if (entries.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of entries) out[String(k)] = String(v);
  return out;
}

function childField(type: DataTypeLike, index = 0): FieldLike {
  const children = type.children as readonly FieldLike[] | undefined;
  const child = children?.[index];
  if (!child) throw unsupported(type, "it has no child field");
  return child;
}

/**
 * Convert any apache-arrow `DataType` (majors 15..21) to its {@link TypeJson}.
 * Dictionary types become their value type, because dictionary columns are decoded
 * before they cross the boundary. Union and interval types have no Lance
 * equivalent and throw {@link SchemaMismatchError}.
 */
export function typeToJson(type: DataTypeLike): TypeJson {
  switch (type.typeId) {
    case TypeId.Null:
      return { type: "null" };
    case TypeId.Bool:
      return { type: "bool" };
    case TypeId.Int: {
      const bitWidth = type.bitWidth as number;
      if (bitWidth !== 8 && bitWidth !== 16 && bitWidth !== 32 && bitWidth !== 64) {
        throw unsupported(type, `integer bit width ${bitWidth}`);
      }
      return { type: "int", bitWidth, signed: Boolean(type.isSigned) };
    }
    case TypeId.Float: {
      const precision = PRECISIONS[type.precision as number];
      if (precision === undefined)
        throw unsupported(type, `float precision ${String(type.precision)}`);
      return { type: "float", precision };
    }
    case TypeId.Utf8:
      return { type: "utf8" };
    case TypeId.LargeUtf8:
      return { type: "largeUtf8" };
    case TypeId.Binary:
      return { type: "binary" };
    case TypeId.LargeBinary:
      return { type: "largeBinary" };
    case TypeId.FixedSizeBinary:
      return { type: "fixedSizeBinary", byteWidth: type.byteWidth as number };
    case TypeId.Date:
      // DateUnit: DAY = 0, MILLISECOND = 1.
      return { type: "date", unit: type.unit === 0 ? "day" : "millisecond" };
    case TypeId.Timestamp: {
      const tz = type.timezone;
      return {
        type: "timestamp",
        unit: timeUnit(type),
        timezone: typeof tz === "string" && tz !== "" ? tz : null,
      };
    }
    case TypeId.Time: {
      const bitWidth = type.bitWidth as number;
      if (bitWidth !== 32 && bitWidth !== 64) throw unsupported(type, `time bit width ${bitWidth}`);
      return { type: "time", unit: timeUnit(type), bitWidth };
    }
    case TypeId.Duration:
      return { type: "duration", unit: timeUnit(type) };
    case TypeId.Decimal: {
      // `bitWidth` appeared after some 15.x builds had Decimal; 128 was the only width then.
      const bitWidth = (type.bitWidth as number | undefined) ?? 128;
      if (bitWidth !== 128 && bitWidth !== 256)
        throw unsupported(type, `decimal bit width ${bitWidth}`);
      return {
        type: "decimal",
        precision: type.precision as number,
        scale: type.scale as number,
        bitWidth,
      };
    }
    case TypeId.List:
      return { type: "list", child: fieldToJson(childField(type)) };
    case TypeId.FixedSizeList:
      return {
        type: "fixedSizeList",
        listSize: type.listSize as number,
        child: fieldToJson(childField(type)),
      };
    case TypeId.Struct: {
      const children = (type.children as readonly FieldLike[] | undefined) ?? [];
      return { type: "struct", children: children.map(fieldToJson) };
    }
    case TypeId.Map:
      return {
        type: "map",
        child: fieldToJson(childField(type)),
        keysSorted: Boolean(type.keysSorted),
      };
    case TypeId.Dictionary: {
      const valueType = type.dictionary as DataTypeLike | undefined;
      if (!valueType) throw unsupported(type, "dictionary without a value type");
      return typeToJson(valueType);
    }
    case TypeId.Union:
      throw unsupported(type, "union types cannot be stored in a Lance table");
    case TypeId.Interval:
      throw unsupported(type, "interval types cannot be stored in a Lance table; use duration");
    default:
      throw unsupported(type, "this apache-arrow type has no Lance equivalent");
  }
}

/** Convert any apache-arrow `Field` to its {@link FieldJson}. */
export function fieldToJson(field: FieldLike): FieldJson {
  const out: FieldJson = {
    name: String(field.name),
    nullable: Boolean(field.nullable),
    type: typeToJson(field.type),
  };
  const metadata = metadataToJson(field.metadata);
  if (metadata) out.metadata = metadata;
  return out;
}

/** Convert any apache-arrow `Schema` (majors 15..21) to its {@link SchemaJson}. */
export function schemaToJson(schema: SchemaLike): SchemaJson {
  const out: SchemaJson = { fields: schema.fields.map(fieldToJson) };
  const metadata = metadataToJson(schema.metadata);
  if (metadata) out.metadata = metadata;
  return out;
}

// ---------------------------------------------------------------------------
// JSON -> our apache-arrow classes

function bad(what: string, json: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`Invalid schema JSON: ${what} (got ${JSON.stringify(json)})`);
}

function timeUnitFromJson(unit: unknown, json: unknown): arrow.TimeUnit {
  const index = TIME_UNITS.indexOf(unit as TimeUnitJson);
  if (index < 0) throw bad(`unknown time unit "${String(unit)}"`, json);
  // TimeUnit enum: SECOND = 0 .. NANOSECOND = 3, same order as TIME_UNITS.
  return index as arrow.TimeUnit;
}

function metadataFromJson(meta: unknown): Map<string, string> | null {
  if (meta == null) return null;
  if (typeof meta !== "object") throw bad("metadata must be an object of strings", meta);
  return new Map(Object.entries(meta as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

/**
 * Build an apache-arrow `DataType` (of this package's apache-arrow) from {@link TypeJson}.
 *
 * `largeList` has no apache-arrow JS class (as of 21), so it maps to `List`;
 * the wire decoder narrows the 64-bit offsets when it meets one.
 */
export function typeFromJson(json: TypeJson): arrow.DataType {
  if (typeof json !== "object" || json === null) throw bad("a type must be an object", json);
  switch (json.type) {
    case "null":
      return new arrow.Null();
    case "bool":
      return new arrow.Bool();
    case "int": {
      const { bitWidth, signed } = json;
      switch (bitWidth) {
        case 8:
          return signed ? new arrow.Int8() : new arrow.Uint8();
        case 16:
          return signed ? new arrow.Int16() : new arrow.Uint16();
        case 32:
          return signed ? new arrow.Int32() : new arrow.Uint32();
        case 64:
          return signed ? new arrow.Int64() : new arrow.Uint64();
        default:
          throw bad("int bitWidth must be 8, 16, 32 or 64", json);
      }
    }
    case "float":
      switch (json.precision) {
        case "half":
          return new arrow.Float16();
        case "single":
          return new arrow.Float32();
        case "double":
          return new arrow.Float64();
        default:
          throw bad('float precision must be "half", "single" or "double"', json);
      }
    case "utf8":
      return new arrow.Utf8();
    case "largeUtf8":
      return new arrow.LargeUtf8();
    case "binary":
      return new arrow.Binary();
    case "largeBinary":
      return new arrow.LargeBinary();
    case "fixedSizeBinary":
      if (!Number.isInteger(json.byteWidth) || json.byteWidth < 0)
        throw bad("byteWidth must be an integer >= 0", json);
      return new arrow.FixedSizeBinary(json.byteWidth);
    case "date":
      if (json.unit === "day") return new arrow.DateDay();
      if (json.unit === "millisecond") return new arrow.DateMillisecond();
      throw bad('date unit must be "day" or "millisecond"', json);
    case "timestamp":
      return new arrow.Timestamp(timeUnitFromJson(json.unit, json), json.timezone ?? null);
    case "time": {
      const unit = timeUnitFromJson(json.unit, json);
      if (json.bitWidth !== 32 && json.bitWidth !== 64)
        throw bad("time bitWidth must be 32 or 64", json);
      return new arrow.Time(unit as never, json.bitWidth);
    }
    case "duration":
      return new arrow.Duration(timeUnitFromJson(json.unit, json));
    case "decimal":
      if (json.bitWidth !== 128 && json.bitWidth !== 256)
        throw bad("decimal bitWidth must be 128 or 256", json);
      return new arrow.Decimal(json.scale, json.precision, json.bitWidth);
    case "list":
    case "largeList":
      return new arrow.List(fieldFromJson(json.child));
    case "fixedSizeList":
      if (!Number.isInteger(json.listSize) || json.listSize < 0)
        throw bad("listSize must be an integer >= 0", json);
      return new arrow.FixedSizeList(json.listSize, fieldFromJson(json.child));
    case "struct":
      if (!Array.isArray(json.children)) throw bad("struct children must be an array", json);
      return new arrow.Struct(json.children.map(fieldFromJson));
    case "map":
      return new arrow.Map_(
        fieldFromJson(json.child) as arrow.Field<arrow.Struct>,
        Boolean(json.keysSorted),
      );
    default:
      throw bad(`unknown type "${String((json as { type?: unknown }).type)}"`, json);
  }
}

/** Build an apache-arrow `Field` from {@link FieldJson}. */
export function fieldFromJson(json: FieldJson): arrow.Field {
  if (typeof json !== "object" || json === null || typeof json.name !== "string") {
    throw bad("a field must be an object with a string name", json);
  }
  return new arrow.Field(
    json.name,
    typeFromJson(json.type),
    json.nullable !== false,
    metadataFromJson(json.metadata),
  );
}

/**
 * Build an apache-arrow `Schema` from {@link SchemaJson} or its JSON text
 * (what the native module returns from `schema()`).
 */
export function schemaFromJson(json: SchemaJson | string): arrow.Schema {
  let parsed: unknown = json;
  if (typeof json === "string") {
    try {
      parsed = JSON.parse(json);
    } catch (cause) {
      throw new InvalidArgumentError(`Invalid schema JSON: ${(cause as Error).message}`, { cause });
    }
  }
  const obj = parsed as SchemaJson;
  if (typeof obj !== "object" || obj === null || !Array.isArray(obj.fields)) {
    throw bad("a schema must be an object with a fields array", parsed);
  }
  return new arrow.Schema(obj.fields.map(fieldFromJson), metadataFromJson(obj.metadata));
}

/**
 * Re-create any apache-arrow `Schema` (majors 15..21) with this package's apache-arrow
 * classes, dictionary fields replaced by their value types.
 */
export function normalizeSchema(schema: SchemaLike): arrow.Schema {
  return schemaFromJson(schemaToJson(schema));
}
