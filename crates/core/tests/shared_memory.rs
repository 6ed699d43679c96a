//! Large cached buffers live in memory files and whole-buffer results map them copy-on-write
//! (crates/core/src/shared_memory.rs). Its own test binary: it sets a small cache budget and
//! counts this process's mappings and descriptors.

mod common;

use std::sync::Arc;

use palimpsest_core::arrow_array::RecordBatch;
use palimpsest_core::{CommitNote, CreateMode, QueryRequest, TableHandle};

use common::memory_files;

const MEMORY_FILE: &str = "memfd:palimpsest-column";

/// Private (copy-on-write) mappings of the cache's memory files in this process.
fn private_mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|l| l.contains(MEMORY_FILE) && l.split_whitespace().nth(1) == Some("rw-p"))
        .count()
}

use common::vec_values as vectors;

async fn read(table: &TableHandle) -> Vec<RecordBatch> {
    table.query(&QueryRequest::default()).await.unwrap()
}

#[tokio::test]
async fn whole_buffer_results_map_the_cache_and_outlive_it() {
    // 8 MB of cache: one table's 6 MB of vectors fits, two do not.
    std::env::set_var("PALIMPSEST_CACHE_MB", "8");
    let dir = tempfile::tempdir().unwrap();
    let conn = common::connection(&dir);
    let note = CommitNote::default();
    let ids: Vec<i64> = (0..4_000).collect();
    let mut tables = Vec::new();
    for name in ["a", "b"] {
        let batch = common::vectors_for(&ids, "vec", 384);
        let table = conn
            .create_table(name, vec![batch], None, CreateMode::Create, &note)
            .await
            .unwrap();
        tables.push(Arc::new(table));
    }
    let (a, b) = (&tables[0], &tables[1]);

    let through_lance = vectors(&read(a).await); // first read: through lance
    assert_eq!(memory_files(), 0);
    let filled = read(a).await; // second read keeps the columns
    assert!(memory_files() >= 1, "the vectors went to a memory file");
    let mapped = read(a).await;
    assert_eq!(vectors(&filled), through_lance);
    assert_eq!(vectors(&mapped), through_lance);
    assert!(private_mappings() >= 2, "both results map the memory file");

    // Filling the other table evicts the first; its results keep their pages.
    for _ in 0..3 {
        read(b).await;
    }
    assert_eq!(vectors(&mapped), through_lance);
    let live_files = memory_files();
    drop(filled);
    drop(mapped);
    assert_eq!(private_mappings(), 0, "dropped results unmap");
    assert_eq!(
        memory_files(),
        live_files,
        "the evicted region was already closed"
    );
    assert_eq!(vectors(&read(a).await), through_lance);
}
