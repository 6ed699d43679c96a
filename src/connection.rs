//! `NativeConnection`: JS handle of a core `Connection`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use napi_derive::napi;
use palimpsest_core::{CloneSource, Connection, CreateMode, CreateOptions};

use crate::error::{guarded, invalid_argument};
use crate::history::{commit_note, WriteNote};
use crate::schema_json::schema_from_json;
use crate::table::NativeTable;
use crate::wire::{batches_from_wire, WireBatchIn};

#[napi(object)]
pub struct ConnectOptions {
    pub storage_options: Option<HashMap<String, String>>,
    /// Flush every write to stable storage before it resolves (default true).
    pub durable: Option<bool>,
    /// How often a conflicting write is retried before `COMMIT_CONFLICT` (default 10).
    pub conflict_retries: Option<u32>,
    /// Seconds after which a read looks for versions committed by others (0: every read).
    pub read_consistency_interval: Option<f64>,
}

#[napi(object)]
pub struct CreateTableOptions {
    pub mode: String,
    pub exist_ok: bool,
    pub schema: Option<String>,
    pub note: Option<WriteNote>,
    /// None: true for a new table; an overwritten table keeps its kind.
    pub stable_row_ids: Option<bool>,
}

#[napi(object)]
pub struct CloneTableOptions {
    pub source_version: Option<i64>,
    pub source_tag: Option<String>,
}

#[napi(object)]
pub struct OpenTableOptions {
    pub version: Option<i64>,
}

#[napi]
pub struct NativeConnection {
    inner: Arc<Connection>,
    closed: AtomicBool,
}

pub(crate) fn version_arg(version: i64) -> napi::Result<u64> {
    u64::try_from(version)
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| {
            invalid_argument(format!("version must be a positive integer, got {version}"))
        })
}

#[napi]
impl NativeConnection {
    #[napi(factory)]
    pub fn connect(uri: String, options: Option<ConnectOptions>) -> napi::Result<Self> {
        let options = options.unwrap_or(ConnectOptions {
            storage_options: None,
            durable: None,
            conflict_retries: None,
            read_consistency_interval: None,
        });
        let storage = options.storage_options.unwrap_or_default();
        let mut inner = Connection::connect(&uri, storage).map_err(crate::error::to_napi)?;
        if let Some(durable) = options.durable {
            inner = inner.with_durability(durable);
        }
        if let Some(retries) = options.conflict_retries {
            inner = inner.with_conflict_retries(retries);
        }
        if let Some(seconds) = options.read_consistency_interval {
            if !seconds.is_finite() || seconds < 0.0 {
                return Err(invalid_argument(format!(
                    "readConsistencyInterval must be 0 or more seconds, got {seconds}"
                )));
            }
            let interval = std::time::Duration::from_secs_f64(seconds);
            inner = inner.with_read_consistency_interval(Some(interval));
        }
        Ok(Self {
            inner: Arc::new(inner),
            closed: AtomicBool::new(false),
        })
    }

    /// The connection, unless it was closed.
    fn live(&self) -> napi::Result<Arc<Connection>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(invalid_argument(format!(
                "the connection to {} is closed; connect() again",
                self.inner.uri()
            )));
        }
        Ok(self.inner.clone())
    }

    /// Closes the connection; tables opened from it stay usable until closed themselves.
    #[napi]
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    #[napi(getter)]
    pub fn uri(&self) -> String {
        self.inner.uri().to_string()
    }

    #[napi]
    pub async fn table_names(&self) -> napi::Result<Vec<String>> {
        let connection = self.live()?;
        guarded(connection.table_names()).await
    }

    #[napi]
    pub async fn create_table(
        &self,
        name: String,
        batches: Vec<WireBatchIn>,
        options: CreateTableOptions,
    ) -> napi::Result<NativeTable> {
        let mode = match options.mode.as_str() {
            "create" => CreateMode::Create,
            "overwrite" => CreateMode::Overwrite,
            other => {
                return Err(invalid_argument(format!(
                    "mode must be \"create\" or \"overwrite\", got {other:?}"
                )))
            }
        };
        let schema = options
            .schema
            .as_deref()
            .map(schema_from_json)
            .transpose()?
            .map(Arc::new);
        let batches = batches_from_wire(batches)?;
        let connection = self.live()?;
        if options.exist_ok && mode == CreateMode::Create {
            if let Ok(table) = connection.open_table(&name, None).await {
                table
                    .require_row_id_kind(options.stable_row_ids)
                    .map_err(crate::error::to_napi)?;
                return Ok(NativeTable::new(table));
            }
        }
        let how = CreateOptions {
            mode,
            stable_row_ids: options.stable_row_ids,
        };
        let table = guarded(connection.create_table(
            &name,
            batches,
            schema,
            how,
            &commit_note(options.note),
        ))
        .await?;
        Ok(NativeTable::new(table))
    }

    #[napi]
    pub async fn open_table(
        &self,
        name: String,
        options: Option<OpenTableOptions>,
    ) -> napi::Result<NativeTable> {
        let version = options
            .and_then(|o| o.version)
            .map(version_arg)
            .transpose()?;
        let table = guarded(self.live()?.open_table(&name, version)).await?;
        Ok(NativeTable::new(table))
    }

    /// Creates `name` as a shallow clone (no data copied) of the Lance table at `source_uri`.
    #[napi]
    pub async fn clone_table(
        &self,
        name: String,
        source_uri: String,
        options: Option<CloneTableOptions>,
    ) -> napi::Result<NativeTable> {
        let options = options.unwrap_or(CloneTableOptions {
            source_version: None,
            source_tag: None,
        });
        let source = CloneSource {
            version: options.source_version.map(version_arg).transpose()?,
            tag: options.source_tag,
        };
        let table = guarded(self.live()?.clone_table(&name, &source_uri, &source)).await?;
        Ok(NativeTable::new(table))
    }

    #[napi]
    pub async fn drop_table(&self, name: String) -> napi::Result<()> {
        guarded(self.live()?.drop_table(&name)).await
    }
}
