//! Puts palimpsest's commit properties into every commit, including the ones lance's API
//! gives no way to annotate (`update`, schema changes), and makes local commits durable.
//!
//! Tables are opened with a commit handler that wraps lance's own and, when the commit runs
//! inside [`with_commit_properties`], adds the properties to the transaction lance writes into
//! the manifest. Everything else is delegated unchanged.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures::stream::BoxStream;
use lance::io::{ObjectStore, ObjectStoreParams};
use lance_table::format::{IndexMetadata, Manifest, Transaction};
use lance_table::io::commit::{
    commit_handler_from_url, CommitError, CommitHandler, ManifestLocation, ManifestNamingScheme,
    ManifestWriter, PredecessorIdentity,
};
use object_store::path::Path;
use object_store::ObjectStore as RawObjectStore;

use crate::durability;
use crate::error::Result;

tokio::task_local! {
    static COMMIT_PROPERTIES: HashMap<String, String>;
}

/// Runs `write` so that the commit it makes carries `properties`.
pub(crate) async fn with_commit_properties<F: Future>(
    properties: HashMap<String, String>,
    write: F,
) -> F::Output {
    COMMIT_PROPERTIES.scope(properties, write).await
}

/// lance's commit handler for `uri`, wrapped to add commit properties and, when `durable`,
/// to flush local files to stable storage around the commit (see `durability`).
pub(crate) async fn commit_handler(
    uri: &str,
    store: &Option<ObjectStoreParams>,
    durable: bool,
) -> Result<Arc<dyn CommitHandler>> {
    let inner = commit_handler_from_url(uri, store).await?;
    Ok(Arc::new(PropertyCommitHandler { inner, durable }))
}

#[derive(Debug)]
struct PropertyCommitHandler {
    inner: Arc<dyn CommitHandler>,
    durable: bool,
}

/// What to flush after the manifest is published: the table directory and the directories
/// that gained entries.
struct PendingSync {
    table: std::path::PathBuf,
    dirs: std::collections::BTreeSet<String>,
}

impl PropertyCommitHandler {
    /// Flushes the transaction's new files before the manifest that makes them visible.
    async fn sync_before(
        &self,
        base_path: &Path,
        object_store: &ObjectStore,
        transaction: &Option<Transaction>,
        manifest: &Manifest,
    ) -> std::result::Result<Option<PendingSync>, CommitError> {
        if !self.durable || !object_store.is_local() {
            return Ok(None);
        }
        let table = durability::local_dir(base_path);
        let (mut files, mut dirs) = transaction
            .as_ref()
            .map(durability::added_paths)
            .unwrap_or_default();
        // A transaction too large for lance to put in the manifest (20 MB) stays in its own
        // file under `_transactions`, which the manifest then needs. Which files it added is
        // then unknown here (palimpsest's own writes flushed theirs before committing), so
        // the directories a write can add names to are flushed.
        let spilled = manifest
            .transaction_file
            .as_deref()
            .filter(|f| !f.is_empty());
        if let (None, Some(spilled)) = (transaction, spilled) {
            files.push(format!("_transactions/{spilled}"));
            for dir in ["_transactions", "data", "_deletions", "_indices"] {
                dirs.insert(dir.to_string());
            }
        }
        let pending = PendingSync { table, dirs };
        if !durability::has_files_to_sync(&files, &pending.dirs) {
            return Ok(Some(pending));
        }
        durability::off_runtime(move || {
            durability::sync_files(&pending.table, &files, &pending.dirs)?;
            Ok(pending)
        })
        .await
        .map(Some)
        .map_err(io_commit_error)
    }

    async fn sync_after(
        pending: Option<PendingSync>,
        location: &ManifestLocation,
    ) -> std::result::Result<(), CommitError> {
        let Some(pending) = pending else {
            return Ok(());
        };
        let manifest = durability::local_dir(&location.path);
        durability::off_runtime(move || {
            durability::sync_path(&manifest)?;
            durability::sync_dirs(&pending.table, &pending.dirs)
        })
        .await
        .map_err(io_commit_error)
    }
}

fn io_commit_error(err: std::io::Error) -> CommitError {
    CommitError::OtherError(lance::Error::io(format!(
        "could not flush a commit to stable storage: {err}"
    )))
}

fn annotate(transaction: Option<Transaction>) -> Option<Transaction> {
    let mut transaction = transaction?;
    let _ = COMMIT_PROPERTIES.try_with(|properties| {
        for (key, value) in properties {
            transaction
                .inner
                .transaction_properties
                .entry(key.clone())
                .or_insert_with(|| value.clone());
        }
    });
    Some(transaction)
}

