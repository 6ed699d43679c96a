//! A database: a directory (or object-store prefix) whose tables are `<name>.lance` datasets,
//! the same layout LanceDB uses, so either library opens the other's tables.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use futures::FutureExt;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use lance::dataset::{WriteMode, WriteParams};
use lance::io::{ObjectStoreParams, StorageOptionsAccessor};
use lance::Dataset;

use crate::commit_hook::commit_handler;
use crate::commit_note::{CommitNote, OperationRecord};
use crate::error::{Error, ErrorCode, Result};
use crate::input::{check_batches_finite, check_not_empty};
use crate::names::validate_table_name;
use crate::table::TableHandle;
use crate::writes::WriteResult;

const TABLE_SUFFIX: &str = ".lance";
/// Every lance manifest ends with these bytes.
const MANIFEST_MAGIC: &[u8] = b"LANC";

/// How often a write is run again when another writer committed a conflicting change first.
pub const DEFAULT_CONFLICT_RETRIES: u32 = 10;

/// How `create_table` treats an existing table of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateMode {
    Create,
    Overwrite,
}

/// How `create_table` makes a table: its [`CreateMode`], and whether a new table gets
/// stable row ids (None: yes; an existing table keeps its kind). A bare `CreateMode`
/// converts to the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateOptions {
    pub mode: CreateMode,
    pub stable_row_ids: Option<bool>,
}

