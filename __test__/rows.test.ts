// Plain JS rows -> Arrow: schema inference and strict validation (no coercion).
import * as arrow from "apache-arrow";
import { describe, expect, it } from "vitest";
import { decodeTable, encodeTable, rowsToTable, schemaToJson, type TypeJson } from "../js/arrow";
import { InvalidArgumentError, PalimpsestError, SchemaMismatchError } from "../js/errors";
import { tableContent, tableRows } from "./helpers/arrow-values";

const field = (name: string, type: arrow.DataType, nullable = true) =>
  new arrow.Field(name, type, nullable);
const schemaOf = (...fields: arrow.Field[]) => new arrow.Schema(fields);
const typeOf = (t: arrow.Table, name: string): TypeJson =>
  schemaToJson(t.schema).fields.find((f) => f.name === name)!.type;
const float32 = { type: "float", precision: "single" } as const;

/** Run `fn`, expect a PalimpsestError of `cls`, and return it for message checks. */
function caught(
  fn: () => unknown,
  cls: typeof SchemaMismatchError | typeof InvalidArgumentError,
): PalimpsestError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(cls);
    expect(e).toBeInstanceOf(PalimpsestError);
    return e as PalimpsestError;
  }
  throw new Error("expected an error, none was thrown");
}

/** Expect a SCHEMA_MISMATCH whose message names the column, the row and the expectation. */
function expectMismatch(fn: () => unknown, column: string, row: number, expected: RegExp): void {
  const err = caught(fn, SchemaMismatchError);
  expect(err.code).toBe("SCHEMA_MISMATCH");
  expect(err.name).toBe("SchemaMismatchError");
  expect(err.message).toContain(`"${column}"`);
  expect(err.message).toContain(`row ${row}`);
  expect(err.message).toMatch(expected);
}

