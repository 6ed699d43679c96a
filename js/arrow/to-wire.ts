/**
 * Everything the public API accepts as "data" -> wire batches for the native module.
 */
import type * as arrow from "apache-arrow";
import { InvalidArgumentError } from "../errors";
import {
  isRecordBatchLike,
  isTableLike,
  type RecordBatchLike,
  type SchemaLike,
  type TableLike,
} from "./duck";
import { rowsToTable } from "./rows";
import { schemaToJson, type WireBatch } from "./schema-json";
import { decodeTable } from "./wire-decode";
import { encodeRecordBatch, encodeTable } from "./wire-encode";

/** What `add`, `createTable`, `mergeInsert(...).execute` accept. */
export type DataInput =
  | Record<string, unknown>[]
  | TableLike
  | RecordBatchLike
  | readonly (TableLike | RecordBatchLike)[]
  | Iterable<TableLike | RecordBatchLike>;

const ACCEPTED =
  "an array of row objects, an apache-arrow Table or RecordBatch, an array of Tables/RecordBatches, or a (sync) iterable of RecordBatches";

function describe(data: unknown): string {
  if (data === null) return "null";
  if (typeof data !== "object") return typeof data;
  if (typeof (data as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function") {
    return "an async iterable (collect it first, or use the streaming API)";
  }
  return (data as object).constructor?.name ?? "an object";
}

function encodeArrow(item: unknown, index: number): WireBatch[] {
  if (isTableLike(item)) return encodeTable(item);
  if (isRecordBatchLike(item)) return [encodeRecordBatch(item)];
  throw new InvalidArgumentError(
    `Item ${index} is ${describe(item)}, not an apache-arrow Table or RecordBatch; data must be ${ACCEPTED}.`,
  );
}

/**
 * Convert user data to wire batches (zero-copy for Arrow input).
 *
 * - an array of plain objects -> {@link rowsToTable} with `targetSchema` (strict);
 * - an apache-arrow `Table` / `RecordBatch` of any major 15..21, an array of them, or a
 *   sync iterable of them -> encoded as is (the native side checks them against the table).
 *
 * An empty array gives no batches; pass the schema separately in that case.
 *
 * @throws InvalidArgumentError for anything else, saying what is accepted.
 */
export function toWireBatches(data: unknown, targetSchema?: SchemaLike): WireBatch[] {
  if (isTableLike(data)) return encodeTable(data);
  if (isRecordBatchLike(data)) return [encodeRecordBatch(data)];
  if (Array.isArray(data)) {
    if (data.length === 0) return [];
    const arrowItems = data.filter((x) => isTableLike(x) || isRecordBatchLike(x)).length;
    if (arrowItems === 0)
      return encodeTable(rowsToTable(data as Record<string, unknown>[], targetSchema));
    if (arrowItems !== data.length) {
      throw new InvalidArgumentError(
        `The array mixes Arrow batches and other values; data must be ${ACCEPTED}.`,
      );
    }
    return data.flatMap(encodeArrow);
  }
  if (
    typeof data === "object" &&
    data !== null &&
    // A Map iterates [key, value] pairs, never batches.
    !(data instanceof Map) &&
    typeof (data as { [Symbol.iterator]?: unknown })[Symbol.iterator] === "function"
  ) {
    const out: WireBatch[] = [];
    let index = 0;
    for (const item of data as Iterable<unknown>) out.push(...encodeArrow(item, index++));
    return out;
  }
  throw new InvalidArgumentError(`Got ${describe(data)}; data must be ${ACCEPTED}.`);
}

/**
 * Like {@link toWireBatches} but returns an apache-arrow `Table` of this package's
 * apache-arrow (useful to normalise data built with another major). Buffers are shared
 * with the input, not copied.
 */
export function toArrowTable(data: unknown, targetSchema?: SchemaLike): arrow.Table {
  const schemaText = targetSchema ? JSON.stringify(schemaToJson(targetSchema)) : undefined;
  if (
    Array.isArray(data) &&
    data.length > 0 &&
    !data.some((x) => isTableLike(x) || isRecordBatchLike(x))
  ) {
    return rowsToTable(data as Record<string, unknown>[], targetSchema);
  }
  const batches = toWireBatches(data, targetSchema);
  return decodeTable(batches, batches.length === 0 ? schemaText : undefined);
}
