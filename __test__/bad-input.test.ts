/**
 * Bad input, table-driven, across every public method: each case rejects with a typed
 * PalimpsestError of the right code and a short, helpful message; the process stays up; the
 * table's version, history and rows (and the list of tables) are unchanged.
 */
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
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Connection, connect, PalimpsestError, type Table } from "../js/index";
import { freshDb, removeDir, tableRows } from "./helpers/facade";

const vecType = new FixedSizeList(4, new Field("item", new Float32(), true));
const schema = new Schema([
  new Field("id", new Int64(), false),
  new Field("name", new Utf8(), true),
  new Field("n", new Float64(), true),
  new Field("vec", vecType, true),
]);
const base = [
  { id: 1n, name: "a", n: 1, vec: [1, 0, 0, 0] },
  { id: 2n, name: "b", n: 2, vec: [0, 1, 0, 0] },
  { id: 3n, name: "c", n: 3, vec: [0, 0, 1, 0] },
];
const good = { id: 9n, name: "z", n: 9, vec: [0, 0, 0, 1] };
const v4 = [1, 0, 0, 0];

/** Built once: large inputs. */
const MB50 = "x".repeat(50 * 1024 * 1024);
const MILLION = Array.from({ length: 1_000_000 }, (_, i) => i % 7);
/** SQL inputs are 1 MB, not 50: parsing 50 MB of SQL takes 30-70 s on the CI machine. */
const MB1 = "x".repeat(1024 * 1024);
const DEEP = `${"(".repeat(100_000)}id = 1${")".repeat(100_000)}`;

interface Ctx {
  dir: string;
  db: Connection;
  table: Table;
  /** A handle on "t" that is already closed. */
  closed(): Promise<Table>;
}

interface Case {
  name: string;
  /** The expected code; a list when more than one code describes the failure well. */
  code: string | string[];
  run: (ctx: Ctx) => unknown;
  /** What the message must mention to be helpful. */
  message?: RegExp;
}

/** Arrow data for `add` with `n` as a Utf8 column. */
function arrowWithStringN(): ArrowTable {
  const s = new Schema([
    new Field("id", new Int64(), false),
    new Field("name", new Utf8(), true),
    new Field("n", new Utf8(), true),
    new Field("vec", vecType, true),
  ]);
  return new ArrowTable(s, {
    id: vectorFromArray([9n], new Int64()),
    name: vectorFromArray(["z"], new Utf8()),
    n: vectorFromArray(["9"], new Utf8()),
    vec: vectorFromArray([[0, 0, 0, 1]], vecType),
  } as never);
}

const upsert = (t: Table) => t.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll();

