//! Reads answered from decoded columns in memory must equal lance's own reads: same rows, same
//! order, same schema, same counts, before and after writes that change some fragments.
//! `query()` uses the column cache for plain reads; `query_stream()` always reads through
//! lance, so it is the reference.

mod common;

use std::sync::Arc;

use arrow_buffer::NullBuffer;
use futures::TryStreamExt;
use palimpsest_core::arrow_array::{
    ArrayRef, FixedSizeListArray, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use palimpsest_core::arrow_schema::{DataType, Field};
use palimpsest_core::{
    AddMode, ColumnChange, CommitNote, Connection, CreateMode, QueryRequest, TableHandle,
    VectorRequest,
};

use common::{connection, ids_and_strings};

const ROWS: i64 = 6000;

/// Rows `from..to`: a low-cardinality `category` (with nulls), a unique `text`, a nullable
/// `score`, a nullable 4-dim `vec`.
fn rows(from: i64, to: i64) -> RecordBatch {
    let ids: Vec<i64> = (from..to).collect();
    let category: ArrayRef = Arc::new(StringArray::from_iter(
        ids.iter()
            .map(|i| (i % 11 != 0).then(|| format!("c{}", i % 5))),
    ));
    let text: ArrayRef = Arc::new(StringArray::from_iter_values(
        ids.iter().map(|i| format!("t{i}")),
    ));
    let score: ArrayRef = Arc::new(Float64Array::from_iter(
        ids.iter()
            .map(|i| (i % 7 != 0).then(|| (*i as f64 * 0.37) % 1.0)),
    ));
    // A small vector per row, null on every 9th.
    let values = Float32Array::from_iter_values(
        ids.iter()
            .flat_map(|i| (0..4).map(move |j| (*i * 4 + j) as f32)),
    );
    let valid = NullBuffer::from(ids.iter().map(|i| i % 9 != 0).collect::<Vec<bool>>());
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    let vec: ArrayRef = Arc::new(FixedSizeListArray::new(
        item,
        4,
        Arc::new(values),
        Some(valid),
    ));
    RecordBatch::try_from_iter_with_nullable(vec![
        (
            "id",
            Arc::new(Int64Array::from(ids.clone())) as ArrayRef,
            true,
        ),
        ("category", category, true),
        ("text", text, true),
        ("score", score, true),
        ("vec", vec, true),
    ])
    .unwrap()
}

async fn table(conn: &Connection) -> TableHandle {
    let note = CommitNote::default();
    let table = conn
        .create_table(
            "t",
            vec![rows(0, ROWS / 2)],
            None,
            CreateMode::Overwrite,
            &note,
        )
        .await
        .unwrap();
    table
        .add(vec![rows(ROWS / 2, ROWS)], AddMode::Append, &note)
        .await
        .unwrap();
    table
}

const FILTERS: &[&str] = &[
    "category = 'c1'",
    "'c2' = category",
    "category <> 'c1'",
    "category = 'nope'",
    "category IN ('c1', 'c3', 'zz')",
    "category NOT IN ('c2')",
    "category IN ('c1', NULL)",
    "NOT (category = 'c4')",
    "category IS NULL",
    "category = 'c1' AND id > 1000",
    "category = 'c0' OR score > 0.9",
    "lower(category) = 'c3'",
    "text LIKE 't1%'",
    "text = 't42'",
    "id >= 10 AND id < 200",
    "id = 3000",
    "id > 5990 OR id < 3",
    "id BETWEEN 2999 AND 3001",
    "id > 5990 AND id <= 5995",
    "100 <= id AND 150 > id",
    "id >= 2990 AND id < 3010",
    "id > 10 AND id > 20 AND id < 30",
    "id BETWEEN 10 AND 5",
    "id < 0",
    "id >= 9223372036854775807",
    "score > 0.995",
    "id * 2 > 11000",
    "score IS NOT NULL AND score < 0.1",
    "true",
];

async fn both(table: &TableHandle, request: &QueryRequest) -> (RecordBatch, RecordBatch) {
    let cached = table.query(request).await.unwrap();
    let lance: Vec<RecordBatch> = table
        .query_stream(request)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let schema = lance
        .first()
        .map(|b| b.schema())
        .or_else(|| cached.first().map(|b| b.schema()));
    let Some(schema) = schema else {
        let empty =
            RecordBatch::new_empty(Arc::new(palimpsest_core::arrow_schema::Schema::empty()));
        return (empty.clone(), empty);
    };
    let concat = |b: &[RecordBatch]| arrow_select::concat::concat_batches(&schema, b).unwrap();
    (concat(&cached), concat(&lance))
}

async fn check_all(table: &TableHandle, stage: &str) {
    for filter in FILTERS {
        for (columns, with_row_id) in [
            (None, false),
            (Some(vec!["text".to_string(), "id".to_string()]), true),
        ] {
            let request = QueryRequest {
                filter: Some(filter.to_string()),
                columns,
                with_row_id,
                ..Default::default()
            };
            let (cached, lance) = both(table, &request).await;
            assert_eq!(cached, lance, "{stage}: {filter} (row id {with_row_id})");
            let count = table.count_rows(Some(filter)).await.unwrap();
            assert_eq!(count as usize, lance.num_rows(), "{stage}: count {filter}");
        }
        // Limits and offsets, once the columns are in memory.
        for (limit, offset) in [(Some(7), Some(5)), (None, Some(2990)), (Some(1), None)] {
            let request = QueryRequest {
                filter: Some(filter.to_string()),
                limit,
                offset,
                ..Default::default()
            };
            let (cached, lance) = both(table, &request).await;
            assert_eq!(
                cached, lance,
                "{stage}: {filter} limit {limit:?} offset {offset:?}"
            );
        }
    }
    let (cached, lance) = both(table, &QueryRequest::default()).await;
    assert_eq!(
        cached.num_rows(),
        table.count_rows(None).await.unwrap() as usize
    );
    assert_eq!(cached, lance, "{stage}: full read");
}

#[tokio::test]
async fn cached_reads_equal_lance_reads_across_writes() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = table(&conn).await;
    let note = CommitNote::default();
    check_all(&table, "two fragments").await;

    table.delete("id % 13 = 0", &note).await.unwrap();
    check_all(&table, "after a delete").await;

    table
        .add(vec![rows(ROWS, ROWS + 500)], AddMode::Append, &note)
        .await
        .unwrap();
    check_all(&table, "after an append").await;

    // Swapping two columns' names keeps every fragment as it was: the cache must follow the
    // columns, not their names.
    let rename = |from: &str, to: &str| ColumnChange {
        path: from.to_string(),
        rename: Some(to.to_string()),
        nullable: None,
        data_type: None,
    };
    table
        .alter_columns(&[rename("category", "tmp")], &note)
        .await
        .unwrap();
    table
        .alter_columns(&[rename("text", "category")], &note)
        .await
        .unwrap();
    table
        .alter_columns(&[rename("tmp", "text")], &note)
        .await
        .unwrap();
    let request = QueryRequest {
        filter: Some("category = 't42'".into()),
        ..Default::default()
    };
    let (cached, lance) = both(&table, &request).await;
    assert_eq!(cached.num_rows(), 1);
    assert_eq!(cached, lance, "after renames");
    check_all(&table, "after renames").await;

    // The same filter text over a column whose name now holds another type is planned
    // again (filters are remembered per version).
    let request = QueryRequest {
        filter: Some("id > 4000".into()),
        ..Default::default()
    };
    let (cached, _) = both(&table, &request).await;
    assert!(cached.num_rows() > 0);
    for (from, to) in [("id", "tmp"), ("score", "id"), ("tmp", "score")] {
        table
            .alter_columns(&[rename(from, to)], &note)
            .await
            .unwrap();
    }
    let (cached, lance) = both(&table, &request).await;
    assert_eq!(cached.num_rows(), 0);
    assert_eq!(
        cached, lance,
        "after swapping an integer and a float column"
    );

    // An old version reads its own fragments.
    table.checkout(2).await.unwrap();
    check_all(&table, "version 2").await;
}

