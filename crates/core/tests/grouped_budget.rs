//! Copies of cached columns grouped by a string column (crates/core/src/clustered_copy.rs)
//! live within the cache's budget: at most a quarter of it, and dropped before any column
//! when a column needs room. Its own test binary: it sets a small cache budget.

mod common;

use palimpsest_core::arrow_array::RecordBatch;
use palimpsest_core::{column_cache_stats, CommitNote, CreateMode, QueryRequest, TableHandle};

const MB: usize = 1 << 20;

/// `n` rows: `id`, a 5-value `label` and a 40-byte `text`.
fn rows(n: i64) -> RecordBatch {
    common::ids_and_strings(
        0..n,
        &[
            ("label", |i| Some(format!("l{}", i % 5))),
            ("text", |i| Some(format!("{i:040}"))),
        ],
    )
}

fn pinned(columns: &[&str]) -> QueryRequest {
    QueryRequest {
        filter: Some("label = 'l3'".to_string()),
        columns: Some(columns.iter().map(|c| c.to_string()).collect()),
        ..Default::default()
    }
}

/// Reads `request` `times` times, each equal to lance's answer.
async fn read(table: &TableHandle, request: &QueryRequest, times: usize) {
    let lance = table.query_stream(request).await.unwrap();
    let lance: Vec<RecordBatch> = futures::TryStreamExt::try_collect(lance).await.unwrap();
    let lance = arrow_select::concat::concat_batches(&lance[0].schema(), &lance).unwrap();
    for _ in 0..times {
        let got = table.query(request).await.unwrap();
        let got = arrow_select::concat::concat_batches(&lance.schema(), &got).unwrap();
        assert_eq!(got, lance);
    }
}

async fn grouped(table: &TableHandle, request: &QueryRequest) -> bool {
    let plan = table.explain_plan(request, false).await.unwrap();
    assert!(plan.contains("PalimpsestColumnCache"), "{plan}");
    plan.contains("grouped by `label`")
}

#[tokio::test]
async fn grouped_copies_stay_within_the_budget_and_go_first() {
    std::env::set_var("PALIMPSEST_CACHE_MB", "24");
    let dir = tempfile::tempdir().unwrap();
    let conn = common::connection(&dir);
    let note = CommitNote::default();
    let create = |name: &'static str, n: i64| {
        let conn = &conn;
        let note = &note;
        async move {
            conn.create_table(name, vec![rows(n)], None, CreateMode::Create, note)
                .await
                .unwrap()
        }
    };
    // 200,000 rows: about 11.5 MB of columns, 9 MB of them text.
    let table = create("t", 200_000).await;
    let wide = pinned(&["id", "text"]);
    read(&table, &wide, 5).await;
    let held = column_cache_stats().bytes;
    assert!(held > 8 * MB, "{held}");
    assert!(
        !grouped(&table, &wide).await,
        "a copy of all three columns would take more than a quarter of 24 MB"
    );
    // Declined for good: later reads are answered at once again.
    assert!(table.query_at_once(&wide).is_some());
    // Without the text the copy is about 3 MB: made on the second read from memory.
    let narrow = pinned(&["id"]);
    read(&table, &narrow, 3).await;
    assert!(grouped(&table, &narrow).await);
    let with_copy = column_cache_stats().bytes;
    assert!(with_copy > held + 2 * MB, "{held} -> {with_copy}");
    // Another table's 10 MB fit beside the columns only once the copy is dropped: it goes,
    // the columns stay.
    let other = create("u", 200_000).await;
    read(&other, &pinned(&["text"]), 2).await;
    assert!(!grouped(&table, &narrow).await);
    let plan = table.explain_plan(&narrow, false).await.unwrap();
    assert!(plan.contains("from decoded columns in memory;"), "{plan}");
    read(&table, &narrow, 3).await;
}
