// Streams every row of a table batch by batch in a process of its own and prints the peak
// RSS growth over the RSS before the scan, as JSON. In the bench's shared process that figure
// depends on what the engines measured before had freed, so each engine gets a fresh one.
// node bench/stream-child.mjs <module> <database dir> <table>
const [modulePath, dir, tableName] = process.argv.slice(2);
const lib = await import(modulePath);
const db = await lib.connect(dir);
const table = await db.openTable(tableName);
globalThis.gc?.();
await new Promise((resolve) => setImmediate(resolve));
const base = process.memoryUsage().rss;
let peak = 0;
let rows = 0;
for await (const batch of table.query()) {
  rows += batch.numRows;
  peak = Math.max(peak, process.memoryUsage().rss - base);
}
table.close?.();
db.close?.();
process.stdout.write(`${JSON.stringify({ rows, peak })}\n`);
