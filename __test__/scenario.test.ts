/**
 * The user's scenario (design.md, from seed/versioning-guide.txt), verbatim: versions 1..9.
 * Real embedding models are replaced by deterministic pseudo-random unit vectors of the
 * same dimensions (384 for all-MiniLM-L6-v2, 768 for all-mpnet-base-v2).
 */
import { Field, Int64, Schema, Utf8 } from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Connection, connect, type Table } from "../js/index";
import { fakeEmbedding, fieldNames, removeDir, tableRows, tempDir } from "./helpers/facade";

const schema = new Schema([
  new Field("id", new Int64(), true),
  new Field("author", new Utf8(), true),
  new Field("quote", new Utf8(), true),
]);

const data = [
  { id: 1, author: "Richard", quote: "Wubba Lubba Dub Dub!" },
  { id: 2, author: "Morty", quote: "Rick, what's going on?" },
  { id: 3, author: "Richard", quote: "I turned myself into a pickle, Morty!" },
];
const moreData = [
  { id: 4, author: "Richard Daniel Sanchez", quote: "That's the way the news goes!" },
  { id: 5, author: "Morty", quote: "Aww geez, Rick!" },
];
const RICK = "Richard Daniel Sanchez";

/** Rows of version 3: the original data with Richard renamed, plus the two new rows. */
const v3Rows = [
  { id: 1n, author: RICK, quote: "Wubba Lubba Dub Dub!" },
  { id: 2n, author: "Morty", quote: "Rick, what's going on?" },
  { id: 3n, author: RICK, quote: "I turned myself into a pickle, Morty!" },
  { id: 4n, author: RICK, quote: "That's the way the news goes!" },
  { id: 5n, author: "Morty", quote: "Aww geez, Rick!" },
];
const quotes = new Map(v3Rows.map((r) => [Number(r.id), r.quote]));

const minilm = (id: number) => fakeEmbedding(`minilm:${quotes.get(id)}`, 384);
const mpnet = (id: number) => fakeEmbedding(`mpnet:${quotes.get(id)}`, 768);

const BASE = ["id", "author", "quote"];

