// Child process of durability.test.ts, run under strace: marks on stdout when each write
// starts and when its promise resolved, so the trace shows which fsyncs came in between.
// Usage: node durability-child.mjs <dir> <durable: "true" | "false">
import { writeSync } from "node:fs";
import pkg from "../dist/index.js";

const { connect } = pkg;
const [dir, durable] = process.argv.slice(2);
const mark = (text) => writeSync(1, `${text}\n`);

const db = await connect(dir, { durable: durable === "true" });
mark("BEGIN-CREATE");
const table = await db.createTable("t", [
  { id: 1, text: "one" },
  { id: 3, text: "three" },
]);
mark("ACK-CREATE");
mark("BEGIN-ADD");
await table.add([{ id: 2, text: "two" }]);
mark("ACK-ADD");
mark("BEGIN-DELETE");
await table.delete("id = 1");
mark("ACK-DELETE");
mark("BEGIN-RESTORE");
await table.restore(1);
mark("ACK-RESTORE");
mark("BEGIN-TAG");
await table.tags().create("snapshot", 1);
mark("ACK-TAG");
mark("BEGIN-BRANCH");
const branch = await table.branches().create("exp/one");
mark("ACK-BRANCH");
branch.close();
// A second branch under exp/ keeps tree/exp when the first is deleted.
(await table.branches().create("exp/two")).close();
mark("BEGIN-UNBRANCH");
await table.branches().delete("exp/one");
mark("ACK-UNBRANCH");
mark("BEGIN-UNTAG");
await table.tags().delete("snapshot");
mark("ACK-UNTAG");
table.close();
db.close();
