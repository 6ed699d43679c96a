/**
 * Versions: checkout as a read-only view, checkoutLatest, listVersions, restore, and
 * opening a table at a version.
 */
import { Field, Float64, Int64, Schema, Utf8 } from "apache-arrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type Connection,
  connect,
  ReadOnlyCheckoutError,
  type Table,
  VersionNotFoundError,
} from "../js/index";
import { expectCode, fieldNames, freshDb, removeDir, sleep, tableRows } from "./helpers/facade";

const schema = new Schema([
  new Field("id", new Int64(), true),
  new Field("name", new Utf8(), true),
  new Field("n", new Float64(), true),
]);
const v1 = [
  { id: 1n, name: "a", n: 1 },
  { id: 2n, name: "b", n: 2 },
];
const v2 = [...v1, { id: 3n, name: "c", n: 3 }];
const v3 = [v2[0], { id: 2n, name: "B", n: 2 }, v2[2]];

let dir: string;
let db: Connection;
let table: Table;

/** Versions 1..4: create, add, update, addColumns. */
beforeEach(async () => {
  ({ dir, db } = await freshDb());
  table = await db.createTable("t", v1, { schema });
  await sleep(5);
  await table.add([{ id: 3n, name: "c", n: 3 }]);
  await sleep(5);
  await table.update({ where: "id = 2", values: { name: "B" } });
  await sleep(5);
  await table.addColumns([{ name: "twice", valueSql: "n * 2" }]);
});
afterEach(() => {
  table.close();
  db.close();
  removeDir(dir);
});

/** Every write kind, each expected to fail on a checked-out view. */
const writes: [string, (t: Table) => Promise<unknown>][] = [
  ["add", (t) => t.add([{ id: 9n, name: "z", n: 9 }])],
  ["add overwrite", (t) => t.add([{ id: 9n, name: "z", n: 9 }], { mode: "overwrite" })],
  ["update values", (t) => t.update({ where: "id = 1", values: { name: "x" } })],
  ["update valuesSql", (t) => t.update({ valuesSql: { n: "n + 1" } })],
  ["delete", (t) => t.delete("id = 1")],
  [
    "mergeInsert",
    (t) =>
      t
        .mergeInsert("id")
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute([{ id: 1n, name: "m", n: 0 }]),
  ],
  ["addColumns sql", (t) => t.addColumns([{ name: "extra", valueSql: "n + 1" }])],
  ["addColumns field", (t) => t.addColumns(new Field("extra", new Utf8(), true))],
  ["alterColumns", (t) => t.alterColumns([{ path: "name", rename: "title" }])],
  ["dropColumns", (t) => t.dropColumns(["name"])],
];

describe("checkout", () => {
  it("shows the rows and schema of that version", async () => {
    expect(table.isCheckedOut()).toBe(false);
    await table.checkout(2);
    expect(table.isCheckedOut()).toBe(true);
    expect(await table.version()).toBe(2);
    expect(await tableRows(table)).toEqual(v2);
    expect(fieldNames(await table.schema())).toEqual(["id", "name", "n"]);
    expect(await table.countRows("id > 1")).toBe(2);
    expect(table.display()).toContain("version 2");

    await table.checkout(3);
    expect(await tableRows(table)).toEqual(v3);
    await table.checkout(1);
    expect(await tableRows(table)).toEqual(v1);
    // The history itself is visible from a checked-out view.
    expect((await table.listVersions()).map((v) => v.version)).toEqual([1, 2, 3, 4]);
  });

  for (const [kind, write] of writes) {
    it(`rejects ${kind} with READ_ONLY_CHECKOUT and changes nothing`, async () => {
      await table.checkout(2);
      await expectCode(write(table), "READ_ONLY_CHECKOUT", ReadOnlyCheckoutError);
      expect(await table.version()).toBe(2);
      expect(table.isCheckedOut()).toBe(true);
      expect(await tableRows(table)).toEqual(v2);
      await table.checkoutLatest();
      expect(await table.version()).toBe(4);
      expect(await table.listVersions()).toHaveLength(4);
    });
  }

  it("rejects versions that do not exist", async () => {
    await expectCode(table.checkout(99), "VERSION_NOT_FOUND", VersionNotFoundError);
    await expectCode(table.checkout(0), "INVALID_ARGUMENT");
    await expectCode(table.checkout(1.5), "INVALID_ARGUMENT");
    await expectCode(table.checkout(new Date(Number.NaN)), "INVALID_ARGUMENT");
    await expectCode(table.checkout({} as never), "INVALID_ARGUMENT");
    expect(table.isCheckedOut()).toBe(false);
    expect(await table.version()).toBe(4);
  });
});

