//! `optimize`: compaction, index updates, and pruning of old versions only when the caller asks for it.
//!
//! History is never removed silently. Pruning takes versions of the current branch that are
//! older than a cutoff and/or beyond the newest N, and always keeps the latest version, every
//! tagged version and every version a live branch was forked from. The removed versions are
//! recorded in `_palimpsest/cleaned.json` so a later checkout of one explains what happened.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use lance::dataset::cleanup::CleanupPolicy;
use lance::dataset::optimize::{compact_files, CompactionOptions};
use lance::index::DatasetIndexExt;
use lance::Dataset;
use lance_index::optimize::OptimizeOptions as IndexOptimizeOptions;

use crate::branches::MAIN_BRANCH;
use crate::commit_hook::with_commit_properties;
use crate::commit_note::{CommitNote, OperationRecord};
use crate::error::{Error, Result};
use crate::table::TableHandle;
use crate::writes::WriteResult;

#[derive(Debug, Clone, Default)]
pub struct OptimizeOptions {
    /// Rewrite small fragments and drop deleted rows physically (default on).
    pub skip_compaction: bool,
    /// Remove versions older than this many milliseconds.
    pub cleanup_older_than_ms: Option<u64>,
    /// Keep at least the newest this many versions.
    pub keep_versions: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptimizeReport {
    /// The latest version afterwards (compaction adds one when it rewrote anything).
    pub version: u64,
    pub fragments_removed: u64,
    pub fragments_added: u64,
    /// Versions removed from disk, ascending.
    pub versions_removed: Vec<u64>,
    /// Versions that qualified for removal but were kept: tagged or branch fork points.
    pub versions_protected: Vec<u64>,
    pub bytes_removed: u64,
    /// Whether indexes were brought up to date with rows added since they were built.
    pub indices_optimized: bool,
}

impl TableHandle {
    pub async fn optimize(
        &self,
        options: &OptimizeOptions,
        note: &CommitNote,
    ) -> Result<OptimizeReport> {
        note.validate()?;
        if options.keep_versions == Some(0) {
            return Err(Error::invalid_argument(
                "keepVersions must be at least 1: the latest version is always kept",
            ));
        }
        let _guard = self.write_lock.lock().await;
        let current = self.writable().await?;
        let mut report = OptimizeReport::default();
        let mut dataset = current.as_ref().clone();
        if !options.skip_compaction {
            let counts = WriteResult::default();
            let properties = OperationRecord::new("compaction").properties(note, &counts);
            let compaction = CompactionOptions {
                transaction_properties: Some(Arc::new(properties)),
                ..Default::default()
            };
            let metrics = compact_files(&mut dataset, compaction, None).await?;
            report.fragments_removed = metrics.fragments_removed as u64;
            report.fragments_added = metrics.fragments_added as u64;
        }
        // Rows added since an index was built are searched exhaustively until the index
        // covers them; fold them in.
        if !dataset.load_indices().await?.is_empty() {
            let record = OperationRecord::new("optimize_indices");
            with_commit_properties(
                record.properties(note, &WriteResult::default()),
                dataset.optimize_indices(&IndexOptimizeOptions::default()),
            )
            .await?;
            report.indices_optimized = true;
        }
        if options.cleanup_older_than_ms.is_some() || options.keep_versions.is_some() {
            self.prune(&dataset, options, &mut report).await?;
        }
        report.version = dataset.version_id();
        self.write_state().dataset = Arc::new(dataset);
        Ok(report)
    }

    async fn prune(
        &self,
        dataset: &Dataset,
        options: &OptimizeOptions,
        report: &mut OptimizeReport,
    ) -> Result<()> {
        let branch = dataset.manifest().branch.clone();
        let versions = dataset.versions().await?;
        let latest = dataset.version_id();
        let now = chrono_now_ms();
        let newest_kept = options
            .keep_versions
            .map(|n| {
                let count = versions.len() as u64;
                versions
                    .get(count.saturating_sub(n) as usize)
                    .map_or(0, |v| v.version)
            })
            .unwrap_or(u64::MAX);
        let candidates: Vec<u64> = versions
            .iter()
            .filter(|v| v.version < latest && v.version < newest_kept)
            .filter(|v| match options.cleanup_older_than_ms {
                Some(age) => v.timestamp.timestamp_millis() < now - age as i64,
                None => true,
            })
            .map(|v| v.version)
            .collect();
        let protected = self.protected_versions(dataset, branch.as_deref()).await?;
        let (kept, removable): (Vec<u64>, Vec<u64>) =
            candidates.into_iter().partition(|v| protected.contains(v));
        report.versions_protected = kept;
        if removable.is_empty() {
            return Ok(());
        }
        record_cleaned(dataset, &removable, now).await?;
        let policy = CleanupPolicy {
            versions: Some(removable.iter().copied().collect()),
            error_if_tagged_old_versions: false,
            ..Default::default()
        };
        let stats = dataset.cleanup_with_policy(policy).await?;
        report.bytes_removed = stats.bytes_removed;
        let remaining: HashSet<u64> = dataset
            .versions()
            .await?
            .into_iter()
            .map(|v| v.version)
            .collect();
        report.versions_removed = removable
            .into_iter()
            .filter(|v| !remaining.contains(v))
            .collect();
        Ok(())
    }

    /// Versions of `branch` that tags point at or that branches were forked from.
    async fn protected_versions(
        &self,
        dataset: &Dataset,
        branch: Option<&str>,
    ) -> Result<HashSet<u64>> {
        let here = branch.unwrap_or(MAIN_BRANCH);
        let mut protected = HashSet::new();
        for (_, tag) in dataset.tags().list().await? {
            if tag.branch.as_deref().unwrap_or(MAIN_BRANCH) == here {
                protected.insert(tag.version);
            }
        }
        for child in self.list_branches().await? {
            if child.parent_branch.as_deref().unwrap_or(MAIN_BRANCH) == here {
                protected.insert(child.parent_version);
            }
        }
        Ok(protected)
    }
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn cleaned_path(dataset: &Dataset) -> object_store::path::Path {
    dataset
        .branch_location()
        .path
        .join("_palimpsest")
        .join("cleaned.json")
}

/// Versions removed by cleanups, with when (ms since the epoch).
pub(crate) async fn cleaned_versions(dataset: &Dataset) -> BTreeMap<u64, i64> {
    let Ok(store) = dataset.object_store(None).await else {
        return BTreeMap::new();
    };
    match store.read_one_all(&cleaned_path(dataset)).await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
        Err(_) => BTreeMap::new(),
    }
}

/// Written before anything is deleted, so an interrupted cleanup still explains itself.
async fn record_cleaned(dataset: &Dataset, versions: &[u64], now_ms: i64) -> Result<()> {
    let mut all = cleaned_versions(dataset).await;
    all.extend(versions.iter().map(|v| (*v, now_ms)));
    let bytes = serde_json::to_vec(&all)
        .map_err(|e| Error::internal(format!("could not encode the cleanup record: {e}")))?;
    let store = dataset.object_store(None).await?;
    store.put(&cleaned_path(dataset), &bytes).await?;
    Ok(())
}
