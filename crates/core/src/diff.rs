//! Row-level differences between two versions, on one branch or across branches.
//!
//! Two strategies:
//! - row lineage, for tables with stable row ids (palimpsest's default): a row is
//!   identified by its row id and the version that created it, and was updated when the
//!   version that last touched it differs. Only those three columns are scanned; the changed
//!   rows are then fetched by id.
//! - key comparison (`on`), for any Lance table: both versions are read whole and compared by
//!   key, a row being updated when any column both versions have differs.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Array, RecordBatch, UInt32Array, UInt64Array};
use arrow_row::{RowConverter, SortField};
use arrow_schema::{Schema, SchemaRef};
use futures::TryStreamExt;
use lance::dataset::ProjectionRequest;
use lance::Dataset;

use crate::error::{Error, ErrorCode, Result};
use crate::table::TableHandle;
use crate::version_ref::VersionRef;

use lance::dataset::ROW_ID;
const CREATED_AT: &str = "_row_created_at_version";
const UPDATED_AT: &str = "_row_last_updated_at_version";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffStrategy {
    RowLineage,
    Key,
}

impl DiffStrategy {
    pub fn name(self) -> &'static str {
        match self {
            Self::RowLineage => "row_lineage",
            Self::Key => "key",
        }
    }
}

/// Rows only in the newer version, rows in both whose values changed (new values), and
/// rows only in the older version (old values).
#[derive(Debug, Clone)]
pub struct TableDiff {
    pub strategy: DiffStrategy,
    pub from_version: u64,
    pub to_version: u64,
    pub inserted: RecordBatch,
    pub updated: RecordBatch,
    pub deleted: RecordBatch,
}

/// Where a version sits: its branch and the versions it shares with each ancestor branch.
struct Located {
    dataset: Arc<Dataset>,
    /// (branch, last version of that branch this side's history contains), nearest first.
    lineage: Vec<(String, u64)>,
}

impl TableHandle {
    /// The changes from `from` to `to`. `on` picks key comparison; without it, row lineage is
    /// used (and required).
    pub async fn diff(
        &self,
        from: &VersionRef,
        to: &VersionRef,
        on: &[String],
    ) -> Result<TableDiff> {
        let a = self.locate(from).await?;
        let b = self.locate(to).await?;
        if !on.is_empty() {
            return key_diff(&a.dataset, &b.dataset, on).await;
        }
        if !a.dataset.manifest().uses_stable_row_ids() {
            return Err(Error::invalid_argument(format!(
                "table `{}` has no stable row ids (another Lance writer created it, or createTable with stableRowIds: false), so rows can only be matched by key; pass {{ on: \"<key column>\" }}",
                self.name()
            )));
        }
        let shared_until = shared_history(&a.lineage, &b.lineage).ok_or_else(|| {
            Error::invalid_argument(
                "these versions share no history; compare them by key with { on: \"<key column>\" }",
            )
        })?;
        lineage_diff(&a.dataset, &b.dataset, shared_until).await
    }

    async fn locate(&self, side: &VersionRef) -> Result<Located> {
        let dataset = self.locate_dataset(side).await?;
        let lineage = self.lineage_of(&dataset).await?;
        Ok(Located { dataset, lineage })
    }
}

/// The last version number both histories contain: on the nearest branch both descend from,
/// the lower of the two points where they left it.
fn shared_history(a: &[(String, u64)], b: &[(String, u64)]) -> Option<u64> {
    a.iter().find_map(|(branch, va)| {
        b.iter()
            .find(|(other, _)| other == branch)
            .map(|(_, vb)| (*va).min(*vb))
    })
}

