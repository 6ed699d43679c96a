//! Asks a lance vector index for a query's candidates the way lance's own plan does: the same
//! query, the same probed partitions, rows kept out by the same rules. Only the partition
//! searches run differently: side by side on rayon's threads, where lance's plan runs them in
//! turn on its CPU pool with a thread hop each.

use std::sync::Arc;

use arrow_array::{Array, Float32Array, RecordBatch, UInt64Array};
use async_trait::async_trait;
use futures::TryStreamExt;
use lance::index::prefilter::DatasetPreFilter;
use lance::Dataset;
use lance_index::metrics::NoOpMetricsCollector;
use lance_index::prefilter::{NoFilter, PreFilter};
use lance_index::vector::{Query, VectorIndex};
use lance_linalg::distance::DistanceType;
use lance_select::{RowAddrMask, RowAddrTreeMap};
use lance_table::format::IndexMetadata;
use rayon::prelude::*;

use crate::error::Result;
use crate::query::VectorRequest;

/// One indexed search: the index, the searched column and the request's options.
pub(crate) struct Probe<'a> {
    pub dataset: &'a Dataset,
    pub index: &'a IndexMetadata,
    pub column: &'a str,
    pub vector: &'a VectorRequest,
    pub metric: DistanceType,
}

/// Which rows the index may return.
pub(crate) enum Allowed {
    /// Every row still live.
    Live,
    /// Only these row ids: a filter's live matches in the fragments the index covers.
    Only(RowAddrTreeMap),
}

/// (distance, row id) of the index's `k * refine_factor` nearest candidates in the `nprobes`
/// nearest partitions, nearest first (ties by row id), as lance's plan finds them; `None` when
/// the index's results are not in the shape lance's plan expects.
pub(crate) async fn candidates(
    probe: &Probe<'_>,
    index: Arc<dyn VectorIndex>,
    allowed: Allowed,
) -> Result<Option<Vec<(f32, u64)>>> {
    let vector = probe.vector;
    let mut key: Arc<dyn Array> = Arc::new(Float32Array::from(vector.values.clone()));
    if probe.metric == DistanceType::Cosine {
        // lance normalises a cosine query before it ranks partitions.
        key = lance_linalg::kernels::normalize_arrow(key.as_ref())?.0;
    }
    let nprobes = vector.nprobes.unwrap_or(1);
    let query = Query {
        column: probe.column.to_string(),
        key,
        k: vector.k,
        lower_bound: None,
        upper_bound: None,
        minimum_nprobes: nprobes,
        maximum_nprobes: Some(nprobes),
        search_effort: 0.5,
        ef: vector.ef,
        refine_factor: vector.refine_factor,
        metric_type: Some(probe.metric),
        use_index: true,
        query_parallelism: 0,
        dist_q_c: 0.0,
        approx_mode: Default::default(),
    };
    let (partitions, centroid_distances) = index.find_partitions(&query)?;
    let probes = nprobes.min(partitions.len());
    let prefilter = prefilter_for(probe, allowed);
    // An index that keeps one top-k heap over all partitions (IVF_FLAT, IVF_PQ: lance asks
    // them for one search at a time) is searched as lance's plan does, through that heap:
    // which of equally distant rows it keeps depends on the order it meets them. The others
    // (HNSW) return each partition's nearest, which lance's plan merges by distance and row
    // id as below; their searches run side by side.
    let one_heap = index.auto_query_parallelism(2) <= 1;
    let batches = if !one_heap && index.supports_prepared_partition_search() {
        // Each partition's search is prepared here (its data is in lance's cache), then the
        // searches, pure CPU work, run side by side.
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
    let mut found: Vec<(f32, u64)> = Vec::new();
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
        found.extend(
            distances
                .iter()
                .zip(row_ids.iter())
                .filter_map(|(d, id)| Some((d?, id?))),
        );
    }
    // lance keeps the nearest `k * refine_factor`, ties by row id.
    found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    found.truncate(vector.k * vector.refine_factor.unwrap_or(1) as usize);
    Ok(Some(found))
}

/// What keeps rows out of the candidates. A filter's matches are exactly the rows allowed.
/// Without a filter: nothing when the index covers exactly the table's fragments and none of
/// them has lost a row since (lance's own prefilter then blocks nothing either), else lance's
/// prefilter, which also blocks what the index holds of fragments it no longer covers.
fn prefilter_for(probe: &Probe<'_>, allowed: Allowed) -> Arc<dyn PreFilter> {
    if let Allowed::Only(rows) = allowed {
        return Arc::new(MatchingRows(Arc::new(RowAddrMask::from_allowed(rows))));
    }
    let dataset = probe.dataset;
    let intact = probe.index.fragment_bitmap.as_ref().is_some_and(|covered| {
        let fragments = dataset.fragments();
        covered.len() == fragments.len() as u64
            && fragments
                .iter()
                .all(|f| f.deletion_file.is_none() && covered.contains(f.id as u32))
    });
    if intact {
        return Arc::new(NoFilter);
    }
    Arc::new(DatasetPreFilter::new(
        Arc::new(dataset.clone()),
        std::slice::from_ref(probe.index),
        None,
    ))
}

/// A prefilter that allows exactly the rows of a mask, known before the search starts.
struct MatchingRows(Arc<RowAddrMask>);

#[async_trait]
impl PreFilter for MatchingRows {
    async fn wait_for_ready(&self) -> lance::Result<()> {
        Ok(())
    }

    fn is_empty(&self) -> bool {
        false
    }

    fn mask(&self) -> Arc<RowAddrMask> {
        self.0.clone()
    }

    fn filter_row_ids<'a>(&self, row_ids: Box<dyn Iterator<Item = &'a u64> + 'a>) -> Vec<u64> {
        self.0.selected_indices(row_ids)
    }
}
