// What durability costs restore and branch creation, in a small process (no bench data set
// in the heap): palimpsest durable and `durable: false`, and LanceDB (which flushes
// nothing), the three configurations' calls rotating, a collection before each; medians.
//   node --expose-gc bench/profile-durability.mjs [rows] [calls]
// Run it under `strace -f -T -e trace=fsync -y` to see which files and directories each
// operation flushes.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { tableFromArrays } from "apache-arrow";
import * as palimpsest from "../dist/index.mjs";
import { interleaved, middle } from "./measure.mjs";

const rows = Number(process.argv[2] ?? 1000000);
const calls = Number(process.argv[3] ?? 21);
const ids = (n, start) =>
  tableFromArrays({ id: BigInt64Array.from({ length: n }, (_, i) => BigInt(start + i)) });

const configs = [
  { name: "palimpsest durable", lib: palimpsest, options: {}, restore: (t) => t.restore(1) },
  {
    name: "palimpsest durable: false",
    lib: palimpsest,
    options: { durable: false },
    restore: (t) => t.restore(1),
  },
  {
    name: "lancedb",
    lib: lancedb,
    options: {},
    // lancedb restores the checked-out version.
    restore: async (t) => {
      await t.checkout(1);
      await t.restore();
    },
  },
];
for (const c of configs) {
  c.dir = mkdtempSync(path.join(os.tmpdir(), "durability-"));
  c.db = await c.lib.connect(c.dir, c.options);
  c.table = await c.db.createTable("t", ids(rows, 0));
  await c.table.add(ids(1, rows));
}
const ms = (times) => (middle(times) * 1e3).toFixed(2);
await interleaved(configs, calls, (c) => c.restore(c.table));
for (const c of configs) c.restoreTimes = c.times;
await interleaved(configs, calls, async (c, i) => {
  const b = await (await c.table.branches()).create(`b-${i}`);
  b?.close?.();
});
for (const c of configs) {
  console.log(
    `${c.name}: restore p50 ${ms(c.restoreTimes)} ms, branch creation p50 ${ms(c.times)} ms`,
  );
  c.table.close();
  c.db.close?.();
  rmSync(c.dir, { recursive: true, force: true });
}
