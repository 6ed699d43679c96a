//! Tables with and without stable row ids: the flag a new table gets, and that an overwrite
//! keeps it (asking for the other kind fails before anything is written).

mod common;

use common::{connection, quotes};
use palimpsest_core::{CommitNote, CreateMode, CreateOptions, ErrorCode};

/// `mode`, asking for a table with or without stable row ids.
fn asking(mode: CreateMode, stable_row_ids: bool) -> CreateOptions {
    CreateOptions {
        mode,
        stable_row_ids: Some(stable_row_ids),
    }
}

#[tokio::test]
async fn new_tables_have_stable_row_ids_unless_asked_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let rows = || vec![quotes(&[(1, "a", "x"), (2, "b", "y")])];
    let note = CommitNote::default();
    let default = conn
        .create_table("d", rows(), None, CreateMode::Create, &note)
        .await
        .unwrap();
    assert!(default.uses_stable_row_ids());
    let plain = conn
        .create_table("p", rows(), None, asking(CreateMode::Create, false), &note)
        .await
        .unwrap();
    assert!(!plain.uses_stable_row_ids());

    // An overwrite keeps the kind, with or without the option naming it.
    let again = conn
        .create_table("p", rows(), None, CreateMode::Overwrite, &note)
        .await
        .unwrap();
    assert!(!again.uses_stable_row_ids());
    let version = again.version().await.unwrap();
    let Err(err) = conn
        .create_table(
            "p",
            rows(),
            None,
            asking(CreateMode::Overwrite, true),
            &note,
        )
        .await
    else {
        panic!("an overwrite asking for stable row ids on a table without them succeeded");
    };
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    assert!(err.to_string().contains("drop the table first"), "{err}");
    let reopened = conn.open_table("p", None).await.unwrap();
    assert_eq!(reopened.version().await.unwrap(), version);
    assert!(!reopened.uses_stable_row_ids());
}
