//! Indexes: vector (IVF_FLAT, IVF_PQ, IVF_HNSW_SQ), scalar (BTREE, BITMAP, LABEL_LIST) and
//! full-text (inverted). Creating or dropping one is a new version, like any other change.

use arrow_schema::DataType;
use lance::index::vector::VectorIndexParams;
use lance::index::DatasetIndexExt;
use lance_index::scalar::{BuiltinIndexType, InvertedIndexParams, ScalarIndexParams};
use lance_index::vector::hnsw::builder::HnswBuildParams;
use lance_index::vector::ivf::IvfBuildParams;
use lance_index::vector::sq::builder::SQBuildParams;
use lance_index::{IndexParams, IndexType};
use lance_linalg::distance::DistanceType;

use crate::commit_hook::with_commit_properties;
use crate::commit_note::{CommitNote, OperationRecord};
use crate::error::{Error, ErrorCode, Result};
use crate::table::TableHandle;
use crate::writes::WriteResult;

/// The kind of index and its build settings. `None` settings take defaults derived from the
/// data, as LanceDB does.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexSpec {
    IvfFlat {
        num_partitions: Option<usize>,
        distance_type: Option<DistanceType>,
    },
    IvfPq {
        num_partitions: Option<usize>,
        num_sub_vectors: Option<usize>,
        num_bits: Option<u8>,
        max_iterations: Option<usize>,
        distance_type: Option<DistanceType>,
    },
    IvfHnswSq {
        num_partitions: Option<usize>,
        m: Option<usize>,
        ef_construction: Option<usize>,
        distance_type: Option<DistanceType>,
    },
    BTree,
    Bitmap,
    LabelList,
    FullText {
        with_position: bool,
        base_tokenizer: Option<String>,
        language: Option<String>,
        lower_case: Option<bool>,
        stem: Option<bool>,
        remove_stop_words: Option<bool>,
        ascii_folding: Option<bool>,
    },
}

