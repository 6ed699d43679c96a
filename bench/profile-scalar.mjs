// The btree and bitmap index builds alone, like for like: palimpsest (durable and not, with
// and without stable row ids) and LanceDB (with and without them), every configuration's
// builds rotating, each replacing the last. Explains the scalar build figures of
// BENCHMARKS.md:
//   node --expose-gc bench/profile-scalar.mjs [rows] [dim] [builds] [config,config...]
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import * as palimpsest from "../dist/index.mjs";
import { mainTableDataset } from "./data.mjs";
import { interleaved, middle } from "./measure.mjs";

const rows = Number(process.argv[2] ?? 1_000_000);
const dim = Number(process.argv[3] ?? 8);
const builds = Number(process.argv[4] ?? 11);
const only = process.argv[5]?.split(",");
const data = mainTableDataset(rows, dim);

const stable = { storageOptions: { newTableEnableStableRowIds: "true" } };
const plain = { stableRowIds: false };
const configs = [
  { name: "palimpsest", lib: palimpsest },
  { name: "palimpsest-nofsync", lib: palimpsest, options: { durable: false } },
  { name: "palimpsest-plain", lib: palimpsest, create: plain },
  { name: "lancedb", lib: lancedb },
  { name: "lancedb-stable", lib: lancedb, create: stable },
].filter((c) => !only || only.includes(c.name));

for (const c of configs) {
  c.dir = mkdtempSync(path.join(os.tmpdir(), "prof-scalar-"));
  c.db = await c.lib.connect(c.dir, c.options ?? {});
  c.table = await c.db.createTable("main", data.table, c.create ?? {});
}
console.log(`${rows} rows, ${builds} builds each (median ms, then every build)`);
for (const [column, type] of [
  ["id", "btree"],
  ["category", "bitmap"],
]) {
  await interleaved(configs, builds, (c) =>
    c.table.createIndex(column, { config: c.lib.Index[type](), replace: true }),
  );
  console.log(type);
  for (const c of configs) {
    const all = c.times.map((t) => (t * 1000).toFixed(0)).join(" ");
    console.log(`  ${c.name}: ${(middle(c.times) * 1000).toFixed(1)} ms [${all}]`);
  }
}
for (const c of configs) {
  c.table.close();
  rmSync(c.dir, { recursive: true, force: true });
}
