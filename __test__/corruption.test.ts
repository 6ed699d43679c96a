/**
 * Damaged tables: a truncated or deleted data file, garbage in the latest manifest, a
 * deleted deletion file. Each gives CORRUPT_TABLE naming the file; versions that do not need
 * the damaged file stay readable; verify() reports the damage without throwing.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { connect } from "../js/index";
import { expectCode, freshDb, removeDir } from "./helpers/facade";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

const list = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);

/** v1: 3 rows; v2: +2 rows in a new data file; v3: delete id 1 (a deletion file). */
async function history() {
  const { dir, db } = await freshDb();
  dirs.push(dir);
  const t = await db.createTable(
    "t",
    [1, 2, 3].map((id) => ({ id, s: `row ${id}` })),
  );
  const data = path.join(dir, "t.lance", "data");
  const before = list(data);
  await t.add([4, 5].map((id) => ({ id, s: `row ${id}` })));
  const added = list(data).find((f) => !before.includes(f))!;
  await t.delete("id = 1");
  t.close();
  return { dir, db, table: path.join(dir, "t.lance"), added };
}

describe("corruption", () => {
  for (const damage of ["truncate", "delete"] as const) {
    it(`${damage} a data file`, async () => {
      const { db, table, added } = await history();
      const file = path.join(table, "data", added);
      if (damage === "truncate") fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2));
      else fs.rmSync(file);
      const t = await db.openTable("t");
      const err = await expectCode(t.toArrow(), "CORRUPT_TABLE");
      expect(err.message).toContain(added);
      const v1 = await db.openTable("t", { version: 1 });
      expect(await v1.countRows()).toBe(3);
      // Reading the rows, not just the manifest's count, works too.
      expect((await v1.toArrow()).numRows).toBe(3);
      const report = await t.verify();
      expect(report.ok).toBe(false);
      expect(report.problems).toEqual([
        {
          path: `data/${added}`,
          kind: damage === "truncate" ? "truncated" : "missing",
          detail: expect.any(String),
        },
      ]);
      expect((await t.verify(1)).ok).toBe(true);
    });
  }

  it("delete a deletion file", async () => {
    const { db, table } = await history();
    const [deletion] = list(path.join(table, "_deletions"));
    fs.rmSync(path.join(table, "_deletions", deletion!));
    const t = await db.openTable("t");
    const err = await expectCode(t.toArrow(), "CORRUPT_TABLE");
    expect(err.message).toContain("_deletions");
    const report = await t.verify();
    expect(report.problems.map((p) => p.kind)).toContain("missing");
    expect(report.problems).toContainEqual(
      expect.objectContaining({ path: `_deletions/${deletion}`, kind: "missing" }),
    );
    expect((await t.verify(2)).ok).toBe(true);
  });

  it("garbage in the latest manifest", async () => {
    const { dir, table } = await history();
    const manifests = list(path.join(table, "_versions")).filter((f) => f.endsWith(".manifest"));
    // V2 names count down from u64::MAX: the latest version has the smallest name.
    const latest = manifests.sort()[0]!;
    fs.writeFileSync(path.join(table, "_versions", latest), "not a manifest");
    const db = await connect(dir);
    const err = await expectCode(db.openTable("t"), "CORRUPT_TABLE");
    expect(err.message).toContain(latest);
    const v2 = await db.openTable("t", { version: 2 });
    expect(await v2.countRows()).toBe(5);
  });
});
