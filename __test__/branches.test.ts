/** Branches: A/B experiments on a fork of the table, with main untouched. */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  Field,
  FixedSizeList,
  Float32,
  makeData,
  makeVector,
  Table,
  vectorFromArray,
} from "apache-arrow";
import { afterEach, describe, expect, it } from "vitest";
import { expectCode, freshDb, removeDir } from "./helpers/facade";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

async function tableWithHistory() {
  const { dir, db } = await freshDb();
  dirs.push(dir);
  const rows = [1, 2, 3].map((id) => ({ id, label: `row ${id}` }));
  const main = await db.createTable("t", rows); // v1
  await main.delete("id = 1"); // v2
  return { db, main };
}

async function ids(t: { query(): { toArray(): Promise<Record<string, unknown>[]> } }) {
  return (await t.query().toArray()).map((r) => Number(r.id)).sort((a, b) => a - b);
}

describe("branches", () => {
  it("fork a writable table whose writes stay off main, and back", async () => {
    const { db, main } = await tableWithHistory();
    expect(await main.currentBranch()).toBe("main");

    const exp = await main.branches().create("exp");
    expect(await exp.currentBranch()).toBe("exp");
    await exp.add([{ id: 10, label: "only on exp" }]);
    await exp.addColumns([{ name: "score", valueSql: "CAST(id AS DOUBLE) / 2" }]);
    expect(await ids(exp)).toEqual([2, 3, 10]);
    expect(await ids(main)).toEqual([2, 3]);
    expect((await main.schema()).fields.map((f) => f.name)).toEqual(["id", "label"]);

    await main.delete("id = 2");
    expect(await ids(exp)).toEqual([2, 3, 10]);

    expect(await main.branches().list()).toEqual({
      exp: { parentBranch: "main", parentVersion: 2 },
    });

    const opened = await db.openTable("t", { branch: "exp" });
    expect(await ids(opened)).toEqual([2, 3, 10]);
    await opened.branches().checkout("main");
    expect(await ids(opened)).toEqual([3]);

    const old = await main.branches().create("from-v1", 1);
    expect(await ids(old)).toEqual([1, 2, 3]);
  });

  it("report unknown and duplicate branches with typed errors", async () => {
    const { db, main } = await tableWithHistory();
    await main.branches().create("exp");
    await expectCode(main.branches().checkout("nope"), "BRANCH_NOT_FOUND");
    await expectCode(db.openTable("t", { branch: "nope" }), "BRANCH_NOT_FOUND");
    await expectCode(main.branches().delete("nope"), "BRANCH_NOT_FOUND");
    await expectCode(main.branches().create("exp"), "INVALID_ARGUMENT");
    await expectCode(main.branches().create("later", 99), "VERSION_NOT_FOUND");
    await main.branches().delete("exp");
    expect(await main.branches().list()).toEqual({});
    expect(await ids(main)).toEqual([2, 3]);
    expect(await main.version()).toBe(2);
  });
});

/** Bytes of every file under `dir`. */
function diskBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += fs.statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return total;
}

describe("branch storage", () => {
  it("adds under 64 KiB on disk when branching 200k rows of 384-dim vectors", async () => {
    const { dir, db } = await freshDb();
    dirs.push(dir);
    const rows = 200_000;
    const dim = 384;
    const values = new Float32Array(rows * dim).map((_, i) => (i % 997) / 997);
    const vectorType = new FixedSizeList(dim, new Field("item", new Float32(), true));
    const vector = makeVector(
      makeData({
        type: vectorType,
        length: rows,
        nullCount: 0,
        child: makeData({ type: new Float32(), length: rows * dim, data: values }),
      }),
    );
    const id = vectorFromArray(Array.from({ length: rows }, (_, i) => i));
    const main = await db.createTable("big", new Table({ id, vector }));
    const before = diskBytes(dir);
    expect(before).toBeGreaterThan(rows * dim * 4);

    const exp = await main.branches().create("exp");
    const added = diskBytes(dir) - before;
    console.log(`branching ${rows} rows x ${dim} dims added ${added} bytes on disk`);
    expect(added).toBeLessThan(64 * 1024);
    expect(await exp.countRows()).toBe(rows);
  });
});

describe("cloneTable", () => {
  it("makes a table from another's version without copying data", async () => {
    const { db, main } = await tableWithHistory();
    await main.tags().create("first", 1);
    const sourceUri = path.join(db.uri, "t.lance");
    const before = diskBytes(db.uri);

    const copy = await db.cloneTable("copy", sourceUri);
    expect(diskBytes(db.uri) - before).toBeLessThan(64 * 1024);
    expect(await ids(copy)).toEqual([2, 3]);
    await copy.delete("id = 2");
    expect(await ids(copy)).toEqual([3]);
    expect(await ids(main)).toEqual([2, 3]);

    expect(await ids(await db.cloneTable("v1", sourceUri, { sourceVersion: 1 }))).toEqual([
      1, 2, 3,
    ]);
    expect(await ids(await db.cloneTable("tagged", sourceUri, { sourceTag: "first" }))).toEqual([
      1, 2, 3,
    ]);
    expect((await db.tableNames()).sort()).toEqual(["copy", "t", "tagged", "v1"]);

    await expectCode(db.cloneTable("copy", sourceUri), "TABLE_EXISTS");
    await expectCode(db.cloneTable("x", sourceUri, { sourceVersion: 9 }), "VERSION_NOT_FOUND");
    await expectCode(db.cloneTable("x", sourceUri, { sourceTag: "nope" }), "TAG_NOT_FOUND");
    await expectCode(db.cloneTable("x", path.join(db.uri, "missing.lance")), "TABLE_NOT_FOUND");
    await expectCode(
      db.cloneTable("x", sourceUri, { sourceVersion: 1, sourceTag: "first" }),
      "INVALID_ARGUMENT",
    );
  });
});
