// Child process of concurrency.test.ts. Every mode waits for the file <dir>/<go> to exist
// (so all children start writing at the same moment), then prints one JSON result line.
// Usage:
//   node concurrency-child.mjs append <dir> <table> <go> <writer> <count>
//   node concurrency-child.mjs plan <dir> <table> <go> <writer> <count> <seed>
//   node concurrency-child.mjs merge-same <dir> <table> <go> <rounds> <keysPerRound>
//   node concurrency-child.mjs writer <dir> <table> <go> <count>
import * as fs from "node:fs";
import * as path from "node:path";
import pkg from "../dist/index.js";
import { planOps, runPlan } from "./concurrency-ops.mjs";

const { connect } = pkg;
const [mode, dir, name, go, ...args] = process.argv.slice(2);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const say = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const failure = (err) => ({
  code: err?.code ?? "NOT_A_PALIMPSEST_ERROR",
  message: String(err?.message),
});

async function waitFor(file) {
  while (!fs.existsSync(path.join(dir, file))) await sleep(2);
}

const db = await connect(dir);
const table = await db.openTable(name);
say({ ready: true });
await waitFor(go);

if (mode === "append") {
  const [writer, count] = args.map(Number);
  const versions = [];
  const errors = [];
  for (let i = 0; i < count; i++) {
    try {
      const r = await table.add([{ id: BigInt(writer * 100_000 + i), writer: BigInt(writer) }]);
      versions.push(r.version);
    } catch (err) {
      errors.push({ i, ...failure(err) });
    }
  }
  say({ versions, errors });
} else if (mode === "plan") {
  const [writer, count, seed] = args.map(Number);
  say({ outcomes: await runPlan(table, planOps(writer, count, seed)) });
} else if (mode === "merge-same") {
  // Round r: wait for <go>-r, then merge-insert keys r*1000 .. r*1000+keys-1.
  const [rounds, keys] = args.map(Number);
  const results = [];
  for (let r = 0; r < rounds; r++) {
    say({ round: r });
    await waitFor(`${go}-${r}`);
    const rows = Array.from({ length: keys }, (_, i) => ({
      id: BigInt(r * 1000 + i),
      writer: BigInt(process.pid),
    }));
    try {
      const m = await table.mergeInsert("id").whenNotMatchedInsertAll().execute(rows);
      results.push({ round: r, version: m.version, inserted: m.numInsertedRows });
    } catch (err) {
      results.push({ round: r, ...failure(err) });
    }
  }
  say({ results });
} else if (mode === "writer") {
  // Alternately append a batch of 5 rows of the current generation, and move every row
  // to the next generation. Every version has whole batches, all of one generation.
  const [count] = args.map(Number);
  let gen = Number((await table.query().limit(1).toArray())[0]?.gen ?? 0);
  let batch = 0;
  const versions = [];
  const errors = [];
  for (let i = 0; i < count; i++) {
    try {
      if (i % 2 === 0) {
        batch++;
        const rows = Array.from({ length: 5 }, (_, j) => ({
          batch: BigInt(batch),
          j: BigInt(j),
          gen: BigInt(gen),
        }));
        versions.push((await table.add(rows)).version);
      } else {
        versions.push((await table.update({ valuesSql: { gen: "gen + 1" } })).version);
        gen++;
      }
    } catch (err) {
      errors.push({ i, ...failure(err) });
    }
  }
  say({ versions, errors, gen, batch });
} else {
  throw new Error(`unknown mode ${mode}`);
}
table.close();
db.close();
