import * as palimpsest from "../dist/index.mjs";
import { filterTable } from "./profile-table.mjs";
const { t } = await filterTable(Number(process.argv[2] ?? 384));
const cols = ["id", "text", "category"];
await t.query().toArrow(); await t.query().toArrow();
const settle = async () => { globalThis.gc(); await new Promise((r) => setImmediate(r)); };
const time = async (label, sql, n) => {
  const ts = [];
  for (let i = 0; i < n; i++) { await settle(); const t0 = performance.now(); await t.query().where(sql).select(cols).toArrow(); ts.push(performance.now() - t0); }
  console.log(label, ts.map((x) => x.toFixed(2)).join(" "));
};
await time("noidx", "category = 'cat3'", 20);
for (let i = 0; i < 9; i++) await t.createIndex("id", { config: palimpsest.Index.btree() });
for (let i = 0; i < 9; i++) await t.createIndex("category", { config: palimpsest.Index.bitmap() });
await time("idx", "category = 'cat3'", 30);
await time("idx-range", "id >= 420000 AND id < 430000", 10);
await time("idx", "category = 'cat3'", 10);
