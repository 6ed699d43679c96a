//! The story of one row: every version of the current branch where it was inserted, changed
//! or deleted, with its values then.

use arrow_array::RecordBatch;
use futures::{stream, StreamExt, TryStreamExt};
use lance::Dataset;

use crate::error::{Error, Result};
use crate::table::TableHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowChange {
    Inserted,
    Updated,
    Deleted,
}

impl RowChange {
    pub fn name(self) -> &'static str {
        match self {
            Self::Inserted => "inserted",
            Self::Updated => "updated",
            Self::Deleted => "deleted",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RowEvent {
    pub version: u64,
    pub timestamp_ms: i64,
    pub change: RowChange,
    /// The matching rows after the change; for a deletion, as they were before it.
    pub rows: RecordBatch,
}

const READ_CONCURRENCY: usize = 8;

impl TableHandle {
    /// Each version where the rows matching `filter` (usually `key = value`) appeared,
    /// changed or disappeared, oldest first.
    pub async fn row_history(&self, filter: &str) -> Result<Vec<RowEvent>> {
        let current = self.view().await?;
        // Planning parses the filter, so bad SQL fails here rather than being read as
        // "no matching rows" in every version.
        let sql_error = |e| Error::from_sql(e, filter, "the filter");
        let mut check = current.scan();
        check.filter(filter).map_err(sql_error)?;
        check.explain_plan(false).await.map_err(sql_error)?;
        let versions = current.versions().await?;
        let snapshots: Vec<(u64, i64, Option<RecordBatch>)> = stream::iter(versions)
            .map(|v| {
                let current = current.clone();
                async move {
                    let rows = match current.checkout_version(v.version).await {
                        Ok(dataset) => matching_rows(&dataset, filter).await,
                        Err(_) => None,
                    };
                    Ok::<_, Error>((v.version, v.timestamp.timestamp_millis(), rows))
                }
            })
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut events = Vec::new();
        let mut before: Option<RecordBatch> = None;
        for (version, timestamp_ms, now) in snapshots {
            let change = match (&before, &now) {
                (None, Some(_)) => Some(RowChange::Inserted),
                (Some(_), None) => Some(RowChange::Deleted),
                (Some(b), Some(n)) if b != n => Some(RowChange::Updated),
                _ => None,
            };
            if let Some(change) = change {
                let rows = match change {
                    RowChange::Deleted => before.clone(),
                    _ => now.clone(),
                };
                events.push(RowEvent {
                    version,
                    timestamp_ms,
                    change,
                    rows: rows.expect("a change has rows on one side"),
                });
            }
            before = now;
        }
        Ok(events)
    }
}

/// The rows of `dataset` matching `filter`, or `None` when there are none or the filter does
/// not apply to that version (its columns did not exist yet).
async fn matching_rows(dataset: &Dataset, filter: &str) -> Option<RecordBatch> {
    let mut scan = dataset.scan();
    scan.filter(filter).ok()?;
    let batches: Vec<RecordBatch> = scan
        .try_into_stream()
        .await
        .ok()?
        .try_collect()
        .await
        .ok()?;
    let schema = batches.first()?.schema();
    let batch = arrow_select::concat::concat_batches(&schema, &batches).ok()?;
    (batch.num_rows() > 0).then_some(batch)
}
