//! palimpsest's engine: versioned tables on the Lance format. Every call into lance lives here;
//! the napi binding only converts values.

mod array_copy;
mod branches;
mod buffer_pool;
mod cached_reads;
mod clone;
mod clustered_copy;
mod column_cache;
mod commit_hook;
mod commit_note;
mod connection;
mod dedupe;
mod diff;
mod directory_flush;
mod durability;
mod error;
mod exact_knn;
mod history;
mod hybrid;
mod index_probe;
mod indexed_knn;
mod indexes;
mod input;
mod keyed_strings;
mod maintenance;
mod manifest_summary;
mod memory_filter;
mod merge;
mod names;
mod query;
mod retired;
mod row_deletes;
mod row_gather;
mod row_history;
mod row_updates;
mod row_upserts;
mod seen_versions;
mod shared_memory;
mod sorted_ranges;
mod sql_text;
mod table;
mod tags;
mod vector_codes;
mod verify;
mod version_ref;
mod writes;

pub use branches::{BranchInfo, MAIN_BRANCH};
pub use clone::CloneSource;
pub use column_cache::{stats as column_cache_stats, ColumnCacheStats};
pub use commit_note::{CommitNote, RESERVED_PREFIX};
pub use connection::{Connection, CreateMode, CreateOptions, DEFAULT_CONFLICT_RETRIES};
pub use diff::{DiffStrategy, TableDiff};
pub use error::{first_line, Error, ErrorCode, Result};
pub use history::VersionInfo;
pub use indexed_knn::indexed_searches_from_memory;
pub use indexes::{IndexInfo, IndexSpec, IndexStats};
pub use input::{align_batches, Coverage};
pub use maintenance::{OptimizeOptions, OptimizeReport};
pub use merge::ConflictResolution;
pub use names::validate_table_name;
pub use query::{
    parse_distance_type, BatchStream, FullTextRequest, QueryRequest, VectorRequest, DEFAULT_TOP_K,
};
pub use row_history::{RowChange, RowEvent};
pub use table::TableHandle;
pub use tags::TagInfo;
pub use verify::{Problem, ProblemKind, VerifyReport};
pub use version_ref::VersionRef;
pub use writes::{AddMode, ColumnChange, MergeInsertSpec, NewColumns, WriteResult};

/// Re-exported so the binding uses exactly the arrow version lance does.
pub use arrow_array;
pub use arrow_schema;
pub use lance_linalg::distance::DistanceType;
