//! `TableHandle`: one open table, following its latest version or pinned to a checked-out one.

use std::sync::Arc;

use arrow_schema::SchemaRef;
use lance::Dataset;
use std::sync::RwLock;

use lance::dataset::transaction::{Operation, Transaction};
use lance::dataset::CommitBuilder;

use crate::commit_note::{CommitNote, OperationRecord};
use crate::connection::Connection;
use crate::error::{Error, ErrorCode, Result};
use crate::retired::Retired;
use crate::seen_versions::SeenVersions;

pub(crate) struct TableState {
    pub(crate) dataset: Arc<Dataset>,
    /// `Some(version)` while a version is checked out: the view is read-only.
    pub(crate) pinned: Option<u64>,
    pub(crate) closed: bool,
    /// When the view was last compared with the latest version (read consistency).
    pub(crate) checked_at: std::time::Instant,
}

pub struct TableHandle {
    name: String,
    connection: Connection,
    /// Held only for short, non-async sections: never across an `.await`.
    pub(crate) state: RwLock<TableState>,
    /// Serialises writes through this handle; other handles and processes are handled by
    /// lance's optimistic commit.
    pub(crate) write_lock: tokio::sync::Mutex<()>,
    /// Versions checked out before, for `checkout_at_once`.
    seen_versions: SeenVersions,
    /// Datasets `checkout_at_once` replaced, freed by the next `view()` on a worker thread.
    retired: Retired<Dataset>,
}

