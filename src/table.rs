//! `NativeTable`: JS handle of a core `TableHandle`. Converts arguments and results only.

use std::sync::Arc;

use arrow_schema::Schema;
use napi_derive::napi;
use palimpsest_core::{
    AddMode, ColumnChange, MergeInsertSpec, NewColumns, TableHandle, WriteResult,
};

use crate::connection::version_arg;
use crate::error::{guarded, guarded_now, invalid_argument};
use crate::history::{commit_note, WriteNote};
use crate::schema_json::{schema_from_json, schema_to_json, type_from_json};
use crate::wire::{batches_from_wire, WireBatchIn};

#[napi(object)]
pub struct WriteSummary {
    pub version: i64,
    pub rows_added: i64,
    pub rows_updated: i64,
    pub rows_deleted: i64,
}

impl From<WriteResult> for WriteSummary {
    fn from(r: WriteResult) -> Self {
        Self {
            version: r.version as i64,
            rows_added: r.rows_added as i64,
            rows_updated: r.rows_updated as i64,
            rows_deleted: r.rows_deleted as i64,
        }
    }
}

#[napi(object)]
pub struct MergeOptions {
    pub when_matched_update_all: bool,
    pub when_matched_update_all_where: Option<String>,
    pub when_not_matched_insert_all: bool,
    pub when_not_matched_by_source_delete: bool,
    pub when_not_matched_by_source_delete_where: Option<String>,
}

#[napi(object)]
pub struct ColumnAlterationArg {
    pub path: String,
    pub rename: Option<String>,
    pub nullable: Option<bool>,
    /// TypeJson, JSON-encoded.
    pub data_type: Option<String>,
}

#[napi]
pub struct NativeTable {
    inner: Arc<TableHandle>,
}

impl NativeTable {
    pub(crate) fn new(inner: TableHandle) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    pub(crate) fn handle(&self) -> &TableHandle {
        &self.inner
    }
}

