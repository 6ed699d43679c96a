/**
 * Every write kind: the version it creates, the counts it reports, and the rows it leaves.
 */
import {
  Field,
  FixedSizeList,
  Float32,
  Float64,
  Int32,
  Int64,
  type RecordBatch,
  Schema,
  tableFromArrays,
  Utf8,
} from "apache-arrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Connection, Table } from "../js/index";
import { fieldNames, freshDb, removeDir, tableRows } from "./helpers/facade";

const schema = new Schema([
  new Field("id", new Int64(), false),
  new Field("name", new Utf8(), true),
  new Field("n", new Float64(), true),
]);

const base = [
  { id: 1n, name: "a", n: 1 },
  { id: 2n, name: "b", n: 2 },
  { id: 3n, name: "c", n: 3 },
];

let dir: string;
let db: Connection;
let table: Table;

beforeEach(async () => {
  ({ dir, db } = await freshDb());
  table = await db.createTable("t", base, { schema });
});
afterEach(() => {
  table.close();
  db.close();
  removeDir(dir);
});

describe("createTable", () => {
  it("creates version 1 with the given rows and schema", async () => {
    expect(await table.version()).toBe(1);
    expect(await tableRows(table)).toEqual(base);
    const s = await table.schema();
    expect(fieldNames(s)).toEqual(["id", "name", "n"]);
    expect(s.fields[0]!.nullable).toBe(false);
  });

  it("accepts an apache-arrow Table and infers from plain rows", async () => {
    const arrowTable = tableFromArrays({
      x: new Int32Array([1, 2, 3]),
      y: ["p", "q", "r"],
    });
    const t1 = await db.createTable("from_arrow", arrowTable);
    expect(await t1.countRows()).toBe(3);
    expect(String((await t1.schema()).fields[0]!.type)).toBe("Int32");
    const t2 = await db.createTable("inferred", [{ v: [1, 2, 3], s: "x", b: 5n }]);
    const s2 = await t2.schema();
    expect(s2.fields.map((f) => String(f.type))).toEqual([
      "FixedSizeList[3]<Float32>",
      "Utf8",
      "Int64",
    ]);
    expect(await db.tableNames()).toEqual(["from_arrow", "inferred", "t"]);
  });

  it("createEmptyTable has the schema and no rows; add works on it", async () => {
    const empty = await db.createEmptyTable("empty", schema);
    expect(await empty.version()).toBe(1);
    expect(await empty.countRows()).toBe(0);
    expect(fieldNames(await empty.schema())).toEqual(["id", "name", "n"]);
    const arrow = await empty.toArrow();
    expect(arrow.numRows).toBe(0);
    expect(fieldNames(arrow.schema)).toEqual(["id", "name", "n"]);
    expect(await empty.add([{ id: 1n, name: "x", n: 0.5 }])).toEqual({ version: 2, rowsAdded: 1 });
  });

  it("mode overwrite replaces the rows as a new version", async () => {
    const t = await db.createTable("t", [{ id: 9n, name: "z", n: 9 }], {
      schema,
      mode: "overwrite",
    });
    expect(await t.version()).toBe(2);
    expect(await tableRows(t)).toEqual([{ id: 9n, name: "z", n: 9 }]);
    await t.checkout(1);
    expect(await tableRows(t)).toEqual(base);
  });
});

