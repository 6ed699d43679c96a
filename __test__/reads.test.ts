/**
 * Reads: scans with where/select/limit/offset, the three output forms, countRows, and
 * vector search checked against a brute-force computation.
 */
import {
  Table as ArrowTable,
  Field,
  FixedSizeList,
  Float32,
  Float64,
  Int64,
  RecordBatch,
  Schema,
  Utf8,
} from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Connection, InvalidArgumentError, type Table, VectorQuery } from "../js/index";
import { cosine, dot, fieldNames, freshDb, l2, removeDir, rng, rowsOf } from "./helpers/facade";

const DIM = 16;
const N = 300;
const CATEGORIES = ["red", "green", "blue"];

const vecType = new FixedSizeList(DIM, new Field("item", new Float32(), true));
const schema = new Schema([
  new Field("id", new Int64(), false),
  new Field("category", new Utf8(), true),
  new Field("score", new Float64(), true),
  new Field("vec", vecType, true),
  new Field("vec2", new FixedSizeList(4, new Field("item", new Float32(), true)), true),
]);

interface Row {
  id: bigint;
  category: string;
  score: number;
  vec: number[];
  vec2: number[];
}

function makeRows(): Row[] {
  const next = rng(42);
  const f32 = (x: number) => Math.fround(x);
  return Array.from({ length: N }, (_, i) => ({
    id: BigInt(i),
    category: CATEGORIES[i % 3]!,
    score: i / 10,
    vec: Array.from({ length: DIM }, () => f32(next() * 2 - 1)),
    vec2: Array.from({ length: 4 }, () => f32(next())),
  }));
}

const rows = makeRows();
const query = Array.from({ length: DIM }, (_, i) => Math.fround(Math.sin(i + 1)));

let dir: string;
let db: Connection;
let table: Table;

beforeAll(async () => {
  ({ dir, db } = await freshDb());
  // Three writes, so the table has several fragments.
  table = await db.createTable("items", rows.slice(0, 100), { schema });
  await table.add(rows.slice(100, 200));
  await table.add(rows.slice(200));
});
afterAll(() => {
  table.close();
  db.close();
  removeDir(dir);
});

