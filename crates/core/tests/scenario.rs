//! The user's scenario from design.md, versions 1..9, against the core directly.

mod common;

use common::*;
use palimpsest_core::{AddMode, CommitNote, MergeInsertSpec, NewColumns, VersionRef};

fn upsert(on: &str) -> MergeInsertSpec {
    MergeInsertSpec {
        on: vec![on.to_string()],
        when_matched_update_all: true,
        when_not_matched_insert_all: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn versions_one_to_nine() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = create_quotes(&conn).await;
    assert_eq!(table.version().await.unwrap(), 1);

    let v2 = table
        .update(
            Some("author='Richard'"),
            &[("author".into(), "'Richard Daniel Sanchez'".into())],
            &CommitNote::default(),
        )
        .await
        .unwrap();
    assert_eq!((v2.version, v2.rows_updated), (2, 2));

    let more = quotes(&[
        (4, "Richard Daniel Sanchez", "That's the way the news goes!"),
        (5, "Morty", "Aww geez, Rick!"),
    ]);
    let v3 = table
        .add(vec![more], AddMode::Append, &CommitNote::default())
        .await
        .unwrap();
    assert_eq!((v3.version, v3.rows_added), (3, 2));
    let after_mod = table.version().await.unwrap();

    let sql = "arrow_cast(NULL, 'FixedSizeList(4, Float32)')";
    let v4 = table
        .add_columns(
            NewColumns::Sql(vec![("vector_minilm".into(), sql.into())]),
            &CommitNote::default(),
        )
        .await
        .unwrap();
    assert_eq!(v4.version, 4);

    let ids = [1, 2, 3, 4, 5];
    let v5 = table
        .merge_insert(
            &upsert("id"),
            vec![vectors_for(&ids, "vector_minilm", 4)],
            &CommitNote::default(),
        )
        .await
        .unwrap();
    assert_eq!((v5.version, v5.rows_updated, v5.rows_added), (5, 5, 0));
    assert_eq!(
        table
            .count_rows(Some("vector_minilm IS NULL"))
            .await
            .unwrap(),
        0
    );

    let versions = table.list_versions().await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert!(versions
        .windows(2)
        .all(|w| w[0].timestamp_ms <= w[1].timestamp_ms));

    let v6 = table
        .restore(Some(after_mod), &CommitNote::default())
        .await
        .unwrap();
    assert_eq!(v6, 6);
    let schema = table.schema().await.unwrap();
    assert!(schema.field_with_name("vector_minilm").is_err());
    assert_eq!(table.count_rows(None).await.unwrap(), 5);

    let sql = "arrow_cast(NULL, 'FixedSizeList(6, Float32)')";
    table
        .add_columns(
            NewColumns::Sql(vec![("vector_mpnet".into(), sql.into())]),
            &CommitNote::default(),
        )
        .await
        .unwrap();
    let v8 = table
        .merge_insert(
            &upsert("id"),
            vec![vectors_for(&ids, "vector_mpnet", 6)],
            &CommitNote::default(),
        )
        .await
        .unwrap();
    assert_eq!(v8.version, 8);

    table.checkout_latest().await.unwrap();
    let v9 = table
        .delete("author != 'Richard Daniel Sanchez'", &CommitNote::default())
        .await
        .unwrap();
    assert_eq!((v9.version, v9.rows_deleted), (9, 2));
    assert_eq!(
        ids_and_authors(&table).await,
        vec![
            (1, "Richard Daniel Sanchez".to_string()),
            (3, "Richard Daniel Sanchez".to_string()),
            (4, "Richard Daniel Sanchez".to_string()),
        ]
    );

    // Old versions stay readable: version 1 has the original authors.
    table.checkout(1).await.unwrap();
    let v1_rows = ids_and_authors(&table).await;
    assert_eq!(v1_rows[0], (1, "Richard".to_string()));
    assert_eq!(v1_rows.len(), 3);
}

#[tokio::test]
async fn tags_and_time_travel() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = create_quotes(&conn).await;
    let t1 = table.list_versions().await.unwrap()[0].timestamp_ms;
    std::thread::sleep(std::time::Duration::from_millis(20));
    table
        .delete("id = 1", &CommitNote::default())
        .await
        .unwrap();

    table.create_tag("snapshot", 1).await.unwrap();
    assert_eq!(table.version().await.unwrap(), 2, "tags create no versions");
    assert_eq!(table.tag_version("snapshot").await.unwrap(), 1);
    let dup = table.create_tag("snapshot", 2).await.unwrap_err();
    assert_eq!(
        dup.code,
        palimpsest_core::ErrorCode::InvalidArgument,
        "{dup}"
    );
    let missing_version = table.create_tag("later", 9).await.unwrap_err();
    assert_eq!(
        missing_version.code,
        palimpsest_core::ErrorCode::VersionNotFound
    );

    assert_eq!(table.checkout_tag("snapshot").await.unwrap(), 1);
    assert_eq!(table.count_rows(None).await.unwrap(), 3);
    table.checkout_latest().await.unwrap();

    table.update_tag("snapshot", 2).await.unwrap();
    let tags = table.list_tags().await.unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!((tags[0].name.as_str(), tags[0].version), ("snapshot", 2));
    table.delete_tag("snapshot").await.unwrap();
    let gone = table.tag_version("snapshot").await.unwrap_err();
    assert_eq!(gone.code, palimpsest_core::ErrorCode::TagNotFound);

    // As of the first version's timestamp: version 1; before it: no version.
    assert_eq!(table.checkout_as_of(t1).await.unwrap(), 1);
    assert_eq!(table.count_rows(None).await.unwrap(), 3);
    let before = table.checkout_as_of(t1 - 60_000).await.unwrap_err();
    assert_eq!(before.code, palimpsest_core::ErrorCode::VersionNotFound);
}

