//! Vector, scalar and full-text indexes; search options; hybrid search; optimize.

mod common;

use std::collections::HashSet;

use common::connection;
use palimpsest_core::arrow_array::{Array, Float32Array, Int64Array, RecordBatch, UInt64Array};
use palimpsest_core::{
    AddMode, CommitNote, CreateMode, FullTextRequest, IndexSpec, QueryRequest, TableHandle,
    VectorRequest,
};

use common::clustered_rows as rows;

async fn table(conn: &palimpsest_core::Connection) -> TableHandle {
    conn.create_table(
        "t",
        vec![rows(0, 2000)],
        None,
        CreateMode::Create,
        &CommitNote::default(),
    )
    .await
    .unwrap()
}

fn query_vector(seed: i64) -> Vec<f32> {
    vector_of(&rows(seed, 1), 0)
}

/// Row `i`'s vector, nudged so it is not an exact copy.
fn vector_of(batch: &RecordBatch, i: usize) -> Vec<f32> {
    common::vector_at(batch, i)
        .iter()
        .map(|v| v + 0.01)
        .collect()
}

async fn ids(table: &TableHandle, request: &QueryRequest) -> Vec<i64> {
    let mut out = Vec::new();
    for batch in table.query(request).await.unwrap() {
        let col = batch.column_by_name("id").unwrap();
        let ints = col.as_any().downcast_ref::<Int64Array>().unwrap();
        out.extend((0..ints.len()).map(|i| ints.value(i)));
    }
    out
}

fn knn(values: Vec<f32>, k: usize) -> VectorRequest {
    VectorRequest {
        values,
        k,
        ..Default::default()
    }
}

/// The first `key` anywhere in `value`, as a number.
fn number_in(value: &serde_json::Value, key: &str) -> Option<u64> {
    match value {
        serde_json::Value::Object(map) => map
            .get(key)
            .and_then(serde_json::Value::as_u64)
            .or_else(|| map.values().find_map(|v| number_in(v, key))),
        serde_json::Value::Array(items) => items.iter().find_map(|v| number_in(v, key)),
        _ => None,
    }
}

/// Without options, vector indexes get LanceDB's partitions: sqrt(rows) asked for IVF_PQ (44
/// here; k-means keeps fewer on this clustered data, but more than one), and for IVF_HNSW_SQ
/// one per 1.28 billion vector values (here 1: each partition is a graph of its own).
#[tokio::test]
async fn vector_index_defaults_are_lancedbs() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = table(&conn).await;
    let note = CommitNote::default();
    let specs = [
        (
            IndexSpec::IvfPq {
                num_partitions: None,
                num_sub_vectors: None,
                num_bits: None,
                max_iterations: None,
                distance_type: None,
            },
            2..=44,
        ),
        (
            IndexSpec::IvfHnswSq {
                num_partitions: None,
                m: None,
                ef_construction: None,
                distance_type: None,
            },
            1..=1,
        ),
    ];
    for (spec, partitions) in specs {
        table
            .create_index("vector", &spec, None, true, &note)
            .await
            .unwrap();
        let stats = table.index_stats("vector_idx").await.unwrap();
        let details: serde_json::Value = serde_json::from_str(&stats.details).unwrap();
        let made = number_in(&details, "num_partitions").expect("partitions in the stats");
        assert!(
            partitions.contains(&made),
            "{}: {made} partitions, want {partitions:?}",
            spec.type_name()
        );
    }
}

