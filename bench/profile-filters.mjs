// Times filtered scans and counts from memory alone in a process (60 calls after 3 warm-up
// calls, p50 and min), for profiling:
//   node --expose-gc bench/profile-filters.mjs [dim] [settle] [case,case...] [calls]
// With `settle`, each call follows a collection and a turn of the event loop, as in the bench
// (earlier results are freed, so their buffers can be recycled). PAUSE=<file> waits until that
// file exists before the timed calls (attach `perf record -p <pid>` first).
import { existsSync, rmSync } from "node:fs";
import { filterTable } from "./profile-table.mjs";

const dim = Number(process.argv[2] ?? 8);
const settle = process.argv[3] === "settle";
const only = process.argv[4]?.split(",");
const calls = Number(process.argv[5] ?? 60);
const { dir, t } = await filterTable(dim);
const lo = 420000,
  hi = 430000;
const cases = {
  rangeScan: () =>
    t.query().where(`id >= ${lo} AND id < ${hi}`).select(["id", "text", "category"]).toArrow(),
  rangeCount: () => t.countRows(`id >= ${lo} AND id < ${hi}`),
  catScan: () => t.query().where("category = 'cat3'").select(["id", "text", "category"]).toArrow(),
  catCount: () => t.countRows("category = 'cat3'"),
  tiny: () => t.query().where("id = 5").select(["id"]).toArrow(),
  countAll: () => t.countRows(),
};
for (const [name, fn] of Object.entries(cases)) {
  if (only && !only.includes(name)) continue;
  for (let i = 0; i < 3; i++) await fn();
  if (process.env.PAUSE) {
    console.log(`pid ${process.pid}: waiting for ${process.env.PAUSE}`);
    while (!existsSync(process.env.PAUSE)) await new Promise((r) => setTimeout(r, 100));
  }
  const times = [];
  for (let i = 0; i < calls; i++) {
    if (settle) {
      globalThis.gc?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const p50 = times[Math.floor(calls / 2)];
  console.log(name, "p50", p50.toFixed(3), "min", times[0].toFixed(3));
}
rmSync(dir, { recursive: true, force: true });