describe("add", () => {
  it("appends plain rows, typed with the table's schema", async () => {
    const r = await table.add([
      { id: 4, name: "d", n: 4.5 },
      { id: 5, n: 5 }, // missing nullable column -> null
    ]);
    expect(r).toEqual({ version: 2, rowsAdded: 2 });
    expect(await table.countRows()).toBe(5);
    const rows = await tableRows(table);
    expect(rows[3]).toEqual({ id: 4n, name: "d", n: 4.5 });
    expect(rows[4]).toEqual({ id: 5n, name: null, n: 5 });
  });

  it("appends an apache-arrow Table, a RecordBatch and an array of batches", async () => {
    const t1 = tableFromArrays({
      id: new BigInt64Array([10n, 11n]),
      name: ["r10", "r11"],
      n: new Float64Array([5, 5.5]),
    });
    expect(await table.add(t1)).toEqual({ version: 2, rowsAdded: 2 });
    const batch: RecordBatch = t1.batches[0]!;
    expect(await table.add(batch)).toEqual({ version: 3, rowsAdded: 2 });
    // The string column of tableFromArrays is dictionary-encoded; it is stored as Utf8.
    expect(String((await table.schema()).fields[1]!.type)).toBe("Utf8");
    expect(await table.add([batch, batch])).toEqual({ version: 4, rowsAdded: 4 });
    expect(await table.countRows()).toBe(11);
    expect(await table.countRows("id = 10")).toBe(4);
  });

  it("mode overwrite replaces all rows; the old version keeps them", async () => {
    const r = await table.add([{ id: 7n, name: "only", n: 0 }], { mode: "overwrite" });
    expect(r).toEqual({ version: 2, rowsAdded: 1 });
    expect(await tableRows(table)).toEqual([{ id: 7n, name: "only", n: 0 }]);
    await table.checkout(1);
    expect(await tableRows(table)).toEqual(base);
  });

  it("rejects an unknown mode", async () => {
    await expect(table.add(base, { mode: "upsert" as never })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });
});

describe("update", () => {
  it("sets JS values on the matching rows", async () => {
    const r = await table.update({ where: "id >= 2", values: { name: "it's", n: -1.25 } });
    expect(r).toEqual({ version: 2, rowsUpdated: 2 });
    expect(await tableRows(table)).toEqual([
      { id: 1n, name: "a", n: 1 },
      { id: 2n, name: "it's", n: -1.25 },
      { id: 3n, name: "it's", n: -1.25 },
    ]);
  });

  it("sets null", async () => {
    const r = await table.update({ where: "id = 1", values: { name: null } });
    expect(r.rowsUpdated).toBe(1);
    expect((await tableRows(table))[0]).toEqual({ id: 1n, name: null, n: 1 });
  });

  it("accepts a Map of values", async () => {
    const r = await table.update({ where: "id = 3", values: new Map([["n", 30]]) });
    expect(r).toEqual({ version: 2, rowsUpdated: 1 });
    expect((await tableRows(table))[2]!.n).toBe(30);
  });

  it("sets SQL expressions with valuesSql", async () => {
    const r = await table.update({ valuesSql: { n: "n * 10 + 1", name: "upper(name)" } });
    expect(r).toEqual({ version: 2, rowsUpdated: 3 });
    expect(await tableRows(table)).toEqual([
      { id: 1n, name: "A", n: 11 },
      { id: 2n, name: "B", n: 21 },
      { id: 3n, name: "C", n: 31 },
    ]);
  });

  it("accepts the @lancedb/lancedb form update(sqlValues, { where })", async () => {
    const r = await table.update({ n: "n + 100" }, { where: "name = 'b'" });
    expect(r).toEqual({ version: 2, rowsUpdated: 1 });
    expect((await tableRows(table))[1]!.n).toBe(102);
    const all = await table.update({ name: "'same'" });
    expect(all).toEqual({ version: 3, rowsUpdated: 3 });
  });

  it("sets a vector column from a JS array", async () => {
    const vecType = new FixedSizeList(3, new Field("item", new Float32(), true));
    const t = await db.createTable(
      "vectors",
      [
        { id: 1n, v: [1, 2, 3] },
        { id: 2n, v: [4, 5, 6] },
      ],
      { schema: new Schema([new Field("id", new Int64(), true), new Field("v", vecType, true)]) },
    );
    const r = await t.update({ where: "id = 2", values: { v: [0.5, -1, 10] } });
    expect(r).toEqual({ version: 2, rowsUpdated: 1 });
    expect(await tableRows(t)).toEqual([
      { id: 1n, v: [1, 2, 3] },
      { id: 2n, v: [0.5, -1, 10] },
    ]);
    expect(String((await t.schema()).fields[1]!.type)).toBe("FixedSizeList[3]<Float32>");
    t.close();
  });

  it("reports 0 rows when nothing matches", async () => {
    const r = await table.update({ where: "id > 100", values: { n: 0 } });
    expect(r.rowsUpdated).toBe(0);
    expect(await tableRows(table)).toEqual(base);
  });

  it("needs exactly one of values and valuesSql", async () => {
    await expect(table.update({ where: "id = 1" })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(
      table.update({ values: { n: 1 }, valuesSql: { n: "1" } } as never),
    ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(table.update({ values: {} })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    expect(await table.version()).toBe(1);
  });
});

describe("delete", () => {
  it("deletes the matching rows and reports how many", async () => {
    const r = await table.delete("n < 2.5");
    expect(r).toEqual({ version: 2, numDeletedRows: 2 });
    expect(await tableRows(table)).toEqual([base[2]]);
    await table.checkout(1);
    expect(await table.countRows()).toBe(3);
  });

  it("reports 0 when nothing matches and keeps the rows", async () => {
    const r = await table.delete("id = 42");
    expect(r.numDeletedRows).toBe(0);
    expect(await tableRows(table)).toEqual(base);
  });

  it("rejects an empty predicate", async () => {
    await expect(table.delete("")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});

describe("mergeInsert", () => {
  const source = [
    { id: 2n, name: "B", n: 20 }, // matches
    { id: 4n, name: "D", n: 40 }, // new
  ];

  it("whenMatchedUpdateAll only", async () => {
    const r = await table.mergeInsert("id").whenMatchedUpdateAll().execute(source);
    expect(r).toEqual({ version: 2, numInsertedRows: 0, numUpdatedRows: 1, numDeletedRows: 0 });
    expect(await tableRows(table)).toEqual([base[0], { id: 2n, name: "B", n: 20 }, base[2]]);
  });

  it("whenNotMatchedInsertAll only", async () => {
    const r = await table.mergeInsert("id").whenNotMatchedInsertAll().execute(source);
    expect(r).toEqual({ version: 2, numInsertedRows: 1, numUpdatedRows: 0, numDeletedRows: 0 });
    expect(await tableRows(table)).toEqual([...base, { id: 4n, name: "D", n: 40 }]);
  });

  it("whenMatchedUpdateAll + whenNotMatchedInsertAll (upsert)", async () => {
    const r = await table
      .mergeInsert("id")
      .whenMatchedUpdateAll()
      .whenNotMatchedInsertAll()
      .execute(source);
    expect(r).toEqual({ version: 2, numInsertedRows: 1, numUpdatedRows: 1, numDeletedRows: 0 });
    expect(await tableRows(table)).toEqual([
      base[0],
      { id: 2n, name: "B", n: 20 },
      base[2],
      { id: 4n, name: "D", n: 40 },
    ]);
  });

  it("all three clauses (replace the table's contents with the source)", async () => {
    const r = await table
      .mergeInsert("id")
      .whenMatchedUpdateAll()
      .whenNotMatchedInsertAll()
      .whenNotMatchedBySourceDelete()
      .execute(source);
    expect(r).toEqual({ version: 2, numInsertedRows: 1, numUpdatedRows: 1, numDeletedRows: 2 });
    expect(await tableRows(table)).toEqual([
      { id: 2n, name: "B", n: 20 },
      { id: 4n, name: "D", n: 40 },
    ]);
  });

  it("whenNotMatchedBySourceDelete only, and with a where condition", async () => {
    const r = await table.mergeInsert("id").whenNotMatchedBySourceDelete().execute(source);
    expect(r).toEqual({ version: 2, numInsertedRows: 0, numUpdatedRows: 0, numDeletedRows: 2 });
    expect(await tableRows(table)).toEqual([base[1]]);

    await table.add([base[0]!, base[2]!]);
    const r2 = await table
      .mergeInsert("id")
      .whenNotMatchedBySourceDelete({ where: "n > 2" })
      .execute(source);
    expect(r2).toEqual({ version: 4, numInsertedRows: 0, numUpdatedRows: 0, numDeletedRows: 1 });
    expect(await tableRows(table)).toEqual([base[0], base[1]]);
  });

  it("whenNotMatchedInsertAll + whenNotMatchedBySourceDelete", async () => {
    const r = await table
      .mergeInsert("id")
      .whenNotMatchedInsertAll()
      .whenNotMatchedBySourceDelete()
      .execute(source);
    expect(r).toEqual({ version: 2, numInsertedRows: 1, numUpdatedRows: 0, numDeletedRows: 2 });
    expect(await tableRows(table)).toEqual([base[1], { id: 4n, name: "D", n: 40 }]);
  });

  it("whenMatchedUpdateAll with a where condition on target and source", async () => {
    const r = await table
      .mergeInsert("id")
      .whenMatchedUpdateAll({ where: "source.n > target.n * 5" })
      .execute([
        { id: 1n, name: "A", n: 2 }, // 2 > 5? no
        { id: 2n, name: "B", n: 20 }, // 20 > 10? yes
      ]);
    expect(r).toEqual({ version: 2, numInsertedRows: 0, numUpdatedRows: 1, numDeletedRows: 0 });
    expect(await tableRows(table)).toEqual([base[0], { id: 2n, name: "B", n: 20 }, base[2]]);
  });

  it("a source with only the key and some columns leaves the other columns alone", async () => {
    const r = await table
      .mergeInsert("id")
      .whenMatchedUpdateAll()
      .execute([
        { id: 1n, n: 100 },
        { id: 3n, n: 300 },
      ]);
    expect(r.numUpdatedRows).toBe(2);
    expect(await tableRows(table)).toEqual([
      { id: 1n, name: "a", n: 100 },
      base[1],
      { id: 3n, name: "c", n: 300 },
    ]);
  });

  it("matches on a composite key", async () => {
    const t = await db.createTable(
      "composite",
      [
        { a: 1n, b: "x", v: 1 },
        { a: 1n, b: "y", v: 2 },
      ],
      {
        schema: new Schema([
          new Field("a", new Int64(), true),
          new Field("b", new Utf8(), true),
          new Field("v", new Float64(), true),
        ]),
      },
    );
    const r = await t
      .mergeInsert(["a", "b"])
      .whenMatchedUpdateAll()
      .whenNotMatchedInsertAll()
      .execute([
        { a: 1n, b: "y", v: 20 },
        { a: 2n, b: "x", v: 30 },
      ]);
    expect(r).toEqual({ version: 2, numInsertedRows: 1, numUpdatedRows: 1, numDeletedRows: 0 });
    expect(await t.countRows()).toBe(3);
    expect(await t.countRows("a = 1 AND b = 'y' AND v = 20")).toBe(1);
  });

  it("the builder is immutable: each clause returns a new builder", async () => {
    const b = table.mergeInsert("id");
    const upd = b.whenMatchedUpdateAll();
    expect(upd).not.toBe(b);
    // `b` has no clause, so it cannot execute.
    await expect(b.execute(source)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    expect((await upd.execute(source)).numUpdatedRows).toBe(1);
  });

  it("accepts apache-arrow source data", async () => {
    const src = tableFromArrays({
      id: new BigInt64Array([3n, 5n]),
      name: ["C", "E"],
      n: new Float64Array([33, 55]),
    });
    const r = await table
      .mergeInsert("id")
      .whenMatchedUpdateAll()
      .whenNotMatchedInsertAll()
      .execute(src);
    expect(r).toEqual({ version: 2, numInsertedRows: 1, numUpdatedRows: 1, numDeletedRows: 0 });
  });
});

describe("addColumns", () => {
  it("adds computed columns from SQL", async () => {
    const r = await table.addColumns([
      { name: "double_n", valueSql: "n * 2" },
      { name: "label", valueSql: "concat(name, '!')" },
    ]);
    expect(r).toEqual({ version: 2 });
    expect(fieldNames(await table.schema())).toEqual(["id", "name", "n", "double_n", "label"]);
    const rows = await tableRows(table);
    expect(rows.map((row) => row.double_n)).toEqual([2, 4, 6]);
    expect(rows.map((row) => row.label)).toEqual(["a!", "b!", "c!"]);
  });

  it("adds all-null columns from a Field, Field[] and a Schema", async () => {
    const vec = new FixedSizeList(4, new Field("item", new Float32(), true));
    expect(await table.addColumns(new Field("emb", vec, true))).toEqual({ version: 2 });
    expect(
      await table.addColumns([
        new Field("f1", new Int32(), true),
        new Field("f2", new Utf8(), true),
      ]),
    ).toEqual({ version: 3 });
    expect(await table.addColumns(new Schema([new Field("f3", new Float64(), true)]))).toEqual({
      version: 4,
    });
    const s = await table.schema();
    expect(fieldNames(s)).toEqual(["id", "name", "n", "emb", "f1", "f2", "f3"]);
    expect(String(s.fields[3]!.type)).toBe("FixedSizeList[4]<Float32>");
    expect(await table.countRows("emb IS NULL AND f1 IS NULL AND f2 IS NULL AND f3 IS NULL")).toBe(
      3,
    );
    // The new vector column can then be filled by a merge.
    await table
      .mergeInsert("id")
      .whenMatchedUpdateAll()
      .execute([{ id: 1n, emb: [1, 2, 3, 4] }]);
    expect((await tableRows(table))[0]!.emb).toEqual([1, 2, 3, 4]);
  });

  it("rejects input that is neither SQL columns nor fields", async () => {
    await expect(table.addColumns([] as never)).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(table.addColumns([{ name: "x" }] as never)).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });
});

describe("alterColumns", () => {
  it("renames, changes nullability and type", async () => {
    const r = await table.alterColumns([
      { path: "name", rename: "title" },
      { path: "id", nullable: true },
    ]);
    expect(r).toEqual({ version: 2 });
    const s = await table.schema();
    expect(fieldNames(s)).toEqual(["id", "title", "n"]);
    expect(s.fields[0]!.nullable).toBe(true);
    expect((await tableRows(table)).map((row) => row.title)).toEqual(["a", "b", "c"]);

    const r2 = await table.alterColumns([{ path: "n", dataType: new Float32() }]);
    expect(r2).toEqual({ version: 3 });
    expect(String((await table.schema()).fields[2]!.type)).toBe("Float32");
    expect((await tableRows(table)).map((row) => row.n)).toEqual([1, 2, 3]);

    await table.checkout(1);
    expect(fieldNames(await table.schema())).toEqual(["id", "name", "n"]);
  });

  it("rejects an alteration that changes nothing, or a dataType that is not an Arrow type", async () => {
    await expect(table.alterColumns([{ path: "n" }])).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(
      table.alterColumns([{ path: "n", dataType: "float" as never }]),
    ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(table.alterColumns([])).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});

describe("dropColumns", () => {
  it("drops columns as a new version; older versions keep them", async () => {
    const r = await table.dropColumns(["name"]);
    expect(r).toEqual({ version: 2 });
    expect(fieldNames(await table.schema())).toEqual(["id", "n"]);
    expect(await tableRows(table)).toEqual(base.map(({ id, n }) => ({ id, n })));
    await table.checkout(1);
    expect(await tableRows(table)).toEqual(base);
  });
});

describe("versions advance by exactly one per write", () => {
  it("add, update, delete, merge, addColumns, alterColumns, dropColumns, restore", async () => {
    const steps: (() => Promise<{ version: number }>)[] = [
      () => table.add([{ id: 4n, name: "d", n: 4 }]),
      () => table.update({ where: "id = 4", values: { n: 44 } }),
      () => table.delete("id = 4"),
      () =>
        table
          .mergeInsert("id")
          .whenNotMatchedInsertAll()
          .execute([{ id: 5n, n: 5 }]),
      () => table.addColumns([{ name: "m", valueSql: "n + 1" }]),
      () => table.alterColumns([{ path: "m", rename: "m2" }]),
      () => table.dropColumns(["m2"]),
      () => table.restore(1),
    ];
    let expected = 1;
    for (const step of steps) {
      expected++;
      const r = await step();
      expect(r.version).toBe(expected);
      expect(await table.version()).toBe(expected);
    }
    expect((await table.listVersions()).map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await tableRows(table)).toEqual(base);
  });
});
