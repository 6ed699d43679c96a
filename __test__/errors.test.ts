/**
 * Errors: every failure is a typed PalimpsestError with the right code, and a failed write
 * leaves the table's version and rows exactly as they were.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  Table as ArrowTable,
  Field,
  FixedSizeList,
  Float32,
  Float64,
  Int64,
  Schema,
  Utf8,
  vectorFromArray,
} from "apache-arrow";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  missingCpuFlags,
  REQUIRED_CPU_FLAGS,
  SKIP_CPU_CHECK_ENV,
  unsupportedCpuReason,
} from "../js/cpu-check";
import {
  ColumnNotFoundError,
  type Connection,
  connect,
  InternalError,
  InvalidArgumentError,
  InvalidPredicateError,
  PalimpsestError,
  ReadOnlyCheckoutError,
  SchemaMismatchError,
  type Table,
  TableExistsError,
  TableNotFoundError,
  VersionNotFoundError,
} from "../js/index";
import { callNative, loadNative } from "../js/native-loader";
import { expectCode, freshDb, removeDir, tableRows } from "./helpers/facade";

const vec = (n: number) => new FixedSizeList(n, new Field("item", new Float32(), true));
const schema = new Schema([
  new Field("id", new Int64(), false),
  new Field("name", new Utf8(), true),
  new Field("n", new Float64(), true),
  new Field("vec", vec(4), true),
]);
const base = [
  { id: 1n, name: "a", n: 1, vec: [1, 0, 0, 0] },
  { id: 2n, name: "b", n: 2, vec: [0, 1, 0, 0] },
  { id: 3n, name: "c", n: 3, vec: [0, 0, 1, 0] },
];

let dir: string;
let db: Connection;
let table: Table;

beforeEach(async () => {
  ({ dir, db } = await freshDb());
  table = await db.createTable("t", base, { schema });
  await table.add([{ id: 4n, name: "d", n: 4, vec: [0, 0, 0, 1] }]); // version 2
});
afterEach(() => {
  table.close();
  db.close();
  removeDir(dir);
});

type ErrorClass = abstract new (...args: never[]) => PalimpsestError;
type Case = [name: string, code: string, ctor: ErrorClass, run: (t: Table) => Promise<unknown>];

/** An Arrow table for `add`, with `n` of the given Arrow type. */
function arrowRows(nType: "utf8" | "float64", vecLen = 4): ArrowTable {
  const s = new Schema([
    new Field("id", new Int64(), false),
    new Field("name", new Utf8(), true),
    new Field("n", nType === "utf8" ? new Utf8() : new Float64(), true),
    new Field("vec", vec(vecLen), true),
  ]);
  return new ArrowTable(s, {
    id: vectorFromArray([9n], new Int64()),
    name: vectorFromArray(["z"], new Utf8()),
    n: nType === "utf8" ? vectorFromArray(["9"], new Utf8()) : vectorFromArray([9], new Float64()),
    vec: vectorFromArray([Array.from({ length: vecLen }, () => 0.5)], vec(vecLen)),
  } as never);
}

