//! Exact nearest-neighbour search over decoded vector columns kept in memory.
//!
//! The columns come from `column_cache`: the first search decodes them once (what lance's
//! exact search does every time), later ones only compute distances, with lance's SIMD
//! kernels on rayon's pool, and gather the k hits from memory.

use std::collections::BinaryHeap;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, FixedSizeListArray, Float32Array, RecordBatch};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::{DataType, Field, Schema};
use lance::index::DatasetIndexExt;
use lance::Dataset;
use lance_linalg::distance::{
    cosine_distance_batch, dot_distance_batch_into, l2_distance_batch_into, DistanceType,
};
use rayon::prelude::*;

use crate::column_cache::{self, CachedColumns, Keep, ROW_ID};
use crate::error::Result;
use crate::query::{vector_column, QueryRequest};
use crate::vector_codes::{Probe, VectorCodes};

const DISTANCE: &str = "_distance";
/// Rows per unit of parallel work: large enough to amortise scheduling.
const WORK_ROWS: usize = 16_384;

/// Whether `request` is a plain exact search this module answers the same way lance would:
/// a float32 vector column, no filter, no distance range, no offset, no full-text part, and
/// either no vector index on the column or an explicit bypass.
pub(crate) async fn applies(dataset: &Dataset, request: &QueryRequest) -> Result<bool> {
    let Some(vector) = &request.vector else {
        return Ok(false);
    };
    if column_cache::budget_bytes() == 0
        || request.filter.is_some()
        || request.full_text.is_some()
        || request.offset.is_some()
        || vector.distance_range.is_some()
    {
        return Ok(false);
    }
    let column = vector_column(dataset, vector)?;
    let Some(field_id) = float32_vector_field(dataset, &column) else {
        return Ok(false);
    };
    if vector.bypass_index {
        return Ok(true);
    }
    let indexed = dataset
        .load_indices()
        .await?
        .iter()
        .any(|index| index.fields.contains(&field_id));
    Ok(!indexed)
}

/// The field id of `column` when it holds float32 vectors, the ones searched from memory.
pub(crate) fn float32_vector_field(dataset: &Dataset, column: &str) -> Option<i32> {
    let field = dataset.schema().field(column)?;
    matches!(field.data_type(), DataType::FixedSizeList(child, _) if *child.data_type() == DataType::Float32)
        .then_some(field.id)
}

/// The `k` nearest rows, closest first, with the requested columns and `_distance`; `None`
/// when the columns do not fit in the cache (lance then searches).
pub(crate) async fn search(
    dataset: &Dataset,
    request: &QueryRequest,
) -> Result<Option<RecordBatch>> {
    let vector = request.vector.as_ref().expect("checked by applies()");
    let column_name = vector_column(dataset, vector)?;
    let Some(output) = crate::cached_reads::output_columns(dataset, request) else {
        return Ok(None);
    };
    let mut needed = output.clone();
    if !needed.contains(&column_name) {
        needed.push(column_name.clone());
    }
    let Some(cached) = column_cache::load(dataset, &needed, Keep::Now).await? else {
        return Ok(None);
    };
    let at = cached.schema.index_of(&column_name)?;
    let metric = vector.distance_type.unwrap_or(DistanceType::L2);
    let all: Vec<usize> = (0..cached.segments.len()).collect();
    let parts = vector_parts(&cached, at, &all, metric, true, None);
    let nearest = top_k(&parts, &vector.values, vector.k, metric);
    let hits: Vec<(usize, usize)> = nearest.iter().map(|(_, f, r)| (*f, *r)).collect();
    let distances: Vec<f32> = nearest.iter().map(|(d, _, _)| *d).collect();
    rows_with_distances(&cached, &output, &hits, distances).map(Some)
}

