// The versioning scenario of design.md (versions 1..9), on a local directory, through the
// built package. Run: `npm run demo` (or `node examples/demo.mjs [dir]`; default ./data).
//
// The original guide embeds the quotes with two sentence-transformers models
// (all-MiniLM-L6-v2, 384 dims; all-mpnet-base-v2, 768 dims). This demo needs no model:
// it uses small synthetic, deterministic pseudo-random unit vectors of the same sizes,
// so every run writes the same data.
import { Field, Int64, Schema, Utf8 } from "apache-arrow";
import { connect } from "../dist/index.mjs";

const uri = process.argv[2] || "./data";

/** Deterministic pseudo-random unit vector for `text` (a stand-in for a real embedding). */
function embed(text, dim) {
  let seed = 2166136261;
  for (const ch of `${dim}:${text}`) seed = Math.imul(seed ^ ch.codePointAt(0), 16777619) >>> 0;
  const next = () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const v = Array.from({ length: dim }, () => next() * 2 - 1);
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

const db = await connect(uri);

// Version 1: create the table (overwriting an earlier demo run's table as a new version
// would keep its history; start clean instead so the numbers match the guide).
if ((await db.tableNames()).includes("quotes")) await db.dropTable("quotes");
const schema = new Schema([
  new Field("id", new Int64(), true),
  new Field("author", new Utf8(), true),
  new Field("quote", new Utf8(), true),
]);
const data = [
  { id: 1, author: "Richard", quote: "Wubba Lubba Dub Dub!" },
  { id: 2, author: "Morty", quote: "Rick, what's going on?" },
  { id: 3, author: "Richard", quote: "I turned myself into a pickle, Morty!" },
];
const table = await db.createTable("quotes", data, {
  schema,
  mode: "overwrite",
  message: "seed quotes",
});
console.log(`Number of versions after creation: ${(await table.listVersions()).length}`);
console.log(`Current version: ${await table.version()}`);

// Version 2: update; version 3: append.
await table.update({
  where: "author='Richard'",
  values: { author: "Richard Daniel Sanchez" },
  message: "full name for Rick",
});
console.log(`Number of rows after update: ${await table.countRows()}`);
await table.add(
  [
    { id: 4, author: "Richard Daniel Sanchez", quote: "That's the way the news goes!" },
    { id: 5, author: "Morty", quote: "Aww geez, Rick!" },
  ],
  { message: "two more quotes" },
);
const afterMod = await table.version();
console.log(`Number of versions after modifications: ${(await table.listVersions()).length}`);
console.log(`Current version: ${afterMod}`);

// Versions 4 and 5: a 384-dim vector column, filled by a merge on id.
const rows = await table.query().limit(5).toArray();
const minilm = rows.map((r) => ({ id: r.id, vector_minilm: embed(`minilm:${r.quote}`, 384) }));
console.log(`Vector dimension: ${minilm[0].vector_minilm.length}`);
await table.addColumns(
  [{ name: "vector_minilm", valueSql: "arrow_cast(NULL, 'FixedSizeList(384, Float32)')" }],
  { message: "column for MiniLM embeddings" },
);
await table
  .mergeInsert("id")
  .whenMatchedUpdateAll()
  .whenNotMatchedInsertAll()
  .execute(minilm, { message: "embed with MiniLM", properties: { model: "all-MiniLM-L6-v2" } });
console.log(`Number of versions after adding embeddings: ${(await table.listVersions()).length}`);
console.log(`Current version: ${await table.version()}`);
console.log(String(await table.schema()));

for (const v of await table.listVersions()) {
  console.log(`Version ${v.version}, created at ${v.timestamp.toISOString()}`);
}

// Version 6: roll back to the state before the vector column (history is kept).
await table.restore(afterMod, { message: "roll back MiniLM" });
console.log(`Total number of versions after rollback: ${(await table.listVersions()).length}`);

// Versions 7 and 8: a 768-dim vector column for another "model".
const mpnet = rows.map((r) => ({ id: r.id, vector_mpnet: embed(`mpnet:${r.quote}`, 768) }));
console.log(`Vector dimension: ${mpnet[0].vector_mpnet.length}`);
await table.addColumns(
  [{ name: "vector_mpnet", valueSql: "arrow_cast(NULL, 'FixedSizeList(768, Float32)')" }],
  { message: "column for MPNet embeddings" },
);
await table
  .mergeInsert("id")
  .whenMatchedUpdateAll()
  .whenNotMatchedInsertAll()
  .execute(mpnet, { message: "embed with MPNet", properties: { model: "all-mpnet-base-v2" } });
console.log(`Number of versions after switching model: ${(await table.listVersions()).length}`);
console.log(`Current version: ${await table.version()}`);
console.log(String(await table.schema()));

// Version 9: back to the latest version, then delete.
await table.checkoutLatest();
await table.delete("author != 'Richard Daniel Sanchez'", { message: "keep only Rick" });
console.log(`Number of rows after deletion: ${await table.countRows()}`);

// The history, read back version by version.
const history = [];
for (const v of await table.listVersions()) {
  await table.checkout(v.version);
  history.push({
    version: v.version,
    time: v.timestamp.toISOString(),
    rows: await table.countRows(),
    columns: (await table.schema()).fields.map((f) => f.name).join(", "),
  });
}
await table.checkoutLatest();

const header = { version: "version", time: "time", rows: "rows", columns: "columns" };
const width = (key) => Math.max(...[header, ...history].map((h) => String(h[key]).length));
const line = (h) =>
  [
    String(h.version).padStart(width("version")),
    String(h.time).padEnd(width("time")),
    String(h.rows).padStart(width("rows")),
    h.columns,
  ].join("  ");
console.log(`\nVersion history of "quotes" in ${uri}:`);
console.log(line(header));
for (const h of history) console.log(line(h));

// The same history as the version log: what each version did and why.
console.log(`\nLog of "quotes" (newest first):`);
console.log(await table.history());

table.close();
db.close();