impl TableHandle {
    pub(crate) fn new(name: &str, connection: Connection, dataset: Dataset) -> Self {
        Self {
            name: name.to_string(),
            connection,
            state: RwLock::new(TableState {
                dataset: Arc::new(dataset),
                pinned: None,
                closed: false,
                checked_at: std::time::Instant::now(),
            }),
            write_lock: tokio::sync::Mutex::new(()),
            seen_versions: SeenVersions::default(),
            retired: Retired::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn uri(&self) -> String {
        self.connection.table_uri(&self.name)
    }

    pub(crate) fn closed_error(&self) -> Error {
        Error::invalid_argument(format!(
            "table `{}` is closed; open it again with openTable()",
            self.name
        ))
    }

    /// Whether a read must first look for other writers' versions (read consistency).
    fn is_stale(&self, state: &TableState) -> bool {
        match (state.pinned, self.connection.read_consistency_interval()) {
            (None, Some(interval)) => state.checked_at.elapsed() >= interval,
            _ => false,
        }
    }

    /// The dataset of the current view when it is there without any I/O (the handle is open
    /// and no read-consistency check is due); `None` otherwise, for `view` to sort out.
    pub(crate) fn view_now(&self) -> Option<Arc<Dataset>> {
        let state = self.read_state();
        (!state.closed && !self.is_stale(&state)).then(|| state.dataset.clone())
    }

    /// The dataset of the current view, for reads.
    pub(crate) async fn view(&self) -> Result<Arc<Dataset>> {
        self.retired.free();
        let (dataset, stale) = {
            let state = self.read_state();
            if state.closed {
                return Err(self.closed_error());
            }
            (state.dataset.clone(), self.is_stale(&state))
        };
        if !stale {
            return Ok(dataset);
        }
        // With a read-consistency interval, a handle that follows the latest version picks
        // up other writers' commits on its next read once the interval has passed.
        let latest = dataset.latest_version_id().await?;
        let fresh = if latest == dataset.version_id() {
            dataset
        } else {
            let mut reloaded = dataset.as_ref().clone();
            reloaded.checkout_latest().await?;
            Arc::new(reloaded)
        };
        let mut state = self.write_state();
        if state.pinned.is_none() && state.dataset.version_id() <= fresh.version_id() {
            state.dataset = fresh.clone();
        }
        state.checked_at = std::time::Instant::now();
        Ok(state.dataset.clone())
    }

    /// Whether the table's rows keep their ids across updates and compaction (lineage).
    pub fn uses_stable_row_ids(&self) -> bool {
        self.read_state().dataset.manifest().uses_stable_row_ids()
    }

    /// Fails when a caller creating this existing table (overwrite, or `existOk`) asked for
    /// the other kind of row ids: the table keeps its own, which would go unnoticed.
    pub fn require_row_id_kind(&self, stable_row_ids: Option<bool>) -> Result<()> {
        let has = self.uses_stable_row_ids();
        match stable_row_ids {
            Some(wanted) if wanted != has => Err(Error::invalid_argument(format!(
                "table `{}` exists {} stable row ids and keeps its kind; drop the table first to create it {}",
                self.name(),
                if has { "with" } else { "without" },
                if has { "without them" } else { "with them" },
            ))),
            _ => Ok(()),
        }
    }

    pub(crate) fn read_state(&self) -> std::sync::RwLockReadGuard<'_, TableState> {
        // A poisoned lock only means a panic happened elsewhere; the state itself is whole.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, TableState> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Releases the handle's dataset; later calls fail with a clear error.
    pub fn close(&self) {
        self.write_state().closed = true;
    }

    pub fn is_open(&self) -> bool {
        !self.read_state().closed
    }

    /// The version of the current view.
    pub async fn version(&self) -> Result<u64> {
        Ok(self.view().await?.version_id())
    }

    pub fn checked_out_version(&self) -> Option<u64> {
        self.read_state().pinned
    }

    pub async fn schema(&self) -> Result<SchemaRef> {
        let dataset = self.view().await?;
        Ok(Arc::new(arrow_schema::Schema::from(dataset.schema())))
    }

    /// Pins the handle to `version`: reads see that version, writes are rejected.
    pub async fn checkout(&self, version: u64) -> Result<()> {
        let current = self.view().await?;
        let dataset = Arc::new(self.load_version(&current, version).await?);
        if self.connection.is_local() {
            self.seen_versions.remember(&dataset);
        }
        self.pin(dataset, version);
        Ok(())
    }

    /// `checkout(version)` on the calling thread, when this handle checked the version out
    /// before and its manifest is still the same file (see `seen_versions`); `false` when
    /// `checkout` must do it (and report any error).
    pub fn checkout_at_once(&self, version: u64) -> bool {
        let Some(current) = self.view_now() else {
            return false;
        };
        let found = self
            .seen_versions
            .find(current.manifest().branch.as_deref(), version);
        drop(current);
        match found {
            Some(dataset) => {
                self.retired.park(self.pin(dataset, version));
                true
            }
            None => false,
        }
    }

    /// Pins the view to `dataset`; returns the dataset it replaces.
    fn pin(&self, dataset: Arc<Dataset>, version: u64) -> Arc<Dataset> {
        let mut state = self.write_state();
        state.pinned = Some(version);
        std::mem::replace(&mut state.dataset, dataset)
    }

    pub(crate) async fn load_version(&self, current: &Dataset, version: u64) -> Result<Dataset> {
        if version == 0 {
            return Err(Error::new(
                ErrorCode::VersionNotFound,
                "versions start at 1; version 0 does not exist",
            ));
        }
        match current.checkout_version(version).await {
            Ok(dataset) => Ok(dataset),
            Err(err) => {
                if let Some(when) = crate::maintenance::cleaned_versions(current)
                    .await
                    .get(&version)
                {
                    return Err(Error::new(
                        ErrorCode::VersionNotFound,
                        format!(
                            "version {version} of table `{}` was cleaned up by optimize() at {} (epoch ms {when}); it can no longer be read. Tag versions you need to keep",
                            self.name,
                            format_utc(*when)
                        ),
                    )
                    .with_source(err));
                }
                let latest = current.latest_version_id().await.unwrap_or(0);
                if matches!(err, lance::Error::IO { .. }) && version <= latest {
                    return Err(err.into());
                }
                Err(Error::new(
                    ErrorCode::VersionNotFound,
                    format!(
                        "table `{}` has no version {version} (its versions run from 1 to {latest}, unless older ones were cleaned up)",
                        self.name
                    ),
                )
                .with_source(err))
            }
        }
    }

    /// Fails with `VERSION_NOT_FOUND` unless `version` exists on the current branch.
    pub(crate) async fn check_version_exists(&self, version: u64) -> Result<()> {
        let dataset = self.view().await?;
        require_version(&dataset, version, &format!("table `{}`", self.name())).await
    }

    /// Unpins the handle and moves it to the newest version.
    pub async fn checkout_latest(&self) -> Result<()> {
        let current = self.view().await?;
        let mut latest = current.as_ref().clone();
        latest.checkout_latest().await?;
        let mut state = self.write_state();
        state.dataset = Arc::new(latest);
        state.pinned = None;
        Ok(())
    }

    /// Makes `version` (or the checked-out version) the newest version again, as a new
    /// version; no data is copied and history is kept. The handle then follows the latest.
    pub async fn restore(&self, version: Option<u64>, note: &CommitNote) -> Result<u64> {
        note.validate()?;
        let _guard = self.write_lock.lock().await;
        let (current, pinned) = {
            let state = self.read_state();
            if state.closed {
                return Err(self.closed_error());
            }
            (state.dataset.clone(), state.pinned)
        };
        let from = match (version, pinned) {
            (Some(v), _) => {
                // Fails with VERSION_NOT_FOUND (naming cleaned-up versions) before anything
                // is written.
                self.load_version(&current, v).await?;
                v
            }
            (None, Some(p)) => p,
            (None, None) => {
                return Err(Error::invalid_argument(
                    "restore() needs a version number, or a checked-out version to restore",
                ))
            }
        };
        // The commit goes on top of the newest version this handle knows: lance catches up
        // with anything committed since (a restore is compatible with every other write), so
        // the versions need listing only when the handle is pinned.
        let base = match pinned {
            None => current,
            Some(_) => {
                let mut latest = current.as_ref().clone();
                latest.checkout_latest().await?;
                Arc::new(latest)
            }
        };
        let restored = restore_as_latest(base, from, note).await?;
        let version = restored.version_id();
        let mut state = self.write_state();
        state.dataset = Arc::new(restored);
        state.pinned = None;
        Ok(version)
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }
}

/// Commits version `from`'s contents as the newest version on top of `base` (what lance's
/// `restore` does), with the operation and the caller's note in the commit.
async fn restore_as_latest(base: Arc<Dataset>, from: u64, note: &CommitNote) -> Result<Dataset> {
    let counts = crate::writes::WriteResult::default();
    let properties = OperationRecord::new("restore")
        .param("restored_from", from.to_string())
        .properties(note, &counts);
    let mut tx = Transaction::new(
        base.version_id(),
        Operation::Restore { version: from },
        None,
    );
    tx.transaction_properties = Some(Arc::new(properties));
    Ok(CommitBuilder::new(base).execute(tx).await?)
}

/// Fails with `VERSION_NOT_FOUND` unless `version` exists in `dataset` (named `what`).
pub(crate) async fn require_version(dataset: &Dataset, version: u64, what: &str) -> Result<()> {
    let latest = dataset.latest_version_id().await?;
    if version == 0 || version > latest {
        return Err(Error::new(
            ErrorCode::VersionNotFound,
            format!("{what} has no version {version} (its versions run from 1 to {latest})"),
        ));
    }
    Ok(())
}

/// `2026-11-24T01:02:03Z` for epoch milliseconds.
fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_epoch_milliseconds_as_utc() {
        assert_eq!(super::format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::format_utc(1_795_000_000_123), "2026-11-18T11:06:40Z");
    }
}
