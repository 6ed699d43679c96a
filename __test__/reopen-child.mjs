// Child process of reopen.test.ts: opens a table written by another Node process through
// the built package, prints what it reads as JSON, then appends one row.
// Usage: node reopen-child.mjs <dir> <table> <idToAdd>
import pkg from "../dist/index.js";

const { connect } = pkg;
const [dir, name, idToAdd] = process.argv.slice(2);

const db = await connect(dir);
const table = await db.openTable(name);
const version = await table.version();
const rows = (await table.query().toArray()).map((r) => ({
  id: String(r.id),
  text: r.text,
  vec: r.vec === null ? null : Array.from(r.vec.toArray()),
}));
rows.sort((a, b) => Number(a.id) - Number(b.id));
const versions = (await table.listVersions()).map((v) => v.version);
const added = await table.add([{ id: BigInt(idToAdd), text: "from the child", vec: [9, 9, 9] }]);
process.stdout.write(`${JSON.stringify({ version, versions, rows, added })}\n`);
table.close();
db.close();
