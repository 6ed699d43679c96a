//! References to versions, resolved to datasets, and where a version sits among branches.

use std::collections::HashMap;
use std::sync::Arc;

use lance::Dataset;

use crate::branches::MAIN_BRANCH;
use crate::error::{Error, ErrorCode, Result};
use crate::table::TableHandle;

/// A version of a table: the one a handle shows, one of its branch, a branch's, or a tag's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionRef {
    /// The version this handle shows (its checkout, or the latest of its branch).
    Current,
    /// A version of the branch this handle is on.
    Version(u64),
    /// A branch (`"main"` for the trunk) at its latest version or at `version`.
    Branch { name: String, version: Option<u64> },
    /// The version a tag points at (on whichever branch).
    Tag(String),
}

impl TableHandle {
    pub(crate) async fn locate_dataset(&self, side: &VersionRef) -> Result<Arc<Dataset>> {
        let current = self.view().await?;
        Ok(match side {
            VersionRef::Current => current.clone(),
            VersionRef::Version(v) => Arc::new(self.load_version(&current, *v).await?),
            VersionRef::Branch { name, version } => {
                if name != MAIN_BRANCH && !self.branch_exists(name).await? {
                    return Err(Error::new(
                        ErrorCode::BranchNotFound,
                        format!("table `{}` has no branch `{name}`", self.name()),
                    ));
                }
                let branch = current.checkout_branch(name).await?;
                match version {
                    Some(v) => Arc::new(self.load_version(&branch, *v).await?),
                    None => Arc::new(branch),
                }
            }
            VersionRef::Tag(tag) => {
                let version = self.tag_version(tag).await?;
                let contents = current.tags().get(tag).await?;
                let branch = current
                    .checkout_branch(contents.branch.as_deref().unwrap_or(MAIN_BRANCH))
                    .await?;
                Arc::new(self.load_version(&branch, version).await?)
            }
        })
    }

    /// `dataset`'s branch and each ancestor branch, with the last version of each that its
    /// history contains, nearest first.
    pub(crate) async fn lineage_of(&self, dataset: &Dataset) -> Result<Vec<(String, u64)>> {
        let branch = dataset
            .manifest()
            .branch
            .clone()
            .unwrap_or_else(|| MAIN_BRANCH.to_string());
        let parents: HashMap<String, (String, u64)> = self
            .list_branches()
            .await?
            .into_iter()
            .map(|b| {
                let parent = b.parent_branch.unwrap_or_else(|| MAIN_BRANCH.to_string());
                (b.name, (parent, b.parent_version))
            })
            .collect();
        let mut lineage = vec![(branch.clone(), dataset.version_id())];
        let mut at = branch;
        while let Some((parent, version)) = parents.get(&at) {
            if lineage.iter().any(|(name, _)| name == parent) {
                break; // a cycle would be a corrupt ref; stop rather than loop
            }
            lineage.push((parent.clone(), *version));
            at = parent.clone();
        }
        Ok(lineage)
    }
}
