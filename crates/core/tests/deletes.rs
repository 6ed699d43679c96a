//! Deletes are staged by row address (crates/core/src/row_deletes.rs): they must remove
//! exactly the matching rows, leave every other row's stable id alone, and keep working
//! once a fragment's deletions are dense enough for lance to store them as a bitmap.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use palimpsest_core::arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, UInt64Array};
use palimpsest_core::{AddMode, CommitNote, QueryRequest, TableHandle};

fn ids(range: std::ops::Range<i64>) -> RecordBatch {
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(range));
    RecordBatch::try_from_iter(vec![("id", ids)]).unwrap()
}

/// id -> stable row id of every live row.
async fn row_ids(table: &TableHandle) -> BTreeMap<i64, u64> {
    let request = QueryRequest {
        with_row_id: true,
        ..Default::default()
    };
    let mut rows = BTreeMap::new();
    for batch in table.query(&request).await.unwrap() {
        let id = batch.column_by_name("id").unwrap();
        let id = id.as_any().downcast_ref::<Int64Array>().unwrap();
        let row_id = batch.column_by_name("_rowid").unwrap();
        let row_id = row_id.as_any().downcast_ref::<UInt64Array>().unwrap();
        for i in 0..batch.num_rows() {
            assert!(rows.insert(id.value(i), row_id.value(i)).is_none());
        }
    }
    rows
}

#[tokio::test]
async fn repeated_deletes_remove_exactly_the_matching_rows_and_keep_row_ids() {
    let dir = tempfile::tempdir().unwrap();
    let conn = common::connection(&dir);
    let note = CommitNote::default();
    let table = common::create_table(&conn, ids(0..6_000)).await;
    table
        .add(vec![ids(6_000..12_000)], AddMode::Append, &note)
        .await
        .unwrap();
    let mut expected = row_ids(&table).await;
    assert_eq!(expected.len(), 12_000);

    // Twelve passes delete 12 of every 40 rows: holes grow from a sorted list to a bitmap.
    for r in 0..12 {
        let predicate = format!("id % 40 = {r}");
        let before = table.version().await.unwrap();
        let result = table.delete(&predicate, &note).await.unwrap();
        let matching: Vec<i64> = expected.keys().copied().filter(|id| id % 40 == r).collect();
        assert_eq!(result.rows_deleted, matching.len() as u64, "{predicate}");
        assert_eq!(result.version, before + 1);
        for id in matching {
            expected.remove(&id);
        }
        assert_eq!(row_ids(&table).await, expected, "after {predicate}");
        assert_eq!(
            table.count_rows(Some("id % 40 < 12")).await.unwrap(),
            (11 - r) as u64 * 300,
            "after {predicate}"
        );
    }

    // A delete of a whole fragment's rows removes the fragment; time travel still sees them.
    let before = table.version().await.unwrap();
    let result = table.delete("id < 6000", &note).await.unwrap();
    assert_eq!(result.rows_deleted, 6_000 - 6_000 * 12 / 40);
    expected.retain(|id, _| *id >= 6_000);
    assert_eq!(row_ids(&table).await, expected);
    table.checkout(before).await.unwrap();
    assert_eq!(table.count_rows(None).await.unwrap(), 12_000 * 28 / 40);
    table.checkout_latest().await.unwrap();

    // `false` deletes nothing (and still records a version); `true` empties the table.
    let result = table.delete("false", &note).await.unwrap();
    assert_eq!(result.rows_deleted, 0);
    assert_eq!(row_ids(&table).await, expected);
    let result = table.delete("true", &note).await.unwrap();
    assert_eq!(result.rows_deleted, expected.len() as u64);
    assert_eq!(table.count_rows(None).await.unwrap(), 0);
}

/// With the predicate's columns in memory a delete finds its rows there: it works while the
/// data files are out of reach, and later reads still come from memory.
#[tokio::test]
async fn deletes_of_rows_in_memory_do_not_read_the_data_files() {
    let dir = tempfile::tempdir().unwrap();
    let conn = common::connection(&dir);
    let note = CommitNote::default();
    let table = common::create_table(&conn, ids(0..5_000)).await;
    // The second read keeps the columns.
    row_ids(&table).await;
    let mut expected = row_ids(&table).await;

    let hidden = common::OutOfReach::new(&dir, common::data_files(&dir, "t"));
    let first = table.delete("id % 4 = 1", &note).await;
    let second = table.delete("id >= 4000", &note).await;
    let count = table.count_rows(Some("id < 100")).await;
    drop(hidden);
    assert_eq!(first.unwrap().rows_deleted, 1_250);
    assert_eq!(second.unwrap().rows_deleted, 750);
    assert_eq!(count.unwrap(), 75);
    expected.retain(|id, _| id % 4 != 1 && *id < 4_000);
    assert_eq!(row_ids(&table).await, expected);
}