describe("rowsToTable: inference", () => {
  it("infers scalar types, all nullable", () => {
    const t = rowsToTable([
      { f: 1.5, i: 10n, s: "a", b: true, d: new Date(86_400_000), bin: Buffer.from([1, 2]) },
      { f: null, i: null, s: null, b: false, d: null, bin: new Uint8Array([3]) },
      { f: 3 },
    ]);
    expect(schemaToJson(t.schema)).toEqual({
      fields: [
        { name: "f", nullable: true, type: { type: "float", precision: "double" } },
        { name: "i", nullable: true, type: { type: "int", bitWidth: 64, signed: true } },
        { name: "s", nullable: true, type: { type: "utf8" } },
        { name: "b", nullable: true, type: { type: "bool" } },
        {
          name: "d",
          nullable: true,
          type: { type: "timestamp", unit: "millisecond", timezone: null },
        },
        { name: "bin", nullable: true, type: { type: "binary" } },
      ],
    });
    expect(tableRows(t)).toEqual([
      { f: 1.5, i: "10n", s: "a", b: true, d: 86_400_000, bin: [1, 2] },
      { f: null, i: null, s: null, b: false, d: null, bin: [3] },
      { f: 3, i: null, s: null, b: null, d: null, bin: null },
    ]);
  });

  it("infers Int64 for bigint mixed with integer numbers", () => {
    const t = rowsToTable([{ n: 1 }, { n: 2n ** 40n }]);
    expect(typeOf(t, "n")).toEqual({ type: "int", bitWidth: 64, signed: true });
    expect(tableRows(t)).toEqual([{ n: "1n" }, { n: `${2n ** 40n}n` }]);
  });

  it("infers FixedSizeList<Float32>(n) for equal-length number vectors (arrays and typed arrays)", () => {
    const t = rowsToTable([
      { v: [1, 2, 3] },
      { v: Float32Array.of(4, 5, 6) },
      { v: null },
      { v: Float64Array.of(0.5, 7, 8) },
    ]);
    expect(typeOf(t, "v")).toEqual({
      type: "fixedSizeList",
      listSize: 3,
      child: { name: "item", nullable: true, type: float32 },
    });
    expect(tableRows(t)).toEqual([
      { v: [1, 2, 3] },
      { v: [4, 5, 6] },
      { v: null },
      { v: [0.5, 7, 8] },
    ]);
  });

  it("infers List<Float32> when vector lengths differ", () => {
    const t = rowsToTable([{ v: [1, 2, 3] }, { v: [4] }, { v: [] }]);
    expect(typeOf(t, "v")).toEqual({
      type: "list",
      child: { name: "item", nullable: true, type: float32 },
    });
    expect(tableRows(t)).toEqual([{ v: [1, 2, 3] }, { v: [4] }, { v: [] }]);
  });

  it("infers List<Utf8> for string arrays, even of equal length", () => {
    const t = rowsToTable([{ tags: ["a", "b"] }, { tags: ["c", null] }]);
    expect(typeOf(t, "tags")).toEqual({
      type: "list",
      child: { name: "item", nullable: true, type: { type: "utf8" } },
    });
    expect(tableRows(t)).toEqual([{ tags: ["a", "b"] }, { tags: ["c", null] }]);
  });

  it("infers nested structs from plain objects, keys in first-seen order", () => {
    const t = rowsToTable([
      { meta: { author: "Rick", stats: { views: 1 } } },
      { meta: { stats: { views: 2, likes: 5n }, author: null, tags: ["x"] } },
      { meta: null },
    ]);
    expect(typeOf(t, "meta")).toEqual({
      type: "struct",
      children: [
        { name: "author", nullable: true, type: { type: "utf8" } },
        {
          name: "stats",
          nullable: true,
          type: {
            type: "struct",
            children: [
              { name: "views", nullable: true, type: { type: "float", precision: "double" } },
              { name: "likes", nullable: true, type: { type: "int", bitWidth: 64, signed: true } },
            ],
          },
        },
        {
          name: "tags",
          nullable: true,
          type: { type: "list", child: { name: "item", nullable: true, type: { type: "utf8" } } },
        },
      ],
    });
    expect(tableRows(t)).toEqual([
      { meta: { author: "Rick", stats: { views: 1, likes: null }, tags: null } },
      { meta: { author: null, stats: { views: 2, likes: "5n" }, tags: ["x"] } },
      { meta: null },
    ]);
  });

  it("throws asking for a schema when a column is null in every row", () => {
    const err = caught(() => rowsToTable([{ id: 1, note: null }, { id: 2 }]), SchemaMismatchError);
    expect(err.message).toContain('"note"');
    expect(err.message).toMatch(/schema/);
    const nested = caught(() => rowsToTable([{ m: { a: 1, b: null } }]), SchemaMismatchError);
    expect(nested.message).toContain('"m.b"');
  });

  it("throws for mixed kinds, naming the column and the row", () => {
    expectMismatch(() => rowsToTable([{ x: 1 }, { x: 2 }, { x: "3" }]), "x", 2, /number/);
    expectMismatch(
      () => rowsToTable([{ v: [1, 2] }, { v: [3, "4"] }]),
      "v",
      1,
      /number at index 1/,
    );
  });

  it("throws for values it cannot infer and for empty input", () => {
    expect(() => rowsToTable([{ m: new Map() }])).toThrow(SchemaMismatchError);
    expect(() => rowsToTable([{ v: Int32Array.of(1) }])).toThrow(/schema/);
    expect(() => rowsToTable([])).toThrow(SchemaMismatchError);
    expect(() => rowsToTable([{ v: [] }, { v: [] }])).toThrow(/element type/);
  });

  it("rejects rows that are not objects", () => {
    expect(caught(() => rowsToTable([{ a: 1 }, 5 as never]), InvalidArgumentError).code).toBe(
      "INVALID_ARGUMENT",
    );
    expect(() => rowsToTable("rows" as never)).toThrow(InvalidArgumentError);
  });
});

