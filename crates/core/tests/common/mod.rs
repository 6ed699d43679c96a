#![allow(dead_code)]
//! Shared fixtures for the core's integration tests.

use std::collections::HashMap;
use std::sync::Arc;

use palimpsest_core::arrow_array::{
    Array, ArrayRef, FixedSizeListArray, Float32Array, Int64Array, RecordBatch, StringArray,
};
use palimpsest_core::arrow_schema::{DataType, Field, Schema};
use palimpsest_core::{CommitNote, Connection, CreateMode, QueryRequest, TableHandle};

pub fn connection(dir: &tempfile::TempDir) -> Connection {
    Connection::connect(dir.path().to_str().unwrap(), HashMap::new()).unwrap()
}

pub fn quotes(rows: &[(i64, &str, &str)]) -> RecordBatch {
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0)));
    let authors: ArrayRef = Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1)));
    let texts: ArrayRef = Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2)));
    RecordBatch::try_from_iter_with_nullable(vec![
        ("id", ids, true),
        ("author", authors, true),
        ("quote", texts, true),
    ])
    .unwrap()
}

pub fn vectors_for(ids: &[i64], column: &str, dim: i32) -> RecordBatch {
    let values: Vec<f32> = ids
        .iter()
        .flat_map(|id| (0..dim).map(move |j| (*id as f32) * 0.5 + j as f32 * 0.01))
        .collect();
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    let vectors = FixedSizeListArray::new(item, dim, Arc::new(Float32Array::from(values)), None);
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new(column, vectors.data_type().clone(), true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![Arc::new(Int64Array::from(ids.to_vec())), Arc::new(vectors)],
    )
    .unwrap()
}

pub async fn create_quotes(conn: &Connection) -> TableHandle {
    let batch = quotes(&[
        (1, "Richard", "Wubba Lubba Dub Dub!"),
        (2, "Morty", "Rick, what's going on?"),
        (3, "Richard", "I turned myself into a pickle, Morty!"),
    ]);
    conn.create_table(
        "quotes",
        vec![batch],
        None,
        CreateMode::Overwrite,
        &CommitNote::default(),
    )
    .await
    .unwrap()
}

/// All rows of the current view as (id, author) pairs, sorted by id.
pub async fn ids_and_authors(table: &TableHandle) -> Vec<(i64, String)> {
    let request = QueryRequest {
        columns: Some(vec!["id".into(), "author".into()]),
        ..Default::default()
    };
    let mut rows = Vec::new();
    for batch in table.query(&request).await.unwrap() {
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        let authors = batch
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        for i in 0..batch.num_rows() {
            rows.push((ids.value(i), authors.value(i).to_string()));
        }
    }
    rows.sort();
    rows
}

/// Open descriptors of the column cache's memory files in this process.
pub fn memory_files() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| {
            target
                .to_string_lossy()
                .starts_with("/memfd:palimpsest-column")
        })
        .count()
}
