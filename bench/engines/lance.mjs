// What palimpsest and @lancedb/lancedb share: palimpsest follows lancedb's API, so one
// adapter drives both; palimpsest.mjs and lancedb.mjs fill in the differences.
import { idsOf, NotAvailable } from "./common.mjs";

/**
 * @param lib the imported module ({ connect, Index? })
 * @param overrides restore / branch / index differences; `stableRowIdsByDefault` and
 *   `kindOptions(stable)`, the createTable options for a table with or without stable row ids
 */
export function lanceAdapter(name, lib, overrides = {}) {
  let db;
  const base = {
    name,
    async connect(dir) {
      db = await (overrides.connectOptions
        ? lib.connect(dir, overrides.connectOptions)
        : lib.connect(dir));
    },
    closeDb() {
      db?.close?.();
    },
    // `kind.stableRowIds`: a table of that kind (`overrides.kindOptions` says how to ask).
    createTable: (tableName, data, kind = {}) =>
      db.createTable(tableName, data, {
        mode: "overwrite",
        ...(kind.stableRowIds === undefined ? {} : overrides.kindOptions(kind.stableRowIds)),
      }),
    openTable: (tableName) => db.openTable(tableName),
    add: (t, data) => t.add(data),
    toArrow: (t) => t.toArrow(),
    scan: (t) => t.query(),
    async filteredScan(t, filter, columns) {
      const r = await t.query().where(filter.sql).select(columns).toArrow();
      return r.numRows;
    },
    count: (t, filter) => t.countRows(filter.sql),
    async createIndex(t, column, spec) {
      if (typeof t.createIndex !== "function" || !lib.Index) {
        throw new NotAvailable("not built");
      }
      await t.createIndex(column, { config: indexConfig(lib.Index, spec) });
    },
    async knn(t, vector, k, o = {}) {
      // No select: naming columns without _distance makes lance warn on every query; the
      // k rows it returns whole are negligible next to the search.
      let q = t.vectorSearch(vector).column("vector").distanceType("l2").limit(k);
      for (const [method, value] of [
        ["nprobes", o.nprobes],
        ["refineFactor", o.refineFactor],
        ["ef", o.ef],
      ]) {
        if (value === undefined) continue;
        if (typeof q[method] !== "function") throw new NotAvailable(`no .${method}()`);
        q = q[method](value);
      }
      if (o.bypassIndex) {
        if (typeof q.bypassVectorIndex !== "function") throw new NotAvailable("no bypass");
        q = q.bypassVectorIndex();
      }
      return idsOf(await q.toArrow());
    },
    update: (t, filter, column, value) =>
      t.update({ where: filter.sql, valuesSql: { [column]: value.sql } }),
    mergeInsert: (t, key, data) =>
      t.mergeInsert(key).whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(data),
    delete: (t, filter) => t.delete(filter.sql),
    checkout: (t, v) => t.checkout(v),
    checkoutLatest: (t) => t.checkoutLatest(),
    async listVersions(t) {
      return (await t.listVersions()).length;
    },
    async restore(t, v) {
      await t.restore(v);
    },
    async createBranch(t, branchName) {
      const b = await (await t.branches()).create(branchName);
      b?.close?.();
    },
    close(t) {
      t?.close?.();
    },
  };
  return { ...base, ...overrides };
}

function indexConfig(Index, spec) {
  switch (spec.type) {
    case "btree":
      return Index.btree();
    case "bitmap":
      return Index.bitmap();
    case "ivfPq":
      return Index.ivfPq({
        numPartitions: spec.numPartitions,
        numSubVectors: spec.numSubVectors,
        distanceType: "l2",
      });
    case "hnswSq":
      return Index.hnswSq({
        numPartitions: spec.numPartitions,
        distanceType: "l2",
        m: spec.m,
        efConstruction: spec.efConstruction,
      });
    default:
      throw new Error(`unknown index ${spec.type}`);
  }
}
