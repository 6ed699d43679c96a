//! Tag and time-travel methods of `NativeTable`.

use napi_derive::napi;

use crate::connection::version_arg;
use crate::error::{guarded, invalid_argument};
use crate::table::NativeTable;

#[napi(object)]
pub struct TagEntry {
    pub name: String,
    pub version: i64,
}

#[napi]
impl NativeTable {
    #[napi]
    pub async fn create_tag(&self, name: String, version: i64) -> napi::Result<()> {
        let version = version_arg(version)?;
        guarded(self.handle().create_tag(&name, version)).await
    }

    #[napi]
    pub async fn list_tags(&self) -> napi::Result<Vec<TagEntry>> {
        let tags = guarded(self.handle().list_tags()).await?;
        Ok(tags
            .into_iter()
            .map(|t| TagEntry {
                name: t.name,
                version: t.version as i64,
            })
            .collect())
    }

    #[napi]
    pub async fn tag_version(&self, name: String) -> napi::Result<i64> {
        guarded(self.handle().tag_version(&name))
            .await
            .map(|v| v as i64)
    }

    #[napi]
    pub async fn update_tag(&self, name: String, version: i64) -> napi::Result<()> {
        let version = version_arg(version)?;
        guarded(self.handle().update_tag(&name, version)).await
    }

    #[napi]
    pub async fn delete_tag(&self, name: String) -> napi::Result<()> {
        guarded(self.handle().delete_tag(&name)).await
    }

    #[napi]
    pub async fn checkout_tag(&self, name: String) -> napi::Result<i64> {
        guarded(self.handle().checkout_tag(&name))
            .await
            .map(|v| v as i64)
    }

    /// Checks out the version current at `timestamp` (ms since the epoch).
    #[napi]
    pub async fn checkout_as_of(&self, timestamp: f64) -> napi::Result<i64> {
        if !timestamp.is_finite() {
            return Err(invalid_argument("checkout(date) needs a valid Date"));
        }
        guarded(self.handle().checkout_as_of(timestamp.floor() as i64))
            .await
            .map(|v| v as i64)
    }
}