const cases: Case[] = [
  // add
  [
    "add: string into a number column",
    "SCHEMA_MISMATCH",
    SchemaMismatchError,
    (t) => t.add([{ id: 9n, name: "z", n: "nine", vec: [0, 0, 0, 0] }]),
  ],
  [
    "add: vector of the wrong length",
    "SCHEMA_MISMATCH",
    SchemaMismatchError,
    (t) => t.add([{ id: 9n, name: "z", n: 9, vec: [1, 2, 3] }]),
  ],
  [
    "add: unknown column",
    "SCHEMA_MISMATCH",
    SchemaMismatchError,
    (t) => t.add([{ id: 9n, name: "z", n: 9, vec: [0, 0, 0, 0], extra: 1 }]),
  ],
  [
    "add: null in a non-nullable column",
    "SCHEMA_MISMATCH",
    SchemaMismatchError,
    (t) => t.add([{ id: null, name: "z", n: 9, vec: [0, 0, 0, 0] }]),
  ],
  [
    "add: Arrow data with a string column for a number column",
    "SCHEMA_MISMATCH",
    SchemaMismatchError,
    (t) => t.add(arrowRows("utf8")),
  ],
  [
    "add: Arrow data with vectors of the wrong length",
    "SCHEMA_MISMATCH",
    SchemaMismatchError,
    (t) => t.add(arrowRows("float64", 3)),
  ],
  // update
  [
    "update: bad SQL in where",
    "INVALID_PREDICATE",
    InvalidPredicateError,
    (t) => t.update({ where: "id ==== 1", values: { n: 0 } }),
  ],
  [
    "update: bad SQL in valuesSql",
    "INVALID_PREDICATE",
    InvalidPredicateError,
    (t) => t.update({ valuesSql: { n: "n +* 1" } }),
  ],
  [
    "update: unknown column in where",
    "COLUMN_NOT_FOUND",
    ColumnNotFoundError,
    (t) => t.update({ where: "nope = 1", values: { n: 0 } }),
  ],
  [
    "update: unknown column set",
    "COLUMN_NOT_FOUND",
    ColumnNotFoundError,
    (t) => t.update({ values: { nope: 1 } }),
  ],
  [
    "update: unknown column in an expression",
    "COLUMN_NOT_FOUND",
    ColumnNotFoundError,
    (t) => t.update({ valuesSql: { n: "nope + 1" } }),
  ],
  [
    "update: string into a number column",
    "SCHEMA_MISMATCH",
    SchemaMismatchError,
    (t) => t.update({ where: "id = 1", values: { n: "one" } }),
  ],
  [
    "update: vector of the wrong length",
    "SCHEMA_MISMATCH",
    SchemaMismatchError,
    (t) => t.update({ where: "id = 1", values: { vec: [1, 2, 3] } }),
  ],
  // delete
  ["delete: bad SQL", "INVALID_PREDICATE", InvalidPredicateError, (t) => t.delete("id >>>= 1")],
  ["delete: unknown column", "COLUMN_NOT_FOUND", ColumnNotFoundError, (t) => t.delete("nope > 1")],
  // mergeInsert
  [
    "mergeInsert: bad SQL in whenMatchedUpdateAll where",
    "INVALID_PREDICATE",
    InvalidPredicateError,
    (t) =>
      t
        .mergeInsert("id")
        .whenMatchedUpdateAll({ where: "target.n >>>= source.n" })
        .execute([{ id: 1n, n: 10 }]),
  ],
  [
    "mergeInsert: bad SQL in whenNotMatchedBySourceDelete where",
    "INVALID_PREDICATE",
    InvalidPredicateError,
    (t) =>
      t
        .mergeInsert("id")
        .whenNotMatchedBySourceDelete({ where: "n ==== 1" })
        .execute([{ id: 1n, n: 10 }]),
  ],
  [
    "mergeInsert: unknown key column",
    "COLUMN_NOT_FOUND",
    ColumnNotFoundError,
    (t) =>
      t
        .mergeInsert("nope")
        .whenMatchedUpdateAll()
        .execute([{ id: 1n, n: 10 }]),
  ],
  [
    "mergeInsert: string into a number column",
    "SCHEMA_MISMATCH",
    SchemaMismatchError,
    (t) =>
      t
        .mergeInsert("id")
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute([{ id: 1n, n: "ten" }]),
  ],
  [
    "mergeInsert: vector of the wrong length",
    "SCHEMA_MISMATCH",
    SchemaMismatchError,
    (t) =>
      t
        .mergeInsert("id")
        .whenMatchedUpdateAll()
        .execute([{ id: 1n, vec: [1, 2] }]),
  ],
  [
    "mergeInsert: unknown column in the source",
    "SCHEMA_MISMATCH",
    SchemaMismatchError,
    (t) =>
      t
        .mergeInsert("id")
        .whenMatchedUpdateAll()
        .execute([{ id: 1n, extra: 10 }]),
  ],
  // addColumns
  [
    "addColumns: bad SQL",
    "INVALID_PREDICATE",
    InvalidPredicateError,
    (t) => t.addColumns([{ name: "x", valueSql: "n +* 2" }]),
  ],
  [
    "addColumns: unknown column in the expression",
    "COLUMN_NOT_FOUND",
    ColumnNotFoundError,
    (t) => t.addColumns([{ name: "x", valueSql: "nope * 2" }]),
  ],
  [
    "addColumns: a column that already exists",
    "SCHEMA_MISMATCH",
    SchemaMismatchError,
    (t) => t.addColumns(new Field("name", new Utf8(), true)),
  ],
  [
    "addColumns: a non-nullable all-null column",
    "SCHEMA_MISMATCH",
    SchemaMismatchError,
    (t) => t.addColumns(new Field("x", new Utf8(), false)),
  ],
  // alterColumns
  [
    "alterColumns: unknown column",
    "COLUMN_NOT_FOUND",
    ColumnNotFoundError,
    (t) => t.alterColumns([{ path: "nope", rename: "x" }]),
  ],
  [
    "alterColumns: a type the values cannot be cast to",
    "SCHEMA_MISMATCH",
    SchemaMismatchError,
    (t) => t.alterColumns([{ path: "vec", dataType: new Int64() }]),
  ],
  // dropColumns
  [
    "dropColumns: unknown column",
    "COLUMN_NOT_FOUND",
    ColumnNotFoundError,
    (t) => t.dropColumns(["nope"]),
  ],
  [
    "dropColumns: every column",
    "SCHEMA_MISMATCH",
    SchemaMismatchError,
    (t) => t.dropColumns(["id", "name", "n", "vec"]),
  ],
];

