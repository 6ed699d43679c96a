//! Stages an update that finds the old rows by physical address.
//!
//! lance's `UpdateJob` reads the matching rows through a scan and a take of every column,
//! then maps each rewritten row's stable id back to its address through a row-id index it
//! builds for the version, one lookup per id. Here the rows, their ids and their addresses
//! come from the column cache when the table's columns are in memory (reading 10,000 rows'
//! vectors through lance was most of a 1% update on a 1M-row table), otherwise from one lance
//! scan that hands out addresses beside ids; the old rows are deleted by address (as in
//! `row_deletes`) and the ids are carried to the rewritten rows, which keeps the rows'
//! identity and lineage. Tables without stable row ids take the same path, minus the ids:
//! there lance has no id lookup to avoid, but it still reads every column of the matching
//! rows from disk where the cache has them in memory.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::RecordBatch;
use arrow_schema::Schema as ArrowSchema;
use datafusion::common::DFSchema;
use datafusion::logical_expr::ExprSchemable;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{PhysicalExpr, SendableRecordBatchStream};
use futures::stream::BoxStream;
use futures::StreamExt;
use lance::dataset::rowids::inline_row_lineage_max_bytes;
use lance::dataset::transaction::{Operation, Transaction, UpdateMode};
use lance::dataset::{InsertBuilder, WriteDestination, WriteMode, WriteParams};
use lance::Dataset;
use lance_core::{ROW_ADDR, ROW_ID};
use lance_datafusion::planner::Planner;
use lance_select::RowAddrTreeMap;
use lance_table::format::{Fragment, RowIdMeta};
use lance_table::rowids::{write_row_ids, RowIdSequence};
use roaring::RoaringTreemap;

use crate::error::Result;
use crate::row_deletes::extend_deletions;
use crate::writes::classify_execution;

/// An update ready to commit.
pub(crate) struct StagedUpdate {
    pub transaction: Transaction,
    /// The old rows' addresses, for row-level conflict resolution.
    pub affected_rows: RowAddrTreeMap,
    pub rows_updated: u64,
}

/// Whether `stage_update` can update `dataset`. Blob and JSON columns need lance's own
/// rewriting; a table that spills row lineage into files needs lance's placement of it.
pub(crate) fn stages_by_address(dataset: &Dataset) -> bool {
    let stable = dataset.manifest().uses_stable_row_ids();
    if stable && !matches!(inline_row_lineage_max_bytes(dataset), Ok(None)) {
        return false;
    }
    !dataset
        .schema()
        .fields_pre_order()
        .any(|f| f.is_blob() || f.metadata.contains_key("ARROW:extension:name"))
}

/// Sets `assignments` (column, SQL) on the rows of `dataset` matching `filter`, without
/// committing. The caller has checked the SQL and that `stages_by_address(dataset)`. The rows
/// come from the column cache when the table's columns are in memory, otherwise from a lance
/// scan.
pub(crate) async fn stage_update(
    dataset: Arc<Dataset>,
    filter: Option<&str>,
    assignments: &[(String, String)],
) -> Result<StagedUpdate> {
    let schema: Arc<ArrowSchema> = Arc::new(dataset.schema().into());
    let updates = Arc::new(plan_assignments(&schema, assignments).map_err(classify_execution)?);
    let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let source = rows_with_addresses(&dataset, filter, &columns).await?;
    let captured = Arc::new(Mutex::new(Captured::default()));
    let rows = {
        let captured = captured.clone();
        let schema = schema.clone();
        source.map(move |batch| {
            let batch = batch.map_err(datafusion::error::DataFusionError::from)?;
            let batch = captured
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(batch, &schema)?;
            apply_assignments(batch, &updates)
        })
    };
    let rows: SendableRecordBatchStream =
        Box::pin(RecordBatchStreamAdapter::new(schema.clone(), rows));
    let mut new_fragments = write_new_fragments(&dataset, rows).await?;
    let Captured { row_ids, addresses } =
        std::mem::take(&mut *captured.lock().unwrap_or_else(|e| e.into_inner()));
    if dataset.manifest().uses_stable_row_ids() {
        carry_row_ids(&mut new_fragments, &row_ids)?;
    }
    let rows_updated = row_ids.len() as u64;
    let preserving = assigned_field_ids(&dataset, assignments);
    let (transaction, affected_rows) =
        stage_rewrite(&dataset, new_fragments, addresses, preserving).await?;
    Ok(StagedUpdate {
        transaction,
        rows_updated,
        affected_rows,
    })
}

/// The transaction that deletes the rows at `replaced` (by address) and adds `new_fragments`
/// (rows rewritten elsewhere, carrying their stable ids if the table has them, and new
/// rows), as lance's own update and merge insert commit it. `preserving` are the rewritten
/// fields' ids, for lance's index bookkeeping. Returns the replaced rows for conflict
/// resolution too.
pub(crate) async fn stage_rewrite(
    dataset: &Dataset,
    new_fragments: Vec<Fragment>,
    replaced: RoaringTreemap,
    preserving: Vec<u32>,
) -> Result<(Transaction, RowAddrTreeMap)> {
    let (updated_fragments, removed_fragment_ids) = extend_deletions(dataset, &replaced).await?;
    let operation = Operation::Update {
        removed_fragment_ids,
        updated_fragments,
        new_fragments,
        // Rewritten rows move to new fragments, so no index covers a changed value.
        fields_modified: vec![],
        compacted_sstables: vec![],
        fields_for_preserving_frag_bitmap: preserving,
        update_mode: Some(UpdateMode::RewriteRows),
        inserted_rows_filter: None,
        updated_fragment_offsets: None,
    };
    Ok((
        Transaction::new(dataset.manifest().version, operation, None),
        RowAddrTreeMap::from(replaced),
    ))
}

