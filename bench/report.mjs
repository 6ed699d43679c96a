// The results table (console and BENCHMARKS.md) and the issue's targets, checked against
// the figures of the same run.
import { cellText, errorText, fmt, ratio, ratioText } from "./results.mjs";

const GROUPS = {
  scan: "ingest and scans",
  filter: "filters",
  knn: "vector search",
  write: "writes",
  version: "versions",
};

function rows(rec) {
  const out = [];
  for (const [g, title] of Object.entries(GROUPS)) {
    const figs = rec.figures.filter((f) => f.group === g);
    if (figs.length === 0) continue;
    out.push({ title });
    for (const f of figs) {
      out.push({
        cols: [
          f.label,
          ...rec.engines.map((e) => cellText(f, f.cells[e])),
          ...others(rec).map((o) => ratioText(ratio(f, o))),
        ],
      });
    }
  }
  return out;
}

const others = (rec) =>
  rec.engines.filter((e) => e !== "palimpsest" && rec.engines.includes("palimpsest"));

function header(rec) {
  return ["workload", ...rec.engines, ...others(rec).map((o) => `palimpsest/${o}`)];
}

/** The results as a fixed-width table for the console. */
export function consoleTable(rec) {
  const head = header(rec);
  const body = rows(rec);
  const widths = head.map((h, i) =>
    Math.max(h.length, ...body.filter((r) => r.cols).map((r) => r.cols[i].length)),
  );
  const line = (cols) =>
    cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  const out = [line(head), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const r of body) out.push(r.title ? `[${r.title}]` : line(r.cols));
  return out.join("\n");
}

/** The results as a markdown table. */
export function markdownTable(rec) {
  const head = header(rec);
  const out = [
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
  ];
  for (const r of rows(rec)) {
    if (r.title) out.push(`| **${r.title}** |${" |".repeat(head.length - 1)}`);
    else out.push(`| ${r.cols.join(" | ")} |`);
  }
  return out.join("\n");
}

/** Full error messages, which the tables only have room to start. */
export function errors(rec) {
  const out = [];
  const seen = new Set();
  for (const f of rec.figures) {
    for (const [engine, cell] of Object.entries(f.cells)) {
      if (!cell.error) continue;
      const text = errorText(cell.error);
      if (seen.has(engine + text)) continue;
      seen.add(engine + text);
      out.push(`${engine} ${f.label}: ${text}`);
    }
  }
  return out;
}

// ------------------------------------------------------------------ targets

const pct = (x) => `${fmt(x * 100, 0)}%`;

/**
 * Each target of issue #4: { target, measured, status } with status "met", "NOT met" or
 * "n/a" (a figure it needs is missing).
 */
