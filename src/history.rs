//! Write notes in, the version log out.

use std::collections::HashMap;

use napi_derive::napi;
use palimpsest_core::{CommitNote, VersionInfo};

use crate::error::guarded;
use crate::table::NativeTable;

/// The caller's message and properties for one write.
#[napi(object)]
pub struct WriteNote {
    pub message: Option<String>,
    pub properties: Option<HashMap<String, String>>,
}

pub(crate) fn commit_note(note: Option<WriteNote>) -> CommitNote {
    match note {
        Some(note) => CommitNote {
            message: note.message,
            properties: note.properties.unwrap_or_default().into_iter().collect(),
        },
        None => CommitNote::default(),
    }
}

#[napi(object)]
pub struct VersionEntry {
    pub version: i64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: f64,
    pub metadata: HashMap<String, String>,
    pub operation: String,
    pub parameters: HashMap<String, String>,
    pub rows_added: Option<i64>,
    pub rows_updated: Option<i64>,
    pub rows_deleted: Option<i64>,
    pub message: Option<String>,
    pub properties: HashMap<String, String>,
}

impl From<VersionInfo> for VersionEntry {
    fn from(v: VersionInfo) -> Self {
        Self {
            version: v.version as i64,
            timestamp: v.timestamp_ms as f64,
            metadata: v.metadata.into_iter().collect(),
            operation: v.operation,
            parameters: v.parameters.into_iter().collect(),
            rows_added: v.rows_added.map(|n| n as i64),
            rows_updated: v.rows_updated.map(|n| n as i64),
            rows_deleted: v.rows_deleted.map(|n| n as i64),
            message: v.message,
            properties: v.properties.into_iter().collect(),
        }
    }
}

#[napi]
impl NativeTable {
    #[napi]
    pub async fn list_versions(&self) -> napi::Result<Vec<VersionEntry>> {
        let versions = guarded(self.handle().list_versions()).await?;
        Ok(versions.into_iter().map(Into::into).collect())
    }
}
