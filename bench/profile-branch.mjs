// Branch creation alone, like for like: what a branch of the bench's main table (after its
// update 1%, mergeInsert and delete 1%) costs in time and bytes on palimpsest (durable and
// not, and a table created without stable row ids) and on LanceDB with and without them
// (palimpsest's default has them, LanceDB's does not). Explains the "branch bytes" figure
// of BENCHMARKS.md:
//   node --expose-gc bench/profile-branch.mjs [rows] [dim] [branches]
// The vectors do not change a branch (its manifest lists files, it copies none), so the
// default dimension is small.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import * as palimpsest from "../dist/index.mjs";
import { mainTableDataset } from "./data.mjs";
import { dirBytes, interleaved, middle } from "./measure.mjs";

const rows = Number(process.argv[2] ?? 1_000_000);
const dim = Number(process.argv[3] ?? 8);
const branches = Number(process.argv[4] ?? 21);
const data = mainTableDataset(rows, dim);

const stableRowIds = { storageOptions: { newTableEnableStableRowIds: "true" } };
const configs = [
  { name: "palimpsest", lib: palimpsest, options: {} },
  { name: "palimpsest durable:false", lib: palimpsest, options: { durable: false } },
  {
    name: "palimpsest stableRowIds:false",
    lib: palimpsest,
    options: {},
    create: { stableRowIds: false },
  },
  { name: "lancedb", lib: lancedb, options: {} },
  { name: "lancedb stable row ids", lib: lancedb, options: stableRowIds },
];

for (const c of configs) {
  c.dir = mkdtempSync(path.join(os.tmpdir(), "prof-branch-"));
  c.db = await c.lib.connect(c.dir, c.options);
  c.table = await c.db.createTable("main", data.table, c.create ?? {});
  await c.table.update({ where: "id % 100 = 7", valuesSql: { text: "'u'" } });
  await c.table
    .mergeInsert("id")
    .whenMatchedUpdateAll()
    .whenNotMatchedInsertAll()
    .execute(data.mergeTable);
  await c.table.delete("id % 100 = 13");
  c.before = dirBytes(c.dir);
}

// Every config creates one branch per round, in rotating order (as in the bench).
await interleaved(configs, branches, async (c, i) => {
  await (await c.table.branches()).create(`b${i}`);
});

console.log(`${rows} rows, ${branches} branches each (median ms, bytes per branch)`);
for (const c of configs) {
  if (c.error) {
    console.log(`  ${c.name}: failed: ${c.error.message}`);
  } else {
    const ms = (middle(c.times) * 1000).toFixed(2);
    const bytes = Math.round((dirBytes(c.dir) - c.before) / branches);
    console.log(`  ${c.name}: ${ms} ms, ${bytes} bytes`);
  }
  c.table.close();
  c.db.close?.();
  rmSync(c.dir, { recursive: true, force: true });
}
