//! Every mutation of a table. Each one checks its input before lance writes anything, commits
//! exactly one new version, and moves the handle to it. A failure leaves the table untouched.

use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchIterator};
use arrow_schema::{DataType, Schema, SchemaRef};
use lance::dataset::{
    ColumnAlteration, InsertBuilder, MergeInsertBuilder, NewColumnTransform, UpdateBuilder,
    WhenMatched, WhenNotMatched, WhenNotMatchedBySource, WriteDestination, WriteMode, WriteParams,
};
use lance::Dataset;

use crate::error::{Error, ErrorCode, Result};
use crate::input::{align_batches, check_not_empty, Coverage};
use crate::table::TableHandle;

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
    async fn writable(&self) -> Result<Arc<Dataset>> {
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

    async fn advance(&self, dataset: Dataset) -> u64 {
        let version = dataset.version_id();
        self.write_state().dataset = Arc::new(dataset);
        version
    }

    fn write_params(&self, mode: WriteMode) -> WriteParams {
        WriteParams {
            mode,
            enable_stable_row_ids: true,
            store_params: self.connection().store_params(),
            ..Default::default()
        }
    }

    pub async fn add(&self, batches: Vec<RecordBatch>, mode: AddMode) -> Result<WriteResult> {
        let _guard = self.write_lock.lock().await;
        let current = self.writable().await?;
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        if rows == 0 && mode == AddMode::Append {
            return Err(Error::invalid_argument(
                "add() got no rows; nothing was written",
            ));
        }
        let dataset = match mode {
            AddMode::Append => {
                let schema = Schema::from(current.schema());
                let batches = align_batches(batches, &schema, Coverage::AllColumns)?;
                let params = self.write_params(WriteMode::Append);
                InsertBuilder::new(WriteDestination::Dataset(current))
                    .with_params(&params)
                    .execute(batches)
                    .await?
            }
            AddMode::Overwrite => {
                let Some(schema) = batches.first().map(|b| b.schema()) else {
                    return Err(Error::invalid_argument(
                        "add() with mode \"overwrite\" got no data; pass the new rows",
                    ));
                };
                check_not_empty(&schema)?;
                let params = self.write_params(WriteMode::Overwrite);
                let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), schema);
                Dataset::write(reader, WriteDestination::Dataset(current), Some(params)).await?
            }
        };
        let version = self.advance(dataset).await;
        Ok(WriteResult {
            version,
            rows_added: rows as u64,
            ..Default::default()
        })
    }

    /// Sets `columns[i] = expressions[i]` (SQL) on rows matching `filter` (all rows if None).
    pub async fn update(
        &self,
        filter: Option<&str>,
        assignments: &[(String, String)],
    ) -> Result<WriteResult> {
        if assignments.is_empty() {
            return Err(Error::invalid_argument(
                "update() needs at least one column to set",
            ));
        }
        let _guard = self.write_lock.lock().await;
        let current = self.writable().await?;
        let schema = current.schema().clone();
        let mut builder = UpdateBuilder::new(current);
        if let Some(filter) = filter {
            builder = builder
                .update_where(filter)
                .map_err(|e| Error::from_sql(e, filter, "the filter"))?;
        }
        for (column, expression) in assignments {
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
        let job = builder.build()?;
        let result = job.execute().await.map_err(classify_execution)?;
        let version = self.advance(result.new_dataset.as_ref().clone()).await;
        Ok(WriteResult {
            version,
            rows_updated: result.rows_updated,
            ..Default::default()
        })
    }

    pub async fn delete(&self, predicate: &str) -> Result<WriteResult> {
        if predicate.trim().is_empty() {
            return Err(Error::invalid_argument(
                "delete() needs a predicate; use \"true\" to delete every row",
            ));
        }
        let _guard = self.write_lock.lock().await;
        let current = self.writable().await?;
        // Parse first so a bad predicate is reported as such, not as an execution failure.
        current
            .scan()
            .filter(predicate)
            .map_err(|e| Error::from_sql(e, predicate, "the predicate"))?;
        let mut dataset = current.as_ref().clone();
        let result = dataset
            .delete(predicate)
            .await
            .map_err(|e| Error::from_sql(e, predicate, "the predicate"))?;
        let version = self.advance(result.new_dataset.as_ref().clone()).await;
        Ok(WriteResult {
            version,
            rows_deleted: result.num_deleted_rows,
            ..Default::default()
        })
    }

    pub async fn merge_insert(
        &self,
        spec: &MergeInsertSpec,
        batches: Vec<RecordBatch>,
    ) -> Result<WriteResult> {
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
        let mut builder = MergeInsertBuilder::try_new(current.clone(), spec.on.clone())?;
        if spec.when_matched_update_all {
            let behaviour = match &spec.when_matched_update_all_where {
                Some(condition) => {
                    check_filter(&current, condition)?;
                    WhenMatched::update_if(&current, condition)?
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
                Some(condition) => WhenNotMatchedBySource::delete_if(&current, condition)
                    .map_err(|e| Error::from_sql(e, condition, "the condition"))?,
                None => WhenNotMatchedBySource::Delete,
            };
            builder.when_not_matched_by_source(behaviour);
        }
        let job = builder.try_build()?;
        let (dataset, stats) = job
            .execute_batches(batches)
            .await
            .map_err(classify_execution)?;
        let version = self.advance(dataset.as_ref().clone()).await;
        Ok(WriteResult {
            version,
            rows_added: stats.num_inserted_rows,
            rows_updated: stats.num_updated_rows,
            rows_deleted: stats.num_deleted_rows,
        })
    }

    pub async fn add_columns(&self, columns: NewColumns) -> Result<WriteResult> {
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
        let mut dataset = current.as_ref().clone();
        dataset
            .add_columns(transform, None, None)
            .await
            .map_err(classify_execution)?;
        Ok(self.schema_write(dataset).await)
    }

    pub async fn alter_columns(&self, changes: &[ColumnChange]) -> Result<WriteResult> {
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
        let mut dataset = current.as_ref().clone();
        dataset
            .alter_columns(&alterations)
            .await
            .map_err(classify_execution)?;
        Ok(self.schema_write(dataset).await)
    }

    pub async fn drop_columns(&self, names: &[String]) -> Result<WriteResult> {
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
        let mut dataset = current.as_ref().clone();
        dataset.drop_columns(&refs).await?;
        Ok(self.schema_write(dataset).await)
    }

    async fn schema_write(&self, dataset: Dataset) -> WriteResult {
        WriteResult {
            version: self.advance(dataset).await,
            ..Default::default()
        }
    }
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
fn classify_execution(err: lance::Error) -> Error {
    let text = err.to_string();
    let lower = text.to_lowercase();
    if lower.contains("cannot cast") || lower.contains("cast error") {
        return Error::schema_mismatch(format!(
            "a value does not fit its column: {}",
            crate::error::first_line(&text)
        ))
        .with_source(err);
    }
    Error::from(err)
}