#[async_trait::async_trait]
impl CommitHandler for PropertyCommitHandler {
    fn is_version_not_found_definitive(&self) -> bool {
        self.inner.is_version_not_found_definitive()
    }

    fn propagate_commit_error_after_success(&self) -> bool {
        self.inner.propagate_commit_error_after_success()
    }

    async fn resolve_latest_location(
        &self,
        base_path: &Path,
        object_store: &ObjectStore,
    ) -> lance::Result<ManifestLocation> {
        self.inner
            .resolve_latest_location(base_path, object_store)
            .await
    }

    async fn resolve_version_location(
        &self,
        base_path: &Path,
        version: u64,
        object_store: &dyn RawObjectStore,
    ) -> lance::Result<ManifestLocation> {
        self.inner
            .resolve_version_location(base_path, version, object_store)
            .await
    }

    async fn version_exists(
        &self,
        base_path: &Path,
        version: u64,
        object_store: &dyn RawObjectStore,
        naming_scheme: ManifestNamingScheme,
    ) -> lance::Result<bool> {
        self.inner
            .version_exists(base_path, version, object_store, naming_scheme)
            .await
    }

    fn list_detached_manifest_locations<'a>(
        &self,
        base_path: &Path,
        object_store: &'a ObjectStore,
    ) -> BoxStream<'a, lance::Result<ManifestLocation>> {
        self.inner
            .list_detached_manifest_locations(base_path, object_store)
    }

    fn list_manifest_locations<'a>(
        &self,
        base_path: &Path,
        object_store: &'a ObjectStore,
        sorted_descending: bool,
    ) -> BoxStream<'a, lance::Result<ManifestLocation>> {
        self.inner
            .list_manifest_locations(base_path, object_store, sorted_descending)
    }

    fn list_manifest_locations_since<'a>(
        &self,
        base_path: &Path,
        object_store: &'a ObjectStore,
        since_version: u64,
    ) -> BoxStream<'a, lance::Result<ManifestLocation>> {
        self.inner
            .list_manifest_locations_since(base_path, object_store, since_version)
    }

    async fn commit(
        &self,
        manifest: &mut Manifest,
        indices: Option<Vec<IndexMetadata>>,
        base_path: &Path,
        object_store: &ObjectStore,
        manifest_writer: ManifestWriter,
        naming_scheme: ManifestNamingScheme,
        transaction: Option<Transaction>,
    ) -> std::result::Result<ManifestLocation, CommitError> {
        let pending = self
            .sync_before(base_path, object_store, &transaction, manifest)
            .await?;
        let location = self
            .inner
            .commit(
                manifest,
                indices,
                base_path,
                object_store,
                manifest_writer,
                naming_scheme,
                annotate(transaction),
            )
            .await?;
        Self::sync_after(pending, &location).await?;
        Ok(location)
    }

    fn supports_predecessor_condition(&self) -> bool {
        self.inner.supports_predecessor_condition()
    }

    async fn resolve_latest_identity(
        &self,
        base_path: &Path,
        object_store: &ObjectStore,
    ) -> lance::Result<Option<PredecessorIdentity>> {
        self.inner
            .resolve_latest_identity(base_path, object_store)
            .await
    }

    async fn resolve_identity(
        &self,
        base_path: &Path,
        object_store: &ObjectStore,
        version: u64,
    ) -> lance::Result<Option<PredecessorIdentity>> {
        self.inner
            .resolve_identity(base_path, object_store, version)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn commit_after(
        &self,
        manifest: &mut Manifest,
        indices: Option<Vec<IndexMetadata>>,
        base_path: &Path,
        object_store: &ObjectStore,
        manifest_writer: ManifestWriter,
        naming_scheme: ManifestNamingScheme,
        transaction: Option<Transaction>,
        predecessor: &PredecessorIdentity,
    ) -> std::result::Result<ManifestLocation, CommitError> {
        let pending = self
            .sync_before(base_path, object_store, &transaction, manifest)
            .await?;
        let location = self
            .inner
            .commit_after(
                manifest,
                indices,
                base_path,
                object_store,
                manifest_writer,
                naming_scheme,
                annotate(transaction),
                predecessor,
            )
            .await?;
        Self::sync_after(pending, &location).await?;
        Ok(location)
    }

    async fn forget_version(
        &self,
        base_path: &Path,
        version: u64,
        identity: &str,
    ) -> lance::Result<()> {
        self.inner
            .forget_version(base_path, version, identity)
            .await
    }

    async fn delete(&self, base_path: &Path) -> lance::Result<()> {
        self.inner.delete(base_path).await
    }
}