describe("a failed write throws the right code and changes nothing", () => {
  for (const [name, code, ctor, run] of cases) {
    it(name, async () => {
      const before = await tableRows(table);
      const versions = await table.listVersions();
      const err = await expectCode(run(table), code, ctor);
      expect(err).toBeInstanceOf(Error);
      expect(err.name).toBe(ctor.name);
      expect(await table.version()).toBe(2);
      expect(await table.listVersions()).toEqual(versions);
      expect(await tableRows(table)).toEqual(before);
      // The table is still writable afterwards.
      expect(await table.delete("id = 4")).toEqual({ version: 3, numDeletedRows: 1 });
    });
  }
});

describe("writes on a checked-out version", () => {
  const writes: [string, (t: Table) => Promise<unknown>][] = [
    ["add", (t) => t.add([{ id: 9n, name: "z", n: 9, vec: [0, 0, 0, 0] }])],
    ["update", (t) => t.update({ values: { n: 0 } })],
    ["delete", (t) => t.delete("id = 1")],
    [
      "mergeInsert",
      (t) =>
        t
          .mergeInsert("id")
          .whenMatchedUpdateAll()
          .execute([{ id: 1n, n: 5 }]),
    ],
    ["addColumns", (t) => t.addColumns([{ name: "x", valueSql: "n" }])],
    ["alterColumns", (t) => t.alterColumns([{ path: "n", rename: "m" }])],
    ["dropColumns", (t) => t.dropColumns(["n"])],
  ];
  for (const [name, run] of writes) {
    it(`${name} rejects with READ_ONLY_CHECKOUT and changes nothing`, async () => {
      await table.checkout(1);
      const before = await tableRows(table);
      await expectCode(run(table), "READ_ONLY_CHECKOUT", ReadOnlyCheckoutError);
      expect(await table.version()).toBe(1);
      expect(await tableRows(table)).toEqual(before);
      await table.checkoutLatest();
      expect(await table.version()).toBe(2);
      expect(await table.countRows()).toBe(4);
    });
  }
});

describe("reads with bad SQL", () => {
  it("report INVALID_PREDICATE and COLUMN_NOT_FOUND", async () => {
    await expectCode(table.countRows("id ==== 1"), "INVALID_PREDICATE", InvalidPredicateError);
    await expectCode(table.countRows("nope = 1"), "COLUMN_NOT_FOUND", ColumnNotFoundError);
    await expectCode(table.query().where("id ==== 1").toArray(), "INVALID_PREDICATE");
    await expectCode(table.query().select(["nope"]).toArray(), "COLUMN_NOT_FOUND");
  });
});

