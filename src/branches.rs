//! Branch methods of `NativeTable`.

use napi_derive::napi;

use crate::connection::version_arg;
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
        from_version: Option<i64>,
    ) -> napi::Result<NativeTable> {
        let from_version = from_version.map(version_arg).transpose()?;
        let branch = guarded(self.handle().create_branch(&name, from_version)).await?;
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
