/**
 * The version log: every write's `{ message, properties }`, what `listVersions()` says each
 * version did, and the printable `history()`.
 */
import * as lancedb from "@lancedb/lancedb";
import { Field, Float64, Int64, Schema, Utf8 } from "apache-arrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type Connection,
  connect,
  formatHistory,
  InvalidArgumentError,
  type Table,
  type Version,
  type WriteOptions,
} from "../js/index";
import { expectCode, fieldNames, freshDb, removeDir, tableRows } from "./helpers/facade";

const schema = new Schema([
  new Field("id", new Int64(), true),
  new Field("name", new Utf8(), true),
  new Field("n", new Float64(), true),
]);
const seed = [
  { id: 1n, name: "a", n: 1 },
  { id: 2n, name: "b", n: 2 },
  { id: 3n, name: "c", n: 3 },
];

let dir: string;
let db: Connection;

beforeEach(async () => {
  ({ dir, db } = await freshDb());
});
afterEach(() => {
  db.close();
  removeDir(dir);
});

/** The entry of `version` in `log`. */
function entry(log: Version[], version: number): Version {
  const v = log.find((e) => e.version === version);
  if (v === undefined) throw new Error(`no version ${version} in the log`);
  return v;
}

/** The fields of a log entry these tests compare (everything but time and lance's metadata). */
function what(v: Version) {
  return {
    operation: v.operation,
    parameters: v.parameters,
    rowsAdded: v.rowsAdded,
    rowsUpdated: v.rowsUpdated,
    rowsDeleted: v.rowsDeleted,
    message: v.message,
    properties: v.properties,
    tags: v.tags,
  };
}

const none = { rowsAdded: 0, rowsUpdated: 0, rowsDeleted: 0 };

/**
 * Versions 1..12, one per write kind, each with a message (and most with properties);
 * tags on versions 1 and 5.
 */
async function writeEveryKind(): Promise<Table> {
  const t = await db.createTable("log", seed, {
    schema,
    message: "seed rows",
    properties: { source: "fixture" },
  });
  await t.add(
    [
      { id: 4n, name: "d", n: 4 },
      { id: 5n, name: "e", n: 5 },
    ],
    {
      message: "nightly load",
      properties: { job: "nightly", run: "17" },
    },
  ); // 2
  await t.update({
    where: "id = 1",
    values: { name: "A" },
    message: "fix name",
    properties: { ticket: "T-1" },
  }); // 3
  await t.update(
    { n: "n + 10" },
    { where: "id >= 4", message: "bump", properties: { ticket: "T-2" } },
  ); // 4
  await t.delete("id = 2", { message: "GDPR request", properties: { ticket: "T-3" } }); // 5
  await t
    .mergeInsert("id")
    .whenMatchedUpdateAll()
    .whenNotMatchedInsertAll()
    .execute(
      [
        { id: 1n, name: "AA", n: 1 },
        { id: 9n, name: "i", n: 9 },
      ],
      { message: "sync", properties: { job: "crm" } },
    ); // 6
  await t.addColumns([{ name: "twice", valueSql: "n * 2" }], {
    message: "derive twice",
    properties: { owner: "ana" },
  }); // 7
  await t.addColumns(new Field("note", new Utf8(), true), { message: "note column" }); // 8
  await t.alterColumns([{ path: "note", rename: "remark" }], { message: "rename note" }); // 9
  await t.dropColumns(["twice"], { message: "drop twice", properties: { owner: "bo" } }); // 10
  await t.add([{ id: 7n, name: "g", n: 7 }], { mode: "overwrite", message: "reset" }); // 11
  await t.restore(3, { message: "undo", properties: { reason: "bad merge" } }); // 12
  await t.tags().create("baseline", 1);
  await t.tags().create("release", 5);
  await t.tags().create("audited", 5);
  return t;
}

