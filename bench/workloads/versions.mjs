// Version operations: checkout of version 1 with 10 versions vs with --versions versions,
// listVersions at --versions (per engine, `run`); restore on --restore-rows vs --restore-big
// rows, every engine's calls interleaved (`runTogether`; small rows: one int64 column,
// since restore does not depend on row width).
import { NotAvailable } from "../engines/common.mjs";
import { interleaved, median, middle, now, quickRuns, timed } from "../measure.mjs";

// checkout(1) takes microseconds, where the collector's background work in a process that
// holds gigabytes moves even a median of 9: more calls, still well under a second.
const CHECKOUT_RUNS = 51;
// Restores of each table; each takes a few milliseconds and writes a version.
const RESTORE_RUNS = 21;

export async function run(ctx) {
  const { engine: e, opts, data, rec } = ctx;
  const name = e.name;
  const N = opts.versions;
  const quick = quickRuns(opts);
  rec.define("ver.checkout10", "version", "checkout(1) at 10 versions", "s", "lower");
  rec.define("ver.checkoutN", "version", `checkout(1) at ${N} versions`, "s", "lower");
  rec.define(
    "ver.list.first",
    "version",
    `listVersions at ${N} versions, first call`,
    "s",
    "lower",
  );
  rec.define("ver.list", "version", `listVersions at ${N} versions, repeated`, "s", "lower");
  rec.define("ver.restoreSmall", "version", `restore at ${opts.restoreRows} rows`, "s", "lower");
  rec.define("ver.restoreBig", "version", `restore at ${opts.restoreBig} rows`, "s", "lower");
  if (e.versioned === false) {
    for (const id of [
      "checkout10",
      "checkoutN",
      "list.first",
      "list",
      "restoreSmall",
      "restoreBig",
    ]) {
      rec.fail(`ver.${id}`, name, new NotAvailable("no versions"));
    }
    return;
  }

  // A table with `count` versions: create, then one single-row append per version.
  async function withVersions(tableName, count) {
    const t0 = now();
    const t = await e.createTable(tableName, data.small(1, 0));
    for (let v = 2; v <= count; v++) await e.add(t, data.small(1, v));
    process.stderr.write(`  ${name}: ${count} versions written in ${(now() - t0).toFixed(1)} s\n`);
    return t;
  }
  // checkout(1) alone is timed; moving back to the latest version is not.
  async function checkoutOne(t) {
    const times = [];
    for (let i = 0; i < Math.max(quick, CHECKOUT_RUNS); i++) {
      times.push((await timed(() => e.checkout(t, 1))).seconds);
      await e.checkoutLatest(t);
    }
    return middle(times);
  }

  let t10;
  await rec.measure("ver.checkout10", name, async () => {
    t10 = await withVersions("v10", 10);
    return checkoutOne(t10);
  });
  e.close(t10);
  let tN;
  await rec.measure("ver.checkoutN", name, async () => {
    tN = await withVersions(`v${N}`, N);
    return checkoutOne(tN);
  });
  // The first call reads every manifest; palimpsest remembers versions it has read, so the
  // repeated calls after it read only the listing.
  const listed = async () => {
    const n = await e.listVersions(tN);
    if (n !== N) throw new Error(`listVersions gave ${n}, want ${N}`);
  };
  await rec.measure("ver.list.first", name, async () => {
    if (!tN) throw new Error("no table");
    return (await timed(listed)).seconds;
  });
  await rec.measure("ver.list", name, async () => {
    if (!tN) throw new Error("no table");
    return median(quick, async () => {
      const n = await e.listVersions(tN);
      if (n !== N) throw new Error(`listVersions gave ${n}, want ${N}`);
    });
  });
  e.close(tN);
}

/**
 * Restore, on every engine at once: every engine's two restore tables are written first,
 * then each round restores each table once (`interleaved`). The ratio of the two sizes asks whether restore depends on the table's size, and
 * the engines' ratio compares a few milliseconds each: both sides of either should see the
 * same state of the machine (the collector, the disk's queue, inodes the file system freed
 * moments before), not whatever ran in the minute before each.
 */
export async function runTogether(ctxs) {
  const opts = ctxs[0]?.opts;
  if (!opts) return;
  const sizes = [
    ["ver.restoreSmall", opts.restoreRows, "restore-small"],
    ["ver.restoreBig", opts.restoreBig, "restore-big"],
  ];
  const tables = [];
  for (const { engine: e, data, rec } of ctxs) {
    if (e.versioned === false) continue;
    for (const [id, rows, tableName] of sizes) {
      try {
        const { out: t, seconds: made } = await timed(async () => {
          const t = await e.createTable(tableName, data.small(rows, 0));
          try {
            await e.add(t, data.small(1, rows)); // version 2
          } catch (err) {
            e.close(t);
            throw err;
          }
          return t;
        });
        process.stderr.write(`  ${e.name}: ${rows}-row table written in ${made.toFixed(1)} s\n`);
        tables.push({ e, rec, id, t });
      } catch (err) {
        rec.fail(id, e.name, err);
      }
    }
  }
  await interleaved(tables, Math.max(quickRuns(opts), RESTORE_RUNS), ({ e, t }) => e.restore(t, 1));
  for (const { e, rec, id, t, times, error } of tables) {
    if (error) rec.fail(id, e.name, error);
    else rec.set(id, e.name, middle(times));
    e.close(t);
  }
}
