//! The version log: every write records its operation, parameters, counts, message and
//! properties in its own version.

mod common;

use std::collections::BTreeMap;

use common::*;
use palimpsest_core::{
    AddMode, CommitNote, ErrorCode, MergeInsertSpec, NewColumns, VersionInfo, VersionRef,
};

fn note(message: &str) -> CommitNote {
    CommitNote::message(message)
}

fn entry(log: &[VersionInfo], version: u64) -> &VersionInfo {
    log.iter().find(|v| v.version == version).unwrap()
}

#[tokio::test]
async fn every_write_says_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = create_quotes(&conn).await;

    let mut props = CommitNote::message("relabel Rick");
    props.properties = BTreeMap::from([("ticket".to_string(), "DATA-7".to_string())]);
    table
        .update(
            Some("author = 'Richard'"),
            &[("author".into(), "'Rick'".into())],
            &props,
        )
        .await
        .unwrap();
    let more = quotes(&[(4, "Morty", "a"), (5, "Summer", "b")]);
    table
        .add(vec![more], AddMode::Append, &note("nightly load"))
        .await
        .unwrap();
    table.delete("id = 2", &note("gdpr")).await.unwrap();
    let spec = MergeInsertSpec {
        on: vec!["id".into()],
        when_matched_update_all: true,
        when_not_matched_insert_all: true,
        ..Default::default()
    };
    let upsert = quotes(&[(1, "Rick", "new"), (6, "Beth", "c")]);
    table
        .merge_insert(&spec, vec![upsert], &note("sync"))
        .await
        .unwrap();
    table
        .add_columns(
            NewColumns::Sql(vec![("len".into(), "length(quote)".into())]),
            &note("derive len"),
        )
        .await
        .unwrap();
    table
        .drop_columns(&["len".into()], &CommitNote::default())
        .await
        .unwrap();
    table.restore(Some(3), &note("undo")).await.unwrap();

    let log = table.list_versions().await.unwrap();
    let ops: Vec<&str> = log.iter().map(|v| v.operation.as_str()).collect();
    assert_eq!(
        ops,
        [
            "create",
            "update",
            "append",
            "delete",
            "merge_insert",
            "add_columns",
            "drop_columns",
            "restore"
        ]
    );
    assert_eq!(entry(&log, 1).rows_added, Some(3));
    let update = entry(&log, 2);
    assert_eq!(update.rows_updated, Some(2));
    assert_eq!(update.parameters["predicate"], "author = 'Richard'");
    assert_eq!(update.parameters["columns"], "author");
    assert_eq!(update.message.as_deref(), Some("relabel Rick"));
    assert_eq!(update.properties["ticket"], "DATA-7");
    assert_eq!(entry(&log, 3).rows_added, Some(2));
    assert_eq!(entry(&log, 3).message.as_deref(), Some("nightly load"));
    assert_eq!(entry(&log, 4).rows_deleted, Some(1));
    assert_eq!(entry(&log, 4).parameters["predicate"], "id = 2");
    let merge = entry(&log, 5);
    assert_eq!(
        (merge.rows_added, merge.rows_updated, merge.rows_deleted),
        (Some(1), Some(1), Some(0))
    );
    assert_eq!(merge.parameters["on"], "id");
    assert_eq!(entry(&log, 6).parameters["columns"], "len");
    assert_eq!(entry(&log, 6).message.as_deref(), Some("derive len"));
    assert_eq!(entry(&log, 7).message, None);
    assert_eq!(entry(&log, 8).parameters["restored_from"], "3");
    assert_eq!(entry(&log, 8).message.as_deref(), Some("undo"));
    // The notes are in the commits themselves: plain lance (no palimpsest) reads them.
    let plain = lance::Dataset::open(&table.uri()).await.unwrap();
    for (version, message) in [(2, "relabel Rick"), (6, "derive len"), (8, "undo")] {
        let tx = plain
            .read_transaction_by_version(version)
            .await
            .unwrap()
            .unwrap();
        let props = tx.transaction_properties.unwrap();
        assert_eq!(props["palimpsest.message"], message, "version {version}");
    }
    // Reserved keys never leak into the caller's properties.
    assert!(log
        .iter()
        .all(|v| v.properties.keys().all(|k| !k.starts_with("palimpsest."))));
}

#[tokio::test]
async fn reserved_property_keys_are_rejected_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = create_quotes(&conn).await;
    let mut bad = CommitNote::default();
    bad.properties
        .insert("palimpsest.operation".into(), "forged".into());
    let err = table.delete("id = 1", &bad).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    assert_eq!(table.version().await.unwrap(), 1);
    assert_eq!(table.count_rows(None).await.unwrap(), 3);
}

#[tokio::test]
async fn overwrites_and_branch_logs_say_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = create_quotes(&conn).await; // v1: 3 rows
    table.delete("id = 1", &note("trim")).await.unwrap(); // v2: 2 rows
    let exp = table
        .create_branch("exp", &VersionRef::Current)
        .await
        .unwrap();
    exp.add(
        vec![quotes(&[(7, "Beth", "x")])],
        AddMode::Append,
        &note("on exp"),
    )
    .await
    .unwrap();
    let log = exp.list_versions().await.unwrap();
    let summary: Vec<(u64, &str, Option<&str>)> = log
        .iter()
        .map(|v| (v.version, v.operation.as_str(), v.message.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            (1, "create", None),
            (2, "delete", Some("trim")),
            (3, "append", Some("on exp"))
        ],
        "a branch's log starts with its parent's history"
    );

    let replaced = table
        .add(
            vec![quotes(&[(9, "Jerry", "y")])],
            AddMode::Overwrite,
            &note("reset"),
        )
        .await
        .unwrap();
    assert_eq!((replaced.rows_added, replaced.rows_deleted), (1, 2));
    let again = conn
        .create_table(
            "quotes",
            vec![quotes(&[(1, "a", "b")])],
            None,
            palimpsest_core::CreateMode::Overwrite,
            &note("recreate"),
        )
        .await
        .unwrap();
    let last = again.list_versions().await.unwrap().pop().unwrap();
    assert_eq!(last.operation, "overwrite");
    assert_eq!((last.rows_added, last.rows_deleted), (Some(1), Some(1)));
}

/// A restore through a handle that has not seen another writer's newer version still lands
/// on top of it: the newer version stays in the history and the restored rows are version 1's.
#[tokio::test]
async fn restore_from_a_handle_behind_another_writer_goes_on_top() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let first = create_quotes(&conn).await; // v1
    let note = CommitNote::default();
    first
        .add(vec![quotes(&[(10, "Morty", "q")])], AddMode::Append, &note)
        .await
        .unwrap(); // v2
    let other = conn.open_table("quotes", None).await.unwrap();
    other
        .add(vec![quotes(&[(11, "Beth", "q")])], AddMode::Append, &note)
        .await
        .unwrap(); // v3, unseen by `first`
    assert_eq!(first.version().await.unwrap(), 2);
    let restored = first.restore(Some(1), &note).await.unwrap();
    assert_eq!(restored, 4);
    let ids: Vec<i64> = ids_and_authors(&first)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, vec![1, 2, 3]);
    let log = first.list_versions().await.unwrap();
    assert_eq!(
        log.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(log[2].operation, "append");
    assert_eq!(log[3].parameters["restored_from"], "1");
}
