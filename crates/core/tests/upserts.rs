//! The whole-row upsert (update every matched row, insert the rest) is staged by row address
//! (crates/core/src/row_upserts.rs): matched rows take the source's values and keep their
//! stable ids, other source rows are appended with new ids, rows deleted earlier do not
//! match, and anything unusual goes through lance's merge.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use palimpsest_core::arrow_array::{ArrayRef, Int64Array, RecordBatch};
use palimpsest_core::{AddMode, CommitNote, ErrorCode, MergeInsertSpec};

use common::{id_val as rows, id_val_state as state};

fn upsert() -> MergeInsertSpec {
    MergeInsertSpec {
        on: vec!["id".into()],
        when_matched_update_all: true,
        when_not_matched_insert_all: true,
        ..Default::default()
    }
}

/// Applies an upsert of `source` ids (value -id) to the model; new rows get row ids the
/// caller checks separately.
fn expect_upsert(model: &mut BTreeMap<i64, (i64, u64)>, source: &[i64]) -> (u64, u64) {
    let (mut updated, mut added) = (0, 0);
    for id in source {
        match model.get_mut(id) {
            Some(entry) => {
                entry.0 = -id;
                updated += 1;
            }
            None => {
                model.insert(*id, (-id, u64::MAX));
                added += 1;
            }
        }
    }
    (updated, added)
}

/// Compares values exactly, row ids for the rows that existed, and that new rows got ids no
/// other row has.
fn assert_state(got: &BTreeMap<i64, (i64, u64)>, want: &BTreeMap<i64, (i64, u64)>) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (id, (val, row_id)) in want {
        let (got_val, got_row_id) = got[id];
        assert_eq!(got_val, *val, "id {id}");
        if *row_id != u64::MAX {
            assert_eq!(got_row_id, *row_id, "id {id} keeps its row id");
        }
    }
    let distinct: BTreeSet<u64> = got.values().map(|(_, r)| *r).collect();
    assert_eq!(distinct.len(), got.len(), "row ids are unique");
}

#[tokio::test]
async fn upserts_replace_matched_rows_in_place_and_append_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let conn = common::connection(&dir);
    let note = CommitNote::default();
    let table = common::create_table(&conn, rows(0..3_000, |i| i * 10)).await;
    table
        .add(vec![rows(3_000..6_000, |i| i * 10)], AddMode::Append, &note)
        .await
        .unwrap();
    table.delete("id % 100 = 99", &note).await.unwrap();
    let mut model = state(&table).await;

    for round in 0..4i64 {
        // Matches in both fragments, ids deleted before (inserted again), rows updated by an
        // earlier round, and ids past the end.
        let source: Vec<i64> = (0..70)
            .map(|k| (k * 97 + round * 31) % 6_200)
            .chain([99 + round * 100, 6_500 + round])
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let (updated, added) = expect_upsert(&mut model, &source);
        assert!(updated > 0 && added > 0);
        let batch = rows(source.iter().rev().copied(), |i| -i);
        let result = table
            .merge_insert(&upsert(), vec![batch], &note)
            .await
            .unwrap();
        assert_eq!(
            (result.rows_updated, result.rows_added),
            (updated, added),
            "round {round}"
        );
        let got = state(&table).await;
        assert_state(&got, &model);
        model = got;
    }
    let log = table.list_versions().await.unwrap();
    assert_eq!(log.last().unwrap().operation, "merge_insert");

    // A composite key: only rows whose id and val both match are replaced.
    let spec = MergeInsertSpec {
        on: vec!["id".into(), "val".into()],
        ..upsert()
    };
    let (old, moved) = (model[&1], model[&2]);
    let both = rows([1], |_| old.0);
    let result = table.merge_insert(&spec, vec![both], &note).await.unwrap();
    assert_eq!((result.rows_updated, result.rows_added), (1, 0));
    let other_val = RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int64Array::from(vec![2])) as ArrayRef),
        (
            "val",
            Arc::new(Int64Array::from(vec![moved.0 + 1])) as ArrayRef,
        ),
    ])
    .unwrap();
    let result = table.merge_insert(&spec, vec![other_val], &note).await;
    // (2, val+1) is a new key, so it is inserted beside (2, val).
    assert_eq!(result.unwrap().rows_added, 1);
}

#[tokio::test]
async fn duplicate_keys_still_go_to_lances_merge() {
    let dir = tempfile::tempdir().unwrap();
    let conn = common::connection(&dir);
    let note = CommitNote::default();
    let table = common::create_table(&conn, rows(0..100, |i| i)).await;
    let before = table.version().await.unwrap();
    let err = table
        .merge_insert(&upsert(), vec![rows([5, 5], |i| i)], &note)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::MergeConflict);
    assert_eq!(table.version().await.unwrap(), before);
}

/// With the key column in memory the upsert matches keys there: it works while the data
/// files are out of reach.
#[tokio::test]
async fn upserts_with_keys_in_memory_do_not_read_the_data_files() {
    let dir = tempfile::tempdir().unwrap();
    let conn = common::connection(&dir);
    let note = CommitNote::default();
    let table = common::create_table(&conn, rows(0..4_000, |i| i)).await;
    // The second read keeps the columns.
    state(&table).await;
    let mut model = state(&table).await;
    let source: Vec<i64> = (3_990..4_010).collect();
    let (updated, added) = expect_upsert(&mut model, &source);

    let hidden = common::OutOfReach::new(&dir, common::data_files(&dir, "t"));
    let result = table
        .merge_insert(&upsert(), vec![rows(source, |i| -i)], &note)
        .await;
    drop(hidden);
    let result = result.unwrap();
    assert_eq!((result.rows_updated, result.rows_added), (updated, added));
    assert_state(&state(&table).await, &model);
}
