//! A guard against duplicate keys from concurrent merge inserts (lance-format/lance#4585).
//!
//! Two writers that both insert key K, each planned against a version without K, both commit:
//! lance sees two appends that do not conflict. After a merge insert that inserted rows, the
//! writer checks whether any key it inserted now exists more than once. The writer whose
//! version is the newest resolves it, as if it had run second: with `whenMatchedUpdateAll`
//! its rows win (the earlier copies are deleted), otherwise the earlier rows stay and its own
//! copies are deleted. The fix is one more version; until it lands, readers can see both rows.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Array, RecordBatch, UInt64Array};
use futures::TryStreamExt;
use lance::Dataset;

use crate::commit_note::{CommitNote, OperationRecord};
use crate::diff::encode_rows;
use crate::error::{Error, Result};
use crate::table::TableHandle;
use crate::writes::{MergeInsertSpec, WriteResult};

use lance::dataset::ROW_ID;
const CREATED_AT: &str = "_row_created_at_version";

impl TableHandle {
    /// Run after a merge insert committed `version`; returns the fixing version, if one was
    /// needed, with the rows it deleted.
    pub(crate) async fn remove_duplicate_inserts(
        &self,
        spec: &MergeInsertSpec,
        version: u64,
        planned_on_max_fragment: Option<u32>,
    ) -> Result<Option<WriteResult>> {
        let dataset = self.read_state().dataset.clone();
        if !dataset.manifest().uses_stable_row_ids() {
            return Ok(None);
        }
        let mut latest = dataset.as_ref().clone();
        latest.checkout_latest().await?;
        let latest = Arc::new(latest);
        let doomed = duplicate_rows(&latest, spec, version, planned_on_max_fragment).await?;
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

/// Row ids to delete so every key `version` inserted exists once. Duplicates can only be
/// among rows written after the version the merge insert was planned on, so only fragments
/// newer than that version's highest fragment id are read.
async fn duplicate_rows(
    dataset: &Dataset,
    spec: &MergeInsertSpec,
    version: u64,
    planned_on_max_fragment: Option<u32>,
) -> Result<Vec<u64>> {
    let mut columns: Vec<&str> = spec.on.iter().map(String::as_str).collect();
    columns.extend([ROW_ID, CREATED_AT]);
    let mut scan = dataset.scan();
    scan.project(&columns)?;
    if let Some(max) = planned_on_max_fragment {
        let newer: Vec<_> = dataset
            .get_fragments()
            .into_iter()
            .filter(|f| f.id() as u32 > max)
            .map(|f| f.metadata().clone())
            .collect();
        scan.with_fragments(newer);
    }
    let batches: Vec<RecordBatch> = scan.try_into_stream().await?.try_collect().await?;
    let mut by_key: HashMap<Vec<u8>, Vec<(u64, u64)>> = HashMap::new();
    for batch in &batches {
        let keys = encode_rows(batch, &spec.on)?;
        let ids = u64_column(batch, ROW_ID)?;
        let created = u64_column(batch, CREATED_AT)?;
        for (i, key) in keys.into_iter().enumerate() {
            by_key
                .entry(key)
                .or_default()
                .push((ids.value(i), created.value(i)));
        }
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
    Ok(doomed)
}

fn u64_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a UInt64Array> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
        .filter(|c| c.null_count() == 0)
        .ok_or_else(|| Error::internal(format!("lance returned no `{name}` column")))
}
