//! Every failing write reports a typed error and leaves the version and rows as they were.

mod common;

use common::*;
use palimpsest_core::{AddMode, CommitNote, ErrorCode, MergeInsertSpec, NewColumns, TableHandle};

async fn snapshot(table: &TableHandle) -> (u64, Vec<(i64, String)>) {
    (table.version().await.unwrap(), ids_and_authors(table).await)
}

#[tokio::test]
async fn failed_writes_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = create_quotes(&conn).await;
    let before = snapshot(&table).await;

    let bad_sql = table
        .update(
            Some("author = = 'x'"),
            &[("author".into(), "'y'".into())],
            &CommitNote::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(bad_sql.code, ErrorCode::InvalidPredicate, "{bad_sql}");

    let unknown = table
        .update(
            Some("nope = 1"),
            &[("author".into(), "'y'".into())],
            &CommitNote::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(unknown.code, ErrorCode::ColumnNotFound, "{unknown}");

    let unknown_set = table
        .update(
            None,
            &[("nope".into(), "'y'".into())],
            &CommitNote::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(unknown_set.code, ErrorCode::ColumnNotFound);

    let bad_delete = table
        .delete("id >>> 3", &CommitNote::default())
        .await
        .unwrap_err();
    assert_eq!(bad_delete.code, ErrorCode::InvalidPredicate, "{bad_delete}");
    let unknown_delete = table
        .delete("nope > 3", &CommitNote::default())
        .await
        .unwrap_err();
    assert_eq!(
        unknown_delete.code,
        ErrorCode::ColumnNotFound,
        "{unknown_delete}"
    );

    let wrong_type = vectors_for(&[9], "author", 3);
    let mismatch = table
        .add(
            vec![wrong_type.clone()],
            AddMode::Append,
            &CommitNote::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(mismatch.code, ErrorCode::SchemaMismatch);
    let spec = MergeInsertSpec {
        on: vec!["id".into()],
        when_matched_update_all: true,
        ..Default::default()
    };
    let merge_mismatch = table
        .merge_insert(&spec, vec![wrong_type], &CommitNote::default())
        .await
        .unwrap_err();
    assert_eq!(merge_mismatch.code, ErrorCode::SchemaMismatch);

    let bad_column_sql = table
        .add_columns(
            NewColumns::Sql(vec![("x".into(), "nope + 1".into())]),
            &CommitNote::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        bad_column_sql.code,
        ErrorCode::ColumnNotFound,
        "{bad_column_sql}"
    );

    let duplicate = table
        .add_columns(
            NewColumns::Sql(vec![("author".into(), "'x'".into())]),
            &CommitNote::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(duplicate.code, ErrorCode::SchemaMismatch);

    let drop_unknown = table
        .drop_columns(&["nope".into()], &CommitNote::default())
        .await
        .unwrap_err();
    assert_eq!(drop_unknown.code, ErrorCode::ColumnNotFound);

    assert_eq!(snapshot(&table).await, before);
}

#[tokio::test]
async fn checked_out_versions_are_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = create_quotes(&conn).await;
    table
        .delete("id = 1", &CommitNote::default())
        .await
        .unwrap();
    table.checkout(1).await.unwrap();
    let before = snapshot(&table).await;
    assert_eq!(before.0, 1);

    let more = quotes(&[(7, "Summer", "Whatever")]);
    let errors = vec![
        table
            .add(vec![more], AddMode::Append, &CommitNote::default())
            .await
            .unwrap_err(),
        table
            .delete("id = 2", &CommitNote::default())
            .await
            .unwrap_err(),
        table
            .update(
                None,
                &[("author".into(), "'x'".into())],
                &CommitNote::default(),
            )
            .await
            .unwrap_err(),
        table
            .drop_columns(&["quote".into()], &CommitNote::default())
            .await
            .unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.code, ErrorCode::ReadOnlyCheckout, "{err}");
    }
    assert_eq!(snapshot(&table).await, before);

    let missing = table.checkout(42).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::VersionNotFound);

    // restore() of the checked-out version makes a new version with its rows.
    let restored = table.restore(None, &CommitNote::default()).await.unwrap();
    assert_eq!(restored, 3);
    assert_eq!(ids_and_authors(&table).await, before.1);
}

#[tokio::test]
async fn connection_errors() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let missing = conn.open_table("nothing", None).await.err().unwrap();
    assert_eq!(missing.code, ErrorCode::TableNotFound);
    create_quotes(&conn).await;
    let exists = conn
        .create_table(
            "quotes",
            vec![quotes(&[(1, "a", "b")])],
            None,
            palimpsest_core::CreateMode::Create,
            &CommitNote::default(),
        )
        .await
        .err()
        .unwrap();
    assert_eq!(exists.code, ErrorCode::TableExists);
    assert_eq!(
        conn.table_names().await.unwrap(),
        vec!["quotes".to_string()]
    );
    let traversal = conn.open_table("../etc", None).await.err().unwrap();
    assert_eq!(traversal.code, ErrorCode::InvalidArgument);
    conn.drop_table("quotes").await.unwrap();
    assert!(conn.table_names().await.unwrap().is_empty());
}