describe("listVersions after every write kind", () => {
  it("records each write's operation, counts, parameters, message, properties and tags", async () => {
    const t = await writeEveryKind();
    const log = await t.listVersions();
    expect(log.map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(log.map((v) => v.operation)).toEqual([
      "create",
      "append",
      "update",
      "update",
      "delete",
      "merge_insert",
      "add_columns",
      "add_columns",
      "alter_columns",
      "drop_columns",
      "overwrite",
      "restore",
    ]);
    expect(what(entry(log, 1))).toEqual({
      operation: "create",
      parameters: {},
      ...none,
      rowsAdded: 3,
      message: "seed rows",
      properties: { source: "fixture" },
      tags: ["baseline"],
    });
    expect(what(entry(log, 2))).toEqual({
      operation: "append",
      parameters: {},
      ...none,
      rowsAdded: 2,
      message: "nightly load",
      properties: { job: "nightly", run: "17" },
      tags: [],
    });
    expect(what(entry(log, 3))).toEqual({
      operation: "update",
      parameters: { columns: "name", predicate: "id = 1" },
      ...none,
      rowsUpdated: 1,
      message: "fix name",
      properties: { ticket: "T-1" },
      tags: [],
    });
    expect(what(entry(log, 4))).toEqual({
      operation: "update",
      parameters: { columns: "n", predicate: "id >= 4" },
      ...none,
      rowsUpdated: 2,
      message: "bump",
      properties: { ticket: "T-2" },
      tags: [],
    });
    expect(what(entry(log, 5))).toEqual({
      operation: "delete",
      parameters: { predicate: "id = 2" },
      ...none,
      rowsDeleted: 1,
      message: "GDPR request",
      properties: { ticket: "T-3" },
      tags: ["audited", "release"],
    });
    expect(what(entry(log, 6))).toEqual({
      operation: "merge_insert",
      parameters: { on: "id" },
      rowsAdded: 1,
      rowsUpdated: 1,
      rowsDeleted: 0,
      message: "sync",
      properties: { job: "crm" },
      tags: [],
    });
    expect(what(entry(log, 7))).toMatchObject({
      operation: "add_columns",
      parameters: { columns: "twice" },
      message: "derive twice",
      properties: { owner: "ana" },
    });
    expect(what(entry(log, 8))).toMatchObject({
      operation: "add_columns",
      parameters: { columns: "note" },
      message: "note column",
      properties: {},
    });
    expect(what(entry(log, 9))).toMatchObject({
      operation: "alter_columns",
      parameters: { columns: "note" },
      message: "rename note",
      properties: {},
    });
    expect(what(entry(log, 10))).toMatchObject({
      operation: "drop_columns",
      parameters: { columns: "twice" },
      message: "drop twice",
      properties: { owner: "bo" },
    });
    expect(what(entry(log, 11))).toMatchObject({
      operation: "overwrite",
      rowsAdded: 1,
      message: "reset",
    });
    expect(what(entry(log, 12))).toMatchObject({
      operation: "restore",
      parameters: { restored_from: "3" },
      message: "undo",
      properties: { reason: "bad merge" },
    });
    // Schema changes and restores touch no rows.
    for (const v of [7, 8, 9, 10, 12]) {
      expect(entry(log, v).rowsAdded ?? 0).toBe(0);
      expect(entry(log, v).rowsUpdated ?? 0).toBe(0);
      expect(entry(log, v).rowsDeleted ?? 0).toBe(0);
    }
    // palimpsest's own bookkeeping never shows up as the caller's properties.
    for (const v of log) {
      expect(Object.keys(v.properties).filter((k) => k.startsWith("palimpsest."))).toEqual([]);
      expect(v.timestamp).toBeInstanceOf(Date);
      expect(v.metadata.total_rows).toBeDefined();
    }
    // The restore really is version 3's content.
    expect(await tableRows(t)).toEqual([
      { id: 1n, name: "A", n: 1 },
      { id: 2n, name: "b", n: 2 },
      { id: 3n, name: "c", n: 3 },
      { id: 4n, name: "d", n: 4 },
      { id: 5n, name: "e", n: 5 },
    ]);
    t.close();
  });

  it("leaves message null and properties empty for writes without options", async () => {
    const t = await db.createTable("plain", seed, { schema });
    await t.add([{ id: 4n, name: "d", n: 4 }]);
    await t.update({ where: "id = 1", values: { name: "A" } });
    await t.update({ n: "n * 2" });
    await t.delete("id = 2");
    await t.add([{ id: 5n, name: "e", n: 5 }], { message: undefined, properties: undefined });
    const log = await t.listVersions();
    expect(log.map((v) => [v.operation, v.message, v.properties])).toEqual([
      ["create", null, {}],
      ["append", null, {}],
      ["update", null, {}],
      ["update", null, {}],
      ["delete", null, {}],
      ["append", null, {}],
    ]);
    // An update of every row records no predicate.
    expect(entry(log, 4).parameters).toEqual({ columns: "n" });
    expect(entry(log, 4).rowsUpdated).toBe(4);
    t.close();
  });

  it("records messages of createEmptyTable, createTable overwrite and restore of a checkout", async () => {
    const empty = await db.createEmptyTable("empty", schema, {
      message: "empty start",
      properties: { k: "v" },
    });
    expect(what(entry(await empty.listVersions(), 1))).toMatchObject({
      rowsAdded: 0,
      message: "empty start",
      properties: { k: "v" },
    });
    const over = await db.createTable("empty", seed, {
      schema,
      mode: "overwrite",
      message: "replace all",
    });
    expect(await over.version()).toBe(2);
    const v2 = entry(await over.listVersions(), 2);
    expect(v2.message).toBe("replace all");
    expect(v2.rowsAdded).toBe(3);

    await over.checkout(1);
    await over.restore(undefined, { message: "back to empty" });
    const v3 = entry(await over.listVersions(), 3);
    expect(what(v3)).toMatchObject({
      operation: "restore",
      parameters: { restored_from: "1" },
      message: "back to empty",
    });
    expect(await over.countRows()).toBe(0);
    empty.close();
    over.close();
  });

  it("still lets the @lancedb/lancedb update form set columns named message or properties", async () => {
    const s = new Schema([
      new Field("id", new Int64(), true),
      new Field("message", new Utf8(), true),
    ]);
    const t = await db.createTable("cols", [{ id: 1n, message: "x" }], { schema: s });
    await t.update({ message: "'y'" });
    expect(await tableRows(t)).toEqual([{ id: 1n, message: "y" }]);
    const v2 = entry(await t.listVersions(), 2);
    expect([v2.operation, v2.message, v2.parameters.columns]).toEqual(["update", null, "message"]);
    t.close();
  });

  it("keeps messages, properties and tags when the table is opened again", async () => {
    const t = await writeEveryKind();
    const before = await t.listVersions();
    const text = await t.history();
    t.close();
    db.close();

    db = await connect(dir);
    const again = await db.openTable("log");
    expect(await again.listVersions()).toEqual(before);
    expect(await again.history()).toBe(text);
    again.close();
  });

  it("describes a table dropped and created again by its new history, not the old one", async () => {
    // Read versions are remembered in memory; a new table at the same path must not reuse them.
    for (const message of ["first life", "second life"]) {
      const t = await db.createTable("again", seed, { schema, message });
      await t.add(seed, { message: `${message}, append` });
      const log = await t.listVersions();
      expect(log.map((v) => v.message)).toEqual([message, `${message}, append`]);
      t.close();
      await db.dropTable("again");
    }
  });

  it("shows only the current branch's versions, with the branch's own messages", async () => {
    const t = await db.createTable("br", seed, { schema, message: "seed" });
    await t.add([{ id: 4n, name: "d", n: 4 }], { message: "on main" });
    const exp = await t.branches().create("exp", 1);
    await exp.delete("id = 1", { message: "on exp", properties: { who: "exp" } });
    const log = await exp.listVersions();
    const last = log[log.length - 1]!;
    expect(what(last)).toMatchObject({
      operation: "delete",
      rowsDeleted: 1,
      message: "on exp",
      properties: { who: "exp" },
    });
    expect(log.map((v) => v.message)).not.toContain("on main");
    expect((await t.listVersions()).map((v) => v.message)).toEqual(["seed", "on main"]);
    exp.close();
    t.close();
  });
});

describe("history()", () => {
  it("prints one line per version, newest first, with what each did", async () => {
    const t = await writeEveryKind();
    const text = await t.history();
    const lines = text.split("\n");
    expect(lines).toHaveLength(12);
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual([
      "v12",
      "v11",
      "v10",
      "v9",
      "v8",
      "v7",
      "v6",
      "v5",
      "v4",
      "v3",
      "v2",
      "v1",
    ]);
    // The operation column is padded to the widest operation, "alter_columns".
    const width = "alter_columns".length;
    for (const l of lines) {
      expect(l).toMatch(/^v\d+ +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}\S/);
      expect(l.split(/Z {2}/)[1]!.slice(width)).toMatch(/^ {2}\S/);
    }
    // Each line after the time, with the padding squashed to the two-space separator.
    const line = (v: number) => lines[12 - v]!.split(/Z {2}/)[1]!.replace(/ {2,}/g, "  ");
    expect(line(1)).toBe(`create  +3 rows  "seed rows"  [baseline]  {source=fixture}`);
    expect(line(2)).toBe(`append  +2 rows  "nightly load"  {job=nightly, run=17}`);
    expect(line(3)).toBe(`update  ~1 row, column name, where id = 1  "fix name"  {ticket=T-1}`);
    expect(line(4)).toBe(`update  ~2 rows, column n, where id >= 4  "bump"  {ticket=T-2}`);
    expect(line(5)).toBe(
      `delete  -1 row, where id = 2  "GDPR request"  [audited, release]  {ticket=T-3}`,
    );
    expect(line(6)).toBe(`merge_insert  +1 row, ~1 row, on id  "sync"  {job=crm}`);
    expect(line(7)).toBe(`add_columns  column twice  "derive twice"  {owner=ana}`);
    expect(line(8)).toBe(`add_columns  column note  "note column"`);
    expect(line(9)).toBe(`alter_columns  column note  "rename note"`);
    expect(line(10)).toBe(`drop_columns  column twice  "drop twice"  {owner=bo}`);
    expect(line(11)).toMatch(/^overwrite {2}\+1 row.*"reset"$/);
    expect(line(12)).toBe(`restore  restored from v3  "undo"  {reason=bad merge}`);
    t.close();
  });

  it("is the formatted listVersions()", async () => {
    const t = await db.createTable("f", seed, { schema, message: 'say "hi"\nthen go' });
    expect(await t.history()).toBe(formatHistory(await t.listVersions()));
    expect(await t.history()).toContain(String.raw`"say \"hi\"\nthen go"`);
    expect((await t.history()).split("\n")).toHaveLength(1);
    t.close();
  });
});

