// Operations of concurrency.test.ts, shared by the test process and its children
// (concurrency-child.mjs), so both run exactly the same plans.
//
// The table: id int64, owner int64 (nullable), hits int64 (nullable), note utf8.
// Rows 0..199 start as { owner: id % 4, hits: 0, note: "init" }. The writers' ops are
// designed so every serial order of them gives the same final table:
// - "inc": hits = hits + 1 on the rows `id < 200 AND id % 10 = k`, from every writer
//   (increments commute; a lost update shows as a wrong count);
// - "del": writer w deletes some of its own rows (`owner = w`);
// - "merge": writer w upserts { id, note } for some of its own rows it has not deleted
//   (hits must survive: the source has no hits column) and for new ids of its own range.
import { rng } from "./helpers/prng.mjs";

export { rng };

export const SHARED_ROWS = 200;
export const OWNERS = 4;

/** The plan of writer `w` (0..OWNERS-1 own rows; any w works for "inc"). */
export function planOps(w, count, seed) {
  const next = rng(seed * 7919 + w);
  const pick = (n) => Math.floor(next() * n);
  const ops = [];
  const deleted = new Set();
  let fresh = 0;
  for (let i = 0; i < count; i++) {
    const r = next();
    if (r < 0.45) {
      ops.push({ kind: "inc", rem: pick(10) });
    } else if (r < 0.6 && w < OWNERS) {
      const rem = pick(25);
      ops.push({ kind: "del", owner: w, rem });
      for (let id = 0; id < SHARED_ROWS; id++) {
        if (id % OWNERS === w && id % 25 === rem) deleted.add(id);
      }
    } else {
      const rows = [];
      if (w < OWNERS) {
        for (let j = 0; j < 3; j++) {
          const id = (pick(SHARED_ROWS / OWNERS) * OWNERS + w) % SHARED_ROWS;
          if (!deleted.has(id) && !rows.some((x) => x.id === id)) {
            rows.push({ id, note: `w${w}-op${i}` });
          }
        }
      }
      rows.push({ id: 10_000 + w * 1_000 + fresh++, note: `w${w}-op${i}` });
      ops.push({ kind: "merge", rows });
    }
  }
  return ops;
}

/** Run one op on a table handle; resolves to the version it created. */
export async function runOp(table, op) {
  let r;
  if (op.kind === "inc") {
    r = await table.update({
      where: `id < ${SHARED_ROWS} AND id % 10 = ${op.rem}`,
      valuesSql: { hits: "hits + 1" },
    });
  } else if (op.kind === "del") {
    r = await table.delete(`owner = ${op.owner} AND id % 25 = ${op.rem}`);
  } else {
    r = await table
      .mergeInsert("id")
      .whenMatchedUpdateAll()
      .whenNotMatchedInsertAll()
      .execute(op.rows.map((x) => ({ id: BigInt(x.id), note: x.note })));
  }
  return r.version;
}

/**
 * Run a plan; each op's outcome is { version } or { code, message }. Only COMMIT_CONFLICT
 * is an acceptable failure; anything else is reported too, and fails the test.
 */
export async function runPlan(table, ops) {
  const out = [];
  for (const op of ops) {
    try {
      out.push({ op, version: await runOp(table, op) });
    } catch (err) {
      out.push({ op, code: err?.code ?? "NOT_A_PALIMPSEST_ERROR", message: String(err?.message) });
    }
  }
  return out;
}

/** The initial rows. */
export function initialRows() {
  return Array.from({ length: SHARED_ROWS }, (_, i) => ({
    id: BigInt(i),
    owner: BigInt(i % OWNERS),
    hits: 0n,
    note: "init",
  }));
}

/**
 * The final rows after the successful ops of every writer (outcomes per writer, in each
 * writer's order), as { id, owner, hits, note } sorted by id.
 */
export function expectedRows(outcomesPerWriter) {
  const rows = new Map(initialRows().map((r) => [Number(r.id), { ...r }]));
  // Deletes and merges of a writer touch only its own rows, in its own order.
  for (const outcomes of outcomesPerWriter) {
    for (const { op, version } of outcomes) {
      if (version === undefined) continue;
      if (op.kind === "del") {
        for (const [id, row] of rows) {
          if (row.owner === BigInt(op.owner) && id % 25 === op.rem) rows.delete(id);
        }
      } else if (op.kind === "merge") {
        for (const x of op.rows) {
          const row = rows.get(x.id);
          if (row) row.note = x.note;
          else rows.set(x.id, { id: BigInt(x.id), owner: null, hits: null, note: x.note });
        }
      }
    }
  }
  // Increments commute with everything above (they touch only ids < 200, and count).
  const incs = new Array(10).fill(0);
  for (const outcomes of outcomesPerWriter) {
    for (const { op, version } of outcomes) {
      if (version !== undefined && op.kind === "inc") incs[op.rem]++;
    }
  }
  for (const [id, row] of rows) if (id < SHARED_ROWS) row.hits = BigInt(incs[id % 10]);
  return [...rows.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
