/** Diffs, row history, branch merges, retention and multi-table snapshots through the facade. */
import { afterEach, describe, expect, it } from "vitest";
import type { Table } from "../js/index";
import { expectCode, fakeEmbedding, freshDb, removeDir, rng, sleep } from "./helpers/facade";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

type Snapshot = Map<number, number>;

async function db() {
  const { dir, db } = await freshDb();
  dirs.push(dir);
  return db;
}

async function snapshotOf(table: Table): Promise<Snapshot> {
  const rows = await table.query().toArray();
  return new Map(rows.map((r) => [Number(r.id), Number(r.val)]));
}

function idsOf(t: { toArray(): unknown[] }): number[] {
  return t
    .toArray()
    .map((r) => Number((r as { id: unknown }).id))
    .sort((a, b) => a - b);
}

function reference(a: Snapshot, b: Snapshot) {
  const sort = (xs: number[]) => xs.sort((x, y) => x - y);
  return {
    inserted: sort([...b.keys()].filter((k) => !a.has(k))),
    deleted: sort([...a.keys()].filter((k) => !b.has(k))),
    updated: sort([...b.keys()].filter((k) => a.has(k) && a.get(k) !== b.get(k))),
  };
}

/** Random writes; every value written is unique so "changed" is well defined. */
async function randomWrites(table: Table, seed: number, steps: number, nextId: { n: number }) {
  const next = rng(seed);
  const versions = [await table.version()];
  let op = 0;
  for (let s = 0; s < steps; s++) {
    op++;
    const stamp = seed * 10_000_000 + op * 1000;
    const kind = Math.floor(next() * (versions.length > 2 ? 5 : 4));
    if (kind === 0) {
      const rows = [0, 1].map(() => ({ id: nextId.n++, val: 0 }));
      for (const r of rows) r.val = stamp + r.id;
      await table.add(rows);
    } else if (kind === 1) {
      await table.update({
        where: `id % 3 = ${Math.floor(next() * 3)}`,
        valuesSql: { val: `${stamp} + id` },
      });
    } else if (kind === 2) {
      await table.delete(`id % 5 = ${Math.floor(next() * 5)}`);
    } else if (kind === 3) {
      const live = [...(await snapshotOf(table)).keys()].filter(() => next() < 0.3);
      const rows = [...live, nextId.n++].map((id) => ({ id, val: stamp + id }));
      await table.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rows);
    } else {
      await table.restore(versions[Math.floor(next() * versions.length)]);
    }
    versions.push(await table.version());
  }
}

async function seeded(name = "t") {
  const conn = await db();
  const rows = Array.from({ length: 10 }, (_, id) => ({ id, val: id }));
  const table = await conn.createTable(name, rows);
  return { conn, table };
}

