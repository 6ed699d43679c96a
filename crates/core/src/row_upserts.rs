//! Stages the common merge insert, "update every matched row, insert every other row", by
//! matching keys against the table's key column and rows' addresses.
//!
//! lance's merge joins the source with a scan of the table, then maps each matched row's
//! stable id back to its address through a row-id index, one lookup per id. A whole-row
//! upsert needs only the table's keys: matched rows are replaced by their source row (keeping
//! their stable ids, if the table has them), the rest of the source is appended, and the old
//! rows are deleted by address. Tables without stable row ids skip lance's join too: the keys
//! usually come from the column cache. Anything else (conditions, deleting rows missing from
//! the source, a source with some columns only, duplicate or null keys) goes through lance's
//! merge, which also reports the errors.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{RecordBatch, UInt32Array};
use arrow_row::{RowConverter, SortField};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::TryStreamExt;
use lance::dataset::transaction::Transaction;
use lance::Dataset;
use lance_core::{ROW_ADDR, ROW_ID};
use lance_select::RowAddrTreeMap;
use lance_table::format::Fragment;
use roaring::RoaringTreemap;

use crate::error::Result;
use crate::row_updates::{carry_row_ids, rows_with_addresses, stage_rewrite, write_new_fragments};
use crate::writes::MergeInsertSpec;

/// An upsert ready to commit.
pub(crate) struct StagedUpsert {
    pub transaction: Transaction,
    /// The replaced rows' addresses, for row-level conflict resolution.
    pub affected_rows: RowAddrTreeMap,
    pub rows_updated: u64,
    pub rows_added: u64,
}

/// Whether `spec` is the whole-row upsert this module stages, for a source with every column
/// of the table (`source` is already aligned to the table's schema). A table without stable
/// row ids whose schema names a primary key keeps lance's merge: its commit carries the
/// inserted keys, which lets lance refuse a concurrent insert of the same key.
pub(crate) fn is_whole_row_upsert(
    spec: &MergeInsertSpec,
    dataset: &Dataset,
    source: &RecordBatch,
) -> bool {
    spec.when_matched_update_all
        && spec.when_matched_update_all_where.is_none()
        && spec.when_not_matched_insert_all
        && !spec.when_not_matched_by_source_delete
        && source.num_columns() == dataset.schema().fields.len()
        && crate::row_updates::stages_by_address(dataset)
        && (dataset.manifest().uses_stable_row_ids()
            || dataset.schema().unenforced_primary_key().is_empty())
}

/// Upserts `source` (one batch, aligned to the table's schema) into `dataset` on the key
/// columns `on`, without committing. `None` when the source has duplicate or null keys: lance's
/// merge decides what those mean.
pub(crate) async fn stage_upsert(
    dataset: Arc<Dataset>,
    on: &[String],
    source: &RecordBatch,
) -> Result<Option<StagedUpsert>> {
    let key_columns = |batch: &RecordBatch| -> Result<Vec<_>> {
        on.iter()
            .map(|name| {
                batch.column_by_name(name).cloned().ok_or_else(|| {
                    crate::error::Error::schema_mismatch(format!(
                        "mergeInsert() data has no key column `{name}`"
                    ))
                })
            })
            .collect()
    };
    let source_keys = key_columns(source)?;
    if source_keys.iter().any(|k| k.null_count() > 0) {
        return Ok(None);
    }
    let converter = RowConverter::new(
        source_keys
            .iter()
            .map(|k| SortField::new(k.data_type().clone()))
            .collect(),
    )?;
    let encoded = converter.convert_columns(&source_keys)?;
    let mut by_key: HashMap<Box<[u8]>, u32> = HashMap::with_capacity(source.num_rows());
    for (row, key) in encoded.iter().enumerate() {
        match by_key.entry(key.as_ref().into()) {
            Entry::Vacant(slot) => {
                slot.insert(row as u32);
            }
            Entry::Occupied(_) => return Ok(None),
        }
    }

    // Each matched table row, in table order: its source row, stable id and address.
    let mut replacing: Vec<u32> = Vec::new();
    let mut row_ids: Vec<u64> = Vec::new();
    let mut addresses = RoaringTreemap::new();
    let mut matched = vec![false; source.num_rows()];
    let mut table = rows_with_addresses(&dataset, None, on).await?;
    while let Some(batch) = table.try_next().await? {
        let keys = converter.convert_columns(&key_columns(&batch)?)?;
        let ids = batch
            .column_by_name(ROW_ID)
            .map(|c| c.as_primitive::<UInt64Type>().clone());
        let addrs = batch
            .column_by_name(ROW_ADDR)
            .map(|c| c.as_primitive::<UInt64Type>().clone());
        let (Some(ids), Some(addrs)) = (ids, addrs) else {
            return Err(lance::Error::internal("the key scan returned no row ids").into());
        };
        for (i, key) in keys.iter().enumerate() {
            if let Some(&row) = by_key.get(key.as_ref()) {
                replacing.push(row);
                row_ids.push(ids.value(i));
                addresses.insert(addrs.value(i));
                matched[row as usize] = true;
            }
        }
    }
    let inserting: Vec<u32> = (0..source.num_rows() as u32)
        .filter(|row| !matched[*row as usize])
        .collect();

    let new_fragments = if dataset.manifest().uses_stable_row_ids() {
        let mut fragments = write_rows(&dataset, source, &replacing).await?;
        carry_row_ids(&mut fragments, &row_ids)?;
        // Inserted rows get new stable ids at the commit.
        fragments.extend(write_rows(&dataset, source, &inserting).await?);
        fragments
    } else {
        // No ids to carry: one write. A key the table holds twice is replaced twice, as
        // lance's merge does.
        let rows: Vec<u32> = replacing.iter().chain(&inserting).copied().collect();
        write_rows(&dataset, source, &rows).await?
    };
    // Every column of the replaced rows is rewritten.
    let preserving = dataset
        .schema()
        .fields_pre_order()
        .map(|f| f.id as u32)
        .collect();
    let (transaction, affected_rows) =
        stage_rewrite(&dataset, new_fragments, addresses, preserving).await?;
    Ok(Some(StagedUpsert {
        transaction,
        affected_rows,
        rows_updated: replacing.len() as u64,
        rows_added: inserting.len() as u64,
    }))
}

/// Writes `rows` of `source`, in that order, as new (uncommitted) fragments.
async fn write_rows(
    dataset: &Arc<Dataset>,
    source: &RecordBatch,
    rows: &[u32],
) -> Result<Vec<Fragment>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let picked = arrow_select::take::take_record_batch(source, &UInt32Array::from(rows.to_vec()))?;
    let stream = futures::stream::iter([Ok(picked)]);
    let rows = Box::pin(RecordBatchStreamAdapter::new(source.schema(), stream));
    write_new_fragments(dataset, rows).await
}
