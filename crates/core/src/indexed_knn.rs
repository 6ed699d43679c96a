//! Nearest-neighbour search through a vector index (IVF_PQ, IVF_FLAT, IVF_HNSW_SQ, ...) on a
//! table whose columns are already decoded in memory.
//!
//! lance's index finds the candidates exactly as lance's own plan does (`index_probe`); what
//! lance's plan then does through DataFusion, re-reading the data files, is done from memory:
//! the filter that limits which rows the index may return, the candidates' exact distances
//! when the query refines, an exact search of the rows the index does not cover, and the
//! result rows. Only queries whose answer this provably matches are taken: a fixed `nprobes`,
//! no offset or distance range, a filter applied first (the default), one index segment, no
//! data overlays. Everything else goes through lance.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow_array::{Array, RecordBatch, UInt64Array};
use arrow_buffer::BooleanBuffer;
use lance::dataset::rowids::get_row_id_index;
use lance::index::{DatasetIndexExt, DatasetIndexInternalExt};
use lance::Dataset;
use lance_core::utils::address::RowAddress;
use lance_index::metrics::NoOpMetricsCollector;
use lance_index::vector::VectorIndex;
use lance_linalg::distance::DistanceType;
use lance_select::RowAddrTreeMap;
use lance_table::format::IndexMetadata;
use roaring::RoaringBitmap;

use crate::column_cache::{self, CachedColumns, Keep, ROW_ID};
use crate::error::{Error, Result};
use crate::exact_knn::{
    distance_to, float32_vector_field, rows_with_distances, top_k, vector_parts,
};
use crate::index_probe::{self, Allowed, Probe};
use crate::memory_filter::{live_matches, plan_filter, MemoryFilter};
use crate::query::{vector_column, QueryRequest, VectorRequest};

/// What an indexed search from memory works with.
struct Plan<'a> {
    vector: &'a VectorRequest,
    column: String,
    index: IndexMetadata,
    /// The fragments the index covers.
    covered: RoaringBitmap,
    filter: Option<Arc<MemoryFilter>>,
    output: Vec<String>,
    /// Every column read: the output, the vector column, the filter's columns and `_rowid`.
    needed: Vec<String>,
}

/// The `k` nearest rows as lance's indexed search finds them, with the requested columns and
/// `_distance`; `None` when the request is not one this module answers, or its columns are
/// not all in memory yet (lance then searches; an indexed search fills no column but the row
/// ids, which come from the manifest).
pub(crate) async fn search(
    dataset: &Dataset,
    request: &QueryRequest,
) -> Result<Option<RecordBatch>> {
    let Some((plan, index, metric)) = ready(dataset, request).await? else {
        return Ok(None);
    };
    let Some(cached) = column_cache::load(dataset, &plan.needed, Keep::Now).await? else {
        return Ok(None);
    };
    let at = cached.schema.index_of(&plan.column)?;
    let row_ids = cached.schema.index_of(ROW_ID)?;
    let segments: Vec<usize> = (0..cached.segments.len()).collect();
    // The rows that may be returned: the live ones, or the filter's live matches.
    let matching: Option<Vec<BooleanBuffer>> = match &plan.filter {
        Some(filter) => Some(
            segments
                .iter()
                .map(|s| live_matches(filter, &cached, *s))
                .collect::<Result<_>>()?,
        ),
        None => None,
    };
    let is_covered = |s: &usize| plan.covered.contains(cached.segments[*s].fragment as u32);
    let allowed = match &matching {
        None => Allowed::Live,
        Some(matching) => {
            let covered: Vec<usize> = segments.iter().copied().filter(is_covered).collect();
            Allowed::Only(ids_of_rows(&cached, row_ids, &covered, matching)?)
        }
    };
    let may_return = |s: usize, r: usize| match &matching {
        Some(matching) => matching[s].value(r),
        None => cached.segments[s].live.as_ref().is_none_or(|l| l.value(r)),
    };
    let probe = Probe {
        dataset,
        index: &plan.index,
        column: &plan.column,
        vector: plan.vector,
        metric,
    };
    let Some(candidates) = index_probe::candidates(&probe, index, allowed).await? else {
        return Ok(None);
    };
    // Rows the index does not cover are searched exactly; lance then re-scores the index's
    // candidates exactly too, so every distance compared is exact.
    let uncovered: Vec<usize> = segments
        .iter()
        .copied()
        .filter(|s| !is_covered(s))
        .collect();
    let exact = plan.vector.refine_factor.is_some() || !uncovered.is_empty();
    let query = &plan.vector.values;
    // The vectors whose exact distances are needed: the candidates', when they are.
    let parts = match exact {
        true => vector_parts(&cached, at, &segments, metric, false, None),
        false => Vec::new(),
    };
    let addresses = addresses_of(dataset, &candidates).await?;
    let mut found: Vec<(f32, u64, (usize, usize))> = Vec::with_capacity(candidates.len());
    for ((distance, row_id), address) in candidates.into_iter().zip(addresses) {
        // A candidate whose row is gone, moved out of the covered fragments, or filtered out
        // is not returned by lance either (its prefilter and segment mask drop it).
        let Some(address) = address else { continue };
        if !plan.covered.contains(address.fragment_id()) {
            continue;
        }
        let Some((s, r)) =
            cached.locate(address.fragment_id() as u64, address.row_offset() as usize)
        else {
            continue;
        };
        if !may_return(s, r) {
            continue;
        }
        let distance = match exact {
            true => match distance_to(&parts[s], r, query, metric) {
                Some(d) => d,
                None => continue,
            },
            false => distance,
        };
        found.push((distance, row_id, (s, r)));
    }
    if !uncovered.is_empty() {
        // Ties go to the smaller row id, as in lance's plan.
        let ids: Vec<&[u64]> = uncovered
            .iter()
            .map(|s| Ok(row_id_values(&cached, row_ids, *s)?.values().as_ref()))
            .collect::<Result<_>>()?;
        let uncovered_parts: Vec<_> =
            vector_parts(&cached, at, &uncovered, metric, true, matching.as_deref())
                .into_iter()
                .zip(&ids)
                .map(|(part, ids)| part.with_row_ids(ids))
                .collect();
        for (d, p, r) in top_k(&uncovered_parts, query, plan.vector.k, metric) {
            found.push((d, ids[p][r], (uncovered[p], r)));
        }
    }
    // lance's final order: distance, then row id.
    found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    found.truncate(plan.vector.k);
    ANSWERED.fetch_add(1, Ordering::Relaxed);
    let hits: Vec<(usize, usize)> = found.iter().map(|(_, _, hit)| *hit).collect();
    let distances: Vec<f32> = found.iter().map(|(d, _, _)| *d).collect();
    rows_with_distances(&cached, &plan.output, &hits, distances).map(Some)
}

