//! Plain reads (no vector or text search) and filtered counts answered from decoded columns in
//! memory (`column_cache`), filters evaluated by `memory_filter`.
//!
//! Lance re-reads and decodes the data files on every query; from memory a filter is a few
//! vectorised kernels over arrays. Anything this module does not handle (nested columns, a
//! filter lance's planner rejects) returns `None`, and the caller reads through lance, which
//! also reports the errors.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_buffer::BooleanBuffer;
use lance::Dataset;
use rayon::prelude::*;

use crate::array_copy;
use crate::clustered_copy;
use crate::column_cache::{self, Keep, ROW_ADDR, ROW_ID};
use crate::error::Result;
use crate::keyed_strings::StringKeys;
use crate::memory_filter::{evaluate, live_matches, plan_filter, segments_to_read, MemoryFilter};
use crate::query::QueryRequest;
use crate::row_gather::Picks;

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
    filter: Option<Arc<MemoryFilter>>,
    needed: Vec<String>,
}

impl PlainRead {
    /// The index in `needed` of the string column the filter pins to one value, if any.
    fn pinned(&self) -> Option<usize> {
        let name = self.filter.as_ref()?.pinned_column()?;
        self.needed.iter().position(|n| n == name)
    }
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
    let needed = needed_columns(&output, filter.as_deref());
    Some(PlainRead {
        output,
        filter,
        needed,
    })
}

/// The rows of a plain query, or `None` when lance should answer it.
/// `at_once`: on the caller's thread (`answers_at_once`), which never makes a grouped copy.
pub(crate) async fn query(
    dataset: &Dataset,
    request: &QueryRequest,
    at_once: bool,
) -> Result<Option<Vec<RecordBatch>>> {
    let Some(read) = plan_read(dataset, request) else {
        return Ok(None);
    };
    let pinned = read.pinned();
    let PlainRead {
        output,
        filter,
        needed,
    } = read;
    // A bounded read decodes little through lance; decode whole columns only for reads that
    // need them whole.
    let bounded = request.limit.is_some() || request.offset.is_some();
    if output.is_empty() || (bounded && !column_cache::all_cached(dataset, &needed)) {
        return Ok(None);
    }
    let Some(mut cached) = column_cache::load(dataset, &needed, Keep::WhenHot).await? else {
        return Ok(None);
    };
    // A filter pinning a string column to one value reads the copy grouped by it, if any.
    if let Some(c) = pinned {
        if let Some(grouped) = clustered_copy::for_read(dataset, &needed, &cached, c, at_once) {
            cached = grouped;
        }
    }
    let window = Window {
        skip: request.offset.unwrap_or(0) as usize,
        remaining: request.limit.map_or(usize::MAX, |l| l as usize),
    };
    matching_rows(&cached, output.len(), filter.as_deref(), window).map(Some)
}

/// `columns` of the rows matching `filter` (SQL; all rows when `None`), then their `_rowid`
/// and `_rowaddr`, when those columns are already in memory: what an update rewrites, or the
/// keys a merge matches. `None` when they are not (the write then reads through lance).
pub(crate) async fn rows_with_addresses(
    dataset: &Dataset,
    filter: Option<&str>,
    columns: &[String],
) -> Result<Option<Vec<RecordBatch>>> {
    let filter = match filter {
        Some(sql) => match plan_filter(dataset, sql) {
            Some(filter) => Some(filter),
            None => return Ok(None),
        },
        None => None,
    };
    let mut output = columns.to_vec();
    // Writes add small fragments (an update's rewritten rows, a merge's new ones): when most
    // of the table is in memory those are decoded now rather than reading it all through
    // lance.
    let needed = needed_columns(&output, filter.as_deref());
    if column_cache::cached_share(dataset, &needed) < MOSTLY_CACHED {
        return Ok(None);
    }
    // Row ids and addresses are decoded now if they are not kept yet: cheap beside the
    // columns, and what lets the write skip lance's scan.
    output.extend([ROW_ID.to_string(), ROW_ADDR.to_string()]);
    let needed = needed_columns(&output, filter.as_deref());
    let Some(cached) = column_cache::load(dataset, &needed, Keep::Now).await? else {
        return Ok(None);
    };
    matching_rows(&cached, output.len(), filter.as_deref(), Window::all()).map(Some)
}

