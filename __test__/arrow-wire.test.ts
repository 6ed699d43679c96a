// The JS half of the native boundary, without the native module: schema JSON, and
// apache-arrow <-> wire batch encoding (docs/native-contract.md).
import * as arrow from "apache-arrow";
import { describe, expect, it } from "vitest";
import {
  decodeRecordBatch,
  decodeTable,
  encodeRecordBatch,
  encodeTable,
  type SchemaJson,
  schemaFromJson,
  schemaToJson,
  toArrowTable,
  toWireBatches,
  typeToJson,
  type WireBatch,
} from "../js/arrow";
import { directBatches, parsedSchemaCount, useDirectBatches } from "../js/arrow/batch-assembly";
import { InternalError, InvalidArgumentError, SchemaMismatchError } from "../js/errors";
import { tableContent } from "./helpers/arrow-values";

const N = 20;
const isNull = (i: number) => i % 3 === 1;

/** Validity bitmap for N rows with nulls where isNull(i). */
function nullBitmap(n = N): Uint8Array {
  const bm = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++) if (!isNull(i)) bm[i >> 3]! |= 1 << (i & 7);
  return bm;
}
const nullCount = (n = N) => Array.from({ length: n }, (_, i) => i).filter(isNull).length;

/** A fixed-width column straight from a typed array, nulls every third row. */
function fixed(type: arrow.DataType, data: ArrayBufferView): arrow.Vector {
  return arrow.makeVector(
    arrow.makeData({
      type,
      length: N,
      nullCount: nullCount(),
      nullBitmap: nullBitmap(),
      data,
    } as never),
  );
}

/** A column built by apache-arrow's own builders, with nulls every third row. */
function built(type: arrow.DataType, value: (i: number) => unknown): arrow.Vector {
  return arrow.vectorFromArray(
    Array.from({ length: N }, (_, i) => (isNull(i) ? null : value(i))),
    type as never,
  );
}

const i32 = (f: (i: number) => number) => Int32Array.from({ length: N }, (_, i) => f(i));
const i64 = (f: (i: number) => bigint) => BigInt64Array.from({ length: N }, (_, i) => f(i));
const field = (name: string, type: arrow.DataType, nullable = true) =>
  new arrow.Field(name, type, nullable);

