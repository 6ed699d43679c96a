//! Nearest-neighbour search through a vector index (IVF_PQ, IVF_FLAT, IVF_HNSW_SQ, ...) on a
//! table whose columns are already decoded in memory.
//!
//! lance's index finds the candidates exactly as lance's own plan does (the same index, query,
//! partitions and prefilter); what lance's plan then does through DataFusion, re-reading the
//! data files, is done from memory: the candidates' exact distances when the query refines,
//! an exact search of the rows the index does not cover, and the result rows. Only queries
//! whose answer this provably matches are taken: a fixed `nprobes`, no filter, offset or
//! distance range, one index segment, no data overlays. Everything else goes through lance.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Array, Float32Array, RecordBatch, UInt64Array};
use futures::TryStreamExt;
use lance::dataset::rowids::get_row_id_index;
use lance::index::prefilter::DatasetPreFilter;
use lance::index::{DatasetIndexExt, DatasetIndexInternalExt};
use lance::Dataset;
use lance_core::utils::address::RowAddress;
use lance_index::metrics::NoOpMetricsCollector;
use lance_index::prefilter::{NoFilter, PreFilter};
use lance_index::vector::{Query, VectorIndex};
use lance_linalg::distance::DistanceType;
use lance_table::format::IndexMetadata;
use rayon::prelude::*;
use roaring::RoaringBitmap;

use crate::column_cache::{self, CachedColumns, Keep};
use crate::error::Result;
use crate::exact_knn::{
    distance_to, float32_vector_field, rows_with_distances, top_k, vector_parts,
};
use crate::query::{vector_column, QueryRequest, VectorRequest};

/// What an indexed search from memory works with.
struct Plan<'a> {
    vector: &'a VectorRequest,
    column: String,
    index: IndexMetadata,
    /// The fragments the index covers.
    covered: RoaringBitmap,
    output: Vec<String>,
    needed: Vec<String>,
}

/// The `k` nearest rows as lance's indexed search finds them, with the requested columns and
/// `_distance`; `None` when the request is not one this module answers, or its columns are
/// not all in memory yet (lance then searches; an indexed search never fills the cache).
pub(crate) async fn search(
    dataset: &Dataset,
    request: &QueryRequest,
) -> Result<Option<RecordBatch>> {
    let Some((plan, index, metric)) = ready(dataset, request).await? else {
        return Ok(None);
    };
    let Some(cached) = column_cache::load(dataset, &plan.needed, Keep::WhenHot).await? else {
        return Ok(None);
    };
    let Some(mut candidates) = index_candidates(dataset, &plan, index, metric).await? else {
        return Ok(None);
    };
    let at = cached.schema.index_of(&plan.column)?;
    let positions = Positions::of(&cached);
    let refine = plan.vector.refine_factor.is_some();
    // Rows the index does not cover are searched exactly; lance then re-scores the index's
    // candidates exactly too, so every distance compared is exact.
    let uncovered: Vec<usize> = (0..cached.segments.len())
        .filter(|s| !plan.covered.contains(cached.segments[*s].fragment as u32))
        .collect();
    let exact = refine || !uncovered.is_empty();
    let query = &plan.vector.values;
    let every: Vec<usize> = (0..cached.segments.len()).collect();
    let all_parts = vector_parts(&cached, at, &every, metric, false);
    let mut found: Vec<(f32, u64, (usize, usize))> = Vec::with_capacity(candidates.len());
    for (distance, row_id, address) in candidates.drain(..) {
        // A candidate whose row is gone, moved out of the covered fragments, or not in memory
        // is not returned by lance either (its prefilter and segment mask drop it).
        let Some(address) = address else { continue };
        if !plan.covered.contains(address.fragment_id()) {
            continue;
        }
        let Some((s, r)) = positions.find(address) else {
            continue;
        };
        if cached.segments[s]
            .live
            .as_ref()
            .is_some_and(|l| !l.value(r))
        {
            continue;
        }
        let distance = if exact {
            match distance_to(&all_parts[s], r, query, metric) {
                Some(d) => d,
                None => continue,
            }
        } else {
            distance
        };
        found.push((distance, row_id, (s, r)));
    }
    if !uncovered.is_empty() {
        let parts = vector_parts(&cached, at, &uncovered, metric, true);
        let row_ids = row_ids_of(dataset, &cached, &uncovered).await?;
        for (d, p, r) in top_k(&parts, query, plan.vector.k, metric) {
            found.push((d, row_ids[p][r], (uncovered[p], r)));
        }
    }
    // lance's final order: distance, then row id.
    found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    found.truncate(plan.vector.k);
    let hits: Vec<(usize, usize)> = found.iter().map(|(_, _, hit)| *hit).collect();
    let distances: Vec<f32> = found.iter().map(|(d, _, _)| *d).collect();
    rows_with_distances(&cached, &plan.output, &hits, distances).map(Some)
}

/// Whether `search` answers `request` from memory (the name of the index it searches).
pub(crate) async fn answers(dataset: &Dataset, request: &QueryRequest) -> Option<String> {
    let (plan, _, _) = ready(dataset, request).await.ok()??;
    Some(plan.index.name)
}