describe("diff", () => {
  it("matches snapshot references for random histories, by lineage and by key", async () => {
    const { table } = await seeded();
    const nextId = { n: 100 };
    const snaps = new Map<number, Snapshot>([[1, await snapshotOf(table)]]);
    const next = rng(99);
    for (let round = 0; round < 10; round++) {
      await randomWrites(table, round + 1, 1, nextId);
      snaps.set(await table.version(), await snapshotOf(table));
    }
    const versions = [...snaps.keys()];
    for (let i = 0; i < 12; i++) {
      const a = versions[Math.floor(next() * versions.length)]!;
      const b = versions[Math.floor(next() * versions.length)]!;
      const want = reference(snaps.get(a)!, snaps.get(b)!);
      for (const options of [undefined, { on: "id" }]) {
        const d = await table.diff(a, b, options);
        expect(d.strategy).toBe(options ? "key" : "row_lineage");
        expect([d.fromVersion, d.toVersion]).toEqual([a, b]);
        const got = {
          inserted: idsOf(d.inserted),
          deleted: idsOf(d.deleted),
          updated: idsOf(d.updated),
        };
        expect(got, `${a} -> ${b} ${options ? "key" : "lineage"}`).toEqual(want);
        for (const row of d.updated.toArray()) {
          expect(Number(row.val)).toBe(snaps.get(b)!.get(Number(row.id)));
        }
      }
    }
  });

  it("compares branches, defaults `to` to the version shown, and rejects bad sides", async () => {
    const { table } = await seeded();
    const exp = await table.branches().create("exp");
    await exp.update({ where: "id = 1", values: { val: 111 } });
    await exp.add([{ id: 50, val: 5 }]);
    await table.delete("id = 2");
    for (const options of [undefined, { on: "id" }]) {
      const d = await table.diff("main", "exp", options);
      expect(idsOf(d.inserted)).toEqual([2, 50]);
      expect(idsOf(d.updated)).toEqual([1]);
      expect(idsOf(d.deleted)).toEqual([]);
      const back = await table.diff({ branch: "exp" }, "main", options);
      expect(idsOf(back.deleted)).toEqual([2, 50]);
    }
    const sinceFirst = await table.diff(1);
    expect(sinceFirst.toVersion).toBe(await table.version());
    expect(idsOf(sinceFirst.deleted)).toEqual([2]);
    await table.tags().create("first", 1);
    expect(idsOf((await table.diff({ tag: "first" })).deleted)).toEqual([2]);
    await expectCode(table.diff(99), "VERSION_NOT_FOUND");
    await expectCode(table.diff("nope"), "BRANCH_NOT_FOUND");
    await expectCode(table.diff(1, undefined, { on: "nope" }), "COLUMN_NOT_FOUND");
    await expectCode(table.diff(-1), "INVALID_ARGUMENT");
    await expectCode(table.diff({} as never), "INVALID_ARGUMENT");
  });

  it("follows one row through inserts, updates, deletes and restores", async () => {
    const { table } = await seeded();
    await table.add([{ id: 42, val: 1 }]); // v2
    await table.update({ where: "id = 42", values: { val: 2 } }); // v3
    await table.update({ where: "id = 3", values: { val: 0 } }); // v4, another row
    await table.delete("id = 42"); // v5
    await table.restore(3); // v6
    const story = await table.rowHistory({ on: "id", value: 42 });
    expect(story.map((e) => [e.version, e.change, Number(e.values[0]!.val)])).toEqual([
      [2, "inserted", 1],
      [3, "updated", 2],
      [5, "deleted", 2],
      [6, "inserted", 2],
    ]);
    expect(story[0]!.timestamp).toBeInstanceOf(Date);
    expect(await table.rowHistory({ on: "id", value: 7777 })).toEqual([]);
    await expectCode(table.rowHistory({ on: "nope", value: 1 }), "COLUMN_NOT_FOUND");
    await expectCode(table.rowHistory({ on: "id", value: null }), "INVALID_ARGUMENT");
  });
});

describe("branch merge", () => {
  it("applies the branch's changes as one version and records it", async () => {
    const { table } = await seeded();
    const exp = await table.branches().create("exp");
    await exp.update({ where: "id = 1", values: { val: 100 } });
    await exp.delete("id = 2");
    await exp.add([{ id: 77, val: 7 }]);
    await table.update({ where: "id = 3", values: { val: 300 } });
    const before = await table.version();
    const r = await table.branches().merge("exp", { on: "id", message: "ship exp" });
    expect(r).toEqual({ version: before + 1, rowsAdded: 1, rowsUpdated: 1, rowsDeleted: 1 });
    const snap = await snapshotOf(table);
    expect([snap.get(1), snap.has(2), snap.get(3), snap.get(77)]).toEqual([100, false, 300, 7]);
    const last = (await table.listVersions()).at(-1)!;
    expect([last.operation, last.parameters.branch, last.message]).toEqual([
      "merge_branch",
      "exp",
      "ship exp",
    ]);
  });

  it("rejects conflicts with MERGE_CONFLICT and resolves them on request", async () => {
    const { table } = await seeded();
    const exp = await table.branches().create("exp");
    await exp.update({ where: "id = 1", values: { val: -1 } });
    await table.update({ where: "id = 1", values: { val: -2 } });
    const before = await table.version();
    const err = await expectCode(table.branches().merge("exp", { on: "id" }), "MERGE_CONFLICT");
    expect(err.message).toContain("id=1");
    expect(await table.version()).toBe(before);
    await table.branches().merge("exp", { on: "id", resolve: "ours" });
    expect((await snapshotOf(table)).get(1)).toBe(-2);
    await table.branches().merge("exp", { on: "id", resolve: "theirs" });
    expect((await snapshotOf(table)).get(1)).toBe(-1);
    await expectCode(
      table.branches().merge("exp", { on: "id", resolve: "mine" as never }),
      "INVALID_ARGUMENT",
    );
    await expectCode(table.branches().merge("nope", { on: "id" }), "BRANCH_NOT_FOUND");
  });

  it("carries an embedding column added on the branch (the A/B test) back to main", async () => {
    const { table } = await seeded();
    const ab = await table.branches().create("ab");
    await ab.addColumns([
      { name: "emb", valueSql: "arrow_cast(NULL, 'FixedSizeList(8, Float32)')" },
    ]);
    const vectors = Array.from({ length: 10 }, (_, id) => ({
      id,
      emb: Array.from(fakeEmbedding(`${id}`, 8)),
    }));
    await ab.mergeInsert("id").whenMatchedUpdateAll().execute(vectors);
    await table.add([{ id: 20, val: 20 }]);
    await table.branches().merge("ab", { on: "id" });
    const schema = await table.schema();
    expect(schema.fields.map((f) => f.name)).toEqual(["id", "val", "emb"]);
    expect(await table.countRows("emb IS NOT NULL")).toBe(10);
    expect(await table.countRows("id = 20 AND emb IS NULL")).toBe(1);
    const hits = await table
      .search(Array.from(fakeEmbedding("4", 8)))
      .column("emb")
      .limit(1)
      .toArray();
    expect(Number(hits[0]!.id)).toBe(4);
  });
});

