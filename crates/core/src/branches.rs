//! Branches: writable lines of history forked from a version, sharing its data files.

use std::sync::Arc;

use lance::dataset::refs::Ref;

use crate::durability::RefKind;
use crate::error::{Error, ErrorCode, Result};
use crate::table::TableHandle;
use crate::version_ref::VersionRef;

/// The name lance gives the trunk.
pub const MAIN_BRANCH: &str = "main";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchInfo {
    pub name: String,
    /// `None` when forked from main.
    pub parent_branch: Option<String>,
    pub parent_version: u64,
}

impl TableHandle {
    /// Reads the one branch record, not all of them (a table may have many branches).
    pub(crate) async fn branch_exists(&self, name: &str) -> Result<bool> {
        match self.view().await?.branches().get(name).await {
            Ok(_) => Ok(true),
            // An invalid name names no branch; creating it reports why it is invalid.
            Err(lance::Error::RefNotFound { .. } | lance::Error::InvalidRef { .. }) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// Fails with `BRANCH_NOT_FOUND` unless branch `name` exists.
    async fn require_branch(&self, name: &str) -> Result<()> {
        if self.branch_exists(name).await? {
            return Ok(());
        }
        Err(Error::new(
            ErrorCode::BranchNotFound,
            format!(
                "table `{}` has no branch `{name}`; list them with branches().list()",
                self.name()
            ),
        ))
    }

    /// The branch this handle reads and writes; `None` is main.
    pub async fn current_branch(&self) -> Result<Option<String>> {
        Ok(self.view().await?.manifest().branch.clone())
    }

    /// Forks `name` from `from` (the version this handle shows, a version of its branch,
    /// another branch, or a tag), copying no data, and returns a writable handle on it.
    pub async fn create_branch(&self, name: &str, from: &VersionRef) -> Result<TableHandle> {
        if name == MAIN_BRANCH {
            return Err(Error::invalid_argument(
                "`main` is the trunk; pick another branch name",
            ));
        }
        // lance fails with an internal error on an existing name, so check first.
        if self.branch_exists(name).await? {
            return Err(Error::invalid_argument(format!(
                "branch `{name}` already exists; check it out with branches().checkout()"
            )));
        }
        // Resolving the reference checks it exists and pins the exact version forked from.
        let source = self.locate_dataset(from).await?;
        let source_branch = source.manifest().branch.clone();
        let reference = Ref::Version(source_branch, Some(source.version_id()));
        let mut source = source.as_ref().clone();
        let store = self.connection().store_params();
        let branch =
            source
                .create_branch(name, reference, store)
                .await
                .map_err(|err| match err {
                    lance::Error::InvalidRef { .. } => Error::invalid_argument(format!(
                        "`{name}` is not a valid branch name: {}",
                        crate::error::first_line(&err.to_string())
                    )),
                    other => other.into(),
                })?;
        self.sync_ref(&source, RefKind::Branch, name).await?;
        Ok(TableHandle::new(
            self.name(),
            self.connection().clone(),
            branch,
        ))
    }

    /// Moves this handle to the latest version of `name` (`"main"` for the trunk).
    pub async fn checkout_branch(&self, name: &str) -> Result<()> {
        if name != MAIN_BRANCH {
            self.require_branch(name).await?;
        }
        let dataset = self.view().await?.checkout_branch(name).await?;
        let mut state = self.write_state();
        state.dataset = Arc::new(dataset);
        state.pinned = None;
        Ok(())
    }

    pub async fn list_branches(&self) -> Result<Vec<BranchInfo>> {
        let dataset = self.view().await?;
        let mut branches: Vec<BranchInfo> = dataset
            .list_branches()
            .await?
            .into_iter()
            .map(|(name, contents)| BranchInfo {
                name,
                parent_branch: contents.parent_branch,
                parent_version: contents.parent_version,
            })
            .collect();
        branches.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(branches)
    }

    pub async fn delete_branch(&self, name: &str) -> Result<()> {
        self.require_branch(name).await?;
        if self.current_branch().await?.as_deref() == Some(name) {
            return Err(Error::invalid_argument(format!(
                "branch `{name}` is checked out by this handle; check out another branch first"
            )));
        }
        let mut dataset = self.view().await?.as_ref().clone();
        dataset.delete_branch(name).await?;
        self.sync_ref(&dataset, RefKind::RemovedBranch, name).await
    }
}
