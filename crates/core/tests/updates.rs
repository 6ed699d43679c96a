//! Updates find the old rows by address (crates/core/src/row_updates.rs): they must rewrite
//! exactly the matching rows, keep every row's stable id, record the rows they changed, and
//! leave indexes answering with the new values, also on fragments that already have
//! deletions.

mod common;

use common::id_val_state as state;
use palimpsest_core::arrow_array::{Array, Int64Array, RecordBatch};
use palimpsest_core::{AddMode, CommitNote, IndexSpec, QueryRequest, TableHandle};

fn rows(range: std::ops::Range<i64>) -> RecordBatch {
    common::id_val(range, |i| i * 10)
}

async fn ids_where(table: &TableHandle, filter: &str) -> Vec<i64> {
    let request = QueryRequest {
        filter: Some(filter.into()),
        columns: Some(vec!["id".into()]),
        ..Default::default()
    };
    let mut ids: Vec<i64> = Vec::new();
    for batch in table.query(&request).await.unwrap() {
        let id = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        ids.extend(id.values().iter());
    }
    ids.sort();
    ids
}

#[tokio::test]
async fn repeated_updates_rewrite_exactly_the_matching_rows_and_keep_their_identity() {
    let dir = tempfile::tempdir().unwrap();
    let conn = common::connection(&dir);
    let note = CommitNote::default();
    let table = common::create_table(&conn, rows(0..3_000)).await;
    table
        .add(vec![rows(3_000..6_000)], AddMode::Append, &note)
        .await
        .unwrap();
    table
        .create_index("val", &IndexSpec::BTree, None, false, &note)
        .await
        .unwrap();
    // Holes in both fragments before any update.
    table.delete("id % 50 = 49", &note).await.unwrap();
    let mut expected = state(&table).await;
    assert_eq!(expected.len(), 6_000 - 120);

    for r in 0..6 {
        let filter = format!("id % 6 = {r} AND id < 5000");
        let result = table
            .update(Some(&filter), &[("val".into(), "val + 1".into())], &note)
            .await
            .unwrap();
        let version = result.version;
        let mut matching = 0;
        for (id, (val, _)) in expected.iter_mut() {
            if id % 6 == r && *id < 5000 {
                *val += 1;
                matching += 1;
            }
        }
        assert_eq!(result.rows_updated, matching, "{filter}");
        assert_eq!(state(&table).await, expected, "after {filter}");
        let log = table.list_versions().await.unwrap();
        let entry = log.last().unwrap();
        assert_eq!(
            (entry.version, entry.operation.as_str(), entry.rows_updated),
            (version, "update", Some(matching))
        );
    }

    // The btree index answers with the new values: old values are gone, new ones are found.
    let bumped: Vec<i64> = expected
        .iter()
        .filter(|(id, _)| **id < 5000)
        .map(|(id, _)| *id)
        .take(3)
        .collect();
    for id in bumped {
        assert_eq!(
            ids_where(&table, &format!("val = {}", id * 10)).await,
            vec![] as Vec<i64>
        );
        assert_eq!(
            ids_where(&table, &format!("val = {}", id * 10 + 1)).await,
            vec![id]
        );
    }
    assert_eq!(ids_where(&table, "val = 50000").await, vec![5_000]);

    // No match still records a version and changes nothing.
    let result = table
        .update(Some("id < 0"), &[("val".into(), "0".into())], &note)
        .await
        .unwrap();
    assert_eq!(result.rows_updated, 0);
    assert_eq!(state(&table).await, expected);

    // The row's story names the versions that changed it.
    let story = table.row_history("id = 6").await.unwrap();
    let changes: Vec<&str> = story.iter().map(|e| e.change.name()).collect();
    assert_eq!(changes, ["inserted", "updated"]);

    // An expression that fails on one row (division by zero) writes no version.
    let before = table.version().await.unwrap();
    let err = table
        .update(None, &[("val".into(), "val / (id - 3)".into())], &note)
        .await;
    assert!(err.is_err());
    assert_eq!(table.version().await.unwrap(), before);
    assert_eq!(state(&table).await, expected);
}

/// With the table's columns in memory the update reads its rows from there: it works while
/// the data files are out of reach, and gives the same table as reading them would.
#[tokio::test]
async fn updates_of_rows_in_memory_do_not_read_the_data_files() {
    let dir = tempfile::tempdir().unwrap();
    let conn = common::connection(&dir);
    let note = CommitNote::default();
    let table = common::create_table(&conn, rows(0..4_000)).await;
    table.delete("id % 10 = 9", &note).await.unwrap();
    // The second read keeps the columns.
    state(&table).await;
    let mut expected = state(&table).await;

    let hidden = common::OutOfReach::new(&dir, common::data_files(&dir, "t"));
    let result = table
        .update(
            Some("id % 4 = 1"),
            &[("val".into(), "val * 2 + id".into())],
            &note,
        )
        .await;
    drop(hidden);
    let result = result.unwrap();

    let mut matching = 0;
    for (id, (val, _)) in expected.iter_mut() {
        if id % 4 == 1 {
            *val = *val * 2 + id;
            matching += 1;
        }
    }
    assert_eq!(matching, 800);
    assert_eq!(result.rows_updated, matching);
    assert_eq!(state(&table).await, expected);
    assert_eq!(ids_where(&table, "val = 21").await, vec![1]);
}

/// An update leaves the table's columns in memory: the fragment it added deletions to keeps
/// its decoded columns, and the next write decodes only the small fragment the update wrote.
#[tokio::test]
async fn consecutive_updates_keep_reading_from_memory() {
    let dir = tempfile::tempdir().unwrap();
    let conn = common::connection(&dir);
    let note = CommitNote::default();
    let table = common::create_table(&conn, rows(0..4_000)).await;
    state(&table).await;
    let mut expected = state(&table).await;
    let original = common::data_files(&dir, "t");

    table
        .update(Some("id < 100"), &[("val".into(), "val + 1".into())], &note)
        .await
        .unwrap();
    // Only the original file goes out of reach; the update's own file stays.
    let hidden = common::OutOfReach::new(&dir, original);
    let second = table
        .update(
            Some("id % 10 = 5"),
            &[("val".into(), "val + 2".into())],
            &note,
        )
        .await;
    let removed = table.delete("id >= 3990", &note).await;
    drop(hidden);
    assert_eq!(second.unwrap().rows_updated, 400);
    assert_eq!(removed.unwrap().rows_deleted, 10);
    for (id, (val, _)) in expected.iter_mut() {
        if *id < 100 {
            *val += 1;
        }
        if id % 10 == 5 {
            *val += 2;
        }
    }
    expected.retain(|id, _| *id < 3_990);
    assert_eq!(state(&table).await, expected);
}
