/**
 * Wire batches (docs/native-contract.md) -> apache-arrow record batches, without copying.
 *
 * The native module hands over external ArrayBuffers that Rust owns; we wrap them in
 * typed-array views and apache-arrow `Data`. The one copy we may make is for a buffer whose
 * byteOffset is not aligned for its typed array (typed-array constructors throw then),
 * and for large-list offsets, which apache-arrow JS can only hold as 32-bit.
 */
import * as arrow from "apache-arrow";
import { InternalError, InvalidArgumentError, SchemaMismatchError } from "../errors";
import { assembleRecordBatch, assembleTable, ResultSchemas } from "./batch-assembly";
import { type FieldJson, schemaFromJson, type TypeJson, type WireBatch } from "./schema-json";

type ViewCtor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

/**
 * Reinterpret `buf` as `ctor` elements. Zero-copy when the byteOffset is aligned;
 * otherwise copies this one buffer into fresh (aligned) memory.
 */
function view<C extends ViewCtor>(ctor: C, buf: Uint8Array | null | undefined): InstanceType<C> {
  if (!buf || buf.byteLength === 0) return new ctor(0) as InstanceType<C>;
  const size = ctor.BYTES_PER_ELEMENT;
  const count = Math.floor(buf.byteLength / size);
  if (buf.byteOffset % size === 0)
    return new ctor(buf.buffer as ArrayBuffer, buf.byteOffset, count) as InstanceType<C>;
  const copy = new Uint8Array(count * size);
  copy.set(buf.subarray(0, count * size));
  return new ctor(copy.buffer, 0, count) as InstanceType<C>;
}

class Decoder {
  private node = 0;
  private buffer = 0;

  constructor(private readonly wire: WireBatch) {}

  private nextNode(): { length: number; nullCount: number; offset: number } {
    const nodes = this.wire.nodes;
    const at = this.node * 3;
    if (at + 3 > nodes.length)
      throw new InternalError("Wire batch has fewer nodes than its schema needs");
    this.node++;
    return { length: nodes[at]!, nullCount: nodes[at + 1]!, offset: nodes[at + 2]! };
  }

  private nextBuffer(): Uint8Array | null {
    if (this.buffer >= this.wire.buffers.length) {
      throw new InternalError("Wire batch has fewer buffers than its schema needs");
    }
    return this.wire.buffers[this.buffer++] ?? null;
  }

  /** Check that every node and buffer was consumed: a mismatch means a contract bug. */
  finish(): void {
    if (this.node * 3 !== this.wire.nodes.length || this.buffer !== this.wire.buffers.length) {
      throw new InternalError(
        `Wire batch layout does not match its schema (${this.wire.nodes.length / 3} nodes, ${this.wire.buffers.length} buffers; used ${this.node} and ${this.buffer})`,
      );
    }
  }

