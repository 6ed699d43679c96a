//! Tags: names for versions (a training snapshot, a release). Tags never create versions.

use crate::durability::RefKind;
use crate::error::{Error, ErrorCode, Result};
use crate::table::TableHandle;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagInfo {
    pub name: String,
    pub version: u64,
}

impl TableHandle {
    fn tag_not_found(&self, name: &str, err: lance::Error) -> Error {
        Error::new(
            ErrorCode::TagNotFound,
            format!(
                "table `{}` has no tag `{name}`; list them with tags().list()",
                self.name()
            ),
        )
        .with_source(err)
    }

    pub async fn create_tag(&self, name: &str, version: u64) -> Result<()> {
        self.check_version_exists(version).await?;
        let dataset = self.view().await?;
        dataset
            .tags()
            .create(name, version)
            .await
            .map_err(|err| match err {
                lance::Error::RefConflict { .. } => Error::invalid_argument(format!(
                    "tag `{name}` already exists; move it with tags().update()"
                ))
                .with_source(err),
                lance::Error::InvalidRef { .. } => Error::invalid_argument(format!(
                    "`{name}` is not a valid tag name: {}",
                    crate::error::first_line(&err.to_string())
                )),
                other => other.into(),
            })?;
        self.sync_ref(&dataset, RefKind::Tag, name).await
    }

    pub async fn list_tags(&self) -> Result<Vec<TagInfo>> {
        let dataset = self.view().await?;
        let mut tags: Vec<TagInfo> = dataset
            .tags()
            .list()
            .await?
            .into_iter()
            .map(|(name, contents)| TagInfo {
                name,
                version: contents.version,
            })
            .collect();
        tags.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(tags)
    }

    pub async fn tag_version(&self, name: &str) -> Result<u64> {
        let dataset = self.view().await?;
        dataset
            .tags()
            .get_version(name)
            .await
            .map_err(|e| self.tag_not_found(name, e))
    }

    pub async fn update_tag(&self, name: &str, version: u64) -> Result<()> {
        self.tag_version(name).await?;
        self.check_version_exists(version).await?;
        let dataset = self.view().await?;
        dataset.tags().update(name, version).await?;
        self.sync_ref(&dataset, RefKind::Tag, name).await
    }

    pub async fn delete_tag(&self, name: &str) -> Result<()> {
        self.tag_version(name).await?;
        let dataset = self.view().await?;
        dataset.tags().delete(name).await?;
        self.sync_ref(&dataset, RefKind::Tag, name).await
    }

    /// Checks out the version `name` points at (read-only), returning it.
    pub async fn checkout_tag(&self, name: &str) -> Result<u64> {
        let version = self.tag_version(name).await?;
        self.checkout(version).await?;
        Ok(version)
    }

    /// Checks out the version that was the latest at `timestamp_ms` (ms since the epoch).
    pub async fn checkout_as_of(&self, timestamp_ms: i64) -> Result<u64> {
        let versions = self.list_versions().await?;
        let Some(found) = versions
            .iter()
            .filter(|v| v.timestamp_ms <= timestamp_ms)
            .max_by_key(|v| (v.timestamp_ms, v.version))
        else {
            let first = versions.first().map(|v| v.timestamp_ms).unwrap_or_default();
            return Err(Error::new(
                ErrorCode::VersionNotFound,
                format!(
                    "table `{}` did not exist yet at that time (epoch ms {timestamp_ms}); its first version is from epoch ms {first}",
                    self.name()
                ),
            ));
        };
        let version = found.version;
        self.checkout(version).await?;
        Ok(version)
    }
}
