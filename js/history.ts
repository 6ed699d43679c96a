/**
 * The printable version log behind `Table.history()`: a pure function of `Version[]`.
 */
import type { Version } from "./types";

/** Operations that change rows, whose counts are shown even when nothing changed. */
const ROW_OPERATIONS = new Set([
  "create",
  "append",
  "overwrite",
  "update",
  "delete",
  "merge_insert",
]);

/** Parameters with their own wording; any others are shown as `name=value`. */
const KNOWN_PARAMETERS = new Set(["columns", "on", "predicate", "restored_from"]);

/**
 * Format a table's history like `git log --oneline`: one line per version, newest first,
 * fields separated by two spaces, the version and operation columns padded to line up:
 *
 * ```text
 * v5  2025-01-07T10:03:02Z  restore       restored from v3  "undo the bad merge"
 * v4  2025-01-07T10:02:40Z  merge_insert  +1 row, ~1 row, on id  "sync"  {job=crm}
 * v3  2025-01-07T10:02:11Z  delete        -1 row, where id = 2  "GDPR request"  [audited]
 * v2  2025-01-07T10:01:54Z  update        ~2 rows, column author, where author = 'Richard'
 * v1  2025-01-07T10:01:40Z  create        +3 rows  [v1.0, baseline]
 * ```
 *
 * Each line holds, in order: `v<version>`; the commit time in UTC to the second (ISO 8601);
 * the operation ({@link Version.operation}); what it changed (rows added `+n`, updated `~n`
 * and deleted `-n`, only the non-zero ones, or `0 rows` for a row write that touched none;
 * counts that are unknown are left out; then the parameters: `column(s) …`, `on …`,
 * `where <predicate>`, `restored from v<n>`, other ones as `name=value`); the message as
 * a JSON string (so quotes and line breaks stay on one line); the tags in brackets; the
 * caller's properties in braces as `key=value`, sorted by key. Empty fields are left out.
 *
 * @param versions entries as `Table.listVersions()` returns them, in any order.
 * @returns the lines joined with `"\n"` (no trailing newline); `""` for no versions.
 */
export function formatHistory(versions: readonly Version[]): string {
  const sorted = [...versions].sort((a, b) => b.version - a.version);
  const versionWidth = Math.max(0, ...sorted.map((v) => `v${v.version}`.length));
  const operationWidth = Math.max(0, ...sorted.map((v) => v.operation.length));
  return sorted
    .map((v) => {
      const fields = [
        `v${v.version}`.padEnd(versionWidth),
        isoSeconds(v.timestamp),
        v.operation.padEnd(operationWidth),
        describeChange(v),
        v.message === null ? "" : JSON.stringify(v.message),
        v.tags.length === 0 ? "" : `[${v.tags.join(", ")}]`,
        describeProperties(v.properties),
      ];
      // Keep the padded columns even when a later field is empty; drop the empty ones.
      return fields
        .filter((f, i) => i < 3 || f !== "")
        .join("  ")
        .trimEnd();
    })
    .join("\n");
}

/** What one version changed: its row counts, then its parameters. */
export function describeChange(v: Version): string {
  const parts: string[] = [];
  const counts: [string, number | null][] = [
    ["+", v.rowsAdded],
    ["~", v.rowsUpdated],
    ["-", v.rowsDeleted],
  ];
  for (const [sign, n] of counts) if (n !== null && n !== 0) parts.push(`${sign}${rows(n)}`);
  const known = counts.some(([, n]) => n !== null);
  if (parts.length === 0 && known && ROW_OPERATIONS.has(v.operation)) parts.push("0 rows");

  const p = v.parameters;
  if (p.columns !== undefined) {
    const list = splitList(p.columns);
    parts.push(`${list.length === 1 ? "column" : "columns"} ${list.join(", ")}`);
  }
  if (p.on !== undefined) parts.push(`on ${splitList(p.on).join(", ")}`);
  if (p.predicate !== undefined) parts.push(`where ${p.predicate}`);
  if (p.restored_from !== undefined) parts.push(`restored from v${p.restored_from}`);
  for (const key of Object.keys(p).sort()) {
    if (!KNOWN_PARAMETERS.has(key)) parts.push(`${key}=${p[key]}`);
  }
  return parts.join(", ");
}

function rows(n: number): string {
  return n === 1 ? "1 row" : `${n} rows`;
}

/** `"a,b"` → `["a", "b"]` (the native side joins column lists with commas). */
function splitList(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function describeProperties(properties: Record<string, string>): string {
  const keys = Object.keys(properties).sort();
  if (keys.length === 0) return "";
  return `{${keys.map((k) => `${k}=${properties[k]}`).join(", ")}}`;
}

/** `2025-01-07T10:01:40Z`: ISO 8601 in UTC, to the second; `?` for an invalid date. */
function isoSeconds(date: Date): string {
  const ms = date.getTime();
  if (Number.isNaN(ms)) return "?";
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}
