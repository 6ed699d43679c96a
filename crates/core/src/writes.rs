//! Every mutation of a table. Each one checks its input before lance writes anything, commits
//! exactly one new version, and moves the handle to it. A failure leaves the table untouched.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchIterator};
use arrow_schema::{DataType, Schema, SchemaRef};
use lance::dataset::transaction::Transaction;
use lance::dataset::{
    ColumnAlteration, CommitBuilder, InsertBuilder, MergeInsertBuilder, NewColumnTransform,
    UpdateBuilder, WhenMatched, WhenNotMatched, WhenNotMatchedBySource, WriteDestination,
    WriteMode, WriteParams,
};
use lance::Dataset;

use crate::commit_hook::{commit_handler, with_commit_properties};
use crate::commit_note::{CommitNote, OperationRecord, ROWS_UPDATED};
use crate::dedupe::PlannedOn;
use crate::error::{Error, ErrorCode, Result};
use crate::input::{align_batches, check_batches_finite, check_not_empty, Coverage};
use crate::row_deletes::stage_delete;
use crate::row_updates::{stage_update, stages_by_address};
use crate::row_upserts::{is_whole_row_upsert, stage_upsert};
use crate::sql_text::check_single_expression;
use crate::table::TableHandle;

/// How often, and for how long, an append rebases onto newer versions before giving up.
/// lance's defaults (20 attempts, 30 s) are too few for a handful of busy writers.
const APPEND_COMMIT_ATTEMPTS: u32 = 10_000;
const APPEND_RETRY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// The version a write created and the rows it touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteResult {
    pub version: u64,
    pub rows_added: u64,
    pub rows_updated: u64,
    pub rows_deleted: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddMode {
    Append,
    Overwrite,
}

/// The clauses of a merge insert.
#[derive(Debug, Clone, Default)]
pub struct MergeInsertSpec {
    pub on: Vec<String>,
    pub when_matched_update_all: bool,
    pub when_matched_update_all_where: Option<String>,
    pub when_not_matched_insert_all: bool,
    pub when_not_matched_by_source_delete: bool,
    pub when_not_matched_by_source_delete_where: Option<String>,
}

/// A column to add: a SQL expression over existing columns, or an all-null column of a type.
#[derive(Debug, Clone)]
pub enum NewColumns {
    Sql(Vec<(String, String)>),
    AllNull(SchemaRef),
}

#[derive(Debug, Clone, Default)]
pub struct ColumnChange {
    pub path: String,
    pub rename: Option<String>,
    pub nullable: Option<bool>,
    pub data_type: Option<DataType>,
}

impl TableHandle {
    /// The latest dataset, for a write; rejects closed handles and checked-out views.
    pub(crate) async fn writable(&self) -> Result<Arc<Dataset>> {
        let state = self.read_state();
        if state.closed {
            return Err(self.closed_error());
        }
        if let Some(version) = state.pinned {
            return Err(Error::new(
                ErrorCode::ReadOnlyCheckout,
                format!(
                    "table `{}` is checked out at version {version}, which is read-only; call checkoutLatest() to write, or restore({version}) to make it the latest",
                    self.name()
                ),
            ));
        }
        Ok(state.dataset.clone())
    }

    pub(crate) async fn advance(&self, dataset: Dataset) -> u64 {
        let version = dataset.version_id();
        self.write_state().dataset = Arc::new(dataset);
        version
    }

    async fn write_params(
        &self,
        mode: WriteMode,
        properties: HashMap<String, String>,
    ) -> Result<WriteParams> {
        let store_params = self.connection().store_params();
        Ok(WriteParams {
            mode,
            enable_stable_row_ids: true,
            commit_handler: Some(
                commit_handler(&self.uri(), &store_params, self.connection().durable()).await?,
            ),
            store_params,
            transaction_properties: Some(Arc::new(properties)),
            ..Default::default()
        })
    }

