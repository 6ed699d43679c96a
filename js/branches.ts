/**
 * Branches: writable lines of history forked from a version. Creating one copies no data
 * files; writes on a branch are invisible on main and the other way round.
 */
import { callNative } from "./native-loader";
import type { NativeTable } from "./native-types";
import { checkString, checkVersion } from "./validate";

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
   * Fork `name` from `fromVersion` (default: the version the table shows) of the current
   * branch, and return a writable table on the new branch.
   * @throws {InvalidArgumentError} when the branch exists already or the name is invalid.
   * @throws {VersionNotFoundError} when `fromVersion` does not exist.
   */
  async create(name: string, fromVersion?: number): Promise<T> {
    checkString(name, "branch name");
    if (fromVersion !== undefined) checkVersion(fromVersion);
    const inner = await callNative(() => this.inner.createBranch(name, fromVersion ?? null));
    return this.wrap(inner);
  }

  /**
   * Switch this table to the latest version of branch `name` (`"main"` for the trunk).
   * @throws {BranchNotFoundError} when there is no such branch.
   */
  async checkout(name: string): Promise<void> {
    checkString(name, "branch name");
    await callNative(() => this.inner.checkoutBranch(name));
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
