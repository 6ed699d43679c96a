/**
 * Type round trips: values written through a table come back identical, with the same
 * Arrow types, for every supported column type, including extremes and nulls.
 */
import {
  Table as ArrowTable,
  Binary,
  Bool,
  DateDay,
  DateMillisecond,
  Field,
  FixedSizeList,
  Float32,
  Float64,
  Int8,
  Int16,
  Int32,
  Int64,
  LargeUtf8,
  List,
  Schema,
  Struct,
  TimestampMicrosecond,
  TimestampMillisecond,
  TimestampNanosecond,
  Uint8,
  Uint16,
  Uint32,
  Uint64,
  Utf8,
  vectorFromArray,
} from "apache-arrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Connection } from "../js/index";
import { freshDb, removeDir, rowsOf } from "./helpers/facade";

const f32 = Math.fround;
const item = (type: Float32 | Int32) => new Field("item", type, true);
const structType = new Struct([
  new Field("a", new Int32(), true),
  new Field("b", new Utf8(), true),
]);

/** Column name -> [type, values]; row 0..3, each column has a null somewhere. */
const columns = {
  i8: [new Int8(), [-128, 127, 0, null]],
  i16: [new Int16(), [-32768, 32767, -1, null]],
  i32: [new Int32(), [-2147483648, 2147483647, 7, null]],
  i64: [new Int64(), [-(2n ** 63n), 2n ** 63n - 1n, 0n, null]],
  u8: [new Uint8(), [0, 255, 1, null]],
  u16: [new Uint16(), [0, 65535, 2, null]],
  u32: [new Uint32(), [0, 4294967295, 3, null]],
  u64: [new Uint64(), [0n, 2n ** 64n - 1n, 2n ** 53n + 1n, null]],
  f32: [new Float32(), [f32(3.4028234663852886e38), f32(-1.5), f32(1e-40), null]],
  f64: [new Float64(), [Number.MAX_VALUE, Number.MIN_VALUE, -0.1, null]],
  flag: [new Bool(), [true, false, null, true]],
  text: [new Utf8(), ["", "héllo wörld 🌍", "x".repeat(1000), null]],
  large: [new LargeUtf8(), ["large", "", null, "🦀"]],
  bytes: [
    new Binary(),
    [new Uint8Array([0, 255, 1]), new Uint8Array(0), null, new Uint8Array([7])],
  ],
  day: [
    new DateDay(),
    [
      new Date(Date.UTC(1970, 0, 1)),
      new Date(Date.UTC(2024, 1, 29)),
      null,
      new Date(Date.UTC(1900, 11, 31)),
    ],
  ],
  dms: [
    new DateMillisecond(),
    [new Date(Date.UTC(2020, 4, 5)), null, new Date(0), new Date(Date.UTC(2099, 0, 1))],
  ],
  ts_ms: [new TimestampMillisecond(), [1700000000123, 0, null, -86400000]],
  ts_us: [new TimestampMicrosecond(), [1700000000123, 1, null, 0]],
  ts_ns: [new TimestampNanosecond(), [1700000000123, 2, 3, null]],
  list: [new List(item(new Int32())), [[1, 2, 3], [], null, [null, 5]]],
  vec: [
    new FixedSizeList(3, item(new Float32())),
    [[1, 2, 3], [f32(0.1), f32(-0.2), f32(1e30)], null, [0, 0, 0]],
  ],
  st: [structType, [{ a: 1, b: "x" }, { a: null, b: "y" }, { a: 3, b: null }, null]],
} as const;

type Columns = typeof columns;

function buildTable(): ArrowTable {
  const vectors: Record<string, unknown> = {};
  const fields: Field[] = [];
  for (const [name, [type, values]] of Object.entries(columns) as [
    string,
    Columns[keyof Columns],
  ][]) {
    fields.push(new Field(name, type, true));
    vectors[name] = vectorFromArray(values as never, type as never);
  }
  return new ArrowTable(new Schema(fields), vectors as never);
}

/** Timestamps read back as numbers; dates as numbers of ms: compare those. */
function expected(): Record<string, unknown>[] {
  return rowsOf(buildTable());
}

let dir: string;
let db: Connection;

beforeEach(async () => {
  ({ dir, db } = await freshDb());
});
afterEach(() => {
  db.close();
  removeDir(dir);
});