/// Row id, created-at and last-updated-at version of every row.
async fn lineage_columns(dataset: &Dataset) -> Result<(Vec<u64>, Vec<u64>, Vec<u64>)> {
    let mut scan = dataset.scan();
    scan.project(&[ROW_ID, CREATED_AT, UPDATED_AT])?;
    let batches: Vec<RecordBatch> = scan.try_into_stream().await?.try_collect().await?;
    let mut ids = Vec::new();
    let mut created = Vec::new();
    let mut updated = Vec::new();
    for batch in &batches {
        for (name, out) in [
            (ROW_ID, &mut ids),
            (CREATED_AT, &mut created),
            (UPDATED_AT, &mut updated),
        ] {
            let column = batch
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
                .ok_or_else(|| Error::internal(format!("lance returned no `{name}` column")))?;
            out.extend(column.values().iter().copied());
        }
    }
    Ok((ids, created, updated))
}

async fn lineage_diff(a: &Arc<Dataset>, b: &Arc<Dataset>, shared_until: u64) -> Result<TableDiff> {
    let (a_ids, a_created, a_updated) = lineage_columns(a).await?;
    let (b_ids, b_created, b_updated) = lineage_columns(b).await?;
    // Across branches, version numbers after the fork mean different commits on each side:
    // a row created after it exists on one side only, and one touched after it may differ.
    let same_branch = a.manifest().branch == b.manifest().branch;
    let mut in_a: HashMap<u64, (u64, u64)> = HashMap::with_capacity(a_ids.len());
    for i in 0..a_ids.len() {
        if same_branch || a_created[i] <= shared_until {
            in_a.insert(a_ids[i], (a_created[i], a_updated[i]));
        }
    }
    let mut inserted = Vec::new();
    let mut updated = Vec::new();
    let mut matched = std::collections::HashSet::with_capacity(b_ids.len());
    for i in 0..b_ids.len() {
        let id = b_ids[i];
        match in_a.get(&id) {
            Some(&(created, last)) if created == b_created[i] => {
                matched.insert(id);
                let diverged = !same_branch && last > shared_until;
                if last != b_updated[i] || diverged {
                    updated.push(id);
                }
            }
            _ => inserted.push(id),
        }
    }
    let deleted: Vec<u64> = a_ids
        .iter()
        .copied()
        .filter(|id| !matched.contains(id))
        .collect();
    Ok(TableDiff {
        strategy: DiffStrategy::RowLineage,
        from_version: a.version_id(),
        to_version: b.version_id(),
        inserted: take_by_row_id(b, &inserted).await?,
        updated: take_by_row_id(b, &updated).await?,
        deleted: take_by_row_id(a, &deleted).await?,
    })
}

/// Whole rows (and their `_rowid`) of `dataset` for `ids`, in that order.
async fn take_by_row_id(dataset: &Arc<Dataset>, ids: &[u64]) -> Result<RecordBatch> {
    let mut columns: Vec<String> = dataset
        .schema()
        .fields
        .iter()
        .map(|f| f.name.clone())
        .collect();
    columns.push(ROW_ID.to_string());
    let projection = ProjectionRequest::from_columns(&columns, dataset.schema());
    Ok(dataset.take_rows(ids, projection).await?)
}

pub(crate) async fn read_all(dataset: &Dataset) -> Result<RecordBatch> {
    let schema: SchemaRef = Arc::new(Schema::from(dataset.schema()));
    let batches: Vec<RecordBatch> = dataset
        .scan()
        .try_into_stream()
        .await?
        .try_collect()
        .await?;
    Ok(arrow_select::concat::concat_batches(&schema, &batches)?)
}

/// Row-format encodings of `columns` of `batch`, one per row, for hashing and comparing.
pub(crate) fn encode_rows(batch: &RecordBatch, columns: &[String]) -> Result<Vec<Vec<u8>>> {
    let arrays: Vec<Arc<dyn Array>> = columns
        .iter()
        .map(|name| batch.column_by_name(name).cloned().expect("checked column"))
        .collect();
    let fields = arrays
        .iter()
        .map(|a| SortField::new(a.data_type().clone()))
        .collect();
    let converter = RowConverter::new(fields)?;
    let rows = converter.convert_columns(&arrays)?;
    Ok(rows.iter().map(|r| r.as_ref().to_vec()).collect())
}

