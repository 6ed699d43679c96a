// What durability costs restore and branch creation, in a small process (no bench data set
// in the heap): median of `calls` after a collection each, durable and `durable: false`.
//   node --expose-gc bench/profile-durability.mjs [rows] [calls]
// Run it under `strace -f -T -e trace=fsync -y` to see which files and directories each
// operation flushes.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { tableFromArrays } from "apache-arrow";
import * as palimpsest from "../dist/index.mjs";
import { median } from "./measure.mjs";

const rows = Number(process.argv[2] ?? 1000000);
const calls = Number(process.argv[3] ?? 21);
const ids = (n, start) =>
  tableFromArrays({ id: BigInt64Array.from({ length: n }, (_, i) => BigInt(start + i)) });

for (const durable of [true, false]) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "durability-"));
  const db = await palimpsest.connect(dir, { durable });
  const t = await db.createTable("t", ids(rows, 0));
  await t.add(ids(1, rows));
  const restore = await median(calls, () => t.restore(1));
  const branch = await median(calls, async (i) => (await t.branches().create(`b-${i}`)).close());
  console.log(
    `durable ${durable}: restore p50 ${(restore * 1e3).toFixed(2)} ms, ` +
      `branch creation p50 ${(branch * 1e3).toFixed(2)} ms`,
  );
  t.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
}