impl IndexSpec {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::IvfFlat { .. } => "IVF_FLAT",
            Self::IvfPq { .. } => "IVF_PQ",
            Self::IvfHnswSq { .. } => "IVF_HNSW_SQ",
            Self::BTree => "BTREE",
            Self::Bitmap => "BITMAP",
            Self::LabelList => "LABEL_LIST",
            Self::FullText { .. } => "FTS",
        }
    }

    fn is_vector(&self) -> bool {
        matches!(
            self,
            Self::IvfFlat { .. } | Self::IvfPq { .. } | Self::IvfHnswSq { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexInfo {
    pub name: String,
    /// lance's name for the index type (e.g. `IVF_PQ`, `BTree`, `Inverted`).
    pub index_type: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexStats {
    pub name: String,
    pub index_type: String,
    pub num_indexed_rows: u64,
    pub num_unindexed_rows: u64,
    /// lance's full statistics, as JSON.
    pub details: String,
}

impl TableHandle {
    /// Builds an index on `column` (named `<column>_idx` unless `name` is given) as one new
    /// version. An existing index of that name is rebuilt only with `replace`.
    pub async fn create_index(
        &self,
        column: &str,
        spec: &IndexSpec,
        name: Option<&str>,
        replace: bool,
        note: &CommitNote,
    ) -> Result<WriteResult> {
        note.validate()?;
        let _guard = self.write_lock.lock().await;
        let current = self.writable().await?;
        let Some(field) = current.schema().field(column) else {
            return Err(Error::new(
                ErrorCode::ColumnNotFound,
                format!("createIndex() names column `{column}`, which the table does not have"),
            ));
        };
        let data_type = field.data_type();
        check_column_fits(column, &data_type, spec)?;
        let name = name.map_or_else(|| format!("{column}_idx"), str::to_string);
        let exists = current
            .load_indices()
            .await?
            .iter()
            .any(|index| index.name == name);
        if exists && !replace {
            return Err(Error::invalid_argument(format!(
                "index `{name}` already exists; pass replace: true to rebuild it"
            )));
        }
        let rows = current.count_rows(None).await?;
        let (index_type, params) = lance_params(spec, &data_type, rows)?;
        let record = OperationRecord::new("create_index")
            .param("column", column)
            .param("index", name.clone())
            .param("index_type", spec.type_name());
        let mut dataset = current.as_ref().clone();
        with_commit_properties(
            record.properties(note, &WriteResult::default()),
            dataset.create_index(&[column], index_type, Some(name), params.as_ref(), true),
        )
        .await
        .map_err(|e| index_error(e, column, spec))?;
        Ok(WriteResult {
            version: self.advance(dataset).await,
            ..Default::default()
        })
    }

    pub async fn list_indices(&self) -> Result<Vec<IndexInfo>> {
        let dataset = self.view().await?;
        let descriptions = dataset.describe_indices(None).await?;
        let schema = dataset.schema();
        let mut out: Vec<IndexInfo> = descriptions
            .iter()
            .filter(|d| !d.name().starts_with("__"))
            .map(|d| IndexInfo {
                name: d.name().to_string(),
                index_type: d.index_type().to_string(),
                columns: d
                    .field_ids()
                    .iter()
                    .filter_map(|id| schema.field_by_id(*id as i32).map(|f| f.name.clone()))
                    .collect(),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub async fn index_stats(&self, name: &str) -> Result<IndexStats> {
        let dataset = self.view().await?;
        let info = self
            .list_indices()
            .await?
            .into_iter()
            .find(|i| i.name == name)
            .ok_or_else(|| self.no_index(name))?;
        let details = dataset.index_statistics(name).await?;
        let json: serde_json::Value = serde_json::from_str(&details).unwrap_or_default();
        let count = |key: &str| json.get(key).and_then(|v| v.as_u64()).unwrap_or(0);
        Ok(IndexStats {
            name: info.name,
            index_type: info.index_type,
            num_indexed_rows: count("num_indexed_rows"),
            num_unindexed_rows: count("num_unindexed_rows"),
            details,
        })
    }

    /// Removes an index as one new version; older versions keep it.
    pub async fn drop_index(&self, name: &str, note: &CommitNote) -> Result<WriteResult> {
        note.validate()?;
        let _guard = self.write_lock.lock().await;
        let current = self.writable().await?;
        if !current
            .load_indices()
            .await?
            .iter()
            .any(|index| index.name == name)
        {
            return Err(self.no_index(name));
        }
        let record = OperationRecord::new("drop_index").param("index", name);
        let mut dataset = current.as_ref().clone();
        with_commit_properties(
            record.properties(note, &WriteResult::default()),
            dataset.drop_index(name),
        )
        .await?;
        Ok(WriteResult {
            version: self.advance(dataset).await,
            ..Default::default()
        })
    }

    fn no_index(&self, name: &str) -> Error {
        Error::invalid_argument(format!(
            "table `{}` has no index `{name}`; list them with listIndices()",
            self.name()
        ))
    }
}

fn check_column_fits(column: &str, data_type: &DataType, spec: &IndexSpec) -> Result<()> {
    let is_vector =
        matches!(data_type, DataType::FixedSizeList(child, _) if child.data_type().is_floating());
    let is_text = matches!(data_type, DataType::Utf8 | DataType::LargeUtf8);
    let is_list = matches!(data_type, DataType::List(_) | DataType::LargeList(_));
    let fits = match spec {
        s if s.is_vector() => is_vector,
        IndexSpec::FullText { .. } => is_text,
        IndexSpec::LabelList => is_list,
        _ => !is_vector && !is_list,
    };
    if fits {
        return Ok(());
    }
    let wants = match spec {
        s if s.is_vector() => "a vector column (a fixed-size list of floats)",
        IndexSpec::FullText { .. } => "a string column",
        IndexSpec::LabelList => "a list column",
        _ => "a scalar column (numbers, strings, booleans, dates)",
    };
    Err(Error::invalid_argument(format!(
        "a {} index needs {wants}; column `{column}` is {data_type}",
        spec.type_name()
    )))
}

/// LanceDB's default HNSW edges per node and build breadth.
const HNSW_EDGES: usize = 20;
const HNSW_EF_CONSTRUCTION: usize = 300;

/// LanceDB's default partitions of an HNSW index: one per 1.28 billion vector values.
fn hnsw_partitions(rows: usize, dim: usize) -> usize {
    (rows.saturating_mul(dim) / (256 * 5_000_000)).max(1)
}

/// lance's index type and parameters for `spec`, with LanceDB's defaults: sqrt(rows)
/// partitions for IVF_FLAT and IVF_PQ, dim/16 PQ sub-vectors (dim/8 when 16 does not divide
/// it); for IVF_HNSW_SQ one partition per 1.28 billion vector values (each partition is a
/// graph of its own, so few and large ones), m 20 and efConstruction 300.
fn lance_params(
    spec: &IndexSpec,
    data_type: &DataType,
    rows: usize,
) -> Result<(IndexType, Box<dyn IndexParams>)> {
    let dim = match data_type {
        DataType::FixedSizeList(_, dim) => *dim as usize,
        _ => 0,
    };
    let partitions = |n: Option<usize>| n.unwrap_or_else(|| ((rows as f64).sqrt() as usize).max(1));
    let metric = |d: Option<DistanceType>| d.unwrap_or(DistanceType::L2);
    Ok(match spec {
        IndexSpec::IvfFlat {
            num_partitions,
            distance_type,
        } => (
            IndexType::IvfFlat,
            Box::new(VectorIndexParams::ivf_flat(
                partitions(*num_partitions),
                metric(*distance_type),
            )),
        ),
        IndexSpec::IvfPq {
            num_partitions,
            num_sub_vectors,
            num_bits,
            max_iterations,
            distance_type,
        } => {
            let sub =
                num_sub_vectors.unwrap_or(if dim % 16 == 0 { dim / 16 } else { dim / 8 }.max(1));
            if sub == 0 || dim % sub != 0 {
                return Err(Error::invalid_argument(format!(
                    "numSubVectors must divide the vector length {dim}; got {sub}"
                )));
            }
            (
                IndexType::IvfPq,
                Box::new(VectorIndexParams::ivf_pq(
                    partitions(*num_partitions),
                    num_bits.unwrap_or(8),
                    sub,
                    metric(*distance_type),
                    max_iterations.unwrap_or(50),
                )),
            )
        }
        IndexSpec::IvfHnswSq {
            num_partitions,
            m,
            ef_construction,
            distance_type,
        } => {
            let hnsw = HnswBuildParams::default()
                .num_edges(m.unwrap_or(HNSW_EDGES))
                .ef_construction(ef_construction.unwrap_or(HNSW_EF_CONSTRUCTION));
            let partitions = num_partitions.unwrap_or_else(|| hnsw_partitions(rows, dim));
            (
                IndexType::IvfHnswSq,
                Box::new(VectorIndexParams::with_ivf_hnsw_sq_params(
                    metric(*distance_type),
                    IvfBuildParams::new(partitions),
                    hnsw,
                    SQBuildParams::default(),
                )),
            )
        }
        IndexSpec::BTree => (
            IndexType::BTree,
            Box::new(ScalarIndexParams::for_builtin(BuiltinIndexType::BTree)),
        ),
        IndexSpec::Bitmap => (
            IndexType::Bitmap,
            Box::new(ScalarIndexParams::for_builtin(BuiltinIndexType::Bitmap)),
        ),
        IndexSpec::LabelList => (
            IndexType::LabelList,
            Box::new(ScalarIndexParams::for_builtin(BuiltinIndexType::LabelList)),
        ),
        IndexSpec::FullText {
            with_position,
            base_tokenizer,
            language,
            lower_case,
            stem,
            remove_stop_words,
            ascii_folding,
        } => {
            let mut params = InvertedIndexParams::default().with_position(*with_position);
            if let Some(tokenizer) = base_tokenizer {
                params = params.base_tokenizer(tokenizer.clone());
            }
            if let Some(language) = language {
                params = params.language(language).map_err(|e| {
                    Error::invalid_argument(crate::error::first_line(&e.to_string()))
                })?;
            }
            if let Some(v) = lower_case {
                params = params.lower_case(*v);
            }
            if let Some(v) = stem {
                params = params.stem(*v);
            }
            if let Some(v) = remove_stop_words {
                params = params.remove_stop_words(*v);
            }
            if let Some(v) = ascii_folding {
                params = params.ascii_folding(*v);
            }
            (IndexType::Inverted, Box::new(params))
        }
    })
}

/// Training needs enough rows; say so instead of lance's internal wording.
fn index_error(err: lance::Error, column: &str, spec: &IndexSpec) -> Error {
    let text = crate::error::first_line(&err.to_string());
    let lower = text.to_lowercase();
    if spec.is_vector()
        && (lower.contains("not enough")
            || lower.contains("kmeans")
            || lower.contains("num_partitions"))
    {
        return Error::invalid_argument(format!(
            "could not build the {} index on `{column}`: {text}; use fewer partitions or add rows first",
            spec.type_name()
        ))
        .with_source(err);
    }
    Error::from(err)
}