describe("checkoutLatest", () => {
  it("returns to the latest version and makes the table writable", async () => {
    await table.checkout(1);
    await table.checkoutLatest();
    expect(table.isCheckedOut()).toBe(false);
    expect(await table.version()).toBe(4);
    expect(fieldNames(await table.schema())).toEqual(["id", "name", "n", "twice"]);
    expect(await table.add([{ id: 4n, name: "d", n: 4 }])).toMatchObject({ version: 5 });
  });

  it("picks up versions written through another handle", async () => {
    const db2 = await connect(dir);
    const other = await db2.openTable("t");
    await other.add([{ id: 4n, name: "d", n: 4 }]);
    expect(await other.version()).toBe(5);
    await table.checkoutLatest();
    expect(await table.version()).toBe(5);
    expect(await table.countRows()).toBe(4);
    other.close();
    db2.close();
  });
});

describe("listVersions", () => {
  it("lists every version with increasing timestamps and metadata", async () => {
    const versions = await table.listVersions();
    expect(versions.map((v) => v.version)).toEqual([1, 2, 3, 4]);
    for (let i = 0; i < versions.length; i++) {
      const v = versions[i]!;
      expect(v.timestamp).toBeInstanceOf(Date);
      expect(Number.isNaN(v.timestamp.getTime())).toBe(false);
      expect(Math.abs(Date.now() - v.timestamp.getTime())).toBeLessThan(10 * 60_000);
      expect(typeof v.metadata).toBe("object");
      if (i > 0) {
        expect(v.timestamp.getTime()).toBeGreaterThan(versions[i - 1]!.timestamp.getTime());
      }
    }
  });
});

describe("restore", () => {
  it("restore(v) makes version v's rows and schema the new latest version", async () => {
    const r = await table.restore(2);
    expect(r).toEqual({ version: 5 });
    expect(await table.version()).toBe(5);
    expect(table.isCheckedOut()).toBe(false);
    expect(await tableRows(table)).toEqual(v2);
    expect(fieldNames(await table.schema())).toEqual(["id", "name", "n"]);
    // History is kept: version 4 still has its column and rows.
    expect((await table.listVersions()).map((v) => v.version)).toEqual([1, 2, 3, 4, 5]);
    await table.checkout(4);
    expect(fieldNames(await table.schema())).toEqual(["id", "name", "n", "twice"]);
    expect(await table.countRows()).toBe(3);
  });

  it("restore() restores the checked-out version", async () => {
    await table.checkout(1);
    const r = await table.restore();
    expect(r).toEqual({ version: 5 });
    expect(table.isCheckedOut()).toBe(false);
    expect(await table.version()).toBe(5);
    expect(await tableRows(table)).toEqual(v1);
    // Writable again, on top of the restored version.
    expect(await table.add([{ id: 7n, name: "g", n: 7 }])).toMatchObject({ version: 6 });
    expect(await table.countRows()).toBe(3);
  });

  it("restore() without a version or checkout is an invalid argument", async () => {
    await expectCode(table.restore(), "INVALID_ARGUMENT");
    expect(await table.version()).toBe(4);
  });

  it("restore(v) of a missing version is VERSION_NOT_FOUND and changes nothing", async () => {
    await expectCode(table.restore(42), "VERSION_NOT_FOUND", VersionNotFoundError);
    await expectCode(table.restore(-1), "INVALID_ARGUMENT");
    expect(await table.version()).toBe(4);
    expect(await table.listVersions()).toHaveLength(4);
  });

  it("restoring the latest version still adds a version", async () => {
    const r = await table.restore(4);
    expect(r).toEqual({ version: 5 });
    expect(await table.countRows()).toBe(3);
  });
});

describe("openTable with a version", () => {
  it("opens a read-only view of that version", async () => {
    const old = await db.openTable("t", { version: 3 });
    expect(old.isCheckedOut()).toBe(true);
    expect(await old.version()).toBe(3);
    expect(await tableRows(old)).toEqual(v3);
    await expectCode(old.add([{ id: 5n, name: "e", n: 5 }]), "READ_ONLY_CHECKOUT");
    await expectCode(old.delete("id = 1"), "READ_ONLY_CHECKOUT");
    await old.checkoutLatest();
    expect(await old.version()).toBe(4);
    old.close();
    // The other handle was not affected.
    expect(await table.version()).toBe(4);
  });

  it("rejects a missing version", async () => {
    await expectCode(db.openTable("t", { version: 10 }), "VERSION_NOT_FOUND");
    await expectCode(db.openTable("t", { version: 0 }), "INVALID_ARGUMENT");
  });

  it("openTable without a version follows the latest", async () => {
    const latest = await db.openTable("t");
    expect(latest.isCheckedOut()).toBe(false);
    expect(await latest.version()).toBe(4);
    latest.close();
  });
});

describe("close", () => {
  it("isOpen() turns false, and further calls fail", async () => {
    const t = await db.openTable("t");
    expect(t.isOpen()).toBe(true);
    t.close();
    t.close(); // idempotent
    expect(t.isOpen()).toBe(false);
    await expect(t.countRows()).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    // Other handles of the same table keep working.
    expect(await table.countRows()).toBe(3);
  });

  it("a closed connection rejects calls", async () => {
    const db2 = await connect(dir);
    expect(db2.isOpen()).toBe(true);
    db2.close();
    expect(db2.isOpen()).toBe(false);
    await expect(db2.tableNames()).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(db2.display()).toContain("closed");
  });
});
