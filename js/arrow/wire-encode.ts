/**
 * apache-arrow record batches -> wire batches (docs/native-contract.md), without copying.
 *
 * Every buffer handed to the native side is a `Uint8Array` view over memory the
 * batch already owns; Rust copies it once on its side. Only dictionary columns and
 * defective (too short) buffers are materialised.
 */
import { InvalidArgumentError, SchemaMismatchError } from "../errors";
import { decodeDictionaryData } from "./dictionary";
import {
  type BufferLike,
  type DataLike,
  type DataTypeLike,
  isRecordBatchLike,
  isTableLike,
  type RecordBatchLike,
  type TableLike,
  TypeId,
} from "./duck";
import { schemaToJson, type WireBatch } from "./schema-json";

const EMPTY = new Uint8Array(0);

/**
 * A `Uint8Array` over the first `byteLength` bytes of `buf`. If `buf` is shorter
 * (apache-arrow leaves the values of some all-null arrays empty), a zero-filled
 * copy of the right size is returned so the native side never reads out of bounds.
 */
function bytes(buf: BufferLike | null | undefined, byteLength: number): Uint8Array {
  if (byteLength <= 0) return EMPTY;
  if (buf && buf.byteLength >= byteLength)
    return new Uint8Array(buf.buffer, buf.byteOffset, byteLength);
  const out = new Uint8Array(byteLength);
  if (buf) out.set(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  return out;
}

/** Byte width of one value of a fixed-width type. */
function byteWidth(type: DataTypeLike): number {
  switch (type.typeId) {
    case TypeId.Int:
    case TypeId.Time:
      return (type.bitWidth as number) / 8;
    case TypeId.Float:
      return [2, 4, 8][type.precision as number] ?? 8;
    case TypeId.Date:
      return type.unit === 0 ? 4 : 8;
    case TypeId.Timestamp:
    case TypeId.Duration:
      return 8;
    case TypeId.Decimal:
      return ((type.bitWidth as number | undefined) ?? 128) / 8;
    case TypeId.FixedSizeBinary:
      return type.byteWidth as number;
    default:
      throw new SchemaMismatchError(`Arrow type id ${type.typeId} is not fixed-width`);
  }
}

/**
 * Offsets buffer of a variable-width node: `length + 1` non-decreasing entries.
 *
 * Zero-copy in the normal case. apache-arrow's builders can leave a child shorter than
 * its parent implies (a FixedSizeList whose trailing rows are null gets fewer child
 * values), so a slice of that child reads past its real offsets into zero padding or
 * off the end. Those slots sit under null parents; we repair them (copying the offsets
 * only) into empty values, because Rust rejects offsets that go backwards.
 */
function offsetsOf(data: DataLike, large: boolean): Int32Array | BigInt64Array {
  const src = data.valueOffsets as (Int32Array | BigInt64Array) | null | undefined;
  const need = data.length + 1;
  const have = src ? Math.min(src.length, need) : 0;
  if (src && have === need) {
    let ok = true;
    for (let i = 1; i < need; i++) {
      if (src[i]! < src[i - 1]!) {
        ok = false;
        break;
      }
    }
    if (ok) return src.subarray(0, need);
  }
  if (large) {
    const out = new BigInt64Array(need);
    let prev = have > 0 ? BigInt(src![0]!) : 0n;
    for (let i = 0; i < need; i++) {
      const v = i < have ? BigInt(src![i]!) : prev;
      prev = v < prev ? prev : v;
      out[i] = prev;
    }
    return out;
  }
  const out = new Int32Array(need);
  let prev = have > 0 ? Number(src![0]!) : 0;
  for (let i = 0; i < need; i++) {
    prev = Math.max(prev, i < have ? Number(src![i]!) : prev);
    out[i] = prev;
  }
  return out;
}

class Encoder {
  readonly nodes: number[] = [];
  readonly buffers: (Uint8Array | null)[] = [];

  node(input: DataLike): void {
    // Dictionaries are decoded to values first: the boundary carries no dictionaries.
    const data: DataLike =
      input.type.typeId === TypeId.Dictionary ? (decodeDictionaryData(input) as never) : input;
    const { type, length } = data;
    const typeId = type.typeId;

    // `offset` is a bit offset into the validity bitmap (and a bool values bitmap) only.
    // Move whole bytes of it into the views so Rust sees an offset of 0..7.
    const byteShift = data.offset >> 3;
    const offset = data.offset & 7;
    const bitmapBytes = (offset + length + 7) >> 3;
    const shifted = (buf: Uint8Array | null | undefined): Uint8Array =>
      buf
        ? bytes(buf.subarray(Math.min(byteShift, buf.length)), bitmapBytes)
        : bytes(null, bitmapBytes);

    if (typeId === TypeId.Null) {
      // A null array has no buffers at all; every slot is null.
      this.nodes.push(length, length, 0);
      this.buffers.push(null);
      return;
    }
    const nullCount = data.nullCount;
    this.nodes.push(length, nullCount, offset);
    this.buffers.push(
      nullCount > 0 && data.nullBitmap && data.nullBitmap.length > 0
        ? shifted(data.nullBitmap)
        : null,
    );

    switch (typeId) {
      case TypeId.Bool:
        this.buffers.push(shifted(data.values as Uint8Array | undefined));
        return;
      case TypeId.Int:
      case TypeId.Float:
      case TypeId.Date:
      case TypeId.Time:
      case TypeId.Timestamp:
      case TypeId.Duration:
      case TypeId.Decimal:
      case TypeId.FixedSizeBinary:
        // Already subarrayed to this node's first value by Data.slice().
        this.buffers.push(bytes(data.values as BufferLike | undefined, length * byteWidth(type)));
        return;
      case TypeId.Utf8:
      case TypeId.Binary: {
        const offsets = offsetsOf(data, false) as Int32Array;
        // Offsets may start above 0 (slices keep the full values buffer); send the
        // values up to the last offset so nothing after the slice is copied.
        this.buffers.push(
          bytes(offsets, offsets.byteLength),
          bytes(data.values as BufferLike | undefined, offsets[length] ?? 0),
        );
        return;
      }
      case TypeId.LargeUtf8:
      case TypeId.LargeBinary: {
        const offsets = offsetsOf(data, true) as BigInt64Array;
        this.buffers.push(
          bytes(offsets, offsets.byteLength),
          bytes(data.values as BufferLike | undefined, Number(offsets[length] ?? 0n)),
        );
        return;
      }
      case TypeId.List:
      case TypeId.Map: {
        const offsets = offsetsOf(data, false) as Int32Array;
        this.buffers.push(bytes(offsets, offsets.byteLength));
        // The child is not sliced with its parent: offsets index into the whole child.
        this.child(data, 0);
        return;
      }
      case TypeId.FixedSizeList:
        // Data.slice() slices this child itself (by listSize * offset), so it is self-contained.
        this.child(data, 0);
        return;
      case TypeId.Struct: {
        const fields = (type.children as unknown[] | undefined)?.length ?? 0;
        for (let i = 0; i < fields; i++) this.child(data, i);
        return;
      }
      default:
        // schemaToJson already rejected anything else with a clear message; keep a guard.
        throw new SchemaMismatchError(
          `Arrow type ${String(type)} cannot cross to the native module`,
        );
    }
  }

  private child(data: DataLike, index: number): void {
    const child = data.children[index];
    if (!child)
      throw new SchemaMismatchError(
        `Arrow data of type ${String(data.type)} is missing child ${index}`,
      );
    this.node(child);
  }
}

/**
 * Encode one apache-arrow `RecordBatch` (any major 15..21) as a {@link WireBatch}.
 * Buffers are views over the batch's memory: keep the batch alive (and unmodified)
 * until the native call that receives them has returned.
 */
export function encodeRecordBatch(batch: RecordBatchLike): WireBatch {
  if (!isRecordBatchLike(batch)) {
    throw new InvalidArgumentError("encodeRecordBatch expects an apache-arrow RecordBatch");
  }
  // Validates every type first, so unsupported columns fail before any work.
  const schema = JSON.stringify(schemaToJson(batch.schema));
  const encoder = new Encoder();
  const columns = batch.data.children;
  const fieldCount = batch.schema.fields.length;
  if (columns.length < fieldCount) {
    throw new SchemaMismatchError(
      `RecordBatch has ${columns.length} columns but its schema has ${fieldCount} fields`,
    );
  }
  for (let i = 0; i < fieldCount; i++) encoder.node(columns[i]!);
  return { schema, numRows: batch.numRows, nodes: encoder.nodes, buffers: encoder.buffers };
}

/**
 * Encode an apache-arrow `Table` (any major 15..21) as one {@link WireBatch} per
 * record batch. A single `RecordBatch` is accepted too.
 */
export function encodeTable(table: TableLike | RecordBatchLike): WireBatch[] {
  if (isTableLike(table)) return table.batches.map(encodeRecordBatch);
  if (isRecordBatchLike(table)) return [encodeRecordBatch(table)];
  throw new InvalidArgumentError("encodeTable expects an apache-arrow Table or RecordBatch");
}