describe("Arrow data round trip", () => {
  it("keeps every type and value", async () => {
    const input = buildTable();
    const table = await db.createTable("types", input);
    const out = await table.toArrow();
    expect(out.numRows).toBe(4);
    expect(out.schema.fields.map((f) => [f.name, String(f.type)])).toEqual(
      input.schema.fields.map((f) => [f.name, String(f.type)]),
    );
    const got = rowsOf(out);
    const want = expected();
    for (const name of Object.keys(columns)) {
      expect(
        got.map((r) => r[name]),
        `column ${name}`,
      ).toEqual(want.map((r) => r[name]));
    }
    // Null counts survive, column by column.
    for (const f of input.schema.fields) {
      expect(out.getChild(f.name)!.nullCount, `nulls of ${f.name}`).toBe(
        input.getChild(f.name)!.nullCount,
      );
    }
    table.close();
  });

  it("keeps the raw bytes of integers and floats", async () => {
    const input = buildTable();
    const table = await db.createTable("raw", input);
    const out = await table.toArrow();
    for (const name of ["i64", "u64", "f32", "f64", "ts_ns"]) {
      const a = input.getChild(name)!.toArray();
      const b = out.getChild(name)!.toArray();
      expect(Array.from(b as ArrayLike<unknown>), name).toEqual(
        Array.from(a as ArrayLike<unknown>),
      );
    }
    table.close();
  });

  it("survives a write through each path: add, and a later version read back", async () => {
    const input = buildTable();
    const table = await db.createEmptyTable("empty", input.schema);
    await table.add(input);
    await table.add(input.slice(1, 3));
    expect(await table.countRows()).toBe(6);
    const got = rowsOf(await table.toArrow());
    const want = expected();
    expect(got).toEqual([...want, ...want.slice(1, 3)]);
    table.close();
  });
});

describe("plain rows with a schema", () => {
  it("round-trips bigint extremes, unsigned, floats, strings, dates, lists and structs", async () => {
    const schema = new Schema([
      new Field("i64", new Int64(), true),
      new Field("u64", new Uint64(), true),
      new Field("i8", new Int8(), true),
      new Field("f32", new Float32(), true),
      new Field("s", new Utf8(), true),
      new Field("ts", new TimestampMillisecond(), true),
      new Field("vec", new FixedSizeList(2, item(new Float32())), true),
      new Field("st", structType, true),
    ]);
    const rows = [
      {
        i64: -(2n ** 63n),
        u64: 2n ** 64n - 1n,
        i8: -128,
        f32: f32(0.1),
        s: "a'b\"c",
        ts: new Date(1700000000123),
        vec: [f32(0.5), f32(-0.25)],
        st: { a: 1, b: "x" },
      },
      {
        i64: 2n ** 63n - 1n,
        u64: 0n,
        i8: 127,
        f32: null,
        s: null,
        ts: null,
        vec: null,
        st: null,
      },
    ];
    const table = await db.createTable("plain", rows, { schema });
    const out = await table.toArrow();
    expect(out.schema.fields.map((f) => String(f.type))).toEqual(
      schema.fields.map((f) => String(f.type)),
    );
    expect(rowsOf(out)).toEqual(
      rows.map((r) => ({ ...r, ts: r.ts === null ? null : r.ts.getTime() })),
    );
    table.close();
  });

  it("infers Float64, Int64, Utf8, Bool, Timestamp, Binary, vectors and structs", async () => {
    const table = await db.createTable("inferred", [
      {
        n: 1.5,
        big: 10n,
        s: "x",
        b: true,
        d: new Date(5),
        bin: new Uint8Array([1]),
        v: [1, 2],
        st: { k: "v" },
      },
    ]);
    const s = await table.schema();
    expect(s.fields.map((f) => String(f.type))).toEqual([
      "Float64",
      "Int64",
      "Utf8",
      "Bool",
      "Timestamp<MILLISECOND>",
      "Binary",
      "FixedSizeList[2]<Float32>",
      "Struct<{k:Utf8}>",
    ]);
    const [row] = rowsOf(await table.toArrow());
    expect(row).toEqual({
      n: 1.5,
      big: 10n,
      s: "x",
      b: true,
      d: 5,
      bin: new Uint8Array([1]),
      v: [1, 2],
      st: { k: "v" },
    });
    table.close();
  });
});
