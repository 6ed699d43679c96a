/**
 * Interop with @lancedb/lancedb: both store a table `name` at `<uri>/name.lance` in the Lance
 * format, so each opens and reads the other's tables, history included.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { Field, FixedSizeList, Float32, Int64, Schema, Utf8 } from "apache-arrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Connection, connect } from "../js/index";
import { fieldNames, removeDir, rng, rowsOf, tableRows, tempDir } from "./helpers/facade";

const DIM = 8;
const schema = new Schema([
  new Field("id", new Int64(), true),
  new Field("text", new Utf8(), true),
  new Field("vec", new FixedSizeList(DIM, new Field("item", new Float32(), true)), true),
]);

function makeRows(from: number, count: number, seed: number) {
  const next = rng(seed);
  return Array.from({ length: count }, (_, i) => ({
    id: BigInt(from + i),
    text: `row ${from + i}`,
    vec: Array.from({ length: DIM }, () => Math.fround(next() * 2 - 1)),
  }));
}

/** Plain rows of a lancedb query result, sorted by id. */
async function lanceRows(t: lancedb.Table): Promise<Record<string, unknown>[]> {
  return rowsOf(await t.query().toArrow(), "id");
}

let dir: string;
let db: Connection;
let ldb: lancedb.Connection;

beforeEach(async () => {
  dir = tempDir();
  db = await connect(dir);
  ldb = await lancedb.connect(dir);
});
afterEach(() => {
  db.close();
  ldb.close();
  removeDir(dir);
});

describe("a table written by palimpsest", () => {
  it("opens in @lancedb/lancedb with identical rows, schema and history", async () => {
    const t = await db.createTable("pq", makeRows(0, 20, 1), { schema });
    await t.add(makeRows(20, 10, 2));
    await t.update({ where: "id < 5", values: { text: "updated" } });
    await t.delete("id = 7");
    const ours = await tableRows(t);
    expect(ours).toHaveLength(29);

    expect(fs.existsSync(path.join(dir, "pq.lance"))).toBe(true);
    expect(await ldb.tableNames()).toEqual(["pq"]);
    const theirs = await ldb.openTable("pq");
    expect(await theirs.version()).toBe(4);
    expect(await theirs.countRows()).toBe(29);
    expect(await theirs.countRows("text = 'updated'")).toBe(5);
    const theirSchema = await theirs.schema();
    expect(theirSchema.fields.map((f) => [f.name, String(f.type)])).toEqual(
      schema.fields.map((f) => [f.name, String(f.type)]),
    );
    expect(await lanceRows(theirs)).toEqual(ours);
    expect((await theirs.listVersions()).map((v) => v.version)).toEqual([1, 2, 3, 4]);

    // Their checkout of version 1 sees what ours sees.
    await theirs.checkout(1);
    await t.checkout(1);
    expect(await lanceRows(theirs)).toEqual(await tableRows(t));
    theirs.close();
    t.close();
  });

  it("gives the same vector search results in both", async () => {
    const t = await db.createTable("vs", makeRows(0, 100, 3), { schema });
    const q = Array.from({ length: DIM }, (_, i) => Math.fround(Math.cos(i)));
    const ours = await t.vectorSearch(q).distanceType("l2").limit(5).toArray();
    const theirs = await (await ldb.openTable("vs"))
      .vectorSearch(q)
      .distanceType("l2")
      .limit(5)
      .toArray();
    expect(ours.map((r) => r.id)).toEqual(theirs.map((r) => r.id));
    ours.forEach((r, i) => {
      expect(r._distance as number).toBeCloseTo(theirs[i]._distance as number, 5);
    });
    t.close();
  });

  it("is seen by lancedb after each later palimpsest write, including merges", async () => {
    const t = await db.createTable("grow", makeRows(0, 5, 4), { schema });
    const theirs = await ldb.openTable("grow");
    await t
      .mergeInsert("id")
      .whenMatchedUpdateAll()
      .whenNotMatchedInsertAll()
      .execute([
        { id: 0n, text: "merged" },
        { id: 99n, text: "new", vec: null },
      ]);
    await theirs.checkoutLatest();
    expect(await theirs.version()).toBe(2);
    expect(await lanceRows(theirs)).toEqual(await tableRows(t));
    expect(await theirs.countRows("text = 'merged'")).toBe(1);
    theirs.close();
    t.close();
  });
});