describe("rowsToTable: with a schema, accepted values", () => {
  it("builds every scalar type from its accepted JS forms", () => {
    const schema = schemaOf(
      field("i8", new arrow.Int8()),
      field("u16", new arrow.Uint16()),
      field("i32", new arrow.Int32()),
      field("i64", new arrow.Int64()),
      field("u64", new arrow.Uint64()),
      field("f16", new arrow.Float16()),
      field("f32", new arrow.Float32()),
      field("ts_us", new arrow.TimestampMicrosecond("UTC")),
      field("ts_s", new arrow.TimestampSecond()),
      field("day", new arrow.DateDay()),
      field("t32", new arrow.TimeMillisecond()),
      field("dur", new arrow.Duration(arrow.TimeUnit.MILLISECOND)),
      field("s", new arrow.LargeUtf8()),
      field("fsb", new arrow.FixedSizeBinary(2)),
    );
    const t = rowsToTable(
      [
        {
          i8: -128,
          u16: 65535,
          i32: 7n,
          i64: 2n ** 63n - 1n,
          u64: 2n ** 64n - 1n,
          f16: 0.5,
          f32: Number.NaN,
          ts_us: new Date(1500),
          ts_s: new Date(2999),
          day: new Date(86_400_000 * 3 + 5),
          t32: 1000,
          dur: 5n,
          s: "ü",
          fsb: Uint8Array.of(1, 2),
        },
        {
          i8: 127,
          u16: 0,
          i32: -1,
          i64: 42,
          u64: 1,
          f16: -2,
          f32: 1.25,
          ts_us: 7n,
          ts_s: 9,
          day: 4,
          t32: 1n,
          dur: -3,
          s: "",
          fsb: null,
        },
      ],
      schema,
    );
    expect(schemaToJson(t.schema)).toEqual(schemaToJson(schema));
    const cells = (name: string) => [0, 1].map((r) => t.getChild(name)!.get(r));
    expect(cells("i8")).toEqual([-128, 127]);
    expect(cells("u16")).toEqual([65535, 0]);
    expect(cells("i32")).toEqual([7, -1]);
    expect(cells("i64")).toEqual([2n ** 63n - 1n, 42n]);
    expect(cells("u64")).toEqual([2n ** 64n - 1n, 1n]);
    expect(cells("f16")).toEqual([0.5, -2]);
    expect(Number.isNaN(cells("f32")[0])).toBe(true);
    const raw = (name: string) =>
      Array.from(t.getChild(name)!.data[0]!.values as ArrayLike<number | bigint>);
    expect(raw("ts_us")).toEqual([1_500_000n, 7n]);
    expect(raw("ts_s")).toEqual([2n, 9n]);
    expect(raw("day")).toEqual([3, 4]);
    expect(raw("t32")).toEqual([1000, 1]);
    expect(raw("dur")).toEqual([5n, -3n]);
    expect(cells("s")).toEqual(["ü", ""]);
    expect(Array.from(cells("fsb")[0] as Uint8Array)).toEqual([1, 2]);
    expect(cells("fsb")[1]).toBeNull();
  });

  it("builds FixedSizeList<Float32> vectors from arrays and typed arrays", () => {
    const schema = schemaOf(
      field("v", new arrow.FixedSizeList(3, field("item", new arrow.Float32(), false)), true),
    );
    const t = rowsToTable(
      [
        { v: [1, 2, 3] },
        { v: Float32Array.of(4, 5, 6) },
        { v: null },
        { v: Float64Array.of(7, 8, 9) },
      ],
      schema,
    );
    expect(tableRows(t)).toEqual([
      { v: [1, 2, 3] },
      { v: [4, 5, 6] },
      { v: null },
      { v: [7, 8, 9] },
    ]);
    // One contiguous Float32Array child, not per-row allocations.
    const child = t.getChild("v")!.data[0]!.children[0]!;
    expect(child.values).toBeInstanceOf(Float32Array);
    expect(child.values.length).toBe(12);
  });

  it("builds vectors with null elements when the item field is nullable", () => {
    const schema = schemaOf(
      field("v", new arrow.FixedSizeList(2, field("item", new arrow.Float64()))),
    );
    const t = rowsToTable([{ v: [1, null] }, { v: [3, 4] }], schema);
    expect(tableRows(t)).toEqual([{ v: [1, null] }, { v: [3, 4] }]);
  });

  it("accepts a null struct even when its children are not nullable", () => {
    const schema = schemaOf(field("m", new arrow.Struct([field("a", new arrow.Int32(), false)])));
    const t = rowsToTable([{ m: { a: 1 } }, { m: null }, {}], schema);
    expect(tableRows(t)).toEqual([{ m: { a: 1 } }, { m: null }, { m: null }]);
  });

  it("builds lists, structs and maps", () => {
    const schema = schemaOf(
      field("tags", new arrow.List(field("item", new arrow.Utf8()))),
      field("m", new arrow.Struct([field("x", new arrow.Int16()), field("y", new arrow.Bool())])),
      field(
        "kv",
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
      ),
    );
    const t = rowsToTable(
      [
        { tags: ["a", null], m: { x: 1, y: true }, kv: new Map([["k", 1]]) },
        { tags: [], m: { x: null }, kv: { a: 2, b: null } },
        { tags: null, m: null, kv: null },
      ],
      schema,
    );
    expect(tableRows(t)).toEqual([
      { tags: ["a", null], m: { x: 1, y: true }, kv: { k: 1 } },
      { tags: [], m: { x: null, y: null }, kv: { a: 2, b: null } },
      { tags: null, m: null, kv: null },
    ]);
  });

  it("normalises a dictionary field to its value type", () => {
    const schema = schemaOf(field("d", new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32())));
    const t = rowsToTable([{ d: "x" }], schema);
    expect(typeOf(t, "d")).toEqual({ type: "utf8" });
  });

  it("gives an empty table with the schema for no rows, and ignores undefined-valued extra keys", () => {
    const schema = schemaOf(field("id", new arrow.Int32(), false));
    const empty = rowsToTable([], schema);
    expect(empty.numRows).toBe(0);
    expect(schemaToJson(empty.schema)).toEqual(schemaToJson(schema));
    expect(rowsToTable([{ id: 1, extra: undefined }], schema).numRows).toBe(1);
  });

  it("round-trips through the wire format", () => {
    const t = rowsToTable([
      { id: 1n, text: "hello", vec: [0.1, 0.2], meta: { ok: true } },
      { id: 2n, text: null, vec: null, meta: null },
    ]);
    expect(tableContent(decodeTable(encodeTable(t)))).toEqual(tableContent(t));
  });
});