const cases: Case[] = [
  // ------------------------------------------------------------------ connect
  {
    name: "connect: uri missing",
    code: "INVALID_ARGUMENT",
    run: () => connect(undefined as never),
  },
  {
    name: "connect: storageOptions value not a string",
    code: "INVALID_ARGUMENT",
    run: ({ dir }) => connect(dir, { storageOptions: { timeout: 5 as never } }),
    message: /timeout/,
  },
  {
    name: "connect: storageOptions not an object",
    code: "INVALID_ARGUMENT",
    run: ({ dir }) => connect(dir, { storageOptions: "fast" as never }),
  },
  // -------------------------------------------------------------- createTable
  {
    name: "createTable: path-traversing name ../../etc",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.createTable("../../etc", base, { schema }),
  },
  {
    name: "createTable: name with a NUL byte",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.createTable("t\0x", base, { schema }),
  },
  {
    name: "createTable: URL-encoded traversal %2e%2e%2f",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.createTable("%2e%2e%2fx", base, { schema }),
  },
  {
    name: "createTable: 50 MB name",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.createTable(MB50, base, { schema }),
    message: /249/,
  },
  {
    name: "createTable: name is a number",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.createTable(42 as never, base, { schema }),
  },
  {
    name: "createTable: existing name",
    code: "TABLE_EXISTS",
    run: ({ db }) => db.createTable("t", base, { schema }),
    message: /\bt\b/,
  },
  {
    name: "createTable: empty data without a schema",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.createTable("new", []),
  },
  {
    name: "createTable: data missing",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.createTable("new", undefined as never),
  },
  {
    name: "createTable: string in an Int64 column",
    code: "SCHEMA_MISMATCH",
    run: ({ db }) => db.createTable("new", [{ ...good, id: "nine" }], { schema }),
    message: /id/,
  },
  {
    name: "createTable: null in a non-nullable column",
    code: "SCHEMA_MISMATCH",
    run: ({ db }) => db.createTable("new", [{ ...good, id: null }], { schema }),
    message: /id/,
  },
  {
    name: "createTable: unknown mode",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.createTable("new", base, { schema, mode: "append" as never }),
    message: /mode/,
  },
  {
    name: "createTable: existOk not a boolean",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.createTable("new", base, { schema, existOk: "yes" as never }),
  },
  {
    name: "createEmptyTable: schema not a Schema",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.createEmptyTable("new", "id int" as never),
  },
  {
    name: "createEmptyTable: schema without columns",
    code: "SCHEMA_MISMATCH",
    run: ({ db }) => db.createEmptyTable("new", new Schema([])),
  },
  // ---------------------------------------------------------------- openTable
  {
    name: "openTable: unknown table",
    code: "TABLE_NOT_FOUND",
    run: ({ db }) => db.openTable("nope"),
    message: /nope/,
  },
  {
    name: "openTable: version 0",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.openTable("t", { version: 0 }),
  },
  {
    name: "openTable: negative version",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.openTable("t", { version: -1 }),
  },
  {
    name: "openTable: fractional version",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.openTable("t", { version: 1.5 }),
  },
  {
    name: "openTable: version beyond 2^53",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.openTable("t", { version: 2 ** 60 }),
  },
  {
    name: "openTable: NaN version",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.openTable("t", { version: Number.NaN }),
  },
  {
    name: "openTable: version as a string",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.openTable("t", { version: "1" as never }),
  },
  {
    name: "openTable: missing but valid version",
    code: "VERSION_NOT_FOUND",
    run: ({ db }) => db.openTable("t", { version: 1_000_000 }),
    message: /1000000/,
  },
  {
    name: "openTable: unknown tag",
    code: "TAG_NOT_FOUND",
    run: ({ db }) => db.openTable("t", { tag: "nope" }),
    message: /nope/,
  },
  {
    name: "openTable: unknown branch",
    code: "BRANCH_NOT_FOUND",
    run: ({ db }) => db.openTable("t", { branch: "nope" }),
    message: /nope/,
  },
  {
    name: "openTable: asOf not a Date",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.openTable("t", { asOf: "yesterday" as never }),
  },
  {
    name: "openTable: asOf before the table existed",
    code: "VERSION_NOT_FOUND",
    run: ({ db }) => db.openTable("t", { asOf: new Date(0) }),
  },
  {
    name: "openTable: both version and tag",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.openTable("t", { version: 1, tag: "x" }),
  },
  // ---------------------------------------------------- dropTable, clone, names
  {
    name: "dropTable: unknown table",
    code: "TABLE_NOT_FOUND",
    run: ({ db }) => db.dropTable("nope"),
  },
  {
    name: "dropTable: path-traversing name ../t",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.dropTable("../t"),
  },
  {
    name: "cloneTable: source that is no table",
    code: "TABLE_NOT_FOUND",
    run: ({ db, dir }) => db.cloneTable("c", `${dir}/nothing-here.lance`),
  },
  {
    name: "cloneTable: missing source version",
    code: "VERSION_NOT_FOUND",
    run: ({ db, dir }) => db.cloneTable("c", `${dir}/t.lance`, { sourceVersion: 99 }),
  },
  {
    name: "cloneTable: unknown source tag",
    code: "TAG_NOT_FOUND",
    run: ({ db, dir }) => db.cloneTable("c", `${dir}/t.lance`, { sourceTag: "nope" }),
  },
  {
    name: "cloneTable: onto an existing table",
    code: "TABLE_EXISTS",
    run: ({ db, dir }) => db.cloneTable("t", `${dir}/t.lance`),
  },
  {
    name: "tableNames: negative limit",
    code: "INVALID_ARGUMENT",
    run: ({ db }) => db.tableNames({ limit: -1 }),
  },
  {
    name: "closed connection: openTable",
    code: "INVALID_ARGUMENT",
    run: async ({ dir }) => {
      const c = await connect(dir);
      c.close();
      return c.openTable("t");
    },
    message: /closed/,
  },
  {
    name: "closed connection: createTable",
    code: "INVALID_ARGUMENT",
    run: async ({ dir }) => {
      const c = await connect(dir);
      c.close();
      return c.createTable("new", base, { schema });
    },
    message: /closed/,
  },
  // ---------------------------------------------------------------------- add
  {
    name: "add: required column missing",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => table.add([{ name: "z", n: 9, vec: v4 }]),
    message: /id/,
  },
  {
    name: "add: extra column",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => table.add([{ ...good, surprise: 1 }]),
    message: /surprise/,
  },
  {
    name: "add: string into a Float64 column",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => table.add([{ ...good, n: "nine" }]),
    message: /\bn\b/,
  },
  {
    name: "add: bigint into a Utf8 column",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => table.add([{ ...good, name: 5n }]),
    message: /name/,
  },
  {
    name: "add: boolean into an Int64 column",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => table.add([{ ...good, id: true }]),
    message: /id/,
  },
  {
    name: "add: fractional number into an Int64 column",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => table.add([{ ...good, id: 1.5 }]),
    message: /id/,
  },
  {
    name: "add: bigint beyond Int64",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => table.add([{ ...good, id: 2n ** 64n }]),
    message: /id/,
  },
  {
    name: "add: null into a non-nullable column",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => table.add([{ ...good, id: null }]),
    message: /id/,
  },
  {
    name: "add: NaN in a vector",
    code: ["SCHEMA_MISMATCH", "INVALID_ARGUMENT"],
    run: ({ table }) => table.add([{ ...good, vec: [Number.NaN, 0, 0, 0] }]),
    message: /vec|NaN|finite/i,
  },
  {
    name: "add: Infinity in a vector",
    code: ["SCHEMA_MISMATCH", "INVALID_ARGUMENT"],
    run: ({ table }) => table.add([{ ...good, vec: [0, Number.POSITIVE_INFINITY, 0, 0] }]),
    message: /vec|infinit|finite/i,
  },
  {
    name: "add: -Infinity in a Float32Array vector",
    code: ["SCHEMA_MISMATCH", "INVALID_ARGUMENT"],
    run: ({ table }) =>
      table.add([{ ...good, vec: new Float32Array([0, 0, Number.NEGATIVE_INFINITY, 0]) }]),
    message: /vec|infinit|finite/i,
  },
  {
    name: "add: vector of the wrong dimension",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => table.add([{ ...good, vec: [1, 2, 3] }]),
    message: /vec/,
  },
  {
    name: "add: 1M-element vector",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => table.add([{ ...good, vec: MILLION }]),
    message: /vec/,
  },
  {
    name: "add: vector of strings",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => table.add([{ ...good, vec: ["a", "b", "c", "d"] }]),
    message: /vec/,
  },
  {
    name: "add: 50 MB string into a Float64 column",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => table.add([{ ...good, n: MB50 }]),
    message: /\bn\b/,
  },
  {
    name: "add: Arrow data with a Utf8 column for a Float64 one",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => table.add(arrowWithStringN()),
    message: /\bn\b/,
  },
  { name: "add: empty array", code: "INVALID_ARGUMENT", run: ({ table }) => table.add([]) },
  {
    name: "add: null data",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.add(null as never),
  },
  {
    name: "add: a string as data",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.add("rows" as never),
  },
  {
    name: "add: an array of numbers as data",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.add([1, 2, 3] as never),
  },
  {
    name: "add: unknown mode",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.add([good], { mode: "upsert" as never }),
    message: /mode/,
  },
  {
    name: "add: on a closed table",
    code: "INVALID_ARGUMENT",
    run: async (ctx) => (await ctx.closed()).add([good]),
    message: /closed/,
  },
  {
    name: "add: on a checked-out version",
    code: "READ_ONLY_CHECKOUT",
    run: async ({ db }) => {
      const old = await db.openTable("t", { version: 1 });
      return old.add([good]);
    },
  },
  // ------------------------------------------------------------------- update
  {
    name: "update: invalid SQL in where",
    code: "INVALID_PREDICATE",
    run: ({ table }) => table.update({ where: "id = = 1", values: { n: 0 } }),
  },
  {
    name: "update: hostile SQL in where (stacked statement)",
    code: "INVALID_PREDICATE",
    run: ({ table }) => table.update({ where: "1 = 1; DROP TABLE t", values: { n: 0 } }),
  },
  {
    name: "update: unknown column in where",
    code: "COLUMN_NOT_FOUND",
    run: ({ table }) => table.update({ where: "nope = 1", values: { n: 0 } }),
    message: /nope/,
  },
  {
    name: "update: hostile SQL in valuesSql",
    code: "INVALID_PREDICATE",
    run: ({ table }) => table.update({ valuesSql: { n: "0); DELETE FROM t; --" } }),
  },
  {
    name: "update: unknown function in valuesSql",
    code: "INVALID_PREDICATE",
    run: ({ table }) => table.update({ valuesSql: { n: "no_such_function(n)" } }),
  },
  {
    name: "update: valuesSql of the wrong type",
    code: ["SCHEMA_MISMATCH", "INVALID_PREDICATE"],
    run: ({ table }) => table.update({ valuesSql: { n: "'not a number'" } }),
  },
  {
    name: "update: valuesSql value not a string",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.update({ valuesSql: { n: 5 as never } }),
  },
  {
    name: "update: string value for a Float64 column",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => table.update({ where: "id = 1", values: { n: "one" } }),
    message: /\bn\b/,
  },
  {
    name: "update: null into a non-nullable column",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => table.update({ where: "id = 1", values: { id: null } }),
    message: /id/,
  },
  {
    name: "update: NaN vector value",
    code: ["SCHEMA_MISMATCH", "INVALID_ARGUMENT"],
    run: ({ table }) => table.update({ where: "id = 1", values: { vec: [Number.NaN, 0, 0, 0] } }),
    message: /vec|NaN|finite/i,
  },
  {
    name: "update: 1M-element vector value",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => table.update({ where: "id = 1", values: { vec: MILLION } }),
    message: /vec/,
  },
  {
    name: "update: unknown column set",
    code: "COLUMN_NOT_FOUND",
    run: ({ table }) => table.update({ values: { nope: 1 } }),
    message: /nope/,
  },
  {
    name: "update: empty values",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.update({ values: {} }),
  },
  {
    name: "update: a string instead of options",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.update("id = 1" as never),
  },
  {
    name: "update: 1 MB of '(' as where",
    code: "INVALID_PREDICATE",
    run: ({ table }) => table.update({ where: "(".repeat(1024 * 1024), values: { n: 0 } }),
  },
  {
    name: "update: 100,000 nested parentheses in where",
    code: "INVALID_PREDICATE",
    run: ({ table }) => table.update({ where: DEEP, values: { n: 0 } }),
  },
  // ------------------------------------------------------------------- delete
  {
    name: "delete: empty predicate",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.delete(""),
  },
  {
    name: "delete: predicate missing",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.delete(undefined as never),
  },
  {
    name: "delete: hostile SQL (stacked statement)",
    code: "INVALID_PREDICATE",
    run: ({ table }) => table.delete("id = 1; DROP TABLE t"),
  },
  {
    name: "delete: subquery",
    code: "INVALID_PREDICATE",
    run: ({ table }) => table.delete("id IN (SELECT id FROM t)"),
  },
  {
    name: "delete: unknown column",
    code: "COLUMN_NOT_FOUND",
    run: ({ table }) => table.delete("nope > 1"),
    message: /nope/,
  },
  {
    name: "delete: 100,000 nested parentheses",
    code: "INVALID_PREDICATE",
    run: ({ table }) => table.delete(DEEP),
  },
  // -------------------------------------------------------------- mergeInsert
  {
    name: "mergeInsert: unknown key column",
    code: "COLUMN_NOT_FOUND",
    run: ({ table }) =>
      table
        .mergeInsert("nope")
        .whenMatchedUpdateAll()
        .execute([{ id: 1n }]),
    message: /nope/,
  },
  {
    name: "mergeInsert: no key columns",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.mergeInsert([]).whenMatchedUpdateAll().execute([good]),
  },
  {
    name: "mergeInsert: no clause",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.mergeInsert("id").execute([good]),
  },
  {
    name: "mergeInsert: source without the key column",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => upsert(table).execute([{ name: "z", n: 1 }]),
    message: /id/,
  },
  {
    name: "mergeInsert: string into a Float64 column",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => upsert(table).execute([{ id: 1n, n: "ten" }]),
    message: /\bn\b/,
  },
  {
    name: "mergeInsert: Infinity in a vector",
    code: ["SCHEMA_MISMATCH", "INVALID_ARGUMENT"],
    run: ({ table }) =>
      upsert(table).execute([{ id: 10n, vec: [Number.POSITIVE_INFINITY, 0, 0, 0] }]),
    message: /vec|infinit|finite/i,
  },
  {
    name: "mergeInsert: empty source",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => upsert(table).execute([]),
  },
  {
    name: "mergeInsert: duplicate keys in the source",
    code: "MERGE_CONFLICT",
    run: ({ table }) =>
      table
        .mergeInsert("id")
        .whenMatchedUpdateAll()
        .execute([
          { id: 1n, n: 10 },
          { id: 1n, n: 11 },
        ]),
  },
  {
    name: "mergeInsert: invalid SQL in the clause condition",
    code: "INVALID_PREDICATE",
    run: ({ table }) =>
      table
        .mergeInsert("id")
        .whenMatchedUpdateAll({ where: "target.n >>> source.n" })
        .execute([{ id: 1n, n: 10 }]),
  },
  {
    name: "mergeInsert: clause condition not a string",
    code: "INVALID_ARGUMENT",
    run: ({ table }) =>
      table
        .mergeInsert("id")
        .whenMatchedUpdateAll({ where: 5 as never })
        .execute([{ id: 1n, n: 10 }]),
  },
  // ------------------------------------------------------------ schema changes
  {
    name: "addColumns: hostile SQL",
    code: "INVALID_PREDICATE",
    run: ({ table }) => table.addColumns([{ name: "x", valueSql: "id; DROP TABLE t" }]),
  },
  {
    name: "addColumns: a string",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.addColumns("x" as never),
  },
  {
    name: "addColumns: existing column name",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => table.addColumns([{ name: "name", valueSql: "'x'" }]),
    message: /name/,
  },
  {
    name: "alterColumns: empty list",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.alterColumns([]),
  },
  {
    name: "alterColumns: no change requested",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.alterColumns([{ path: "n" }]),
  },
  {
    name: "alterColumns: nullable not a boolean",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.alterColumns([{ path: "n", nullable: "yes" as never }]),
  },
  {
    name: "alterColumns: rename onto an existing column",
    code: "SCHEMA_MISMATCH",
    run: ({ table }) => table.alterColumns([{ path: "n", rename: "id" }]),
  },
  {
    name: "dropColumns: empty list",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.dropColumns([]),
  },
  {
    name: "dropColumns: unknown column",
    code: "COLUMN_NOT_FOUND",
    run: ({ table }) => table.dropColumns(["nope"]),
    message: /nope/,
  },
  // -------------------------------------------------------------------- reads
  {
    name: "countRows: invalid SQL",
    code: "INVALID_PREDICATE",
    run: ({ table }) => table.countRows("id >"),
  },
  {
    name: "countRows: filter not a string",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.countRows(42 as never),
  },
  {
    name: "query: unknown column in where",
    code: "COLUMN_NOT_FOUND",
    run: ({ table }) => table.query().where("nope > 1").toArray(),
    message: /nope/,
  },
  {
    name: "query: 1 MB filter",
    code: ["INVALID_PREDICATE", "COLUMN_NOT_FOUND"],
    run: ({ table }) => table.query().where(MB1).toArray(),
  },
  {
    name: "query: unknown column selected",
    code: "COLUMN_NOT_FOUND",
    run: ({ table }) => table.query().select(["nope"]).toArray(),
    message: /nope/,
  },
  {
    name: "query: negative limit",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.query().limit(-1).toArray(),
  },
  {
    name: "query: fractional limit",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.query().limit(1.5).toArray(),
  },
  {
    name: "query: NaN offset",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.query().offset(Number.NaN).toArray(),
  },
  {
    name: "vectorSearch: NaN in the query vector",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.vectorSearch([Number.NaN, 0, 0, 0]).toArray(),
  },
  {
    name: "vectorSearch: Infinity in the query vector",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.vectorSearch([0, Number.POSITIVE_INFINITY, 0, 0]).toArray(),
  },
  {
    name: "vectorSearch: wrong dimension",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.vectorSearch([1, 2, 3]).toArray(),
    message: /4/,
  },
  {
    name: "vectorSearch: 1M-element query vector",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.vectorSearch(MILLION).toArray(),
    message: /4/,
  },
  {
    name: "vectorSearch: empty vector",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.vectorSearch([]).toArray(),
  },
  {
    name: "vectorSearch: a string as the vector",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.vectorSearch("cats" as never).toArray(),
  },
  {
    name: "vectorSearch: unknown column",
    code: "COLUMN_NOT_FOUND",
    run: ({ table }) => table.vectorSearch(v4).column("nope").toArray(),
    message: /nope/,
  },
  {
    name: "vectorSearch: a column that is no vector",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.vectorSearch(v4).column("name").toArray(),
    message: /name/,
  },
  {
    name: "vectorSearch: unknown distance type",
    code: "INVALID_ARGUMENT",
    run: ({ table }) =>
      table
        .vectorSearch(v4)
        .distanceType("manhattan" as never)
        .toArray(),
  },
  {
    name: "query: on a closed table",
    code: "INVALID_ARGUMENT",
    run: async (ctx) => (await ctx.closed()).query().toArray(),
    message: /closed/,
  },
  {
    name: "countRows: on a closed table",
    code: "INVALID_ARGUMENT",
    run: async (ctx) => (await ctx.closed()).countRows(),
    message: /closed/,
  },
  // ------------------------------------------------------ versions, tags, branches
  { name: "checkout: 0", code: "INVALID_ARGUMENT", run: ({ table }) => table.checkout(0) },
  { name: "checkout: -3", code: "INVALID_ARGUMENT", run: ({ table }) => table.checkout(-3) },
  { name: "checkout: 2.5", code: "INVALID_ARGUMENT", run: ({ table }) => table.checkout(2.5) },
  {
    name: "checkout: Number.MAX_SAFE_INTEGER",
    code: "VERSION_NOT_FOUND",
    run: ({ table }) => table.checkout(Number.MAX_SAFE_INTEGER),
  },
  { name: "checkout: 1e300", code: "INVALID_ARGUMENT", run: ({ table }) => table.checkout(1e300) },
  {
    name: "checkout: Infinity",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.checkout(Number.POSITIVE_INFINITY),
  },
  {
    name: "checkout: unknown tag",
    code: "TAG_NOT_FOUND",
    run: ({ table }) => table.checkout("nope"),
    message: /nope/,
  },
  {
    name: "checkout: 50 MB tag name",
    code: ["TAG_NOT_FOUND", "INVALID_ARGUMENT"],
    run: ({ table }) => table.checkout(MB50),
  },
  {
    name: "checkout: invalid Date",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.checkout(new Date("garbage")),
  },
  {
    name: "checkout: a Date before the table existed",
    code: "VERSION_NOT_FOUND",
    run: ({ table }) => table.checkout(new Date(0)),
  },
  {
    name: "checkout: null",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.checkout(null as never),
  },
  {
    name: "checkout: an object",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.checkout({} as never),
  },
  {
    name: "version: on a closed table",
    code: "INVALID_ARGUMENT",
    run: async (ctx) => (await ctx.closed()).version(),
    message: /closed/,
  },
  {
    name: "restore: missing version",
    code: "VERSION_NOT_FOUND",
    run: ({ table }) => table.restore(99),
  },
  {
    name: "restore: negative version",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.restore(-1),
  },
  {
    name: "tags.create: missing version",
    code: "VERSION_NOT_FOUND",
    run: ({ table }) => table.tags().create("v", 99),
  },
  {
    name: "tags.create: empty name",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.tags().create("", 1),
  },
  {
    name: "tags.create: path-traversing name",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.tags().create("../../escape", 1),
  },
  {
    name: "tags.getVersion: unknown tag",
    code: "TAG_NOT_FOUND",
    run: ({ table }) => table.tags().getVersion("nope"),
    message: /nope/,
  },
  {
    name: "tags.update: unknown tag",
    code: "TAG_NOT_FOUND",
    run: ({ table }) => table.tags().update("nope", 1),
  },
  {
    name: "tags.delete: unknown tag",
    code: "TAG_NOT_FOUND",
    run: ({ table }) => table.tags().delete("nope"),
  },
  {
    name: "tags.list: on a closed table",
    code: "INVALID_ARGUMENT",
    run: async (ctx) => (await ctx.closed()).tags().list(),
    message: /closed/,
  },
  {
    name: "branches.checkout: unknown branch",
    code: "BRANCH_NOT_FOUND",
    run: ({ table }) => table.branches().checkout("nope"),
    message: /nope/,
  },
  {
    name: "branches.create: path-traversing name",
    code: "INVALID_ARGUMENT",
    run: ({ table }) => table.branches().create("../evil"),
  },
  {
    name: "branches.create: missing version",
    code: "VERSION_NOT_FOUND",
    run: ({ table }) => table.branches().create("b", 99),
  },
  {
    name: "branches.delete: unknown branch",
    code: "BRANCH_NOT_FOUND",
    run: ({ table }) => table.branches().delete("nope"),
  },
];