async fn key_diff(a: &Arc<Dataset>, b: &Arc<Dataset>, on: &[String]) -> Result<TableDiff> {
    let old = read_all(a).await?;
    let new = read_all(b).await?;
    let changes = KeyChanges::between(&old, &new, on)?;
    let take = |batch: &RecordBatch, rows: &[u32]| -> Result<RecordBatch> {
        Ok(arrow_select::take::take_record_batch(
            batch,
            &UInt32Array::from(rows.to_vec()),
        )?)
    };
    Ok(TableDiff {
        strategy: DiffStrategy::Key,
        from_version: a.version_id(),
        to_version: b.version_id(),
        inserted: take(&new, &changes.inserted)?,
        updated: take(&new, &changes.updated)?,
        deleted: take(&old, &changes.deleted)?,
    })
}

/// Row positions that changed between two whole versions, matched by key.
pub(crate) struct KeyChanges {
    /// Positions in the new batch.
    pub inserted: Vec<u32>,
    pub updated: Vec<u32>,
    /// Positions in the old batch.
    pub deleted: Vec<u32>,
    /// The encoded key of every row of the old and the new batch.
    pub old_keys: Vec<Vec<u8>>,
    pub new_keys: Vec<Vec<u8>>,
}

impl KeyChanges {
    pub fn between(old: &RecordBatch, new: &RecordBatch, on: &[String]) -> Result<Self> {
        for key in on {
            for batch in [old, new] {
                if batch.schema().field_with_name(key).is_err() {
                    return Err(Error::new(
                        ErrorCode::ColumnNotFound,
                        format!("key column `{key}` is missing from one of the versions compared"),
                    ));
                }
            }
        }
        let common = common_columns(old, new);
        let old_keys = encode_rows(old, on)?;
        let new_keys = encode_rows(new, on)?;
        let old_values = encode_rows(old, &common)?;
        let new_values = encode_rows(new, &common)?;
        let old_index: HashMap<&[u8], usize> = old_keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_slice(), i))
            .collect();
        let mut inserted = Vec::new();
        let mut updated = Vec::new();
        let mut seen = vec![false; old_keys.len()];
        for (i, key) in new_keys.iter().enumerate() {
            match old_index.get(key.as_slice()) {
                Some(&j) => {
                    seen[j] = true;
                    if old_values[j] != new_values[i] {
                        updated.push(i as u32);
                    }
                }
                None => inserted.push(i as u32),
            }
        }
        let deleted = (0..old_keys.len() as u32)
            .filter(|j| !seen[*j as usize])
            .collect();
        Ok(Self {
            inserted,
            updated,
            deleted,
            old_keys,
            new_keys,
        })
    }
}

/// Columns of `new` that `old` has with the same type: the ones values are compared on.
pub(crate) fn common_columns(old: &RecordBatch, new: &RecordBatch) -> Vec<String> {
    new.schema()
        .fields()
        .iter()
        .filter(|f| {
            old.schema()
                .field_with_name(f.name())
                .is_ok_and(|o| o.data_type() == f.data_type())
        })
        .map(|f| f.name().clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(items: &[(&str, u64)]) -> Vec<(String, u64)> {
        items.iter().map(|(b, v)| (b.to_string(), *v)).collect()
    }

    #[test]
    fn shared_history_is_the_lower_fork_point_on_the_nearest_common_branch() {
        let main = path(&[("main", 9)]);
        let exp = path(&[("exp", 12), ("main", 5)]);
        let sub = path(&[("sub", 14), ("exp", 7), ("main", 5)]);
        assert_eq!(shared_history(&main, &exp), Some(5));
        assert_eq!(shared_history(&exp, &main), Some(5));
        assert_eq!(shared_history(&exp, &sub), Some(7));
        assert_eq!(shared_history(&path(&[("main", 3)]), &exp), Some(3));
        assert_eq!(shared_history(&path(&[("x", 1)]), &main), None);
    }
}