const columns: [string, () => arrow.Vector][] = [
  [
    "int8",
    () =>
      fixed(
        new arrow.Int8(),
        Int8Array.from({ length: N }, (_, i) => i * 13 - 128),
      ),
  ],
  [
    "int16",
    () =>
      fixed(
        new arrow.Int16(),
        Int16Array.from({ length: N }, (_, i) => i * 1700 - 32768),
      ),
  ],
  [
    "int32",
    () =>
      fixed(
        new arrow.Int32(),
        i32((i) => i * 100_000_007 - 2 ** 31),
      ),
  ],
  [
    "int64",
    () =>
      fixed(
        new arrow.Int64(),
        i64((i) => BigInt(i) * 10n ** 17n - 2n ** 63n),
      ),
  ],
  [
    "uint8",
    () =>
      fixed(
        new arrow.Uint8(),
        Uint8Array.from({ length: N }, (_, i) => i * 13),
      ),
  ],
  [
    "uint16",
    () =>
      fixed(
        new arrow.Uint16(),
        Uint16Array.from({ length: N }, (_, i) => i * 3400),
      ),
  ],
  [
    "uint32",
    () =>
      fixed(
        new arrow.Uint32(),
        Uint32Array.from({ length: N }, (_, i) => i * 200_000_000),
      ),
  ],
  [
    "uint64",
    () =>
      fixed(
        new arrow.Uint64(),
        BigUint64Array.from({ length: N }, (_, i) => BigInt(i) * 2n ** 59n + 1n),
      ),
  ],
  ["float16", () => built(new arrow.Float16(), (i) => i / 4)],
  [
    "float32",
    () =>
      fixed(
        new arrow.Float32(),
        Float32Array.from({ length: N }, (_, i) => i * 0.5 - 3),
      ),
  ],
  [
    "float64",
    () =>
      fixed(
        new arrow.Float64(),
        Float64Array.from({ length: N }, (_, i) => i * 1.1 + Number.EPSILON),
      ),
  ],
  ["bool", () => built(new arrow.Bool(), (i) => i % 2 === 0 || i % 5 === 0)],
  ["utf8", () => built(new arrow.Utf8(), (i) => `s${i}-ü${"x".repeat(i % 4)}`)],
  ["largeUtf8", () => built(new arrow.LargeUtf8(), (i) => `large-${i}-€`)],
  [
    "binary",
    () => built(new arrow.Binary(), (i) => Uint8Array.from({ length: i % 4 }, (_, k) => i + k)),
  ],
  [
    "largeBinary",
    () =>
      built(new arrow.LargeBinary(), (i) =>
        Uint8Array.from({ length: i % 3 }, (_, k) => 255 - i - k),
      ),
  ],
  [
    "fixedSizeBinary",
    () =>
      fixed(
        new arrow.FixedSizeBinary(3),
        Uint8Array.from({ length: N * 3 }, (_, k) => (k * 7) % 256),
      ),
  ],
  [
    "dateDay",
    () =>
      fixed(
        new arrow.DateDay(),
        i32((i) => 19_000 + i * 17 - 40_000),
      ),
  ],
  [
    "dateMillisecond",
    () =>
      fixed(
        new arrow.DateMillisecond(),
        i64((i) => BigInt(i - 5) * 86_400_000n),
      ),
  ],
  ...(
    [
      ["second", arrow.TimeUnit.SECOND],
      ["millisecond", arrow.TimeUnit.MILLISECOND],
      ["microsecond", arrow.TimeUnit.MICROSECOND],
      ["nanosecond", arrow.TimeUnit.NANOSECOND],
    ] as const
  ).flatMap(([name, unit]) =>
    [null, "UTC", "+05:30"].map(
      (tz) =>
        [
          `timestamp-${name}-${tz ?? "naive"}`,
          () =>
            fixed(
              new arrow.Timestamp(unit, tz),
              i64((i) => BigInt(i) * 1_000_000_007n - 5n),
            ),
        ] as [string, () => arrow.Vector],
    ),
  ),
  [
    "time32-second",
    () =>
      fixed(
        new arrow.TimeSecond(),
        i32((i) => i * 3600),
      ),
  ],
  [
    "time32-millisecond",
    () =>
      fixed(
        new arrow.TimeMillisecond(),
        i32((i) => i * 3_600_001),
      ),
  ],
  [
    "time64-microsecond",
    () =>
      fixed(
        new arrow.TimeMicrosecond(),
        i64((i) => BigInt(i) * 3_600_000_001n),
      ),
  ],
  [
    "time64-nanosecond",
    () =>
      fixed(
        new arrow.TimeNanosecond(),
        i64((i) => BigInt(i) * 3_600_000_000_001n),
      ),
  ],
  [
    "duration-second",
    () =>
      fixed(
        new arrow.Duration(arrow.TimeUnit.SECOND),
        i64((i) => BigInt(i) - 7n),
      ),
  ],
  [
    "duration-nanosecond",
    () =>
      fixed(
        new arrow.Duration(arrow.TimeUnit.NANOSECOND),
        i64((i) => BigInt(i) * 10n ** 15n),
      ),
  ],
  [
    "decimal128",
    () =>
      fixed(
        new arrow.Decimal(2, 10, 128),
        Uint32Array.from({ length: N * 4 }, (_, k) => (k % 4 === 0 ? k * 1000 : 0)),
      ),
  ],
  ["null", () => arrow.makeVector(arrow.makeData({ type: new arrow.Null(), length: N }))],
  [
    "list<int32>",
    () =>
      built(new arrow.List(field("item", new arrow.Int32())), (i) =>
        Array.from({ length: i % 4 }, (_, k) => (k === 1 ? null : i * 10 + k)),
      ),
  ],
  [
    "list<utf8>",
    () =>
      built(new arrow.List(field("item", new arrow.Utf8())), (i) =>
        Array.from({ length: i % 3 }, (_, k) => `t${i}.${k}`),
      ),
  ],
  [
    "list<list<int64>>",
    () =>
      built(
        new arrow.List(field("item", new arrow.List(field("item", new arrow.Int64())))),
        (i) => [[BigInt(i)], [], i % 2 ? null : [1n, 2n]],
      ),
  ],
  [
    "fixedSizeList<float32>[4]",
    () =>
      built(new arrow.FixedSizeList(4, field("item", new arrow.Float32())), (i) =>
        Float32Array.from({ length: 4 }, (_, k) => i + k / 8),
      ),
  ],
  [
    "fixedSizeList<utf8>[2] with null items",
    () =>
      built(new arrow.FixedSizeList(2, field("item", new arrow.Utf8())), (i) => [
        i % 2 ? null : `a${i}`,
        `b${i}`,
      ]),
  ],
  [
    "struct",
    () =>
      built(
        new arrow.Struct([
          field("a", new arrow.Int32()),
          field("b", new arrow.Utf8()),
          field(
            "c",
            new arrow.Struct([field("d", new arrow.Float64()), field("e", new arrow.Bool())]),
          ),
          field("v", new arrow.FixedSizeList(2, field("item", new arrow.Float32()))),
        ]),
        (i) => ({
          a: i % 4 === 0 ? null : i,
          b: `b${i}`,
          c: i % 5 === 0 ? null : { d: i / 2, e: i % 2 === 0 },
          v: [i, -i],
        }),
      ),
  ],
  [
    "list<struct>",
    () =>
      built(
        new arrow.List(
          field(
            "item",
            new arrow.Struct([field("x", new arrow.Int32()), field("y", new arrow.Utf8())]),
          ),
        ),
        (i) => Array.from({ length: i % 3 }, (_, k) => ({ x: i + k, y: k === 1 ? null : `y${k}` })),
      ),
  ],
  [
    "map<utf8,int32>",
    () =>
      built(
        new arrow.Map_(
          field(
            "entries",
            new arrow.Struct([
              field("key", new arrow.Utf8(), false),
              field("value", new arrow.Int32()),
            ]),
            false,
          ) as arrow.Field<arrow.Struct>,
        ),
        (i) =>
          new Map(Array.from({ length: i % 3 }, (_, k) => [`k${k}`, i * k] as [string, number])),
      ),
  ],
];