describe("rowsToTable: with a schema, rejections (never coerced)", () => {
  const s = (name: string, type: arrow.DataType, nullable = true) =>
    schemaOf(field(name, type, nullable));

  it("rejects a string in a numeric column", () => {
    expectMismatch(
      () => rowsToTable([{ x: 1 }, { x: "2" }], s("x", new arrow.Float64())),
      "x",
      1,
      /expected a number/,
    );
    expectMismatch(() => rowsToTable([{ x: "2" }], s("x", new arrow.Int32())), "x", 0, /integer/);
    expectMismatch(() => rowsToTable([{ x: "2" }], s("x", new arrow.Int64())), "x", 0, /bigint/);
  });

  it("rejects a fractional number in an integer column", () => {
    expectMismatch(
      () => rowsToTable([{ n: 1 }, { n: 2 }, { n: 2.5 }], s("n", new arrow.Int32())),
      "n",
      2,
      /integer in \[/,
    );
    expectMismatch(
      () => rowsToTable([{ n: 0.5 }], s("n", new arrow.Int64())),
      "n",
      0,
      /safe integer/,
    );
    expectMismatch(
      () => rowsToTable([{ n: Number.NaN }], s("n", new arrow.Uint8())),
      "n",
      0,
      /integer/,
    );
  });

  it("rejects out-of-range integers", () => {
    expectMismatch(
      () => rowsToTable([{ n: 128 }], s("n", new arrow.Int8())),
      "n",
      0,
      /\[-128, 127\]/,
    );
    expectMismatch(
      () => rowsToTable([{ n: -1 }], s("n", new arrow.Uint32())),
      "n",
      0,
      /\[0, 4294967295\]/,
    );
    expectMismatch(
      () => rowsToTable([{ n: 2 ** 53 }], s("n", new arrow.Int64())),
      "n",
      0,
      /safe integer/,
    );
    expectMismatch(
      () => rowsToTable([{ n: 2n ** 63n }], s("n", new arrow.Int64())),
      "n",
      0,
      /bigint/,
    );
    expectMismatch(() => rowsToTable([{ n: -1n }], s("n", new arrow.Uint64())), "n", 0, /bigint/);
    expectMismatch(
      () => rowsToTable([{ n: 2n ** 40n }], s("n", new arrow.Int32())),
      "n",
      0,
      /integer in/,
    );
  });

  it("rejects a number in a string column", () => {
    expectMismatch(
      () => rowsToTable([{ name: "a" }, { name: 42 }], s("name", new arrow.Utf8())),
      "name",
      1,
      /expected a string/,
    );
  });

  it("rejects vectors of the wrong length instead of padding or truncating them", () => {
    const vec = s("vec", new arrow.FixedSizeList(4, field("item", new arrow.Float32())));
    expectMismatch(
      () => rowsToTable([{ vec: [1, 2, 3, 4] }, { vec: [1, 2, 3] }], vec),
      "vec",
      1,
      /array of 4 numbers/,
    );
    expectMismatch(
      () => rowsToTable([{ vec: Float32Array.of(1, 2, 3, 4, 5) }], vec),
      "vec",
      0,
      /array of 4 numbers/,
    );
    expectMismatch(
      () => rowsToTable([{ vec: [1, 2, "3", 4] }], vec),
      "vec",
      0,
      /number at index 2/,
    );
    expectMismatch(() => rowsToTable([{ vec: "1,2,3,4" }], vec), "vec", 0, /array of 4/);
    const utf = s("p", new arrow.FixedSizeList(2, field("item", new arrow.Utf8())));
    expectMismatch(() => rowsToTable([{ p: ["a"] }], utf), "p", 0, /exactly 2/);
  });

  it("rejects a key that is not in the schema", () => {
    expectMismatch(
      () => rowsToTable([{ id: 1 }, { id: 2, idd: 3 }], s("id", new arrow.Int32())),
      "idd",
      1,
      /not in the schema/,
    );
    const nested = s("m", new arrow.Struct([field("a", new arrow.Int32())]));
    expectMismatch(
      () => rowsToTable([{ m: { a: 1, b: 2 } }], nested),
      "m",
      0,
      /field "b" is not in the struct/,
    );
  });

  it("rejects a missing or null value for a non-nullable field", () => {
    const id = s("id", new arrow.Int32(), false);
    expectMismatch(() => rowsToTable([{ id: 1 }, {}], id), "id", 1, /missing.*not nullable/);
    expectMismatch(() => rowsToTable([{ id: null }], id), "id", 0, /null.*not nullable/);
    const item = s("v", new arrow.FixedSizeList(2, field("item", new arrow.Float32(), false)));
    expectMismatch(() => rowsToTable([{ v: [1, null] }], item), "v", 0, /number at index 1/);
    const child = s("m", new arrow.Struct([field("a", new arrow.Int32(), false)]));
    expectMismatch(
      () => rowsToTable([{ m: { a: 1 } }, { m: {} }], child),
      "m.a",
      1,
      /not nullable/,
    );
  });

  it("names nested paths and the caller's row for errors inside lists", () => {
    const schema = s("tags", new arrow.List(field("item", new arrow.Utf8())));
    expectMismatch(
      () => rowsToTable([{ tags: ["a"] }, { tags: [] }, { tags: ["b", 3] }], schema),
      "tags[]",
      2,
      /string/,
    );
  });

  it("rejects other wrong kinds: booleans, dates, binary, structs", () => {
    expectMismatch(() => rowsToTable([{ b: 1 }], s("b", new arrow.Bool())), "b", 0, /boolean/);
    expectMismatch(
      () => rowsToTable([{ t: "2024-01-01" }], s("t", new arrow.TimestampMillisecond())),
      "t",
      0,
      /Date/,
    );
    expectMismatch(
      () => rowsToTable([{ t: new Date(Number.NaN) }], s("t", new arrow.TimestampMillisecond())),
      "t",
      0,
      /Date/,
    );
    expectMismatch(
      () => rowsToTable([{ t: 1.5 }], s("t", new arrow.TimestampMillisecond())),
      "t",
      0,
      /integer/,
    );
    expectMismatch(
      () => rowsToTable([{ b: "abc" }], s("b", new arrow.Binary())),
      "b",
      0,
      /Uint8Array/,
    );
    expectMismatch(
      () => rowsToTable([{ b: Uint8Array.of(1) }], s("b", new arrow.FixedSizeBinary(2))),
      "b",
      0,
      /exactly 2 bytes/,
    );
    expectMismatch(
      () => rowsToTable([{ m: [1] }], s("m", new arrow.Struct([field("a", new arrow.Int32())]))),
      "m",
      0,
      /object/,
    );
    expectMismatch(() => rowsToTable([{ f: 1n }], s("f", new arrow.Float64())), "f", 0, /number/);
  });

  it("refuses Decimal values from plain objects with InvalidArgumentError", () => {
    const err = caught(
      () => rowsToTable([{ price: 1.5 }], s("price", new arrow.Decimal(2, 10, 128))),
      InvalidArgumentError,
    );
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toContain('"price"');
    expect(err.message).toMatch(/not supported from plain objects; pass Arrow data/);
  });
});

const sameBytes = (a: ArrayBufferView, b: ArrayBufferView) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );

