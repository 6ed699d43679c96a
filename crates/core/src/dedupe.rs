//! A guard against duplicate keys from concurrent merge inserts (lance-format/lance#4585).
//!
//! Two writers that both insert key K, each planned against a version without K, both commit:
//! lance sees two appends that do not conflict. After a merge insert that inserted rows, the
//! writer checks whether any key it inserted now exists more than once. The writer whose
//! version is the newest resolves it, as if it had run second: with `whenMatchedUpdateAll`
//! its rows win (the earlier copies are deleted), otherwise the earlier rows stay and its own
//! copies are deleted. The fix is one more version; until it lands, readers can see both rows.
//!
//! Which version wrote a row comes from its lineage on tables with stable row ids, otherwise
//! from the version that added its fragment (a row a later write moved counts as that
//! write's, so a third concurrent writer can leave a duplicate there).

use std::collections::HashMap;
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
        let rows = if latest.manifest().uses_stable_row_ids() {
            rows_by_lineage(&latest, spec, planned).await?
        } else {
            rows_by_fragment(&latest, spec, planned).await?
        };
        let doomed = doomed_rows(rows, spec, version);
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

/// Row ids to delete so every key `version` inserted exists once.
fn doomed_rows(rows: Vec<NewRow>, spec: &MergeInsertSpec, version: u64) -> Vec<u64> {
    let mut by_key: HashMap<Vec<u8>, Vec<(u64, u64)>> = HashMap::new();
    for row in rows {
        by_key
            .entry(row.key)
            .or_default()
            .push((row.row_id, row.written_in));
    }
    let mut doomed = Vec::new();
    for rows in by_key.values().filter(|rows| rows.len() > 1) {
        let newest = rows.iter().map(|(_, c)| *c).max().unwrap_or(0);
        // Only the newest inserter resolves, so two writers never both delete.
        if newest != version || !rows.iter().any(|(_, c)| *c == version) {
            continue;
        }
        let ours_win = spec.when_matched_update_all;
        doomed.extend(
            rows.iter()
                .filter(|(_, c)| (*c == version) != ours_win)
                .map(|(id, _)| *id),
        );
    }
    doomed
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
/// it was written by the version that added its fragment.
async fn rows_by_fragment(
    dataset: &Dataset,
    spec: &MergeInsertSpec,
    planned: PlannedOn,
) -> Result<Vec<NewRow>> {
    let batches = scan_newer(dataset, spec, planned, &[ROW_ADDR]).await?;
    if batches.iter().all(|b| b.num_rows() == 0) {
        return Ok(Vec::new());
    }
    let added_in = fragment_versions(dataset, planned).await;
    let mut rows = Vec::new();
    for batch in &batches {
        let keys = encode_rows(batch, &spec.on)?;
        let addresses = u64_column(batch, ROW_ADDR)?;
        for (i, key) in keys.into_iter().enumerate() {
            let address = addresses.value(i);
            // A fragment whose version is gone (cleaned up meanwhile) is left alone.
            if let Some(&written_in) = added_in.get(&((address >> 32) as u32)) {
                rows.push(NewRow {
                    key,
                    row_id: address,
                    written_in,
                });
            }
        }
    }
    Ok(rows)
}

/// The version that added each fragment newer than the planned version's, from the manifests
/// of the versions after it (fragment ids only grow).
async fn fragment_versions(dataset: &Dataset, planned: PlannedOn) -> HashMap<u32, u64> {
    let mut added_in = HashMap::new();
    let newer = |id: u32| planned.max_fragment.is_none_or(|max| id > max);
    for v in planned.version + 1..=dataset.version().version {
        let Ok(at) = dataset.checkout_version(v).await else {
            continue;
        };
        for fragment in at.get_fragments() {
            let id = fragment.id() as u32;
            if newer(id) {
                added_in.entry(id).or_insert(v);
            }
        }
    }
    added_in
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