export function targets(rec, probes, opts) {
  const v = (id, e = "palimpsest") => rec.value(id, e);
  const r = (id, o) => {
    const f = rec.byId.get(id);
    return f ? ratio(f, o) : undefined;
  };
  const out = [];
  const add = (target, measured, ok) =>
    out.push({
      target,
      measured: measured ?? "-",
      status: ok === undefined ? "n/a" : ok ? "met" : "NOT met",
    });
  const atLeast = (x, min) => (x === undefined ? undefined : x >= min);

  const knn = r("knn.exact.p50", "lancedb");
  add("exact kNN >= 10x LanceDB", ratioText(knn), atLeast(knn, 10));

  const p50 = v("knn.exact.p50");
  const vecBytes = opts.knnRows * opts.dim * 4;
  const frac = p50 && probes.memory ? vecBytes / p50 / probes.memory : undefined;
  add(
    "exact kNN >= 50% of memory bandwidth (warm)",
    frac === undefined
      ? undefined
      : `${fmt(vecBytes / p50 / 1e9, 2)} GB/s of float32 vectors (effective: one-byte codes are read first) = ${pct(frac)} of ${fmt(probes.memory / 1e9, 2)} GB/s`,
    atLeast(frac, 0.5),
  );

  const ta = r("toArrow", "lancedb");
  add("toArrow (wide vector table) >= 3x LanceDB", ratioText(ta), atLeast(ta, 3));

  const ing = r("ingest", "lancedb");
  add("ingest from apache-arrow >= 1.5x LanceDB", ratioText(ing), atLeast(ing, 1.5));

  const disk = v("ingest.disk");
  const dfrac = disk && probes.disk ? (disk * 1e6) / probes.disk : undefined;
  add(
    "ingest >= 40% of disk sequential write bandwidth",
    dfrac === undefined
      ? undefined
      : `${fmt(disk, 0)} MB/s on disk = ${pct(dfrac)} of ${fmt(probes.disk / 1e6, 0)} MB/s`,
    atLeast(dfrac, 0.4),
  );

  // Everything else vs LanceDB: every figure both have, bar the ones with their own target.
  const own = new Set([
    "knn.exact.p50",
    "toArrow",
    "ingest",
    "ingest.disk",
    "ivfpq.p50",
    "ivfpq.recall",
  ]);
  const rest = rec.figures.filter((f) => !own.has(f.id) && !f.id.endsWith(".recall"));
  const rs = rest.map((f) => ({ f, x: ratio(f, "lancedb") })).filter((x) => x.x !== undefined);
  const below = rs.filter((x) => x.x < 1);
  add(
    "everything else >= 1.0x LanceDB",
    rs.length === 0
      ? undefined
      : `${rs.length - below.length} of ${rs.length} figures${below.length ? `; below: ${below.map((b) => `${b.f.label} ${ratioText(b.x)}`).join("; ")}` : ""}`,
    rs.length === 0 ? undefined : below.length === 0,
  );

  const filt = rec.figures
    .filter((f) => f.group === "filter" && f.id.startsWith("filter."))
    .map((f) => ({ f, x: ratio(f, "purejs") }))
    .filter((x) => x.x !== undefined);
  const fmin = filt.length ? Math.min(...filt.map((x) => x.x)) : undefined;
  const fbelow = filt.filter((x) => x.x < 10);
  add(
    "filtered scans >= 10x pure JS",
    fmin === undefined
      ? undefined
      : `min ${ratioText(fmin)} over ${filt.length} figures${fbelow.length ? `; below: ${fbelow.map((b) => `${b.f.label} ${ratioText(b.x)}`).join("; ")}` : ""}`,
    atLeast(fmin, 10),
  );

  const kp = r("knn.exact.p50", "purejs");
  add("exact kNN >= 5x pure JS", ratioText(kp), atLeast(kp, 5));

  const rc = v("ivfpq.recall");
  const lat = r("ivfpq.p50", "lancedb");
  add(
    "IVF_PQ with refine: recall@10 >= 0.95, p50 latency no worse than LanceDB",
    rc === undefined ? undefined : `recall ${fmt(rc, 3)}, latency ${ratioText(lat)} LanceDB's`,
    rc === undefined || lat === undefined ? undefined : rc >= 0.95 && lat >= 1,
  );

  const c10 = v("ver.checkout10");
  const cN = v("ver.checkoutN");
  add(
    `checkout at ${opts.versions} versions within 2x of at 10`,
    c10 && cN ? `${fmt(cN / c10, 2)}x` : undefined,
    c10 && cN ? cN / c10 <= 2 : undefined,
  );
  const rS = v("ver.restoreSmall");
  const rB = v("ver.restoreBig");
  add(
    `restore at ${opts.restoreBig} rows within 1.5x of at ${opts.restoreRows}`,
    rS && rB ? `${fmt(rB / rS, 2)}x` : undefined,
    rS && rB ? rB / rS <= 1.5 : undefined,
  );
  return out;
}

export function targetsText(list) {
  const w = Math.max(...list.map((t) => t.target.length));
  return list.map((t) => `${t.status.padEnd(7)}  ${t.target.padEnd(w)}  ${t.measured}`).join("\n");
}

export function targetsMarkdown(list) {
  return [
    "| target | measured | status |",
    "|---|---|---|",
    ...list.map(
      (t) => `| ${t.target} | ${t.measured} | ${t.status === "met" ? "met" : `**${t.status}**`} |`,
    ),
  ].join("\n");
}
