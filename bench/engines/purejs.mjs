// The pure-JS engine: apache-arrow in memory plus plain loops over typed arrays, with the
// same query semantics as the other two for the workloads that make sense in memory
// (no persistence, no versions, no indexes). Rules, so the comparison is honest:
//   - data lives in typed arrays (one copy taken at ingest, as a store must own its data);
//   - predicates run on the raw buffers (utf8 bytes compared in place, int64 read as two
//     32-bit words), never through per-row objects or strings;
//   - deletions are a per-part byte mask checked in every scan, as lance's deletion files;
//   - update / mergeInsert mark old rows deleted and append new rows, as lance does;
//   - results are built as apache-arrow data with one allocation per column.
import { Field, Int64, makeData, RecordBatch, Schema, Struct, Table, Utf8 } from "apache-arrow";
import { NotAvailable } from "./common.mjs";

const TWO32 = 4294967296;
const encoder = new TextEncoder();

export async function load() {
  const noVersions = () => {
    throw new NotAvailable("in-memory");
  };
  return {
    name: "purejs",
    versioned: false,
    async connect() {},
    closeDb() {},
    createTable: async (_name, data) => {
      const t = { schema: data.schema, parts: [] };
      for (const b of data.batches) t.parts.push(ingest(b));
      return t;
    },
    add: async (t, data) => {
      for (const b of data.batches) t.parts.push(ingest(b));
    },
    openTable: noVersions,
    toArrow: async (t) => toArrow(t),
    scan: (t) => scan(t),
    filteredScan: async (t, filter, columns) => filteredScan(t, filter, columns).numRows,
    count: async (t, filter) => count(t, filter),
    createIndex: async () => {
      throw new NotAvailable("no indexes");
    },
    knn: async (t, vector, k, o = {}) => {
      if (o.nprobes !== undefined || o.ef !== undefined) throw new NotAvailable("exact only");
      return knn(t, vector, k);
    },
    update: async (t, filter, column, value) => update(t, filter, column, value.js),
    mergeInsert: async (t, key, data) => mergeInsert(t, key, data),
    delete: async (t, filter) => {
      for (const p of t.parts) {
        const sel = select(p, filter.js);
        if (sel.length > 0) markDeleted(p, sel);
      }
    },
    checkout: noVersions,
    checkoutLatest: noVersions,
    listVersions: noVersions,
    restore: noVersions,
    createBranch: noVersions,
    close() {},
    // Exposed for the ground truth of recall (exact results, untimed).
    exact: knn,
  };
}

// ------------------------------------------------------------------ storage

// A part: one ingested batch, as typed arrays, plus its deletion mask.
function ingest(batch) {
  const cols = {};
  for (const [i, f] of batch.schema.fields.entries()) {
    cols[f.name] = copyColumn(batch.getChildAt(i).data[0], batch.numRows);
  }
  const p = { n: batch.numRows, schema: batch.schema, cols, deleted: null, live: batch.numRows };
  p.batch = toBatch(p.schema, p.cols, p.n);
  return p;
}

// apache-arrow slices fixed-width buffers and value offsets along with the Data (its
// offset is then already applied), so buffers are read from 0 here.
function copyColumn(d, n) {
  const t = d.type;
  if (t.typeId === new Int64().typeId) {
    const values = d.values.slice(0, n);
    return { kind: "int64", values, words: new Int32Array(values.buffer) };
  }
  if (t.typeId === new Utf8().typeId) {
    const offs = d.valueOffsets.subarray(0, n + 1);
    const base = offs[0];
    const bytes = d.values.slice(base, offs[n]);
    const offsets = new Int32Array(n + 1);
    for (let i = 0; i <= n; i++) offsets[i] = offs[i] - base;
    return { kind: "utf8", offsets, bytes };
  }
  if (t.listSize !== undefined) {
    const dim = t.listSize;
    const values = d.children[0].values.slice(0, n * dim);
    return { kind: "vector", dim, values, type: t };
  }
  throw new Error(`purejs: unsupported column type ${t}`);
}

function columnData(col, n) {
  if (col.kind === "int64") return makeData({ type: new Int64(), length: n, data: col.values });
  if (col.kind === "utf8") {
    return makeData({ type: new Utf8(), length: n, valueOffsets: col.offsets, data: col.bytes });
  }
  const child = makeData({
    type: col.type.children[0].type,
    length: n * col.dim,
    data: col.values,
  });
  return makeData({ type: col.type, length: n, nullCount: 0, child });
}