describe("query()", () => {
  it("returns every row with toArrow()", async () => {
    const t = await table.query().toArrow();
    expect(t).toBeInstanceOf(ArrowTable);
    expect(t.numRows).toBe(N);
    expect(fieldNames(t.schema)).toEqual(["id", "category", "score", "vec", "vec2"]);
    expect(rowsOf(t, "id")).toEqual(rows);
    expect(rowsOf(await table.toArrow(), "id")).toEqual(rows);
  });

  it("filters with where() and filter()", async () => {
    const red = await table.query().where("category = 'red' AND id < 30").toArray();
    expect(red.map((r) => r.id).sort((a, b) => Number(a) - Number(b))).toEqual(
      rows.filter((r) => r.category === "red" && r.id < 30n).map((r) => r.id),
    );
    const f = await table.query().filter("score >= 29.5").toArray();
    expect(f.map((r) => r.id)).toEqual([295n, 296n, 297n, 298n, 299n]);
  });

  it("projects with select(), in the given order", async () => {
    const out = await table.query().where("id < 3").select(["score", "id"]).toArray();
    expect(out.map((r) => Object.keys(r))).toEqual([
      ["score", "id"],
      ["score", "id"],
      ["score", "id"],
    ]);
    const single = await table.query().select("category").limit(1).toArrow();
    expect(fieldNames(single.schema)).toEqual(["category"]);
  });

  it("pages with limit() and offset()", async () => {
    const all = (await table.query().select(["id"]).toArray()).map((r) => r.id);
    expect(all).toHaveLength(N);
    const page = (await table.query().select(["id"]).offset(95).limit(10).toArray()).map(
      (r) => r.id,
    );
    expect(page).toEqual(all.slice(95, 105));
    expect(await table.query().limit(7).toArray()).toHaveLength(7);
    expect(await table.query().limit(0).toArray()).toHaveLength(0);
    expect(
      await table
        .query()
        .offset(N - 2)
        .toArray(),
    ).toHaveLength(2);
    const filtered = await table.query().where("category = 'blue'").limit(5).toArray();
    expect(filtered).toHaveLength(5);
    expect(filtered.every((r) => r.category === "blue")).toBe(true);
  });

  it("toArray() gives plain objects with bigint ids and vector values", async () => {
    const [row] = await table.query().where("id = 7").toArray();
    expect(row).toBeDefined();
    expect(Object.keys(row!)).toEqual(["id", "category", "score", "vec", "vec2"]);
    expect(row!.id).toBe(7n);
    expect(row!.category).toBe(rows[7]!.category);
    expect(row!.score).toBe(0.7);
    const vec = row!.vec as { toArray(): Float32Array; length: number };
    expect(vec.length).toBe(DIM);
    expect(Array.from(vec.toArray())).toEqual(rows[7]!.vec);
  });

  it("streams RecordBatches with for await", async () => {
    let count = 0;
    const ids: bigint[] = [];
    for await (const batch of table.query().where("score < 20").select(["id"])) {
      expect(batch).toBeInstanceOf(RecordBatch);
      expect(fieldNames(batch.schema)).toEqual(["id"]);
      count += batch.numRows;
      for (const id of batch.getChild("id")!.toArray() as BigInt64Array) ids.push(id);
    }
    expect(count).toBe(200);
    expect(ids.sort((a, b) => Number(a - b))).toEqual(rows.slice(0, 200).map((r) => r.id));
  });

  it("streams nothing for an empty result", async () => {
    let batches = 0;
    for await (const batch of table.query().where("id < 0")) batches += batch.numRows;
    expect(batches).toBe(0);
  });

  it("an empty result still has the (projected) schema", async () => {
    const t = await table.query().where("id < 0").toArrow();
    expect(t.numRows).toBe(0);
    expect(fieldNames(t.schema)).toEqual(["id", "category", "score", "vec", "vec2"]);
    const p = await table.query().where("id < 0").select(["score"]).toArrow();
    expect(fieldNames(p.schema)).toEqual(["score"]);
  });

  it("withRowId() adds a _rowid column", async () => {
    const out = await table.query().where("id < 5").withRowId().toArrow();
    expect(fieldNames(out.schema)).toContain("_rowid");
    const ids = out.getChild("_rowid")!.toArray() as BigUint64Array;
    expect(ids).toHaveLength(5);
    expect(new Set(ids).size).toBe(5);
  });

  it("rejects bad arguments with InvalidArgumentError", () => {
    const q = table.query();
    expect(() => q.limit(-1)).toThrow(InvalidArgumentError);
    expect(() => q.limit(1.5)).toThrow(InvalidArgumentError);
    expect(() => q.limit(Number.NaN)).toThrow(InvalidArgumentError);
    expect(() => q.offset(-3)).toThrow(InvalidArgumentError);
    expect(() => q.offset(0.5)).toThrow(InvalidArgumentError);
    expect(() => q.where("")).toThrow(InvalidArgumentError);
    expect(() => q.select([])).toThrow(InvalidArgumentError);
    expect(() => q.select([""])).toThrow(InvalidArgumentError);
    expect(() => q.limit("5" as never)).toThrow(InvalidArgumentError);
  });
});

describe("countRows", () => {
  it("counts all rows or those matching a filter", async () => {
    expect(await table.countRows()).toBe(N);
    expect(await table.countRows("category = 'green'")).toBe(100);
    expect(await table.countRows("score > 10 AND score <= 20")).toBe(100);
    expect(await table.countRows("id < 0")).toBe(0);
  });

  it("answers repeated reads from memory alike, and still rejects bad filters then", async () => {
    const filter = "category = 'blue' AND score > 5";
    const want = rows.filter((r) => r.category === "blue" && r.score > 5).map((r) => r.id);
    // The first calls read through lance; later ones are answered from decoded columns,
    // on the calling thread.
    for (let i = 0; i < 4; i++) {
      const got = await table.query().where(filter).select(["id", "vec"]).toArrow();
      expect(rowsOf(got).map((r) => r.id)).toEqual(want);
      expect(got.getChild("vec")?.get(0)?.toArray()).toEqual(
        Float32Array.from(rows[Number(want[0])]!.vec),
      );
      expect(await table.countRows(filter)).toBe(want.length);
    }
    await expect(table.countRows("nope = 1")).rejects.toMatchObject({ code: "COLUMN_NOT_FOUND" });
    await expect(
      table.query().where(`${filter}; DROP TABLE items`).select(["id"]).toArrow(),
    ).rejects.toMatchObject({ code: "INVALID_PREDICATE" });
    await expect(table.countRows(`${filter}; DROP TABLE items`)).rejects.toMatchObject({
      code: "INVALID_PREDICATE",
    });
    expect(await table.countRows()).toBe(N);
  });
});

