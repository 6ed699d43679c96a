// Times exact kNN top-10 over cached vectors alone in a process (50 queries after 3 warm-up
// queries, p50 and min), for profiling: node --expose-gc bench/profile-knn.mjs [rows] [dim]
// [main-rows] (ALL=1 also prints every query's time). With main-rows, a second table of that many rows is made and read whole first
// (its columns then fill the cache, as in the bench process).
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as palimpsest from "../dist/index.mjs";
import { makeDataset } from "./data.mjs";

const rows = Number(process.argv[2] ?? 100000);
const dim = Number(process.argv[3] ?? 384);
const mainRows = Number(process.argv[4] ?? 0);
const data = makeDataset({
  rows: Math.max(rows, mainRows),
  dim,
  batch: 10000,
  knnRows: rows,
  queries: 0,
  exactQueries: 53,
  mergeRows: 0,
});
const dir = mkdtempSync(path.join(os.tmpdir(), "knn-"));
const db = await palimpsest.connect(dir);
const t = await db.createTable("knn", data.knnTable);
if (mainRows > 0) {
  const main = await db.createTable("main", data.table);
  for (let i = 0; i < 2; i++) await main.toArrow();
  console.log(
    `main table: ${mainRows} rows read whole twice; rss ${(process.memoryUsage().rss / 2 ** 30).toFixed(2)} GiB`,
  );
}
const search = (q) => t.vectorSearch(q).column("vector").distanceType("l2").limit(10).toArrow();
for (let i = 0; i < 3; i++) await search(data.queries[i]);
const times = [];
for (let i = 3; i < 53; i++) {
  globalThis.gc?.();
  const t0 = performance.now();
  await search(data.queries[i]);
  times.push(performance.now() - t0);
}
if (process.env.ALL) console.log(times.map((x) => x.toFixed(1)).join(" "));
times.sort((a, b) => a - b);
const gb = (rows * dim * 4) / 1e9;
const p50 = times[times.length >> 1];
console.log(
  `exact kNN over ${rows} x ${dim}: p50 ${p50.toFixed(2)} ms, min ${times[0].toFixed(2)} ms, ` +
    `${(gb / (p50 / 1000)).toFixed(2)} GB/s at p50`,
);
rmSync(dir, { recursive: true, force: true });
