// A one-row native read after gc() with and without an idle wait, and after an idle wait alone
// (30 calls each, median ms): what an idle vCPU costs the next call.
// node --expose-gc bench/profile-idle.mjs
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as palimpsest from "../dist/index.mjs";

const dir = mkdtempSync(path.join(os.tmpdir(), "settled-"));
const db = await palimpsest.connect(dir);
const rows = Array.from({ length: 100000 }, (_, i) => ({ id: i, s: `x${i}` }));
const t = await db.createTable("main", rows);
const request = { filter: "id = 5", columns: ["id"] };
for (let i = 0; i < 5; i++) t.inner.queryAtOnce(request);
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1].toFixed(4);
for (const wait of [0, 1, 5, 20, 100]) {
  const xs = [];
  for (let i = 0; i < 30; i++) {
    globalThis.gc();
    await new Promise((r) => setImmediate(r));
    if (wait) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    t.inner.queryAtOnce(request);
    xs.push(performance.now() - t0);
  }
  console.log(`wait ${wait} ms after gc: native read ${median(xs)}`);
}
// no gc but wait
for (const wait of [5, 100]) {
  const xs = [];
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    t.inner.queryAtOnce(request);
    xs.push(performance.now() - t0);
  }
  console.log(`no gc, wait ${wait} ms: native read ${median(xs)}`);
}
t.close();
rmSync(dir, { recursive: true, force: true });
