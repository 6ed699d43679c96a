/** Indexes, vector search options, full-text and hybrid search, explainPlan, optimize. */
import { afterEach, describe, expect, it } from "vitest";
import { Index, type Table } from "../js/index";
import { expectCode, fakeEmbedding, freshDb, removeDir } from "./helpers/facade";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

const DIM = 16;
const WORDS = ["apple", "banana", "cherry", "dragon", "eagle", "falcon"];

function rows(start: number, n: number) {
  return Array.from({ length: n }, (_, k) => {
    const id = start + k;
    return {
      id,
      category: `cat${id % 5}`,
      text: `${WORDS[id % 6]} pie number ${id}`,
      vector: Array.from(fakeEmbedding(`${id % 40}-${id}`, DIM)),
    };
  });
}

async function table(n = 1200): Promise<Table> {
  const { dir, db } = await freshDb();
  dirs.push(dir);
  return db.createTable("t", rows(0, n));
}

async function ids(q: { toArray(): Promise<Record<string, unknown>[]> }): Promise<number[]> {
  return (await q.toArray()).map((r) => Number(r.id));
}

describe("vector indexes", () => {
  it("build, list, describe, search with options and drop", async () => {
    const t = await table();
    const query = fakeEmbedding("probe", DIM);
    const exact = await ids(t.vectorSearch(query).bypassVectorIndex().limit(10));
    for (const config of [
      Index.ivfFlat({ numPartitions: 8 }),
      Index.ivfPq({ numPartitions: 8, numSubVectors: 4 }),
      Index.hnswSq({ numPartitions: 4, m: 16, efConstruction: 100 }),
    ]) {
      const before = await t.version();
      const r = await t.createIndex("vector", { config, message: "index it" });
      expect(r.version).toBe(before + 1);
      expect(await t.listIndices()).toEqual([
        { name: "vector_idx", indexType: expect.any(String), columns: ["vector"] },
      ]);
      const stats = await t.indexStats("vector_idx");
      expect(stats?.numIndexedRows).toBe(1200);
      expect(stats?.numUnindexedRows).toBe(0);
      const approx = await ids(t.vectorSearch(query).nprobes(8).refineFactor(10).ef(200).limit(10));
      const recall = approx.filter((id) => exact.includes(id)).length / 10;
      expect(recall, config.spec.kind).toBeGreaterThanOrEqual(0.9);
      expect(await t.vectorSearch(query).explainPlan()).toContain("ANN");
      expect(await t.vectorSearch(query).bypassVectorIndex().explainPlan()).not.toContain("ANN");
    }
    const last = (await t.listVersions()).at(-1)!;
    expect([last.operation, last.message, last.parameters.index_type]).toEqual([
      "create_index",
      "index it",
      "IVF_HNSW_SQ",
    ]);
    expect(await t.indexStats("nope")).toBeUndefined();
    await t.dropIndex("vector_idx");
    expect(await t.listIndices()).toEqual([]);
    await expectCode(t.dropIndex("vector_idx"), "INVALID_ARGUMENT");
    await expectCode(t.createIndex("nope"), "COLUMN_NOT_FOUND");
    await expectCode(t.createIndex("text", { config: Index.ivfPq() }), "INVALID_ARGUMENT");
    await expectCode(
      t.createIndex("vector", { config: Index.ivfPq({ numSubVectors: 5 }) }),
      "INVALID_ARGUMENT",
    );
    expect(() => Index.ivfPq({ numPartitions: 0 })).toThrow(/numPartitions/);
    await expectCode(t.createIndex("vector", { config: {} as Index }), "INVALID_ARGUMENT");
  });

  it("prefilters by default, postfilters on request, and cuts by distance", async () => {
    const t = await table();
    const v = fakeEmbedding("x", DIM);
    const pre = await t.vectorSearch(v).where("category = 'cat1'").limit(10).toArray();
    expect(pre).toHaveLength(10);
    expect(pre.every((r) => r.category === "cat1")).toBe(true);
    const post = await t
      .vectorSearch(v)
      .where("category = 'cat1'")
      .postfilter()
      .limit(10)
      .toArray();
    expect(post.length).toBeLessThan(10);
    const all = await t.vectorSearch(v).limit(50).toArray();
    const cut = Number(all[20]!._distance);
    const ranged = await t.vectorSearch(v).distanceRange(undefined, cut).limit(50).toArray();
    expect(ranged).toHaveLength(all.filter((r) => Number(r._distance) < cut).length);
    const withIds = await t.vectorSearch(v).withRowId().limit(3).toArray();
    expect(typeof withIds[0]!._rowid).toBe("bigint");
    expect(() => t.vectorSearch(v).nprobes(0)).toThrow(/nprobes/);
    expect(() => t.vectorSearch(v).distanceRange(Number.NaN)).toThrow(/distanceRange/);
  });
});