  /** Decode one node of wire type `json` into Data of arrow type `type` (built from the same JSON). */
  data(json: TypeJson, type: arrow.DataType): arrow.Data {
    const { length, nullCount, offset } = this.nextNode();
    const validity = this.nextBuffer();
    // Null arrays carry no bitmap; every other node has one only when it has nulls.
    const nullBitmap = json.type !== "null" && nullCount > 0 && validity ? validity : undefined;
    // apache-arrow's Data keeps buffers by position (offsets, values, validity) for every
    // type; building it directly skips makeData's per-type dispatch and conversions, which
    // cost more than the rest of a small decode. The views already have the right types.
    const make = (props: {
      valueOffsets?: ArrayBufferView;
      data?: ArrayBufferView;
      child?: arrow.Data;
      children?: arrow.Data[];
    }): arrow.Data =>
      new arrow.Data(
        type,
        offset,
        length,
        nullBitmap ? nullCount : 0,
        [props.valueOffsets, props.data, nullBitmap ?? new Uint8Array(0)] as never,
        props.children ?? (props.child ? [props.child] : []),
      );

    switch (json.type) {
      case "null":
        return arrow.makeData({ type: type as arrow.Null, length, offset: 0 });
      case "bool":
        return make({ data: view(Uint8Array, this.nextBuffer()) });
      case "int":
      case "float":
      case "date":
      case "time":
      case "timestamp":
      case "duration":
      case "decimal":
      case "fixedSizeBinary":
        // `ArrayType` is what this apache-arrow major stores (e.g. BigInt64Array for Int64,
        // Uint16Array for Float16, Uint32Array for Decimal), so the view is what Data holds.
        return make({ data: view((type as { ArrayType: ViewCtor }).ArrayType, this.nextBuffer()) });
      case "utf8":
      case "binary": {
        const valueOffsets = view(Int32Array, this.nextBuffer());
        return make({ valueOffsets, data: view(Uint8Array, this.nextBuffer()) });
      }
      case "largeUtf8":
      case "largeBinary": {
        const valueOffsets = view(BigInt64Array, this.nextBuffer());
        return make({ valueOffsets, data: view(Uint8Array, this.nextBuffer()) });
      }
      case "list":
      case "map": {
        const valueOffsets = view(Int32Array, this.nextBuffer());
        const child = this.data(json.child.type, childType(type, 0));
        return make({ valueOffsets, child });
      }
      case "largeList": {
        // apache-arrow JS has no LargeList: narrow the offsets to 32 bits (the one copy).
        const wide = view(BigInt64Array, this.nextBuffer());
        const valueOffsets = new Int32Array(wide.length);
        for (let i = 0; i < wide.length; i++) {
          const v = wide[i]!;
          if (v > 2147483647n) {
            throw new SchemaMismatchError(
              "A large-list column has more than 2^31-1 child values in one batch; apache-arrow JS cannot hold it",
            );
          }
          valueOffsets[i] = Number(v);
        }
        const child = this.data(json.child.type, childType(type, 0));
        return make({ valueOffsets, child });
      }
      case "fixedSizeList":
        return make({ child: this.data(json.child.type, childType(type, 0)) });
      case "struct":
        return make({
          children: json.children.map((f: FieldJson, i: number) =>
            this.data(f.type, childType(type, i)),
          ),
        });
      default:
        throw new InternalError(`Wire batch has unknown type ${JSON.stringify(json)}`);
    }
  }
}

function childType(type: arrow.DataType, index: number): arrow.DataType {
  const child = type.children?.[index];
  if (!child) throw new InternalError(`Arrow type ${String(type)} has no child ${index}`);
  return child.type;
}

/**
 * Decode one {@link WireBatch} into an apache-arrow `RecordBatch` whose buffers are
 * views over the wire buffers (no copy, except for misaligned buffers).
 */
export function decodeRecordBatch(wire: WireBatch): arrow.RecordBatch {
  return decodeWith(wire, new ResultSchemas());
}

function decodeWith(wire: WireBatch, schemas: ResultSchemas): arrow.RecordBatch {
  const { json, schema } = schemas.of(wire.schema);
  const decoder = new Decoder(wire);
  const children = json.fields.map((f, i) => decoder.data(f.type, schema.fields[i]!.type));
  decoder.finish();
  return assembleRecordBatch(schema, children, wire.numRows);
}

/**
 * Decode wire batches into one apache-arrow `Table`. `schemaJson` (the JSON-encoded
 * {@link SchemaJson}) gives the schema when `batches` is empty; otherwise each batch's
 * own schema is authoritative. Without batches and without `schemaJson`, the result
 * is an empty table with no columns.
 */
export function decodeTable(batches: readonly WireBatch[], schemaJson?: string): arrow.Table {
  if (!Array.isArray(batches))
    throw new InvalidArgumentError("decodeTable expects an array of wire batches");
  if (batches.length === 0) {
    return schemaJson === undefined
      ? new arrow.Table()
      : new arrow.Table(schemaFromJson(schemaJson));
  }
  // The batches of one result share their schema object, as apache-arrow's tables do.
  const schemas = new ResultSchemas();
  const decoded = batches.map((wire) => decodeWith(wire, schemas));
  try {
    return assembleTable(decoded[0]!.schema, decoded);
  } catch (cause) {
    // apache-arrow refuses batches whose schemas differ; that is a native-side bug.
    throw new InternalError(`Wire batches do not share one schema: ${(cause as Error).message}`, {
      cause,
    });
  }
}