/// The vectors of column `at` in `segments` of `cached`, with their codes when `codes` asks
/// for them and `metric` can use them (codes bound L2 distances only; they are made on the
/// first such search, a chunk per thread). A segment's rows are its live ones, or those
/// `rows` gives for it (by segment index) when given.
pub(crate) fn vector_parts<'a>(
    cached: &'a CachedColumns,
    at: usize,
    segments: &[usize],
    metric: DistanceType,
    codes: bool,
    rows: Option<&'a [BooleanBuffer]>,
) -> Vec<VectorPart<'a>> {
    segments
        .par_iter()
        .map(|s| {
            let segment = &cached.segments[*s];
            let chunk = &segment.columns[at];
            let codes = chunk
                .codes
                .as_deref()
                .filter(|_| codes && metric == DistanceType::L2)
                .and_then(|lazy| lazy.get());
            let live = match rows {
                Some(rows) => Some(&rows[*s]),
                None => segment.live.as_ref(),
            };
            VectorPart::of(chunk.values.as_ref(), live, codes)
        })
        .collect()
}

/// The `output` columns of the rows at `hits` ((segment, row) in `cached`), in that order,
/// with their `distances` as `_distance`: before `_rowid` when it is returned, as lance puts
/// it, else last.
pub(crate) fn rows_with_distances(
    cached: &CachedColumns,
    output: &[String],
    hits: &[(usize, usize)],
    distances: Vec<f32>,
) -> Result<RecordBatch> {
    let mut fields: Vec<Field> = Vec::with_capacity(output.len() + 1);
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(output.len() + 1);
    for name in output {
        let c = cached.schema.index_of(name)?;
        let sources: Vec<&dyn Array> = cached
            .segments
            .iter()
            .map(|s| s.columns[c].values.as_ref())
            .collect();
        fields.push(cached.schema.field(c).clone());
        arrays.push(arrow_select::interleave::interleave(&sources, hits)?);
    }
    let at = fields
        .iter()
        .position(|f| f.name() == ROW_ID)
        .unwrap_or(fields.len());
    fields.insert(at, Field::new(DISTANCE, DataType::Float32, true));
    arrays.insert(at, Arc::new(Float32Array::from(distances)));
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// One segment's vectors: the flat values, which rows have one, which rows are live, and
/// their codes (with the code row of the segment's first row) when they have them.
pub(crate) struct VectorPart<'a> {
    dim: usize,
    values: &'a [f32],
    valid: Option<&'a NullBuffer>,
    live: Option<&'a BooleanBuffer>,
    codes: Option<(&'a VectorCodes, usize)>,
    /// The rows' ids, when ties go to the smaller row id (as in lance's plans) rather than
    /// to the earlier position.
    row_ids: Option<&'a [u64]>,
}

impl<'a> VectorPart<'a> {
    /// Breaks ties between equally distant rows by these ids (one per row).
    pub(crate) fn with_row_ids(mut self, row_ids: &'a [u64]) -> Self {
        self.row_ids = Some(row_ids);
        self
    }

    /// What orders equally distant rows of this part.
    fn tie_key(&self, row: usize) -> u64 {
        self.row_ids.map_or(row as u64, |ids| ids[row])
    }

    fn of(
        array: &'a dyn Array,
        live: Option<&'a BooleanBuffer>,
        codes: Option<&'a VectorCodes>,
    ) -> Self {
        let list = array
            .as_any()
            .downcast_ref::<FixedSizeListArray>()
            .expect("a float32 vector column");
        let dim = list.value_length() as usize;
        let flat = list
            .values()
            .as_any()
            .downcast_ref::<Float32Array>()
            .expect("float32 values");
        let start = list.offset() * dim;
        VectorPart {
            dim,
            values: &flat.values()[start..start + list.len() * dim],
            valid: list.nulls().filter(|n| n.null_count() > 0),
            live,
            codes: codes.and_then(|c| Some((c, c.offset_of(list)?))),
            row_ids: None,
        }
    }
}

/// (distance, part, row) of the `k` nearest vectors, nearest first; ties by row id when
/// every part has them, else by position.
pub(crate) fn top_k(
    parts: &[VectorPart],
    query: &[f32],
    k: usize,
    metric: DistanceType,
) -> Vec<(f32, usize, usize)> {
    // Units of work: row ranges of segments, spread over the pool.
    let work: Vec<(usize, usize, usize)> = parts
        .iter()
        .enumerate()
        .flat_map(|(f, part)| {
            let rows = part.values.len() / part.dim.max(1);
            (0..rows)
                .step_by(WORK_ROWS)
                .map(move |start| (f, start, (start + WORK_ROWS).min(rows)))
        })
        .collect();
    let probes: Vec<Option<Probe>> = parts
        .iter()
        .map(|p| {
            p.codes
                .filter(|_| metric == DistanceType::L2)
                .and_then(|(codes, _)| codes.probe(query))
        })
        .collect();
    let by_id = !parts.is_empty() && parts.iter().all(|p| p.row_ids.is_some());
    let mut all: Vec<(f32, u64, usize, usize)> = work
        .par_iter()
        .flat_map_iter(|(f, start, end)| {
            let part = &parts[*f];
            nearest_in(part, *start, *end, query, k, metric, probes[*f].as_ref())
                .into_iter()
                .map(move |(d, key, r)| (d, key, *f, r))
        })
        .collect();
    all.sort_by(|a, b| {
        let tie = match by_id {
            true => a.1.cmp(&b.1),
            false => (a.2, a.3).cmp(&(b.2, b.3)),
        };
        a.0.total_cmp(&b.0).then(tie)
    });
    all.truncate(k);
    all.into_iter().map(|(d, _, f, r)| (d, f, r)).collect()
}

/// The distance between `query` and the vector at `row` of `part`, computed as the full
/// pass computes it; `None` when the row has no vector.
pub(crate) fn distance_to(
    part: &VectorPart,
    row: usize,
    query: &[f32],
    metric: DistanceType,
) -> Option<f32> {
    if part.valid.is_some_and(|v| v.is_null(row)) {
        return None;
    }
    let dim = part.dim;
    let vector = &part.values[row * dim..(row + 1) * dim];
    let mut d = [0f32];
    match metric {
        DistanceType::Dot => dot_distance_batch_into(query, vector, dim, &mut d),
        DistanceType::Cosine => {
            d[0] = cosine_distance_batch(query, vector, dim)
                .next()
                .unwrap_or(f32::NAN)
        }
        _ => l2_distance_batch_into(query, vector, dim, &mut d),
    }
    (!d[0].is_nan()).then_some(d[0])
}

/// Max-heap entry ordered by distance, then tie key; with the row.
#[derive(PartialEq)]
struct Candidate(f32, u64, usize);

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// (distance, tie key, row) of the `k` nearest rows in `start..end` of `part`. With a `probe` (L2
/// over coded vectors), a row's exact distance is computed only when its lower bound from
/// the codes can still beat the k-th nearest kept so far.
fn nearest_in(
    part: &VectorPart,
    start: usize,
    end: usize,
    query: &[f32],
    k: usize,
    metric: DistanceType,
    probe: Option<&Probe>,
) -> Vec<(f32, u64, usize)> {
    const BLOCK: usize = 4096;
    if k == 0 {
        return Vec::new();
    }
    let dim = part.dim;
    let mut heap: BinaryHeap<Candidate> = BinaryHeap::with_capacity(k + 1);
    let mut scratch = vec![0f32; BLOCK];
    for block in (start..end).step_by(BLOCK) {
        let rows = block..(block + BLOCK).min(end);
        let out = &mut scratch[..rows.len()];
        if let (Some(probe), Some((codes, first))) = (probe, part.codes) {
            codes.lower_bounds(probe, first + rows.start, out);
            for (row, bound) in rows.zip(out.iter()) {
                let full = heap.len() == k;
                if full && heap.peek().is_some_and(|w| !probe.may_beat(*bound, w.0)) {
                    continue;
                }
                let mut d = [0f32];
                let vector = &part.values[row * dim..(row + 1) * dim];
                l2_distance_batch_into(query, vector, dim, &mut d);
                keep(&mut heap, k, part, d[0], row);
            }
            continue;
        }
        let vectors = &part.values[rows.start * dim..rows.end * dim];
        match metric {
            DistanceType::Dot => dot_distance_batch_into(query, vectors, dim, out),
            DistanceType::Cosine => {
                for (slot, d) in out
                    .iter_mut()
                    .zip(cosine_distance_batch(query, vectors, dim))
                {
                    *slot = d;
                }
            }
            _ => l2_distance_batch_into(query, vectors, dim, out),
        }
        for (row, d) in rows.zip(out.iter()) {
            keep(&mut heap, k, part, *d, row);
        }
    }
    heap.into_iter().map(|c| (c.0, c.1, c.2)).collect()
}

/// Puts the row in the heap of the k nearest if it has a distance, is live, and is nearer
/// than the worst kept.
fn keep(heap: &mut BinaryHeap<Candidate>, k: usize, part: &VectorPart, d: f32, row: usize) {
    // Rows without a vector have no distance; lance leaves them out too.
    if d.is_nan()
        || part.valid.is_some_and(|v| v.is_null(row))
        || part.live.is_some_and(|l| !l.value(row))
    {
        return;
    }
    let candidate = Candidate(d, part.tie_key(row), row);
    if heap.len() < k {
        heap.push(candidate);
    } else if heap.peek().is_some_and(|worst| candidate < *worst) {
        heap.pop();
        heap.push(candidate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::Float32Type;

    /// 3,000 vectors of 24 dimensions in 6 tight clusters, every 50th a copy of the one
    /// before (equal distances: ties broken by position), every 7th deleted.
    fn vectors() -> (FixedSizeListArray, BooleanBuffer) {
        let mut state = 0x9e3779b97f4a7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 10_000) as f32 / 10_000.0
        };
        let mut rows: Vec<Vec<f32>> = Vec::new();
        for i in 0..3000usize {
            let row = if i % 50 == 49 {
                rows[i - 1].clone()
            } else {
                (0..24)
                    .map(|d| (i % 6 * d) as f32 * 0.1 + next() * 0.2)
                    .collect()
            };
            rows.push(row);
        }
        let list = FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(
            rows.iter()
                .map(|r| Some(r.iter().map(|v| Some(*v)).collect::<Vec<_>>())),
            24,
        );
        let live = BooleanBuffer::from_iter((0..3000).map(|i| i % 7 != 0));
        (list, live)
    }

    #[test]
    fn searching_through_codes_finds_exactly_what_the_full_pass_finds() {
        let (list, live) = vectors();
        let codes = VectorCodes::build(&list).unwrap();
        // Two parts over one coded chunk, the second a slice, as cached segments are.
        let second = list.slice(1200, 1800);
        let coded = [
            VectorPart::of(&list, Some(&live), Some(&codes)),
            VectorPart::of(&second, None, Some(&codes)),
        ];
        let plain = [
            VectorPart::of(&list, Some(&live), None),
            VectorPart::of(&second, None, None),
        ];
        assert!(coded.iter().all(|p| p.codes.is_some()));
        for q in [0usize, 49, 700, 1234, 2999] {
            // Queries on a stored vector (distance 0 and a tie with its copy), and off them.
            let stored = list.value(q);
            let stored = stored.as_any().downcast_ref::<Float32Array>().unwrap();
            for shift in [0.0f32, 0.05, 3.0] {
                let query: Vec<f32> = stored.values().iter().map(|v| v + shift).collect();
                for k in [1, 10, 100, 5000] {
                    let fast = top_k(&coded, &query, k, DistanceType::L2);
                    let full = top_k(&plain, &query, k, DistanceType::L2);
                    assert_eq!(fast, full, "query {q} + {shift}, k {k}");
                }
            }
        }
    }

    #[test]
    fn other_metrics_and_unboundable_queries_take_the_full_pass() {
        let (list, live) = vectors();
        let codes = VectorCodes::build(&list).unwrap();
        let coded = [VectorPart::of(&list, Some(&live), Some(&codes))];
        let plain = [VectorPart::of(&list, Some(&live), None)];
        let mut query = vec![0.5f32; 24];
        for metric in [DistanceType::Dot, DistanceType::Cosine] {
            assert_eq!(
                top_k(&coded, &query, 10, metric),
                top_k(&plain, &query, 10, metric)
            );
        }
        query[3] = f32::INFINITY;
        assert_eq!(
            top_k(&coded, &query, 10, DistanceType::L2),
            top_k(&plain, &query, 10, DistanceType::L2)
        );
    }
}
