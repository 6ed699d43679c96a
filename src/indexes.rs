//! Index options in, index descriptions out.

use napi_derive::napi;
use palimpsest_core::{parse_distance_type, IndexInfo, IndexSpec, IndexStats};

use crate::error::{guarded, invalid_argument, to_napi};
use crate::history::{commit_note, WriteNote};
use crate::table::{NativeTable, WriteSummary};

/// `kind`: IVF_FLAT, IVF_PQ, IVF_HNSW_SQ, BTREE, BITMAP, LABEL_LIST or FTS; the other fields
/// apply to the kinds that use them.
#[napi(object)]
pub struct IndexArg {
    pub kind: String,
    pub num_partitions: Option<u32>,
    pub num_sub_vectors: Option<u32>,
    pub num_bits: Option<u32>,
    pub max_iterations: Option<u32>,
    pub distance_type: Option<String>,
    pub m: Option<u32>,
    pub ef_construction: Option<u32>,
    pub with_position: Option<bool>,
    pub base_tokenizer: Option<String>,
    pub language: Option<String>,
    pub lower_case: Option<bool>,
    pub stem: Option<bool>,
    pub remove_stop_words: Option<bool>,
    pub ascii_folding: Option<bool>,
}

#[napi(object)]
pub struct IndexEntry {
    pub name: String,
    pub index_type: String,
    pub columns: Vec<String>,
}

#[napi(object)]
pub struct IndexStatsOut {
    pub name: String,
    pub index_type: String,
    pub num_indexed_rows: f64,
    pub num_unindexed_rows: f64,
    /// lance's full statistics, as JSON.
    pub details: String,
}

fn index_spec(arg: IndexArg) -> napi::Result<IndexSpec> {
    let size = |v: Option<u32>| v.map(|n| n as usize);
    let distance_type = arg
        .distance_type
        .as_deref()
        .map(parse_distance_type)
        .transpose()
        .map_err(to_napi)?;
    Ok(match arg.kind.as_str() {
        "IVF_FLAT" => IndexSpec::IvfFlat {
            num_partitions: size(arg.num_partitions),
            distance_type,
        },
        "IVF_PQ" => IndexSpec::IvfPq {
            num_partitions: size(arg.num_partitions),
            num_sub_vectors: size(arg.num_sub_vectors),
            num_bits: arg.num_bits.map(|b| b as u8),
            max_iterations: size(arg.max_iterations),
            distance_type,
        },
        "IVF_HNSW_SQ" => IndexSpec::IvfHnswSq {
            num_partitions: size(arg.num_partitions),
            m: size(arg.m),
            ef_construction: size(arg.ef_construction),
            distance_type,
        },
        "BTREE" => IndexSpec::BTree,
        "BITMAP" => IndexSpec::Bitmap,
        "LABEL_LIST" => IndexSpec::LabelList,
        "FTS" => IndexSpec::FullText {
            with_position: arg.with_position.unwrap_or(false),
            base_tokenizer: arg.base_tokenizer,
            language: arg.language,
            lower_case: arg.lower_case,
            stem: arg.stem,
            remove_stop_words: arg.remove_stop_words,
            ascii_folding: arg.ascii_folding,
        },
        other => {
            return Err(invalid_argument(format!(
                "unknown index kind {other:?}; use IVF_FLAT, IVF_PQ, IVF_HNSW_SQ, BTREE, BITMAP, LABEL_LIST or FTS"
            )))
        }
    })
}

impl From<IndexInfo> for IndexEntry {
    fn from(i: IndexInfo) -> Self {
        Self {
            name: i.name,
            index_type: i.index_type,
            columns: i.columns,
        }
    }
}

impl From<IndexStats> for IndexStatsOut {
    fn from(s: IndexStats) -> Self {
        Self {
            name: s.name,
            index_type: s.index_type,
            num_indexed_rows: s.num_indexed_rows as f64,
            num_unindexed_rows: s.num_unindexed_rows as f64,
            details: s.details,
        }
    }
}

#[napi]
impl NativeTable {
    #[napi]
    pub async fn create_index(
        &self,
        column: String,
        spec: IndexArg,
        name: Option<String>,
        replace: Option<bool>,
        note: Option<WriteNote>,
    ) -> napi::Result<WriteSummary> {
        let spec = index_spec(spec)?;
        let note = commit_note(note);
        let job = self.handle().create_index(
            &column,
            &spec,
            name.as_deref(),
            replace.unwrap_or(true),
            &note,
        );
        guarded(job).await.map(Into::into)
    }

    #[napi]
    pub async fn list_indices(&self) -> napi::Result<Vec<IndexEntry>> {
        let indices = guarded(self.handle().list_indices()).await?;
        Ok(indices.into_iter().map(Into::into).collect())
    }

    #[napi]
    pub async fn index_stats(&self, name: String) -> napi::Result<IndexStatsOut> {
        guarded(self.handle().index_stats(&name))
            .await
            .map(Into::into)
    }

    #[napi]
    pub async fn drop_index(
        &self,
        name: String,
        note: Option<WriteNote>,
    ) -> napi::Result<WriteSummary> {
        let note = commit_note(note);
        guarded(self.handle().drop_index(&name, &note))
            .await
            .map(Into::into)
    }
}