describe("a table palimpsest writes without stable row ids", () => {
  it("opens in @lancedb/lancedb, takes its writes, and ours after them", async () => {
    const t = await db.createTable("plain", makeRows(0, 20, 5), { schema, stableRowIds: false });
    await t.update({ where: "id % 3 = 0", values: { text: "ours" } });
    const theirs = await ldb.openTable("plain");
    expect(await lanceRows(theirs)).toEqual(await tableRows(t));
    await theirs.update({ where: "id = 1", values: { text: "theirs" } });
    await theirs.delete("id = 2");
    await t.checkoutLatest();
    await t.update({ where: "id = 4", values: { text: "ours again" } });
    await theirs.checkoutLatest();
    expect(await theirs.countRows()).toBe(19);
    expect(await theirs.countRows("text = 'theirs'")).toBe(1);
    expect(await lanceRows(theirs)).toEqual(await tableRows(t));
    theirs.close();
    t.close();
  });
});

describe("a table written by @lancedb/lancedb", () => {
  it("opens in palimpsest with identical rows, schema and history", async () => {
    const theirs = await ldb.createTable("lq", makeRows(0, 10, 5), { schema });
    await theirs.add(makeRows(10, 5, 6));
    await theirs.update({ where: "id >= 12", values: { text: "lance" } });
    await theirs.delete("id = 3");
    const theirRows = await lanceRows(theirs);
    const theirVersions = await theirs.listVersions();

    expect(fs.existsSync(path.join(dir, "lq.lance"))).toBe(true);
    expect(await db.tableNames()).toEqual(["lq"]);
    const t = await db.openTable("lq");
    expect(await t.version()).toBe(await theirs.version());
    expect(fieldNames(await t.schema())).toEqual(["id", "text", "vec"]);
    expect((await t.schema()).fields.map((f) => String(f.type))).toEqual(
      schema.fields.map((f) => String(f.type)),
    );
    expect(await tableRows(t)).toEqual(theirRows);
    const ourVersions = await t.listVersions();
    expect(ourVersions.map((v) => v.version)).toEqual(theirVersions.map((v) => v.version));
    ourVersions.forEach((v, i) => {
      const theirTime = new Date(theirVersions[i]!.timestamp).getTime();
      expect(Math.abs(v.timestamp.getTime() - theirTime)).toBeLessThanOrEqual(1);
    });

    // History written by lancedb is readable here.
    await t.checkout(1);
    expect(await t.countRows()).toBe(10);
    await t.checkoutLatest();
    theirs.close();
    t.close();
  });

  it("takes palimpsest writes that lancedb then reads", async () => {
    const theirs = await ldb.createTable("mixed", makeRows(0, 4, 7), { schema });
    const t = await db.openTable("mixed");
    expect(await t.add(makeRows(4, 2, 8))).toEqual({ version: 2, rowsAdded: 2 });
    expect(await t.delete("id = 0")).toEqual({ version: 3, numDeletedRows: 1 });
    await t.addColumns([{ name: "len", valueSql: "length(text)" }]);

    const fresh = await ldb.openTable("mixed");
    expect(await fresh.version()).toBe(4);
    expect(await fresh.countRows()).toBe(5);
    expect(fieldNames(await fresh.schema())).toEqual(["id", "text", "vec", "len"]);
    expect(await lanceRows(fresh)).toEqual(await tableRows(t));
    // And lancedb can keep writing on top.
    await fresh.add([{ id: 50n, text: "lance again", vec: null, len: 11 }]);
    await t.checkoutLatest();
    expect(await t.countRows()).toBe(6);
    fresh.close();
    theirs.close();
    t.close();
  });

  it("both list the same tables in the same directory", async () => {
    const ours = await db.createTable("ours", makeRows(0, 1, 9), { schema });
    const theirs = await ldb.createTable("theirs", makeRows(0, 1, 10), { schema });
    expect(await db.tableNames()).toEqual(["ours", "theirs"]);
    expect(await ldb.tableNames()).toEqual(["ours", "theirs"]);
    expect(fs.readdirSync(dir).sort()).toEqual(["ours.lance", "theirs.lance"]);
    ours.close();
    theirs.close();
  });
});