/// Indexed searches answered from memory so far in this process.
static ANSWERED: AtomicU64 = AtomicU64::new(0);

/// How many indexed vector searches this process answered from memory (for monitoring, and
/// for tests that must know which path answered).
pub fn indexed_searches_from_memory() -> u64 {
    ANSWERED.load(Ordering::Relaxed)
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
    // lance keeps the index open in its session's cache.
    let Ok(index) = dataset
        .open_vector_index(&plan.column, &plan.index.uuid, &NoOpMetricsCollector)
        .await
    else {
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
    // Adaptive probing (no fixed `nprobes`), filtering after the search, and options that
    // change which rows qualify stay with lance.
    let fixed_probes = vector.nprobes.is_some_and(|n| n > 0);
    if column_cache::budget_bytes() == 0
        || !fixed_probes
        || (request.filter.is_some() && vector.postfilter)
        || request.full_text.is_some()
        || request.offset.is_some()
        || request.limit.is_some_and(|l| l as usize != vector.k)
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
    // An index that covers none of the table's fragments any more is not used by lance.
    if !dataset
        .fragments()
        .iter()
        .any(|f| covered.contains(f.id as u32))
    {
        return Ok(None);
    }
    let filter = match &request.filter {
        Some(sql) => match plan_filter(dataset, sql) {
            Some(filter) => Some(filter),
            None => return Ok(None),
        },
        None => None,
    };
    let Some(output) = crate::cached_reads::output_columns(dataset, request) else {
        return Ok(None);
    };
    let mut needed = output.clone();
    let filter_columns = filter.as_deref().map_or(&[][..], |f| f.columns.as_slice());
    for name in std::iter::once(&column).chain(filter_columns) {
        if !needed.contains(name) {
            needed.push(name.clone());
        }
    }
    // Only from memory already there: an indexed search reads a few rows, so decoding whole
    // columns for it would cost far more than it saves. Row ids come from the manifest.
    if !column_cache::all_cached(dataset, &needed) {
        return Ok(None);
    }
    if !needed.iter().any(|n| n == ROW_ID) {
        needed.push(ROW_ID.to_string());
    }
    Ok(Some(Plan {
        vector,
        column,
        index: (*index).clone(),
        covered,
        filter,
        output,
        needed,
    }))
}

/// The current address of each candidate row id: `None` for a row no longer in the table.
async fn addresses_of(
    dataset: &Dataset,
    candidates: &[(f32, u64)],
) -> Result<Vec<Option<RowAddress>>> {
    Ok(match get_row_id_index(dataset).await? {
        Some(stable) => candidates
            .iter()
            .map(|(_, id)| stable.get(*id).ok().flatten())
            .collect(),
        // Without stable row ids, a row id is the row's address.
        None => candidates
            .iter()
            .map(|(_, id)| Some(RowAddress::from(*id)))
            .collect(),
    })
}

/// The row ids (column `row_ids` of `cached`) of the rows `rows` marks in `segments`.
fn ids_of_rows(
    cached: &CachedColumns,
    row_ids: usize,
    segments: &[usize],
    rows: &[BooleanBuffer],
) -> Result<RowAddrTreeMap> {
    let mut ids = RowAddrTreeMap::new();
    for s in segments {
        let values = row_id_values(cached, row_ids, *s)?;
        for r in rows[*s].set_indices() {
            ids.insert(values.value(r));
        }
    }
    Ok(ids)
}

fn row_id_values(cached: &CachedColumns, row_ids: usize, s: usize) -> Result<&UInt64Array> {
    cached.segments[s].columns[row_ids]
        .values
        .as_any()
        .downcast_ref::<UInt64Array>()
        .ok_or_else(|| Error::internal("cached row ids are not UInt64"))
}
