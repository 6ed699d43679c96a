// update 1% of rows, mergeInsert (half matched, half new), delete 1%, on the main table
// (per engine, `run`); then branches: creation time and the bytes each adds on disk, every
// engine's calls interleaved (`runTogether`). Branches are compared like for like, table kind
// by kind: palimpsest's tables have stable row ids by default and LanceDB's do not, and ids
// that moved make a manifest (so a branch) larger. So each engine also gets a table of the
// other kind, with the same rows, indexes and writes (untimed), and each kind has its own
// figures.
import { existsSync } from "node:fs";
import path from "node:path";
import { NotAvailable } from "../engines/common.mjs";
import { dirBytes, interleaved, middle, quickRuns, timed } from "../measure.mjs";
import { Skipped } from "../results.mjs";

const UPDATE = { sql: "id % 100 = 7", js: { column: "id", op: "mod", m: 100, r: 7 } };
const DELETE = { sql: "id % 100 = 13", js: { column: "id", op: "mod", m: 100, r: 13 } };
// As long as "main": a branch's manifest holds its table's path.
const OTHER_KIND = "twin";
// Branches of each table; each takes a few milliseconds, which a median of 9 let move by
// 1.5x between runs.
const BRANCH_RUNS = 21;

// Rows with id in [0, n) and id % 100 = r.
const modCount = (n, r) => Math.floor(n / 100) + (n % 100 > r ? 1 : 0);

/** The three writes, in the bench's order, on table `t` of engine `e`. */
const WRITES = {
  update: (e, t) => e.update(t, UPDATE, "text", { sql: "'updated'", js: "updated" }),
  merge: (e, t, data) => e.mergeInsert(t, "id", data.mergeTable),
  delete: (e, t) => e.delete(t, DELETE),
};

/** Branch figures of tables with (`stable`) or without stable row ids. */
function branchFigures(rec, stable) {
  const kind = stable
    ? "tables with stable row ids (palimpsest's default)"
    : "tables without stable row ids (LanceDB's default)";
  const suffix = stable ? "" : "Plain";
  const time = rec.define(
    `branch.time${suffix}`,
    "version",
    `branch creation, ${kind}`,
    "s",
    "lower",
  );
  const bytes = rec.define(
    `branch.bytes${suffix}`,
    "version",
    `branch bytes written, ${kind}`,
    "KB",
    "lower",
  );
  return { time: time.id, bytes: bytes.id };
}

export async function run(ctx) {
  const { engine: e, opts, data, rec, state } = ctx;
  const name = e.name;
  const t = state.main;
  const need = () => {
    if (!t) throw new Skipped("ingest failed");
  };
  rec.define("write.update", "write", "update 1% of rows", "s", "lower");
  rec.define("write.merge", "write", `mergeInsert ${opts.mergeRows} rows (half new)`, "s", "lower");
  rec.define("write.delete", "write", "delete 1% of rows", "s", "lower");

  await rec.measure("write.update", name, async () => {
    need();
    return (await timed(() => WRITES.update(e, t))).seconds;
  });
  await rec.measure("write.merge", name, async () => {
    need();
    if (!data.mergeTable) throw new Skipped("--merge-rows 0");
    return (await timed(() => WRITES.merge(e, t, data))).seconds;
  });
  await rec.measure("write.delete", name, async () => {
    need();
    const { seconds } = await timed(() => WRITES.delete(e, t));
    // Check the three writes together: every id once, minus the deleted ones.
    const inserted = opts.mergeRows - Math.floor(opts.mergeRows / 2);
    const total = opts.rows + inserted;
    const want = total - modCount(total, 13);
    const all = { sql: "id >= 0", js: { column: "id", op: "range", lo: 0, hi: 2 ** 53 } };
    const got = await e.count(t, all);
    if (got !== want) throw new Error(`after the writes: ${got} rows, want ${want}`);
    return seconds;
  });

  branchFigures(rec, true);
  branchFigures(rec, false);
  // The table of the other kind, indexed and written as the main table was (untimed): a
  // branch's manifest lists the table's indexes too.
  if (t && e.stableRowIdsByDefault !== undefined) {
    try {
      const other = await e.createTable(OTHER_KIND, data.table, {
        stableRowIds: !e.stableRowIdsByDefault,
      });
      state.otherKind = other;
      for (const { column, type } of state.mainIndexes ?? []) {
        await e.createIndex(other, column, { type });
      }
      await WRITES.update(e, other);
      if (data.mergeTable) await WRITES.merge(e, other, data);
      await WRITES.delete(e, other);
    } catch (err) {
      state.otherKindError = err;
    }
  }
}

/**
 * Branch creation, on every engine at once: each round creates one branch of every engine's
 * table of each kind (`interleaved`), so the engines' few milliseconds each are timed in the
 * same state of the machine. The bytes are what the table's directory grew by, per branch.
 */
export async function runTogether(ctxs) {
  const opts = ctxs[0]?.opts;
  if (!opts) return;
  const runs = Math.max(quickRuns(opts), BRANCH_RUNS);
  const entries = [];
  for (const ctx of ctxs) {
    const { engine: e, rec, state } = ctx;
    const kinds = e.stableRowIdsByDefault !== undefined;
    const stable = e.stableRowIdsByDefault ?? true;
    const ingestFailed = new Skipped("ingest failed");
    const tables = [
      { stable, table: state.main, name: "main", error: state.main ? undefined : ingestFailed },
      {
        stable: !stable,
        table: state.otherKind,
        name: OTHER_KIND,
        error: !kinds
          ? new NotAvailable("one kind of table")
          : (state.otherKindError ?? (state.otherKind ? undefined : ingestFailed)),
      },
    ];
    for (const { stable, table, name, error } of tables) {
      const ids = branchFigures(rec, stable);
      if (error) {
        rec.fail(ids.time, e.name, error);
        rec.copyFailure(ids.time, ids.bytes, e.name);
        continue;
      }
      const dir = path.join(ctx.engineDir, `${name}.lance`);
      entries.push({ ctx, table, ids, dir, before: dirBytes(dir) });
    }
  }
  await interleaved(entries, runs, ({ ctx, table }, i) =>
    ctx.engine.createBranch(table, `bench-${i}`),
  );
  for (const { ctx, ids, dir, times, before, error } of entries) {
    const { engine: e, rec } = ctx;
    if (error) {
      rec.fail(ids.time, e.name, error);
      rec.copyFailure(ids.time, ids.bytes, e.name);
      continue;
    }
    rec.set(ids.time, e.name, middle(times));
    // dirBytes counts a missing directory as empty: a wrong path would read as 0 KB.
    if (existsSync(dir)) rec.set(ids.bytes, e.name, (dirBytes(dir) - before) / runs / 1e3);
    else rec.fail(ids.bytes, e.name, new Error(`no table directory ${dir}`));
  }
  for (const { engine: e, state } of ctxs) {
    e.close(state.otherKind);
    state.otherKind = undefined;
  }
}