/// Bad filters fail the same way with or without the cache.
#[tokio::test]
async fn bad_filters_are_reported_by_the_cached_path() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = table(&conn).await;
    for bad in [
        "nope = 1",
        "category = ",
        "id = 1; DROP TABLE t",
        "category + 1",
    ] {
        let request = QueryRequest {
            filter: Some(bad.to_string()),
            ..Default::default()
        };
        let err = table.query(&request).await.unwrap_err();
        let count_err = table.count_rows(Some(bad)).await.unwrap_err();
        assert_eq!(err.code, count_err.code, "{bad}: {err}");
    }
}

/// `explain_plan` says when a read would be answered from memory: not before the columns
/// were read twice, and then yes.
#[tokio::test]
async fn explain_plan_names_the_column_cache_once_columns_are_hot() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = table(&conn).await;
    let request = QueryRequest {
        filter: Some("category = 'c3' AND score > 0.5".into()),
        columns: Some(vec!["id".into()]),
        ..Default::default()
    };
    const NOTE: &str = "PalimpsestColumnCache";
    assert!(!table
        .explain_plan(&request, false)
        .await
        .unwrap()
        .contains(NOTE));
    let first = table.query(&request).await.unwrap();
    assert!(!table
        .explain_plan(&request, false)
        .await
        .unwrap()
        .contains(NOTE));
    let second = table.query(&request).await.unwrap();
    let concat =
        |b: &[RecordBatch]| arrow_select::concat::concat_batches(&b[0].schema(), b).unwrap();
    assert_eq!(concat(&first), concat(&second));
    let plan = table.explain_plan(&request, false).await.unwrap();
    assert!(plan.contains(NOTE), "{plan}");
    // A new fragment is not in memory yet.
    table
        .add(
            vec![rows(ROWS, ROWS + 10)],
            AddMode::Append,
            &CommitNote::default(),
        )
        .await
        .unwrap();
    assert!(!table
        .explain_plan(&request, false)
        .await
        .unwrap()
        .contains(NOTE));
}