describe("indexed search from memory", () => {
  it("answers, once the columns are in memory, what lance answered before", async () => {
    const t = await table();
    await t.createIndex("vector", { config: Index.ivfPq({ numPartitions: 8, numSubVectors: 4 }) });
    const searches = [0, 1, 2].flatMap((i) => {
      const v = fakeEmbedding(`q${i}`, DIM);
      return [
        () => t.vectorSearch(v).nprobes(3).limit(10),
        () => t.vectorSearch(v).nprobes(3).refineFactor(4).withRowId().limit(10),
        () => t.vectorSearch(v).where("category = 'cat1'").nprobes(3).refineFactor(2).limit(10),
      ];
    });
    // Vectors come back as apache-arrow vectors: compare their values.
    const plain = async (q: { toArray(): Promise<Record<string, unknown>[]> }) =>
      (await q.toArray()).map((r) => ({ ...r, vector: Array.from(r.vector as Iterable<number>) }));
    // Columns not in memory yet: lance's own plan answers.
    const before = [];
    for (const search of searches) {
      expect(await search().explainPlan()).not.toMatch(/^PalimpsestIndexedSearch/);
      before.push(await plain(search()));
    }
    // A second whole read keeps the columns in memory.
    await t.toArrow();
    await t.toArrow();
    for (const [i, search] of searches.entries()) {
      expect(await search().explainPlan()).toMatch(/^PalimpsestIndexedSearch/);
      const after = await plain(search());
      expect(after, `search ${i}`).toEqual(before[i]);
      expect(after.length, `search ${i}`).toBeGreaterThan(0);
    }
  });
});

describe("scalar indexes", () => {
  it("serve filters, visibly in the plan", async () => {
    const t = await table();
    const plain = await t.query().where("id = 77").explainPlan();
    await t.createIndex("id", { config: Index.btree() });
    await t.createIndex("category", { config: Index.bitmap() });
    const indexed = await t.query().where("id = 77").explainPlan();
    expect(indexed).not.toEqual(plain);
    expect(indexed).toMatch(/ScalarIndexQuery|MaterializeIndex/);
    expect(await ids(t.query().where("id = 77"))).toEqual([77]);
    expect(await t.countRows("category = 'cat2'")).toBe(240);
    expect((await t.listIndices()).map((i) => i.name)).toEqual(["category_idx", "id_idx"]);
  });

  it("label lists index list columns", async () => {
    const { dir, db } = await freshDb();
    dirs.push(dir);
    const t = await db.createTable(
      "tags",
      Array.from({ length: 100 }, (_, id) => ({ id, tags: [`t${id % 3}`, `u${id % 4}`] })),
    );
    await t.createIndex("tags", { config: Index.labelList() });
    expect(await t.countRows("array_has_any(tags, ['t1'])")).toBe(33);
    await expectCode(t.createIndex("id", { config: Index.labelList() }), "INVALID_ARGUMENT");
  });
});

describe("full-text and hybrid search", () => {
  it("finds words with a score, and fuses with vector search", async () => {
    const t = await table();
    await expectCode(t.search("dragon", "fts").toArray(), "INVALID_ARGUMENT");
    await t.createIndex("text", { config: Index.fts() });
    const hits = await t.search("dragon", "fts").limit(20).toArray();
    expect(hits).toHaveLength(20);
    expect(hits.every((r) => String(r.text).includes("dragon"))).toBe(true);
    expect(typeof hits[0]!._score).toBe("number");
    const same = await t.query().fullTextSearch("dragon", { columns: "text" }).limit(20).toArray();
    expect(same.map((r) => r.id)).toEqual(hits.map((r) => r.id));

    const target = rows(0, 1200)[3]!;
    const hybrid = await t
      .query()
      .fullTextSearch("dragon")
      .nearestTo(target.vector)
      .rerank("rrf")
      .limit(10)
      .toArray();
    expect(hybrid).toHaveLength(10);
    expect(Number(hybrid[0]!.id)).toBe(3); // nearest vector and a text match: ranked first
    const scores = hybrid.map((r) => Number(r._relevance_score));
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    expect(() => t.vectorSearch(target.vector).rerank("other" as never)).toThrow(/rrf/);
  });
});

describe("optimize keeps indexes current", () => {
  it("new rows are searchable before and after optimize", async () => {
    const t = await table();
    await t.createIndex("vector", { config: Index.ivfPq({ numPartitions: 4, numSubVectors: 4 }) });
    const added = rows(5000, 200);
    await t.add(added);
    expect((await t.indexStats("vector_idx"))?.numUnindexedRows).toBe(200);
    const probe = added[100]!.vector;
    expect(await ids(t.vectorSearch(probe).limit(1))).toEqual([5100]);
    const report = await t.optimize();
    expect(report.indicesOptimized).toBe(true);
    expect((await t.indexStats("vector_idx"))?.numUnindexedRows).toBe(0);
    // Now an approximate (PQ) search finds it among the nearest few.
    expect(await ids(t.vectorSearch(probe).nprobes(4).refineFactor(20).limit(10))).toContain(5100);
  });
});
