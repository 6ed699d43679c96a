//! Diffs and row history, checked against references computed from full snapshots over
//! randomized sequences of appends, updates, deletes, merges and restores, on one branch and
//! across branches.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::connection;
use palimpsest_core::arrow_array::{Array, ArrayRef, Int64Array, RecordBatch};
use palimpsest_core::{
    AddMode, CommitNote, CreateMode, DiffStrategy, MergeInsertSpec, QueryRequest, RowChange,
    TableDiff, TableHandle, VersionRef,
};

/// id -> val at one version.
type Snapshot = BTreeMap<i64, i64>;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn rows(ids: &[i64], vals: &[i64]) -> RecordBatch {
    let ids: ArrayRef = Arc::new(Int64Array::from(ids.to_vec()));
    let vals: ArrayRef = Arc::new(Int64Array::from(vals.to_vec()));
    RecordBatch::try_from_iter_with_nullable(vec![("id", ids, true), ("val", vals, true)]).unwrap()
}

async fn snapshot(table: &TableHandle) -> Snapshot {
    let mut out = Snapshot::new();
    for batch in table.query(&QueryRequest::default()).await.unwrap() {
        let (ids, vals) = (column(&batch, "id"), column(&batch, "val"));
        out.extend(ids.into_iter().zip(vals));
    }
    out
}

fn column(batch: &RecordBatch, name: &str) -> Vec<i64> {
    let array = batch.column_by_name(name).unwrap();
    let ints = array.as_any().downcast_ref::<Int64Array>().unwrap();
    (0..ints.len()).map(|i| ints.value(i)).collect()
}

/// Every value written is unique (op number * 1_000_000 + id), so two versions hold equal
/// values for a row only when it was not changed between them.
struct Writer {
    rng: Rng,
    next_id: i64,
    op: i64,
}

impl Writer {
    async fn random_op(&mut self, table: &TableHandle, versions: &[u64]) {
        self.op += 1;
        let stamp = self.op * 1_000_000;
        let note = CommitNote::default();
        let live = snapshot(table).await;
        match self.rng.below(if versions.len() > 2 { 5 } else { 4 }) {
            0 => {
                let n = 1 + self.rng.below(4) as i64;
                let ids: Vec<i64> = (self.next_id..self.next_id + n).collect();
                self.next_id += n;
                let vals: Vec<i64> = ids.iter().map(|id| stamp + id).collect();
                table
                    .add(vec![rows(&ids, &vals)], AddMode::Append, &note)
                    .await
                    .unwrap();
            }
            1 => {
                let m = 2 + self.rng.below(3);
                let r = self.rng.below(m);
                let filter = format!("id % {m} = {r}");
                let value = format!("{stamp} + id");
                table
                    .update(Some(&filter), &[("val".into(), value)], &note)
                    .await
                    .unwrap();
            }
            2 => {
                let m = 3 + self.rng.below(4);
                let r = self.rng.below(m);
                table
                    .delete(&format!("id % {m} = {r}"), &note)
                    .await
                    .unwrap();
            }
            3 => {
                // Upsert a few live rows with new values and a few new ids.
                let mut ids: Vec<i64> = live
                    .keys()
                    .copied()
                    .filter(|_| self.rng.below(3) == 0)
                    .collect();
                for _ in 0..self.rng.below(3) {
                    ids.push(self.next_id);
                    self.next_id += 1;
                }
                if ids.is_empty() {
                    ids.push(self.next_id);
                    self.next_id += 1;
                }
                let vals: Vec<i64> = ids.iter().map(|id| stamp + id).collect();
                let spec = MergeInsertSpec {
                    on: vec!["id".into()],
                    when_matched_update_all: true,
                    when_not_matched_insert_all: true,
                    ..Default::default()
                };
                table
                    .merge_insert(&spec, vec![rows(&ids, &vals)], &note)
                    .await
                    .unwrap();
            }
            _ => {
                let back = versions[self.rng.below(versions.len() as u64) as usize];
                table.restore(Some(back), &note).await.unwrap();
            }
        }
    }
}

fn expected(old: &Snapshot, new: &Snapshot) -> (Vec<i64>, Vec<i64>, Vec<i64>) {
    let inserted = new
        .keys()
        .filter(|k| !old.contains_key(k))
        .copied()
        .collect();
    let deleted = old
        .keys()
        .filter(|k| !new.contains_key(k))
        .copied()
        .collect();
    let updated = new
        .iter()
        .filter(|(k, v)| old.get(k).is_some_and(|o| o != *v))
        .map(|(k, _)| *k)
        .collect();
    (inserted, updated, deleted)
}

fn sorted_ids(batch: &RecordBatch) -> Vec<i64> {
    let mut ids = column(batch, "id");
    ids.sort();
    ids
}

fn check(diff: &TableDiff, old: &Snapshot, new: &Snapshot, what: &str) {
    let (inserted, updated, deleted) = expected(old, new);
    assert_eq!(sorted_ids(&diff.inserted), inserted, "inserted, {what}");
    assert_eq!(sorted_ids(&diff.updated), updated, "updated, {what}");
    assert_eq!(sorted_ids(&diff.deleted), deleted, "deleted, {what}");
    // Updated and inserted rows carry the new values, deleted rows the old ones.
    for (batch, source) in [
        (&diff.updated, new),
        (&diff.inserted, new),
        (&diff.deleted, old),
    ] {
        for (id, val) in column(batch, "id").into_iter().zip(column(batch, "val")) {
            assert_eq!(source[&id], val, "values of row {id}, {what}");
        }
    }
}