#[tokio::test]
async fn branches_fork_without_touching_main() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let main = create_quotes(&conn).await;
    main.delete("id = 1", &CommitNote::default()).await.unwrap(); // main v2: ids 2, 3
    assert_eq!(main.current_branch().await.unwrap(), None);

    let exp = main
        .create_branch("exp", &VersionRef::Current)
        .await
        .unwrap();
    assert_eq!(exp.current_branch().await.unwrap().as_deref(), Some("exp"));
    assert_eq!(exp.count_rows(None).await.unwrap(), 2);
    exp.add(
        vec![quotes(&[(10, "Beth", "Horse surgeon")])],
        AddMode::Append,
        &CommitNote::default(),
    )
    .await
    .unwrap();
    assert_eq!(exp.count_rows(None).await.unwrap(), 3);
    assert_eq!(
        main.count_rows(None).await.unwrap(),
        2,
        "branch writes stay off main"
    );

    main.delete("id = 2", &CommitNote::default()).await.unwrap();
    assert_eq!(main.count_rows(None).await.unwrap(), 1);
    assert_eq!(
        exp.count_rows(None).await.unwrap(),
        3,
        "main writes stay off the branch"
    );

    let branches = main.list_branches().await.unwrap();
    assert_eq!(branches.len(), 1);
    assert_eq!(
        (branches[0].name.as_str(), branches[0].parent_version),
        ("exp", 2)
    );

    // A second handle can switch to the branch and back.
    let other = conn.open_table("quotes", None).await.unwrap();
    other.checkout_branch("exp").await.unwrap();
    assert_eq!(other.count_rows(None).await.unwrap(), 3);
    other.checkout_branch("main").await.unwrap();
    assert_eq!(other.count_rows(None).await.unwrap(), 1);

    let missing = other.checkout_branch("nope").await.unwrap_err();
    assert_eq!(missing.code, palimpsest_core::ErrorCode::BranchNotFound);
    let dup = main
        .create_branch("exp", &VersionRef::Current)
        .await
        .err()
        .unwrap();
    assert_eq!(
        dup.code,
        palimpsest_core::ErrorCode::InvalidArgument,
        "{dup}"
    );

    main.delete_branch("exp").await.unwrap();
    assert!(main.list_branches().await.unwrap().is_empty());
    assert_eq!(main.count_rows(None).await.unwrap(), 1);
}

#[tokio::test]
async fn shallow_clones_share_data_and_diverge() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let source = create_quotes(&conn).await; // v1: 3 rows
    source
        .delete("id = 1", &CommitNote::default())
        .await
        .unwrap(); // v2: 2 rows
    source.create_tag("first", 1).await.unwrap();

    let latest = conn
        .clone_table(
            "copy",
            &source.uri(),
            &palimpsest_core::CloneSource::default(),
        )
        .await
        .unwrap();
    assert_eq!(latest.count_rows(None).await.unwrap(), 2);
    latest
        .delete("id = 2", &CommitNote::default())
        .await
        .unwrap();
    assert_eq!(latest.count_rows(None).await.unwrap(), 1);
    assert_eq!(
        source.count_rows(None).await.unwrap(),
        2,
        "the source is untouched"
    );

    let tagged = palimpsest_core::CloneSource {
        tag: Some("first".into()),
        ..Default::default()
    };
    let from_tag = conn
        .clone_table("copy2", &source.uri(), &tagged)
        .await
        .unwrap();
    assert_eq!(from_tag.count_rows(None).await.unwrap(), 3);

    let missing = palimpsest_core::CloneSource {
        version: Some(9),
        ..Default::default()
    };
    let err = conn
        .clone_table("copy3", &source.uri(), &missing)
        .await
        .err()
        .unwrap();
    assert_eq!(err.code, palimpsest_core::ErrorCode::VersionNotFound);
    let exists = conn
        .clone_table(
            "copy",
            &source.uri(),
            &palimpsest_core::CloneSource::default(),
        )
        .await
        .err()
        .unwrap();
    assert_eq!(exists.code, palimpsest_core::ErrorCode::TableExists);
    let nowhere = conn
        .clone_table(
            "copy4",
            "/nonexistent/x.lance",
            &palimpsest_core::CloneSource::default(),
        )
        .await
        .err()
        .unwrap();
    assert_eq!(nowhere.code, palimpsest_core::ErrorCode::TableNotFound);
}
