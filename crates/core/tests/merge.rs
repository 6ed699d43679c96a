//! Merging a branch back: clean merges, conflicts and their resolutions, schema changes.

mod common;

use common::*;
use palimpsest_core::{
    AddMode, CommitNote, ConflictResolution, ErrorCode, MergeInsertSpec, NewColumns, VersionRef,
};

fn id_key() -> Vec<String> {
    vec!["id".to_string()]
}

#[tokio::test]
async fn changes_on_either_side_merge_as_one_version() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let main = create_quotes(&conn).await; // v1: ids 1, 2, 3
    let note = CommitNote::default();
    let exp = main
        .create_branch("exp", &VersionRef::Current)
        .await
        .unwrap();
    exp.update(Some("id = 1"), &[("author".into(), "'Rick'".into())], &note)
        .await
        .unwrap();
    exp.delete("id = 2", &note).await.unwrap();
    exp.add(vec![quotes(&[(10, "Beth", "x")])], AddMode::Append, &note)
        .await
        .unwrap();
    main.update(
        Some("id = 3"),
        &[("author".into(), "'Pickle'".into())],
        &note,
    )
    .await
    .unwrap(); // main v2

    let merged = main
        .merge_branch(
            "exp",
            &id_key(),
            ConflictResolution::Fail,
            &CommitNote::message("ship exp"),
        )
        .await
        .unwrap();
    assert_eq!(merged.version, 3, "one new version on main");
    assert_eq!(
        (merged.rows_added, merged.rows_updated, merged.rows_deleted),
        (1, 1, 1)
    );
    assert_eq!(
        ids_and_authors(&main).await,
        vec![
            (1, "Rick".to_string()),
            (3, "Pickle".to_string()),
            (10, "Beth".to_string())
        ]
    );
    let log = main.list_versions().await.unwrap();
    let last = log.last().unwrap();
    assert_eq!(last.operation, "merge_branch");
    assert_eq!(last.parameters["branch"], "exp");
    assert_eq!(last.message.as_deref(), Some("ship exp"));
    // The branch itself is untouched.
    assert_eq!(exp.count_rows(None).await.unwrap(), 3);
}

#[tokio::test]
async fn conflicting_keys_fail_unless_a_side_is_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let main = create_quotes(&conn).await;
    let note = CommitNote::default();
    let exp = main
        .create_branch("exp", &VersionRef::Current)
        .await
        .unwrap();
    exp.update(
        Some("id = 1"),
        &[("author".into(), "'Theirs'".into())],
        &note,
    )
    .await
    .unwrap();
    exp.delete("id = 2", &note).await.unwrap();
    // Same change on both sides is not a conflict.
    exp.update(Some("id = 3"), &[("author".into(), "'Same'".into())], &note)
        .await
        .unwrap();
    main.update(Some("id = 1"), &[("author".into(), "'Ours'".into())], &note)
        .await
        .unwrap();
    main.update(Some("id = 2"), &[("author".into(), "'Kept'".into())], &note)
        .await
        .unwrap();
    main.update(Some("id = 3"), &[("author".into(), "'Same'".into())], &note)
        .await
        .unwrap();
    let before = main.version().await.unwrap();

    let err = main
        .merge_branch("exp", &id_key(), ConflictResolution::Fail, &note)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::MergeConflict, "{err}");
    assert!(
        err.message.contains("id=1") && err.message.contains("id=2"),
        "{err}"
    );
    assert!(!err.message.contains("id=3"), "{err}");
    assert_eq!(main.version().await.unwrap(), before, "nothing written");

    main.merge_branch("exp", &id_key(), ConflictResolution::Ours, &note)
        .await
        .unwrap();
    assert_eq!(
        ids_and_authors(&main).await,
        vec![
            (1, "Ours".to_string()),
            (2, "Kept".to_string()),
            (3, "Same".to_string())
        ]
    );
    main.restore(Some(before), &note).await.unwrap();
    main.merge_branch("exp", &id_key(), ConflictResolution::Theirs, &note)
        .await
        .unwrap();
    assert_eq!(
        ids_and_authors(&main).await,
        vec![(1, "Theirs".to_string()), (3, "Same".to_string())]
    );
}

#[tokio::test]
async fn a_column_added_on_the_branch_carries_over() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let main = create_quotes(&conn).await;
    let note = CommitNote::default();
    let exp = main
        .create_branch("ab", &VersionRef::Current)
        .await
        .unwrap();
    let sql = "arrow_cast(NULL, 'FixedSizeList(4, Float32)')";
    exp.add_columns(
        NewColumns::Sql(vec![("vector_minilm".into(), sql.into())]),
        &note,
    )
    .await
    .unwrap();
    let spec = MergeInsertSpec {
        on: id_key(),
        when_matched_update_all: true,
        ..Default::default()
    };
    exp.merge_insert(
        &spec,
        vec![vectors_for(&[1, 2, 3], "vector_minilm", 4)],
        &note,
    )
    .await
    .unwrap();
    main.add(vec![quotes(&[(20, "Jerry", "y")])], AddMode::Append, &note)
        .await
        .unwrap();
    let before = main.version().await.unwrap();

    let merged = main
        .merge_branch("ab", &id_key(), ConflictResolution::Fail, &note)
        .await
        .unwrap();
    assert_eq!(merged.version, before + 1, "one new version");
    let schema = main.schema().await.unwrap();
    assert!(schema.field_with_name("vector_minilm").is_ok());
    assert_eq!(main.count_rows(None).await.unwrap(), 4);
    assert_eq!(
        main.count_rows(Some("vector_minilm IS NOT NULL"))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        main.count_rows(Some("id = 20 AND vector_minilm IS NULL"))
            .await
            .unwrap(),
        1,
        "rows only main has keep a null vector"
    );
    let err = main
        .merge_branch("nope", &id_key(), ConflictResolution::Fail, &note)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::BranchNotFound);
}
