//! Indexed vector search answered from decoded columns in memory gives exactly what lance's
//! own plan gives: the same rows, order and distances, through appends the index does not
//! cover, deletions and updates.

mod common;

use common::connection;
use futures::TryStreamExt;
use std::sync::Arc;

use palimpsest_core::arrow_array::{Array, Float32Array, Int64Array, RecordBatch, UInt64Array};
use palimpsest_core::{
    indexed_searches_from_memory, AddMode, CommitNote, CreateMode, DistanceType, IndexSpec,
    MergeInsertSpec, QueryRequest, TableHandle, VectorRequest,
};

use common::{clustered_rows as rows, CLUSTERED_DIM as DIM};

fn query_vector(seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9e3779b97f4a7c15) | 1;
    (0..DIM)
        .map(|d| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let base = if d as u64 % 8 == seed % 8 { 4.0 } else { 0.0 };
            base + (state % 1000) as f32 / 1500.0
        })
        .collect()
}

fn search(values: Vec<f32>, refine: Option<u32>, with_row_id: bool) -> QueryRequest {
    QueryRequest {
        with_row_id,
        vector: Some(VectorRequest {
            values,
            k: 10,
            nprobes: Some(3),
            refine_factor: refine,
            ef: Some(40),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// What lance itself answers to `request`, on the table `t` as it is on disk in `dir`.
async fn lance_answer(dir: &tempfile::TempDir, request: &QueryRequest) -> Vec<RecordBatch> {
    let path = dir.path().join("t.lance");
    let dataset = lance::Dataset::open(path.to_str().unwrap()).await.unwrap();
    let vector = request.vector.as_ref().unwrap();
    let mut scan = dataset.scan();
    scan.nearest(
        "vector",
        &Float32Array::from(vector.values.clone()),
        vector.k,
    )
    .unwrap();
    if let Some(n) = vector.nprobes {
        scan.nprobes(n);
    }
    if let Some(factor) = vector.refine_factor {
        scan.refine(factor);
    }
    if let Some(ef) = vector.ef {
        scan.ef(ef);
    }
    if let Some(distance) = vector.distance_type {
        scan.distance_metric(distance);
    }
    if let Some(filter) = &request.filter {
        scan.filter(filter).unwrap();
    }
    scan.prefilter(!vector.postfilter);
    if request.with_row_id {
        scan.with_row_id();
    }
    scan.try_into_stream()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

fn column<T: Array + Clone + 'static>(batches: &[RecordBatch], name: &str) -> Vec<T> {
    batches
        .iter()
        .map(|b| {
            b.column_by_name(name)
                .unwrap_or_else(|| panic!("no column {name}"))
                .as_any()
                .downcast_ref::<T>()
                .unwrap()
                .clone()
        })
        .collect()
}

fn ids(batches: &[RecordBatch]) -> Vec<i64> {
    column::<Int64Array>(batches, "id")
        .iter()
        .flat_map(|a| a.values().to_vec())
        .collect()
}

fn distances(batches: &[RecordBatch]) -> Vec<f32> {
    column::<Float32Array>(batches, "_distance")
        .iter()
        .flat_map(|a| a.values().to_vec())
        .collect()
}

/// Row `row`'s vector in `rows(0, ..)`, exactly.
fn stored_vector(row: usize) -> Vec<f32> {
    common::vector_at(&rows(0, 600), row)
}

/// `batch` with other ids: its vectors become exact copies under new rows.
fn with_ids(batch: RecordBatch, ids: Vec<i64>) -> RecordBatch {
    let at = batch.schema().index_of("id").unwrap();
    let mut columns = batch.columns().to_vec();
    columns[at] = Arc::new(Int64Array::from(ids));
    RecordBatch::try_new(batch.schema(), columns).unwrap()
}

/// Fills the cache the way exact searches do (every column, and `_rowid`).
async fn warm(table: &TableHandle) {
    for with_row_id in [false, true] {
        let mut request = search(query_vector(1), None, with_row_id);
        request.vector.as_mut().unwrap().bypass_index = true;
        table.query(&request).await.unwrap();
    }
}

/// Filters a search may carry: none, one that spreads over every fragment, one on a
/// dictionary-keyed string column, and a narrow range.
const FILTERS: [Option<&str>; 4] = [
    None,
    Some("id % 4 = 1"),
    Some("category = 'cat2'"),
    Some("id < 700"),
];

/// palimpsest's answer from memory and lance's own over several queries, filters, with and
/// without refine and `_rowid`; the memory path must have answered (its plan says so).
async fn assert_same_as_lance(table: &TableHandle, dir: &tempfile::TempDir, what: &str) {
    warm(table).await;
    let mut found = 0;
    // Three queries between stored vectors, and two equal to stored vectors that have exact
    // copies (ties at every distance, across covered and uncovered fragments). Row 511's
    // copies end up in three fragments the index does not cover: with k = 2 the tie at
    // distance 0 goes to the smaller row ids, wherever the rows sit.
    let queries: Vec<(String, Vec<f32>, usize)> = [3u64, 10, 21]
        .iter()
        .map(|seed| (format!("seed {seed}"), query_vector(*seed), 10))
        .chain(
            [(5usize, 10), (511, 2)]
                .map(|(row, k)| (format!("row {row}'s vector, k {k}"), stored_vector(row), k)),
        )
        .collect();
    let before = indexed_searches_from_memory();
    let mut asked = 0;
    for (name, values, k) in &queries {
        for filter in FILTERS {
            for refine in [None, Some(4)] {
                for with_row_id in [false, true] {
                    let mut request = search(values.clone(), refine, with_row_id);
                    request.vector.as_mut().unwrap().k = *k;
                    request.filter = filter.map(str::to_string);
                    let case = format!(
                        "{what}, {name}, filter {filter:?}, refine {refine:?}, rowid {with_row_id}"
                    );
                    let plan = table.explain_plan(&request, false).await.unwrap();
                    assert!(
                        plan.starts_with("PalimpsestIndexedSearch"),
                        "{case}: not answered from memory:\n{plan}"
                    );
                    let fast = table.query(&request).await.unwrap();
                    asked += 1;
                    let lance = lance_answer(dir, &request).await;
                    assert_eq!(ids(&fast), ids(&lance), "{case}");
                    assert_eq!(distances(&fast), distances(&lance), "{case}");
                    if ids(&lance).is_empty() {
                        // The probed partitions hold no row the filter matches (lance then
                        // returns no batch at all).
                        continue;
                    }
                    found += 1;
                    let names = |b: &[RecordBatch]| -> Vec<String> {
                        b[0].schema()
                            .fields()
                            .iter()
                            .map(|f| f.name().clone())
                            .collect()
                    };
                    assert_eq!(names(&fast), names(&lance), "{case}");
                    if with_row_id {
                        let row_ids = |b: &[RecordBatch]| -> Vec<u64> {
                            column::<UInt64Array>(b, "_rowid")
                                .iter()
                                .flat_map(|a| a.values().to_vec())
                                .collect()
                        };
                        assert_eq!(row_ids(&fast), row_ids(&lance), "{case}");
                    }
                }
            }
        }
    }
    // Every search was answered from memory, not by lance behind the plan's back.
    assert_eq!(indexed_searches_from_memory() - before, asked, "{what}");
    // Most searches find rows: a comparison of empty answers shows little.
    assert!(
        found >= 60,
        "{what}: only {found} of {asked} searches found rows"
    );
}

fn specs(distance_type: Option<DistanceType>) -> [IndexSpec; 3] {
    [
        IndexSpec::IvfFlat {
            num_partitions: Some(6),
            distance_type,
        },
        IndexSpec::IvfPq {
            num_partitions: Some(6),
            num_sub_vectors: Some(4),
            num_bits: None,
            max_iterations: None,
            distance_type,
        },
        IndexSpec::IvfHnswSq {
            num_partitions: Some(4),
            m: None,
            ef_construction: None,
            distance_type,
        },
    ]
}

#[tokio::test]
async fn indexed_search_from_memory_matches_lance_through_writes() {
    let note = CommitNote::default();
    for distance_type in [None, Some(DistanceType::Cosine)] {
        for spec in specs(distance_type) {
            let dir = tempfile::tempdir().unwrap();
            let conn = connection(&dir);
            // Rows 0..100 have copies (ids 3000..3100) the index covers too.
            let copies = with_ids(rows(0, 100), (3000..3100).collect());
            let table = conn
                .create_table(
                    "t",
                    vec![rows(0, 3000), copies],
                    None,
                    CreateMode::Create,
                    &note,
                )
                .await
                .unwrap();
            table
                .create_index("vector", &spec, None, true, &note)
                .await
                .unwrap();
            let what = format!("{} {distance_type:?}", spec.type_name());
            assert_same_as_lance(&table, &dir, &format!("{what}, as built")).await;

            // Rows the index does not cover are searched exactly beside it.
            // ... among them copies of covered rows 500..550.
            let copies = with_ids(rows(0, 550).slice(500, 50), (3500..3550).collect());
            table
                .add(vec![rows(3100, 400), copies], AddMode::Append, &note)
                .await
                .unwrap();
            assert_same_as_lance(&table, &dir, &format!("{what}, after an append")).await;

            // Deleted rows must not come back (lance's prefilter keeps them out).
            table.delete("id % 3 = 0", &note).await.unwrap();
            assert_same_as_lance(&table, &dir, &format!("{what}, after a delete")).await;

            // Updated rows move to a new fragment under the same stable row id.
            table
                .update(
                    Some("id % 5 = 1"),
                    &[("text".into(), "'changed'".into())],
                    &note,
                )
                .await
                .unwrap();
            assert_same_as_lance(&table, &dir, &format!("{what}, after an update")).await;

            // Rows that take new vectors (copies of rows 500..550) move out of the covered
            // fragments under their old, small row ids: the index still holds their old
            // vectors, and they tie with rows of larger ids placed before them.
            let moved: Vec<i64> = (10..200).filter(|id| id % 3 != 0).take(50).collect();
            let spec_merge = MergeInsertSpec {
                on: vec!["id".into()],
                when_matched_update_all: true,
                ..Default::default()
            };
            table
                .merge_insert(
                    &spec_merge,
                    vec![with_ids(rows(0, 550).slice(500, 50), moved)],
                    &note,
                )
                .await
                .unwrap();
            assert_same_as_lance(&table, &dir, &format!("{what}, after a merge")).await;
        }
    }
}

#[tokio::test]
async fn searches_it_cannot_answer_exactly_go_through_lance() {
    let note = CommitNote::default();
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = conn
        .create_table("t", vec![rows(0, 2000)], None, CreateMode::Create, &note)
        .await
        .unwrap();
    table
        .create_index("vector", &specs(None)[1], None, true, &note)
        .await
        .unwrap();
    warm(&table).await;
    let base = search(query_vector(5), Some(2), false);
    let with = |edit: &dyn Fn(&mut QueryRequest)| {
        let mut request = base.clone();
        edit(&mut request);
        request
    };
    let lance_only = [
        // Adaptive probing is lance's.
        with(&|r| r.vector.as_mut().unwrap().nprobes = None),
        // Filtering after the search is lance's.
        with(&|r| {
            r.filter = Some("id > 10".into());
            r.vector.as_mut().unwrap().postfilter = true;
        }),
        with(&|r| r.offset = Some(2)),
        with(&|r| r.vector.as_mut().unwrap().distance_range = Some((None, Some(5.0)))),
        // A metric the index was not built for: lance searches exactly.
        with(&|r| r.vector.as_mut().unwrap().distance_type = Some(DistanceType::Dot)),
    ];
    for request in &lance_only {
        let plan = table.explain_plan(request, false).await.unwrap();
        assert!(!plan.starts_with("PalimpsestIndexedSearch"), "{plan}");
        table.query(request).await.unwrap();
    }
    let plan = table.explain_plan(&base, false).await.unwrap();
    assert!(plan.starts_with("PalimpsestIndexedSearch"), "{plan}");
}