describe("branch sources", () => {
  it("forks from a version, another branch at a version, or a tag", async () => {
    const { table } = await seeded(); // v1: 10 rows
    await table.delete("id = 0"); // v2
    const exp = await table.branches().create("exp"); // from v2
    await exp.delete("id = 1"); // exp v3
    await exp.delete("id = 2"); // exp v4
    expect(await (await table.branches().create("a", 1)).countRows()).toBe(10);
    expect(await (await table.branches().create("b", "exp")).countRows()).toBe(7);
    expect(await (await table.branches().create("c", "exp", 3)).countRows()).toBe(8);
    expect(
      await (await table.branches().create("d", { branch: "exp", version: 3 })).countRows(),
    ).toBe(8);
    await exp.tags().create("exp3", 3);
    const fromTag = await table.branches().create("e", { tag: "exp3" });
    expect(await fromTag.countRows()).toBe(8);
    expect(await table.countRows()).toBe(9);
    await expectCode(table.branches().create("f", 99), "VERSION_NOT_FOUND");
    await expectCode(table.branches().create("g", "nope"), "BRANCH_NOT_FOUND");
    await expectCode(table.branches().create("h", { tag: "nope" }), "TAG_NOT_FOUND");
    await expectCode(table.branches().create("i", 1, 2), "INVALID_ARGUMENT");
  });
});

describe("retention", () => {
  it("removes only what the caller asks for, never tags or fork points", async () => {
    const { table } = await seeded();
    for (let i = 0; i < 5; i++) await table.add([{ id: 200 + i, val: i }]); // v2..v6
    await table.tags().create("keep", 2);
    await table.branches().create("exp", 3);
    const compacted = await table.optimize();
    expect(compacted.versionsRemoved).toEqual([]);
    expect(compacted.fragmentsRemoved).toBeGreaterThan(0);
    const report = await table.optimize({
      skipCompaction: true,
      keepVersions: 1,
      message: "prune",
    });
    expect(report.versionsProtected).toEqual([2, 3]);
    expect(report.versionsRemoved).toContain(1);
    expect(report.versionsRemoved).not.toContain(2);
    const err = await expectCode(table.checkout(1), "VERSION_NOT_FOUND");
    expect(err.message).toContain("cleaned up");
    await table.checkout("keep");
    expect(await table.countRows()).toBe(11);
    await table.checkoutLatest();
    await expectCode(table.optimize({ keepVersions: 0 }), "INVALID_ARGUMENT");
    await expectCode(table.optimize({ cleanupOlderThan: -5 }), "INVALID_ARGUMENT");
  });
});

describe("snapshot", () => {
  it("opens several tables as they were at one instant", async () => {
    const conn = await db();
    const docs = await conn.createTable("docs", [{ id: 1 }]);
    const labels = await conn.createTable("labels", [{ id: 1 }]);
    await sleep(20);
    const snap = conn.snapshot();
    await sleep(20);
    await docs.add([{ id: 2 }]);
    await labels.add([{ id: 2 }]);
    expect(await snap.versions(["docs", "labels"])).toEqual({ docs: 1, labels: 1 });
    const old = await snap.openTable("docs");
    expect(await old.countRows()).toBe(1);
    await expectCode(old.add([{ id: 3 }]), "READ_ONLY_CHECKOUT");
    const early = conn.snapshot(new Date(Date.now() - 3_600_000));
    await expectCode(early.openTable("docs"), "VERSION_NOT_FOUND");
    expect(() => conn.snapshot(new Date(Number.NaN))).toThrow(/valid Date/);
  });
});
