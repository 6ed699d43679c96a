// One read of a table in a process of its own, printed as JSON. In the bench's shared
// process these figures depend on what the engines measured before had allocated and freed
// (a process that reuses freed memory skips the VM's slow first touch of fresh pages), so
// each engine gets a fresh process, after the same collection.
//   node --expose-gc bench/read-child.mjs stream <module> <database dir> <table>
//     streams every row batch by batch: { rows, peak } (peak RSS growth over the RSS before)
//   node --expose-gc bench/read-child.mjs toArrow <module> <database dir> <table>
//     the process's first toArrow() of the whole table: { rows, seconds }
const [mode, modulePath, dir, tableName] = process.argv.slice(2);
if (mode !== "stream" && mode !== "toArrow") throw new Error(`unknown mode "${mode}"`);
const lib = await import(modulePath);
const db = await lib.connect(dir);
const table = await db.openTable(tableName);
globalThis.gc?.();
await new Promise((resolve) => setImmediate(resolve));
let result;
if (mode === "stream") {
  const base = process.memoryUsage().rss;
  let peak = 0;
  let rows = 0;
  for await (const batch of table.query()) {
    rows += batch.numRows;
    peak = Math.max(peak, process.memoryUsage().rss - base);
  }
  result = { rows, peak };
} else {
  const t0 = performance.now();
  const out = await table.toArrow();
  result = { rows: out.numRows, seconds: (performance.now() - t0) / 1000 };
}
table.close?.();
db.close?.();
process.stdout.write(`${JSON.stringify(result)}\n`);