async fn new_table(conn: &palimpsest_core::Connection) -> TableHandle {
    let ids: Vec<i64> = (0..12).collect();
    let vals: Vec<i64> = ids.clone();
    conn.create_table(
        "t",
        vec![rows(&ids, &vals)],
        None,
        CreateMode::Create,
        &CommitNote::default(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn diffs_on_one_branch_match_snapshots() {
    for seed in [1u64, 7, 42] {
        let dir = tempfile::tempdir().unwrap();
        let conn = connection(&dir);
        let table = new_table(&conn).await;
        let mut writer = Writer {
            rng: Rng(seed),
            next_id: 100,
            op: 0,
        };
        let mut snapshots = vec![(1u64, snapshot(&table).await)];
        for _ in 0..14 {
            let versions: Vec<u64> = snapshots.iter().map(|(v, _)| *v).collect();
            writer.random_op(&table, &versions).await;
            snapshots.push((table.version().await.unwrap(), snapshot(&table).await));
        }
        for _ in 0..12 {
            let (va, a) = &snapshots[writer.rng.below(snapshots.len() as u64) as usize];
            let (vb, b) = &snapshots[writer.rng.below(snapshots.len() as u64) as usize];
            let (from, to) = (VersionRef::Version(*va), VersionRef::Version(*vb));
            let lineage = table.diff(&from, &to, &[]).await.unwrap();
            assert_eq!(lineage.strategy, DiffStrategy::RowLineage);
            check(&lineage, a, b, &format!("lineage {va}->{vb} seed {seed}"));
            let keyed = table.diff(&from, &to, &["id".into()]).await.unwrap();
            assert_eq!(keyed.strategy, DiffStrategy::Key);
            check(&keyed, a, b, &format!("key {va}->{vb} seed {seed}"));
        }
    }
}

#[tokio::test]
async fn diffs_across_branches_match_snapshots() {
    for seed in [3u64, 11] {
        let dir = tempfile::tempdir().unwrap();
        let conn = connection(&dir);
        let main = new_table(&conn).await;
        let mut writer = Writer {
            rng: Rng(seed),
            next_id: 100,
            op: 0,
        };
        let mut versions = vec![1u64];
        for _ in 0..3 {
            writer.random_op(&main, &versions).await;
            versions.push(main.version().await.unwrap());
        }
        let exp = main
            .create_branch("exp", &VersionRef::Current)
            .await
            .unwrap();
        let mut exp_versions = versions.clone();
        for _ in 0..5 {
            writer.random_op(&main, &versions).await;
            versions.push(main.version().await.unwrap());
            writer.random_op(&exp, &exp_versions).await;
            exp_versions.push(exp.version().await.unwrap());
        }
        let (m, e) = (snapshot(&main).await, snapshot(&exp).await);
        let main_side = VersionRef::Branch {
            name: "main".into(),
            version: None,
        };
        let exp_side = VersionRef::Branch {
            name: "exp".into(),
            version: None,
        };
        for on in [vec![], vec!["id".to_string()]] {
            let forward = main.diff(&main_side, &exp_side, &on).await.unwrap();
            check(
                &forward,
                &m,
                &e,
                &format!("main->exp seed {seed} on {on:?}"),
            );
            let back = main.diff(&exp_side, &main_side, &on).await.unwrap();
            check(&back, &e, &m, &format!("exp->main seed {seed} on {on:?}"));
        }
    }
}

#[tokio::test]
async fn row_history_lists_each_change_of_one_row() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = new_table(&conn).await; // v1: ids 0..12
    let note = CommitNote::default();
    table
        .add(vec![rows(&[50], &[5])], AddMode::Append, &note)
        .await
        .unwrap(); // v2: 50 inserted
    table
        .update(Some("id = 3"), &[("val".into(), "33".into())], &note)
        .await
        .unwrap(); // v3: other row
    table
        .update(Some("id = 50"), &[("val".into(), "6".into())], &note)
        .await
        .unwrap(); // v4: 50 updated
    table.delete("id = 50", &note).await.unwrap(); // v5: 50 deleted
    table.restore(Some(4), &note).await.unwrap(); // v6: 50 back

    let events = table.row_history("id = 50").await.unwrap();
    let story: Vec<(u64, RowChange, i64)> = events
        .iter()
        .map(|e| (e.version, e.change, column(&e.rows, "val")[0]))
        .collect();
    assert_eq!(
        story,
        [
            (2, RowChange::Inserted, 5),
            (4, RowChange::Updated, 6),
            (5, RowChange::Deleted, 6),
            (6, RowChange::Inserted, 6),
        ]
    );
    let bad = table.row_history("id = = 50").await.unwrap_err();
    assert_eq!(bad.code, palimpsest_core::ErrorCode::InvalidPredicate);
}