/** Brute force: the k nearest rows (optionally filtered) under `metric`. */
function bruteForce(
  metric: (a: ArrayLike<number>, b: ArrayLike<number>) => number,
  q: number[],
  k: number,
  keep: (r: Row) => boolean = () => true,
  column: "vec" | "vec2" = "vec",
): { id: bigint; distance: number }[] {
  return rows
    .filter(keep)
    .map((r) => ({ id: r.id, distance: metric(q, r[column]) }))
    .sort((a, b) => a.distance - b.distance)
    .slice(0, k);
}

const metrics = {
  l2,
  cosine,
  dot: (a: ArrayLike<number>, b: ArrayLike<number>) => 1 - dot(a, b),
} as const;

describe("vectorSearch", () => {
  for (const name of ["l2", "cosine", "dot"] as const) {
    it(`${name}: same neighbours and distances as brute force`, async () => {
      const hits = await table
        .vectorSearch(query)
        .column("vec")
        .distanceType(name)
        .limit(7)
        .toArray();
      const expected = bruteForce(metrics[name], query, 7);
      expect(hits.map((h) => h.id)).toEqual(expected.map((e) => e.id));
      hits.forEach((h, i) => {
        expect(h._distance as number).toBeCloseTo(expected[i]!.distance, 4);
      });
      // Results come closest first.
      const d = hits.map((h) => h._distance as number);
      expect([...d].sort((a, b) => a - b)).toEqual(d);
    });
  }

  it("defaults to l2 and k = 10; search() is an alias", async () => {
    const hits = await table.search(new Float32Array(query)).column("vec").toArray();
    expect(hits).toHaveLength(10);
    expect(hits.map((h) => h.id)).toEqual(bruteForce(l2, query, 10).map((e) => e.id));
  });

  it("combines with where (prefilter) and select", async () => {
    const hits = await table
      .vectorSearch(new Float64Array(query))
      .column("vec")
      .distanceType("cosine")
      .where("category = 'green' AND score > 5")
      .select(["id", "category"])
      .limit(5)
      .toArray();
    const expected = bruteForce(cosine, query, 5, (r) => r.category === "green" && r.score > 5);
    expect(hits.map((h) => h.id)).toEqual(expected.map((e) => e.id));
    expect(hits.every((h) => h.category === "green")).toBe(true);
    expect(Object.keys(hits[0]!).sort()).toEqual(["_distance", "category", "id"]);
  });

  it("searches another vector column", async () => {
    const q2 = [0.1, 0.9, 0.2, 0.5];
    const hits = await table.vectorSearch(q2).column("vec2").limit(3).toArray();
    expect(hits.map((h) => h.id)).toEqual(
      bruteForce(l2, q2, 3, () => true, "vec2").map((e) => e.id),
    );
  });

  it("returns an apache-arrow table with a float _distance column", async () => {
    const t = await table.vectorSearch(query).column("vec").limit(3).toArrow();
    expect(t.numRows).toBe(3);
    expect(fieldNames(t.schema)).toContain("_distance");
    expect(String(t.schema.fields.find((f) => f.name === "_distance")!.type)).toBe("Float32");
  });

  it("query().nearestTo() keeps the scan's settings", async () => {
    const q = table.query().where("category = 'red'").select(["id"]).limit(4).nearestTo(query);
    expect(q).toBeInstanceOf(VectorQuery);
    const hits = await q.column("vec").toArray();
    expect(hits.map((h) => h.id)).toEqual(
      bruteForce(l2, query, 4, (r) => r.category === "red").map((e) => e.id),
    );
  });

  it("streams its result with for await", async () => {
    let n = 0;
    for await (const batch of table.vectorSearch(query).column("vec").limit(6)) {
      n += batch.numRows;
      expect(fieldNames(batch.schema)).toContain("_distance");
    }
    expect(n).toBe(6);
  });

  it("rejects bad vectors and options with InvalidArgumentError", async () => {
    expect(() => table.vectorSearch([])).toThrow(InvalidArgumentError);
    expect(() => table.vectorSearch(["1", "2"] as never)).toThrow(InvalidArgumentError);
    expect(() => table.vectorSearch([1, Number.NaN])).toThrow(InvalidArgumentError);
    expect(() => table.vectorSearch(new Int32Array(4) as never)).toThrow(InvalidArgumentError);
    expect(() => table.vectorSearch("text" as never)).toThrow(InvalidArgumentError);
    expect(() => table.vectorSearch(query).distanceType("hamming" as never)).toThrow(
      InvalidArgumentError,
    );
    expect(() => table.vectorSearch(query).limit(-1)).toThrow(InvalidArgumentError);
    // Wrong dimension and a missing column are reported by the native side.
    await expect(table.vectorSearch([1, 2, 3]).column("vec").toArray()).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(table.vectorSearch(query).column("nope").toArray()).rejects.toMatchObject({
      code: "COLUMN_NOT_FOUND",
    });
    // Two vector columns: the column must be named.
    await expect(table.vectorSearch(query).toArray()).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });
});

