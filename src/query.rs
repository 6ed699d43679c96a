//! Query requests in, Arrow batches (or plans) out.

use napi::bindgen_prelude::Float32Array;
use napi_derive::napi;
use palimpsest_core::{
    parse_distance_type, FullTextRequest, QueryRequest, VectorRequest, DEFAULT_TOP_K,
};

use crate::error::{guarded, guarded_now, invalid_argument, to_napi};
use crate::stream::NativeBatchStream;
use crate::table::NativeTable;
use crate::wire::{batches_to_wire, WireBatchOut};

#[napi(object)]
pub struct VectorQueryArg {
    pub column: Option<String>,
    pub values: Float32Array,
    pub k: Option<u32>,
    pub distance_type: Option<String>,
    pub nprobes: Option<u32>,
    pub refine_factor: Option<u32>,
    pub ef: Option<u32>,
    pub postfilter: Option<bool>,
    pub bypass_index: Option<bool>,
    pub distance_lower: Option<f64>,
    pub distance_upper: Option<f64>,
}

#[napi(object)]
pub struct FullTextArg {
    pub query: String,
    pub columns: Option<Vec<String>>,
}

#[napi(object)]
pub struct QueryArg {
    pub filter: Option<String>,
    pub columns: Option<Vec<String>>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub with_row_id: Option<bool>,
    pub vector: Option<VectorQueryArg>,
    pub full_text: Option<FullTextArg>,
}

fn count_arg(name: &str, value: Option<i64>) -> napi::Result<Option<u64>> {
    value
        .map(|v| {
            u64::try_from(v)
                .map_err(|_| invalid_argument(format!("{name} must be 0 or more, got {v}")))
        })
        .transpose()
}

fn positive(name: &str, value: Option<u32>) -> napi::Result<Option<u32>> {
    match value {
        Some(0) => Err(invalid_argument(format!("{name} must be 1 or more"))),
        other => Ok(other),
    }
}

fn vector_request(v: VectorQueryArg, limit: Option<u64>) -> napi::Result<VectorRequest> {
    let bound = |b: Option<f64>| b.map(|x| x as f32);
    let range = match (v.distance_lower, v.distance_upper) {
        (None, None) => None,
        (lower, upper) => Some((bound(lower), bound(upper))),
    };
    Ok(VectorRequest {
        column: v.column,
        values: v.values.to_vec(),
        k: v.k
            .map(|k| k as usize)
            .or(limit.map(|l| l as usize))
            .unwrap_or(DEFAULT_TOP_K),
        distance_type: v
            .distance_type
            .as_deref()
            .map(parse_distance_type)
            .transpose()
            .map_err(to_napi)?,
        nprobes: positive("nprobes", v.nprobes)?.map(|n| n as usize),
        refine_factor: positive("refineFactor", v.refine_factor)?,
        ef: positive("ef", v.ef)?.map(|n| n as usize),
        postfilter: v.postfilter.unwrap_or(false),
        bypass_index: v.bypass_index.unwrap_or(false),
        distance_range: range,
    })
}

fn query_request(arg: QueryArg) -> napi::Result<QueryRequest> {
    let limit = count_arg("limit", arg.limit)?;
    Ok(QueryRequest {
        filter: arg.filter,
        columns: arg.columns,
        limit,
        offset: count_arg("offset", arg.offset)?,
        with_row_id: arg.with_row_id.unwrap_or(false),
        vector: arg.vector.map(|v| vector_request(v, limit)).transpose()?,
        full_text: arg.full_text.map(|t| FullTextRequest {
            query: t.query,
            columns: t.columns,
        }),
    })
}

#[napi]
impl NativeTable {
    #[napi]
    pub async fn query(&self, request: QueryArg) -> napi::Result<Vec<WireBatchOut>> {
        let request = query_request(request)?;
        let batches = guarded(self.handle().query(&request)).await?;
        batches_to_wire(batches)
    }

    /// `query` answered on this thread when memory has it at once; `null` when the caller
    /// should call `query`.
    #[napi]
    pub fn query_at_once(&self, request: QueryArg) -> napi::Result<Option<Vec<WireBatchOut>>> {
        let request = query_request(request)?;
        guarded_now(|| self.handle().query_at_once(&request))?
            .map(batches_to_wire)
            .transpose()
    }

    #[napi]
    pub async fn query_stream(&self, request: QueryArg) -> napi::Result<NativeBatchStream> {
        let request = query_request(request)?;
        let stream = guarded(self.handle().query_stream(&request)).await?;
        Ok(NativeBatchStream::new(stream))
    }

    #[napi]
    pub async fn explain_plan(
        &self,
        request: QueryArg,
        verbose: Option<bool>,
    ) -> napi::Result<String> {
        let request = query_request(request)?;
        guarded(
            self.handle()
                .explain_plan(&request, verbose.unwrap_or(false)),
        )
        .await
    }
}