impl From<CreateMode> for CreateOptions {
    fn from(mode: CreateMode) -> Self {
        Self {
            mode,
            stable_row_ids: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Connection {
    uri: String,
    local_root: Option<PathBuf>,
    storage_options: HashMap<String, String>,
    conflict_retries: u32,
    durable: bool,
    read_consistency_interval: Option<std::time::Duration>,
}

impl Connection {
    /// Opens a database. A local directory is created on first write; any other URI
    /// (`s3://…`) is passed to lance with `storage_options` untouched.
    pub fn connect(uri: &str, storage_options: HashMap<String, String>) -> Result<Self> {
        if uri.trim().is_empty() {
            return Err(Error::invalid_argument(
                "connect() needs a directory path or URI",
            ));
        }
        let local_root = local_path(uri)?;
        let uri = match &local_root {
            Some(path) => path.to_string_lossy().into_owned(),
            None => uri.trim_end_matches('/').to_string(),
        };
        Ok(Self {
            uri,
            local_root,
            storage_options,
            conflict_retries: DEFAULT_CONFLICT_RETRIES,
            durable: true,
            read_consistency_interval: None,
        })
    }

    /// How stale a table handle that follows the latest version may get: with `Some(d)`, a
    /// read more than `d` after the last check first looks for newer versions (by other
    /// handles or processes); `Some(0)` checks on every read. `None` (the default, as in
    /// LanceDB) never checks: call `checkout_latest()` to move on.
    pub fn with_read_consistency_interval(mut self, interval: Option<std::time::Duration>) -> Self {
        self.read_consistency_interval = interval;
        self
    }

    pub fn read_consistency_interval(&self) -> Option<std::time::Duration> {
        self.read_consistency_interval
    }

    /// Whether a write waits for its files to reach stable storage (local disks; default
    /// true). Turn it off for scratch tables, where speed matters more than surviving a
    /// power cut.
    pub fn with_durability(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }

    pub fn durable(&self) -> bool {
        self.durable
    }

    /// Whether the tables live on a local file system.
    pub(crate) fn is_local(&self) -> bool {
        self.local_root.is_some()
    }

    /// Sets how often a conflicting write is retried before it fails with `COMMIT_CONFLICT`.
    pub fn with_conflict_retries(mut self, retries: u32) -> Self {
        self.conflict_retries = retries;
        self
    }

    pub fn conflict_retries(&self) -> u32 {
        self.conflict_retries
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    pub fn storage_options(&self) -> &HashMap<String, String> {
        &self.storage_options
    }

    pub(crate) fn table_uri(&self, name: &str) -> String {
        format!("{}/{}{}", self.uri, name, TABLE_SUFFIX)
    }

    pub(crate) fn store_params(&self) -> Option<ObjectStoreParams> {
        if self.storage_options.is_empty() {
            return None;
        }
        Some(ObjectStoreParams {
            storage_options_accessor: Some(Arc::new(StorageOptionsAccessor::with_static_options(
                self.storage_options.clone(),
            ))),
            ..Default::default()
        })
    }

    /// Names of the tables in this database, sorted.
    pub async fn table_names(&self) -> Result<Vec<String>> {
        let Some(root) = &self.local_root else {
            return Err(Error::invalid_argument(
                "listing tables is only implemented for local directories so far",
            ));
        };
        let entries = match std::fs::read_dir(root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(io_error(e, root)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error(e, root))?;
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if let Some(name) = file_name.strip_suffix(TABLE_SUFFIX) {
                if entry.path().is_dir() && validate_table_name(name).is_ok() {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    pub(crate) async fn exists(&self, name: &str) -> Result<bool> {
        match &self.local_root {
            Some(root) => Ok(root
                .join(format!("{name}{TABLE_SUFFIX}"))
                .join("_versions")
                .is_dir()),
            None => match Dataset::open(&self.table_uri(name)).await {
                Ok(_) => Ok(true),
                Err(lance::Error::DatasetNotFound { .. } | lance::Error::NotFound { .. }) => {
                    Ok(false)
                }
                Err(e) => Err(e.into()),
            },
        }
    }

    /// Creates a table from `batches` (or from `schema` alone when there are none). Stable
    /// row ids back row lineage (`diff` without a key, the duplicate-key guard of concurrent
    /// upserts); without them every manifest, and so every branch, leaves out the moved
    /// rows' id sequences. An overwritten table keeps its kind; asking for the other fails.
    pub async fn create_table(
        &self,
        name: &str,
        batches: Vec<RecordBatch>,
        schema: Option<SchemaRef>,
        how: impl Into<CreateOptions>,
        note: &CommitNote,
    ) -> Result<TableHandle> {
        let CreateOptions {
            mode,
            stable_row_ids,
        } = how.into();
        validate_table_name(name)?;
        note.validate()?;
        let schema = match (batches.first(), schema) {
            (Some(batch), _) => batch.schema(),
            (None, Some(schema)) => schema,
            (None, None) => {
                return Err(Error::invalid_argument(
                    "createTable() got no rows and no schema; pass data or a schema",
                ))
            }
        };
        check_not_empty(&schema)?;
        check_batches_finite(&batches)?;
        if mode == CreateMode::Create && self.exists(name).await? {
            return Err(Error::new(
                ErrorCode::TableExists,
                format!(
                    "table `{name}` already exists; open it with openTable(), or pass mode \"overwrite\" or existOk"
                ),
            ));
        }
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        let mut counts = WriteResult {
            rows_added: rows as u64,
            ..Default::default()
        };
        // Overwriting an existing table is recorded as what it is, with the rows it replaced.
        let mut operation = "create";
        if mode == CreateMode::Overwrite {
            if let Ok(existing) = self.open_table(name, None).await {
                // lance keeps an existing table's kind of row ids through an overwrite.
                existing.require_row_id_kind(stable_row_ids)?;
                operation = "overwrite";
                counts.rows_deleted = existing.count_rows(None).await?;
            }
        }
        let uri = self.table_uri(name);
        let params = WriteParams {
            commit_handler: Some(commit_handler(&uri, &self.store_params(), self.durable).await?),
            transaction_properties: Some(Arc::new(
                OperationRecord::new(operation).properties(note, &counts),
            )),
            mode: match mode {
                CreateMode::Create => WriteMode::Create,
                CreateMode::Overwrite => WriteMode::Overwrite,
            },
            enable_stable_row_ids: stable_row_ids.unwrap_or(true),
            store_params: self.store_params(),
            ..Default::default()
        };
        let reader = arrow_array::RecordBatchIterator::new(batches.into_iter().map(Ok), schema);
        let dataset = Dataset::write(reader, uri.as_str(), Some(params)).await?;
        Ok(TableHandle::new(name, self.clone(), dataset))
    }

    /// Opens a table at its latest version, or at `version` as a read-only view.
    pub async fn open_table(&self, name: &str, version: Option<u64>) -> Result<TableHandle> {
        validate_table_name(name)?;
        if !self.exists(name).await? {
            return Err(self.not_found(name).await);
        }
        let latest = self.load(name, None).await;
        let (dataset, pinned) = match (latest, version) {
            (Ok(dataset), _) => (dataset, false),
            // A damaged latest manifest leaves earlier versions readable.
            (Err(err), Some(v)) if err.code == ErrorCode::CorruptTable => {
                (self.load(name, Some(v)).await?, true)
            }
            (Err(err), _) => return Err(err),
        };
        let table = TableHandle::new(name, self.clone(), dataset);
        if let Some(version) = version {
            if pinned {
                table.write_state().pinned = Some(version);
            } else {
                table.checkout(version).await?;
            }
        }
        Ok(table)
    }

    pub(crate) async fn load(&self, name: &str, version: Option<u64>) -> Result<Dataset> {
        let uri = self.table_uri(name);
        let handler = commit_handler(&uri, &self.store_params(), self.durable).await?;
        let mut builder = lance::dataset::builder::DatasetBuilder::from_uri(uri)
            .with_storage_options(self.storage_options.clone())
            .with_commit_handler(handler);
        if let Some(version) = version {
            builder = builder.with_version(version);
        }
        // lance can panic on a damaged manifest (arithmetic on garbage offsets); that is a
        // damaged table, not a crash.
        match AssertUnwindSafe(builder.load()).catch_unwind().await {
            Ok(Ok(dataset)) => Ok(dataset),
            Ok(Err(err)) => Err(self.explain_open_failure(name, version, err.into())),
            Err(_) => Err(self.explain_open_failure(
                name,
                version,
                Error::internal("lance failed while reading the table's manifest"),
            )),
        }
    }

    /// Names the damaged manifest when the one being opened lacks lance's trailing magic.
    fn explain_open_failure(&self, name: &str, version: Option<u64>, err: Error) -> Error {
        let Some(root) = &self.local_root else {
            return err;
        };
        let dir = root.join(format!("{name}{TABLE_SUFFIX}")).join("_versions");
        let Some((number, file)) = manifest_file(&dir, version) else {
            return err;
        };
        let intact = std::fs::read(&file).is_ok_and(|bytes| bytes.ends_with(MANIFEST_MAGIC));
        if intact {
            return err;
        }
        let earlier = number.saturating_sub(1);
        Error::new(
            ErrorCode::CorruptTable,
            format!(
                "the manifest of version {number} of table `{name}` (_versions/{}) is damaged; earlier versions are still readable, e.g. openTable(\"{name}\", {{ version: {earlier} }}), and restore() can make one the latest",
                file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
            ),
        )
        .with_source(err)
    }

    async fn not_found(&self, name: &str) -> Error {
        let known = self.table_names().await.unwrap_or_default();
        let hint = if known.is_empty() {
            "the database has no tables".to_string()
        } else {
            format!("tables here: {}", known.join(", "))
        };
        Error::new(
            ErrorCode::TableNotFound,
            format!("table `{name}` was not found in {} ({hint})", self.uri),
        )
    }

    /// Deletes a table and its whole history.
    pub async fn drop_table(&self, name: &str) -> Result<()> {
        validate_table_name(name)?;
        if !self.exists(name).await? {
            return Err(self.not_found(name).await);
        }
        let Some(root) = &self.local_root else {
            return Err(Error::invalid_argument(
                "dropping tables is only implemented for local directories so far",
            ));
        };
        let path = root.join(format!("{name}{TABLE_SUFFIX}"));
        std::fs::remove_dir_all(&path).map_err(|e| io_error(e, &path))
    }
}

fn io_error(err: std::io::Error, path: &std::path::Path) -> Error {
    Error::new(ErrorCode::Io, format!("{}: {err}", path.display())).with_source(err)
}

/// `Some(absolute path)` for local URIs (plain paths and `file://`), `None` for object stores.
fn local_path(uri: &str) -> Result<Option<PathBuf>> {
    let path = if let Some(rest) = uri.strip_prefix("file://") {
        PathBuf::from(rest)
    } else if uri.contains("://") {
        return Ok(None);
    } else {
        PathBuf::from(uri)
    };
    let absolute = if path.is_absolute() {
        path
    } else {
        std::env::current_dir()
            .map_err(|e| io_error(e, &path))?
            .join(path)
    };
    Ok(Some(normalize(&absolute)))
}

/// Removes `.` and `..` components without touching the filesystem (the directory may not exist).
fn normalize(path: &std::path::Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The manifest of `version` (default: the latest) in a `_versions` directory, with its
/// version number. Manifest names are the version (V1) or `u64::MAX - version` (V2).
fn manifest_file(dir: &std::path::Path, version: Option<u64>) -> Option<(u64, PathBuf)> {
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            if path.extension()? != "manifest" {
                return None;
            }
            let stem: u64 = path.file_stem()?.to_str()?.parse().ok()?;
            let number = if stem > u64::MAX / 2 {
                u64::MAX - stem
            } else {
                stem
            };
            Some((number, path))
        })
        .collect();
    found.sort();
    match version {
        Some(v) => found.into_iter().find(|(n, _)| *n == v),
        None => found.pop(),
    }
}
