//! Reads: filtered scans and nearest-neighbour search over the current view.

use std::sync::Arc;

use arrow_array::{Float32Array, RecordBatch};
use arrow_schema::DataType;
use futures::{FutureExt, StreamExt, TryStreamExt};
use lance::dataset::scanner::{DatasetRecordBatchStream, Scanner};
use lance::Dataset;
use lance_index::scalar::FullTextSearchQuery;
use lance_linalg::distance::DistanceType;

use crate::cached_reads::MemoryRead;
use crate::error::{first_line, Error, ErrorCode, Result};
use crate::sql_text::check_single_expression;
use crate::table::TableHandle;

/// Default number of neighbours, as in LanceDB.
pub const DEFAULT_TOP_K: usize = 10;

#[derive(Debug, Clone, Default)]
pub struct QueryRequest {
    pub filter: Option<String>,
    pub columns: Option<Vec<String>>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    pub with_row_id: bool,
    pub vector: Option<VectorRequest>,
    pub full_text: Option<FullTextRequest>,
}

#[derive(Debug, Clone, Default)]
pub struct VectorRequest {
    /// The vector column; inferred when the table has exactly one.
    pub column: Option<String>,
    pub values: Vec<f32>,
    pub k: usize,
    pub distance_type: Option<DistanceType>,
    /// IVF partitions to search.
    pub nprobes: Option<usize>,
    /// Re-rank `k * refine_factor` candidates with exact distances.
    pub refine_factor: Option<u32>,
    /// HNSW search breadth.
    pub ef: Option<usize>,
    /// Filter after the search instead of before (faster, may return fewer than k rows).
    pub postfilter: bool,
    /// Exact search even when an index exists.
    pub bypass_index: bool,
    /// Keep results with `lower <= _distance < upper`.
    pub distance_range: Option<(Option<f32>, Option<f32>)>,
}

/// A full-text search over columns with an inverted (FTS) index.
#[derive(Debug, Clone, Default)]
pub struct FullTextRequest {
    pub query: String,
    /// Columns to search; all FTS-indexed columns when `None`.
    pub columns: Option<Vec<String>>,
}

/// A stream of result batches that owns what it reads from.
pub type BatchStream = futures::stream::BoxStream<'static, Result<RecordBatch>>;

/// Parses `l2`, `cosine` and `dot` (any case).
pub fn parse_distance_type(name: &str) -> Result<DistanceType> {
    match name.to_ascii_lowercase().as_str() {
        "l2" | "euclidean" => Ok(DistanceType::L2),
        "cosine" => Ok(DistanceType::Cosine),
        "dot" => Ok(DistanceType::Dot),
        other => Err(Error::invalid_argument(format!(
            "unknown distance type {other:?}; use \"l2\", \"cosine\" or \"dot\""
        ))),
    }
}

impl TableHandle {
    pub async fn count_rows(&self, filter: Option<&str>) -> Result<u64> {
        match self.count_rows_inner(filter).await {
            Err(err) => Err(self.explain_damage(err).await),
            ok => ok,
        }
    }

    async fn count_rows_inner(&self, filter: Option<&str>) -> Result<u64> {
        let dataset = self.view().await?;
        let count = match filter {
            Some(filter) => {
                check_single_expression(filter, "the filter")?;
                if let Some(count) = crate::cached_reads::count(&dataset, filter).await? {
                    return Ok(count);
                }
                dataset
                    .count_rows(Some(filter.to_string()))
                    .await
                    .map_err(|e| Error::from_sql(e, filter, "the filter"))?
            }
            None => dataset.count_rows(None).await?,
        };
        Ok(count as u64)
    }

    /// `count_rows(Some(filter))` on the calling thread when memory answers it at once (no
    /// I/O, no cache fill, a bounded amount of work); `None` when it must go through
    /// `count_rows`, which also reports every error.
    pub fn count_rows_at_once(&self, filter: &str) -> Option<u64> {
        let dataset = self.view_at_once(Some(filter))?;
        if !crate::cached_reads::counts_at_once(&dataset, filter) {
            return None;
        }
        crate::cached_reads::count(&dataset, filter)
            .now_or_never()?
            .ok()?
    }

    /// `query(request)` on the calling thread when memory answers it at once (as for
    /// `count_rows_at_once`); `None` when it must go through `query`.
    pub fn query_at_once(&self, request: &QueryRequest) -> Option<Vec<RecordBatch>> {
        let dataset = self.view_at_once(request.filter.as_deref())?;
        if !crate::cached_reads::answers_at_once(&dataset, request) {
            return None;
        }
        crate::cached_reads::query(&dataset, request, true)
            .now_or_never()?
            .ok()?
    }

