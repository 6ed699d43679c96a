//! A guard against duplicate keys from concurrent merge inserts (lance-format/lance#4585).
//!
//! Two writers that both insert key K, each planned against a version without K, both commit:
//! lance sees two appends that do not conflict. After a merge insert that inserted rows, the
//! writer checks whether any key it inserted now exists more than once. The writer whose
//! version is the newest resolves it, as if it had run second: with `whenMatchedUpdateAll`
//! its rows win (the earlier copies are deleted), otherwise the earlier rows stay and its own
//! copies are deleted. The fix is one more version; until it lands, readers can see both rows.
//!
//! Which version wrote a row comes from its lineage on tables with stable row ids. Without
//! them it is the version that added the row's fragment; a row the merge insert updated moves
//! into its fragments too, so there only keys that had no row in the planned version count.
//! (A row a third concurrent write moved counts as that write's, which can leave a duplicate;
//! and a fix that must retry finds the rows it names by address there, so rows moved
//! meanwhile are left in place, never others deleted.)

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow_array::{Array, RecordBatch, UInt64Array};
use futures::TryStreamExt;
use lance::Dataset;
use lance_core::ROW_ADDR;

use crate::commit_note::{CommitNote, OperationRecord};
use crate::diff::encode_rows;
use crate::error::{Error, Result};
use crate::table::TableHandle;
use crate::writes::{MergeInsertSpec, WriteResult};

use lance::dataset::ROW_ID;
const CREATED_AT: &str = "_row_created_at_version";

/// The version a merge insert was planned on, and that version's highest fragment id.
#[derive(Clone, Copy)]
pub(crate) struct PlannedOn {
    pub version: u64,
    pub max_fragment: Option<u32>,
}

impl PlannedOn {
    pub(crate) fn of(dataset: &Dataset) -> PlannedOn {
        PlannedOn {
            version: dataset.version().version,
            max_fragment: dataset.manifest().max_fragment_id,
        }
    }
}

/// A row written after the planned version: its key, its row id and the version that wrote it.
struct NewRow {
    key: Vec<u8>,
    row_id: u64,
    written_in: u64,
}

impl TableHandle {
    /// Run after a merge insert committed `version`; returns the fixing version, if one was
    /// needed, with the rows it deleted.
    pub(crate) async fn remove_duplicate_inserts(
        &self,
        spec: &MergeInsertSpec,
        version: u64,
        planned: PlannedOn,
    ) -> Result<Option<WriteResult>> {
        let mut latest = self.read_state().dataset.as_ref().clone();
        latest.checkout_latest().await?;
        let latest = Arc::new(latest);
        let stable = latest.manifest().uses_stable_row_ids();
        let rows = if stable {
            rows_by_lineage(&latest, spec, planned).await?
        } else {
            match rows_by_fragment(&latest, spec, planned, version).await? {
                Some(rows) => rows,
                // A version it needs is gone: the writers cannot be told apart.
                None => return Ok(None),
            }
        };
        let mut groups = duplicate_groups(rows, version);
        if !stable && !groups.is_empty() {
            let keys: HashSet<Vec<u8>> = groups.keys().cloned().collect();
            match keys_in_version(&latest, spec, planned.version, &keys).await? {
                Some(updated) => groups.retain(|key, _| !updated.contains(key)),
                None => return Ok(None),
            }
        }
        let doomed = doomed_rows(groups, spec, version);
        if doomed.is_empty() {
            return Ok(None);
        }
        let ids: Vec<String> = doomed.iter().map(u64::to_string).collect();
        let predicate = format!("{ROW_ID} IN ({})", ids.join(", "));
        let record = OperationRecord::new("dedupe")
            .param("on", spec.on.join(","))
            .param("after_version", version.to_string());
        let note = CommitNote::message(format!(
            "removed {} duplicate row(s) left by concurrent merge inserts of the same keys",
            doomed.len()
        ));
        let fix = self
            .commit_delete(latest, &predicate, &record, &note)
            .await?;
        Ok(Some(fix))
    }
}

/// Keys with more than one row, where `version` wrote one of them and no later version did:
/// only the newest inserter resolves, so two writers never both delete.
fn duplicate_groups(rows: Vec<NewRow>, version: u64) -> HashMap<Vec<u8>, Vec<(u64, u64)>> {
    let mut by_key: HashMap<Vec<u8>, Vec<(u64, u64)>> = HashMap::new();
    for row in rows {
        by_key
            .entry(row.key)
            .or_default()
            .push((row.row_id, row.written_in));
    }
    by_key.retain(|_, rows| {
        let newest = rows.iter().map(|(_, c)| *c).max().unwrap_or(0);
        rows.len() > 1 && newest == version
    });
    by_key
}