let dir: string;
let db: Connection;
let table: Table;
const opened: Table[] = [];

beforeEach(async () => {
  ({ dir, db } = await freshDb());
  table = await db.createTable("t", base, { schema });
  await table.add([{ id: 4n, name: "d", n: 4, vec: [0, 0, 0, 1] }]); // version 2
});
afterEach(() => {
  for (const t of opened.splice(0)) t.close();
  table.close();
  db.close();
  removeDir(dir);
});

/** The state a failed call must leave alone, read through a fresh connection. */
async function snapshot(): Promise<unknown> {
  const c = await connect(dir);
  const t = await c.openTable("t");
  const state = {
    names: await c.tableNames(),
    version: await t.version(),
    versions: (await t.listVersions()).map((v) => [v.version, v.tags]),
    rows: await tableRows(t),
    tags: await t.tags().list(),
    branches: await t.branches().list(),
  };
  t.close();
  c.close();
  return state;
}

describe(`${cases.length} bad inputs`, () => {
  it("has at least 60 cases with distinct names", () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  for (const c of cases) {
    it(c.name, async () => {
      const before = await snapshot();
      const ctx: Ctx = {
        dir,
        db,
        table,
        closed: async () => {
          const t = await db.openTable("t");
          t.close();
          return t;
        },
      };
      let caught: unknown;
      try {
        // Synchronous throws count too: they are caught the same way.
        await c.run(ctx);
      } catch (err) {
        caught = err;
      }
      expect(caught, "expected a rejection").toBeInstanceOf(PalimpsestError);
      const err = caught as PalimpsestError;
      const codes = Array.isArray(c.code) ? c.code : [c.code];
      expect(codes, `code ${err.code}: ${err.message.slice(0, 500)}`).toContain(err.code);
      // A helpful message: present, short enough to read (never echoing megabytes of
      // input), and naming what was wrong when the case says what.
      expect(err.message.trim().length).toBeGreaterThan(10);
      expect(err.message.length, err.message.slice(0, 300)).toBeLessThan(2000);
      if (c.message) expect(err.message).toMatch(c.message);

      // The process is alive and the table is as it was.
      expect(await snapshot()).toEqual(before);
      expect(await table.version()).toBe(2);
      expect(table.isCheckedOut()).toBe(false);
      expect(await table.countRows()).toBe(4);
    });
  }
});