/// The share of a table's rows a write needs in memory to read the rest into memory too.
const MOSTLY_CACHED: f64 = 0.9;

/// A filter is evaluated on rayon's threads over more rows than this.
const PARALLEL_FILTER_ROWS: usize = 1 << 19;

/// Matches of a segment that form a run at least this long are returned as a slice of it.
const SLICED_RUN_ROWS: usize = 4096;

/// Rows to skip, then rows to return at most; both count down as rows are taken.
struct Window {
    skip: usize,
    remaining: usize,
}

impl Window {
    fn all() -> Window {
        Window {
            skip: 0,
            remaining: usize::MAX,
        }
    }

    /// What is left of the run `first..first + len` after this window: its first row and
    /// length (0 when nothing is).
    fn take_run(&mut self, first: usize, len: usize) -> (usize, usize) {
        let skipped = self.skip.min(len);
        self.skip -= skipped;
        let taken = (len - skipped).min(self.remaining);
        self.remaining -= taken;
        (first + skipped, taken)
    }

    /// `rows` after this window.
    fn take_rows(&mut self, rows: impl Iterator<Item = usize>) -> Vec<u32> {
        let mut picked = Vec::new();
        for row in rows {
            if self.remaining == 0 {
                break;
            }
            if self.skip > 0 {
                self.skip -= 1;
                continue;
            }
            picked.push(row as u32);
            self.remaining -= 1;
        }
        picked
    }
}

/// A segment's rows that match a filter, within a window.
enum Matches {
    /// One run of rows (a range over a sorted column): no row list to build.
    Run {
        first: usize,
        len: usize,
    },
    Rows(Vec<u32>),
}

impl Matches {
    fn of(rows: &BooleanBuffer, window: &mut Window) -> Matches {
        let mut runs = rows.set_slices();
        match (runs.next(), runs.next()) {
            (Some((a, b)), None) => {
                let (first, len) = window.take_run(a, b - a);
                Matches::Run { first, len }
            }
            _ => Matches::Rows(window.take_rows(rows.set_indices())),
        }
    }
}