describe("formatHistory", () => {
  const base: Version = {
    version: 1,
    timestamp: new Date("2025-01-07T10:01:40.987Z"),
    metadata: {},
    operation: "create",
    parameters: {},
    rowsAdded: 3,
    rowsUpdated: 0,
    rowsDeleted: 0,
    message: null,
    properties: {},
    tags: [],
  };

  it("formats each field and aligns the version and operation columns", () => {
    const log: Version[] = [
      { ...base, tags: ["baseline", "v1.0"] },
      {
        ...base,
        version: 2,
        timestamp: new Date("2025-01-07T10:01:54Z"),
        operation: "update",
        parameters: { columns: "author,name", predicate: "author = 'Richard'" },
        rowsAdded: 0,
        rowsUpdated: 2,
        message: "relabel",
      },
      {
        ...base,
        version: 10,
        timestamp: new Date("2025-01-07T10:03:02Z"),
        operation: "merge_insert",
        parameters: { on: "id" },
        rowsAdded: 1,
        rowsUpdated: 1,
        rowsDeleted: 1,
        properties: { z: "1", a: "2" },
      },
    ];
    expect(formatHistory(log)).toBe(
      [
        "v10  2025-01-07T10:03:02Z  merge_insert  +1 row, ~1 row, -1 row, on id  {a=2, z=1}",
        `v2   2025-01-07T10:01:54Z  update        ~2 rows, columns author, name, where author = 'Richard'  "relabel"`,
        "v1   2025-01-07T10:01:40Z  create        +3 rows  [baseline, v1.0]",
      ].join("\n"),
    );
  });

  it("handles unknown counts, no-op row writes, restores and unknown parameters", () => {
    const unknown = { rowsAdded: null, rowsUpdated: null, rowsDeleted: null };
    const log: Version[] = [
      { ...base, version: 1, operation: "update", ...unknown },
      { ...base, version: 2, operation: "delete", ...none, parameters: { predicate: "false" } },
      { ...base, version: 3, operation: "restore", ...none, parameters: { restored_from: "1" } },
      { ...base, version: 4, operation: "update_config", ...unknown, parameters: { k: "v" } },
    ];
    expect(formatHistory(log).split("\n")).toEqual([
      "v4  2025-01-07T10:01:40Z  update_config  k=v",
      "v3  2025-01-07T10:01:40Z  restore        restored from v1",
      "v2  2025-01-07T10:01:40Z  delete         0 rows, where false",
      "v1  2025-01-07T10:01:40Z  update",
    ]);
  });

  it("is empty for no versions", () => {
    expect(formatHistory([])).toBe("");
  });
});