/// The plan, the opened index and its metric, when this module answers `request`.
async fn ready<'a>(
    dataset: &Dataset,
    request: &'a QueryRequest,
) -> Result<Option<(Plan<'a>, Arc<dyn VectorIndex>, DistanceType)>> {
    let Some(plan) = plan(dataset, request).await? else {
        return Ok(None);
    };
    let Some(index) = open_index(dataset, &plan).await else {
        return Ok(None);
    };
    let metric = index.metric_type();
    if plan.vector.distance_type.is_some_and(|d| d != metric) || metric == DistanceType::Hamming {
        // lance then searches exactly (a metric the index was not built for) or bitwise.
        return Ok(None);
    }
    Ok(Some((plan, index, metric)))
}

/// The request's plan when this module can answer it.
async fn plan<'a>(dataset: &Dataset, request: &'a QueryRequest) -> Result<Option<Plan<'a>>> {
    let Some(vector) = &request.vector else {
        return Ok(None);
    };
    // Adaptive probing (no fixed `nprobes`) and every option that changes which rows qualify
    // stay with lance.
    let fixed_probes = vector.nprobes.is_some_and(|n| n > 0);
    if column_cache::budget_bytes() == 0
        || !fixed_probes
        || request.filter.is_some()
        || request.full_text.is_some()
        || request.offset.is_some()
        || vector.bypass_index
        || vector.distance_range.is_some()
        || vector.refine_factor == Some(0)
        || dataset.fragments().iter().any(|f| !f.overlays.is_empty())
    {
        return Ok(None);
    }
    let column = vector_column(dataset, vector)?;
    let Some(field_id) = float32_vector_field(dataset, &column) else {
        return Ok(None);
    };
    // The index lance would pick: the first one keyed on the column, with all its segments.
    let indices = dataset.load_indices().await?;
    let Some(first) = indices.iter().find(|i| i.fields.first() == Some(&field_id)) else {
        return Ok(None);
    };
    let segments: Vec<&IndexMetadata> = indices.iter().filter(|i| i.name == first.name).collect();
    let [index] = segments.as_slice() else {
        return Ok(None);
    };
    let Some(covered) = index.fragment_bitmap.clone() else {
        return Ok(None);
    };
    let Some(output) = crate::cached_reads::output_columns(dataset, request) else {
        return Ok(None);
    };
    let mut needed = output.clone();
    if !needed.contains(&column) {
        needed.push(column.clone());
    }
    // Only from memory already there: an indexed search reads a few rows, so decoding whole
    // columns for it would cost far more than it saves.
    if !column_cache::all_cached(dataset, &needed) {
        return Ok(None);
    }
    Ok(Some(Plan {
        vector,
        column,
        index: (*index).clone(),
        covered,
        output,
        needed,
    }))
}

/// The index, as lance's plan opens it (lance keeps it open in its session's cache).
async fn open_index(dataset: &Dataset, plan: &Plan<'_>) -> Option<Arc<dyn VectorIndex>> {
    dataset
        .open_vector_index(&plan.column, &plan.index.uuid, &NoOpMetricsCollector)
        .await
        .ok()
}

