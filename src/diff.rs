//! Diffs and row history: sides in, Arrow batches out.

use napi_derive::napi;
use palimpsest_core::{RowEvent, TableDiff, VersionRef};

use crate::connection::version_arg;
use crate::error::{guarded, invalid_argument};
use crate::table::NativeTable;
use crate::wire::{batch_to_wire, WireBatchOut};

/// A version of the current branch (`version`), a branch (`branch`, optionally at
/// `version`), or neither for the version the table shows.
/// A version of the current branch (`version`), a branch (`branch`, optionally at
/// `version`), a tag (`tag`), or none of them for the version the table shows.
#[napi(object)]
pub struct VersionRefArg {
    pub version: Option<i64>,
    pub branch: Option<String>,
    pub tag: Option<String>,
}

#[napi(object, object_from_js = false)]
pub struct DiffOut {
    /// `"row_lineage"` or `"key"`.
    pub strategy: String,
    pub from_version: i64,
    pub to_version: i64,
    pub inserted: WireBatchOut,
    pub updated: WireBatchOut,
    pub deleted: WireBatchOut,
}

#[napi(object, object_from_js = false)]
pub struct RowEventOut {
    pub version: i64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: f64,
    /// `"inserted"`, `"updated"` or `"deleted"`.
    pub change: String,
    pub rows: WireBatchOut,
}

pub(crate) fn version_ref(arg: Option<VersionRefArg>) -> napi::Result<VersionRef> {
    let Some(arg) = arg else {
        return Ok(VersionRef::Current);
    };
    let version = arg.version.map(version_arg).transpose()?;
    Ok(match (arg.tag, arg.branch, version) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(invalid_argument(
                "a version reference names a tag, or a branch and/or version, not both",
            ))
        }
        (Some(tag), None, None) => VersionRef::Tag(tag),
        (None, Some(name), version) => VersionRef::Branch { name, version },
        (None, None, Some(v)) => VersionRef::Version(v),
        (None, None, None) => VersionRef::Current,
    })
}

impl TryFrom<TableDiff> for DiffOut {
    type Error = napi::Error;
    fn try_from(d: TableDiff) -> napi::Result<Self> {
        Ok(Self {
            strategy: d.strategy.name().to_string(),
            from_version: d.from_version as i64,
            to_version: d.to_version as i64,
            inserted: batch_to_wire(d.inserted)?,
            updated: batch_to_wire(d.updated)?,
            deleted: batch_to_wire(d.deleted)?,
        })
    }
}

impl TryFrom<RowEvent> for RowEventOut {
    type Error = napi::Error;
    fn try_from(e: RowEvent) -> napi::Result<Self> {
        Ok(Self {
            version: e.version as i64,
            timestamp: e.timestamp_ms as f64,
            change: e.change.name().to_string(),
            rows: batch_to_wire(e.rows)?,
        })
    }
}

#[napi]
impl NativeTable {
    #[napi]
    pub async fn diff(
        &self,
        from: VersionRefArg,
        to: Option<VersionRefArg>,
        on: Option<Vec<String>>,
    ) -> napi::Result<DiffOut> {
        let from = version_ref(Some(from))?;
        let to = version_ref(to)?;
        let on = on.unwrap_or_default();
        if on.iter().any(|k| k.is_empty()) {
            return Err(invalid_argument("diff key column names cannot be empty"));
        }
        guarded(self.handle().diff(&from, &to, &on))
            .await?
            .try_into()
    }

    #[napi]
    pub async fn row_history(&self, filter: String) -> napi::Result<Vec<RowEventOut>> {
        let events = guarded(self.handle().row_history(&filter)).await?;
        events.into_iter().map(TryInto::try_into).collect()
    }
}