describe("invalid messages and properties", () => {
  let t: Table;
  beforeEach(async () => {
    t = await db.createTable("bad", seed, { schema });
  });
  afterEach(() => t.close());

  /** Every write kind, taking the options under test. */
  const writes: [string, (t: Table, o: WriteOptions) => Promise<unknown>][] = [
    ["add", (t, o) => t.add([{ id: 9n, name: "z", n: 9 }], o)],
    ["add overwrite", (t, o) => t.add([{ id: 9n, name: "z", n: 9 }], { mode: "overwrite", ...o })],
    ["update values", (t, o) => t.update({ where: "id = 1", values: { name: "x" }, ...o })],
    ["update valuesSql", (t, o) => t.update({ valuesSql: { n: "n + 1" }, ...o })],
    ["update lancedb form", (t, o) => t.update({ n: "n + 1" }, { where: "id = 1", ...o })],
    ["delete", (t, o) => t.delete("id = 1", o)],
    [
      "mergeInsert",
      (t, o) =>
        t
          .mergeInsert("id")
          .whenMatchedUpdateAll()
          .whenNotMatchedInsertAll()
          .execute([{ id: 1n, name: "m", n: 1 }], o),
    ],
    ["addColumns sql", (t, o) => t.addColumns([{ name: "k", valueSql: "n * 2" }], o)],
    ["addColumns null", (t, o) => t.addColumns(new Field("k", new Utf8(), true), o)],
    ["alterColumns", (t, o) => t.alterColumns([{ path: "name", rename: "label" }], o)],
    ["dropColumns", (t, o) => t.dropColumns(["n"], o)],
    ["restore", (t, o) => t.restore(1, o)],
  ];

  const bad: [string, unknown][] = [
    ["a reserved property key", { properties: { "palimpsest.operation": "forged" } }],
    ["the bare reserved prefix", { properties: { "palimpsest.": "x" } }],
    ["an empty property key", { properties: { "": "x" } }],
    ["a non-string property value", { properties: { run: 17 } }],
    ["properties that are not an object", { properties: "run=17" }],
    ["properties given as a Map", { properties: new Map([["a", "b"]]) }],
    ["properties given as an array", { properties: ["a"] }],
    ["a number message", { message: 42 }],
    ["a null message", { message: null }],
    ["an object message", { message: { text: "hi" } }],
  ];

  for (const [writeName, write] of writes) {
    for (const [badName, options] of bad) {
      it(`${writeName} rejects ${badName} and changes nothing`, async () => {
        const rows = await tableRows(t);
        const columns = fieldNames(await t.schema());
        await expectCode(
          write(t, options as WriteOptions),
          "INVALID_ARGUMENT",
          InvalidArgumentError,
        );
        expect(await t.version()).toBe(1);
        expect(await t.listVersions()).toHaveLength(1);
        expect(await tableRows(t)).toEqual(rows);
        expect(fieldNames(await t.schema())).toEqual(columns);
      });
    }
  }

  it("rejects a message over 64 KiB (checked natively) and changes nothing", async () => {
    const rows = await tableRows(t);
    await expectCode(
      t.delete("id = 1", { message: "x".repeat(64 * 1024 + 1) }),
      "INVALID_ARGUMENT",
    );
    expect(await t.version()).toBe(1);
    expect(await tableRows(t)).toEqual(rows);
    await t.delete("id = 1", { message: "x".repeat(64 * 1024) });
    expect(entry(await t.listVersions(), 2).message).toHaveLength(64 * 1024);
  });

  it("is rejected by the native side too, when the facade's check is bypassed", async () => {
    const inner = (t as unknown as { inner: { delete(p: string, n: unknown): Promise<unknown> } })
      .inner;
    for (const properties of [{ "palimpsest.message": "forged" }, { "": "x" }]) {
      await expect(inner.delete("id = 1", { properties })).rejects.toThrow(/^\[INVALID_ARGUMENT\]/);
    }
    expect(await t.version()).toBe(1);
    expect(await t.countRows()).toBe(3);
  });

  it("createTable and createEmptyTable reject them and create nothing", async () => {
    await expectCode(
      db.createTable("nope", seed, { schema, properties: { "palimpsest.x": "y" } }),
      "INVALID_ARGUMENT",
    );
    await expectCode(
      db.createEmptyTable("nope", schema, { message: 1 as unknown as string }),
      "INVALID_ARGUMENT",
    );
    expect(await db.tableNames()).toEqual(["bad"]);
    // An overwrite with a bad note leaves the existing table as it was.
    await expectCode(
      db.createTable("bad", [{ id: 8n, name: "h", n: 8 }], {
        schema,
        mode: "overwrite",
        properties: { "": "x" },
      }),
      "INVALID_ARGUMENT",
    );
    await t.checkoutLatest();
    expect(await t.version()).toBe(1);
    expect(await t.countRows()).toBe(3);
  });

  it("accepts empty messages, empty properties and unicode", async () => {
    await t.delete("id = 1", { message: "", properties: {} });
    await t.delete("id = 2", { message: "héllo ✓", properties: { "clé ✓": "välue" } });
    const log = await t.listVersions();
    expect([entry(log, 2).message, entry(log, 2).properties]).toEqual(["", {}]);
    expect([entry(log, 3).message, entry(log, 3).properties]).toEqual([
      "héllo ✓",
      { "clé ✓": "välue" },
    ]);
  });
});

