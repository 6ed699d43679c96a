//! Tables with and without stable row ids: the flag a new table gets, that an overwrite
//! keeps it (asking for the other kind fails before anything is written), and that writes to
//! tables without them take the by-address paths too.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use common::{connection, id_val, id_val_state, ids_and_authors, quotes};
use palimpsest_core::arrow_array::RecordBatch;
use palimpsest_core::arrow_schema::{Field, Schema};
use palimpsest_core::{
    AddMode, CommitNote, Connection, CreateMode, CreateOptions, ErrorCode, IndexSpec,
    MergeInsertSpec, TableHandle,
};

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

/// id -> val of every live row (row ids are addresses here, so they are left out).
async fn values(table: &TableHandle) -> BTreeMap<i64, i64> {
    id_val_state(table)
        .await
        .into_iter()
        .map(|(id, (val, _))| (id, val))
        .collect()
}

/// Table `quotes` without stable row ids, made of `rows`, through two handles.
async fn two_writers(conn: &Connection, rows: RecordBatch) -> (TableHandle, TableHandle) {
    let first = conn
        .create_table(
            "quotes",
            vec![rows],
            None,
            asking(CreateMode::Create, false),
            &CommitNote::default(),
        )
        .await
        .unwrap();
    (first, conn.open_table("quotes", None).await.unwrap())
}

/// The authors of the rows with key `id`, sorted.
async fn authors_of(table: &TableHandle, id: i64) -> Vec<String> {
    let mut authors: Vec<String> = ids_and_authors(table)
        .await
        .into_iter()
        .filter(|(key, _)| *key == id)
        .map(|(_, author)| author)
        .collect();
    authors.sort();
    authors
}

/// Table `quotes` with keys 1 and 2, with or without stable row ids.
async fn two_quotes(conn: &Connection, stable: bool) -> TableHandle {
    conn.create_table(
        "quotes",
        vec![quotes(&[(1, "a", "x"), (2, "b", "y")])],
        None,
        asking(CreateMode::Create, stable),
        &CommitNote::default(),
    )
    .await
    .unwrap()
}

fn upsert_spec(on: &str) -> MergeInsertSpec {
    MergeInsertSpec {
        on: vec![on.into()],
        when_matched_update_all: true,
        when_not_matched_insert_all: true,
        ..Default::default()
    }
}

/// Without stable row ids, updates and whole-row upserts still read the rows they rewrite
/// from memory: both work while the data files are out of reach, give the rows a model
/// predicts, and an index on the key finds the new values.
#[tokio::test]
async fn writes_without_stable_row_ids_read_rows_from_memory() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let note = CommitNote::default();
    let table = conn
        .create_table(
            "t",
            vec![id_val(0..3_000, |i| i)],
            None,
            asking(CreateMode::Create, false),
            &note,
        )
        .await
        .unwrap();
    table
        .add(vec![id_val(3_000..6_000, |i| i)], AddMode::Append, &note)
        .await
        .unwrap();
    table
        .create_index("id", &IndexSpec::BTree, None, false, &note)
        .await
        .unwrap();
    table.delete("id % 100 = 99", &note).await.unwrap();
    // The second read keeps the columns.
    values(&table).await;
    let mut model = values(&table).await;

    let hidden = common::OutOfReach::new(&dir, common::data_files(&dir, "t"));
    // 2% of the rows: the upsert after it finds most of its key column in memory still.
    let updated = table
        .update(
            Some("id % 50 = 3"),
            &[("val".into(), "val * 2".into())],
            &note,
        )
        .await;
    // Matches in both fragments, a deleted id (inserted again) and ids past the end.
    let source: Vec<i64> = (2_990..3_010).chain([199, 6_000, 6_001]).collect();
    let upserted = table
        .merge_insert(
            &upsert_spec("id"),
            vec![id_val(source.iter().copied(), |i| -i)],
            &note,
        )
        .await;
    drop(hidden);
    let (updated, upserted) = (updated.unwrap(), upserted.unwrap());

    let mut rows_updated = 0;
    for (id, val) in model.iter_mut() {
        if id % 50 == 3 {
            *val *= 2;
            rows_updated += 1;
        }
    }
    assert_eq!(updated.rows_updated, rows_updated);
    let mut added = 0;
    for id in &source {
        if model.insert(*id, -id).is_none() {
            added += 1;
        }
    }
    assert_eq!(
        (upserted.rows_updated, upserted.rows_added),
        (source.len() as u64 - added, added)
    );
    assert!(!table.uses_stable_row_ids());
    assert_eq!(values(&table).await, model);
    // Rows that moved are found with their new values by filters the index on `id` serves.
    for id in [3, 53, 2_995, 6_001] {
        let filter = format!("id = {id} AND val = {}", model[&id]);
        assert_eq!(table.count_rows(Some(&filter)).await.unwrap(), 1, "id {id}");
    }
}

