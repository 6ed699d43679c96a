// Times indexed vector search alone in a process, palimpsest and LanceDB on the same data, for
// profiling: node --expose-gc bench/profile-ann.mjs [ivfPq|hnswSq] [rows] [queries]
// [engines]. Builds the bench's kNN table and index once per engine, then times `queries`
// queries (after 3 warm-up queries; p50, p99, min and recall@10 against exact results).
// PAUSE=<file> waits until that file exists before the timed loop (attach `perf record -p
// <pid>` first). GC=1 collects garbage before every query. FILTER="<sql>" filters every
// search first (recall is then against the unfiltered neighbours, so it says little).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { makeDataset } from "./data.mjs";

const kind = process.argv[2] ?? "ivfPq";
const rows = Number(process.argv[3] ?? 100000);
const queries = Number(process.argv[4] ?? 100);
const engines = (process.argv[5] ?? "palimpsest,lancedb").split(",");
const data = makeDataset({
  rows,
  dim: 384,
  batch: 10000,
  knnRows: rows,
  queries: queries + 3,
  exactQueries: 0,
  mergeRows: 0,
});
const partitions = Math.min(100, Math.round(Math.sqrt(rows)));

async function load(name) {
  if (name === "lancedb") return import("@lancedb/lancedb");
  return import("../dist/index.mjs");
}

function config(Index) {
  if (kind === "hnswSq") {
    return Index.hnswSq({
      numPartitions: partitions,
      distanceType: "l2",
      m: 16,
      efConstruction: 150,
    });
  }
  return Index.ivfPq({ numPartitions: partitions, numSubVectors: 24, distanceType: "l2" });
}

function search(t, q) {
  let s = t.vectorSearch(q).column("vector").distanceType("l2").limit(10).nprobes(20);
  if (process.env.FILTER) s = s.where(process.env.FILTER);
  return (kind === "hnswSq" ? s.ef(64) : s.refineFactor(10)).toArrow();
}

function recallOf(result, truth) {
  const ids = result.getChild("id").toArray();
  const want = new Set(truth);
  let hit = 0;
  for (const id of ids) if (want.has(Number(id))) hit++;
  return hit / truth.length;
}

let truth;
for (const name of engines) {
  const lib = await load(name);
  const dir = mkdtempSync(path.join(os.tmpdir(), "ann-"));
  const db = await lib.connect(dir);
  const t = await db.createTable("knn", data.knnTable, { mode: "overwrite" });
  // Exact neighbours, before the index exists (untimed).
  if (!truth) {
    truth = [];
    for (const q of data.queries) {
      const r = await t.vectorSearch(q).column("vector").distanceType("l2").limit(10).toArrow();
      truth.push(Array.from(r.getChild("id").toArray(), Number));
    }
  }
  const b0 = performance.now();
  await t.createIndex("vector", { config: config(lib.Index) });
  const build = performance.now() - b0;
  for (let i = 0; i < 3; i++) await search(t, data.queries[i]);
  if (process.env.PAUSE) {
    console.log(`pid ${process.pid}: waiting for ${process.env.PAUSE}`);
    while (!existsSync(process.env.PAUSE)) await new Promise((r) => setTimeout(r, 100));
  }
  const times = [];
  let recall = 0;
  for (let i = 3; i < queries + 3; i++) {
    if (process.env.GC) globalThis.gc?.();
    const t0 = performance.now();
    const r = await search(t, data.queries[i]);
    times.push(performance.now() - t0);
    recall += recallOf(r, truth[i]);
  }
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(2);
  console.log(
    `${name} ${kind} over ${rows} rows: build ${(build / 1000).toFixed(2)} s; ` +
      `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, min ${times[0].toFixed(2)} ms` +
      `, recall@10 ${(recall / queries).toFixed(3)}`,
  );
  t.close?.();
  db.close?.();
  rmSync(dir, { recursive: true, force: true });
}