    /// The view a read at once works on: none when the view needs I/O or `filter` is not one
    /// expression (the async read reports that).
    fn view_at_once(&self, filter: Option<&str>) -> Option<Arc<Dataset>> {
        if let Some(filter) = filter {
            check_single_expression(filter, "the filter").ok()?;
        }
        self.view_now()
    }

    pub async fn query(&self, request: &QueryRequest) -> Result<Vec<RecordBatch>> {
        let result = async {
            let dataset = self.view().await?;
            if let Some(filter) = &request.filter {
                check_single_expression(filter, "the filter")?;
            }
            if let Some(batches) = crate::cached_reads::query(&dataset, request, false).await? {
                return Ok(batches);
            }
            stream_of(&dataset, request, ReadAhead::Full)
                .await?
                .try_collect()
                .await
        }
        .await;
        match result {
            Err(err) => Err(self.explain_damage(err).await),
            ok => ok,
        }
    }

    /// The rows of `request` batch by batch: plain reads stream from lance without filling
    /// the column cache.
    pub async fn query_stream(&self, request: &QueryRequest) -> Result<BatchStream> {
        let dataset = self.view().await?;
        stream_of(&dataset, request, ReadAhead::Bounded).await
    }

    /// How lance would run `request`: the physical plan, for checking index use.
    pub async fn explain_plan(&self, request: &QueryRequest, verbose: bool) -> Result<String> {
        let dataset = self.view().await?;
        let scanner = configure(&dataset, request).await?;
        let plan = scanner.explain_plan(verbose).await?;
        if let Some(index) = crate::indexed_knn::answers(&dataset, request).await {
            return Ok(format!(
                "PalimpsestIndexedSearch: index {index} finds the candidates as lance's plan below does; their exact distances, rows the index does not cover and the result rows come from decoded columns in memory\n{plan}"
            ));
        }
        match crate::cached_reads::answers_from_memory(&dataset, request) {
            Some(MemoryRead::Columns) => Ok(format!(
                "PalimpsestColumnCache: answered from decoded columns in memory; lance's plan when they are not:\n{plan}"
            )),
            Some(MemoryRead::Grouped(column)) => Ok(format!(
                "PalimpsestColumnCache: answered from a copy of the decoded columns in memory grouped by `{column}`; lance's plan when they are not:\n{plan}"
            )),
            None => Ok(plan),
        }
    }
}

/// How far ahead of the consumer lance may read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadAhead {
    /// lance's default (2 GB of I/O in flight): the whole result is collected anyway.
    Full,
    /// A streaming read, consumed batch by batch: a smaller window keeps its memory down
    /// (streaming 1.6 GB peaked at 711 MB with the default, 461 MB with 128 MB, equally
    /// fast). `LANCE_DEFAULT_IO_BUFFER_SIZE`, when set, still wins.
    Bounded,
}

const STREAM_IO_BUFFER_BYTES: u64 = 128 << 20;

async fn stream_of(
    dataset: &Dataset,
    request: &QueryRequest,
    read_ahead: ReadAhead,
) -> Result<BatchStream> {
    let one = |batch: RecordBatch| futures::stream::once(async { Ok(batch) }).boxed();
    if request.vector.is_some() && request.full_text.is_some() {
        return Ok(one(crate::hybrid::hybrid_search(dataset, request).await?));
    }
    if crate::exact_knn::applies(dataset, request).await? {
        if let Some(batch) = crate::exact_knn::search(dataset, request).await? {
            return Ok(one(batch));
        }
    } else if let Some(batch) = crate::indexed_knn::search(dataset, request).await? {
        return Ok(one(batch));
    }
    let stream = scan(dataset, request, read_ahead).await?;
    Ok(stream.map(|batch| batch.map_err(Error::from)).boxed())
}

pub(crate) async fn scan(
    dataset: &Dataset,
    request: &QueryRequest,
    read_ahead: ReadAhead,
) -> Result<DatasetRecordBatchStream> {
    let mut scanner = configure(dataset, request).await?;
    if read_ahead == ReadAhead::Bounded
        && std::env::var_os("LANCE_DEFAULT_IO_BUFFER_SIZE").is_none()
    {
        scanner.io_buffer_size(STREAM_IO_BUFFER_BYTES);
    }
    Ok(scanner.try_into_stream().await?)
}

