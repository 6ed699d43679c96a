//! Damaged tables: each kind of damage gives CORRUPT_TABLE naming the file, versions that do
//! not need the damaged file stay readable, and verify() reports the damage without failing.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use palimpsest_core::{AddMode, CommitNote, ErrorCode, ProblemKind};

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// v1: 3 rows (data file A); v2: +2 rows (data file B); v3: delete id 1 (deletion file).
async fn damaged_setup() -> (tempfile::TempDir, palimpsest_core::Connection, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = create_quotes(&conn).await;
    let note = CommitNote::default();
    let before = files_in(&dir.path().join("quotes.lance/data"));
    table
        .add(
            vec![quotes(&[(4, "a", "b"), (5, "c", "d")])],
            AddMode::Append,
            &note,
        )
        .await
        .unwrap();
    let after = files_in(&dir.path().join("quotes.lance/data"));
    let added = after.into_iter().find(|f| !before.contains(f)).unwrap();
    table.delete("id = 1", &note).await.unwrap();
    (dir, conn, added)
}

#[tokio::test]
async fn truncated_or_missing_data_files_are_reported() {
    for damage in ["truncate", "delete"] {
        let (dir, conn, v2_file) = damaged_setup().await;
        if damage == "truncate" {
            let len = std::fs::metadata(&v2_file).unwrap().len();
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&v2_file)
                .unwrap();
            file.set_len(len / 2).unwrap();
        } else {
            std::fs::remove_file(&v2_file).unwrap();
        }
        let name = v2_file.file_name().unwrap().to_str().unwrap().to_string();
        let table = conn.open_table("quotes", None).await.unwrap();
        let err = table.query(&Default::default()).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::CorruptTable, "{damage}: {err}");
        assert!(err.message.contains(&name), "{damage}: {err}");

        // Version 1 does not use the damaged file.
        let v1 = conn.open_table("quotes", Some(1)).await.unwrap();
        assert_eq!(ids_and_authors(&v1).await.len(), 3);

        let report = table.verify(None).await.unwrap();
        assert_eq!(report.problems.len(), 1, "{damage}: {report:?}");
        assert!(report.problems[0].path.ends_with(&name));
        let want = if damage == "truncate" {
            ProblemKind::Truncated
        } else {
            ProblemKind::Missing
        };
        assert_eq!(report.problems[0].kind, want);
        assert!(table.verify(Some(1)).await.unwrap().problems.is_empty());
        drop(dir);
    }
}

#[tokio::test]
async fn missing_deletion_file_and_garbage_manifest_are_reported() {
    let (dir, conn, _) = damaged_setup().await;
    let deletions = files_in(&dir.path().join("quotes.lance/_deletions"));
    assert_eq!(deletions.len(), 1);
    std::fs::remove_file(&deletions[0]).unwrap();
    let table = conn.open_table("quotes", None).await.unwrap();
    let err = table.count_rows(None).await.err();
    let err = match err {
        Some(err) => err,
        None => table.query(&Default::default()).await.unwrap_err(),
    };
    assert_eq!(err.code, ErrorCode::CorruptTable, "{err}");
    assert!(err.message.contains("_deletions"), "{err}");
    let report = table.verify(None).await.unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::Missing && p.path.starts_with("_deletions/")),
        "{report:?}"
    );
    // The version before the delete is whole.
    let v2 = table.verify(Some(2)).await.unwrap();
    assert!(v2.problems.is_empty(), "{v2:?}");

    // Garbage in the latest manifest: opening the latest fails, older versions open.
    let manifests = files_in(&dir.path().join("quotes.lance/_versions"));
    // V2 manifest names count down from u64::MAX, so the latest version has the smallest.
    let version_of = |p: &PathBuf| -> u64 {
        let stem: u64 = p.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        if stem > u64::MAX / 2 {
            u64::MAX - stem
        } else {
            stem
        }
    };
    let latest = manifests
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "manifest"))
        .max_by_key(|p| version_of(p))
        .unwrap();
    assert_eq!(version_of(latest), 3);
    std::fs::write(latest, b"this is not a manifest at all, just garbage bytes").unwrap();
    let err = conn.open_table("quotes", None).await.err().unwrap();
    assert_eq!(err.code, ErrorCode::CorruptTable, "{err}");
    assert!(err.message.contains("_versions"), "{err}");
    let v2 = conn.open_table("quotes", Some(2)).await.unwrap();
    assert_eq!(v2.count_rows(None).await.unwrap(), 5);
}
