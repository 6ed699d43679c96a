//! Copies of cached column sets with each fragment's live rows grouped by the value of one
//! low-cardinality string column.
//!
//! A filter that pins such a column to one value (`split = 'train' AND ...`) matches rows
//! scattered over the whole table, which a read gathers one by one: for a tenth of a 1M-row
//! table, millions of short string copies per call. In the grouped copy those rows are one
//! run per fragment, returned as slices of it (mapped, not copied, when large). Rows keep
//! their order within a group, so the read returns what it returns from the columns as they
//! are, in the same order.
//!
//! Repeated reads of one value of a column (a data split, a label) are what AI data loading
//! does; the copy is made on a set's second such read, counted against the cache's budget
//! beside the columns it copies, and is the first thing dropped when the budget needs room.

use std::collections::HashMap;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use arrow_array::Array;
use rayon::prelude::*;

use crate::column_cache::{self, CachedColumns, Chunk, ClusterLookup, Segment};
use crate::error::Result;
use crate::row_gather::Picks;

/// Rows per segment of a grouped copy: a value's run spans few segments, and a filter still
/// evaluates segments on every core.
const SEGMENT_ROWS: usize = 262_144;

/// Sets with fewer rows are gathered fast enough as they are.
const MIN_ROWS: usize = 65_536;

/// The copy of `cached` (columns `columns` of `dataset`) grouped by column `c`, when the
/// cache holds one or this read is the one to make it (never when `at_once`: on the
/// caller's thread); `None` to read `cached` itself.
pub(crate) fn for_read(
    dataset: &lance::Dataset,
    columns: &[String],
    cached: &CachedColumns,
    c: usize,
    at_once: bool,
) -> Option<Arc<CachedColumns>> {
    let rows: usize = cached.segments.iter().map(|s| s.rows).sum();
    let keyed = cached.segments.iter().all(|s| s.columns[c].keys.is_some());
    if rows < MIN_ROWS || !keyed {
        return None;
    }
    match column_cache::clustered(dataset, columns, c, !at_once, || live_bytes(cached)) {
        ClusterLookup::Held(copy) => Some(copy),
        ClusterLookup::No => None,
        ClusterLookup::Wanted => {
            // A copy that cannot be made (too many values, a fragment's strings past 32-bit
            // offsets, even a bug that panics) is not an error of the read: it reads the
            // columns as they are, and the bytes reserved for the copy are released.
            let grouped = std::panic::catch_unwind(AssertUnwindSafe(|| group(cached, c)));
            let made = grouped.ok().and_then(|g| g.ok().flatten()).map(|copy| {
                let bytes = live_bytes(&copy);
                (Arc::new(copy), bytes)
            });
            let copy = made.as_ref().map(|(copy, _)| copy.clone());
            column_cache::settle_clustered(dataset, columns, c, made);
            copy
        }
    }
}

/// The bytes of the rows `cached`'s segments cover (an estimate of a copy of them).
fn live_bytes(cached: &CachedColumns) -> usize {
    cached
        .segments
        .iter()
        .flat_map(|s| &s.columns)
        .map(|c| {
            let keys = c.keys.as_ref().map_or(0, |(k, _)| k.len() * 2);
            c.values.to_data().get_slice_memory_size().unwrap_or(0) + keys
        })
        .sum()
}

/// `cached` with each fragment's live rows grouped by column `c`'s value (groups in order of
/// first appearance, rows in order within a group); `None` when a segment has no keys or a
/// fragment more than `MAX_GROUPS` values.
pub(crate) fn group(cached: &CachedColumns, c: usize) -> Result<Option<CachedColumns>> {
    // Consecutive segments of one fragment.
    let mut fragments: Vec<Range<usize>> = Vec::new();
    for (s, segment) in cached.segments.iter().enumerate() {
        match fragments.last_mut() {
            Some(last) if cached.segments[last.start].fragment == segment.fragment => {
                last.end = s + 1
            }
            _ => fragments.push(s..s + 1),
        }
    }
    let grouped: Vec<Option<Vec<Segment>>> = fragments
        .into_par_iter()
        .map(|range| group_fragment(cached, range, c))
        .collect::<Result<_>>()?;
    let Some(grouped) = grouped.into_iter().collect::<Option<Vec<_>>>() else {
        return Ok(None);
    };
    Ok(Some(CachedColumns {
        id: column_cache::next_set_id(),
        schema: cached.schema.clone(),
        segments: grouped.into_iter().flatten().collect(),
    }))
}

/// Most distinct values of the column in one fragment: a column with more is no split or
/// label, and its copy would be gathered from too many pieces.
const MAX_GROUPS: usize = 256;

/// Segments `range` (one fragment's) grouped by column `c`.
fn group_fragment(
    cached: &CachedColumns,
    range: Range<usize>,
    c: usize,
) -> Result<Option<Vec<Segment>>> {
    // Each segment's keys index a dictionary of its own: groups are by the value itself,
    // with nulls a group of their own.
    let mut groups: HashMap<Option<&str>, usize> = HashMap::new();
    // Per group: the segments (index in `range`) holding its live rows, with those rows
    // in ascending order.
    let mut rows: Vec<Vec<(usize, Vec<u32>)>> = Vec::new();
    for (i, s) in range.clone().enumerate() {
        let segment = &cached.segments[s];
        let Some((keys, dictionary)) = &segment.columns[c].keys else {
            return Ok(None);
        };
        let mut group_of_key = Vec::with_capacity(dictionary.len());
        for k in 0..dictionary.len() {
            let next = groups.len();
            group_of_key.push(*groups.entry(Some(dictionary.value(k))).or_insert(next));
        }
        let null_group = match keys.null_count() {
            0 => usize::MAX,
            _ => {
                let next = groups.len();
                *groups.entry(None).or_insert(next)
            }
        };
        if groups.len() > MAX_GROUPS {
            return Ok(None);
        }
        rows.resize_with(groups.len(), Vec::new);
        let live = |r: usize| segment.live.as_ref().is_none_or(|l| l.value(r));
        for r in (0..segment.rows).filter(|r| live(*r)) {
            let group = match keys.is_valid(r) {
                true => group_of_key[keys.value(r) as usize],
                false => null_group,
            };
            match rows[group].last_mut() {
                Some((at, picked)) if *at == i => picked.push(r as u32),
                _ => rows[group].push((i, vec![r as u32])),
            }
        }
    }
    let width = cached.schema.fields().len();
    let batches = range
        .clone()
        .map(|s| cached.batch(s))
        .collect::<Result<Vec<_>>>()?;
    let keys: Vec<Vec<_>> = range
        .clone()
        .map(|s| {
            let columns = &cached.segments[s].columns[..width];
            columns.iter().map(|chunk| chunk.keys.clone()).collect()
        })
        .collect();
    let mut picks = Picks::default();
    for (i, picked) in rows.into_iter().flatten() {
        picks.push(batches[i].clone(), picked, keys[i].clone());
    }
    let fragment = cached.segments[range.start].fragment;
    let Some(batch) = picks.gather()? else {
        return Ok(Some(Vec::new()));
    };
    let segments = (0..batch.num_rows())
        .step_by(SEGMENT_ROWS)
        .map(|start| {
            let rows = SEGMENT_ROWS.min(batch.num_rows() - start);
            Segment {
                columns: batch
                    .columns()
                    .iter()
                    .map(|a| Chunk::new(&a.slice(start, rows)))
                    .collect(),
                rows,
                live: None,
                // Rows of the fragment in another order: no physical offset to point at.
                fragment,
                start: 0,
            }
        })
        .collect();
    Ok(Some(segments))
}