describe("connection errors", () => {
  it("TABLE_NOT_FOUND for a missing table", async () => {
    await expectCode(db.openTable("missing"), "TABLE_NOT_FOUND", TableNotFoundError);
    await expectCode(db.dropTable("missing"), "TABLE_NOT_FOUND", TableNotFoundError);
  });

  it("TABLE_EXISTS when creating an existing table; existOk opens it", async () => {
    await expectCode(db.createTable("t", base, { schema }), "TABLE_EXISTS", TableExistsError);
    await expectCode(db.createEmptyTable("t", schema), "TABLE_EXISTS", TableExistsError);
    expect(await table.version()).toBe(2);
    const same = await db.createTable("t", [{ id: 100n, name: "ignored", n: 0, vec: null }], {
      schema,
      existOk: true,
    });
    expect(await same.version()).toBe(2);
    expect(await same.countRows()).toBe(4);
    same.close();
  });

  it("dropTable removes the table; it can then be created again", async () => {
    await db.dropTable("t");
    expect(await db.tableNames()).toEqual([]);
    expect(fs.existsSync(path.join(dir, "t.lance"))).toBe(false);
    await expectCode(db.openTable("t"), "TABLE_NOT_FOUND");
    const again = await db.createTable("t", base, { schema });
    expect(await again.version()).toBe(1);
    again.close();
  });

  const badNames = [
    "",
    "a/b",
    "a\\b",
    "..",
    "a..b",
    "../escape",
    "/abs",
    "has space",
    "ümlaut",
    "x".repeat(256),
    "tab\tname",
  ];
  for (const name of badNames) {
    it(`rejects the table name ${JSON.stringify(name.length > 20 ? `${name.slice(0, 8)}…` : name)}`, async () => {
      await expectCode(
        db.createTable(name, base, { schema }),
        "INVALID_ARGUMENT",
        InvalidArgumentError,
      );
      await expectCode(db.createEmptyTable(name, schema), "INVALID_ARGUMENT");
      await expectCode(db.openTable(name), "INVALID_ARGUMENT");
      await expectCode(db.dropTable(name), "INVALID_ARGUMENT");
    });
  }

  it("accepts names of letters, digits, _ - . up to 249 characters", async () => {
    // 249 + ".lance" is the 255-byte limit of a file name.
    for (const name of ["a.b-c_1", "X".repeat(249), "v1.2"]) {
      const t = await db.createTable(name, base, { schema });
      expect(t.name).toBe(name);
      expect(fs.existsSync(path.join(dir, `${name}.lance`))).toBe(true);
      t.close();
    }
  });

  it("VERSION_NOT_FOUND for missing versions", async () => {
    await expectCode(table.checkout(3), "VERSION_NOT_FOUND", VersionNotFoundError);
    await expectCode(db.openTable("t", { version: 7 }), "VERSION_NOT_FOUND", VersionNotFoundError);
    await expectCode(table.restore(8), "VERSION_NOT_FOUND", VersionNotFoundError);
  });

  it("createTable with bad options or data is INVALID_ARGUMENT", async () => {
    await expectCode(db.createTable("x", [], {}), "INVALID_ARGUMENT");
    await expectCode(db.createTable("x", base, { mode: "append" as never }), "INVALID_ARGUMENT");
    await expectCode(db.createTable("x", "rows" as never), "INVALID_ARGUMENT");
    await expectCode(db.createTable("x", [1, 2] as never), "INVALID_ARGUMENT");
    await expectCode(db.createTable("x", base, { schema: {} as never }), "INVALID_ARGUMENT");
    expect(await db.tableNames()).toEqual(["t"]);
  });

  it("connect rejects a bad uri", async () => {
    await expectCode(connect(""), "INVALID_ARGUMENT");
    await expectCode(connect(42 as never), "INVALID_ARGUMENT");
  });
});

