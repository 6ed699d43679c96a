//! Reads: filtered scans and nearest-neighbour search over the current view.

use arrow_array::{Float32Array, RecordBatch};
use arrow_schema::DataType;
use futures::{StreamExt, TryStreamExt};
use lance::dataset::scanner::DatasetRecordBatchStream;
use lance::Dataset;
use lance_linalg::distance::DistanceType;

use crate::error::{Error, ErrorCode, Result};
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
}

#[derive(Debug, Clone)]
pub struct VectorRequest {
    /// The vector column; inferred when the table has exactly one.
    pub column: Option<String>,
    pub values: Vec<f32>,
    pub k: usize,
    pub distance_type: Option<DistanceType>,
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
        let dataset = self.view().await?;
        let count = match filter {
            Some(filter) => {
                check_single_expression(filter, "the filter")?;
                dataset
                    .count_rows(Some(filter.to_string()))
                    .await
                    .map_err(|e| Error::from_sql(e, filter, "the filter"))?
            }
            None => dataset.count_rows(None).await?,
        };
        Ok(count as u64)
    }

    pub async fn query(&self, request: &QueryRequest) -> Result<Vec<RecordBatch>> {
        self.query_stream(request).await?.try_collect().await
    }

    pub async fn query_stream(&self, request: &QueryRequest) -> Result<BatchStream> {
        let dataset = self.view().await?;
        let stream = scan(&dataset, request).await?;
        Ok(stream.map(|batch| batch.map_err(Error::from)).boxed())
    }
}

async fn scan(dataset: &Dataset, request: &QueryRequest) -> Result<DatasetRecordBatchStream> {
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
        // Filter first, as LanceDB does: a filtered search still returns k rows when k match.
        scanner.prefilter(true);
        scanner.nearest(&column, &query, vector.k)?;
        if let Some(distance) = vector.distance_type {
            scanner.distance_metric(distance);
        }
        if request.limit.is_some() || request.offset.is_some() {
            scanner.limit(to_i64(request.limit), to_i64(request.offset))?;
        }
    } else if request.limit.is_some() || request.offset.is_some() {
        scanner.limit(to_i64(request.limit), to_i64(request.offset))?;
    }
    if request.with_row_id {
        scanner.with_row_id();
    }
    Ok(scanner.try_into_stream().await?)
}

/// Resolves and checks the column a vector query searches.
fn vector_column(dataset: &Dataset, vector: &VectorRequest) -> Result<String> {
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