describe("the versioning scenario, versions 1..9", () => {
  let dir: string;
  let db: Connection;
  let table: Table;
  let afterMod: number;

  beforeAll(async () => {
    dir = tempDir();
    db = await connect(dir);
  });
  afterAll(() => {
    table?.close();
    db?.close();
    removeDir(dir);
  });

  it("v1: createTable with schema, mode overwrite", async () => {
    table = await db.createTable("quotes", data, { schema, mode: "overwrite" });
    expect(table.name).toBe("quotes");
    expect(await table.version()).toBe(1);
    expect(await table.listVersions()).toHaveLength(1);
    expect(await table.countRows()).toBe(3);
    expect(fieldNames(await table.schema())).toEqual(BASE);
    expect(String((await table.schema()).fields[0]!.type)).toBe("Int64");
    expect(await db.tableNames()).toEqual(["quotes"]);
  });

  it("v2: update where author='Richard'", async () => {
    const r = await table.update({ where: "author='Richard'", values: { author: RICK } });
    expect(r).toEqual({ version: 2, rowsUpdated: 2 });
    expect(await table.countRows()).toBe(3);
    expect(await table.countRows("author = 'Richard'")).toBe(0);
    expect(await table.countRows(`author = '${RICK}'`)).toBe(2);
  });

  it("v3: add more rows", async () => {
    const r = await table.add(moreData);
    expect(r).toEqual({ version: 3, rowsAdded: 2 });
    afterMod = await table.version();
    expect(afterMod).toBe(3);
    expect(await table.listVersions()).toHaveLength(3);
    expect(await tableRows(table)).toEqual(v3Rows);
  });

  it("v4: addColumns vector_minilm as a null FixedSizeList(384, Float32)", async () => {
    const r = await table.addColumns([
      { name: "vector_minilm", valueSql: "arrow_cast(NULL, 'FixedSizeList(384, Float32)')" },
    ]);
    expect(r).toEqual({ version: 4 });
    const s = await table.schema();
    expect(fieldNames(s)).toEqual([...BASE, "vector_minilm"]);
    expect(String(s.fields[3]!.type)).toBe("FixedSizeList[384]<Float32>");
    expect(await table.countRows("vector_minilm IS NULL")).toBe(5);
  });

  it("v5: mergeInsert the minilm vectors by id", async () => {
    const idsWithVectors = [1, 2, 3, 4, 5].map((id) => ({
      id,
      vector_minilm: Array.from(minilm(id)),
    }));
    const r = await table
      .mergeInsert("id")
      .whenMatchedUpdateAll()
      .whenNotMatchedInsertAll()
      .execute(idsWithVectors);
    expect(r).toEqual({ version: 5, numInsertedRows: 0, numUpdatedRows: 5, numDeletedRows: 0 });
    expect(await table.countRows()).toBe(5);
    const rows = await tableRows(table);
    for (const row of rows) {
      const id = Number(row.id);
      // The merge source carried only id + vector: the other columns are untouched.
      expect(row.author).toBe(v3Rows[id - 1]!.author);
      expect(row.quote).toBe(v3Rows[id - 1]!.quote);
      expect(row.vector_minilm).toEqual(Array.from(minilm(id)));
    }
  });

  it("lists versions 1..5 with increasing timestamps", async () => {
    const versions = await table.listVersions();
    expect(versions.map((v) => v.version)).toEqual([1, 2, 3, 4, 5]);
    for (const v of versions) {
      expect(v.timestamp).toBeInstanceOf(Date);
      expect(Math.abs(Date.now() - v.timestamp.getTime())).toBeLessThan(10 * 60_000);
    }
    for (let i = 1; i < versions.length; i++) {
      expect(versions[i]!.timestamp.getTime()).toBeGreaterThanOrEqual(
        versions[i - 1]!.timestamp.getTime(),
      );
    }
  });

  it("v6: restore(afterMod) brings back v3's rows and schema, keeping history", async () => {
    const r = await table.restore(afterMod);
    expect(r).toEqual({ version: 6 });
    expect(await table.version()).toBe(6);
    expect(table.isCheckedOut()).toBe(false);
    expect(await table.listVersions()).toHaveLength(6);
    expect(fieldNames(await table.schema())).toEqual(BASE);
    expect(await tableRows(table)).toEqual(v3Rows);
  });

  it("v7: addColumns vector_mpnet as a null FixedSizeList(768, Float32)", async () => {
    const r = await table.addColumns([
      { name: "vector_mpnet", valueSql: "arrow_cast(NULL, 'FixedSizeList(768, Float32)')" },
    ]);
    expect(r).toEqual({ version: 7 });
    const s = await table.schema();
    expect(fieldNames(s)).toEqual([...BASE, "vector_mpnet"]);
    expect(String(s.fields[3]!.type)).toBe("FixedSizeList[768]<Float32>");
  });

  it("v8: mergeInsert the mpnet vectors by id", async () => {
    const idsWithMpnetVectors = [1, 2, 3, 4, 5].map((id) => ({
      id,
      vector_mpnet: Array.from(mpnet(id)),
    }));
    const r = await table
      .mergeInsert("id")
      .whenMatchedUpdateAll()
      .whenNotMatchedInsertAll()
      .execute(idsWithMpnetVectors);
    expect(r).toEqual({ version: 8, numInsertedRows: 0, numUpdatedRows: 5, numDeletedRows: 0 });
    for (const row of await tableRows(table)) {
      expect(row.vector_mpnet).toEqual(Array.from(mpnet(Number(row.id))));
    }
  });

  it("v9: checkoutLatest, then delete everything not by Richard Daniel Sanchez", async () => {
    await table.checkoutLatest();
    expect(table.isCheckedOut()).toBe(false);
    const r = await table.delete("author != 'Richard Daniel Sanchez'");
    expect(r).toEqual({ version: 9, numDeletedRows: 2 });
    expect(await table.countRows()).toBe(3);
    const rows = await tableRows(table);
    expect(rows.map((row) => row.id)).toEqual([1n, 3n, 4n]);
    expect(rows.every((row) => row.author === RICK)).toBe(true);
    expect(await table.listVersions()).toHaveLength(9);
  });

  it("every version 1..9 keeps its row count and schema", async () => {
    const expected: [number, number, string[]][] = [
      [1, 3, BASE],
      [2, 3, BASE],
      [3, 5, BASE],
      [4, 5, [...BASE, "vector_minilm"]],
      [5, 5, [...BASE, "vector_minilm"]],
      [6, 5, BASE],
      [7, 5, [...BASE, "vector_mpnet"]],
      [8, 5, [...BASE, "vector_mpnet"]],
      [9, 3, [...BASE, "vector_mpnet"]],
    ];
    for (const [version, rows, columns] of expected) {
      await table.checkout(version);
      expect(table.isCheckedOut()).toBe(true);
      expect(await table.version()).toBe(version);
      expect(await table.countRows(), `rows of version ${version}`).toBe(rows);
      expect(fieldNames(await table.schema()), `columns of version ${version}`).toEqual(columns);
    }
    await table.checkoutLatest();
    expect(await table.version()).toBe(9);
  });

  it("version 1 has the original authors; version 2 the renamed ones", async () => {
    await table.checkout(1);
    expect((await tableRows(table)).map((r) => r.author)).toEqual(["Richard", "Morty", "Richard"]);
    await table.checkout(2);
    expect((await tableRows(table)).map((r) => r.author)).toEqual([RICK, "Morty", RICK]);
    await table.checkoutLatest();
  });

  it("version 6 has exactly version 3's rows and no vector column", async () => {
    await table.checkout(3);
    const at3 = await tableRows(table);
    await table.checkout(6);
    const at6 = await tableRows(table);
    expect(at6).toEqual(at3);
    expect(at6).toEqual(v3Rows);
    expect(fieldNames(await table.schema())).not.toContain("vector_minilm");
    await table.checkoutLatest();
  });

  it("restore kept history: version 5 still holds the merged minilm vectors", async () => {
    await table.checkout(5);
    const rows = await tableRows(table);
    expect(rows).toHaveLength(5);
    for (const row of rows) {
      expect(row.vector_minilm).toEqual(Array.from(minilm(Number(row.id))));
    }
    // A vector search over the historical version finds each row's own vector first.
    const hits = await table.vectorSearch(minilm(4)).column("vector_minilm").limit(1).toArray();
    expect(hits[0]!.id).toBe(4n);
    await table.checkoutLatest();
  });

  it("a second connection sees the same history", async () => {
    const db2 = await connect(dir);
    const t2 = await db2.openTable("quotes");
    expect(await t2.version()).toBe(9);
    expect((await t2.listVersions()).map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const v3 = await db2.openTable("quotes", { version: 3 });
    expect(await tableRows(v3)).toEqual(v3Rows);
    t2.close();
    v3.close();
    db2.close();
  });
});
