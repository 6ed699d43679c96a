//! Concurrent first reads of a table decode its columns once: the others wait for that fill
//! and share it, instead of each holding a decoded copy of the table. (Its own test binary:
//! the fill count is process-wide.)

mod common;

use std::sync::Arc;

use common::connection;
use palimpsest_core::arrow_array::{
    ArrayRef, FixedSizeListArray, Float32Array, Int64Array, RecordBatch,
};
use palimpsest_core::arrow_schema::{DataType, Field};
use palimpsest_core::{column_cache_stats, CommitNote, CreateMode, QueryRequest, VectorRequest};

fn rows(n: i64) -> RecordBatch {
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    let values = Float32Array::from_iter_values((0..n * 8).map(|v| (v % 97) as f32));
    let vectors = FixedSizeListArray::new(item, 8, Arc::new(values), None);
    RecordBatch::try_from_iter(vec![
        (
            "id",
            Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef,
        ),
        ("vector", Arc::new(vectors)),
    ])
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_searches_decode_the_table_once() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = Arc::new(
        conn.create_table(
            "t",
            vec![rows(50_000)],
            None,
            CreateMode::Create,
            &CommitNote::default(),
        )
        .await
        .unwrap(),
    );
    let before = column_cache_stats();
    let searches: Vec<_> = (0..8)
        .map(|i| {
            let table = table.clone();
            tokio::spawn(async move {
                let request = QueryRequest {
                    vector: Some(VectorRequest {
                        values: vec![i as f32; 8],
                        k: 5,
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                table.query(&request).await.unwrap()
            })
        })
        .collect();
    for search in searches {
        let batches = search.await.unwrap();
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 5);
    }
    let after = column_cache_stats();
    assert_eq!(after.fills, before.fills + 1, "{before:?} -> {after:?}");
    assert!(after.bytes >= 50_000 * 8 * 4, "{after:?}");
}
