// Where a settled filtered scan's time goes: the whole toArrow, the native read alone,
// decoding its result alone, and a trivial native call, each after gc() and a turn of the
// event loop (as the bench times calls), on the bench's 1M-row table (median ms of N calls).
//   node --expose-gc bench/profile-split.mjs [rangeScan|catScan|tiny] [calls]
// INDEXED=1 builds the bench's scalar indexes (btree on id, bitmap on category) first.
import { rmSync } from "node:fs";
import { createRequire } from "node:module";
import * as palimpsest from "../dist/index.mjs";
import { filterTable } from "./profile-table.mjs";

const { decodeTable } = createRequire(import.meta.url)("../dist/arrow/wire-decode.js");
const which = process.argv[2] ?? "rangeScan";
const calls = Number(process.argv[3] ?? 60);
const { dir, db, t } = await filterTable(8);
if (process.env.INDEXED) {
  await t.createIndex("id", { config: palimpsest.Index.btree() });
  await t.createIndex("category", { config: palimpsest.Index.bitmap() });
}
const columns = ["id", "text", "category"];
const filters = {
  rangeScan: "id >= 420000 AND id < 430000",
  catScan: "category = 'cat3'",
  tiny: "id = 5",
};
const request = { filter: filters[which], columns };
const query = () => t.query().where(request.filter).select(columns).toArrow();
for (let i = 0; i < 3; i++) await query();
const wire = t.inner.queryAtOnce(request);
const settle = async () => {
  globalThis.gc();
  await new Promise((resolve) => setImmediate(resolve));
};
const parts = {
  toArrow: query,
  native: () => t.inner.queryAtOnce(request),
  decode: () => decodeTable(wire),
  trivial: () => t.inner.isOpen(),
};
const times = Object.fromEntries(Object.keys(parts).map((k) => [k, []]));
for (let i = 0; i < calls; i++) {
  for (const [name, fn] of Object.entries(parts)) {
    await settle();
    const t0 = performance.now();
    await fn();
    times[name].push(performance.now() - t0);
  }
}
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1].toFixed(3);
console.log(
  which,
  Object.entries(times)
    .map(([k, v]) => `${k} ${median(v)}`)
    .join(", "),
);
await db.close?.();
rmSync(dir, { recursive: true, force: true });
