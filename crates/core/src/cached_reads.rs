//! Plain reads (no vector or text search) and filtered counts answered from decoded columns in
//! memory (`column_cache`), filters evaluated by `memory_filter`.
//!
//! Lance re-reads and decodes the data files on every query; from memory a filter is a few
//! vectorised kernels over arrays. Anything this module does not handle (nested columns, a
//! filter lance's planner rejects) returns `None`, and the caller reads through lance, which
//! also reports the errors.

use arrow_array::RecordBatch;
use lance::Dataset;

use crate::array_copy;
use crate::column_cache::{self, Keep, ROW_ID};
use crate::error::Result;
use crate::memory_filter::{evaluate, plan_filter, segments_to_read, MemoryFilter};
use crate::query::QueryRequest;

/// Columns a plain query returns, in order; `None` when one does not exist (lance then
/// reports it).
pub(crate) fn output_columns(dataset: &Dataset, request: &QueryRequest) -> Option<Vec<String>> {
    let mut columns = match &request.columns {
        Some(columns) => {
            if !columns
                .iter()
                .all(|c| column_cache::is_top_level(dataset, c))
            {
                return None;
            }
            columns.clone()
        }
        None => dataset
            .schema()
            .fields
            .iter()
            .map(|f| f.name.clone())
            .collect(),
    };
    if request.with_row_id {
        columns.push(ROW_ID.to_string());
    }
    Some(columns)
}

/// `output` followed by the filter's columns not already in it.
fn needed_columns(output: &[String], filter: Option<&MemoryFilter>) -> Vec<String> {
    let mut needed = output.to_vec();
    for column in filter.map_or(&[][..], |f| f.columns.as_slice()) {
        if !needed.contains(column) {
            needed.push(column.clone());
        }
    }
    needed
}

/// What a plain query reads: the columns it returns, its filter, and all the columns needed.
struct PlainRead {
    output: Vec<String>,
    filter: Option<MemoryFilter>,
    needed: Vec<String>,
}

/// `None` for searches, unknown columns and filters this module leaves to lance.
fn plan_read(dataset: &Dataset, request: &QueryRequest) -> Option<PlainRead> {
    if request.vector.is_some() || request.full_text.is_some() {
        return None;
    }
    let output = output_columns(dataset, request)?;
    let filter = match &request.filter {
        Some(sql) => Some(plan_filter(dataset, sql)?),
        None => None,
    };
    let needed = needed_columns(&output, filter.as_ref());
    Some(PlainRead {
        output,
        filter,
        needed,
    })
}

/// The rows of a plain query, or `None` when lance should answer it.
pub(crate) async fn query(
    dataset: &Dataset,
    request: &QueryRequest,
) -> Result<Option<Vec<RecordBatch>>> {
    let Some(PlainRead {
        output,
        filter,
        needed,
    }) = plan_read(dataset, request)
    else {
        return Ok(None);
    };
    // A bounded read decodes little through lance; decode whole columns only for reads that
    // need them whole.
    let bounded = request.limit.is_some() || request.offset.is_some();
    if output.is_empty() || (bounded && !column_cache::all_cached(dataset, &needed)) {
        return Ok(None);
    }
    let Some(cached) = column_cache::load(dataset, &needed, Keep::WhenHot).await? else {
        return Ok(None);
    };
    let projection: Vec<usize> = (0..output.len()).collect();
    let mut skip = request.offset.unwrap_or(0) as usize;
    let mut remaining = request.limit.map_or(usize::MAX, |l| l as usize);
    let read = match &filter {
        Some(filter) => segments_to_read(filter, &cached),
        None => vec![true; cached.segments.len()],
    };
    let mut out = Vec::new();
    for f in (0..cached.segments.len()).filter(|f| read[*f]) {
        if remaining == 0 {
            break;
        }
        let batch = cached.batch(f)?.project(&projection)?;
        let (mut rows, mut fresh) = (batch, false);
        if let Some(filter) = &filter {
            let mask = evaluate(filter, &cached, f)?;
            match mask.true_count() {
                0 => continue,
                n if n == rows.num_rows() => {}
                _ => {
                    rows = arrow_select::filter::filter_record_batch(&rows, &mask)?;
                    fresh = true;
                }
            }
        }
        if skip >= rows.num_rows() {
            skip -= rows.num_rows();
            continue;
        }
        let take = (rows.num_rows() - skip).min(remaining);
        rows = rows.slice(skip, take);
        skip = 0;
        remaining -= take;
        out.push(if fresh {
            rows
        } else {
            array_copy::detach(&rows)?
        });
    }
    Ok(Some(out))
}

/// Whether `query` would answer `request` from memory right now (for `explainPlan()`).
pub(crate) fn answers_from_memory(dataset: &Dataset, request: &QueryRequest) -> bool {
    plan_read(dataset, request).is_some_and(|read| column_cache::all_cached(dataset, &read.needed))
}

/// The number of rows matching `sql`, or `None` when lance should count.
pub(crate) async fn count(dataset: &Dataset, sql: &str) -> Result<Option<u64>> {
    let Some(filter) = plan_filter(dataset, sql) else {
        return Ok(None);
    };
    if filter.columns.is_empty() {
        return Ok(None);
    }
    let Some(cached) = column_cache::load(dataset, &filter.columns, Keep::WhenHot).await? else {
        return Ok(None);
    };
    let read = segments_to_read(&filter, &cached);
    let mut total = 0u64;
    for f in (0..cached.segments.len()).filter(|f| read[*f]) {
        total += evaluate(&filter, &cached, f)?.true_count() as u64;
    }
    Ok(Some(total))
}
