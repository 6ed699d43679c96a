// Ingest, streaming scan and toArrow of the main table (the scan first, so that its RSS
// growth is not hidden by memory toArrow freed). The scan's peak RSS and the first toArrow
// are measured in a fresh process per engine (bench/read-child.mjs).
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { NotAvailable } from "../engines/common.mjs";
import { dirBytes, median, rss, settle, timed } from "../measure.mjs";
import { Skipped, secs } from "../results.mjs";

export async function run(ctx) {
  const { engine: e, opts, data, rec, state } = ctx;
  const name = e.name;
  rec.define("ingest", "scan", `ingest ${opts.rows} rows`, "rows/s", "higher");
  rec.define("ingest.disk", "scan", "ingest, bytes on disk/s", "MB/s", "higher");
  rec.define("toArrow.first", "scan", "toArrow of the full table, first call", "MB/s", "higher");
  rec.define("toArrow", "scan", "toArrow of the full table, repeated", "MB/s", "higher");
  rec.define(
    "toArrow.touch",
    "scan",
    "toArrow repeated, then one vector value per 4 KB page read",
    "MB/s",
    "higher",
  );
  rec.define("stream", "scan", "streaming scan, batch by batch", "rows/s", "higher");
  rec.define("stream.rss", "scan", "streaming scan, peak RSS growth", "MB", "lower");

  // One createTable call with the whole apache-arrow Table: one commit.
  await rec.measure("ingest", name, async () => {
    const before = dirBytes(ctx.engineDir);
    const { seconds, out } = await timed(() => e.createTable("main", data.table));
    state.main = out;
    const disk = dirBytes(ctx.engineDir) - before;
    if (disk > 0)
      rec.set("ingest.disk", name, disk / 1e6 / seconds, `${(disk / 1e6).toFixed(0)} MB`);
    else rec.fail("ingest.disk", name, new NotAvailable("in memory"));
    return {
      value: opts.rows / seconds,
      note: `${(data.bytes / 1e6 / seconds).toFixed(1)} MB/s of Arrow`,
    };
  });
  const t = state.main;
  const need = () => {
    if (!t) throw new Skipped("ingest failed");
  };

  // Peak RSS while streaming every row, batch by batch, over the RSS before the scan.
  let peak = 0;
  const ok = await rec.measure("stream", name, async () => {
    need();
    await settle();
    const base = rss();
    let rows = 0;
    const { seconds } = await timed(async () => {
      for await (const batch of e.scan(t)) {
        rows += batch.numRows;
        peak = Math.max(peak, rss() - base);
      }
    });
    if (rows !== opts.rows) throw new Error(`scan returned ${rows} rows`);
    return { value: rows / seconds, note: secs(seconds) };
  });
  if (!ok) rec.copyFailure("stream", "stream.rss", name);
  else if (!e.module) rec.set("stream.rss", name, peak / 1e6);
  else {
    await rec.measure("stream.rss", name, async () => {
      const child = readInChild("stream", e.module, ctx.engineDir);
      if (child.rows !== opts.rows) throw new Error(`scan returned ${child.rows} rows`);
      return { value: child.peak / 1e6, note: "in a process of its own" };
    });
  }

  // The first call decodes from disk (palimpsest keeps the decoded columns for the calls
  // after it; lancedb decodes every time). Engines with a module make it in a process of
  // their own: in the shared one, an engine measured after another reuses the memory that
  // one freed and skips this VM's slow first touch of fresh pages.
  await rec.measure("toArrow.first", name, async () => {
    need();
    if (e.module) {
      const child = readInChild("toArrow", e.module, ctx.engineDir);
      if (child.rows !== opts.rows) throw new Error(`toArrow returned ${child.rows} rows`);
      const note = `${secs(child.seconds)}, in a process of its own`;
      return { value: data.bytes / 1e6 / child.seconds, note };
    }
    await settle();
    const { seconds, out } = await timed(() => e.toArrow(t));
    if (out.numRows !== opts.rows) throw new Error(`toArrow returned ${out.numRows} rows`);
    return { value: data.bytes / 1e6 / seconds, note: secs(seconds) };
  });
  await rec.measure("toArrow", name, async () => {
    need();
    // Untimed calls first, so that "repeated" is the steady state: palimpsest keeps a
    // column on its second read, and this process's first read was not made above when
    // the engine made it in a process of its own.
    await settle();
    if (e.module) await e.toArrow(t);
    await e.toArrow(t);
    const s = await median(opts.runs, async () => {
      const r = await e.toArrow(t);
      if (r.numRows !== opts.rows) throw new Error(`toArrow returned ${r.numRows} rows`);
    });
    return { value: data.bytes / 1e6 / s, note: secs(s) };
  });
  // palimpsest's repeated result maps the cache's pages copy-on-write, so its pages are
  // faulted in on first touch: this figure includes that cost.
  await rec.measure("toArrow.touch", name, async () => {
    need();
    await settle();
    const s = await median(opts.runs, async () => {
      const r = await e.toArrow(t);
      if (touchVectors(r) !== opts.rows) throw new Error("toArrow returned too few vectors");
    });
    return { value: data.bytes / 1e6 / s, note: secs(s) };
  });
}

/** `bench/read-child.mjs`'s result for table "main" in a fresh node process. */
function readInChild(mode, module, dir) {
  const script = fileURLToPath(new URL("../read-child.mjs", import.meta.url));
  const args = ["--expose-gc", script, mode, module, dir, "main"];
  const out = execFileSync(process.execPath, args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  return JSON.parse(out.trim().split("\n").at(-1));
}

/** Reads one float per 4 KB of every vector buffer; returns the number of vectors. */
function touchVectors(table) {
  let vectors = 0;
  let sum = 0;
  for (const batch of table.batches) {
    const data = batch.getChild("vector")?.data ?? [];
    for (const d of data) {
      const values = d.children[0].values;
      for (let i = 0; i < values.length; i += 1024) sum += values[i];
      vectors += d.length;
    }
  }
  return Number.isNaN(sum) ? -1 : vectors;
}

export const secsNote = (s) => (s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(2)} s`);
