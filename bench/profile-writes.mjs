// Times the write workloads alone (update 1%, mergeInsert, delete 1%) on palimpsest (durable
// and not, and a table without stable row ids) and lancedb, for profiling:
// [WARM=1] node bench/profile-writes.mjs [rows] [dim].
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import * as palimpsest from "../dist/index.mjs";
import { mainTableDataset } from "./data.mjs";

const rows = Number(process.argv[2] ?? 200_000);
const dim = Number(process.argv[3] ?? 384);
const data = mainTableDataset(rows, dim);

async function time(label, fn) {
  const t0 = performance.now();
  await fn();
  console.log(`  ${label}: ${(performance.now() - t0).toFixed(1)} ms`);
}

for (const [name, lib, options, create] of [
  ["palimpsest durable", palimpsest, {}, {}],
  ["palimpsest durable:false", palimpsest, { durable: false }, {}],
  ["palimpsest stableRowIds:false", palimpsest, {}, { stableRowIds: false }],
  ["lancedb", lancedb, {}, {}],
]) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "prof-writes-"));
  const db = await lib.connect(dir, options);
  const t = await db.createTable("main", data.table, create);
  // WARM=1: read the table twice first, as the bench has by the time it writes.
  if (process.env.WARM === "1") for (let i = 0; i < 2; i++) await t.query().toArrow();
  console.log(name);
  await time("update 1%", () => t.update({ where: "id % 100 = 7", valuesSql: { text: "'u'" } }));
  await time("mergeInsert 10k", () =>
    t.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(data.mergeTable),
  );
  await time("delete 1%", () => t.delete("id % 100 = 13"));
  await time("countRows", () => t.countRows("id % 100 = 13"));
  t.close();
  db.close?.();
  rmSync(dir, { recursive: true, force: true });
}
