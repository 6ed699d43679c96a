//! Exact nearest-neighbour search over a decoded, cached vector column.
//!
//! A version never changes, so the decoded vectors of a column at a version can be kept in
//! memory and reused by every later search of that version: the first search scans the column
//! once (what lance's exact search does every time), later ones only compute distances, with
//! lance's SIMD kernels, on both cores. The cache is bounded (`PALIMPSEST_VECTOR_CACHE_MB`,
//! default 2048; 0 turns it off) and drops the least recently used columns first.

use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use arrow_array::{Array, FixedSizeListArray, Float32Array, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use futures::TryStreamExt;
use lance::dataset::ProjectionRequest;
use lance::index::DatasetIndexExt;
use lance::Dataset;
use lance_linalg::distance::{
    cosine_distance_batch, dot_distance_batch_into, l2_distance_batch_into, DistanceType,
};

use crate::error::Result;
use crate::query::{vector_column, QueryRequest};

const ROW_ID: &str = "_rowid";
const DISTANCE: &str = "_distance";
const DEFAULT_BUDGET_MB: usize = 2048;

/// One vector column of one version, decoded: live, non-null rows only.
struct DecodedColumn {
    dim: usize,
    values: Vec<f32>,
    row_ids: Vec<u64>,
}

impl DecodedColumn {
    fn bytes(&self) -> usize {
        self.values.len() * 4 + self.row_ids.len() * 8
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    uri: String,
    branch: Option<String>,
    version: u64,
    column: String,
}

#[derive(Default)]
struct Cache {
    entries: HashMap<Key, (Arc<DecodedColumn>, u64)>,
    clock: u64,
    bytes: usize,
}

fn budget_bytes() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        std::env::var("PALIMPSEST_VECTOR_CACHE_MB")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(DEFAULT_BUDGET_MB)
            * 1024
            * 1024
    })
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

impl Cache {
    fn get(&mut self, key: &Key) -> Option<Arc<DecodedColumn>> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|(column, used)| {
            *used = clock;
            column.clone()
        })
    }

    fn insert(&mut self, key: Key, column: Arc<DecodedColumn>) {
        let size = column.bytes();
        while self.bytes + size > budget_bytes() {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((gone, _)) = self.entries.remove(&oldest) {
                self.bytes -= gone.bytes();
            }
        }
        if self.bytes + size <= budget_bytes() {
            self.clock += 1;
            self.bytes += size;
            self.entries.insert(key, (column, self.clock));
        }
    }
}

/// Whether `request` is a plain exact search this module answers the same way lance would:
/// a float32 vector column, no filter, no distance range, no offset, no full-text part, and
/// either no vector index on the column or an explicit bypass.
pub(crate) async fn applies(dataset: &Dataset, request: &QueryRequest) -> Result<bool> {
    let Some(vector) = &request.vector else {
        return Ok(false);
    };
    if budget_bytes() == 0
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

/// The `k` nearest rows, closest first, with the requested columns and `_distance`.
pub(crate) async fn search(dataset: &Dataset, request: &QueryRequest) -> Result<RecordBatch> {
    let vector = request.vector.as_ref().expect("checked by applies()");
    let column_name = vector_column(dataset, vector)?;
    let decoded = decoded(dataset, &column_name).await?;
    let metric = vector.distance_type.unwrap_or(DistanceType::L2);
    let nearest = top_k(&decoded, &vector.values, vector.k, metric);
    let ids: Vec<u64> = nearest.iter().map(|(_, i)| decoded.row_ids[*i]).collect();
    let distances: Vec<f32> = nearest.iter().map(|(d, _)| *d).collect();

    let mut columns: Vec<String> = match &request.columns {
        Some(columns) => columns.clone(),
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
    let projection = ProjectionRequest::from_columns(&columns, dataset.schema());
    let rows = Arc::new(dataset.clone())
        .take_rows(&ids, projection)
        .await?;
    let mut fields: Vec<Field> = rows
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut arrays = rows.columns().to_vec();
    // lance puts `_distance` before `_rowid`; do the same so both paths look alike.
    let at = fields
        .iter()
        .position(|f| f.name() == ROW_ID)
        .unwrap_or(fields.len());
    fields.insert(at, Field::new(DISTANCE, DataType::Float32, true));
    arrays.insert(at, Arc::new(Float32Array::from(distances)));
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

async fn decoded(dataset: &Dataset, column: &str) -> Result<Arc<DecodedColumn>> {
    let key = Key {
        uri: dataset.uri().to_string(),
        branch: dataset.manifest().branch.clone(),
        version: dataset.version_id(),
        column: column.to_string(),
    };
    if let Some(hit) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(hit);
    }
    let mut scan = dataset.scan();
    scan.project(&[column])?;
    scan.with_row_id();
    let batches: Vec<RecordBatch> = scan.try_into_stream().await?.try_collect().await?;
    let mut dim = 0;
    let mut values = Vec::new();
    let mut row_ids = Vec::new();
    for batch in &batches {
        let list = batch
            .column_by_name(column)
            .and_then(|c| c.as_any().downcast_ref::<FixedSizeListArray>())
            .expect("a float32 vector column");
        let ids = batch
            .column_by_name(ROW_ID)
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
            .expect("row ids were requested");
        dim = list.value_length() as usize;
        let flat = list
            .values()
            .as_any()
            .downcast_ref::<Float32Array>()
            .expect("float32 values");
        let start = list.offset() * dim;
        let all = &flat.values()[start..start + list.len() * dim];
        if list.null_count() == 0 {
            values.extend_from_slice(all);
            row_ids.extend_from_slice(ids.values());
        } else {
            // Rows without a vector have no distance; lance leaves them out too.
            for row in (0..list.len()).filter(|r| list.is_valid(*r)) {
                values.extend_from_slice(&all[row * dim..(row + 1) * dim]);
                row_ids.push(ids.value(row));
            }
        }
    }
    let column = Arc::new(DecodedColumn {
        dim,
        values,
        row_ids,
    });
    cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, column.clone());
    Ok(column)
}

/// (distance, position) of the `k` nearest vectors, nearest first; ties by position.
fn top_k(
    column: &DecodedColumn,
    query: &[f32],
    k: usize,
    metric: DistanceType,
) -> Vec<(f32, usize)> {
    let dim = column.dim.max(1);
    let rows = column.values.len() / dim;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = rows.div_ceil(threads).max(1);
    let partial: Vec<Vec<(f32, usize)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..rows)
            .step_by(chunk)
            .map(|start| {
                let end = (start + chunk).min(rows);
                let slice = &column.values[start * dim..end * dim];
                scope.spawn(move || nearest_in(slice, query, dim, k, metric, start))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("distance worker"))
            .collect()
    });
    let mut all: Vec<(f32, usize)> = partial.into_iter().flatten().collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
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

fn nearest_in(
    vectors: &[f32],
    query: &[f32],
    dim: usize,
    k: usize,
    metric: DistanceType,
    offset: usize,
) -> Vec<(f32, usize)> {
    const BLOCK: usize = 4096;
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
            if d.is_nan() {
                continue;
            }
            let candidate = Candidate(*d, offset + b * BLOCK + i);
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
