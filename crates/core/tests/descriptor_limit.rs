//! The column cache's memory files hold file descriptors, which lance needs too: with a low
//! descriptor limit the cache uses at most a quarter of it and keeps the rest of its columns
//! in ordinary memory, and reads stay correct. Its own test binary: it lowers the limit.

mod common;

use palimpsest_core::{CommitNote, CreateMode, QueryRequest};

use common::memory_files;

#[tokio::test]
async fn memory_files_stay_under_a_quarter_of_the_descriptor_limit() {
    let limit = libc::rlimit {
        rlim_cur: 256,
        rlim_max: 256,
    };
    // Safety: setrlimit reads the struct it is given.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    let dir = tempfile::tempdir().unwrap();
    let conn = common::connection(&dir);
    let note = CommitNote::default();
    let ids: Vec<i64> = (0..1_000).collect();
    // 80 tables of 1.2 MB of vectors each: 80 buffers that would each take a memory file.
    for t in 0..80 {
        let batch = common::vectors_for(&ids, "vec", 300);
        let table = conn
            .create_table(
                &format!("t{t}"),
                vec![batch],
                None,
                CreateMode::Create,
                &note,
            )
            .await
            .unwrap();
        let mut reads = Vec::new();
        for _ in 0..3 {
            let batches = table.query(&QueryRequest::default()).await.unwrap();
            reads.push(common::vec_values(&batches));
        }
        assert_eq!(reads[0].len(), 300_000);
        assert!(reads.iter().all(|r| r == &reads[0]), "table {t}");
        assert!(memory_files() <= 64, "{} memory files", memory_files());
    }
    assert_eq!(memory_files(), 64, "the cache used its share");
}