#[tokio::test]
async fn vector_indexes_find_what_exact_search_finds() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = table(&conn).await;
    let note = CommitNote::default();
    let specs = [
        IndexSpec::IvfFlat {
            num_partitions: Some(8),
            distance_type: None,
        },
        IndexSpec::IvfPq {
            num_partitions: Some(8),
            num_sub_vectors: Some(4),
            num_bits: None,
            max_iterations: None,
            distance_type: None,
        },
        IndexSpec::IvfHnswSq {
            num_partitions: Some(4),
            m: None,
            ef_construction: None,
            distance_type: None,
        },
    ];
    for spec in specs {
        let before = table.version().await.unwrap();
        let made = table
            .create_index("vector", &spec, None, true, &note)
            .await
            .unwrap();
        assert_eq!(made.version, before + 1, "{spec:?}");
        let indices = table.list_indices().await.unwrap();
        assert_eq!(indices.len(), 1, "{indices:?}");
        assert_eq!(indices[0].name, "vector_idx");
        assert_eq!(indices[0].columns, vec!["vector".to_string()]);
        let stats = table.index_stats("vector_idx").await.unwrap();
        assert_eq!(stats.num_indexed_rows, 2000, "{stats:?}");

        let mut recall = 0.0;
        for seed in [3, 17, 250, 999] {
            let exact = QueryRequest {
                vector: Some(VectorRequest {
                    bypass_index: true,
                    ..knn(query_vector(seed), 10)
                }),
                ..Default::default()
            };
            let approx = QueryRequest {
                vector: Some(VectorRequest {
                    nprobes: Some(8),
                    refine_factor: Some(5),
                    ef: Some(100),
                    ..knn(query_vector(seed), 10)
                }),
                ..Default::default()
            };
            let want: HashSet<i64> = ids(&table, &exact).await.into_iter().collect();
            let got: HashSet<i64> = ids(&table, &approx).await.into_iter().collect();
            recall += want.intersection(&got).count() as f64 / 10.0;
        }
        assert!(
            recall / 4.0 >= 0.9,
            "{}: recall {}",
            spec.type_name(),
            recall / 4.0
        );
        let plan = table
            .explain_plan(
                &QueryRequest {
                    vector: Some(knn(query_vector(1), 5)),
                    ..Default::default()
                },
                false,
            )
            .await
            .unwrap();
        assert!(plan.contains("ANN"), "{plan}");
    }
    let log = table.list_versions().await.unwrap();
    assert_eq!(log.last().unwrap().operation, "create_index");
    assert_eq!(log.last().unwrap().parameters["index_type"], "IVF_HNSW_SQ");

    let dup = table
        .create_index("vector", &IndexSpec::BTree, None, false, &note)
        .await
        .unwrap_err();
    assert_eq!(
        dup.code,
        palimpsest_core::ErrorCode::InvalidArgument,
        "{dup}"
    );
    table.drop_index("vector_idx", &note).await.unwrap();
    assert!(table.list_indices().await.unwrap().is_empty());
    let missing = table.drop_index("vector_idx", &note).await.unwrap_err();
    assert_eq!(missing.code, palimpsest_core::ErrorCode::InvalidArgument);
}

#[tokio::test]
async fn distance_range_and_postfilter_shape_results() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = table(&conn).await;
    let request = |vector: VectorRequest| QueryRequest {
        vector: Some(vector),
        with_row_id: true,
        ..Default::default()
    };
    let all = table
        .query(&request(knn(query_vector(5), 50)))
        .await
        .unwrap();
    let distances: Vec<f32> = all
        .iter()
        .flat_map(|b| {
            let d = b.column_by_name("_distance").unwrap();
            d.as_any()
                .downcast_ref::<Float32Array>()
                .unwrap()
                .values()
                .to_vec()
        })
        .collect();
    assert!(all[0]
        .column_by_name("_rowid")
        .unwrap()
        .as_any()
        .is::<UInt64Array>());
    let cut = distances[20];
    let ranged = table
        .query(&request(VectorRequest {
            distance_range: Some((None, Some(cut))),
            ..knn(query_vector(5), 50)
        }))
        .await
        .unwrap();
    let n: usize = ranged.iter().map(|b| b.num_rows()).sum();
    assert_eq!(n, distances.iter().filter(|d| **d < cut).count());

    // Post-filtering keeps only the k nearest that pass; prefiltering fills k.
    let filtered = |postfilter: bool| QueryRequest {
        filter: Some("category = 'cat1'".into()),
        vector: Some(VectorRequest {
            postfilter,
            ..knn(query_vector(0), 10)
        }),
        ..Default::default()
    };
    assert_eq!(ids(&table, &filtered(false)).await.len(), 10);
    assert!(ids(&table, &filtered(true)).await.len() < 10);
}

#[tokio::test]
async fn scalar_and_full_text_indexes_serve_queries() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = table(&conn).await;
    let note = CommitNote::default();
    table
        .create_index("id", &IndexSpec::BTree, None, true, &note)
        .await
        .unwrap();
    table
        .create_index("category", &IndexSpec::Bitmap, None, true, &note)
        .await
        .unwrap();
    let fts = IndexSpec::FullText {
        with_position: false,
        base_tokenizer: None,
        language: None,
        lower_case: None,
        stem: None,
        remove_stop_words: None,
        ascii_folding: None,
    };
    table
        .create_index("text", &fts, None, true, &note)
        .await
        .unwrap();
    let plan = table
        .explain_plan(
            &QueryRequest {
                filter: Some("id = 77".into()),
                ..Default::default()
            },
            false,
        )
        .await
        .unwrap();
    assert!(
        plan.contains("ScalarIndexQuery") || plan.contains("MaterializeIndex"),
        "{plan}"
    );
    assert_eq!(
        table.count_rows(Some("category = 'cat2'")).await.unwrap(),
        400
    );

    let text = QueryRequest {
        full_text: Some(FullTextRequest {
            query: "dragon".into(),
            columns: None,
        }),
        limit: Some(20),
        ..Default::default()
    };
    let found = table.query(&text).await.unwrap();
    let batch = &found[0];
    assert!(batch.column_by_name("_score").is_some());
    let hit_ids = ids(&table, &text).await;
    assert_eq!(hit_ids.len(), 20);
    assert!(hit_ids.iter().all(|id| id % 6 == 3), "{hit_ids:?}");

    // Hybrid: both searches fused; rows matching both rank first.
    let hybrid = QueryRequest {
        full_text: Some(FullTextRequest {
            query: "dragon".into(),
            columns: None,
        }),
        vector: Some(knn(query_vector(3), 10)),
        limit: Some(10),
        ..Default::default()
    };
    let fused = table.query(&hybrid).await.unwrap();
    assert!(fused[0].column_by_name("_relevance_score").is_some());
    let fused_ids = ids(&table, &hybrid).await;
    assert_eq!(fused_ids.len(), 10);
    assert_eq!(fused_ids[0] % 6, 3, "{fused_ids:?}");

    let bad = table
        .create_index("id", &fts, Some("id_fts"), true, &note)
        .await
        .unwrap_err();
    assert_eq!(bad.code, palimpsest_core::ErrorCode::InvalidArgument);
}