/// lance-format/lance#4585: two writers insert the same new key, each planned against a
/// version without it. palimpsest must not leave the key twice.
#[tokio::test]
async fn concurrent_inserts_of_one_key_leave_one_row() {
    for update_all in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let conn = connection(&dir);
        let first = create_quotes(&conn).await;
        let second = conn.open_table("quotes", None).await.unwrap();
        let spec = MergeInsertSpec {
            on: vec!["id".into()],
            when_matched_update_all: update_all,
            when_not_matched_insert_all: true,
            ..Default::default()
        };
        let note = CommitNote::default();
        first
            .merge_insert(&spec, vec![quotes(&[(100, "first", "a")])], &note)
            .await
            .unwrap();
        // `second` still shows version 1, where key 100 does not exist.
        second
            .merge_insert(&spec, vec![quotes(&[(100, "second", "b")])], &note)
            .await
            .unwrap();
        let latest = conn.open_table("quotes", None).await.unwrap();
        let rows: Vec<(i64, String)> = ids_and_authors(&latest)
            .await
            .into_iter()
            .filter(|(id, _)| *id == 100)
            .collect();
        let winner = if update_all { "second" } else { "first" };
        assert_eq!(
            rows,
            vec![(100, winner.to_string())],
            "update_all={update_all}"
        );
    }
}

/// A conflicting write retried zero times fails with COMMIT_CONFLICT and leaves nothing.
#[tokio::test]
async fn conflicts_fail_cleanly_when_retries_run_out() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir).with_conflict_retries(0);
    let first = create_quotes(&conn).await;
    let second = conn.open_table("quotes", None).await.unwrap();
    let note = CommitNote::default();
    first
        .update(
            Some("id = 1"),
            &[("author".into(), "'first'".into())],
            &note,
        )
        .await
        .unwrap();
    // `second` still shows version 1 and rewrites the same row.
    let err = second
        .update(
            Some("id = 1"),
            &[("author".into(), "'second'".into())],
            &note,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::CommitConflict, "{err}");
    let latest = conn.open_table("quotes", None).await.unwrap();
    assert_eq!(
        latest.version().await.unwrap(),
        2,
        "nothing of the failed write"
    );
    assert_eq!(ids_and_authors(&latest).await[0], (1, "first".to_string()));

    // With retries (the default), the same race resolves in some serial order.
    let conn = connection(&dir);
    let third = conn.open_table("quotes", None).await.unwrap();
    let fourth = conn.open_table("quotes", None).await.unwrap();
    third
        .update(
            Some("id = 2"),
            &[("author".into(), "'third'".into())],
            &note,
        )
        .await
        .unwrap();
    fourth
        .update(
            Some("id = 2"),
            &[("author".into(), "'fourth'".into())],
            &note,
        )
        .await
        .unwrap();
    let latest = conn.open_table("quotes", None).await.unwrap();
    assert_eq!(ids_and_authors(&latest).await[1], (2, "fourth".to_string()));
}

/// With a read-consistency interval of zero a handle sees other handles' commits on its
/// next read; without one it keeps its version until checkout_latest().
#[tokio::test]
async fn read_consistency_interval_controls_freshness() {
    let dir = tempfile::tempdir().unwrap();
    let writer_conn = connection(&dir);
    let writer = create_quotes(&writer_conn).await;
    let eager = connection(&dir)
        .with_read_consistency_interval(Some(std::time::Duration::ZERO))
        .open_table("quotes", None)
        .await
        .unwrap();
    let lazy = connection(&dir).open_table("quotes", None).await.unwrap();
    writer
        .add(
            vec![quotes(&[(9, "x", "y")])],
            AddMode::Append,
            &CommitNote::default(),
        )
        .await
        .unwrap();
    assert_eq!(eager.count_rows(None).await.unwrap(), 4);
    assert_eq!(eager.version().await.unwrap(), 2);
    assert_eq!(lazy.count_rows(None).await.unwrap(), 3);
    lazy.checkout_latest().await.unwrap();
    assert_eq!(lazy.count_rows(None).await.unwrap(), 4);
}