    pub async fn add(
        &self,
        batches: Vec<RecordBatch>,
        mode: AddMode,
        note: &CommitNote,
    ) -> Result<WriteResult> {
        note.validate()?;
        let _guard = self.write_lock.lock().await;
        let current = self.writable().await?;
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        if rows == 0 && mode == AddMode::Append {
            return Err(Error::invalid_argument(
                "add() got no rows; nothing was written",
            ));
        }
        let mut counts = WriteResult {
            rows_added: rows as u64,
            ..Default::default()
        };
        let dataset = match mode {
            AddMode::Append => {
                let schema = Schema::from(current.schema());
                let batches = align_batches(batches, &schema, Coverage::AllColumns)?;
                let properties = OperationRecord::new("append").properties(note, &counts);
                let params = self.write_params(WriteMode::Append, properties).await?;
                let tx = InsertBuilder::new(WriteDestination::Dataset(current.clone()))
                    .with_params(&params)
                    .execute_uncommitted(batches)
                    .await?;
                if self.connection().durable() && self.connection().is_local() {
                    let table = crate::durability::local_dir(&current.branch_location().path);
                    crate::durability::presync(table, &tx.operation)
                        .await
                        .map_err(|e| crate::durability::flush_error("the new data files", e))?;
                }
                // Appends never conflict with each other; they only have to rebase past every
                // commit that landed first, which under many writers takes more than lance's
                // default 20 attempts.
                CommitBuilder::new(current)
                    .with_max_retries(APPEND_COMMIT_ATTEMPTS)
                    .with_retry_timeout(APPEND_RETRY_TIMEOUT)
                    .execute(tx)
                    .await?
            }
            AddMode::Overwrite => {
                let Some(schema) = batches.first().map(|b| b.schema()) else {
                    return Err(Error::invalid_argument(
                        "add() with mode \"overwrite\" got no data; pass the new rows",
                    ));
                };
                check_not_empty(&schema)?;
                check_batches_finite(&batches)?;
                counts.rows_deleted = current.count_rows(None).await? as u64;
                let properties = OperationRecord::new("overwrite").properties(note, &counts);
                let params = self.write_params(WriteMode::Overwrite, properties).await?;
                let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), schema);
                Dataset::write(reader, WriteDestination::Dataset(current), Some(params)).await?
            }
        };
        let version = self.advance(dataset).await;
        Ok(WriteResult { version, ..counts })
    }

    /// Sets `columns[i] = expressions[i]` (SQL) on rows matching `filter` (all rows if None).
    pub async fn update(
        &self,
        filter: Option<&str>,
        assignments: &[(String, String)],
        note: &CommitNote,
    ) -> Result<WriteResult> {
        note.validate()?;
        if assignments.is_empty() {
            return Err(Error::invalid_argument(
                "update() needs at least one column to set",
            ));
        }
        let _guard = self.write_lock.lock().await;
        let current = self.writable().await?;
        let schema = current.schema().clone();
        let mut builder = UpdateBuilder::new(current.clone())
            .conflict_retries(self.connection().conflict_retries());
        if let Some(filter) = filter {
            check_single_expression(filter, "the filter")?;
            builder = builder
                .update_where(filter)
                .map_err(|e| Error::from_sql(e, filter, "the filter"))?;
        }
        for (column, expression) in assignments {
            check_single_expression(expression, "the value")?;
            if schema.field(column).is_none() {
                return Err(Error::new(
                    ErrorCode::ColumnNotFound,
                    format!("update() sets column `{column}`, which the table does not have"),
                ));
            }
            builder = builder
                .set(column, expression)
                .map_err(|e| Error::from_sql(e, expression, "the value"))?;
        }
        // The builder has parsed and checked every expression; lance's job is built only when
        // lance runs the update.
        let mut record = OperationRecord::new("update").param("columns", column_list(assignments));
        if let Some(filter) = filter {
            record = record.param("predicate", filter);
        }
        if stages_by_address(&current) {
            return self
                .commit_staged(current, &record, note, |base| async move {
                    let staged = stage_update(base.clone(), filter, assignments).await?;
                    let counts = WriteResult {
                        rows_updated: staged.rows_updated,
                        ..Default::default()
                    };
                    let builder = CommitBuilder::new(base).with_affected_rows(staged.affected_rows);
                    Ok((builder, staged.transaction, counts))
                })
                .await;
        }
        let job = builder.build()?;
        // The updated count is not known before the commit; the log reads it from the
        // transaction's rewritten fragments.
        let mut properties = record.properties(note, &WriteResult::default());
        properties.remove(ROWS_UPDATED);
        let result = with_commit_properties(properties, job.execute())
            .await
            .map_err(classify_execution)?;
        let version = self.advance(result.new_dataset.as_ref().clone()).await;
        Ok(WriteResult {
            version,
            rows_updated: result.rows_updated,
            ..Default::default()
        })
    }

    pub async fn delete(&self, predicate: &str, note: &CommitNote) -> Result<WriteResult> {
        note.validate()?;
        if predicate.trim().is_empty() {
            return Err(Error::invalid_argument(
                "delete() needs a predicate; use \"true\" to delete every row",
            ));
        }
        check_single_expression(predicate, "the predicate")?;
        let _guard = self.write_lock.lock().await;
        let current = self.writable().await?;
        // Parse first so a bad predicate is reported as such, not as an execution failure.
        current
            .scan()
            .filter(predicate)
            .map_err(|e| Error::from_sql(e, predicate, "the predicate"))?;
        let record = OperationRecord::new("delete").param("predicate", predicate);
        self.commit_delete(current, predicate, &record, note).await
    }

    /// Deletes the rows matching `predicate` from `base` (retrying on conflicts) as one
    /// version recorded as `record`. The caller holds the write lock.
    pub(crate) async fn commit_delete(
        &self,
        base: Arc<Dataset>,
        predicate: &str,
        record: &OperationRecord,
        note: &CommitNote,
    ) -> Result<WriteResult> {
        self.commit_staged(base, record, note, |base| async move {
            let staged = stage_delete(base.clone(), predicate)
                .await
                .map_err(|e| Error::from_sql(e, predicate, "the predicate"))?;
            let mut builder = CommitBuilder::new(base);
            if let Some(rows) = staged.affected_rows {
                builder = builder.with_affected_rows(rows);
            }
            let counts = WriteResult {
                rows_deleted: staged.num_deleted_rows,
                ..Default::default()
            };
            Ok((builder, staged.transaction, counts))
        })
        .await
    }

    /// Stages a write on `base` with `stage` and commits it as one version recorded as
    /// `record`; when another writer committed a conflicting change first, stages it again on
    /// the latest version, up to the connection's retry count.
    async fn commit_staged<'a, F, Fut>(
        &self,
        mut base: Arc<Dataset>,
        record: &OperationRecord,
        note: &CommitNote,
        stage: F,
    ) -> Result<WriteResult>
    where
        F: Fn(Arc<Dataset>) -> Fut,
        Fut: std::future::Future<Output = Result<(CommitBuilder<'a>, Transaction, WriteResult)>>,
    {
        for attempt in 0.. {
            let (builder, tx, counts) = stage(base.clone()).await?;
            let tx = with_properties(tx, record.properties(note, &counts));
            if let Some(done) = self
                .commit_attempt(builder, tx, counts, &mut base, attempt)
                .await?
            {
                return Ok(done);
            }
        }
        unreachable!("the retry loop returns or fails")
    }

    /// Commits a staged write. `None` means another writer committed a conflicting change
    /// first and retries remain: `base` is then the latest version to stage the write on again.
    async fn commit_attempt(
        &self,
        builder: CommitBuilder<'_>,
        tx: Transaction,
        counts: WriteResult,
        base: &mut Arc<Dataset>,
        attempt: u32,
    ) -> Result<Option<WriteResult>> {
        let err = match builder.execute(tx).await {
            Ok(dataset) => {
                let version = self.advance(dataset).await;
                return Ok(Some(WriteResult { version, ..counts }));
            }
            Err(err) => err,
        };
        let retryable = matches!(err, lance::Error::RetryableCommitConflict { .. });
        if !retryable || attempt >= self.connection().conflict_retries() {
            return Err(classify_execution(err));
        }
        let mut latest = base.as_ref().clone();
        latest.checkout_latest().await?;
        *base = Arc::new(latest);
        Ok(None)
    }

    pub async fn merge_insert(
        &self,
        spec: &MergeInsertSpec,
        batches: Vec<RecordBatch>,
        note: &CommitNote,
    ) -> Result<WriteResult> {
        note.validate()?;
        if spec.on.is_empty() {
            return Err(Error::invalid_argument(
                "mergeInsert() needs at least one key column",
            ));
        }
        let _guard = self.write_lock.lock().await;
        let current = self.writable().await?;
        let schema = Schema::from(current.schema());
        for key in &spec.on {
            if schema.field_with_name(key).is_err() {
                return Err(Error::new(
                    ErrorCode::ColumnNotFound,
                    format!("mergeInsert() key `{key}` is not a column of the table"),
                ));
            }
        }
        for condition in [
            &spec.when_matched_update_all_where,
            &spec.when_not_matched_by_source_delete_where,
        ]
        .into_iter()
        .flatten()
        {
            check_single_expression(condition, "the condition")?;
        }
        if batches.iter().all(|b| b.num_rows() == 0) {
            return Err(Error::invalid_argument(
                "mergeInsert() got no rows; nothing was written",
            ));
        }
        let batches = align_batches(batches, &schema, Coverage::Subset)?;
        if let Some(batch) = batches.first() {
            for key in &spec.on {
                if batch.schema().field_with_name(key).is_err() {
                    return Err(Error::schema_mismatch(format!(
                        "mergeInsert() data has no key column `{key}`"
                    )));
                }
            }
        }
        let record = OperationRecord::new("merge_insert").param("on", spec.on.join(","));
        // Rows another writer could have inserted concurrently live in fragments added after
        // the version this write was planned on.
        let planned_on = PlannedOn::of(&current);
        let mut result = self
            .commit_merge_insert(current, spec, batches, &record, note)
            .await?;
        if result.rows_added > 0 {
            let fix = self
                .remove_duplicate_inserts(spec, result.version, planned_on)
                .await?;
            if let Some(fix) = fix {
                // Report what the serial order would have done: the duplicated keys were
                // already there, so they were updated (our rows won) or left alone.
                result.version = fix.version;
                result.rows_added -= fix.rows_deleted.min(result.rows_added);
                if spec.when_matched_update_all {
                    result.rows_updated += fix.rows_deleted;
                }
            }
        }
        Ok(result)
    }

    /// Runs the merge insert `spec` of `batches` into `base` (retrying on conflicts) as one
    /// version recorded as `record`. The caller holds the write lock and checked the input.
    pub(crate) async fn commit_merge_insert(
        &self,
        base: Arc<Dataset>,
        spec: &MergeInsertSpec,
        batches: Vec<RecordBatch>,
        record: &OperationRecord,
        note: &CommitNote,
    ) -> Result<WriteResult> {
        // The whole-row upsert is staged by row address when the source allows it.
        let whole = match batches.first() {
            Some(first) if is_whole_row_upsert(spec, &base, first) => Some(
                arrow_select::concat::concat_batches(&first.schema(), &batches)?,
            ),
            _ => None,
        };
        let batches = &batches;
        let whole = &whole;
        self.commit_staged(base, record, note, |base| async move {
            if let Some(source) = whole {
                if let Some(staged) = stage_upsert(base.clone(), &spec.on, source).await? {
                    let counts = WriteResult {
                        version: 0,
                        rows_added: staged.rows_added,
                        rows_updated: staged.rows_updated,
                        rows_deleted: 0,
                    };
                    let builder = CommitBuilder::new(base).with_affected_rows(staged.affected_rows);
                    return Ok((builder, staged.transaction, counts));
                }
            }
            let staged = merge_insert_job(&base, spec)?
                .execute_uncommitted_batches(batches.clone())
                .await
                .map_err(classify_execution)?;
            let mut builder = CommitBuilder::new(base);
            if let Some(rows) = staged.affected_rows {
                builder = builder.with_affected_rows(rows);
            }
            let counts = WriteResult {
                version: 0,
                rows_added: staged.stats.num_inserted_rows,
                rows_updated: staged.stats.num_updated_rows,
                rows_deleted: staged.stats.num_deleted_rows,
            };
            Ok((builder, staged.transaction, counts))
        })
        .await
    }

    /// Replaces all rows of `base` with `batches` (their schema becomes the table's) as one
    /// version recorded as `record`. The caller holds the write lock.
    pub(crate) async fn commit_overwrite(
        &self,
        base: Arc<Dataset>,
        batch: RecordBatch,
        record: &OperationRecord,
        note: &CommitNote,
        counts: WriteResult,
    ) -> Result<WriteResult> {
        let params = self
            .write_params(WriteMode::Overwrite, record.properties(note, &counts))
            .await?;
        let schema = batch.schema();
        let reader = RecordBatchIterator::new(vec![Ok(batch)], schema);
        let dataset = Dataset::write(reader, WriteDestination::Dataset(base), Some(params)).await?;
        let version = self.advance(dataset).await;
        Ok(WriteResult { version, ..counts })
    }

    pub async fn add_columns(&self, columns: NewColumns, note: &CommitNote) -> Result<WriteResult> {
        note.validate()?;
        let _guard = self.write_lock.lock().await;
        let current = self.writable().await?;
        let existing = Schema::from(current.schema());
        let names: Vec<String> = match &columns {
            NewColumns::Sql(pairs) => pairs.iter().map(|(n, _)| n.clone()).collect(),
            NewColumns::AllNull(schema) => {
                schema.fields().iter().map(|f| f.name().clone()).collect()
            }
        };
        if names.is_empty() {
            return Err(Error::invalid_argument(
                "addColumns() needs at least one column",
            ));
        }
        for name in &names {
            if name.is_empty() {
                return Err(Error::invalid_argument("a column name cannot be empty"));
            }
            if existing.field_with_name(name).is_ok() {
                return Err(Error::schema_mismatch(format!(
                    "column `{name}` already exists; drop it first or pick another name"
                )));
            }
        }
        let transform = match columns {
            NewColumns::Sql(pairs) => {
                for (_, expression) in &pairs {
                    check_single_expression(expression, "the expression")?;
                    check_expression(&current, expression)?;
                }
                NewColumnTransform::SqlExpressions(pairs)
            }
            NewColumns::AllNull(schema) => {
                if let Some(f) = schema.fields().iter().find(|f| !f.is_nullable()) {
                    return Err(Error::schema_mismatch(format!(
                        "new column `{}` must be nullable: existing rows get null in it",
                        f.name()
                    )));
                }
                NewColumnTransform::AllNulls(schema)
            }
        };
        let record = OperationRecord::new("add_columns").param("columns", names.join(","));
        let mut dataset = current.as_ref().clone();
        with_commit_properties(
            record.properties(note, &WriteResult::default()),
            dataset.add_columns(transform, None, None),
        )
        .await
        .map_err(classify_execution)?;
        Ok(self.schema_write(dataset).await)
    }

    pub async fn alter_columns(
        &self,
        changes: &[ColumnChange],
        note: &CommitNote,
    ) -> Result<WriteResult> {
        note.validate()?;
        if changes.is_empty() {
            return Err(Error::invalid_argument(
                "alterColumns() needs at least one change",
            ));
        }
        let _guard = self.write_lock.lock().await;
        let current = self.writable().await?;
        for change in changes {
            if current.schema().field(&change.path).is_none() {
                return Err(Error::new(
                    ErrorCode::ColumnNotFound,
                    format!(
                        "alterColumns() names column `{}`, which the table does not have",
                        change.path
                    ),
                ));
            }
        }
        let alterations: Vec<ColumnAlteration> = changes
            .iter()
            .map(|c| ColumnAlteration {
                path: c.path.clone(),
                rename: c.rename.clone(),
                nullable: c.nullable,
                data_type: c.data_type.clone(),
            })
            .collect();
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        let record = OperationRecord::new("alter_columns").param("columns", paths.join(","));
        let mut dataset = current.as_ref().clone();
        with_commit_properties(
            record.properties(note, &WriteResult::default()),
            dataset.alter_columns(&alterations),
        )
        .await
        .map_err(classify_execution)?;
        Ok(self.schema_write(dataset).await)
    }

    pub async fn drop_columns(&self, names: &[String], note: &CommitNote) -> Result<WriteResult> {
        note.validate()?;
        if names.is_empty() {
            return Err(Error::invalid_argument(
                "dropColumns() needs at least one column name",
            ));
        }
        let _guard = self.write_lock.lock().await;
        let current = self.writable().await?;
        for name in names {
            if current.schema().field(name).is_none() {
                return Err(Error::new(
                    ErrorCode::ColumnNotFound,
                    format!("dropColumns() names column `{name}`, which the table does not have"),
                ));
            }
        }
        if names.len() >= current.schema().fields.len() {
            return Err(Error::schema_mismatch(
                "dropColumns() would remove every column; a table needs at least one",
            ));
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let record = OperationRecord::new("drop_columns").param("columns", names.join(","));
        let mut dataset = current.as_ref().clone();
        with_commit_properties(
            record.properties(note, &WriteResult::default()),
            dataset.drop_columns(&refs),
        )
        .await?;
        Ok(self.schema_write(dataset).await)
    }

    async fn schema_write(&self, dataset: Dataset) -> WriteResult {
        WriteResult {
            version: self.advance(dataset).await,
            ..Default::default()
        }
    }
}

/// The lance job for `spec` against `base` (built again for each retry).
fn merge_insert_job(
    base: &Arc<Dataset>,
    spec: &MergeInsertSpec,
) -> Result<lance::dataset::MergeInsertJob> {
    let mut builder = MergeInsertBuilder::try_new(base.clone(), spec.on.clone())?;
    if spec.when_matched_update_all {
        let behaviour = match &spec.when_matched_update_all_where {
            Some(condition) => {
                check_filter(base, condition)?;
                WhenMatched::update_if(base, condition)?
            }
            None => WhenMatched::UpdateAll,
        };
        builder.when_matched(behaviour);
    } else {
        builder.when_matched(WhenMatched::DoNothing);
    }
    builder.when_not_matched(if spec.when_not_matched_insert_all {
        WhenNotMatched::InsertAll
    } else {
        WhenNotMatched::DoNothing
    });
    if spec.when_not_matched_by_source_delete {
        let behaviour = match &spec.when_not_matched_by_source_delete_where {
            Some(condition) => WhenNotMatchedBySource::delete_if(base, condition)
                .map_err(|e| Error::from_sql(e, condition, "the condition"))?,
            None => WhenNotMatchedBySource::Delete,
        };
        builder.when_not_matched_by_source(behaviour);
    }
    Ok(builder.try_build()?)
}

fn with_properties(mut tx: Transaction, properties: HashMap<String, String>) -> Transaction {
    tx.transaction_properties = Some(Arc::new(properties));
    tx
}

fn column_list(assignments: &[(String, String)]) -> String {
    let names: Vec<&str> = assignments.iter().map(|(c, _)| c.as_str()).collect();
    names.join(",")
}

/// Parses `filter` against the table so errors name the SQL, not an execution stage.
fn check_filter(dataset: &Dataset, filter: &str) -> Result<()> {
    dataset
        .scan()
        .filter(filter)
        .map_err(|e| Error::from_sql(e, filter, "the condition"))?;
    Ok(())
}

/// Plans `expression` as a projection so unknown columns and bad SQL fail before any write.
fn check_expression(dataset: &Dataset, expression: &str) -> Result<()> {
    dataset
        .scan()
        .project_with_transform(&[("__palimpsest_check", expression)])
        .map_err(|e| Error::from_sql(e, expression, "the expression"))?;
    Ok(())
}

/// Execution-time failures: casts that cannot hold a value are schema mismatches.
pub(crate) fn classify_execution(err: lance::Error) -> Error {
    let text = err.to_string();
    let lower = text.to_lowercase();
    if lower.contains("ambiguous merge insert") {
        return Error::new(
            ErrorCode::MergeConflict,
            "the mergeInsert() data has several rows with the same key; keep one row per key",
        )
        .with_source(err);
    }
    if lower.contains("cannot cast") || lower.contains("cast error") {
        return Error::schema_mismatch(format!(
            "a value does not fit its column: {}",
            crate::error::first_line(&text)
        ))
        .with_source(err);
    }
    Error::from(err)
}