#[tokio::test]
async fn optimize_brings_indexes_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = table(&conn).await;
    let note = CommitNote::default();
    let spec = IndexSpec::IvfPq {
        num_partitions: Some(4),
        num_sub_vectors: Some(4),
        num_bits: None,
        max_iterations: None,
        distance_type: None,
    };
    table
        .create_index("vector", &spec, None, true, &note)
        .await
        .unwrap();
    let appended = rows(5000, 300);
    table
        .add(vec![appended.clone()], AddMode::Append, &note)
        .await
        .unwrap();
    let stats = table.index_stats("vector_idx").await.unwrap();
    assert_eq!(stats.num_unindexed_rows, 300, "{stats:?}");
    // All partitions and an exact re-rank: the approximation must not decide the answer.
    let newest = QueryRequest {
        vector: Some(VectorRequest {
            nprobes: Some(4),
            refine_factor: Some(20),
            ..knn(vector_of(&appended, 100), 1)
        }),
        ..Default::default()
    };
    assert_eq!(
        ids(&table, &newest).await,
        vec![5100],
        "unindexed rows are searched too"
    );
    let report = table
        .optimize(&palimpsest_core::OptimizeOptions::default(), &note)
        .await
        .unwrap();
    assert!(report.indices_optimized);
    let stats = table.index_stats("vector_idx").await.unwrap();
    assert_eq!(stats.num_unindexed_rows, 0, "{stats:?}");
    // Now the index holds it. PQ alone ranked it anywhere from 0 to 168 among its cluster's
    // 287 rows (60 trainings), so re-rank 600 candidates: the cluster always fits, and the
    // exact distance, not the codebook's luck, puts it first.
    let mut top = newest.clone();
    let vector = top.vector.as_mut().unwrap();
    vector.k = 10;
    vector.refine_factor = Some(60);
    assert_eq!(ids(&table, &top).await[0], 5100);
}

/// The cached exact search answers like lance's own exact search (forced here with a filter
/// that keeps every row), for every metric, with and without row ids, after deletes.
#[tokio::test]
async fn cached_exact_search_matches_lance() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connection(&dir);
    let table = table(&conn).await;
    table
        .delete("id % 7 = 0", &CommitNote::default())
        .await
        .unwrap();
    for metric in [
        palimpsest_core::DistanceType::L2,
        palimpsest_core::DistanceType::Cosine,
        palimpsest_core::DistanceType::Dot,
    ] {
        for with_row_id in [false, true] {
            let request = |filter: Option<&str>| QueryRequest {
                filter: filter.map(str::to_string),
                with_row_id,
                columns: Some(vec!["id".into(), "category".into()]),
                vector: Some(VectorRequest {
                    distance_type: Some(metric),
                    ..knn(query_vector(11), 12)
                }),
                ..Default::default()
            };
            let fast = table.query(&request(None)).await.unwrap();
            let lance = table.query(&request(Some("true"))).await.unwrap();
            let names = |b: &RecordBatch| -> Vec<String> {
                b.schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect()
            };
            assert_eq!(names(&fast[0]), names(&lance[0]), "{metric:?}");
            let col = |batches: &[RecordBatch], n: &str| -> Vec<f64> {
                let mut out = Vec::new();
                for b in batches {
                    let c = b.column_by_name(n).unwrap();
                    if let Some(a) = c.as_any().downcast_ref::<Float32Array>() {
                        out.extend(a.values().iter().map(|v| *v as f64));
                    } else {
                        let a = c.as_any().downcast_ref::<Int64Array>().unwrap();
                        out.extend(a.values().iter().map(|v| *v as f64));
                    }
                }
                out
            };
            assert_eq!(col(&fast, "id"), col(&lance, "id"), "{metric:?}");
            assert!(col(&fast, "id").iter().all(|id| *id as i64 % 7 != 0));
            let pairs = col(&fast, "_distance")
                .into_iter()
                .zip(col(&lance, "_distance"));
            for (a, b) in pairs {
                assert!((a - b).abs() < 1e-3, "{metric:?}: {a} vs {b}");
            }
        }
    }
}
