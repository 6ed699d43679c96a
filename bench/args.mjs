// Command-line flags and their defaults (full run and --quick). See bench/README.md.
import { parseArgs } from "node:util";

export const ENGINES = ["palimpsest", "lancedb", "purejs"];
/** Workloads in the order they run; filters and writes read the table ingest writes. */
export const WORKLOADS = ["ingest", "filters", "writes", "knn", "versions"];
const NEEDS = { filters: ["ingest"], writes: ["ingest"] };

// Defaults: sized to finish in under 10 minutes on a 2-core machine with the release build.
const FULL = {
  rows: 1_000_000,
  dim: 384,
  batch: 10_000,
  "knn-rows": 100_000,
  queries: 100,
  "exact-queries": 20,
  versions: 1000,
  "restore-rows": 1_000_000,
  "restore-big": 10_000_000,
  "merge-rows": 10_000,
  "disk-mb": 1024,
  "mem-mb": 256,
  runs: 3,
};

// --quick: a smoke run of every workload in seconds (the figures mean little).
const QUICK = {
  rows: 5_000,
  dim: 32,
  batch: 1_000,
  "knn-rows": 4_000,
  queries: 10,
  "exact-queries": 3,
  versions: 20,
  "restore-rows": 10_000,
  "restore-big": 100_000,
  "merge-rows": 500,
  "disk-mb": 32,
  "mem-mb": 32,
  runs: 1,
};

// Vector index settings, the same for both engines; 0 means "derive from the data".
const INDEX = {
  partitions: 0,
  "sub-vectors": 0,
  nprobes: 20,
  refine: 10,
  ef: 64,
  m: 16,
  "ef-construction": 100,
};

export function options(argv = process.argv.slice(2)) {
  const numeric = { ...FULL, ...INDEX };
  const spec = {
    quick: { type: "boolean", default: false },
    dir: { type: "string" },
    engines: { type: "string", default: ENGINES.join(",") },
    workloads: { type: "string", default: WORKLOADS.join(",") },
    out: { type: "string" },
    "no-write": { type: "boolean", default: false },
    "no-fsync": { type: "boolean", default: false },
    reverse: { type: "boolean", default: false },
  };
  for (const k of Object.keys(numeric)) spec[k] = { type: "string" };
  const { values } = parseArgs({ args: argv, options: spec });
  const base = values.quick ? { ...QUICK, ...INDEX } : numeric;
  const opts = {};
  for (const [k, def] of Object.entries(base)) {
    const raw = values[k];
    const n = raw === undefined ? def : Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${k} must be a non-negative integer`);
    opts[camel(k)] = n;
  }
  for (const k of ["rows", "dim", "batch", "knnRows", "queries", "exactQueries", "runs"]) {
    if (opts[k] <= 0) throw new Error(`--${kebab(k)} must be positive`);
  }
  if (opts.knnRows > opts.rows) opts.knnRows = opts.rows;
  // At most 100 IVF partitions (the data has 100 clusters): k-means over more is what makes
  // index builds dominate the run on 2 cores.
  opts.partitions ||= Math.max(1, Math.min(100, Math.round(Math.sqrt(opts.knnRows))));
  opts.subVectors ||= largestDivisorAtMost(opts.dim, Math.max(1, opts.dim / 16));
  const engines = values.engines.split(",").map((e) => e.trim());
  for (const e of engines) {
    if (!ENGINES.includes(e)) throw new Error(`unknown engine "${e}" (have: ${ENGINES})`);
  }
  const asked = new Set(values.workloads.split(",").map((w) => w.trim()));
  for (const w of asked) {
    if (!WORKLOADS.includes(w)) throw new Error(`unknown workload "${w}" (have: ${WORKLOADS})`);
    for (const needed of NEEDS[w] ?? []) asked.add(needed);
  }
  const workloads = WORKLOADS.filter((w) => asked.has(w));
  const partial = workloads.length < WORKLOADS.length;
  const ofRecord = !values.quick && !partial && !values["no-fsync"] && !values.reverse;
  return {
    ...opts,
    quick: values.quick,
    workloads,
    dir: values.dir,
    engines,
    // A quick run, a run of some workloads, one without flushes or one in the other order
    // writes a report only where --out says: BENCHMARKS.md holds full runs of record.
    out: values["no-write"] ? null : (values.out ?? (ofRecord ? "BENCHMARKS.md" : null)),
    // Every engine in the other position in every workload (see bench/run.mjs).
    reverse: values.reverse,
    // palimpsest without its flushes (`durable: false`), as LanceDB writes: shows what
    // durability costs each write. Runs of record leave it off.
    noFsync: values["no-fsync"],
    argv,
  };
}

function largestDivisorAtMost(n, max) {
  for (let d = Math.floor(max); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

const camel = (s) => s.replace(/-(\w)/g, (_, c) => c.toUpperCase());
const kebab = (s) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