/// Columns stay in memory across a delete: the cache keeps every physical row and applies
/// each version's deletion vector, so the version after the delete and the one before it are
/// both answered from memory (here while the data files are out of reach).
#[tokio::test]
async fn deletes_keep_the_columns_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = table(&conn).await;
    let note = CommitNote::default();
    let all = QueryRequest::default();
    let (_, before) = both(&table, &all).await;
    // The second read kept every column.
    let (cached, _) = both(&table, &all).await;
    assert_eq!(cached, before);
    let version_before = table.version().await.unwrap();
    table.delete("id % 3 = 0", &note).await.unwrap();

    let ids = before.column_by_name("id").unwrap();
    let ids = ids.as_any().downcast_ref::<Int64Array>().unwrap();
    let keep = palimpsest_core::arrow_array::BooleanArray::from_iter(
        ids.iter().map(|id| Some(id.unwrap() % 3 != 0)),
    );
    let after = arrow_select::filter::filter_record_batch(&before, &keep).unwrap();

    let hidden = common::OutOfReach::new(&dir, common::data_files(&dir, "t"));
    let read = |request: QueryRequest| {
        let table = &table;
        async move {
            let batches = table.query(&request).await.unwrap();
            arrow_select::concat::concat_batches(&batches[0].schema(), &batches).unwrap()
        }
    };
    let full = read(QueryRequest::default()).await;
    let range = read(QueryRequest {
        filter: Some("id >= 10 AND id < 200".into()),
        columns: Some(vec!["id".into()]),
        ..Default::default()
    })
    .await;
    let c1 = table.count_rows(Some("category = 'c1'")).await;
    let nearest = read(QueryRequest {
        columns: Some(vec!["id".into()]),
        vector: Some(VectorRequest {
            values: vec![12.0, 13.0, 14.0, 15.0],
            k: 1,
            ..Default::default()
        }),
        ..Default::default()
    })
    .await;
    table.checkout(version_before).await.unwrap();
    let full_before = read(QueryRequest::default()).await;
    drop(hidden);
    table.checkout_latest().await.unwrap();

    assert_eq!(full, after);
    let range: Vec<i64> = range
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .values()
        .to_vec();
    assert_eq!(range, (10..200).filter(|i| i % 3 != 0).collect::<Vec<_>>());
    let category = after.column_by_name("category").unwrap();
    let category = category.as_any().downcast_ref::<StringArray>().unwrap();
    let want = category.iter().filter(|c| *c == Some("c1")).count() as u64;
    assert_eq!(c1.unwrap(), want);
    // Row 3's own vector was deleted; its neighbours at the same distance remain.
    let nearest = nearest.column_by_name("id").unwrap();
    let nearest = nearest
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .value(0);
    assert!(
        nearest == 2 || nearest == 4,
        "nearest live row, got {nearest}"
    );
    assert_eq!(full_before, before);
}