function toBatch(schema, cols, n) {
  const children = schema.fields.map((f) => columnData(cols[f.name], n));
  const data = makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children });
  return new RecordBatch(schema, data);
}

// ------------------------------------------------------------------ predicates

// Indices of the live rows of part p matching the predicate, as an Int32Array.
function select(p, pred) {
  const n = p.n;
  const del = p.deleted;
  const out = new Int32Array(n);
  let c = 0;
  const col = p.cols[pred.column];
  if (pred.op === "eq" && col.kind === "utf8") {
    const needle = encoder.encode(pred.value);
    const len = needle.length;
    const { offsets, bytes } = col;
    for (let i = 0; i < n; i++) {
      if (del !== null && del[i] !== 0) continue;
      const s = offsets[i];
      if (offsets[i + 1] - s !== len) continue;
      let j = 0;
      while (j < len && bytes[s + j] === needle[j]) j++;
      if (j === len) out[c++] = i;
    }
  } else if (col.kind === "int64") {
    // int64 as hi * 2^32 + lo: exact for ids within +-2^53.
    const w = col.words;
    if (pred.op === "range") {
      const { lo, hi } = pred;
      for (let i = 0; i < n; i++) {
        if (del !== null && del[i] !== 0) continue;
        const v = w[2 * i + 1] * TWO32 + (w[2 * i] >>> 0);
        if (v >= lo && v < hi) out[c++] = i;
      }
    } else if (pred.op === "mod") {
      const { m, r } = pred;
      for (let i = 0; i < n; i++) {
        if (del !== null && del[i] !== 0) continue;
        const v = w[2 * i + 1] * TWO32 + (w[2 * i] >>> 0);
        if (v % m === r) out[c++] = i;
      }
    } else throw new Error(`purejs: unsupported op ${pred.op}`);
  } else throw new Error(`purejs: unsupported predicate on ${pred.column}`);
  return out.subarray(0, c);
}

function count(t, filter) {
  let total = 0;
  for (const p of t.parts) total += select(p, filter.js).length;
  return total;
}

// ------------------------------------------------------------------ gathering

function gatherColumn(col, sel) {
  const c = sel.length;
  if (col.kind === "int64") {
    const values = new BigInt64Array(c);
    const w = new Int32Array(values.buffer);
    const src = col.words;
    for (let i = 0; i < c; i++) {
      w[2 * i] = src[2 * sel[i]];
      w[2 * i + 1] = src[2 * sel[i] + 1];
    }
    return { kind: "int64", values, words: w };
  }
  if (col.kind === "utf8") {
    const { offsets, bytes } = col;
    const outOffsets = new Int32Array(c + 1);
    for (let i = 0; i < c; i++) {
      const j = sel[i];
      outOffsets[i + 1] = outOffsets[i] + offsets[j + 1] - offsets[j];
    }
    const outBytes = new Uint8Array(outOffsets[c]);
    for (let i = 0; i < c; i++) {
      const s = offsets[sel[i]];
      const len = outOffsets[i + 1] - outOffsets[i];
      const o = outOffsets[i];
      for (let k = 0; k < len; k++) outBytes[o + k] = bytes[s + k];
    }
    return { kind: "utf8", offsets: outOffsets, bytes: outBytes };
  }
  const { dim, values: src } = col;
  const values = new Float32Array(c * dim);
  for (let i = 0; i < c; i++) {
    const s = sel[i] * dim;
    const o = i * dim;
    for (let k = 0; k < dim; k++) values[o + k] = src[s + k];
  }
  return { kind: "vector", dim, values, type: col.type };
}

function constantUtf8(value, c) {
  const b = encoder.encode(value);
  const offsets = new Int32Array(c + 1);
  const bytes = new Uint8Array(b.length * c);
  for (let i = 0; i < c; i++) {
    bytes.set(b, i * b.length);
    offsets[i + 1] = (i + 1) * b.length;
  }
  return { kind: "utf8", offsets, bytes };
}

function liveIndices(p) {
  const out = new Int32Array(p.live);
  let c = 0;
  for (let i = 0; i < p.n; i++) if (p.deleted[i] === 0) out[c++] = i;
  return out;
}

// A part's visible rows as one RecordBatch: the stored batch itself when nothing is deleted.
function visibleBatch(p) {
  if (p.deleted === null) return p.batch;
  const sel = liveIndices(p);
  const cols = {};
  for (const f of p.schema.fields) cols[f.name] = gatherColumn(p.cols[f.name], sel);
  return toBatch(p.schema, cols, sel.length);
}

function toArrow(t) {
  return new Table(t.schema, t.parts.map(visibleBatch));
}

