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

use crate::column_cache::{self, Keep, ROW_ID};
use crate::error::Result;
use crate::query::{vector_column, QueryRequest};

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
    let Some(field) = dataset.schema().field(&column) else {
        return Ok(false);
    };
    let float32 = matches!(field.data_type(), DataType::FixedSizeList(child, _) if *child.data_type() == DataType::Float32);
    if !float32 {
        return Ok(false);
    }
    if vector.bypass_index {
        return Ok(true);
    }
    let field_id = field.id;
    let indexed = dataset
        .load_indices()
        .await?
        .iter()
        .any(|index| index.fields.contains(&field_id));
    Ok(!indexed)
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
    let parts: Vec<VectorPart> = cached
        .segments
        .iter()
        .map(|s| VectorPart::of(s.columns[at].values.as_ref(), s.live.as_ref()))
        .collect();
    let metric = vector.distance_type.unwrap_or(DistanceType::L2);
    let nearest = top_k(&parts, &vector.values, vector.k, metric);

    let hits: Vec<(usize, usize)> = nearest.iter().map(|(_, f, r)| (*f, *r)).collect();
    let mut fields: Vec<Field> = Vec::with_capacity(output.len() + 1);
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(output.len() + 1);
    for name in &output {
        let c = cached.schema.index_of(name)?;
        let sources: Vec<&dyn Array> = cached
            .segments
            .iter()
            .map(|s| s.columns[c].values.as_ref())
            .collect();
        fields.push(cached.schema.field(c).clone());
        arrays.push(arrow_select::interleave::interleave(&sources, &hits)?);
    }
    // lance puts `_distance` before `_rowid`; do the same so both paths look alike.
    let at = fields
        .iter()
        .position(|f| f.name() == ROW_ID)
        .unwrap_or(fields.len());
    fields.insert(at, Field::new(DISTANCE, DataType::Float32, true));
    let distances: Vec<f32> = nearest.iter().map(|(d, _, _)| *d).collect();
    arrays.insert(at, Arc::new(Float32Array::from(distances)));
    Ok(Some(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        arrays,
    )?))
}

/// One segment's vectors: the flat values, which rows have one, and which rows are live.
struct VectorPart<'a> {
    dim: usize,
    values: &'a [f32],
    valid: Option<&'a NullBuffer>,
    live: Option<&'a BooleanBuffer>,
}

impl<'a> VectorPart<'a> {
    fn of(array: &'a dyn Array, live: Option<&'a BooleanBuffer>) -> Self {
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
        }
    }
}

/// (distance, segment, row) of the `k` nearest vectors, nearest first; ties by position.
fn top_k(
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
    let mut all: Vec<(f32, usize, usize)> = work
        .par_iter()
        .flat_map_iter(|(f, start, end)| {
            let part = &parts[*f];
            nearest_in(part, *start, *end, query, k, metric)
                .into_iter()
                .map(move |(d, r)| (d, *f, r))
        })
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then((a.1, a.2).cmp(&(b.1, b.2))));
    all.truncate(k);
    all
}

/// Max-heap entry ordered by distance, then position.
#[derive(PartialEq)]
struct Candidate(f32, usize);

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

/// (distance, row) of the `k` nearest rows in `start..end` of `part`.
fn nearest_in(
    part: &VectorPart,
    start: usize,
    end: usize,
    query: &[f32],
    k: usize,
    metric: DistanceType,
) -> Vec<(f32, usize)> {
    const BLOCK: usize = 4096;
    let dim = part.dim;
    let vectors = &part.values[start * dim..end * dim];
    let mut heap: BinaryHeap<Candidate> = BinaryHeap::with_capacity(k + 1);
    let mut distances = vec![0f32; BLOCK];
    for (b, block) in vectors.chunks(BLOCK * dim).enumerate() {
        let n = block.len() / dim;
        let out = &mut distances[..n];
        match metric {
            DistanceType::Dot => dot_distance_batch_into(query, block, dim, out),
            DistanceType::Cosine => {
                for (slot, d) in out.iter_mut().zip(cosine_distance_batch(query, block, dim)) {
                    *slot = d;
                }
            }
            _ => l2_distance_batch_into(query, block, dim, out),
        }
        for (i, d) in out.iter().enumerate() {
            let row = start + b * BLOCK + i;
            // Rows without a vector have no distance; lance leaves them out too.
            if d.is_nan()
                || part.valid.is_some_and(|v| v.is_null(row))
                || part.live.is_some_and(|l| !l.value(row))
            {
                continue;
            }
            let candidate = Candidate(*d, row);
            if heap.len() < k {
                heap.push(candidate);
            } else if heap.peek().is_some_and(|worst| candidate < *worst) {
                heap.pop();
                heap.push(candidate);
            }
        }
    }
    heap.into_iter().map(|c| (c.0, c.1)).collect()
}
