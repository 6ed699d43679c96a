// Exact kNN top-10, then IVF_PQ and IVF_HNSW_SQ: index build time, query latency p50/p99
// and recall@10 against the exact results (computed once, untimed, by plain JS).
import { quantile, timed } from "../measure.mjs";
import { Skipped } from "../results.mjs";

const K = 10;

function recallAt(got, truth) {
  const t = new Set(truth);
  let hit = 0;
  for (const id of got.slice(0, K)) if (t.has(id)) hit++;
  return hit / Math.min(K, truth.length);
}

// Latency of each query (after one warm-up query) and the mean recall@10.
async function queryRound(ctx, table, n, o) {
  const { engine: e, data } = ctx;
  await e.knn(table, data.queries[0], K, o);
  const lat = [];
  let recall = 0;
  for (let i = 0; i < n; i++) {
    const { seconds, out } = await timed(() => e.knn(table, data.queries[i], K, o));
    lat.push(seconds);
    recall += recallAt(out, data.truth[i]);
  }
  return { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), recall: recall / n };
}

function defineRound(rec, key, label) {
  rec.define(`${key}.p50`, "knn", `${label} p50`, "s", "lower");
  rec.define(`${key}.p99`, "knn", `${label} p99`, "s", "lower");
  rec.define(`${key}.recall`, "knn", `${label} recall@10`, "recall", "higher");
}

async function measureRound(ctx, key, table, n, o) {
  const { rec, engine: e } = ctx;
  try {
    if (!table) throw new Skipped("no table");
    const r = await queryRound(ctx, table, n, o);
    rec.set(`${key}.p50`, e.name, r.p50);
    rec.set(`${key}.p99`, e.name, r.p99);
    rec.set(`${key}.recall`, e.name, r.recall);
  } catch (err) {
    for (const s of ["p50", "p99", "recall"]) rec.fail(`${key}.${s}`, e.name, err);
  }
}

export async function run(ctx) {
  const { engine: e, opts, data, rec, state } = ctx;
  rec.define("knn.create", "knn", `create kNN table (${opts.knnRows} rows)`, "s", "lower");
  await rec.measure("knn.create", e.name, async () => {
    const { seconds, out } = await timed(() => e.createTable("knn", data.knnTable));
    state.knn = out;
    return seconds;
  });

  defineRound(rec, "knn.exact", `exact kNN top-10 over ${opts.knnRows} vectors`);
  await measureRound(ctx, "knn.exact", state.knn, opts.exactQueries, {});

  const settings = {
    numPartitions: opts.partitions,
    numSubVectors: opts.subVectors,
    m: opts.m,
    efConstruction: opts.efConstruction,
  };
  const rounds = [
    {
      key: "ivfpq",
      type: "ivfPq",
      label: `IVF_PQ (nprobes ${opts.nprobes}, refine ${opts.refine})`,
      query: { nprobes: opts.nprobes, refineFactor: opts.refine },
    },
    {
      key: "hnswsq",
      type: "hnswSq",
      label: `IVF_HNSW_SQ (nprobes ${opts.nprobes}, ef ${opts.ef})`,
      query: { nprobes: opts.nprobes, ef: opts.ef },
    },
  ];
  for (const r of rounds) {
    rec.define(
      `${r.key}.build`,
      "knn",
      `${r.key === "ivfpq" ? "IVF_PQ" : "IVF_HNSW_SQ"} index build`,
      "s",
      "lower",
    );
    defineRound(rec, r.key, r.label);
    // The second vector index replaces the first on the same column.
    const built = await rec.measure(`${r.key}.build`, e.name, async () => {
      if (!state.knn) throw new Skipped("no table");
      return (await timed(() => e.createIndex(state.knn, "vector", { type: r.type, ...settings })))
        .seconds;
    });
    if (!built) {
      for (const s of ["p50", "p99", "recall"])
        rec.copyFailure(`${r.key}.build`, `${r.key}.${s}`, e.name);
      continue;
    }
    await measureRound(ctx, r.key, state.knn, opts.queries, r.query);
  }
}
