/**
 * Leaks and long runs: 10,000 queries and 1,000 writes in one process keep RSS within
 * 100 MB of what it was after the first 1,000 operations and leak no file descriptors;
 * closing connections and tables releases what they hold.
 */
import * as fs from "node:fs";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import { Field, FixedSizeList, Float32, Float64, Int64, Schema, Utf8 } from "apache-arrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Connection, connect, type Table } from "../js/index";
import { fakeEmbedding, freshDb, removeDir, rng } from "./helpers/facade";

const DIM = 8;
const schema = new Schema([
  new Field("id", new Int64(), false),
  new Field("name", new Utf8(), true),
  new Field("n", new Float64(), true),
  new Field("vec", new FixedSizeList(DIM, new Field("item", new Float32(), true)), true),
]);
const MB = 1024 * 1024;

// The column cache holds decoded columns by design, up to its budget (2 GB by default). A
// small budget for this process (read at the cache's first use) keeps that growth well under
// the limit below, so the test still catches any other growth (and would catch a cache that
// outgrew its budget).
process.env.PALIMPSEST_CACHE_MB = "32";

v8.setFlagsFromString("--expose_gc");
const gc = vm.runInNewContext("gc") as () => void;

function openFds(): number {
  return fs.readdirSync("/proc/self/fd").length;
}

/** RSS after a full garbage collection, so only what is really held counts. */
async function settledRss(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().rss;
}

const row = (id: number) => ({
  id: BigInt(id),
  name: `row ${id} ${"·".repeat(id % 50)}`,
  n: id / 3,
  vec: Array.from(fakeEmbedding(`row ${id}`, DIM)),
});

let dir: string;
let db: Connection;

beforeEach(async () => {
  ({ dir, db } = await freshDb());
});
afterEach(() => {
  db.close();
  removeDir(dir);
});