async function* scan(t) {
  for (const p of t.parts) yield visibleBatch(p);
}

function filteredScan(t, filter, columns) {
  const fields = columns.map((c) => t.schema.fields.find((f) => f.name === c));
  const schema = new Schema(fields.map((f) => new Field(f.name, f.type, f.nullable)));
  const batches = [];
  for (const p of t.parts) {
    const sel = select(p, filter.js);
    if (sel.length === 0) continue;
    const cols = {};
    for (const c of columns) cols[c] = gatherColumn(p.cols[c], sel);
    batches.push(toBatch(schema, cols, sel.length));
  }
  return new Table(schema, batches);
}

// ------------------------------------------------------------------ writes

function markDeleted(p, sel) {
  p.deleted ??= new Uint8Array(p.n);
  for (let i = 0; i < sel.length; i++) {
    if (p.deleted[sel[i]] === 0) {
      p.deleted[sel[i]] = 1;
      p.live--;
    }
  }
}

function appendPart(t, cols, n) {
  const p = { n, schema: t.schema, cols, deleted: null, live: n };
  p.batch = toBatch(t.schema, cols, n);
  t.parts.push(p);
}

// Matching rows become deleted; copies with the new value are appended as one part.
function update(t, filter, column, value) {
  const fresh = [];
  for (const p of t.parts) {
    const sel = select(p, filter.js);
    if (sel.length === 0) continue;
    const cols = {};
    for (const f of t.schema.fields) {
      cols[f.name] =
        f.name === column ? constantUtf8(value, sel.length) : gatherColumn(p.cols[f.name], sel);
    }
    fresh.push({ cols, n: sel.length });
    markDeleted(p, sel);
  }
  for (const f of fresh) appendPart(t, f.cols, f.n);
}

// Hash join on the key: target rows whose key is in the source become deleted, then the
// whole source is appended (updates and inserts alike), as lance's merge insert does.
function mergeInsert(t, key, data) {
  const keys = new Set();
  for (const b of data.batches) {
    const w = copyColumn(
      b.getChildAt(b.schema.fields.findIndex((f) => f.name === key)).data[0],
      b.numRows,
    ).words;
    for (let i = 0; i < b.numRows; i++) keys.add(w[2 * i + 1] * TWO32 + (w[2 * i] >>> 0));
  }
  for (const p of t.parts) {
    const w = p.cols[key].words;
    const del = p.deleted;
    const hits = [];
    for (let i = 0; i < p.n; i++) {
      if (del !== null && del[i] !== 0) continue;
      if (keys.has(w[2 * i + 1] * TWO32 + (w[2 * i] >>> 0))) hits.push(i);
    }
    if (hits.length > 0) markDeleted(p, hits);
  }
  for (const b of data.batches) t.parts.push(ingest(b));
}

// ------------------------------------------------------------------ kNN

// Exact top-k by squared L2 distance over every live row; returns ids, nearest first.
function knn(t, q, k) {
  const topD = new Float64Array(k).fill(Number.POSITIVE_INFINITY);
  const topP = new Int32Array(k).fill(-1);
  const topR = new Int32Array(k);
  const dim = q.length;
  for (let pi = 0; pi < t.parts.length; pi++) {
    const p = t.parts[pi];
    const v = p.cols.vector.values;
    const del = p.deleted;
    for (let r = 0; r < p.n; r++) {
      if (del !== null && del[r] !== 0) continue;
      const o = r * dim;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let j = 0;
      for (; j + 3 < dim; j += 4) {
        const d0 = v[o + j] - q[j];
        const d1 = v[o + j + 1] - q[j + 1];
        const d2 = v[o + j + 2] - q[j + 2];
        const d3 = v[o + j + 3] - q[j + 3];
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
      }
      for (; j < dim; j++) {
        const d = v[o + j] - q[j];
        s0 += d * d;
      }
      const dist = s0 + s1 + s2 + s3;
      if (dist >= topD[k - 1]) continue;
      let i = k - 1;
      while (i > 0 && topD[i - 1] > dist) {
        topD[i] = topD[i - 1];
        topP[i] = topP[i - 1];
        topR[i] = topR[i - 1];
        i--;
      }
      topD[i] = dist;
      topP[i] = pi;
      topR[i] = r;
    }
  }
  const ids = [];
  for (let i = 0; i < k && topP[i] >= 0; i++) {
    const w = t.parts[topP[i]].cols.id.words;
    ids.push(w[2 * topR[i] + 1] * TWO32 + (w[2 * topR[i]] >>> 0));
  }
  return ids;
}
