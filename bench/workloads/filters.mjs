// Filtered scans and filtered countRows, without and then with scalar indexes
// (btree on id, bitmap on category).
import { median, quickRuns } from "../measure.mjs";
import { Skipped } from "../results.mjs";

const COLUMNS = ["id", "text", "category"];
const WARM_UP = 2;

export function filtersFor(rows) {
  const lo = Math.floor(rows * 0.42);
  const hi = lo + Math.max(1, Math.floor(rows / 100));
  return [
    {
      key: "cat",
      label: "category = 'cat3'",
      sql: "category = 'cat3'",
      js: { column: "category", op: "eq", value: "cat3" },
      expected: Math.floor(rows / 10) + (rows % 10 > 3 ? 1 : 0),
    },
    {
      key: "id",
      label: "id range (1%)",
      sql: `id >= ${lo} AND id < ${hi}`,
      js: { column: "id", op: "range", lo, hi },
      expected: hi - lo,
    },
  ];
}

async function filterRound(ctx, indexed) {
  const { engine: e, opts, rec, state } = ctx;
  const suffix = indexed ? "with index" : "no index";
  for (const f of filtersFor(opts.rows)) {
    for (const kind of ["scan", "count"]) {
      const id = `filter.${kind}.${f.key}.${indexed ? "idx" : "noidx"}`;
      const what = kind === "scan" ? "filtered scan" : "filtered countRows";
      rec.define(id, "filter", `${what} ${f.label}, ${suffix}`, "s", "lower");
      await rec.measure(id, e.name, async () => {
        if (!state.main) throw new Skipped("ingest failed");
        const once = async () => {
          const n =
            kind === "scan"
              ? await e.filteredScan(state.main, f, COLUMNS)
              : await e.count(state.main, f);
          if (n !== f.expected) throw new Error(`${f.sql}: ${n} rows, want ${f.expected}`);
        };
        // Steady state, for every engine alike: two untimed calls first (palimpsest keeps a
        // column in memory from its second read on; lancedb warms its caches too).
        for (let i = 0; i < WARM_UP; i++) await once();
        return median(quickRuns(opts), once);
      });
    }
  }
}

export async function run(ctx) {
  const { engine: e, opts, rec, state } = ctx;
  await filterRound(ctx, false);
  for (const [column, type] of [
    ["id", "btree"],
    ["category", "bitmap"],
  ]) {
    const id = `index.${type}`;
    rec.define(id, "filter", `build ${type} index on ${column}`, "s", "lower");
    await rec.measure(id, e.name, async () => {
      if (!state.main) throw new Skipped("ingest failed");
      // A build takes 50-150 ms here: the median of several, each replacing the last.
      const seconds = await median(quickRuns(opts), () =>
        e.createIndex(state.main, column, { type }),
      );
      // What the writes workload's table of the other kind gets too.
      state.mainIndexes = [...(state.mainIndexes ?? []), { column, type }];
      return seconds;
    });
  }
  await filterRound(ctx, true);
}
