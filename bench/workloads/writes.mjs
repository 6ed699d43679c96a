// update 1% of rows, mergeInsert (half matched, half new), delete 1%, on the main table
// (per engine, `run`); then branches of it: creation time and the bytes each adds on disk,
// every engine's calls interleaved (`runTogether`).
import { dirBytes, interleaved, middle, quickRuns, timed } from "../measure.mjs";
import { Skipped } from "../results.mjs";

const UPDATE = { sql: "id % 100 = 7", js: { column: "id", op: "mod", m: 100, r: 7 } };
const DELETE = { sql: "id % 100 = 13", js: { column: "id", op: "mod", m: 100, r: 13 } };

// Rows with id in [0, n) and id % 100 = r.
const modCount = (n, r) => Math.floor(n / 100) + (n % 100 > r ? 1 : 0);

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
    return (await timed(() => e.update(t, UPDATE, "text", { sql: "'updated'", js: "updated" })))
      .seconds;
  });
  await rec.measure("write.merge", name, async () => {
    need();
    if (!data.mergeTable) throw new Skipped("--merge-rows 0");
    return (await timed(() => e.mergeInsert(t, "id", data.mergeTable))).seconds;
  });
  await rec.measure("write.delete", name, async () => {
    need();
    const { seconds } = await timed(() => e.delete(t, DELETE));
    // Check the three writes together: every id once, minus the deleted ones.
    const inserted = opts.mergeRows - Math.floor(opts.mergeRows / 2);
    const total = opts.rows + inserted;
    const want = total - modCount(total, 13);
    const all = { sql: "id >= 0", js: { column: "id", op: "range", lo: 0, hi: 2 ** 53 } };
    const got = await e.count(t, all);
    if (got !== want) throw new Error(`after the writes: ${got} rows, want ${want}`);
    return seconds;
  });

  rec.define("branch.time", "version", "branch creation (main table)", "s", "lower");
  rec.define("branch.bytes", "version", "branch creation, bytes written", "MB", "lower");
}

/**
 * Branch creation, on every engine at once: each round creates one branch of every
 * engine's main table (`interleaved`), so the engines' few milliseconds each are timed in
 * the same state of the machine. The bytes are
 * what the engine's directory grew by, per branch.
 */
export async function runTogether(ctxs) {
  const opts = ctxs[0]?.opts;
  if (!opts) return;
  const runs = quickRuns(opts);
  const entries = [];
  for (const ctx of ctxs) {
    const { engine: e, rec, state } = ctx;
    if (!state.main) {
      rec.fail("branch.time", e.name, new Skipped("ingest failed"));
      rec.copyFailure("branch.time", "branch.bytes", e.name);
      continue;
    }
    entries.push({ ctx, before: dirBytes(ctx.engineDir) });
  }
  await interleaved(entries, runs, ({ ctx }, i) =>
    ctx.engine.createBranch(ctx.state.main, `bench-${i}`),
  );
  for (const { ctx, times, before, error } of entries) {
    const { engine: e, rec, engineDir } = ctx;
    if (error) {
      rec.fail("branch.time", e.name, error);
      rec.copyFailure("branch.time", "branch.bytes", e.name);
      continue;
    }
    rec.set("branch.time", e.name, middle(times));
    rec.set("branch.bytes", e.name, (dirBytes(engineDir) - before) / runs / 1e6);
  }
}
