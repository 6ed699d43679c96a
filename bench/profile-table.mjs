// The bench's main table (1M rows: id, text, category, a `dim`-wide vector) in a fresh
// directory, for the profile scripts of filtered reads.
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as palimpsest from "../dist/index.mjs";
import { makeDataset } from "./data.mjs";

/** `{ dir, db, t }`: the connection at `dir` and its table `main`. */
export async function filterTable(dim) {
  const data = makeDataset({
    rows: 1000000,
    dim,
    batch: 10000,
    knnRows: 0,
    queries: 0,
    exactQueries: 0,
    mergeRows: 0,
  });
  const dir = mkdtempSync(path.join(os.tmpdir(), "profile-"));
  const db = await palimpsest.connect(dir);
  const t = await db.createTable("main", data.table);
  return { dir, db, t };
}
