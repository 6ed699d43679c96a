// Child process of crash.test.ts: writes to a table in an endless loop (appends, updates,
// deletes, mergeInserts) until it is killed. Before each write it prints the write as
// `{"pending": op}`, after it `{"ack": version}`, one JSON object per line.
// Usage: node crash-child.mjs <dir> <table> <seed> <idBase>
import pkg from "../dist/index.js";
import { rng } from "./helpers/prng.mjs";

const { connect } = pkg;
const [dir, name, seedText, idBaseText] = process.argv.slice(2);
const idBase = Number(idBaseText);

const next = rng(Number(seedText));
const pick = (n) => Math.floor(next() * n);
// Pipes are written synchronously on Linux: a printed line survives a SIGKILL.
const say = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

const db = await connect(dir);
const table = await db.openTable(name);
const existing = (await table.query().select(["id"]).toArray()).map((r) => Number(r.id));
let nextId = idBase;
say({ ready: await table.version() });

for (;;) {
  const r = next();
  let op;
  if (r < 0.35) {
    const n = 1 + pick(5);
    op = { kind: "add", ids: Array.from({ length: n }, () => nextId++) };
  } else if (r < 0.55) {
    op = { kind: "update", mod: 7, rem: pick(7) };
  } else if (r < 0.7) {
    op = { kind: "delete", mod: 11, rem: pick(11) };
  } else {
    const rows = [];
    const seen = new Set();
    for (let i = 0; i < 3 && existing.length > 0; i++) {
      const id = existing[pick(existing.length)];
      if (!seen.has(id)) {
        seen.add(id);
        rows.push({ id, val: 1000 + pick(1000), tag: `m${pick(100)}` });
      }
    }
    rows.push({ id: nextId++, val: 1000 + pick(1000), tag: `m${pick(100)}` });
    op = { kind: "merge", rows };
  }
  say({ pending: op });
  let result;
  if (op.kind === "add") {
    result = await table.add(
      op.ids.map((id) => ({ id: BigInt(id), val: BigInt(id), tag: `a${id}` })),
    );
  } else if (op.kind === "update") {
    result = await table.update({
      where: `id % ${op.mod} = ${op.rem}`,
      valuesSql: { val: "val + 1" },
    });
  } else if (op.kind === "delete") {
    result = await table.delete(`id % ${op.mod} = ${op.rem}`);
  } else {
    result = await table
      .mergeInsert("id")
      .whenMatchedUpdateAll()
      .whenNotMatchedInsertAll()
      .execute(op.rows.map((row) => ({ id: BigInt(row.id), val: BigInt(row.val), tag: row.tag })));
  }
  if (op.kind === "add") existing.push(...op.ids);
  if (op.kind === "merge") existing.push(op.rows[op.rows.length - 1].id);
  say({ ack: result.version });
}