describe("rowsToTable: large vector columns", () => {
  it("builds 100k rows x 384-dim vectors exactly", () => {
    const rows = 100_000;
    const dim = 384;
    const pool = new Float32Array(rows * dim);
    for (let i = 0; i < pool.length; i++) pool[i] = (i % 1000) / 1000;
    const data = Array.from({ length: rows }, (_, i) => ({
      id: i,
      vector: pool.subarray(i * dim, (i + 1) * dim),
    }));
    const schema = schemaOf(
      field("id", new arrow.Int32(), false),
      field("vector", new arrow.FixedSizeList(dim, field("item", new arrow.Float32()))),
    );
    const t = rowsToTable(data, schema);
    expect(t.numRows).toBe(rows);
    const child = t.getChild("vector")!.data[0]!.children[0]!.values as Float32Array;
    // Byte comparison: vitest's deep equality is far too slow for 38M elements.
    expect(sameBytes(child, pool)).toBe(true);

    // Plain number arrays (what JSON gives) go through the same one-buffer path.
    const plainRows = Array.from({ length: 20_000 }, (_, i) => ({
      id: i,
      vector: Array.from(pool.subarray(i * dim, (i + 1) * dim)),
    }));
    const t2 = rowsToTable(plainRows, schema);
    const child2 = t2.getChild("vector")!.data[0]!.children[0]!.values as Float32Array;
    expect(sameBytes(child2, pool.subarray(0, 20_000 * dim))).toBe(true);
  });
});
