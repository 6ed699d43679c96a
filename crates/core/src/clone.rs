//! Shallow clones: a new table whose first version references another table's data files.

use lance::dataset::builder::DatasetBuilder;
use lance::dataset::refs::Ref;

use crate::connection::Connection;
use crate::error::{Error, ErrorCode, Result};
use crate::names::validate_table_name;
use crate::table::{require_version, TableHandle};

/// Which version of the source to clone.
#[derive(Debug, Clone, Default)]
pub struct CloneSource {
    pub version: Option<u64>,
    pub tag: Option<String>,
}

impl Connection {
    /// Creates table `name` as a shallow clone of the Lance table at `source_uri` (latest
    /// version, or `source.version` / `source.tag`). No data files are copied, so the
    /// source must outlive the clone.
    pub async fn clone_table(
        &self,
        name: &str,
        source_uri: &str,
        source: &CloneSource,
    ) -> Result<TableHandle> {
        validate_table_name(name)?;
        if source.version.is_some() && source.tag.is_some() {
            return Err(Error::invalid_argument(
                "cloneTable() takes sourceVersion or sourceTag, not both",
            ));
        }
        if self.exists(name).await? {
            return Err(Error::new(
                ErrorCode::TableExists,
                format!("table `{name}` already exists; drop it or pick another name"),
            ));
        }
        let mut dataset = DatasetBuilder::from_uri(source_uri)
            .with_storage_options(self.storage_options().clone())
            .load()
            .await
            .map_err(|e| {
                Error::new(
                    ErrorCode::TableNotFound,
                    format!("no Lance table at {source_uri} to clone"),
                )
                .with_source(e)
            })?;
        let reference: Ref = match (&source.version, &source.tag) {
            (Some(version), _) => {
                require_version(&dataset, *version, source_uri).await?;
                (*version).into()
            }
            (None, Some(tag)) => {
                dataset.tags().get_version(tag).await.map_err(|e| {
                    Error::new(
                        ErrorCode::TagNotFound,
                        format!("{source_uri} has no tag `{tag}`"),
                    )
                    .with_source(e)
                })?;
                tag.as_str().into()
            }
            (None, None) => dataset.version_id().into(),
        };
        dataset
            .shallow_clone(&self.table_uri(name), reference, self.store_params())
            .await?;
        // Reopened so the clone's handle commits through palimpsest's commit handler.
        let cloned = self.load(name, None).await?;
        Ok(TableHandle::new(name, self.clone(), cloned))
    }
}
