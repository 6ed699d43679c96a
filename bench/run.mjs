// Throughput benchmark: palimpsest vs @lancedb/lancedb on the same Arrow data, in one process.
// Usage: node bench/run.mjs [--rows N] [--dim D] [--batch B] [--dir PATH] [--engines a,b]
// See bench/README.md.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import {
  Field,
  FixedSizeList,
  Float32,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  Utf8,
  vectorFromArray,
} from "apache-arrow";

const ENGINES = ["palimpsest", "lancedb"];
const READ_RUNS = 3;
const CATEGORIES = 10;

// ------------------------------------------------------------------ options

function options() {
  const { values } = parseArgs({
    options: {
      rows: { type: "string", default: "1000000" },
      dim: { type: "string", default: "384" },
      batch: { type: "string", default: "10000" },
      dir: { type: "string" },
      engines: { type: "string", default: ENGINES.join(",") },
    },
  });
  const int = (name) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
    return n;
  };
  const engines = values.engines.split(",").map((e) => e.trim());
  for (const e of engines) {
    if (!ENGINES.includes(e)) throw new Error(`unknown engine "${e}" (have: ${ENGINES})`);
  }
  return { rows: int("rows"), dim: int("dim"), batch: int("batch"), dir: values.dir, engines };
}

// ------------------------------------------------------------------ data

// mulberry32: a tiny seeded PRNG, so every run (and both engines) see identical data.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ["lance", "arrow", "table", "vector", "index", "schema", "version", "column"];

// One RecordBatch of rows [start, start + n). The vector column is a single Float32Array
// wrapped with makeData, so building it costs one allocation, not one per row.
function makeBatch(schema, start, n, dim, rand) {
  const ids = new BigInt64Array(n);
  const texts = new Array(n);
  const cats = new Array(n);
  const floats = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const id = start + i;
    ids[i] = BigInt(id);
    let s = `row ${id}:`;
    while (s.length < 40) s += ` ${WORDS[Math.floor(rand() * WORDS.length)]}`;
    texts[i] = s;
    cats[i] = `cat${id % CATEGORIES}`;
  }
  for (let j = 0; j < floats.length; j++) floats[j] = rand() * 2 - 1;

  const [, , , vecField] = schema.fields;
  const children = [
    makeData({ type: new Int64(), length: n, data: ids }),
    vectorFromArray(texts, new Utf8()).data[0],
    vectorFromArray(cats, new Utf8()).data[0],
    makeData({
      type: vecField.type,
      length: n,
      nullCount: 0,
      child: makeData({ type: new Float32(), length: n * dim, data: floats }),
    }),
  ];
  const data = makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children });
  return new RecordBatch(schema, data);
}

// Built once, before any engine runs, so data generation is never part of a timing.
function makeDataset(rows, dim, batchRows) {
  const schema = new Schema([
    new Field("id", new Int64(), false),
    new Field("text", new Utf8(), false),
    new Field("category", new Utf8(), false),
    new Field("vector", new FixedSizeList(dim, new Field("item", new Float32(), true)), false),
  ]);
  const rand = prng(42);
  const batches = [];
  for (let start = 0; start < rows; start += batchRows) {
    batches.push(makeBatch(schema, start, Math.min(batchRows, rows - start), dim, rand));
  }
  const bytes = batches.reduce((sum, b) => sum + b.data.byteLength, 0);
  return { batches, bytes };
}

// ------------------------------------------------------------------ engines

// Both engines expose connect(uri) → { createTable, close }, and tables with add, toArrow,
// countRows (palimpsest mirrors @lancedb/lancedb), so one runner drives both.
async function loadEngine(name) {
  if (name === "palimpsest") return import("../dist/index.mjs");
  return import("@lancedb/lancedb");
}

// ------------------------------------------------------------------ workloads

// Each workload returns { seconds, rows } (plus bytes for MB/s); a throw marks the cell failed.

async function workloadAdd(db, data) {
  // Create from the first batch, then one add per batch: each add is a separate commit
  // (a new version), which is how incremental ingestion looks. Both engines get the
  // same calls with the same arrow Tables.
  const [first, ...rest] = data.batches;
  const t0 = performance.now();
  const table = await db.createTable("bench", new Table([first]), { mode: "overwrite" });
  for (const b of rest) await table.add(new Table([b]));
  const seconds = (performance.now() - t0) / 1000;
  return { table, result: { seconds, rows: data.rows, bytes: data.bytes } };
}