#[napi]
impl NativeTable {
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.inner.name().to_string()
    }

    #[napi]
    pub fn is_open(&self) -> bool {
        self.inner.is_open()
    }

    #[napi]
    pub fn close(&self) {
        self.inner.close()
    }

    #[napi]
    pub async fn version(&self) -> napi::Result<i64> {
        guarded(self.inner.version()).await.map(|v| v as i64)
    }

    #[napi]
    pub fn checked_out_version(&self) -> Option<i64> {
        self.inner.checked_out_version().map(|v| v as i64)
    }

    #[napi]
    pub async fn schema(&self) -> napi::Result<String> {
        let schema = guarded(self.inner.schema()).await?;
        schema_to_json(&schema)
    }

    /// `countRows(filter)` answered on this thread when memory has it at once; `null` when
    /// the caller should call `countRows`.
    #[napi]
    pub fn count_rows_at_once(&self, filter: String) -> napi::Result<Option<i64>> {
        Ok(guarded_now(|| self.inner.count_rows_at_once(&filter))?.map(|n| n as i64))
    }

    #[napi]
    pub async fn count_rows(&self, filter: Option<String>) -> napi::Result<i64> {
        guarded(self.inner.count_rows(filter.as_deref()))
            .await
            .map(|n| n as i64)
    }

    #[napi]
    pub async fn add(
        &self,
        batches: Vec<WireBatchIn>,
        mode: String,
        note: Option<WriteNote>,
    ) -> napi::Result<WriteSummary> {
        let mode = match mode.as_str() {
            "append" => AddMode::Append,
            "overwrite" => AddMode::Overwrite,
            other => {
                return Err(invalid_argument(format!(
                    "mode must be \"append\" or \"overwrite\", got {other:?}"
                )))
            }
        };
        let batches = batches_from_wire(batches)?;
        guarded(self.inner.add(batches, mode, &commit_note(note)))
            .await
            .map(Into::into)
    }

    #[napi]
    pub async fn update(
        &self,
        filter: Option<String>,
        columns: Vec<String>,
        expressions: Vec<String>,
        note: Option<WriteNote>,
    ) -> napi::Result<WriteSummary> {
        if columns.len() != expressions.len() {
            return Err(invalid_argument("update() needs one expression per column"));
        }
        let assignments: Vec<(String, String)> = columns.into_iter().zip(expressions).collect();
        guarded(
            self.inner
                .update(filter.as_deref(), &assignments, &commit_note(note)),
        )
        .await
        .map(Into::into)
    }

    #[napi]
    pub async fn delete(
        &self,
        predicate: String,
        note: Option<WriteNote>,
    ) -> napi::Result<WriteSummary> {
        guarded(self.inner.delete(&predicate, &commit_note(note)))
            .await
            .map(Into::into)
    }

    #[napi]
    pub async fn merge_insert(
        &self,
        on: Vec<String>,
        options: MergeOptions,
        batches: Vec<WireBatchIn>,
        note: Option<WriteNote>,
    ) -> napi::Result<WriteSummary> {
        let spec = MergeInsertSpec {
            on,
            when_matched_update_all: options.when_matched_update_all,
            when_matched_update_all_where: options.when_matched_update_all_where,
            when_not_matched_insert_all: options.when_not_matched_insert_all,
            when_not_matched_by_source_delete: options.when_not_matched_by_source_delete,
            when_not_matched_by_source_delete_where: options
                .when_not_matched_by_source_delete_where,
        };
        let batches = batches_from_wire(batches)?;
        guarded(self.inner.merge_insert(&spec, batches, &commit_note(note)))
            .await
            .map(Into::into)
    }

    #[napi]
    pub async fn add_columns_sql(
        &self,
        names: Vec<String>,
        expressions: Vec<String>,
        note: Option<WriteNote>,
    ) -> napi::Result<WriteSummary> {
        if names.len() != expressions.len() {
            return Err(invalid_argument(
                "addColumns() needs one expression per column",
            ));
        }
        let columns = NewColumns::Sql(names.into_iter().zip(expressions).collect());
        guarded(self.inner.add_columns(columns, &commit_note(note)))
            .await
            .map(Into::into)
    }

    #[napi]
    pub async fn add_columns_null(
        &self,
        schema: String,
        note: Option<WriteNote>,
    ) -> napi::Result<WriteSummary> {
        let schema: Schema = schema_from_json(&schema)?;
        let columns = NewColumns::AllNull(Arc::new(schema));
        guarded(self.inner.add_columns(columns, &commit_note(note)))
            .await
            .map(Into::into)
    }

    #[napi]
    pub async fn alter_columns(
        &self,
        alterations: Vec<ColumnAlterationArg>,
        note: Option<WriteNote>,
    ) -> napi::Result<WriteSummary> {
        let changes = alterations
            .into_iter()
            .map(|a| {
                Ok(ColumnChange {
                    path: a.path,
                    rename: a.rename,
                    nullable: a.nullable,
                    data_type: a.data_type.as_deref().map(type_from_json).transpose()?,
                })
            })
            .collect::<napi::Result<Vec<_>>>()?;
        guarded(self.inner.alter_columns(&changes, &commit_note(note)))
            .await
            .map(Into::into)
    }

    #[napi]
    pub async fn drop_columns(
        &self,
        names: Vec<String>,
        note: Option<WriteNote>,
    ) -> napi::Result<WriteSummary> {
        guarded(self.inner.drop_columns(&names, &commit_note(note)))
            .await
            .map(Into::into)
    }

    #[napi]
    pub async fn checkout(&self, version: i64) -> napi::Result<()> {
        let version = version_arg(version)?;
        guarded(self.inner.checkout(version)).await
    }

    /// `checkout(version)` done on this thread when the handle checked the version out
    /// before and it is unchanged; `false` when the caller should call `checkout`.
    #[napi]
    pub fn checkout_at_once(&self, version: i64) -> napi::Result<bool> {
        let version = version_arg(version)?;
        guarded_now(|| self.inner.checkout_at_once(version))
    }

    #[napi]
    pub async fn checkout_latest(&self) -> napi::Result<()> {
        guarded(self.inner.checkout_latest()).await
    }

    #[napi]
    pub async fn restore(
        &self,
        version: Option<i64>,
        note: Option<WriteNote>,
    ) -> napi::Result<WriteSummary> {
        let version = version.map(version_arg).transpose()?;
        let version = guarded(self.inner.restore(version, &commit_note(note))).await?;
        Ok(WriteResult {
            version,
            ..Default::default()
        }
        .into())
    }
}