/// Writes `rows` as new fragments of `dataset` without committing them.
pub(crate) async fn write_new_fragments(
    dataset: &Arc<Dataset>,
    rows: SendableRecordBatchStream,
) -> Result<Vec<Fragment>> {
    let params = WriteParams {
        mode: WriteMode::Append,
        ..Default::default()
    };
    let written = InsertBuilder::new(WriteDestination::Dataset(dataset.clone()))
        .with_params(&params)
        .execute_uncommitted_stream(rows)
        .await
        .map_err(classify_execution)?;
    match written.operation {
        Operation::Append { fragments } => Ok(fragments),
        _ => Err(lance::Error::internal("writing new rows did not stage an append").into()),
    }
}

/// `columns` of the rows matching `filter` with their `_rowid` and `_rowaddr`: from the column
/// cache when the columns are in memory, otherwise from a lance scan.
pub(crate) async fn rows_with_addresses(
    dataset: &Dataset,
    filter: Option<&str>,
    columns: &[String],
) -> Result<BoxStream<'static, lance::Result<RecordBatch>>> {
    if let Some(batches) =
        crate::cached_reads::rows_with_addresses(dataset, filter, columns).await?
    {
        return Ok(futures::stream::iter(batches.into_iter().map(Ok)).boxed());
    }
    let mut scanner = dataset.scan();
    scanner.project(columns)?;
    scanner.with_row_id().with_row_address();
    if let Some(filter) = filter {
        scanner.filter(filter)?;
    }
    Ok(scanner.try_into_stream().await?.boxed())
}

/// Each assignment as an expression over the table's columns, cast to its column's type.
fn plan_assignments(
    schema: &Arc<ArrowSchema>,
    assignments: &[(String, String)],
) -> lance::Result<Vec<(usize, Arc<dyn PhysicalExpr>)>> {
    let planner = Planner::new(schema.clone());
    let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
    assignments
        .iter()
        .map(|(column, sql)| {
            let index = schema.index_of(column)?;
            let target = schema.field(index).data_type();
            let mut expr = planner.parse_expr(sql)?;
            if &expr.get_type(&df_schema)? != target {
                expr = expr.cast_to(target, &df_schema)?;
            }
            // Folds the cast into literals.
            let expr = planner.optimize_expr(expr)?;
            Ok((index, planner.create_physical_expr(&expr)?))
        })
        .collect()
}

fn apply_assignments(
    batch: RecordBatch,
    updates: &[(usize, Arc<dyn PhysicalExpr>)],
) -> datafusion::error::Result<RecordBatch> {
    let mut columns = batch.columns().to_vec();
    for (index, expr) in updates {
        columns[*index] = expr.evaluate(&batch)?.into_array(batch.num_rows())?;
    }
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

/// The stable row ids and addresses of the rows read so far, in scan order.
#[derive(Default)]
struct Captured {
    row_ids: Vec<u64>,
    addresses: RoaringTreemap,
}

impl Captured {
    /// Records `batch`'s row ids and addresses and returns its table columns.
    fn take(
        &mut self,
        batch: RecordBatch,
        schema: &Arc<ArrowSchema>,
    ) -> datafusion::error::Result<RecordBatch> {
        let column = |name: &str| {
            batch.column_by_name(name).cloned().ok_or_else(|| {
                datafusion::error::DataFusionError::Internal(format!(
                    "the update scan returned no {name} column"
                ))
            })
        };
        let ids = column(ROW_ID)?;
        let addresses = column(ROW_ADDR)?;
        self.row_ids
            .extend_from_slice(ids.as_primitive::<UInt64Type>().values());
        self.addresses.extend(
            addresses
                .as_primitive::<UInt64Type>()
                .values()
                .iter()
                .copied(),
        );
        let table_columns = schema
            .fields()
            .iter()
            .map(|f| column(f.name()))
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new(schema.clone(), table_columns)?)
    }
}

/// Gives each new fragment the stable row ids its rows had before the rewrite; fragments
/// hold the rows in the order they were read.
pub(crate) fn carry_row_ids(fragments: &mut [Fragment], row_ids: &[u64]) -> lance::Result<()> {
    let mut rest = row_ids;
    for fragment in fragments.iter_mut() {
        let rows = fragment.physical_rows.unwrap_or(0);
        if rows > rest.len() {
            return Err(lance::Error::internal(
                "the update wrote more rows than it read",
            ));
        }
        let (mine, others) = rest.split_at(rows);
        let sequence = RowIdSequence::from(mine);
        fragment.row_id_meta = Some(RowIdMeta::Inline(write_row_ids(&sequence).into()));
        rest = others;
    }
    if !rest.is_empty() {
        return Err(lance::Error::internal(
            "the update wrote fewer rows than it read",
        ));
    }
    Ok(())
}

/// The field ids of the assigned columns and everything nested in them.
fn assigned_field_ids(dataset: &Dataset, assignments: &[(String, String)]) -> Vec<u32> {
    let names: HashSet<&str> = assignments.iter().map(|(c, _)| c.as_str()).collect();
    let mut ids = Vec::new();
    fn subtree(field: &lance_core::datatypes::Field, ids: &mut Vec<u32>) {
        ids.push(field.id as u32);
        for child in &field.children {
            subtree(child, ids);
        }
    }
    for field in dataset.schema().fields.iter() {
        if names.contains(field.name.as_str()) {
            subtree(field, &mut ids);
        }
    }
    ids
}