/// The first `width` columns of the rows of `cached` that match `filter`, within `window`.
fn matching_rows(
    cached: &column_cache::CachedColumns,
    width: usize,
    filter: Option<&MemoryFilter>,
    mut window: Window,
) -> Result<Vec<RecordBatch>> {
    let projection: Vec<usize> = (0..width).collect();
    let read = match filter {
        Some(filter) => segments_to_read(filter, cached),
        None => vec![true; cached.segments.len()].into(),
    };
    // With no window to stop at, every segment's matches are needed: find them on rayon's
    // threads first (the filter is a tenth of a large scan's time), when there are enough
    // rows to share: the calling thread otherwise waits for a worker to wake, and on a
    // busy machine for a whole time slice.
    let unbounded = window.skip == 0 && window.remaining == usize::MAX;
    let to_read = (0..cached.segments.len()).filter(|f| read[*f]);
    let rows_to_read: usize = to_read.map(|f| cached.segments[f].rows).sum();
    let mut found: Vec<Option<Matches>> = match filter {
        Some(filter) if unbounded && rows_to_read > PARALLEL_FILTER_ROWS => {
            (0..cached.segments.len())
                .into_par_iter()
                .map(|f| match read[f] {
                    true => Ok(partial_matches(filter, cached, f)?
                        .map(|rows| Matches::of(&rows, &mut Window::all()))),
                    false => Ok(None),
                })
                .collect::<Result<_>>()?
        }
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    // Rows a filter picks from partly matching segments are gathered into one batch: one
    // copy, and one batch for JS to wrap instead of one per segment.
    let mut picks = Picks::default();
    for f in (0..cached.segments.len()).filter(|f| read[*f]) {
        if window.remaining == 0 {
            break;
        }
        let batch = cached.batch(f)?.project(&projection)?;
        // `None`: every row of the segment (every live row, unfiltered) is in.
        let matches = match filter {
            None => cached.segments[f]
                .live
                .as_ref()
                .map(|live| Matches::Rows(window.take_rows(live.set_indices()))),
            Some(filter) => match found.get_mut(f) {
                Some(matches) => matches.take(),
                None => {
                    partial_matches(filter, cached, f)?.map(|rows| Matches::of(&rows, &mut window))
                }
            },
        };
        let (first, len) = match matches {
            None => window.take_run(0, batch.num_rows()),
            Some(Matches::Run { first, len }) if len >= SLICED_RUN_ROWS => (first, len),
            Some(Matches::Run { first, len }) => {
                let rows = (first as u32..(first + len) as u32).collect();
                picks.push(batch, rows, keys_of(cached, f, width));
                continue;
            }
            Some(Matches::Rows(rows)) => {
                picks.push(batch, rows, keys_of(cached, f, width));
                continue;
            }
        };
        if len > 0 {
            // Whole segments and long runs are slices, copied whole (large buffers map the
            // cache's pages copy-on-write), in order with the rows gathered before them.
            out.extend(picks.gather()?);
            out.push(array_copy::detach(&batch.slice(first, len))?);
        }
    }
    out.extend(picks.gather()?);
    Ok(out)
}

/// The dictionary keys of segment `f`'s first `width` columns, where the cache has them.
fn keys_of(
    cached: &column_cache::CachedColumns,
    f: usize,
    width: usize,
) -> Vec<Option<StringKeys>> {
    cached.segments[f].columns[..width]
        .iter()
        .map(|c| c.keys.clone())
        .collect()
}

/// The rows of segment `f` that match `filter`; `None` when all of them do.
fn partial_matches(
    filter: &MemoryFilter,
    cached: &column_cache::CachedColumns,
    f: usize,
) -> Result<Option<BooleanBuffer>> {
    let rows = live_matches(filter, cached, f)?;
    if rows.count_set_bits() == cached.segments[f].rows {
        return Ok(None);
    }
    Ok(Some(rows))
}

/// How `query` would answer `request` from memory right now, if it would (for
/// `explainPlan()`): from the columns, or from their copy grouped by the named column.
pub(crate) fn answers_from_memory(dataset: &Dataset, request: &QueryRequest) -> Option<MemoryRead> {
    let read = plan_read(dataset, request)?;
    if !column_cache::all_cached(dataset, &read.needed) {
        return None;
    }
    let grouped = read
        .pinned()
        .filter(|c| column_cache::holds_clustered(dataset, &read.needed, *c));
    Some(match grouped {
        Some(c) => MemoryRead::Grouped(read.needed[c].clone()),
        None => MemoryRead::Columns,
    })
}

/// Where a read from memory finds its rows.
pub(crate) enum MemoryRead {
    Columns,
    /// The copy grouped by this column (`clustered_copy`).
    Grouped(String),
}

/// Most bytes a read answered on the caller's thread may touch, estimated as every row of
/// the columns it reads: larger reads go to the worker threads, so a caller's event loop
/// never waits long on one.
const AT_ONCE_BYTES: usize = 128 << 20;

/// Whether `query` answers `request` from memory alone, touching at most `AT_ONCE_BYTES`:
/// then handing it to another thread and back would cost more than the read.
pub(crate) fn answers_at_once(dataset: &Dataset, request: &QueryRequest) -> bool {
    plan_read(dataset, request).is_some_and(|read| {
        // The read that makes a grouped copy copies the columns: it goes to a worker.
        let makes_copy = read
            .pinned()
            .is_some_and(|c| column_cache::next_read_makes_cluster(dataset, &read.needed, c));
        at_once(dataset, &read.needed) && !makes_copy
    })
}

/// Whether `count` answers `sql` from memory alone, touching at most `AT_ONCE_BYTES`.
pub(crate) fn counts_at_once(dataset: &Dataset, sql: &str) -> bool {
    plan_filter(dataset, sql)
        .is_some_and(|filter| !filter.columns.is_empty() && at_once(dataset, &filter.columns))
}

fn at_once(dataset: &Dataset, columns: &[String]) -> bool {
    column_cache::all_cached(dataset, columns)
        && column_cache::estimated_bytes(dataset, columns) <= AT_ONCE_BYTES
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