describe("native panics", () => {
  it("debugPanic() rejects with INTERNAL and the process keeps working", async () => {
    const native = loadNative();
    let raw: unknown;
    try {
      await native.debugPanic();
    } catch (err) {
      raw = err;
    }
    expect(raw).toBeInstanceOf(Error);
    // Native async errors carry their code as a message prefix (docs/native-contract.md).
    expect((raw as Error).message).toMatch(/^\[INTERNAL\] /);

    const err = await expectCode(
      callNative(() => native.debugPanic()),
      "INTERNAL",
      InternalError,
    );
    // The native error is kept as the cause.
    expect(err.cause).toBeInstanceOf(Error);
    expect((err.cause as Error).message).toMatch(/^\[INTERNAL\] /);

    // Panicking again is fine, and everything else still works.
    await expect(native.debugPanic()).rejects.toBeDefined();
    expect(await table.countRows()).toBe(4);
    expect(await table.add([{ id: 5n, name: "e", n: 5, vec: null }])).toMatchObject({ version: 3 });
    const db2 = await connect(dir);
    expect(await db2.tableNames()).toEqual(["t"]);
    db2.close();
  });
});

describe("error objects", () => {
  it("carry code, name, message and the native cause", async () => {
    const err = await expectCode(db.openTable("missing"), "TABLE_NOT_FOUND", TableNotFoundError);
    expect(err).toBeInstanceOf(PalimpsestError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("TableNotFoundError");
    expect(err.message).toMatch(/missing/);
    expect(err.cause).toBeDefined();
    expect(String(err.stack)).toContain("TableNotFoundError");
  });
});

describe("CPU check before loading the x86-64 binary", () => {
  // qemu64, QEMU's default CPU model: x86-64 with SSE2 and little more.
  const qemu64 =
    "processor\t: 0\nflags\t\t: fpu de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat " +
    "pse36 clflush mmx fxsr sse sse2 syscall nx lm nopl pni cx16 hypervisor lahf_lm svm\n";
  const haswell = `processor\t: 0\nflags\t\t: fpu sse sse2 ${REQUIRED_CPU_FLAGS.join(" ")} avx\n`;

  it("names the flags an old CPU lacks", () => {
    expect(missingCpuFlags(qemu64)).toEqual(REQUIRED_CPU_FLAGS);
    expect(missingCpuFlags(haswell)).toEqual([]);
    expect(missingCpuFlags(haswell.replace(" bmi2", ""))).toEqual(["bmi2"]);
    expect(missingCpuFlags("no flags here")).toEqual([]);
  });

  it("refuses with a reason and a way out only on Linux x64 without the flags", () => {
    const reason = unsupportedCpuReason("linux", "x64", {}, () => qemu64);
    expect(reason).toContain("lacks avx2, fma");
    expect(reason).toContain(`${SKIP_CPU_CHECK_ENV}=1`);
    expect(unsupportedCpuReason("linux", "x64", {}, () => haswell)).toBeUndefined();
    expect(unsupportedCpuReason("linux", "arm64", {}, () => qemu64)).toBeUndefined();
    expect(unsupportedCpuReason("darwin", "x64", {}, () => qemu64)).toBeUndefined();
    expect(
      unsupportedCpuReason("linux", "x64", { [SKIP_CPU_CHECK_ENV]: "1" }, () => qemu64),
    ).toBeUndefined();
    const unreadable = () => {
      throw new Error("EACCES");
    };
    expect(unsupportedCpuReason("linux", "x64", {}, unreadable)).toBeUndefined();
  });

  it("makes loadNative throw INTERNAL with the reason, before loading the binary", async () => {
    vi.resetModules();
    vi.doMock("../js/cpu-check", () => ({ unsupportedCpuReason: () => "this CPU lacks avx2" }));
    try {
      const fresh = await import("../js/native-loader");
      let thrown: unknown;
      try {
        fresh.loadNative();
      } catch (err) {
        thrown = err;
      }
      expect((thrown as { code?: string }).code).toBe("INTERNAL");
      expect((thrown as Error).message).toContain("was not loaded: this CPU lacks avx2");
    } finally {
      vi.doUnmock("../js/cpu-check");
      vi.resetModules();
    }
  });

  it("passes on this machine, which runs the binary", () => {
    expect(unsupportedCpuReason()).toBeUndefined();
    expect(loadNative()).toBeDefined();
  });
});