function table(name: string, make: () => arrow.Vector): arrow.Table {
  return new arrow.Table({ [name]: make() });
}

const roundTrip = (t: arrow.Table) => decodeTable(encodeTable(t));

describe("encodeTable -> decodeTable round trip", () => {
  it.each(columns)("%s", (name, make) => {
    const t = table(name, make);
    const back = roundTrip(t);
    expect(tableContent(back)).toEqual(tableContent(t));
    // Nulls survive as nulls (the null column has no validity bitmap at all).
    expect(back.getChildAt(0)!.nullCount).toBe(name === "null" ? N : t.getChildAt(0)!.nullCount);
  });

  it.each(columns)("%s sliced (3, 10) and (11, 19)", (name, make) => {
    const t = table(name, make);
    for (const [from, to] of [
      [3, 10],
      [11, 19],
      [5, 5],
    ] as const) {
      const sliced = t.slice(from, to);
      expect(sliced.numRows).toBe(to - from);
      expect(tableContent(roundTrip(sliced))).toEqual(tableContent(sliced));
    }
  });

  it.each(columns)("%s in a multi-batch table", (name, make) => {
    const a = table(name, make);
    const t = a.slice(0, 7).concat(a.slice(7, 20), a.slice(2, 9));
    expect(t.batches.length).toBe(3);
    const wire = encodeTable(t);
    expect(wire.map((w) => w.numRows)).toEqual([7, 13, 7]);
    const back = decodeTable(wire);
    expect(back.batches.length).toBe(3);
    expect(tableContent(back)).toEqual(tableContent(t));
  });

  it("round-trips a wide table with every column at once, sliced", () => {
    const t = new arrow.Table(Object.fromEntries(columns.map(([name, make]) => [name, make()])));
    expect(tableContent(roundTrip(t))).toEqual(tableContent(t));
    const sliced = t.slice(3, 10);
    expect(tableContent(roundTrip(sliced))).toEqual(tableContent(sliced));
  });

  it("round-trips a schema's metadata and non-nullable fields", () => {
    const schema = new arrow.Schema(
      [new arrow.Field("id", new arrow.Int32(), false, new Map([["comment", "primary key"]]))],
      new Map([["owner", "tests"]]),
    );
    const data = arrow.makeData({
      type: new arrow.Int32(),
      length: 3,
      nullCount: 0,
      data: Int32Array.of(1, 2, 3),
    });
    const t = new arrow.Table(
      schema,
      new arrow.RecordBatch(
        schema,
        arrow.makeData({
          type: new arrow.Struct(schema.fields),
          length: 3,
          nullCount: 0,
          children: [data],
        }),
      ),
    );
    const back = roundTrip(t);
    expect(back.schema.fields[0]!.nullable).toBe(false);
    expect(back.schema.fields[0]!.metadata.get("comment")).toBe("primary key");
    expect(back.schema.metadata.get("owner")).toBe("tests");
    expect(tableContent(back)).toEqual(tableContent(t));
  });

  it("decodes dictionary columns to their values", () => {
    const dictType = new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32());
    const t = new arrow.Table({
      d: arrow.vectorFromArray(["a", "b", null, "a", "c", "b"], dictType),
    });
    const wire = encodeTable(t.slice(1, 6));
    expect(JSON.parse(wire[0]!.schema).fields[0].type).toEqual({ type: "utf8" });
    const back = decodeTable(wire);
    expect(back.getChild("d")!.toArray()).toEqual(["b", null, "a", "c", "b"]);
  });
});

