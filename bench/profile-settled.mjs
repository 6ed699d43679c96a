// What a call costs right after a collection, as the bench times it: a one-row query, the
// native read alone, decoding its result alone and a trivial native call, in a loop and
// after gc() (40 calls, median, ms); then the native read after gc() and an idle wait, and
// after an idle wait alone (30 calls each): what an idle vCPU costs the next call.
//   node --expose-gc bench/profile-settled.mjs
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import * as palimpsest from "../dist/index.mjs";

// The facade's decoder of native results (internal: not exported by the package).
const { decodeTable } = createRequire(import.meta.url)("../dist/arrow/wire-decode.js");

const dir = mkdtempSync(path.join(os.tmpdir(), "settled-"));
const db = await palimpsest.connect(dir);
const rows = Array.from({ length: 100000 }, (_, i) => ({ id: i, s: `x${i}` }));
const t = await db.createTable("main", rows);
const request = { filter: "id = 5", columns: ["id"] };
const query = () => t.query().where("id = 5").select(["id"]).toArrow();
for (let i = 0; i < 5; i++) await query();
const wire = t.inner.queryAtOnce(request);
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1].toFixed(4);
const time = async (collect, fn) => {
  if (collect) globalThis.gc?.();
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
};
for (const collect of [false, true]) {
  const [full, native, decode, trivial] = [[], [], [], []];
  for (let i = 0; i < 40; i++) {
    full.push(await time(collect, query));
    native.push(await time(collect, () => t.inner.queryAtOnce(request)));
    decode.push(await time(collect, () => decodeTable(wire)));
    trivial.push(await time(collect, () => t.inner.isOpen()));
  }
  console.log(
    `${collect ? "after gc()" : "in a loop"}: toArrow ${median(full)}, native read ${median(native)}, decode ${median(decode)}, trivial native call ${median(trivial)}`,
  );
}
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
for (const [collect, wait] of [
  [true, 0],
  [true, 1],
  [true, 5],
  [true, 20],
  [true, 100],
  [false, 5],
  [false, 100],
]) {
  const native = [];
  for (let i = 0; i < 30; i++) {
    if (collect) {
      globalThis.gc?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (wait) await pause(wait);
    native.push(await time(false, () => t.inner.queryAtOnce(request)));
  }
  console.log(`${collect ? "gc(), then " : ""}idle ${wait} ms: native read ${median(native)}`);
}
t.close();
rmSync(dir, { recursive: true, force: true });
