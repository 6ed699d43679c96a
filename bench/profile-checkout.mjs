// Times checkout(1) alone in a process, at 10 and 1,000 versions (40 pairs, median, ms):
// from the latest version, again while on version 1, and the native at-once call alone.
// node --expose-gc bench/profile-checkout.mjs
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as palimpsest from "../dist/index.mjs";

const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1].toFixed(4);
const dir = mkdtempSync(path.join(os.tmpdir(), "checkout-"));
const db = await palimpsest.connect(dir);
for (const versions of [10, 1000]) {
  const t = await db.createTable(`t${versions}`, [{ id: 0 }]);
  for (let v = 2; v <= versions; v++) await t.add([{ id: v }]);
  const fromLatest = [];
  const again = [];
  const native = [];
  for (let i = 0; i < 40; i++) {
    let t0 = performance.now();
    await t.checkout(1);
    fromLatest.push(performance.now() - t0);
    t0 = performance.now();
    await t.checkout(1);
    again.push(performance.now() - t0);
    await t.checkoutLatest();
    t0 = performance.now();
    t.inner.checkoutAtOnce(1);
    native.push(performance.now() - t0);
    await t.checkoutLatest();
  }
  console.log(
    `${versions} versions: checkout(1) from the latest ${median(fromLatest)} ms, again on version 1 ${median(again)} ms, native call alone ${median(native)} ms`,
  );
  t.close();
}
rmSync(dir, { recursive: true, force: true });