describe("wire layout", () => {
  it("follows the contract: nodes [length, nullCount, offset] and buffers in order", () => {
    const t = new arrow.Table({
      n: arrow.vectorFromArray([1, null, 3], new arrow.Int16()),
      s: arrow.vectorFromArray(["ab", "c", null], new arrow.Utf8()),
      l: arrow.vectorFromArray(
        [[1], null, [2, 3]],
        new arrow.List(field("item", new arrow.Int8())),
      ),
      f: arrow.vectorFromArray(
        [
          [1, 2],
          [3, 4],
          [5, 6],
        ],
        new arrow.FixedSizeList(2, field("item", new arrow.Float32())),
      ),
    });
    const [w] = encodeTable(t);
    expect(w!.numRows).toBe(3);
    expect(w!.nodes).toEqual([3, 1, 0, 3, 1, 0, 3, 1, 0, 3, 0, 0, 3, 0, 0, 6, 0, 0]);
    const b = w!.buffers;
    expect(b.length).toBe(2 + 3 + 2 + 2 + 1 + 2);
    expect(b[0]![0]! & 0b111).toBe(0b101); // int16 validity
    expect(Array.from(new Int16Array(b[1]!.slice().buffer))).toEqual([1, 0, 3]);
    expect(Array.from(new Int32Array(b[3]!.slice().buffer))).toEqual([0, 2, 3, 3]); // utf8 offsets
    expect(Buffer.from(b[4]!).toString()).toBe("abc");
    expect(Array.from(new Int32Array(b[6]!.slice().buffer))).toEqual([0, 1, 1, 3]); // list offsets
    expect(b[7]).toBeNull(); // list child validity (no nulls)
    expect(Array.from(b[8]!)).toEqual([1, 2, 3]);
    expect(b[9]).toBeNull(); // fixed-size list validity
    expect(b[10]).toBeNull(); // its child validity
    expect(Array.from(new Float32Array(b[11]!.slice().buffer))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("shares memory with the source instead of copying", () => {
    const values = Float64Array.from({ length: 100 }, (_, i) => i);
    const t = new arrow.Table({ x: arrow.makeVector(values) });
    const [w] = encodeTable(t);
    expect(w!.buffers[1]!.buffer).toBe(values.buffer);
    const back = decodeTable([w!]);
    expect((back.getChild("x")!.data[0]!.values as Float64Array).buffer).toBe(values.buffer);
  });

  it("keeps validity offsets below 8 by shifting whole bytes into the view", () => {
    const t = table("b", columns.find(([n]) => n === "bool")![1]);
    const sliced = t.slice(11, 19);
    const [w] = encodeTable(sliced);
    expect(w!.nodes).toEqual([8, nullCount(19) - nullCount(11), 3]);
    const source = sliced.getChildAt(0)!.data[0]!;
    expect(w!.buffers[0]!.byteOffset).toBe(source.nullBitmap.byteOffset + 1);
    expect(w!.buffers[0]!.byteLength).toBe(2);
  });

  it("sends only the used part of a sliced string column's values", () => {
    const t = new arrow.Table({
      s: arrow.vectorFromArray(["aaaa", "bb", "c", "dddddd"], new arrow.Utf8()),
    });
    const [w] = encodeTable(t.slice(1, 3));
    const offsets = Array.from(new Int32Array(w!.buffers[1]!.slice().buffer));
    expect(offsets).toEqual([4, 6, 7]);
    expect(w!.buffers[2]!.byteLength).toBe(7);
  });

  it("repairs the offsets of a builder child that is shorter than its parent implies", () => {
    // apache-arrow's builder gives a FixedSizeList whose last row is null fewer child
    // values than rows x listSize; a slice then reads zero padding as offsets.
    const v = arrow.vectorFromArray(
      [["a", "b"], ["c", "d"], null],
      new arrow.FixedSizeList(2, field("item", new arrow.Utf8())),
    );
    const t = new arrow.Table({ v }).slice(1, 3);
    const [w] = encodeTable(t);
    const offsets = Array.from(new Int32Array(w!.buffers[2]!.slice().buffer));
    expect(offsets).toHaveLength(5);
    for (let i = 1; i < offsets.length; i++)
      expect(offsets[i]).toBeGreaterThanOrEqual(offsets[i - 1]!);
    expect(Buffer.from(w!.buffers[3]!).toString()).toBe("abcd".slice(0, offsets[4]));
    expect(tableContent(decodeTable([w!])).rows).toEqual([{ v: ["c", "d"] }, { v: null }]);
  });

  it("copies a misaligned buffer on decode and still reads the right values", () => {
    const raw = new Uint8Array(1 + 3 * 4);
    new DataView(raw.buffer).setInt32(1, 7, true);
    new DataView(raw.buffer).setInt32(5, -8, true);
    new DataView(raw.buffer).setInt32(9, 9, true);
    const wire: WireBatch = {
      schema: JSON.stringify({
        fields: [{ name: "x", nullable: false, type: { type: "int", bitWidth: 32, signed: true } }],
      }),
      numRows: 3,
      nodes: [3, 0, 0],
      buffers: [null, raw.subarray(1)],
    };
    expect(Array.from(decodeRecordBatch(wire).getChild("x")!.toArray())).toEqual([7, -8, 9]);
  });

  it("decodes a largeList node (int64 offsets) into a List", () => {
    const wire: WireBatch = {
      schema: JSON.stringify({
        fields: [
          {
            name: "l",
            nullable: true,
            type: {
              type: "largeList",
              child: {
                name: "item",
                nullable: true,
                type: { type: "int", bitWidth: 32, signed: true },
              },
            },
          },
        ],
      } satisfies SchemaJson),
      numRows: 3,
      nodes: [3, 1, 0, 3, 0, 0],
      buffers: [
        Uint8Array.of(0b101),
        new Uint8Array(BigInt64Array.of(0n, 2n, 2n, 3n).buffer),
        null,
        new Uint8Array(Int32Array.of(1, 2, 3).buffer),
      ],
    };
    const t = decodeTable([wire]);
    expect(t.schema.fields[0]!.type).toBeInstanceOf(arrow.List);
    expect(tableContent(t).rows).toEqual([{ l: [1, 2] }, { l: null }, { l: [3] }]);
  });

  it("decodes external-style buffers with Rust's offset 0 and reads nulls from validity", () => {
    const wire: WireBatch = {
      schema: JSON.stringify({ fields: [{ name: "s", nullable: true, type: { type: "utf8" } }] }),
      numRows: 3,
      nodes: [3, 1, 0],
      buffers: [
        Uint8Array.of(0b110),
        new Uint8Array(Int32Array.of(0, 0, 2, 5).buffer),
        new TextEncoder().encode("hiabc"),
      ],
    };
    expect(decodeTable([wire]).getChild("s")!.toArray()).toEqual([null, "hi", "abc"]);
  });

  it("rejects a wire batch whose buffers do not match its schema", () => {
    const wire: WireBatch = {
      schema: JSON.stringify({ fields: [{ name: "x", nullable: true, type: { type: "bool" } }] }),
      numRows: 1,
      nodes: [1, 0, 0],
      buffers: [null, Uint8Array.of(1), Uint8Array.of(1)],
    };
    expect(() => decodeRecordBatch(wire)).toThrow(InternalError);
    expect(() => decodeRecordBatch({ ...wire, buffers: [null] })).toThrow(InternalError);
  });

  it("rejects a column shorter than its batch instead of padding it", () => {
    const wire: WireBatch = {
      schema: JSON.stringify({
        fields: [{ name: "x", nullable: true, type: { type: "int", bitWidth: 32, signed: true } }],
      }),
      numRows: 3,
      nodes: [2, 0, 0],
      buffers: [null, new Uint8Array(Int32Array.of(1, 2).buffer)],
    };
    expect(() => decodeRecordBatch(wire)).toThrow(/2 rows where the batch has 3/);
  });

  describe("results of the same schema", () => {
    const schema = JSON.stringify({
      fields: [
        {
          name: "s",
          nullable: true,
          type: {
            type: "struct",
            children: [
              { name: "x", nullable: false, type: { type: "int", bitWidth: 32, signed: true } },
            ],
          },
          metadata: { unit: "m" },
        },
      ],
      metadata: { origin: "native" },
    });
    const wire = (values: number[]): WireBatch => ({
      schema,
      numRows: values.length,
      nodes: [values.length, 0, 0, values.length, 0, 0],
      buffers: [null, null, new Uint8Array(Int32Array.from(values).buffer)],
    });
    const xs = (t: arrow.Table) => t.toArray().map((r) => r.s.x);

    it("share nothing a caller could edit, and one result's batches share one schema", () => {
      const first = decodeTable([wire([1, 2])]);
      // A caller editing one result's schema must not change the next result's.
      const field = first.schema.fields[0]!;
      first.schema.metadata.set("origin", "edited");
      field.metadata.set("unit", "edited");
      (field as { name: string }).name = "renamed";
      (field.type.children[0] as { name: string }).name = "renamed";
      first.schema.fields.push(new arrow.Field("extra", new arrow.Utf8()));
      const second = decodeTable([wire([3]), wire([4, 5])]);
      expect(second.schema.metadata.get("origin")).toBe("native");
      expect(second.schema.fields.map((f) => [f.name, f.metadata.get("unit")])).toEqual([
        ["s", "m"],
      ]);
      expect(xs(second)).toEqual([3, 4, 5]);
      expect(second.batches[1]!.schema).toBe(second.schema);
      expect(second.batches.every((b) => b instanceof arrow.RecordBatch)).toBe(true);
      // This apache-arrow takes the direct path (no per-batch schema rebuild).
      expect(directBatches()).toBe(true);
      expect(second.batches[1]!.numRows).toBe(2);
      expect(
        second
          .slice(1, 3)
          .toArray()
          .map((r) => r.s.x),
      ).toEqual([4, 5]);
    });

    it("refuse one result's batches of different schemas (a native-side bug)", () => {
      const other: WireBatch = {
        schema: JSON.stringify({
          fields: [
            { name: "y", nullable: true, type: { type: "int", bitWidth: 32, signed: true } },
          ],
        }),
        numRows: 1,
        nodes: [1, 0, 0],
        buffers: [null, new Uint8Array(Int32Array.of(9).buffer)],
      };
      for (const direct of [undefined, false]) {
        useDirectBatches(direct);
        try {
          expect(() => decodeTable([wire([1]), other])).toThrow(InternalError);
          expect(() => decodeTable([wire([1]), other])).toThrow(/do not share one schema/);
        } finally {
          useDirectBatches(undefined);
        }
      }
    });

    it("decode the same through apache-arrow's RecordBatch constructor", () => {
      const direct = decodeTable([wire([3]), wire([4, 5])]);
      useDirectBatches(false);
      try {
        const built = decodeTable([wire([3]), wire([4, 5])]);
        expect(xs(built)).toEqual(xs(direct));
        expect(built.batches.map((b) => b.numRows)).toEqual([1, 2]);
        expect(direct.numRows).toBe(built.numRows);
        expect(direct.get(2)?.s.x).toBe(5);
        expect(schemaToJson(built.schema)).toEqual(schemaToJson(direct.schema));
        expect(arrow.tableToIPC(built)).toEqual(arrow.tableToIPC(direct));
      } finally {
        useDirectBatches(undefined);
      }
    });
  });

  it("keeps the row count of a result without columns", () => {
    const wire: WireBatch = {
      schema: JSON.stringify({ fields: [] }),
      numRows: 3,
      nodes: [],
      buffers: [],
    };
    expect(decodeTable([wire]).numRows).toBe(3);
  });

  it("decodes more distinct schemas than it keeps parsed, and keeps at most 64", () => {
    const wires = Array.from({ length: 150 }, (_, i) => ({
      schema: JSON.stringify({
        fields: [
          { name: `c${i}`, nullable: false, type: { type: "int", bitWidth: 32, signed: true } },
        ],
      }),
      numRows: 1,
      nodes: [1, 0, 0],
      buffers: [null, new Uint8Array(Int32Array.of(i).buffer)],
    }));
    for (const round of [0, 1]) {
      for (const [i, w] of wires.entries()) {
        const t = decodeTable([w]);
        expect([round, t.schema.fields[0]!.name, t.getChild(`c${i}`)!.get(0)]).toEqual([
          round,
          `c${i}`,
          i,
        ]);
        expect(parsedSchemaCount()).toBeLessThanOrEqual(64);
      }
    }
    expect(parsedSchemaCount()).toBeGreaterThan(0);
  });

  it("gives an empty table with the schema for no batches", () => {
    const schemaJson: SchemaJson = {
      fields: [
        { name: "id", nullable: false, type: { type: "int", bitWidth: 64, signed: true } },
        {
          name: "v",
          nullable: true,
          type: {
            type: "fixedSizeList",
            listSize: 3,
            child: { name: "item", nullable: true, type: { type: "float", precision: "single" } },
          },
        },
      ],
    };
    const t = decodeTable([], JSON.stringify(schemaJson));
    expect(t.numRows).toBe(0);
    expect(schemaToJson(t.schema)).toEqual(schemaJson);
    expect(decodeTable([]).schema.fields).toEqual([]);
  });

  it("reads Arrow objects by shape, not by class (another apache-arrow major)", () => {
    // A hand-made object graph with the shape of an apache-arrow 15..21 Table.
    const int32 = { typeId: 2, bitWidth: 32, isSigned: true };
    const fields = [{ name: "x", type: int32, nullable: true, metadata: new Map() }];
    const col = {
      type: int32,
      length: 3,
      offset: 0,
      nullCount: 1,
      nullBitmap: Uint8Array.of(0b011),
      values: Int32Array.of(5, 6, 0),
      children: [],
    };
    const foreign = {
      schema: { fields, metadata: new Map() },
      batches: [
        {
          schema: { fields },
          numRows: 3,
          data: {
            type: { typeId: 13, children: fields },
            length: 3,
            offset: 0,
            nullCount: 0,
            children: [col],
          },
        },
      ],
    };
    const back = decodeTable(encodeTable(foreign as never));
    expect(back.getChild("x")!.toArray()).toEqual(Int32Array.of(5, 6, 0));
    expect(back.getChild("x")!.get(2)).toBeNull();
    expect(encodeRecordBatch(foreign.batches[0] as never).nodes).toEqual([3, 1, 0]);
  });
});

describe("schema JSON", () => {
  const all = new arrow.Schema(
    [
      ...columns
        .filter(([n]) => !n.startsWith("dict"))
        .map(([name, make]) => field(name, make().type)),
      field("required", new arrow.Utf8(), false),
      field("decimal256", new arrow.Decimal(3, 40, 256)),
      new arrow.Field("meta", new arrow.Int8(), true, new Map([["k", "v"]])),
    ],
    new Map([["version", "1"]]),
  );

  it("round-trips schema -> JSON -> schema -> JSON, for every supported type", () => {
    const json = schemaToJson(all);
    const back = schemaFromJson(json);
    expect(schemaToJson(back)).toEqual(json);
    expect(schemaToJson(schemaFromJson(JSON.stringify(json)))).toEqual(json);
    expect(back.fields.map((f) => String(f.type))).toEqual(all.fields.map((f) => String(f.type)));
    expect(arrow.util.compareSchemas(back, all)).toBe(true);
  });

  it("produces exactly the contract's TypeJson", () => {
    expect(typeToJson(new arrow.Int16())).toEqual({ type: "int", bitWidth: 16, signed: true });
    expect(typeToJson(new arrow.Uint64())).toEqual({ type: "int", bitWidth: 64, signed: false });
    expect(typeToJson(new arrow.Float16())).toEqual({ type: "float", precision: "half" });
    expect(typeToJson(new arrow.TimestampMicrosecond("UTC"))).toEqual({
      type: "timestamp",
      unit: "microsecond",
      timezone: "UTC",
    });
    expect(typeToJson(new arrow.TimestampSecond())).toEqual({
      type: "timestamp",
      unit: "second",
      timezone: null,
    });
    expect(typeToJson(new arrow.TimeMillisecond())).toEqual({
      type: "time",
      unit: "millisecond",
      bitWidth: 32,
    });
    expect(typeToJson(new arrow.DateDay())).toEqual({ type: "date", unit: "day" });
    expect(typeToJson(new arrow.Decimal(2, 12, 128))).toEqual({
      type: "decimal",
      precision: 12,
      scale: 2,
      bitWidth: 128,
    });
    expect(typeToJson(new arrow.FixedSizeList(384, field("item", new arrow.Float32())))).toEqual({
      type: "fixedSizeList",
      listSize: 384,
      child: { name: "item", nullable: true, type: { type: "float", precision: "single" } },
    });
    expect(typeToJson(new arrow.Dictionary(new arrow.LargeUtf8(), new arrow.Int8()))).toEqual({
      type: "largeUtf8",
    });
  });

  it("rejects types Lance cannot store", () => {
    const union = new arrow.DenseUnion([0], [field("a", new arrow.Int32())]);
    expect(() => typeToJson(union)).toThrow(SchemaMismatchError);
    expect(() => typeToJson(new arrow.IntervalDayTime())).toThrow(/interval/);
    expect(() => schemaToJson(new arrow.Schema([field("u", union)]))).toThrow(SchemaMismatchError);
  });

  it("rejects malformed schema JSON with InvalidArgumentError", () => {
    expect(() => schemaFromJson("{nope")).toThrow(InvalidArgumentError);
    expect(() =>
      schemaFromJson({ fields: [{ name: "x", nullable: true, type: { type: "wat" } as never }] }),
    ).toThrow(/unknown type "wat"/);
    expect(() =>
      schemaFromJson({
        fields: [
          { name: "x", nullable: true, type: { type: "int", bitWidth: 12, signed: true } as never },
        ],
      }),
    ).toThrow(InvalidArgumentError);
  });
});

describe("toWireBatches / toArrowTable", () => {
  const t = new arrow.Table({ x: arrow.vectorFromArray([1, 2, 3], new arrow.Int32()) });

  it("accepts a Table, a RecordBatch, arrays of them and iterables", () => {
    expect(toWireBatches(t)).toHaveLength(1);
    expect(toWireBatches(t.batches[0])).toHaveLength(1);
    expect(toWireBatches([t, t.batches[0]])).toHaveLength(2);
    function* gen() {
      yield t.batches[0];
      yield t.batches[0];
    }
    const wires = toWireBatches(gen());
    expect(wires.map((w) => w.numRows)).toEqual([3, 3]);
    expect(tableContent(decodeTable(wires)).rows).toEqual([1, 2, 3, 1, 2, 3].map((x) => ({ x })));
  });

  it("builds rows strictly against the target schema", () => {
    const schema = new arrow.Schema([field("x", new arrow.Int32(), false)]);
    const [w] = toWireBatches([{ x: 1 }, { x: 2 }], schema);
    expect(JSON.parse(w!.schema)).toEqual(schemaToJson(schema));
    expect(() => toWireBatches([{ x: 1.5 }], schema)).toThrow(SchemaMismatchError);
    expect(toWireBatches([], schema)).toEqual([]);
  });

  it("normalises to an apache-arrow Table", () => {
    expect(tableContent(toArrowTable(t))).toEqual(tableContent(t));
    expect(
      toArrowTable([{ a: "x" }])
        .getChild("a")!
        .toArray(),
    ).toEqual(["x"]);
    const schema = new arrow.Schema([field("x", new arrow.Int32())]);
    expect(schemaToJson(toArrowTable([], schema).schema)).toEqual(schemaToJson(schema));
  });

  it("rejects anything else with InvalidArgumentError saying what is accepted", () => {
    for (const bad of [42, "rows", null, undefined, { a: 1 }, new Map(), [t, { x: 1 }]]) {
      expect(() => toWireBatches(bad)).toThrow(InvalidArgumentError);
    }
    expect(() => toWireBatches("rows")).toThrow(
      /array of row objects, an apache-arrow Table or RecordBatch/,
    );
    async function* agen() {
      yield t.batches[0];
    }
    expect(() => toWireBatches(agen())).toThrow(/async iterable/);
    expect(() => toWireBatches([1, 2])).toThrow(InvalidArgumentError);
  });
});
