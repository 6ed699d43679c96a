/**
 * palimpsest: an embedded, versioned table store for AI data on Node.js, on the Lance format.
 *
 * @example
 * ```ts
 * import { connect } from "palimpsest";
 * const db = await connect("./data");
 * const table = await db.createTable("quotes", [{ id: 1n, quote: "Wubba Lubba Dub Dub!" }]);
 * await table.update({ where: "id = 1", values: { quote: "Aww geez" } }); // version 2
 * await table.checkout(1);                                                // read version 1
 * ```
 *
 * @packageDocumentation
 */

export {
  type BranchContents,
  Branches,
  type MergeBranchOptions,
  type MergeBranchResult,
} from "./branches";
export { Connection, connect, Snapshot } from "./connection";
export type {
  DiffOptions,
  RowHistoryEntry,
  RowHistoryOptions,
  TableDiff,
  VersionRef,
} from "./diff";
export {
  BranchNotFoundError,
  ColumnNotFoundError,
  CommitConflictError,
  CorruptTableError,
  type ErrorCode,
  type ErrorOptions,
  InternalError,
  InvalidArgumentError,
  InvalidPredicateError,
  IoError,
  MergeConflictError,
  PalimpsestError,
  ReadOnlyCheckoutError,
  SchemaMismatchError,
  TableExistsError,
  TableNotFoundError,
  TagNotFoundError,
  VersionNotFoundError,
} from "./errors";
export { formatHistory } from "./history";
export {
  type CreateIndexOptions,
  type FtsOptions,
  type HnswSqOptions,
  Index,
  type IndexConfig,
  type IndexStatistics,
  type IvfOptions,
  type IvfPqOptions,
} from "./indexes";
export { type MergeClauseOptions, MergeInsertBuilder } from "./merge-insert";
export type { OptimizeOptions, OptimizeReport } from "./optimize";
export { DEFAULT_K, Query, type VectorInput, VectorQuery } from "./query";
export { Table } from "./table";
export { type TagContents, Tags } from "./tags";
export type {
  AddColumnsResult,
  AddColumnsSql,
  AddOptions,
  AddResult,
  AlterColumnsResult,
  CloneTableOptions,
  ColumnAlteration,
  ConnectionOptions,
  CreateEmptyTableOptions,
  CreateTableOptions,
  Data,
  DataTypeInput,
  DeleteResult,
  DistanceType,
  DropColumnsResult,
  MergeResult,
  OpenTableOptions,
  RestoreResult,
  SchemaInput,
  TableNamesOptions,
  UpdateOptions,
  UpdateResult,
  UpdateWhereOptions,
  VerifyProblem,
  VerifyReport,
  Version,
  VersionResult,
  WriteOptions,
} from "./types";