/// Reads memory answers at once run on the calling thread and equal the async answers;
/// anything else (columns not decoded yet, searches, bad filters, a closed table) is left to
/// the async calls, which report the errors.
#[tokio::test]
async fn reads_answered_at_once_equal_the_async_reads() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = table(&conn).await;
    let filter = "category = 'c1' AND id > 1000";
    let request = QueryRequest {
        filter: Some(filter.into()),
        columns: Some(vec!["text".into(), "vec".into(), "id".into()]),
        ..Default::default()
    };
    let concat =
        |b: &[RecordBatch]| arrow_select::concat::concat_batches(&b[0].schema(), b).unwrap();
    assert!(
        table.query_at_once(&request).is_none(),
        "nothing is decoded"
    );
    assert!(table.count_rows_at_once(filter).is_none());
    let first = concat(&table.query(&request).await.unwrap());
    // The second read keeps the columns.
    assert_eq!(concat(&table.query(&request).await.unwrap()), first);
    let now = table.query_at_once(&request).expect("answered at once");
    assert_eq!(concat(&now), first);
    let count = table.count_rows(Some(filter)).await.unwrap();
    assert_eq!(count as usize, first.num_rows());
    assert_eq!(table.count_rows_at_once(filter), Some(count));
    // A page of it, too.
    let page = QueryRequest {
        limit: Some(5),
        offset: Some(3),
        ..request.clone()
    };
    assert_eq!(
        concat(&table.query_at_once(&page).expect("a page at once")),
        first.slice(3, 5)
    );

    for bad in ["id = 1; DROP TABLE t", "nope = 1", "category = "] {
        let bad_request = QueryRequest {
            filter: Some(bad.into()),
            ..request.clone()
        };
        assert!(table.query_at_once(&bad_request).is_none(), "{bad}");
        assert!(table.count_rows_at_once(bad).is_none(), "{bad}");
        assert!(table.query(&bad_request).await.is_err(), "{bad}");
    }
    let search = QueryRequest {
        vector: Some(VectorRequest {
            values: vec![1.0, 2.0, 3.0, 4.0],
            k: 3,
            ..Default::default()
        }),
        ..request.clone()
    };
    assert!(table.query_at_once(&search).is_none());
    table.close();
    assert!(table.query_at_once(&request).is_none());
    assert!(table.count_rows_at_once(filter).is_none());
}

/// A read that memory holds but that touches more than 128 MB is not answered on the
/// calling thread (it would hold up the caller's event loop); the async read answers it.
#[tokio::test]
async fn large_reads_are_not_answered_at_once() {
    const DIM: i32 = 8192;
    const ROWS: i64 = 4100; // 4100 rows x 32 KB: just over 128 MB
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let values = Float32Array::from_iter_values((0..ROWS * DIM as i64).map(|v| (v % 97) as f32));
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    let vec: ArrayRef = Arc::new(FixedSizeListArray::new(item, DIM, Arc::new(values), None));
    let batch = RecordBatch::try_from_iter(vec![
        (
            "id",
            Arc::new(Int64Array::from_iter_values(0..ROWS)) as ArrayRef,
        ),
        ("vec", vec),
    ])
    .unwrap();
    let table = conn
        .create_table(
            "wide",
            vec![batch],
            None,
            CreateMode::Overwrite,
            &CommitNote::default(),
        )
        .await
        .unwrap();
    let read = |column: &str| QueryRequest {
        filter: Some("id >= 100".into()),
        columns: Some(vec![column.to_string()]),
        ..Default::default()
    };
    for column in ["id", "vec"] {
        // Read twice: the columns are kept in memory.
        for _ in 0..2 {
            table.query(&read(column)).await.unwrap();
        }
        let plan = table.explain_plan(&read(column), false).await.unwrap();
        assert!(plan.contains("PalimpsestColumnCache"), "{column}: {plan}");
    }
    let ids = table
        .query_at_once(&read("id"))
        .expect("a small read at once");
    assert_eq!(ids.iter().map(|b| b.num_rows()).sum::<usize>(), 4000);
    assert!(table.query_at_once(&read("vec")).is_none(), "over 128 MB");
    let vecs = table.query(&read("vec")).await.unwrap();
    assert_eq!(vecs.iter().map(|b| b.num_rows()).sum::<usize>(), 4000);
}