/// A table without stable row ids whose key is its unenforced primary key: two writers that
/// both insert key 100, each planned against a version without it, leave it once, because
/// lance's merge records the inserted keys and the second commit conflicts and is retried.
#[tokio::test]
async fn a_primary_key_keeps_concurrent_inserts_apart_without_stable_row_ids() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let note = CommitNote::default();
    let marked = |batch: RecordBatch| {
        let fields: Vec<Field> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| {
                let field = f.as_ref().clone();
                if f.name() == "id" {
                    field.with_nullable(false).with_metadata(HashMap::from([(
                        "lance-schema:unenforced-primary-key".to_string(),
                        "true".to_string(),
                    )]))
                } else {
                    field
                }
            })
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), batch.columns().to_vec()).unwrap()
    };
    let rows = |rows: &[(i64, &str, &str)]| marked(quotes(rows));
    let (first, second) = two_writers(&conn, rows(&[(1, "a", "x"), (2, "b", "y")])).await;
    first
        .merge_insert(
            &upsert_spec("id"),
            vec![rows(&[(100, "first", "a")])],
            &note,
        )
        .await
        .unwrap();
    // `second` still shows the first version, where key 100 does not exist.
    second
        .merge_insert(
            &upsert_spec("id"),
            vec![rows(&[(100, "second", "b")])],
            &note,
        )
        .await
        .unwrap();
    let latest = conn.open_table("quotes", None).await.unwrap();
    assert_eq!(authors_of(&latest, 100).await, vec!["second"]);
    // lance retried the second merge (an update of key 100): no version removed a duplicate.
    assert_eq!(latest.version().await.unwrap(), 3);
}

/// A key the table holds twice (two appends) is replaced twice by a whole-row upsert, on
/// either kind of table, as lance's merge does.
#[tokio::test]
async fn an_upsert_replaces_every_row_of_a_key() {
    for stable in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let conn = connection(&dir);
        let note = CommitNote::default();
        let table = two_quotes(&conn, stable).await;
        table
            .add(vec![quotes(&[(1, "c", "z")])], AddMode::Append, &note)
            .await
            .unwrap();
        let result = table
            .merge_insert(&upsert_spec("id"), vec![quotes(&[(1, "new", "w")])], &note)
            .await
            .unwrap();
        assert_eq!((result.rows_updated, result.rows_added), (2, 0), "{stable}");
        let rows = ids_and_authors(&table).await;
        let new = (1, "new".to_string());
        assert_eq!(
            rows,
            vec![new.clone(), new, (2, "b".to_string())],
            "{stable}"
        );
    }
}

/// A merge insert that updates key 1 while another writer appends a second row with key 1:
/// the updated row moved into the merge's fragment, but it was not inserted, so no row is
/// deleted as a duplicate (on either kind of table).
#[tokio::test]
async fn an_updated_key_is_not_taken_for_an_inserted_one() {
    for stable in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let conn = connection(&dir);
        let note = CommitNote::default();
        let first = two_quotes(&conn, stable).await;
        let second = conn.open_table("quotes", None).await.unwrap();
        first
            .add(
                vec![quotes(&[(1, "appended", "z")])],
                AddMode::Append,
                &note,
            )
            .await
            .unwrap();
        // `second` still shows the first version, where key 1 has one row; it also inserts 3.
        let rows = vec![quotes(&[(1, "merged", "w"), (3, "merged", "v")])];
        second
            .merge_insert(&upsert_spec("id"), rows, &note)
            .await
            .unwrap();
        let latest = conn.open_table("quotes", None).await.unwrap();
        assert_eq!(
            authors_of(&latest, 1).await,
            vec!["appended", "merged"],
            "{stable}"
        );
        assert_eq!(latest.version().await.unwrap(), 3, "{stable}");
    }
}

/// lance-format/lance#4585 on a table without stable row ids (and no primary key): two
/// writers that both insert key 100, each planned against a version without it, leave it
/// once; the newest writer resolves it as if it had run second.
#[tokio::test]
async fn concurrent_inserts_of_one_key_leave_one_row_without_stable_row_ids() {
    for update_all in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let conn = connection(&dir);
        let note = CommitNote::default();
        let (first, second) = two_writers(&conn, quotes(&[(1, "a", "x"), (2, "b", "y")])).await;
        let spec = MergeInsertSpec {
            when_matched_update_all: update_all,
            ..upsert_spec("id")
        };
        first
            .merge_insert(&spec, vec![quotes(&[(100, "first", "a")])], &note)
            .await
            .unwrap();
        // `second` still shows the first version, where key 100 does not exist.
        let result = second
            .merge_insert(
                &spec,
                vec![quotes(&[(100, "second", "b"), (101, "second", "c")])],
                &note,
            )
            .await
            .unwrap();
        let latest = conn.open_table("quotes", None).await.unwrap();
        let rows = ids_and_authors(&latest).await;
        let winner = if update_all { "second" } else { "first" };
        assert_eq!(
            rows.iter()
                .filter(|(id, _)| *id >= 100)
                .cloned()
                .collect::<Vec<_>>(),
            vec![(100, winner.to_string()), (101, "second".to_string())],
            "update_all={update_all}"
        );
        assert_eq!(rows.len(), 4);
        // The serial order's counts: key 100 was there already.
        assert_eq!(result.rows_added, 1, "update_all={update_all}");
        assert_eq!(
            result.rows_updated,
            u64::from(update_all),
            "update_all={update_all}"
        );
    }
}
