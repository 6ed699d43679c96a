//! Hybrid search: a vector search and a full-text search over the same table, fused by
//! reciprocal rank fusion (each row scores the sum of 1 / (60 + rank) over the searches that
//! found it), the best `limit` rows first, with their `_relevance_score`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float32Array, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use futures::TryStreamExt;
use lance::io::RecordBatchStream;
use lance::Dataset;

use crate::error::{Error, Result};
use crate::query::{scan, QueryRequest, ReadAhead, DEFAULT_TOP_K};

/// The rank offset of reciprocal rank fusion; 60 is the value of the original paper and of
/// LanceDB's `RRFReranker`.
const RRF_K: f32 = 60.0;
use lance::dataset::ROW_ID;
/// Columns each search adds that the fused result replaces with `_relevance_score`.
const LEG_SCORES: [&str; 2] = ["_distance", "_score"];

pub(crate) async fn hybrid_search(
    dataset: &Dataset,
    request: &QueryRequest,
) -> Result<RecordBatch> {
    let limit = request
        .limit
        .map(|l| l as usize)
        .or(request.vector.as_ref().map(|v| v.k))
        .unwrap_or(DEFAULT_TOP_K);
    let mut vector_leg = request.clone();
    vector_leg.full_text = None;
    vector_leg.with_row_id = true;
    vector_leg.offset = None;
    let mut text_leg = request.clone();
    text_leg.vector = None;
    text_leg.with_row_id = true;
    text_leg.offset = None;
    text_leg.limit = Some(limit as u64);
    let legs = [
        run(dataset, &vector_leg).await?,
        run(dataset, &text_leg).await?,
    ];

    let mut scores: HashMap<u64, f32> = HashMap::new();
    let mut location: HashMap<u64, (usize, usize)> = HashMap::new();
    for (leg, batch) in legs.iter().enumerate() {
        let ids = row_ids(batch)?;
        for (rank, id) in ids.values().iter().enumerate() {
            *scores.entry(*id).or_default() += 1.0 / (RRF_K + rank as f32 + 1.0);
            location.entry(*id).or_insert((leg, rank));
        }
    }
    let mut ranked: Vec<(u64, f32)> = scores.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let skip = request.offset.unwrap_or(0) as usize;
    let picked: Vec<(u64, f32)> = ranked.into_iter().skip(skip).take(limit).collect();

    let template = legs[0].schema();
    let mut fields: Vec<Field> = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for field in template.fields() {
        let name = field.name().as_str();
        if LEG_SCORES.contains(&name) || (name == ROW_ID && !request.with_row_id) {
            continue;
        }
        let sources: Vec<&dyn Array> = legs
            .iter()
            .map(|b| {
                b.column_by_name(name)
                    .map(|c| c.as_ref())
                    .ok_or_else(|| Error::internal(format!("hybrid search leg lacks `{name}`")))
            })
            .collect::<Result<_>>()?;
        let picks: Vec<(usize, usize)> = picked.iter().map(|(id, _)| location[id]).collect();
        columns.push(arrow_select::interleave::interleave(&sources, &picks)?);
        fields.push(field.as_ref().clone());
    }
    fields.push(Field::new("_relevance_score", DataType::Float32, false));
    columns.push(Arc::new(Float32Array::from_iter_values(
        picked.iter().map(|(_, s)| *s),
    )));
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

async fn run(dataset: &Dataset, request: &QueryRequest) -> Result<RecordBatch> {
    let stream = scan(dataset, request, ReadAhead::Full).await?;
    let schema = stream.schema();
    let batches: Vec<RecordBatch> = stream.try_collect().await?;
    Ok(arrow_select::concat::concat_batches(&schema, &batches)?)
}

fn row_ids(batch: &RecordBatch) -> Result<&UInt64Array> {
    batch
        .column_by_name(ROW_ID)
        .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
        .ok_or_else(|| Error::internal("a hybrid search leg returned no row ids"))
}