/// Range filters find their rows by binary search where a chunk's integers ascend; columns
/// that repeat values, descend, hold nulls or are in no order must give lance's answers too,
/// with deleted rows among them.
/// A table `name` of `batch` alone, in a directory of its own.
async fn table_of(name: &str, batch: RecordBatch) -> (tempfile::TempDir, TableHandle) {
    let dir = tempfile::tempdir().unwrap();
    let table = connection(&dir)
        .create_table(
            name,
            vec![batch],
            None,
            CreateMode::Create,
            &CommitNote::default(),
        )
        .await
        .unwrap();
    (dir, table)
}

/// Each filter's rows (and count, with `counts`) from memory equal lance's, in `rounds`
/// rounds: the first reads through lance, the second keeps the columns, later ones read
/// them from memory.
async fn check_filters(table: &TableHandle, filters: &[&str], rounds: usize, counts: bool) {
    for round in 1..=rounds {
        for filter in filters {
            let request = QueryRequest {
                filter: Some(filter.to_string()),
                ..Default::default()
            };
            let (cached, lance) = both(table, &request).await;
            assert!(lance.num_rows() > 0, "{filter} matches rows");
            assert_eq!(cached, lance, "round {round}: {filter}");
            if counts {
                let count = table.count_rows(Some(filter)).await.unwrap();
                assert_eq!(
                    count as usize,
                    lance.num_rows(),
                    "round {round}: count {filter}"
                );
            }
        }
    }
}

#[tokio::test]
async fn range_filters_over_integer_columns_in_any_order() {
    use palimpsest_core::arrow_array::{Int32Array, Int8Array, UInt64Array};
    let n = 5000;
    let batch = RecordBatch::try_from_iter(vec![
        (
            "repeats",
            Arc::new(UInt64Array::from_iter_values((0..n).map(|i| i / 3))) as ArrayRef,
        ),
        (
            "descends",
            Arc::new(Int32Array::from_iter_values(
                (0..n as i32).map(|i| n as i32 - i),
            )),
        ),
        (
            "holes",
            Arc::new(Int64Array::from_iter(
                (0..n as i64).map(|i| (i % 7 != 3).then_some(i)),
            )),
        ),
        (
            "cycles",
            Arc::new(Int8Array::from_iter_values((0..n).map(|i| (i % 100) as i8))),
        ),
    ])
    .unwrap();
    let (_dir, table) = table_of("r", batch).await;
    let note = CommitNote::default();
    table.delete("descends % 17 = 0", &note).await.unwrap();
    let filters = [
        "repeats >= 100 AND repeats < 200",
        "repeats = 500",
        "repeats > 1665",
        "descends BETWEEN 10 AND 20",
        "descends > 4990",
        "holes >= 30 AND holes <= 60",
        "holes < 10",
        "cycles = 7",
        "cycles >= 95 AND cycles < 120",
    ];
    // Columns are kept from their second read on (the delete read `descends` once): both
    // rounds together cover reads through lance and from memory.
    check_filters(&table, &filters, 2, true).await;
}

/// Asserts that `address` lies in a private (copy-on-write) mapping of the cache's memory
/// file: `what` maps it rather than holding a copy.
fn assert_maps_the_cache(address: usize, what: &str) {
    let line = mapping_holding(address).expect("the values are mapped");
    assert!(
        line.contains("memfd:palimpsest-column") && line.split_whitespace().nth(1) == Some("rw-p"),
        "{what} maps the cache's memory file copy-on-write: {line}"
    );
}

/// The line of /proc/self/maps whose address range holds `address`.
fn mapping_holding(address: usize) -> Option<String> {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .find(|line| {
            let range = line.split_whitespace().next().unwrap_or_default();
            let (from, to) = range.split_once('-').unwrap_or_default();
            let parse = |hex: &str| usize::from_str_radix(hex, 16).unwrap_or(0);
            (parse(from)..parse(to)).contains(&address)
        })
        .map(str::to_string)
}

