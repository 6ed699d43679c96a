/**
 * A table written by this process is read by a second Node process (through the built
 * package, dist/), and what the second process writes is seen back here.
 */
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Field, FixedSizeList, Float32, Int64, Schema, Utf8 } from "apache-arrow";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Connection, connect, type Table } from "../js/index";
import { freshDb, removeDir, tableRows, tempDir } from "./helpers/facade";

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const child = path.join(here, "reopen-child.mjs");

const schema = new Schema([
  new Field("id", new Int64(), true),
  new Field("text", new Utf8(), true),
  new Field("vec", new FixedSizeList(3, new Field("item", new Float32(), true)), true),
]);
const rows = [
  { id: 1n, text: "one", vec: [1, 2, 3] },
  { id: 2n, text: "two", vec: [0.5, -0.5, 0.25] },
  { id: 3n, text: null, vec: null },
];

let dir: string;
let db: Connection;
let table: Table;

beforeAll(() => {
  for (const f of ["dist/index.js", "dist/native.js", "js/native.js"]) {
    if (!fs.existsSync(path.join(root, f))) {
      throw new Error(`${f} is missing: run \`npm run build\` before this spec`);
    }
  }
});
beforeEach(async () => {
  dir = tempDir();
  db = await connect(dir);
  table = await db.createTable("shared", rows, { schema });
  await table.update({ where: "id = 2", values: { text: "TWO" } });
});
afterEach(() => {
  table.close();
  db.close();
  removeDir(dir);
});

async function runChild(idToAdd: number) {
  const { stdout } = await run(process.execPath, [child, dir, "shared", String(idToAdd)], {
    cwd: root,
    timeout: 60_000,
  });
  return JSON.parse(stdout.trim().split("\n").pop() as string) as {
    version: number;
    versions: number[];
    rows: { id: string; text: string | null; vec: number[] | null }[];
    added: { version: number; rowsAdded: number };
  };
}

describe("reopen from a second Node process", () => {
  it("reads the same rows and history, and its write is seen here", async () => {
    const out = await runChild(4);
    expect(out.version).toBe(2);
    expect(out.versions).toEqual([1, 2]);
    expect(out.rows).toEqual([
      { id: "1", text: "one", vec: [1, 2, 3] },
      { id: "2", text: "TWO", vec: [0.5, -0.5, 0.25] },
      { id: "3", text: null, vec: null },
    ]);
    expect(out.added).toEqual({ version: 3, rowsAdded: 1 });

    // This process sees the child's version once it moves to the latest.
    await table.checkoutLatest();
    expect(await table.version()).toBe(3);
    const here = await tableRows(table);
    expect(here).toHaveLength(4);
    expect(here[3]).toEqual({ id: 4n, text: "from the child", vec: [9, 9, 9] });
    // And a fresh connection too.
    const db2 = await connect(dir);
    const t2 = await db2.openTable("shared");
    expect(await t2.countRows()).toBe(4);
    t2.close();
    db2.close();
  });

  it("two children in a row each see the previous one's write", async () => {
    const first = await runChild(10);
    const second = await runChild(11);
    expect(first.added.version).toBe(3);
    expect(second.version).toBe(3);
    expect(second.rows.map((r) => r.id)).toEqual(["1", "2", "3", "10"]);
    expect(second.added.version).toBe(4);
  });
});

describe("read consistency", () => {
  it("a table with readConsistencyInterval 0 sees another process's commit on its next read", async () => {
    const { dir, db } = await freshDb();
    try {
      await db.createTable("rc", [{ id: 1 }]);
      const eager = await (await connect(dir, { readConsistencyInterval: 0 })).openTable("rc");
      const lazy = await (await connect(dir)).openTable("rc");
      const writer = spawnSync(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          `import p from ${JSON.stringify(path.join(here, "..", "dist", "index.js"))};
           const t = await (await p.connect(${JSON.stringify(dir)})).openTable("rc");
           await t.add([{ id: 2 }]);`,
        ],
        { encoding: "utf8" },
      );
      expect(writer.status, writer.stderr).toBe(0);
      expect(await eager.countRows()).toBe(2);
      expect(await lazy.countRows()).toBe(1);
      await expect(connect(dir, { readConsistencyInterval: -1 })).rejects.toThrow(
        /readConsistencyInterval/,
      );
    } finally {
      removeDir(dir);
    }
  });
});
