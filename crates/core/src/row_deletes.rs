//! Stages a delete by physical row address.
//!
//! lance's `DeleteBuilder` reads the matching rows' stable row ids and maps each back to its
//! address through a row-id index built for the version. Once fragments have deletions that
//! index resolves every id by scanning a bitmap from its start, so a 1% delete on a 1M-row
//! table spent most of its time there. The scan can hand out the addresses directly, which
//! is all a delete needs: deletion files are keyed by address. When the predicate's columns
//! are in memory the addresses come from the column cache and no data file is read.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use datafusion::logical_expr::Expr;
use datafusion::scalar::ScalarValue;
use futures::{StreamExt, TryStreamExt};
use lance::dataset::transaction::{Operation, Transaction};
use lance::Dataset;
use lance_core::ROW_ADDR;
use lance_select::RowAddrTreeMap;
use roaring::RoaringTreemap;

/// A delete ready to commit.
pub(crate) struct StagedDelete {
    pub transaction: Transaction,
    /// The deleted addresses, for row-level conflict resolution; `None` when every fragment
    /// goes (lance does the same for a predicate that folds to `true`).
    pub affected_rows: Option<RowAddrTreeMap>,
    pub num_deleted_rows: u64,
}

/// Deletes the rows of `dataset` matching `predicate` (SQL), without committing.
pub(crate) async fn stage_delete(
    dataset: Arc<Dataset>,
    predicate: &str,
) -> lance::Result<StagedDelete> {
    let mut scanner = dataset.scan();
    scanner.with_row_address().project(&[ROW_ADDR])?;
    scanner.filter(predicate)?;
    let folded = scanner.get_expr_filter()?;
    let (updated, removed, affected, count) = match folded {
        Some(Expr::Literal(ScalarValue::Boolean(Some(false)), _)) | None => {
            (Vec::new(), Vec::new(), Some(RowAddrTreeMap::new()), 0)
        }
        Some(Expr::Literal(ScalarValue::Boolean(Some(true)), _)) => {
            let fragments = dataset.get_fragments();
            let count = fragments
                .iter()
                .map(|f| f.metadata().num_rows().unwrap_or(0) as u64)
                .sum();
            let removed = fragments.iter().map(|f| f.id() as u64).collect();
            (Vec::new(), removed, None, count)
        }
        Some(_) => {
            let addresses = match addresses_in_memory(&dataset, predicate).await {
                Some(addresses) => addresses,
                None => matching_addresses(&mut scanner).await?,
            };
            let (updated, removed) = extend_deletions(&dataset, &addresses).await?;
            let count = addresses.len();
            (
                updated,
                removed,
                Some(RowAddrTreeMap::from(addresses)),
                count,
            )
        }
    };
    let operation = Operation::Delete {
        updated_fragments: updated,
        deleted_fragment_ids: removed,
        predicate: predicate.to_string(),
    };
    Ok(StagedDelete {
        transaction: Transaction::new(dataset.manifest().version, operation, None),
        affected_rows: affected,
        num_deleted_rows: count,
    })
}

/// The addresses of the rows matching `predicate`, from the column cache when the columns it
/// reads are in memory.
async fn addresses_in_memory(dataset: &Dataset, predicate: &str) -> Option<RoaringTreemap> {
    let batches = crate::cached_reads::rows_with_addresses(dataset, Some(predicate), &[])
        .await
        .ok()??;
    let mut addresses = RoaringTreemap::new();
    for batch in batches {
        let column = batch.column_by_name(ROW_ADDR)?;
        addresses.extend(column.as_primitive::<UInt64Type>().values().iter().copied());
    }
    Some(addresses)
}

async fn matching_addresses(
    scanner: &mut lance::dataset::scanner::Scanner,
) -> lance::Result<RoaringTreemap> {
    let mut stream = scanner.try_into_stream().await?;
    let mut addresses = RoaringTreemap::new();
    while let Some(batch) = stream.try_next().await? {
        let column = batch
            .column_by_name(ROW_ADDR)
            .ok_or_else(|| lance::Error::internal("the delete scan returned no row addresses"))?;
        addresses.extend(column.as_primitive::<UInt64Type>().values().iter().copied());
    }
    Ok(addresses)
}

/// Writes each touched fragment's extended deletion file; returns the fragments that keep
/// rows and the ids of those left empty.
pub(crate) async fn extend_deletions(
    dataset: &Dataset,
    addresses: &RoaringTreemap,
) -> lance::Result<(Vec<lance_table::format::Fragment>, Vec<u64>)> {
    let by_fragment: BTreeMap<u32, _> = addresses.bitmaps().collect();
    let parallelism = dataset.object_store(None).await?.io_parallelism();
    let touched = dataset
        .get_fragments()
        .into_iter()
        .filter(|f| by_fragment.contains_key(&(f.id() as u32)));
    let mut writes = futures::stream::iter(touched)
        .map(|fragment| {
            let offsets = by_fragment[&(fragment.id() as u32)];
            async move {
                let id = fragment.id() as u64;
                let kept = fragment.extend_deletions(offsets).await?;
                Ok::<_, lance::Error>((id, kept.map(|f| f.metadata().clone())))
            }
        })
        .buffer_unordered(parallelism);
    let mut updated = Vec::new();
    let mut removed = Vec::new();
    while let Some((id, kept)) = writes.try_next().await? {
        match kept {
            Some(fragment) => updated.push(fragment),
            None => removed.push(id),
        }
    }
    Ok((updated, removed))
}