/// A scanner set up for `request`: projection, filter, vector or full-text search, limits.
async fn configure(dataset: &Dataset, request: &QueryRequest) -> Result<Scanner> {
    let mut scanner = dataset.scan();
    if let Some(columns) = &request.columns {
        for column in columns {
            if dataset.schema().field(column).is_none() {
                return Err(Error::new(
                    ErrorCode::ColumnNotFound,
                    format!("select() names column `{column}`, which the table does not have"),
                ));
            }
        }
        scanner.project(columns)?;
    }
    if let Some(filter) = &request.filter {
        check_single_expression(filter, "the filter")?;
        scanner
            .filter(filter)
            .map_err(|e| Error::from_sql(e, filter, "the filter"))?;
        // Planning resolves the filter's columns; without it, a bad filter surfaces only as
        // a failed batch in the middle of the stream.
        scanner
            .explain_plan(false)
            .await
            .map_err(|e| Error::from_sql(e, filter, "the filter"))?;
    }
    let to_i64 = |n: Option<u64>| n.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    if let Some(vector) = &request.vector {
        let column = vector_column(dataset, vector)?;
        let query = Float32Array::from(vector.values.clone());
        // Filter first by default, as LanceDB does: a filtered search still returns k rows
        // when k match.
        scanner.prefilter(!vector.postfilter);
        scanner.nearest(&column, &query, vector.k)?;
        if let Some(distance) = vector.distance_type {
            scanner.distance_metric(distance);
        }
        if let Some(n) = vector.nprobes {
            scanner.nprobes(n);
        }
        if let Some(factor) = vector.refine_factor {
            scanner.refine(factor);
        }
        if let Some(ef) = vector.ef {
            scanner.ef(ef);
        }
        if vector.bypass_index {
            scanner.use_index(false);
        }
        if let Some((lower, upper)) = vector.distance_range {
            scanner.distance_range(lower, upper);
        }
    } else if let Some(text) = &request.full_text {
        let mut query = FullTextSearchQuery::new(text.query.clone());
        if let Some(columns) = &text.columns {
            query = query
                .with_columns(columns)
                .map_err(|e| Error::invalid_argument(first_line(&e.to_string())))?;
        }
        scanner.full_text_search(query).map_err(full_text_error)?;
    }
    if request.limit.is_some() || request.offset.is_some() {
        scanner.limit(to_i64(request.limit), to_i64(request.offset))?;
    }
    if request.with_row_id {
        scanner.with_row_id();
    }
    Ok(scanner)
}

fn full_text_error(err: lance::Error) -> Error {
    let text = first_line(&err.to_string());
    if text.to_lowercase().contains("index") {
        return Error::invalid_argument(format!(
            "full-text search needs an FTS index on the searched column(s); create one with createIndex(column, {{ config: Index.fts() }}) ({text})"
        ))
        .with_source(err);
    }
    Error::from(err)
}

/// Resolves and checks the column a vector query searches.
pub(crate) fn vector_column(dataset: &Dataset, vector: &VectorRequest) -> Result<String> {
    if vector.values.is_empty() {
        return Err(Error::invalid_argument("the query vector is empty"));
    }
    if vector.k == 0 {
        return Err(Error::invalid_argument(
            "a vector search needs a limit of at least 1",
        ));
    }
    let vector_columns: Vec<(String, i32)> = dataset
        .schema()
        .fields
        .iter()
        .filter_map(|f| match f.data_type() {
            DataType::FixedSizeList(child, dim) if child.data_type().is_floating() => {
                Some((f.name.clone(), dim))
            }
            _ => None,
        })
        .collect();
    let (name, dim) = match &vector.column {
        Some(name) => match vector_columns.iter().find(|(n, _)| n == name) {
            Some(found) => found.clone(),
            None if dataset.schema().field(name).is_some() => {
                return Err(Error::invalid_argument(format!(
                    "column `{name}` is not a vector column (a fixed-size list of floats)"
                )))
            }
            None => {
                return Err(Error::new(
                    ErrorCode::ColumnNotFound,
                    format!("vector column `{name}` does not exist"),
                ))
            }
        },
        None => match vector_columns.as_slice() {
            [only] => only.clone(),
            [] => {
                return Err(Error::invalid_argument(
                    "the table has no vector column (a fixed-size list of floats) to search",
                ))
            }
            many => {
                let names: Vec<&str> = many.iter().map(|(n, _)| n.as_str()).collect();
                return Err(Error::invalid_argument(format!(
                    "the table has several vector columns ({}); name one with .column()",
                    names.join(", ")
                )));
            }
        },
    };
    if vector.values.len() != dim as usize {
        return Err(Error::invalid_argument(format!(
            "the query vector has {} values but column `{name}` holds vectors of {dim}",
            vector.values.len()
        )));
    }
    Ok(name)
}