describe("a long run in one process", () => {
  it("10,000 queries and 1,000 writes: RSS within 100 MB, no fd leak", async () => {
    let table: Table = await db.createTable(
      "long",
      Array.from({ length: 200 }, (_, i) => row(i)),
      { schema },
    );
    // The model: which ids exist, and each id's n.
    const model = new Map<number, number>(Array.from({ length: 200 }, (_, i) => [i, i / 3]));
    let nextId = 200;
    const next = rng(42);
    let queries = 0;
    let writes = 0;
    let baseline: { rss: number; fds: number } | undefined;

    const query = async (q: number) => {
      const k = Math.floor(next() * 200);
      switch (q % 5) {
        case 0: {
          const rows = await table.query().where(`id >= ${k}`).limit(20).toArray();
          expect(rows.length).toBe(Math.min(20, [...model.keys()].filter((id) => id >= k).length));
          break;
        }
        case 1:
          expect(await table.countRows(`id < ${k}`)).toBe(
            [...model.keys()].filter((id) => id < k).length,
          );
          break;
        case 2: {
          const hits = await table
            .vectorSearch(fakeEmbedding(`q${k}`, DIM))
            .limit(5)
            .toArray();
          expect(hits.length).toBe(Math.min(5, model.size));
          break;
        }
        case 3: {
          let n = 0;
          for await (const batch of table.query().select(["id", "vec"])) n += batch.numRows;
          expect(n).toBe(model.size);
          break;
        }
        default:
          expect(await table.countRows()).toBe(model.size);
      }
      queries++;
    };

    const write = async (w: number) => {
      switch (w % 5) {
        case 0: {
          const rows = Array.from({ length: 3 }, () => row(nextId++));
          await table.add(rows);
          for (const r of rows) model.set(Number(r.id), r.n);
          break;
        }
        case 1: {
          const k = Math.floor(next() * 10);
          await table.update({ where: `id % 10 = ${k}`, valuesSql: { n: "n + 1" } });
          for (const [id, n] of model) if (id % 10 === k) model.set(id, n + 1);
          break;
        }
        case 2: {
          const victim = [...model.keys()][Math.floor(next() * model.size)]!;
          await table.delete(`id = ${victim}`);
          model.delete(victim);
          break;
        }
        case 3: {
          const ids = [...model.keys()].slice(0, 2);
          const rows = [...ids.map((id) => ({ ...row(id), n: -1 })), row(nextId++)];
          await table
            .mergeInsert("id")
            .whenMatchedUpdateAll()
            .whenNotMatchedInsertAll()
            .execute(rows);
          for (const r of rows) model.set(Number(r.id), r.n);
          break;
        }
        default: {
          // Rewrite the table as one fragment, so scans do not slow down as writes pile up.
          const all = await table.toArrow();
          await table.add(all, { mode: "overwrite" });
          // A second handle for a while, then back: handles come and go during the run.
          const again = await db.openTable("long");
          table.close();
          table = again;
        }
      }
      writes++;
    };

    for (let op = 0; op < 11_000; op++) {
      if (op % 11 === 10) await write(writes);
      else await query(queries);
      if (op === 999) baseline = { rss: await settledRss(), fds: openFds() };
    }
    expect(queries).toBe(10_000);
    expect(writes).toBe(1_000);
    expect(await table.version()).toBe(1 + 1_000);
    const final = (await table.query().select(["id", "n"]).toArray())
      .map((r) => [Number(r.id), r.n] as [number, number])
      .sort((a, b) => a[0] - b[0]);
    expect(final).toEqual([...model].sort((a, b) => a[0] - b[0]));

    const rss = await settledRss();
    const fds = openFds();
    const grown = (rss - baseline!.rss) / MB;
    console.log(
      `RSS ${(baseline!.rss / MB).toFixed(0)} MB after 1,000 ops, ${(rss / MB).toFixed(0)} MB after 11,000; fds ${baseline!.fds} -> ${fds}`,
    );
    expect(grown, `RSS grew by ${grown.toFixed(1)} MB`).toBeLessThan(100);
    expect(fds).toBeLessThanOrEqual(baseline!.fds);
    table.close();
  });
});

describe("closing", () => {
  it("connections and tables release their handles", async () => {
    const seed = await db.createTable(
      "c",
      Array.from({ length: 50 }, (_, i) => row(i)),
      { schema },
    );
    await seed.tags().create("first", 1);
    seed.close();

    const cycle = async () => {
      const conns: Connection[] = [];
      const tables: Table[] = [];
      const streams: AsyncGenerator<unknown>[] = [];
      for (let i = 0; i < 20; i++) {
        const c = await connect(dir);
        const t = await c.openTable("c");
        expect(await t.countRows()).toBe(50);
        // A stream left half-read holds the scan open until its table goes away.
        const s = t.query()[Symbol.asyncIterator]();
        await s.next();
        streams.push(s);
        conns.push(c);
        tables.push(t, await c.openTable("c", { tag: "first" }));
      }
      for (const s of streams) await s.return(undefined);
      for (const t of tables) t.close();
      for (const c of conns) c.close();
      for (const t of tables) expect(t.isOpen()).toBe(false);
      for (const c of conns) expect(c.isOpen()).toBe(false);
    };

    await cycle();
    const base = { rss: await settledRss(), fds: openFds() };
    for (let i = 0; i < 10; i++) await cycle();
    const rss = await settledRss();
    const fds = openFds();
    console.log(
      `200 connections: RSS ${(base.rss / MB).toFixed(0)} -> ${(rss / MB).toFixed(0)} MB; fds ${base.fds} -> ${fds}`,
    );
    expect(fds).toBeLessThanOrEqual(base.fds);
    expect((rss - base.rss) / MB).toBeLessThan(100);
    // The directory is still fine to use afterwards.
    const t = await db.openTable("c");
    expect(await t.countRows()).toBe(50);
    t.close();
  });
});
