// Synthetic data, built once before any engine runs so generation is never timed.
// Rows: id int64, text utf8 (~40 chars), category utf8 (cat0..cat9, = id % 10), and a
// clustered float32 vector: a cluster centroid, plus a point in that cluster's own
// 8-dimensional subspace, plus small isotropic noise (so neighbours are meaningful, as in
// real embeddings, and IVF partitions follow the clusters). Seeded: every run is identical.
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
// The tests' seeded PRNG (mulberry32), so generated data is the same on every run.
import { rng as prng } from "../__test__/helpers/prng.mjs";

export const CATEGORIES = 10;
const CLUSTERS = 100;
const LATENT = 8;
const WORDS = ["lance", "arrow", "table", "vector", "index", "schema", "version", "column"];

// Roughly N(0, 1): the sum of four uniforms, rescaled.
const gauss = (rand) => (rand() + rand() + rand() + rand() - 2) * Math.sqrt(3);

export function mainSchema(dim) {
  return new Schema([
    new Field("id", new Int64(), false),
    new Field("text", new Utf8(), false),
    new Field("category", new Utf8(), false),
    new Field("vector", new FixedSizeList(dim, new Field("item", new Float32(), true)), false),
  ]);
}

// The cluster model: centroids, per-cluster bases, and a table of noise values.
function model(dim) {
  const rand = prng(7);
  const centroids = new Float32Array(CLUSTERS * dim);
  for (let i = 0; i < centroids.length; i++) centroids[i] = rand() * 2 - 1;
  const bases = new Float32Array(CLUSTERS * LATENT * dim);
  for (let i = 0; i < bases.length; i++) bases[i] = (rand() * 2 - 1) * 0.3;
  const noise = new Float32Array(1 << 16);
  for (let i = 0; i < noise.length; i++) noise[i] = gauss(rand) * 0.05;
  return { dim, centroids, bases, noise };
}

// Write one clustered vector into out[o .. o + dim).
function fillVector(m, rand, out, o) {
  const { dim, centroids, bases, noise } = m;
  const c = Math.floor(rand() * CLUSTERS);
  const mask = noise.length - 1;
  let n = Math.floor(rand() * noise.length);
  const step = 1 + 2 * Math.floor(rand() * 1000); // odd: walks the whole table
  for (let j = 0; j < dim; j++) {
    out[o + j] = centroids[c * dim + j] + noise[n];
    n = (n + step) & mask;
  }
  for (let l = 0; l < LATENT; l++) {
    const g = gauss(rand);
    const b = (c * LATENT + l) * dim;
    for (let j = 0; j < dim; j++) out[o + j] += g * bases[b + j];
  }
}

// A RecordBatch of rows with ids [start, start + n), vectors from `rand`.
export function makeBatch(schema, m, start, n, rand, textPrefix = "row") {
  const dim = m.dim;
  const ids = new BigInt64Array(n);
  const texts = new Array(n);
  const cats = new Array(n);
  const floats = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const id = start + i;
    ids[i] = BigInt(id);
    let s = `${textPrefix} ${id}:`;
    while (s.length < 40) s += ` ${WORDS[Math.floor(rand() * WORDS.length)]}`;
    texts[i] = s;
    cats[i] = `cat${id % CATEGORIES}`;
    fillVector(m, rand, floats, i * dim);
  }
  const vecType = schema.fields[3].type;
  const children = [
    makeData({ type: new Int64(), length: n, data: ids }),
    vectorFromArray(texts, new Utf8()).data[0],
    vectorFromArray(cats, new Utf8()).data[0],
    makeData({
      type: vecType,
      length: n,
      nullCount: 0,
      child: makeData({ type: new Float32(), length: n * dim, data: floats }),
    }),
  ];
  const data = makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children });
  return new RecordBatch(schema, data);
}

/**
 * Everything the workloads need: the main table's batches, the kNN table (its first
 * knnRows rows), query vectors, the mergeInsert source (half existing ids, half new).
 */
export function makeDataset(opts) {
  const m = model(opts.dim);
  const schema = mainSchema(opts.dim);
  const rand = prng(42);
  const batches = [];
  for (let start = 0; start < opts.rows; start += opts.batch) {
    batches.push(makeBatch(schema, m, start, Math.min(opts.batch, opts.rows - start), rand));
  }
  const bytes = batches.reduce((s, b) => s + b.data.byteLength, 0);

  const knnBatches = [];
  for (let left = opts.knnRows, i = 0; left > 0; i++) {
    const b = batches[i];
    knnBatches.push(b.numRows <= left ? b : b.slice(0, left));
    left -= Math.min(left, b.numRows);
  }

  const qrand = prng(4242);
  const queries = [];
  const qbuf = new Float32Array(opts.dim);
  for (let q = 0; q < Math.max(opts.queries, opts.exactQueries); q++) {
    fillVector(m, qrand, qbuf, 0);
    queries.push(Float32Array.from(qbuf));
  }

  // mergeInsert source: mergeRows rows, the first half updating existing ids spread over
  // the table, the second half new ids past the end.
  const mrand = prng(99);
  const half = Math.floor(opts.mergeRows / 2);
  const mergeIds = new Array(opts.mergeRows);
  const spread = Math.max(1, Math.floor(opts.rows / Math.max(1, half)));
  for (let i = 0; i < half; i++) mergeIds[i] = (i * spread) % opts.rows;
  for (let i = half; i < opts.mergeRows; i++) mergeIds[i] = opts.rows + (i - half);
  const merge =
    opts.mergeRows > 0 ? makeBatch(schema, m, 0, opts.mergeRows, mrand, "merged") : null;
  const mergeTable = merge ? withIds(merge, mergeIds) : null;

  return {
    schema,
    batches,
    bytes,
    table: new Table(batches),
    knnTable: new Table(knnBatches),
    knnBytes: knnBatches.reduce((s, b) => s + b.data.byteLength, 0),
    queries,
    mergeTable,
  };
}

/** The main table alone with the 10,000-row merge source: the write and branch profiles'. */
export function mainTableDataset(rows, dim) {
  return makeDataset({
    rows,
    dim,
    batch: 10_000,
    knnRows: 0,
    queries: 0,
    exactQueries: 0,
    mergeRows: 10_000,
  });
}

// The same batch with other ids (and categories following them).
function withIds(batch, ids) {
  const n = batch.numRows;
  const idArr = BigInt64Array.from(ids, (x) => BigInt(x));
  const cats = ids.map((x) => `cat${x % CATEGORIES}`);
  const children = [
    makeData({ type: new Int64(), length: n, data: idArr }),
    batch.getChildAt(1).data[0],
    vectorFromArray(cats, new Utf8()).data[0],
    batch.getChildAt(3).data[0],
  ];
  const data = makeData({
    type: new Struct(batch.schema.fields),
    length: n,
    nullCount: 0,
    children,
  });
  return new Table([new RecordBatch(batch.schema, data)]);
}

/** A table of `rows` small rows (id int64 only), in batches of a million. */
export function smallTable(rows, start = 0) {
  const schema = new Schema([new Field("id", new Int64(), false)]);
  const batches = [];
  for (let s = 0; s < rows; s += 1_000_000) {
    const n = Math.min(1_000_000, rows - s);
    const ids = new BigInt64Array(n);
    for (let i = 0; i < n; i++) ids[i] = BigInt(start + s + i);
    const col = makeData({ type: new Int64(), length: n, data: ids });
    const data = makeData({
      type: new Struct(schema.fields),
      length: n,
      nullCount: 0,
      children: [col],
    });
    batches.push(new RecordBatch(schema, data));
  }
  return new Table(schema, batches);
}