#[tokio::test]
async fn long_runs_of_matches_are_sliced_and_map_the_cache_mid_page() {
    // 37-byte strings: the text of a range from row 30,001 starts inside a page.
    let n = 100_000;
    let pad = "x".repeat(26);
    let batch = RecordBatch::try_from_iter(vec![
        (
            "id",
            Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef,
        ),
        (
            "text",
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("row {i:06} {pad}")),
            )),
        ),
        (
            "category",
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("c{}", i % 4)),
            )),
        ),
        (
            // 16 bytes a row: a full chunk's 1 MB lives in a memory file.
            "vec",
            Arc::new(FixedSizeListArray::new(
                Arc::new(Field::new("item", DataType::Float32, true)),
                4,
                Arc::new(Float32Array::from_iter_values((0..n * 4).map(|v| v as f32))),
                None,
            )),
        ),
    ])
    .unwrap();
    let (_dir, table) = table_of("runs", batch).await;
    let filters = [
        // 10,000 rows inside the first 65,536-row segment.
        "id >= 30001 AND id < 40001",
        // Across two segments, and a short run at each end.
        "id >= 60000 AND id < 70000",
        "id >= 65530 AND id < 65540",
        // A long run of a column that is not sorted.
        "text >= 'row 050000' AND text < 'row 055000'",
        // Gathered rows (536), then a slice of the next segment, in order.
        "id >= 65000 AND id < 75000",
        // 59,000 rows from inside a page: their vectors (944 KB) are mapped too.
        "id >= 1000 AND id < 60000",
    ];
    check_filters(&table, &filters, 3, true).await;
    // Windows that cut long runs: 4,536 rows of the first segment's run and 1,464 of the
    // next; and one run cut at both ends.
    // No filter: whole segments cut by the window, mapped from inside a page.
    for (filter, offset, limit) in [
        (Some(filters[1]), 1000, 6000),
        (Some(filters[0]), 10, 5000),
        (Some(filters[3]), 4999, 10),
        (None, 1001, 50_000),
    ] {
        let request = QueryRequest {
            filter: filter.map(str::to_string),
            offset: Some(offset),
            limit: Some(limit),
            ..Default::default()
        };
        let (cached, lance) = both(&table, &request).await;
        assert!(lance.num_rows() > 0, "{filter:?} matches rows");
        assert_eq!(cached, lance, "{filter:?} offset {offset} limit {limit}");
    }
    let request = QueryRequest {
        filter: Some(filters[0].to_string()),
        ..Default::default()
    };
    let got = table.query(&request).await.unwrap();
    let text = got[0]
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(text.value(0), format!("row 030001 {pad}"));
    let values = text.values().as_ptr() as usize;
    assert_ne!(values % 4096, 0, "the run starts inside a page");
    assert_maps_the_cache(values, "a run's text");
    let request = QueryRequest {
        filter: Some(filters[5].to_string()),
        ..Default::default()
    };
    let got = table.query(&request).await.unwrap();
    let vectors = got[0]
        .column(3)
        .as_any()
        .downcast_ref::<FixedSizeListArray>()
        .unwrap()
        .values()
        .as_any()
        .downcast_ref::<Float32Array>()
        .unwrap();
    assert_eq!(vectors.value(0), 4000.0, "row 1000's first value");
    let values = vectors.values().as_ptr() as usize;
    assert_ne!(values % 4096, 0, "the run starts inside a page");
    assert_maps_the_cache(values, "a run's vectors");
    // Deleting rows inside a run and at its edge splits and shortens it.
    table
        .delete(
            "id = 35000 OR id = 1000 OR id = 70000",
            &CommitNote::default(),
        )
        .await
        .unwrap();
    check_filters(&table, &filters, 2, true).await;
}

