// The figures of a run: what each workload measured on each engine.
import { NotAvailable } from "./engines/common.mjs";

/** Thrown when a workload cannot run because an earlier step failed. */
export class Skipped extends Error {}

const fmt = (n, digits = 0) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
// Figures under 10 microseconds (a checkout) keep four decimals of ms instead of showing 0.00.
const msDigits = (s) => (s < 1e-5 ? 4 : s < 0.01 ? 2 : 1);
const secs = (s) => (s < 1 ? `${fmt(s * 1000, msDigits(s))} ms` : `${fmt(s, 2)} s`);

// How a value of each unit prints.
const FORMAT = {
  s: secs,
  "rows/s": (v) => `${fmt(v)} rows/s`,
  "MB/s": (v) => `${fmt(v, 1)} MB/s`,
  MB: (v) => `${fmt(v, v < 10 ? 3 : 1)} MB`,
  KB: (v) => `${fmt(v, v < 10 ? 2 : 1)} KB`,
  recall: (v) => fmt(v, 3),
};

export { fmt, secs };

export class Results {
  constructor(engines) {
    this.engines = engines;
    this.figures = []; // { id, group, label, unit, better, cells: { engine: cell } }
    this.byId = new Map();
  }

  /** Declare a figure: better is "higher" or "lower". Returns it (idempotent). */
  define(id, group, label, unit, better) {
    let f = this.byId.get(id);
    if (!f) {
      f = { id, group, label, unit, better, cells: {} };
      this.figures.push(f);
      this.byId.set(id, f);
    }
    return f;
  }

  set(id, engine, value, note) {
    this.byId.get(id).cells[engine] = { value, note };
    progress(engine, this.byId.get(id));
  }

  fail(id, engine, err) {
    const cell =
      err instanceof NotAvailable
        ? { na: err.na }
        : err instanceof Skipped
          ? { skipped: err.message }
          : { error: err };
    this.byId.get(id).cells[engine] = cell;
    progress(engine, this.byId.get(id));
  }

  /** Mark figure `to` as not measured for the reason figure `from` failed. */
  copyFailure(from, to, engine) {
    const c = this.byId.get(from).cells[engine];
    const cell = c?.na ? { na: c.na } : { skipped: `${this.byId.get(from).label} failed` };
    this.byId.get(to).cells[engine] = cell;
    progress(engine, this.byId.get(to));
  }

  value(id, engine) {
    return this.byId.get(id)?.cells[engine]?.value;
  }

  /** Run fn, which returns { value, note? } or a number, and record it (or its failure). */
  async measure(id, engine, fn) {
    try {
      const r = await fn();
      if (typeof r === "number") this.set(id, engine, r);
      else this.set(id, engine, r.value, r.note);
      return true;
    } catch (err) {
      this.fail(id, engine, err);
      return false;
    }
  }
}

export function cellText(f, cell) {
  if (!cell) return "-";
  if (cell.na) return `n/a (${cell.na})`;
  if (cell.skipped) return `not run (${cell.skipped})`;
  if (cell.error) return `ERROR: ${errorText(cell.error).slice(0, 40)}`;
  const v = FORMAT[f.unit](cell.value);
  return cell.note ? `${v} (${cell.note})` : v;
}

/** palimpsest's advantage over `other` on figure f: above 1 means palimpsest is better. */
export function ratio(f, other) {
  const p = f.cells.palimpsest?.value;
  const o = f.cells[other]?.value;
  if (p === undefined || o === undefined) return undefined;
  if (f.better === "higher") return o === 0 ? undefined : p / o;
  return p === 0 ? undefined : o / p;
}

export function ratioText(r) {
  return r === undefined ? "-" : `${fmt(r, r < 10 ? 2 : 1)}x`;
}

export function errorText(err) {
  const code = err?.code ? `${err.code}: ` : "";
  return `${code}${err?.message ?? String(err)}`.replace(/\s+/g, " ");
}

function progress(engine, f) {
  process.stderr.write(`  ${engine} ${f.label}: ${cellText(f, f.cells[engine])}\n`);
}