describe("schema()", () => {
  it("returns an apache-arrow Schema with the table's types", async () => {
    const s = await table.schema();
    expect(s).toBeInstanceOf(Schema);
    expect(s.fields.map((f) => [f.name, String(f.type), f.nullable])).toEqual([
      ["id", "Int64", false],
      ["category", "Utf8", true],
      ["score", "Float64", true],
      ["vec", `FixedSizeList[${DIM}]<Float32>`, true],
      ["vec2", "FixedSizeList[4]<Float32>", true],
    ]);
  });
});

// Repeated reads are answered from decoded columns kept in memory; what a read returns must
// still belong to the caller alone.
describe("results are the caller's own", () => {
  it("writing into a returned table changes neither the table nor later reads", async () => {
    const before = rowsOf(await table.toArrow(), "id");
    for (const read of [
      () => table.toArrow(),
      () => table.query().where("category IN ('red', 'green', 'blue')").toArrow(),
      () => table.query().select(["id", "vec"]).toArrow(),
      () => table.vectorSearch(query).column("vec").limit(5).toArrow(),
    ]) {
      const t = await read();
      for (const batch of t.batches) {
        const id = batch.getChild("id");
        id?.data[0]?.values.fill(-7n);
        const vec = batch.getChild("vec");
        vec?.data[0]?.children[0]?.values.fill(42);
      }
    }
    expect(rowsOf(await table.toArrow(), "id")).toEqual(before);
    const nearest = await table.vectorSearch(query).column("vec").limit(5).toArray();
    const want = [...rows].sort((a, b) => l2(a.vec, query) - l2(b.vec, query)).slice(0, 5);
    expect(nearest.map((r) => r.id)).toEqual(want.map((r) => r.id));
  });

  it("collected and streamed reads agree", async () => {
    for (const where of ["category = 'blue'", "category <> 'red' AND score > 3", "id >= 250"]) {
      const collected = rowsOf(await table.query().where(where).toArrow(), "id");
      const streamed: Record<string, unknown>[] = [];
      for await (const batch of table.query().where(where)) {
        streamed.push(...rowsOf(new ArrowTable(batch), "id"));
      }
      expect(collected).toEqual(streamed);
      expect(await table.countRows(where)).toBe(collected.length);
    }
  });
});

describe("results with nulls are the caller's own", () => {
  it("writing into a returned table's validity bitmaps changes no later read", async () => {
    const { dir: d, db: conn } = await freshDb();
    const nullable = new Schema([
      new Field("id", new Int64(), false),
      new Field("score", new Float64(), true),
    ]);
    const data = Array.from({ length: 64 }, (_, i) => ({
      id: BigInt(i),
      score: i % 3 === 0 ? null : i / 2,
    }));
    const t = await conn.createTable("nulls", data, { schema: nullable });
    const before = rowsOf(await t.toArrow(), "id");
    // Three reads: the second keeps the columns in memory, the third is served from there.
    for (let i = 0; i < 3; i++) {
      const out = await t.toArrow();
      for (const batch of out.batches) batch.getChild("score")?.data[0]?.nullBitmap?.fill(0xff);
    }
    expect(rowsOf(await t.toArrow(), "id")).toEqual(before);
    expect(before.filter((r) => r.score === null)).toHaveLength(22);
    t.close();
    conn.close();
    removeDir(d);
  });
});

