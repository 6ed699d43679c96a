//! Diffs and row history: sides in, Arrow batches out.

use napi_derive::napi;
use palimpsest_core::{DiffSide, RowEvent, TableDiff};

use crate::connection::version_arg;
use crate::error::{guarded, invalid_argument};
use crate::table::NativeTable;
use crate::wire::{batch_to_wire, WireBatchOut};

/// A version of the current branch (`version`), a branch (`branch`, optionally at
/// `version`), or neither for the version the table shows.
#[napi(object)]
pub struct DiffSideArg {
    pub version: Option<i64>,
    pub branch: Option<String>,
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

fn diff_side(arg: Option<DiffSideArg>) -> napi::Result<DiffSide> {
    let Some(arg) = arg else {
        return Ok(DiffSide::Current);
    };
    let version = arg.version.map(version_arg).transpose()?;
    Ok(match (arg.branch, version) {
        (Some(name), version) => DiffSide::Branch { name, version },
        (None, Some(v)) => DiffSide::Version(v),
        (None, None) => DiffSide::Current,
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
        from: DiffSideArg,
        to: Option<DiffSideArg>,
        on: Option<Vec<String>>,
    ) -> napi::Result<DiffOut> {
        let from = diff_side(Some(from))?;
        let to = diff_side(to)?;
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
