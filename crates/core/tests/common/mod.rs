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

/// The data files table `name` has now.
pub fn data_files(dir: &tempfile::TempDir, name: &str) -> Vec<std::path::PathBuf> {
    let data = dir.path().join(format!("{name}.lance")).join("data");
    let files: Vec<_> = std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!files.is_empty());
    files
}

/// Data files moved out of reach until this is dropped: whatever works meanwhile was answered
/// from memory.
pub struct OutOfReach {
    moved: Vec<(std::path::PathBuf, std::path::PathBuf)>,
}

impl OutOfReach {
    pub fn new(dir: &tempfile::TempDir, files: Vec<std::path::PathBuf>) -> OutOfReach {
        let hidden = dir.path().join("out-of-reach");
        std::fs::create_dir_all(&hidden).unwrap();
        let moved = files
            .into_iter()
            .map(|file| {
                let away = hidden.join(file.file_name().unwrap());
                std::fs::rename(&file, &away).unwrap();
                (file, away)
            })
            .collect();
        OutOfReach { moved }
    }
}

impl Drop for OutOfReach {
    fn drop(&mut self) {
        for (file, away) in &self.moved {
            std::fs::rename(away, file).unwrap();
        }
    }
}

/// A batch of an `id` column and a `val` column computed from it.
pub fn id_val(ids: impl IntoIterator<Item = i64>, val: impl Fn(i64) -> i64) -> RecordBatch {
    let ids: Vec<i64> = ids.into_iter().collect();
    let vals: ArrayRef = Arc::new(Int64Array::from_iter_values(ids.iter().map(|i| val(*i))));
    let ids: ArrayRef = Arc::new(Int64Array::from(ids));
    RecordBatch::try_from_iter(vec![("id", ids), ("val", vals)]).unwrap()
}

/// id -> (val, stable row id) of every live row of an `id_val` table.
pub async fn id_val_state(table: &TableHandle) -> std::collections::BTreeMap<i64, (i64, u64)> {
    let request = QueryRequest {
        with_row_id: true,
        ..Default::default()
    };
    let mut out = std::collections::BTreeMap::new();
    for batch in table.query(&request).await.unwrap() {
        let column = |name: &str| batch.column_by_name(name).unwrap().clone();
        let (id, val, row_id) = (column("id"), column("val"), column("_rowid"));
        let id = id.as_any().downcast_ref::<Int64Array>().unwrap();
        let val = val.as_any().downcast_ref::<Int64Array>().unwrap();
        let row_id = row_id
            .as_any()
            .downcast_ref::<palimpsest_core::arrow_array::UInt64Array>()
            .unwrap();
        for i in 0..batch.num_rows() {
            let entry = (val.value(i), row_id.value(i));
            assert!(
                out.insert(id.value(i), entry).is_none(),
                "id {} twice",
                id.value(i)
            );
        }
    }
    out
}

/// Table `t` created from `batch`.
pub async fn create_table(conn: &Connection, batch: RecordBatch) -> TableHandle {
    conn.create_table(
        "t",
        vec![batch],
        None,
        CreateMode::Create,
        &CommitNote::default(),
    )
    .await
    .unwrap()
}

/// The float values of the vector column `vec`, all batches in order.
pub fn vec_values(batches: &[RecordBatch]) -> Vec<f32> {
    use palimpsest_core::arrow_array::cast::AsArray;
    use palimpsest_core::arrow_array::types::Float32Type;
    batches
        .iter()
        .flat_map(|b| {
            let list = b.column_by_name("vec").unwrap().as_fixed_size_list();
            list.values()
                .as_primitive::<Float32Type>()
                .values()
                .to_vec()
        })
        .collect()
}

/// Dimensions of `clustered_rows`' vectors.
pub const CLUSTERED_DIM: i32 = 16;
const WORDS: [&str; 6] = ["apple", "banana", "cherry", "dragon", "eagle", "falcon"];

/// Rows `start..start + n` of `id`, `category`, `text` and clustered vectors (8 centres,
/// small noise), deterministic.
pub fn clustered_rows(start: i64, n: i64) -> RecordBatch {
    let mut state = (start as u64).wrapping_mul(2654435761) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 10_000) as f32 / 10_000.0
    };
    let ids: Vec<i64> = (start..start + n).collect();
    let mut values = Vec::with_capacity((n * CLUSTERED_DIM as i64) as usize);
    for id in &ids {
        let centre = (id % 8) as f32;
        for d in 0..CLUSTERED_DIM {
            let base = if d as f32 % 8.0 == centre { 4.0 } else { 0.0 };
            values.push(base + next() * 0.5);
        }
    }
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    let vectors = FixedSizeListArray::new(
        item,
        CLUSTERED_DIM,
        Arc::new(Float32Array::from(values)),
        None,
    );
    let categories: Vec<String> = ids.iter().map(|i| format!("cat{}", i % 5)).collect();
    let texts: Vec<String> = ids
        .iter()
        .map(|i| format!("{} pie number {i}", WORDS[(*i % 6) as usize]))
        .collect();
    RecordBatch::try_from_iter_with_nullable(vec![
        ("id", Arc::new(Int64Array::from(ids)) as ArrayRef, true),
        ("category", Arc::new(StringArray::from(categories)), true),
        ("text", Arc::new(StringArray::from(texts)), true),
        ("vector", Arc::new(vectors), true),
    ])
    .unwrap()
}

/// Row `i`'s vector in `batch` (its `vector` column of float32 lists), exactly.
pub fn vector_at(batch: &RecordBatch, i: usize) -> Vec<f32> {
    let list = batch
        .column_by_name("vector")
        .unwrap()
        .as_any()
        .downcast_ref::<FixedSizeListArray>()
        .unwrap()
        .value(i);
    list.as_any()
        .downcast_ref::<Float32Array>()
        .unwrap()
        .values()
        .to_vec()
}

/// A string column: its name, and its value (or null) for row `id`.
pub type StringColumn<'a> = (&'a str, fn(i64) -> Option<String>);

/// Rows `ids`: an int64 `id`, then one string column per `StringColumn`.
pub fn ids_and_strings(ids: std::ops::Range<i64>, strings: &[StringColumn]) -> RecordBatch {
    let id: ArrayRef = Arc::new(Int64Array::from_iter_values(ids.clone()));
    let columns = strings.iter().map(|(name, value)| {
        let values: ArrayRef = Arc::new(StringArray::from_iter(ids.clone().map(value)));
        (*name, values)
    });
    RecordBatch::try_from_iter(std::iter::once(("id", id)).chain(columns)).unwrap()
}