describe("a table written by @lancedb/lancedb", () => {
  it("is described from lance's own record, with no message", async () => {
    const ldb = await lancedb.connect(dir);
    const theirs = await ldb.createTable("lq", seed, { schema });
    await theirs.add([
      { id: 4n, name: "d", n: 4 },
      { id: 5n, name: "e", n: 5 },
    ]);
    await theirs.update({ where: "id >= 4", values: { name: "x" } });
    await theirs.delete("id = 3");
    theirs.close();

    const t = await db.openTable("lq");
    await t.add([{ id: 6n, name: "f", n: 6 }], { message: "ours", properties: { by: "us" } });
    const log = await t.listVersions();
    expect(log.map((v) => [v.version, v.operation, v.message])).toEqual([
      [1, "create", null],
      [2, "append", null],
      [3, "update", null],
      [4, "delete", null],
      [5, "append", "ours"],
    ]);
    expect(entry(log, 1).rowsAdded).toBe(3);
    expect(entry(log, 2).rowsAdded).toBe(2);
    expect(entry(log, 4).rowsDeleted).toBe(1);
    for (const v of log.slice(0, 4)) expect(v.properties).toEqual({});
    expect(entry(log, 5).properties).toEqual({ by: "us" });
    expect(entry(log, 5).rowsAdded).toBe(1);

    // lancedb writes after ours are theirs again.
    const again = await ldb.openTable("lq");
    await again.delete("id = 6");
    again.close();
    await t.checkoutLatest();
    const last = entry(await t.listVersions(), 6);
    expect([last.operation, last.rowsDeleted, last.message]).toEqual(["delete", 1, null]);

    const lines = (await t.history()).split("\n");
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/^v6 +\S+ {2}delete +-1 row$/);
    expect(lines[1]).toMatch(/append +\+1 row {2}"ours" {2}\{by=us\}$/);
    expect(lines[5]).toMatch(/^v1 +\S+ {2}create +\+3 rows$/);
    t.close();
    ldb.close();
  });
});