// Reads are repeated and the median kept, to damp page-cache and GC noise.
async function median(fn) {
  const times = [];
  for (let i = 0; i < READ_RUNS; i++) {
    globalThis.gc?.();
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

async function workloadToArrow(table, data) {
  const seconds = await median(async () => {
    const t = await table.toArrow();
    // A short read would make the figure meaningless, so check it.
    if (t.numRows !== data.rows) throw new Error(`toArrow returned ${t.numRows} rows`);
  });
  // MB/s is over the input's Arrow size: the same logical data for both engines.
  return { seconds, rows: data.rows, bytes: data.bytes };
}

async function workloadCount(table, data, filter, expected) {
  const seconds = await median(async () => {
    const n = await table.countRows(filter);
    if (n !== expected) throw new Error(`countRows(${filter}) returned ${n}, want ${expected}`);
  });
  // countRows with a filter has to scan every row, so the rate is over all rows.
  return { seconds, rows: data.rows };
}

// ------------------------------------------------------------------ runner

const WORKLOADS = ["add", "toArrow", "count id % 10 = 3", "count category = 'cat3'"];

// Rows of the id range [0, rows) with id % 10 = 3 (category cat3 is the same set).
function expectedCount(rows) {
  return Math.floor(rows / 10) + (rows % 10 > 3 ? 1 : 0);
}

async function runEngine(name, dir, data) {
  const results = {};
  let db;
  let table;
  try {
    const lib = await loadEngine(name);
    db = await lib.connect(path.join(dir, name));
    const added = await workloadAdd(db, data);
    table = added.table;
    results.add = added.result;
    progress(name, "add", results.add);
  } catch (err) {
    results.add = { error: err };
    progress(name, "add", results.add);
    // Without a table no read can run; say so rather than repeat the error.
    for (const w of WORKLOADS.slice(1)) results[w] = { skipped: "not run (add failed)" };
    db?.close?.();
    return results;
  }
  const expected = expectedCount(data.rows);
  const reads = {
    toArrow: () => workloadToArrow(table, data),
    "count id % 10 = 3": () => workloadCount(table, data, "id % 10 = 3", expected),
    "count category = 'cat3'": () => workloadCount(table, data, "category = 'cat3'", expected),
  };
  for (const [w, run] of Object.entries(reads)) {
    try {
      results[w] = await run();
    } catch (err) {
      results[w] = { error: err };
    }
    progress(name, w, results[w]);
  }
  table.close?.();
  db.close?.();
  return results;
}

// ------------------------------------------------------------------ output

const fmt = (n, digits = 0) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const mb = (bytes) => bytes / 1e6;
// Sub-second reads in ms, so a 2 ms count does not print as "0.002 s".
const secs = (s) => (s < 1 ? `${fmt(s * 1000, 1)} ms` : `${fmt(s, 2)} s`);

function cell(r) {
  if (!r) return "skipped";
  if (r.skipped) return r.skipped;
  if (r.error) return `ERROR: ${errorText(r.error).slice(0, 50)}`;
  const rate = `${fmt(r.rows / r.seconds)} rows/s`;
  const mbs = r.bytes ? `, ${fmt(mb(r.bytes) / r.seconds, 1)} MB/s` : "";
  return `${secs(r.seconds)}, ${rate}${mbs}`;
}

function ratio(a, b) {
  if (!a?.seconds || !b?.seconds) return "-";
  return `${fmt(b.seconds / a.seconds, 2)}x`; // same rows on both sides: speed ratio = time ratio inverted
}

function errorText(err) {
  const code = err?.code ? `${err.code}: ` : "";
  return `${code}${err?.message ?? String(err)}`.replace(/\s+/g, " ");
}

function progress(engine, workload, r) {
  process.stderr.write(`  ${engine} ${workload}: ${cell(r)}\n`);
}

function rss() {
  return `${fmt(mb(process.memoryUsage().rss))} MB`;
}

function printTable(all) {
  const header = ["workload", "palimpsest", "lancedb", "ratio (p/l speed)"];
  const rows = WORKLOADS.map((w) => {
    const p = all.palimpsest?.[w];
    const l = all.lancedb?.[w];
    return [w, cell(p), cell(l), ratio(p, l)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cols) => `| ${cols.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of rows) console.log(line(r));

  // Full error messages below the table, which only has room for their start.
  for (const [engine, results] of Object.entries(all)) {
    const seen = new Set();
    for (const w of WORKLOADS) {
      const e = results[w]?.error;
      if (e && !seen.has(e)) {
        seen.add(e);
        console.log(`\n${engine} ${w} failed: ${errorText(e)}`);
      }
    }
  }
}

// ------------------------------------------------------------------ main

async function main() {
  const opts = options();
  const cpus = os.cpus();
  console.log(
    `machine: ${cpus.length} x ${cpus[0]?.model ?? "unknown cpu"}, ` +
      `${fmt(os.totalmem() / 2 ** 30, 1)} GiB RAM, node ${process.version}, ${os.platform()}-${os.arch()}`,
  );

  const t0 = performance.now();
  const data = { ...makeDataset(opts.rows, opts.dim, opts.batch), rows: opts.rows };
  console.log(
    `data: ${fmt(opts.rows)} rows x (id int64, text utf8 ~40 chars, category utf8, ` +
      `vector float32[${opts.dim}]) in ${data.batches.length} batches of <= ${fmt(opts.batch)} rows, ` +
      `${fmt(mb(data.bytes), 1)} MB in Arrow (built in ${fmt((performance.now() - t0) / 1000, 1)} s)`,
  );

  // A fresh temp dir unless --dir is given; only a dir we created is removed afterwards.
  const dir = opts.dir ?? mkdtempSync(path.join(os.tmpdir(), "palimpsest-bench-"));
  console.log(`dir: ${dir}`);
  console.log(`reads: median of ${READ_RUNS} runs; RSS after data built: ${rss()}\n`);

  const all = {};
  for (const name of opts.engines) {
    process.stderr.write(`${name}:\n`);
    all[name] = await runEngine(name, dir, data);
    // RSS is cumulative: both engines share this process, so the second includes the first.
    console.log(`RSS after ${name}: ${rss()}`);
  }
  console.log();
  printTable(all);

  if (!opts.dir) rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
