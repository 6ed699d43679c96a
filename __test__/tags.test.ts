/** Tags and time travel by date: names for versions, and "the table as it was then". */
import { afterEach, describe, expect, it } from "vitest";
import { expectCode, freshDb, removeDir, sleep } from "./helpers/facade";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

async function threeVersions() {
  const { dir, db } = await freshDb();
  dirs.push(dir);
  const rows = [1, 2, 3, 4].map((id) => ({ id, label: `row ${id}` }));
  const table = await db.createTable("t", rows); // v1: 4 rows
  await sleep(15);
  await table.delete("id = 1"); // v2: 3 rows
  await sleep(15);
  await table.delete("id = 2"); // v3: 2 rows
  return { db, table };
}

describe("tags", () => {
  it("name versions without creating versions, and check them out", async () => {
    const { db, table } = await threeVersions();
    const tags = table.tags();
    await tags.create("train-2026-11", 1);
    await tags.create("after-cleanup", 3);
    expect(await table.version()).toBe(3);
    expect(await tags.list()).toEqual({
      "after-cleanup": { version: 3 },
      "train-2026-11": { version: 1 },
    });
    expect(await tags.getVersion("train-2026-11")).toBe(1);

    await table.checkout("train-2026-11");
    expect(await table.version()).toBe(1);
    expect(await table.countRows()).toBe(4);
    await expectCode(table.delete("id = 3"), "READ_ONLY_CHECKOUT");
    await table.checkoutLatest();

    const pinned = await db.openTable("t", { tag: "train-2026-11" });
    expect(await pinned.countRows()).toBe(4);
    expect(pinned.isCheckedOut()).toBe(true);

    const listed = await table.listVersions();
    expect(listed.map((v) => v.tags)).toEqual([["train-2026-11"], [], ["after-cleanup"]]);

    await tags.update("train-2026-11", 2);
    expect(await tags.getVersion("train-2026-11")).toBe(2);
    await tags.delete("after-cleanup");
    expect(Object.keys(await tags.list())).toEqual(["train-2026-11"]);
    expect(await table.version()).toBe(3);
  });

  it("report unknown tags, duplicate tags and missing versions with typed errors", async () => {
    const { db, table } = await threeVersions();
    const tags = table.tags();
    await tags.create("snap", 2);
    await expectCode(tags.getVersion("nope"), "TAG_NOT_FOUND");
    await expectCode(table.checkout("nope"), "TAG_NOT_FOUND");
    await expectCode(db.openTable("t", { tag: "nope" }), "TAG_NOT_FOUND");
    await expectCode(tags.delete("nope"), "TAG_NOT_FOUND");
    await expectCode(tags.create("snap", 1), "INVALID_ARGUMENT");
    await expectCode(tags.create("later", 99), "VERSION_NOT_FOUND");
    await expectCode(tags.update("snap", 99), "VERSION_NOT_FOUND");
    expect(await tags.getVersion("snap")).toBe(2);
    expect(await table.version()).toBe(3);
  });
});

describe("checkout by date", () => {
  it("finds the version that was the latest at an instant", async () => {
    const { db, table } = await threeVersions();
    const versions = await table.listVersions();
    const v2 = versions.find((v) => v.version === 2)!;

    await table.checkout(new Date(v2.timestamp.getTime() + 1));
    expect(await table.version()).toBe(2);
    expect(await table.countRows()).toBe(3);

    const asOf = await db.openTable("t", { asOf: versions[0]!.timestamp });
    expect(await asOf.version()).toBe(1);
    expect(await asOf.countRows()).toBe(4);

    const before = new Date(versions[0]!.timestamp.getTime() - 60_000);
    await expectCode(table.checkout(before), "VERSION_NOT_FOUND");
    await expectCode(db.openTable("t", { asOf: before }), "VERSION_NOT_FOUND");
    await expectCode(db.openTable("t", { version: 1, tag: "x" }), "INVALID_ARGUMENT");
  });
});
