//! optimize(): compaction, and pruning that keeps tags, branch fork points and the latest.

mod common;

use common::*;
use palimpsest_core::{AddMode, CommitNote, ErrorCode, OptimizeOptions, VersionRef};

/// One append (one version) per id.
async fn append_one_by_one(table: &palimpsest_core::TableHandle, ids: std::ops::Range<i64>) {
    for id in ids {
        table
            .add(
                vec![quotes(&[(id, "Morty", "q")])],
                AddMode::Append,
                &CommitNote::default(),
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn pruning_keeps_tags_fork_points_and_explains_removed_versions() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = create_quotes(&conn).await; // v1
    let note = CommitNote::default();
    append_one_by_one(&table, 10..16).await; // v2..v7
    table.create_tag("release", 2).await.unwrap();
    let branch = table
        .create_branch("exp", &VersionRef::Version(4))
        .await
        .unwrap();
    table.delete("id = 10", &note).await.unwrap(); // v8

    // Without a retention option nothing is removed, only compacted.
    let compacted = table
        .optimize(&OptimizeOptions::default(), &note)
        .await
        .unwrap();
    assert!(compacted.versions_removed.is_empty());
    assert!(compacted.fragments_removed > 0, "{compacted:?}");
    let latest = compacted.version;
    // lance reserves fragment ids in a version of its own before the rewrite.
    assert!(latest > 8);
    assert_eq!(
        table
            .list_versions()
            .await
            .unwrap()
            .last()
            .unwrap()
            .operation,
        "compaction"
    );

    let pruned = table
        .optimize(
            &OptimizeOptions {
                skip_compaction: true,
                keep_versions: Some(2),
                ..Default::default()
            },
            &note,
        )
        .await
        .unwrap();
    assert_eq!(pruned.versions_removed, vec![1, 3, 5, 6, 7, 8]);
    assert_eq!(pruned.versions_protected, vec![2, 4]);
    let left: Vec<u64> = table
        .list_versions()
        .await
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(left, vec![2, 4, latest - 1, latest]);

    // Everything kept still reads, including the branch and the tag.
    assert_eq!(table.count_rows(None).await.unwrap(), 8);
    assert_eq!(branch.count_rows(None).await.unwrap(), 6);
    assert_eq!(table.checkout_tag("release").await.unwrap(), 2);
    assert_eq!(table.count_rows(None).await.unwrap(), 4);
    table.checkout_latest().await.unwrap();

    let gone = table.checkout(3).await.unwrap_err();
    assert_eq!(gone.code, ErrorCode::VersionNotFound);
    assert!(gone.message.contains("cleaned up"), "{gone}");
    let reopened = conn.open_table("quotes", None).await.unwrap();
    assert_eq!(reopened.count_rows(None).await.unwrap(), 8);
}

#[tokio::test]
async fn age_cutoff_spares_recent_versions() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = create_quotes(&conn).await;
    table
        .add(
            vec![quotes(&[(9, "Beth", "q")])],
            AddMode::Append,
            &CommitNote::default(),
        )
        .await
        .unwrap();
    let report = table
        .optimize(
            &OptimizeOptions {
                skip_compaction: true,
                cleanup_older_than_ms: Some(3_600_000),
                ..Default::default()
            },
            &CommitNote::default(),
        )
        .await
        .unwrap();
    assert!(report.versions_removed.is_empty(), "{report:?}");
    assert_eq!(table.list_versions().await.unwrap().len(), 2);
    let zero = table
        .optimize(
            &OptimizeOptions {
                keep_versions: Some(0),
                ..Default::default()
            },
            &CommitNote::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(zero.code, ErrorCode::InvalidArgument);
}

/// A version checked out before is pinned again at once (from memory, after a look at its
/// manifest file), but never once the manifest is gone (pruned) or is another file (a branch
/// deleted and made again under the same name, whose version numbers then hold other rows).
#[tokio::test]
async fn versions_are_checked_out_at_once_only_while_their_manifest_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = create_quotes(&conn).await; // v1: ids 1..=3
    let note = CommitNote::default();
    append_one_by_one(&table, 10..13).await; // v2..v4
    let ids = |rows: Vec<(i64, String)>| rows.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    assert!(!table.checkout_at_once(2), "never checked out");
    table.checkout(2).await.unwrap();
    table.checkout_latest().await.unwrap();
    assert!(table.checkout_at_once(2));
    assert_eq!(table.checked_out_version(), Some(2));
    assert_eq!(ids(ids_and_authors(&table).await), vec![1, 2, 3, 10]);
    table.checkout_latest().await.unwrap();

    // A branch forked from v2 gains a row; its newest version is checked out once.
    let exp = table
        .create_branch("exp", &VersionRef::Version(2))
        .await
        .unwrap();
    exp.add(vec![quotes(&[(100, "Exp", "e")])], AddMode::Append, &note)
        .await
        .unwrap();
    let numbered = exp.version().await.unwrap();
    exp.checkout(numbered).await.unwrap();
    exp.checkout_latest().await.unwrap();
    // Made again from main's next version, the branch's same version number holds other rows.
    table.delete_branch("exp").await.unwrap();
    let again = table
        .create_branch("exp", &VersionRef::Version(numbered))
        .await
        .unwrap();
    assert_eq!(
        again.version().await.unwrap(),
        numbered,
        "the test's premise"
    );
    assert!(!exp.checkout_at_once(numbered), "another manifest file");
    exp.checkout(numbered).await.unwrap();
    assert_eq!(ids(ids_and_authors(&exp).await), vec![1, 2, 3, 10, 11]);

    // Pruned away: checked out before, but no longer there.
    table.checkout(1).await.unwrap();
    table.checkout_latest().await.unwrap();
    let pruned = table
        .optimize(
            &OptimizeOptions {
                skip_compaction: true,
                keep_versions: Some(1),
                ..Default::default()
            },
            &note,
        )
        .await
        .unwrap();
    assert!(pruned.versions_removed.contains(&1), "{pruned:?}");
    assert!(!table.checkout_at_once(1));
    let err = table.checkout(1).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::VersionNotFound);
}