/// Row ids to delete so every key in `groups` exists once: with `whenMatchedUpdateAll` the
/// rows `version` wrote win, otherwise the earlier ones stay.
fn doomed_rows(
    groups: HashMap<Vec<u8>, Vec<(u64, u64)>>,
    spec: &MergeInsertSpec,
    version: u64,
) -> Vec<u64> {
    let ours_win = spec.when_matched_update_all;
    groups
        .values()
        .flatten()
        .filter(|(_, c)| (*c == version) != ours_win)
        .map(|(id, _)| *id)
        .collect()
}

/// Keys, stable ids and creating versions of the rows in fragments newer than the planned
/// version's: duplicates can only be among rows written after it.
async fn rows_by_lineage(
    dataset: &Dataset,
    spec: &MergeInsertSpec,
    planned: PlannedOn,
) -> Result<Vec<NewRow>> {
    let batches = scan_newer(dataset, spec, planned, &[ROW_ID, CREATED_AT]).await?;
    let mut rows = Vec::new();
    for batch in &batches {
        let keys = encode_rows(batch, &spec.on)?;
        let ids = u64_column(batch, ROW_ID)?;
        let created = u64_column(batch, CREATED_AT)?;
        rows.extend(keys.into_iter().enumerate().map(|(i, key)| NewRow {
            key,
            row_id: ids.value(i),
            written_in: created.value(i),
        }));
    }
    Ok(rows)
}

/// As `rows_by_lineage`, for a table without stable row ids: a row's id is its address, and
/// it was written before `version`, by it, or after it, as its fragment's id says (ids only
/// grow, so the highest ids of versions `version - 1` and `version` tell them apart). `None`
/// when one of those versions cannot be read.
async fn rows_by_fragment(
    dataset: &Dataset,
    spec: &MergeInsertSpec,
    planned: PlannedOn,
    version: u64,
) -> Result<Option<Vec<NewRow>>> {
    let batches = scan_newer(dataset, spec, planned, &[ROW_ADDR]).await?;
    if batches.iter().all(|b| b.num_rows() == 0) {
        return Ok(Some(Vec::new()));
    }
    let highest_id = |v: u64| async move {
        dataset
            .checkout_version(v)
            .await
            .ok()
            .map(|at| at.manifest().max_fragment_id)
    };
    let (Some(before), Some(ours)) = (highest_id(version - 1).await, highest_id(version).await)
    else {
        return Ok(None);
    };
    let written_in = |fragment: u32| {
        if ours.is_none_or(|max| fragment > max) {
            version + 1
        } else if before.is_none_or(|max| fragment > max) {
            version
        } else {
            version - 1
        }
    };
    let mut rows = Vec::new();
    for batch in &batches {
        let keys = encode_rows(batch, &spec.on)?;
        let addresses = u64_column(batch, ROW_ADDR)?;
        rows.extend(keys.into_iter().enumerate().map(|(i, key)| {
            let address = addresses.value(i);
            NewRow {
                key,
                row_id: address,
                written_in: written_in((address >> 32) as u32),
            }
        }));
    }
    Ok(Some(rows))
}

/// Which of `keys` have a row in version `version`; `None` when it cannot be read.
async fn keys_in_version(
    dataset: &Dataset,
    spec: &MergeInsertSpec,
    version: u64,
    keys: &HashSet<Vec<u8>>,
) -> Result<Option<HashSet<Vec<u8>>>> {
    let Ok(at) = dataset.checkout_version(version).await else {
        return Ok(None);
    };
    let mut scan = at.scan();
    scan.project(&spec.on)?;
    let batches: Vec<RecordBatch> = scan.try_into_stream().await?.try_collect().await?;
    let mut found = HashSet::new();
    for batch in &batches {
        found.extend(
            encode_rows(batch, &spec.on)?
                .into_iter()
                .filter(|key| keys.contains(key)),
        );
    }
    Ok(Some(found))
}

/// The key columns and `extra` of the rows in fragments newer than the planned version's.
async fn scan_newer(
    dataset: &Dataset,
    spec: &MergeInsertSpec,
    planned: PlannedOn,
    extra: &[&str],
) -> Result<Vec<RecordBatch>> {
    let mut columns: Vec<&str> = spec.on.iter().map(String::as_str).collect();
    columns.extend(extra);
    let mut scan = dataset.scan();
    scan.project(&columns)?;
    if let Some(max) = planned.max_fragment {
        let newer: Vec<_> = dataset
            .get_fragments()
            .into_iter()
            .filter(|f| f.id() as u32 > max)
            .map(|f| f.metadata().clone())
            .collect();
        scan.with_fragments(newer);
    }
    Ok(scan.try_into_stream().await?.try_collect().await?)
}

fn u64_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a UInt64Array> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
        .filter(|c| c.null_count() == 0)
        .ok_or_else(|| Error::internal(format!("lance returned no `{name}` column")))
}
