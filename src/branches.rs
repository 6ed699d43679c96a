//! Branch methods of `NativeTable`.

use napi_derive::napi;

use crate::diff::{version_ref, VersionRefArg};
use crate::error::guarded;
use crate::table::NativeTable;

#[napi(object)]
pub struct BranchEntry {
    pub name: String,
    pub parent_branch: Option<String>,
    pub parent_version: i64,
}

#[napi]
impl NativeTable {
    /// The branch this handle reads and writes; null is main.
    #[napi]
    pub async fn current_branch(&self) -> napi::Result<Option<String>> {
        guarded(self.handle().current_branch()).await
    }

    #[napi]
    pub async fn create_branch(
        &self,
        name: String,
        from: Option<VersionRefArg>,
    ) -> napi::Result<NativeTable> {
        let from = version_ref(from)?;
        let branch = guarded(self.handle().create_branch(&name, &from)).await?;
        Ok(NativeTable::new(branch))
    }

    #[napi]
    pub async fn checkout_branch(&self, name: String) -> napi::Result<()> {
        guarded(self.handle().checkout_branch(&name)).await
    }

    #[napi]
    pub async fn list_branches(&self) -> napi::Result<Vec<BranchEntry>> {
        let branches = guarded(self.handle().list_branches()).await?;
        Ok(branches
            .into_iter()
            .map(|b| BranchEntry {
                name: b.name,
                parent_branch: b.parent_branch,
                parent_version: b.parent_version as i64,
            })
            .collect())
    }

    #[napi]
    pub async fn delete_branch(&self, name: String) -> napi::Result<()> {
        guarded(self.handle().delete_branch(&name)).await
    }
}