/// A filter that pins a low-cardinality string column to one value reads, from the column
/// set's second such read from memory on, a copy grouped by that column: the same rows in
/// the same order as lance (windows, row ids, nulls, two fragments, deletions), with the
/// value's rows now one run per fragment whose text maps the copy instead of being gathered.
#[tokio::test]
async fn reads_pinning_a_string_column_use_a_copy_grouped_by_it() {
    let batch = |from: i64, to: i64| {
        ids_and_strings(
            from..to,
            &[
                ("text", |i| {
                    Some(format!("text of row {i} {}", "y".repeat((i % 7) as usize)))
                }),
                // Five labels, and a null every 13th row.
                ("label", |i| (i % 13 != 0).then(|| format!("l{}", i % 5))),
                // 1,000 values: keyed in the cache, too many to group by.
                ("bucket", |i| Some(format!("b{}", i % 1000))),
            ],
        )
    };
    let (_dir, table) = table_of("grouped", batch(0, 150_000)).await;
    table
        .add(
            vec![batch(150_000, 220_000)],
            AddMode::Append,
            &CommitNote::default(),
        )
        .await
        .unwrap();
    let filters = [
        "label = 'l3'",
        "label = 'l3' AND id >= 1000 AND id < 200000",
        "'l1' = label",
        "label = 'l4' AND text <> 'text of row 4 yyyy'",
        // Not pinned (rows of several labels): read from the columns as they are.
        "label = 'l2' OR id < 10",
        // Pinned, but to a column with too many values to group by.
        "bucket = 'b7'",
    ];
    // Through lance; columns kept; the copy made, not on the caller's thread (the read at
    // once declines it); the copy read, at once too.
    let request = QueryRequest {
        filter: Some(filters[0].to_string()),
        ..Default::default()
    };
    let (_, lance) = both(&table, &request).await;
    table.query(&request).await.unwrap();
    assert!(table.query_at_once(&request).is_none(), "makes the copy");
    table.query(&request).await.unwrap();
    let at_once = table
        .query_at_once(&request)
        .expect("read from the copy at once");
    let schema = lance.schema();
    assert_eq!(
        arrow_select::concat::concat_batches(&schema, &at_once).unwrap(),
        lance
    );
    check_filters(&table, &filters, 2, true).await;
    for (filter, columns, offset, limit) in [
        (filters[0], None, 100, 5000),
        // Across the two fragments' runs.
        (filters[0], None, 27_000, 10_000),
        (
            filters[1],
            Some(vec!["text".to_string(), "id".to_string()]),
            5,
            40_000,
        ),
    ] {
        for _ in 0..3 {
            let request = QueryRequest {
                filter: Some(filter.to_string()),
                columns: columns.clone(),
                with_row_id: columns.is_some(),
                offset: Some(offset),
                limit: Some(limit),
                ..Default::default()
            };
            let (cached, lance) = both(&table, &request).await;
            assert!(lance.num_rows() > 0, "{filter} matches rows");
            assert_eq!(cached, lance, "{filter} offset {offset} limit {limit}");
        }
    }
    let request = QueryRequest {
        filter: Some(filters[0].to_string()),
        ..Default::default()
    };
    let got = table.query(&request).await.unwrap();
    assert_eq!(got.len(), 2, "one run per fragment");
    let text = got[0]
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(text.value(0), "text of row 3 yyy");
    assert_maps_the_cache(text.values().as_ptr() as usize, "the value's text");
    let plan = table.explain_plan(&request, false).await.unwrap();
    assert!(plan.contains("grouped by `label`"), "{plan}");
    let other = QueryRequest {
        filter: Some(filters[4].to_string()),
        ..Default::default()
    };
    let plan = table.explain_plan(&other, false).await.unwrap();
    assert!(plan.contains("from decoded columns in memory;"), "{plan}");
    let many = QueryRequest {
        filter: Some(filters[5].to_string()),
        ..Default::default()
    };
    let plan = table.explain_plan(&many, false).await.unwrap();
    assert!(plan.contains("from decoded columns in memory;"), "{plan}");
    // A new version (deleted rows inside the runs, one at a fragment's first l3 row) makes
    // its own copy.
    table
        .delete(
            "id = 3 OR id = 150003 OR id % 1000 = 8",
            &CommitNote::default(),
        )
        .await
        .unwrap();
    check_filters(&table, &filters, 3, true).await;
}

/// A grouped copy that a write made stale before it served enough reads to pay for its
/// making makes the next version's copy wait for twice as many reads.
#[tokio::test]
async fn copies_a_write_made_stale_early_make_the_next_one_wait() {
    let batch = |from: i64, to: i64| {
        ids_and_strings(from..to, &[("label", |i| Some(format!("l{}", i % 4)))])
    };
    let (_dir, table) = table_of("churn", batch(0, 70_000)).await;
    let request = QueryRequest {
        filter: Some("label = 'l1'".to_string()),
        ..Default::default()
    };
    let grouped = || async {
        let plan = table.explain_plan(&request, false).await.unwrap();
        plan.contains("grouped by `label`")
    };
    // Through lance, columns kept, the copy made (the second read from memory); one read
    // served.
    for read in 1..=4 {
        table.query(&request).await.unwrap();
        assert_eq!(grouped().await, read >= 3, "read {read}");
    }
    table
        .add(
            vec![batch(70_000, 70_010)],
            AddMode::Append,
            &CommitNote::default(),
        )
        .await
        .unwrap();
    // The new fragment through lance, then kept; the copy now waits for four reads from
    // memory.
    for read in 1..=6 {
        table.query(&request).await.unwrap();
        assert_eq!(grouped().await, read >= 5, "read {read} after the append");
    }
    let (cached, lance) = both(&table, &request).await;
    assert_eq!(cached, lance);
}