describe("large results mapped from the cache's memory are the caller's own", () => {
  /** The `text` column's strings, batch by batch. */
  const strings = (out: ArrowTable) => out.batches.flatMap((b) => [...(b.getChild("text") ?? [])]);

  it("writes into one result reach neither the table, later reads, nor other results", async () => {
    const { dir: d, db: conn } = await freshDb();
    // 4,096 x 128 float32 = 2 MB of vectors: large enough to live in a memory file that
    // whole-column results map copy-on-write.
    const dim = 128;
    const random = rng(11);
    const data = Array.from({ length: 4096 }, (_, i) => ({
      id: BigInt(i),
      vec: Array.from({ length: dim }, () => random()),
    }));
    const t = await conn.createTable("big", data);
    const values = (out: ArrowTable) =>
      out.batches.flatMap((b) => [...(b.getChild("vec")?.data[0]?.children[0]?.values ?? [])]);
    const want = values(await t.toArrow()); // through lance
    const kept = await t.toArrow(); // keeps the columns in memory
    const mine = await t.toArrow(); // served from memory
    for (const batch of mine.batches) batch.getChild("vec")?.data[0]?.children[0]?.values.fill(42);
    expect(values(mine).every((v) => v === 42)).toBe(true);
    expect(values(kept)).toEqual(want);
    expect(values(await t.toArrow())).toEqual(want);
    const probe = data[7]?.vec ?? [];
    const nearest = await t.vectorSearch(probe).limit(1).toArray();
    expect(nearest[0]?.id).toBe(7n);
    t.close();
    conn.close();
    removeDir(d);
  });

  it("so are long ranges of rows, mapped from inside a page of the cached column", async () => {
    const { dir: d, db: conn } = await freshDb();
    // 40,000 strings of 41 bytes (1.6 MB: a memory file); the range's 10,000 (410 KB)
    // start inside a page and map copy-on-write.
    const n = 40_000;
    const text = (i: number) => `row ${String(i).padStart(6, "0")} ${"x".repeat(30)}`;
    const t = await conn.createTable(
      "runs",
      Array.from({ length: n }, (_, i) => ({ id: BigInt(i), text: text(i) })),
    );
    const range = () =>
      t.query().where("id >= 12345 AND id < 22345").select(["id", "text"]).toArrow();
    const want = Array.from({ length: 10_000 }, (_, i) => text(12_345 + i));
    expect(strings(await range())).toEqual(want); // through lance
    expect(strings(await range())).toEqual(want); // keeps the columns
    const mine = await range(); // from memory
    expect(strings(mine)).toEqual(want);
    for (const batch of mine.batches) batch.getChild("text")?.data[0]?.values.fill(0x7a);
    expect(strings(mine)[0]).toBe("z".repeat(41));
    expect(strings(await range())).toEqual(want);
    expect(strings(await t.query().where("id = 12345").toArrow())).toEqual([text(12_345)]);
    t.close();
    conn.close();
    removeDir(d);
  });

  it("so are reads of one value of a label, from a copy grouped by it", async () => {
    const { dir: d, db: conn } = await freshDb();
    const n = 70_000;
    const text = (i: number) => `text of row ${i}`;
    const t = await conn.createTable(
      "labels",
      Array.from({ length: n }, (_, i) => ({
        id: BigInt(i),
        label: `l${i % 5}`,
        text: text(i),
      })),
    );
    const read = () =>
      t.query().where("label = 'l3' AND id > 100").select(["text", "id"]).toArrow();
    const want = Array.from({ length: n }, (_, i) => i)
      .filter((i) => i % 5 === 3 && i > 100)
      .map(text);
    const plan = () =>
      t.query().where("label = 'l3' AND id > 100").select(["text", "id"]).explainPlan();
    // Through lance; the columns kept; the copy made; then read from it.
    for (let i = 0; i < 3; i++) expect(strings(await read())).toEqual(want);
    expect(await plan()).toMatch(/^PalimpsestColumnCache: .*grouped by `label`/);
    const mine = await read();
    expect(strings(mine)).toEqual(want);
    for (const batch of mine.batches) batch.getChild("text")?.data[0]?.values.fill(0x7a);
    expect(strings(mine)[0]).toBe("z".repeat(text(103).length));
    expect(strings(await read())).toEqual(want);
    expect(await t.countRows("label = 'l3' AND id > 100")).toBe(want.length);
    t.close();
    conn.close();
    removeDir(d);
  });
});
