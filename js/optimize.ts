/** Options and report of `Table.optimize()`. */
import { InvalidArgumentError } from "./errors";
import type { NativeOptimizeOptions } from "./native-types";
import type { WriteOptions } from "./types";
import { describe } from "./validate";

/** Options of {@link Table.optimize}; also takes a write `message` and `properties`. */
export interface OptimizeOptions extends WriteOptions {
  /** Skip rewriting small files (default: compact). */
  skipCompaction?: boolean;
  /**
   * Remove versions older than this: a duration in milliseconds, or a `Date` cutoff.
   * Without it (and without `keepVersions`) no version is removed.
   */
  cleanupOlderThan?: number | Date;
  /** Keep at least the newest this many versions (1 or more). */
  keepVersions?: number;
}

/** What {@link Table.optimize} did. */
export interface OptimizeReport {
  /** The latest version afterwards. */
  version: number;
  fragmentsRemoved: number;
  fragmentsAdded: number;
  /** Versions removed from disk; checking one out now fails with `VERSION_NOT_FOUND`. */
  versionsRemoved: number[];
  /** Versions old enough to go but kept: tagged, or a branch's fork point. */
  versionsProtected: number[];
  bytesRemoved: number;
  /** Whether indexes were brought up to date with rows added since they were built. */
  indicesOptimized: boolean;
}

/** @internal */
export function optimizeOptions(options: OptimizeOptions): NativeOptimizeOptions {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError(
      `optimize() options must be an object, got ${describe(options)}`,
    );
  }
  const { skipCompaction, cleanupOlderThan, keepVersions } = options;
  if (skipCompaction !== undefined && typeof skipCompaction !== "boolean") {
    throw new InvalidArgumentError(
      `skipCompaction must be a boolean, got ${describe(skipCompaction)}`,
    );
  }
  let ageMs: number | undefined;
  if (cleanupOlderThan instanceof Date) {
    ageMs = Date.now() - cleanupOlderThan.getTime();
    if (Number.isNaN(ageMs)) throw new InvalidArgumentError("cleanupOlderThan is an invalid Date");
    ageMs = Math.max(0, ageMs);
  } else if (cleanupOlderThan !== undefined) {
    if (
      typeof cleanupOlderThan !== "number" ||
      !Number.isFinite(cleanupOlderThan) ||
      cleanupOlderThan < 0
    ) {
      throw new InvalidArgumentError(
        `cleanupOlderThan must be 0 or more milliseconds or a Date, got ${describe(cleanupOlderThan)}`,
      );
    }
    ageMs = cleanupOlderThan;
  }
  if (keepVersions !== undefined && (!Number.isInteger(keepVersions) || keepVersions < 1)) {
    throw new InvalidArgumentError(
      `keepVersions must be an integer of 1 or more, got ${describe(keepVersions)}`,
    );
  }
  return {
    skipCompaction: skipCompaction ?? false,
    cleanupOlderThanMs: ageMs,
    keepVersions,
  };
}
