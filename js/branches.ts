/**
 * Branches: writable lines of history forked from a version. Creating one copies no data
 * files; writes on a branch are invisible on main and the other way round.
 */
import { nativeVersionRef, type VersionRef } from "./diff";
import { InvalidArgumentError } from "./errors";
import { callNative, resultNumber } from "./native-loader";
import type { NativeTable } from "./native-types";
import type { WriteOptions } from "./types";
import { checkOneOf, checkString, checkStrings, checkVersion, writeNote } from "./validate";

/** Options of {@link Branches.merge}. */
export interface MergeBranchOptions extends WriteOptions {
  /** Key column(s) that identify a row on both branches. */
  on: string | readonly string[];
  /** Keys changed differently on both sides: fail (default), keep ours, or take theirs. */
  resolve?: "fail" | "ours" | "theirs";
}

/** The version a merge created and the rows it changed on the current branch. */
export interface MergeBranchResult {
  version: number;
  rowsAdded: number;
  rowsUpdated: number;
  rowsDeleted: number;
}

/** Where a branch was forked from. */
export interface BranchContents {
  /** The branch it was forked from; `"main"` for the trunk. */
  parentBranch: string;
  parentVersion: number;
}

/** The branches of one table; get it from `Table.branches()`. */
export class Branches<T> {
  private readonly inner: NativeTable;
  private readonly wrap: (inner: NativeTable) => T;

  /** @internal */
  constructor(inner: NativeTable, wrap: (inner: NativeTable) => T) {
    this.inner = inner;
    this.wrap = wrap;
  }

  /**
   * Fork `name` and return a writable table on the new branch. Without `fromRef` it forks
   * the version the table shows; `fromRef` may be a version number of the current branch,
   * a branch name (its latest version, or `fromVersion`), `{ branch, version? }` or
   * `{ tag }`. No data is copied.
   *
   * @example
   * ```ts
   * const exp = await table.branches().create("exp");             // from what the table shows
   * const fix = await table.branches().create("fix", "exp", 4);     // from version 4 of exp
   * const rel = await table.branches().create("rel", { tag: "v1" });
   * ```
   * @throws {InvalidArgumentError} when the branch exists already or the name is invalid.
   * @throws {VersionNotFoundError} / {BranchNotFoundError} / {TagNotFoundError} for a bad source.
   */
  async create(name: string, fromRef?: VersionRef, fromVersion?: number): Promise<T> {
    checkString(name, "branch name");
    let from = nativeVersionRef(fromRef);
    if (fromVersion !== undefined) {
      if (typeof fromRef !== "string") {
        throw new InvalidArgumentError(
          "create(name, fromRef, fromVersion): fromVersion needs a branch name as fromRef",
        );
      }
      checkVersion(fromVersion);
      from = { branch: fromRef, version: fromVersion };
    }
    const inner = await callNative(() => this.inner.createBranch(name, from));
    return this.wrap(inner);
  }

  /**
   * Switch this table to branch `name` (`"main"` for the trunk): its latest version, or
   * `version` as a read-only view.
   * @throws {BranchNotFoundError} when there is no such branch.
   * @throws {VersionNotFoundError} when the branch has no such version.
   */
  async checkout(name: string, version?: number): Promise<void> {
    checkString(name, "branch name");
    if (version !== undefined) checkVersion(version);
    await callNative(() => this.inner.checkoutBranch(name));
    if (version !== undefined) await callNative(() => this.inner.checkout(version));
  }

  /**
   * Apply branch `name`'s changes since it was forked (rows matched by `on`) to the current
   * branch as one new version. Rows changed on one side only merge cleanly; a key changed
   * differently on both sides is a conflict: the merge fails with `MERGE_CONFLICT` listing
   * the keys and writes nothing, unless `resolve` keeps `"ours"` or takes `"theirs"`.
   * Columns the branch added (or dropped) carry over.
   *
   * @example
   * ```ts
   * await table.branches().merge("exp", { on: "id", message: "ship the new embeddings" });
   * ```
   * @throws {MergeConflictError} on conflicts with the default `resolve: "fail"`.
   * @throws {BranchNotFoundError} when there is no such branch.
   */
  async merge(name: string, options: MergeBranchOptions): Promise<MergeBranchResult> {
    checkString(name, "branch name");
    if (options === null || typeof options !== "object") {
      throw new InvalidArgumentError('merge() needs options with the key column: { on: "id" }');
    }
    const on = checkStrings(
      typeof options.on === "string" ? [options.on] : options.on,
      "merge key columns",
    );
    const resolve = options.resolve ?? "fail";
    checkOneOf(resolve, ["fail", "ours", "theirs"] as const, "merge resolve");
    const note = writeNote(options, "merge");
    const r = await callNative(() => this.inner.mergeBranch(name, on, resolve, note));
    return {
      version: resultNumber(r, "version", "merge"),
      rowsAdded: resultNumber(r, "rowsAdded", "merge"),
      rowsUpdated: resultNumber(r, "rowsUpdated", "merge"),
      rowsDeleted: resultNumber(r, "rowsDeleted", "merge"),
    };
  }

  /** Every branch except main, by name. */
  async list(): Promise<Record<string, BranchContents>> {
    const branches = await callNative(() => this.inner.listBranches());
    return Object.fromEntries(
      branches.map((b) => [
        b.name,
        { parentBranch: b.parentBranch ?? "main", parentVersion: b.parentVersion },
      ]),
    );
  }

  /**
   * Delete branch `name` and its versions.
   * @throws {BranchNotFoundError} when there is no such branch.
   */
  async delete(name: string): Promise<void> {
    checkString(name, "branch name");
    await callNative(() => this.inner.deleteBranch(name));
  }
}
