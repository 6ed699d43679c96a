/**
 * Row-level diffs between versions and the history of one row. The strategy is chosen
 * automatically: row lineage (stable row ids, which tables palimpsest creates have by
 * default) when no key is given, key comparison with `{ on }` (works on any Lance table).
 */
import type * as arrow from "apache-arrow";
import { quoteIdentifier, toSqlLiteral } from "./arrow/sql";
import { decodeTable } from "./arrow/wire-decode";
import { InvalidArgumentError } from "./errors";
import { callNative } from "./native-loader";
import type { NativeTable, NativeVersionRef } from "./native-types";
import { checkString, checkStrings, checkVersion, describe } from "./validate";

/**
 * A version to compare: a version number of the table's current branch, a branch name
 * (`"main"` for the trunk) at its latest version, a branch at a version, or a tag.
 */
export type VersionRef = number | string | { branch: string; version?: number } | { tag: string };

/** Options of {@link Table.diff}. */
export interface DiffOptions {
  /** Key column(s) to match rows by. Without it rows are matched by their lineage. */
  on?: string | readonly string[];
}

/** What changed between two versions. */
export interface TableDiff {
  /** `"row_lineage"` or `"key"`: how rows were matched. */
  strategy: "row_lineage" | "key";
  fromVersion: number;
  toVersion: number;
  /** Rows only in the newer version. */
  inserted: arrow.Table;
  /** Rows in both whose values changed, with their new values. */
  updated: arrow.Table;
  /** Rows only in the older version, with their old values. */
  deleted: arrow.Table;
}

/** Options of {@link Table.rowHistory}. */
export interface RowHistoryOptions {
  /** The key column. */
  on: string;
  /** The key's value (number, bigint, string, boolean, Date). */
  value: unknown;
}

/** One version where a row was inserted, changed or deleted. */
export interface RowHistoryEntry {
  version: number;
  timestamp: Date;
  change: "inserted" | "updated" | "deleted";
  /** The row's values after the change; for `"deleted"`, its values before it. */
  values: Record<string, unknown>[];
}

/** @internal The native form of a {@link VersionRef}; undefined stays undefined. */
export function nativeVersionRef(ref: VersionRef | undefined): NativeVersionRef | undefined {
  if (ref === undefined) return undefined;
  if (typeof ref === "number") {
    checkVersion(ref);
    return { version: ref };
  }
  if (typeof ref === "string") {
    checkString(ref, "branch name");
    return { branch: ref };
  }
  if (ref !== null && typeof ref === "object") {
    if ("tag" in ref) {
      checkString(ref.tag, "tag name");
      return { tag: ref.tag };
    }
    if ("branch" in ref) {
      checkString(ref.branch, "branch name");
      if (ref.version === undefined) return { branch: ref.branch };
      checkVersion(ref.version);
      return { branch: ref.branch, version: ref.version };
    }
  }
  throw new InvalidArgumentError(
    `a version reference must be a version number, a branch name, { branch, version? } or { tag }, got ${describe(ref)}`,
  );
}

/** @internal */
export async function diffVersions(
  inner: NativeTable,
  from: VersionRef,
  to: VersionRef | undefined,
  options: DiffOptions = {},
): Promise<TableDiff> {
  if (from === undefined)
    throw new InvalidArgumentError("diff() needs the version to compare from");
  const on =
    options?.on === undefined
      ? null
      : checkStrings(
          typeof options.on === "string" ? [options.on] : options.on,
          "diff key columns",
        );
  const fromSide = nativeVersionRef(from) as NativeVersionRef;
  const toSide = nativeVersionRef(to) ?? null;
  const out = await callNative(() => inner.diff(fromSide, toSide, on));
  return {
    strategy: out.strategy as TableDiff["strategy"],
    fromVersion: out.fromVersion,
    toVersion: out.toVersion,
    inserted: decodeTable([out.inserted]),
    updated: decodeTable([out.updated]),
    deleted: decodeTable([out.deleted]),
  };
}

/** @internal */
export async function rowHistory(
  inner: NativeTable,
  options: RowHistoryOptions,
): Promise<RowHistoryEntry[]> {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError("rowHistory() expects { on, value }");
  }
  checkString(options.on, "rowHistory key column");
  if (options.value === undefined || options.value === null) {
    throw new InvalidArgumentError(
      "rowHistory() needs the key's value; null keys cannot be followed",
    );
  }
  const filter = `${quoteIdentifier(options.on)} = ${toSqlLiteral(options.value)}`;
  const events = await callNative(() => inner.rowHistory(filter));
  return events.map((e) => ({
    version: e.version,
    timestamp: new Date(e.timestamp),
    change: e.change as RowHistoryEntry["change"],
    values: decodeTable([e.rows])
      .toArray()
      .map((row) => (row as { toJSON(): Record<string, unknown> }).toJSON()),
  }));
}