/// (distance, row id, current address) of the index's `k * refine_factor` nearest candidates
/// in the `nprobes` nearest partitions, as lance's indexed plan finds them; `None` when the
/// index cannot be searched this way.
async fn index_candidates(
    dataset: &Dataset,
    plan: &Plan<'_>,
    index: Arc<dyn VectorIndex>,
    metric: DistanceType,
) -> Result<Option<Vec<(f32, u64, Option<RowAddress>)>>> {
    let vector = plan.vector;
    let mut key: Arc<dyn Array> = Arc::new(Float32Array::from(vector.values.clone()));
    if metric == DistanceType::Cosine {
        // lance normalises a cosine query before it ranks partitions.
        key = lance_linalg::kernels::normalize_arrow(key.as_ref())?.0;
    }
    let nprobes = vector.nprobes.unwrap_or(1);
    let query = Query {
        column: plan.column.clone(),
        key,
        k: vector.k,
        lower_bound: None,
        upper_bound: None,
        minimum_nprobes: nprobes,
        maximum_nprobes: Some(nprobes),
        search_effort: 0.5,
        ef: vector.ef,
        refine_factor: vector.refine_factor,
        metric_type: Some(metric),
        use_index: true,
        query_parallelism: 0,
        dist_q_c: 0.0,
        approx_mode: Default::default(),
    };
    let (partitions, centroid_distances) = index.find_partitions(&query)?;
    let probes = nprobes.min(partitions.len());
    let prefilter = prefilter_for(dataset, plan);
    let batches = if index.supports_prepared_partition_search() {
        // Each partition's search is prepared (its data found in lance's cache) here, then
        // the searches, pure CPU work, run on rayon's threads side by side; lance's plan runs
        // them one after the other on its CPU pool, a thread hop each.
        let mut prepared = Vec::with_capacity(probes);
        for i in 0..probes {
            let mut query = query.clone();
            query.dist_q_c = centroid_distances.value(i);
            let partition = partitions.value(i) as usize;
            prepared.push(
                index
                    .prepare_partition_search(
                        partition,
                        &query,
                        prefilter.clone(),
                        &NoOpMetricsCollector,
                    )
                    .await?,
            );
        }
        prepared
            .into_par_iter()
            .map(|p| index.search_prepared_partition(p, &NoOpMetricsCollector))
            .collect::<lance::Result<Vec<RecordBatch>>>()?
    } else {
        index
            .search_partitions(
                query,
                Arc::new(partitions),
                Arc::new(centroid_distances),
                0,
                probes,
                prefilter,
                None,
                Arc::new(NoOpMetricsCollector),
            )
            .await?
            .try_collect::<Vec<RecordBatch>>()
            .await?
    };
    let mut candidates: Vec<(f32, u64)> = Vec::new();
    for batch in &batches {
        let (Some(distances), Some(row_ids)) = (
            batch
                .column_by_name("_distance")
                .and_then(|c| c.as_any().downcast_ref::<Float32Array>()),
            batch
                .column_by_name(lance::dataset::ROW_ID)
                .and_then(|c| c.as_any().downcast_ref::<UInt64Array>()),
        ) else {
            return Ok(None);
        };
        candidates.extend(
            distances
                .iter()
                .zip(row_ids.iter())
                .filter_map(|(d, id)| Some((d?, id?))),
        );
    }
    // lance keeps the nearest `k * refine_factor`, ties by row id.
    candidates.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    candidates.truncate(vector.k * vector.refine_factor.unwrap_or(1) as usize);
    let addresses = match get_row_id_index(dataset).await? {
        Some(stable) => candidates
            .iter()
            .map(|(_, id)| stable.get(*id).ok().flatten())
            .collect::<Vec<_>>(),
        None => candidates
            .iter()
            .map(|(_, id)| Some(RowAddress::from(*id)))
            .collect(),
    };
    Ok(Some(
        candidates
            .into_iter()
            .zip(addresses)
            .map(|((d, id), address)| (d, id, address))
            .collect(),
    ))
}

/// What keeps deleted rows out of the candidates: nothing when no covered fragment has lost
/// a row since the index was built (lance's own prefilter is then empty too), else lance's.
fn prefilter_for(dataset: &Dataset, plan: &Plan<'_>) -> Arc<dyn PreFilter> {
    let present: HashMap<u64, bool> = dataset
        .fragments()
        .iter()
        .map(|f| (f.id, f.deletion_file.is_some()))
        .collect();
    let intact = plan
        .covered
        .iter()
        .all(|f| present.get(&(f as u64)) == Some(&false));
    if intact {
        return Arc::new(NoFilter);
    }
    Arc::new(DatasetPreFilter::new(
        Arc::new(dataset.clone()),
        std::slice::from_ref(&plan.index),
        None,
    ))
}

/// Where each fragment's rows sit among the cached segments.
struct Positions(HashMap<u32, Vec<(usize, usize, usize)>>);

impl Positions {
    fn of(cached: &CachedColumns) -> Positions {
        let mut by_fragment: HashMap<u32, Vec<(usize, usize, usize)>> = HashMap::new();
        for (s, segment) in cached.segments.iter().enumerate() {
            by_fragment
                .entry(segment.fragment as u32)
                .or_default()
                .push((segment.start, segment.rows, s));
        }
        Positions(by_fragment)
    }

    /// (segment, row) of the physical row at `address`.
    fn find(&self, address: RowAddress) -> Option<(usize, usize)> {
        let offset = address.row_offset() as usize;
        self.0
            .get(&address.fragment_id())?
            .iter()
            .find(|(start, rows, _)| (*start..start + rows).contains(&offset))
            .map(|(start, _, s)| (*s, offset - start))
    }
}

/// The row ids of the rows of `segments`, one list per segment.
async fn row_ids_of(
    dataset: &Dataset,
    cached: &CachedColumns,
    segments: &[usize],
) -> Result<Vec<Vec<u64>>> {
    let stable = dataset.manifest().uses_stable_row_ids();
    let mut out = Vec::with_capacity(segments.len());
    for s in segments {
        let segment = &cached.segments[*s];
        let ids: Vec<u64> = if stable {
            let fragment = dataset
                .fragments()
                .iter()
                .find(|f| f.id == segment.fragment)
                .cloned();
            match fragment {
                Some(fragment) => {
                    let sequence =
                        lance::dataset::rowids::load_row_id_sequence(dataset, &fragment).await?;
                    sequence
                        .iter()
                        .skip(segment.start)
                        .take(segment.rows)
                        .collect()
                }
                None => Vec::new(),
            }
        } else {
            (0..segment.rows)
                .map(|r| {
                    u64::from(RowAddress::new_from_parts(
                        segment.fragment as u32,
                        (segment.start + r) as u32,
                    ))
                })
                .collect()
        };
        if ids.len() != segment.rows {
            return Err(crate::error::Error::internal(format!(
                "fragment {} has {} row ids for {} rows",
                segment.fragment,
                ids.len(),
                segment.rows
            )));
        }
        out.push(ids);
    }
    Ok(out)
}
