/**
 * `stableRowIds`: tables with row lineage (the default) and without it (smaller manifests,
 * so smaller branches, as in LanceDB's default tables).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Connection, Table } from "../js/index";
import { expectCode, freshDb, removeDir, tableRows } from "./helpers/facade";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

const ROWS = 100_000;
const rows = (from: number, n: number, text: string) =>
  Array.from({ length: n }, (_, i) => ({ id: from + i, text }));

/** Bytes of every file under `dir`. */
function diskBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += fs.statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/** Updates every 50th row and upserts 200 rows (100 of them new): rows move scattered. */
async function scatterWrites(t: Table): Promise<void> {
  await t.update({ where: "id % 50 = 7", values: { text: "u" } });
  await t
    .mergeInsert("id")
    .whenMatchedUpdateAll()
    .whenNotMatchedInsertAll()
    .execute(rows(ROWS - 100, 200, "m"));
  await t.delete("id % 50 = 13");
}

async function create(db: Connection, name: string, stableRowIds?: boolean): Promise<Table> {
  return db.createTable(
    name,
    rows(0, ROWS, "a"),
    stableRowIds === undefined ? {} : { stableRowIds },
  );
}

describe("stableRowIds", () => {
  it("without them, a branch after scattered writes is small; with them it carries the ids", async () => {
    const { dir, db } = await freshDb();
    dirs.push(dir);
    const added = { lineage: 0, plain: 0 };
    for (const [name, stable] of [
      ["lineage", undefined],
      ["plain", false],
    ] as const) {
      const t = await create(db, name, stable);
      await scatterWrites(t);
      const before = diskBytes(dir);
      await t.branches().create("exp");
      added[name] = diskBytes(dir) - before;
    }
    console.log(`branch bytes: with stable row ids ${added.lineage}, without ${added.plain}`);
    expect(added.plain).toBeLessThan(4096);
    // 2,000 updated ids spread over 100k rows: at least 2 bytes each in the manifest.
    expect(added.lineage).toBeGreaterThan(added.plain + 4000);
  });

  it("keeps every write correct without them, and diff then needs a key", async () => {
    const { dir, db } = await freshDb();
    dirs.push(dir);
    const plain = await create(db, "plain", false);
    const lineage = await create(db, "lineage");
    for (const t of [plain, lineage]) await scatterWrites(t);
    // The same writes give the same rows either way.
    expect(await tableRows(plain)).toEqual(await tableRows(lineage));
    const kept = Array.from({ length: ROWS + 100 }, (_, id) => id).filter((id) => id % 50 !== 13);
    expect(await plain.countRows()).toBe(kept.length);

    const err = await expectCode(plain.diff(1), "INVALID_ARGUMENT");
    expect(err.message).toContain("stableRowIds: false");
    expect(err.message).toContain("on:");
    const byKey = await plain.diff(1, undefined, { on: "id" });
    expect(byKey.strategy).toBe("key");
    // Against version 1: its ids with id % 50 = 13 are gone; 98 of the 100 new ids remain.
    expect(byKey.deleted.numRows).toBe(ROWS / 50);
    expect(byKey.inserted.numRows).toBe(98);
    expect((await lineage.diff(1)).strategy).toBe("row_lineage");
  });

  it("an overwrite keeps the table's kind, and refuses to change it", async () => {
    const { dir, db } = await freshDb();
    dirs.push(dir);
    await create(db, "t", false);
    let t = await db.createTable("t", rows(0, 10, "b"), { mode: "overwrite" });
    const overwritten = await t.version();
    await t.add(rows(10, 5, "c"), { mode: "overwrite" });
    // Lineage diff needs stable row ids on the side it starts from: both overwrites lack them.
    await expectCode(t.diff(overwritten), "INVALID_ARGUMENT");
    await expectCode(t.diff(overwritten + 1, overwritten), "INVALID_ARGUMENT");
    const version = await t.version();
    const err = await expectCode(
      db.createTable("t", rows(0, 10, "d"), { mode: "overwrite", stableRowIds: true }),
      "INVALID_ARGUMENT",
    );
    expect(err.message).toContain("drop the table first");
    t = await db.openTable("t");
    expect(await t.version()).toBe(version);
    expect(await t.countRows()).toBe(5);

    await create(db, "s");
    await expectCode(
      db.createTable("s", rows(0, 10, "d"), { mode: "overwrite", stableRowIds: false }),
      "INVALID_ARGUMENT",
    );
    const s = await db.createTable("s", rows(0, 10, "e"), {
      mode: "overwrite",
      stableRowIds: true,
    });
    await s.update({ where: "id = 3", values: { text: "f" } });
    const d = await s.diff((await s.version()) - 1);
    expect(d.strategy).toBe("row_lineage");
    expect(d.updated.numRows).toBe(1);
  });

  it("applies to empty tables, new overwrites, and is checked by existOk", async () => {
    const { dir, db } = await freshDb();
    dirs.push(dir);
    const schema = await (await create(db, "s")).schema();
    const empty = await db.createEmptyTable("e", schema, { stableRowIds: false });
    await empty.add(rows(0, 10, "a"));
    await empty.update({ where: "id = 1", values: { text: "b" } });
    await expectCode(empty.diff(1), "INVALID_ARGUMENT");
    // An overwrite that finds no table creates one of the kind asked for.
    const fresh = await db.createTable("o", rows(0, 10, "a"), {
      mode: "overwrite",
      stableRowIds: false,
    });
    await fresh.update({ where: "id = 1", values: { text: "b" } });
    await expectCode(fresh.diff(1), "INVALID_ARGUMENT");
    // existOk returns the existing table only when it is of the kind asked for.
    const again = await db.createTable("o", rows(0, 3, "z"), {
      existOk: true,
      stableRowIds: false,
    });
    expect(await again.countRows()).toBe(10);
    expect(await (await db.createTable("o", rows(0, 3, "z"), { existOk: true })).countRows()).toBe(
      10,
    );
    const err = await expectCode(
      db.createTable("o", rows(0, 3, "z"), { existOk: true, stableRowIds: true }),
      "INVALID_ARGUMENT",
    );
    expect(err.message).toContain("without stable row ids");
  });

  it("rejects a value that is not a boolean, and creates nothing", async () => {
    const { dir, db } = await freshDb();
    dirs.push(dir);
    await expectCode(
      db.createTable("t", rows(0, 3, "a"), { stableRowIds: "no" as never }),
      "INVALID_ARGUMENT",
    );
    await expectCode(
      db.createEmptyTable("t", await (await create(db, "s")).schema(), {
        stableRowIds: 1 as never,
      }),
      "INVALID_ARGUMENT",
    );
    expect(await db.tableNames()).toEqual(["s"]);
  });
});
