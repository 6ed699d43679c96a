//! Filters evaluated over cached columns: lance's own SQL planner parses and optimises the
//! filter, DataFusion evaluates it segment by segment. Low-cardinality string columns carry a
//! dictionary, so `category = 'x'`, `<>` and `IN (...)` compare integer keys instead of
//! strings; numeric columns carry min/max per chunk, so range filters skip segments that
//! cannot match; a filter that only bounds one integer column finds its run of rows by
//! binary search where the column ascends (`sorted_ranges`).

use std::collections::HashMap;
use std::ops::Not;
use std::sync::{Arc, Mutex, OnceLock};

use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions};
use arrow_buffer::{BooleanBuffer, BooleanBufferBuilder};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use datafusion::common::pruning::PruningStatistics;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::Column;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use datafusion::physical_optimizer::pruning::PruningPredicate;
use datafusion::physical_plan::PhysicalExpr;
use lance::Dataset;
use lance_datafusion::planner::Planner;

use crate::column_cache::{self, version_key, CachedColumns, VersionKey};
use crate::error::Result;
use crate::sorted_ranges::{run_in, IntRange};

/// Prefix of the per-segment key columns a rewritten filter compares.
const KEYS_PREFIX: &str = "__palimpsest_keys_";

/// A filter, parsed and checked by lance's planner, and the columns it reads.
pub(crate) struct MemoryFilter {
    expr: Expr,
    pub columns: Vec<String>,
    /// The physical plan over the plain columns and its input schema, made once.
    plain: OnceLock<(SchemaRef, Arc<dyn PhysicalExpr>)>,
    /// What segment bounds can rule out, made once (`None`: nothing).
    pruning: OnceLock<Option<Arc<PruningPredicate>>>,
    /// The segments to read of the last column set it was judged against (by its id): a
    /// filter is planned per version, whose columns are assembled once while they stay in
    /// memory, so the answer repeats.
    pruned: Mutex<Option<(u64, Arc<[bool]>)>>,
    /// Bounds on one integer column, when that is all the filter is: chunks whose values
    /// ascend find their matching run by binary search.
    range: Option<IntRange>,
    /// The filter's string literals: on a dictionary column, what the rewritten filter
    /// compares depends only on the keys they have in that column's dictionary.
    literals: Vec<String>,
    /// Plans over dictionary keys (with their input schemas), by the keys the literals have
    /// in each column's dictionary (`None`: the column has none): segments whose dictionaries
    /// agree on those share one plan.
    keyed: Mutex<HashMap<Vec<Option<Vec<u16>>>, KeyedPlan>>,
    /// A column the filter pins to one string (`category = 'x' AND ...`): every row it
    /// matches holds that value, so a copy grouped by the column finds them as one run.
    pinned: Option<String>,
}

type KeyedPlan = (SchemaRef, Arc<dyn PhysicalExpr>);

/// Parsed filters by table version and SQL: a table's schema is fixed per version, and
/// parsing and optimising a filter costs more than evaluating it over a few segments.
type PlannedFilters = HashMap<(VersionKey, String), Option<Arc<MemoryFilter>>>;

/// Most filters remembered; past it the memory starts over.
const MAX_PLANNED: usize = 1024;

/// `sql` planned for evaluation over cached columns of `dataset`; `None` when it reads
/// columns the cache does not hold (nested fields) or lance's planner rejects it.
pub(crate) fn plan_filter(dataset: &Dataset, sql: &str) -> Option<Arc<MemoryFilter>> {
    static PLANNED: OnceLock<Mutex<PlannedFilters>> = OnceLock::new();
    let key = (version_key(dataset), sql.to_string());
    let planned = PLANNED.get_or_init(Default::default);
    if let Some(hit) = planned.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return hit.clone();
    }
    let filter = parse_filter(dataset, sql).map(Arc::new);
    let mut planned = planned.lock().unwrap_or_else(|e| e.into_inner());
    if planned.len() >= MAX_PLANNED {
        planned.clear();
    }
    planned.insert(key, filter.clone());
    filter
}

fn parse_filter(dataset: &Dataset, sql: &str) -> Option<MemoryFilter> {
    let schema = Arc::new(arrow_schema::Schema::from(dataset.schema()));
    let planner = Planner::new(schema);
    let expr = planner.parse_filter(sql).ok()?;
    let expr = planner.optimize_expr(expr).ok()?;
    let columns = Planner::column_names_in_expr(&expr);
    if !columns
        .iter()
        .all(|c| column_cache::is_top_level(dataset, c))
    {
        return None;
    }
    let literals = string_literals(&expr);
    let range = IntRange::of(&expr);
    let pinned = pinned_column(&expr);
    Some(MemoryFilter {
        pinned,
        range,
        expr,
        columns,
        literals,
        plain: OnceLock::new(),
        pruning: OnceLock::new(),
        pruned: Mutex::new(None),
        keyed: Mutex::new(HashMap::new()),
    })
}

impl MemoryFilter {
    /// The column the filter pins to one string value, if any (see `clustered_copy`).
    pub fn pinned_column(&self) -> Option<&str> {
        self.pinned.as_deref()
    }
}

/// A column that `expr`'s top-level conjunction compares for equality with a string.
fn pinned_column(expr: &Expr) -> Option<String> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = expr else {
        return None;
    };
    match (op, left.as_ref(), right.as_ref()) {
        (Operator::And, _, _) => pinned_column(left).or_else(|| pinned_column(right)),
        (Operator::Eq, Expr::Column(c), Expr::Literal(ScalarValue::Utf8(Some(_)), _))
        | (Operator::Eq, Expr::Literal(ScalarValue::Utf8(Some(_)), _), Expr::Column(c)) => {
            Some(c.name.clone())
        }
        _ => None,
    }
}

/// Every distinct string literal of `expr`.
fn string_literals(expr: &Expr) -> Vec<String> {
    let mut literals: Vec<String> = Vec::new();
    let _ = expr.apply(|e| {
        if let Expr::Literal(ScalarValue::Utf8(Some(text)), _) = e {
            if !literals.contains(text) {
                literals.push(text.clone());
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    literals
}

/// The key of `text` in `dictionary`, `u16::MAX` when it is not there.
fn key_in(dictionary: &arrow_array::StringArray, text: &str) -> u16 {
    (0..dictionary.len())
        .find(|i| dictionary.value(*i) == text)
        .map_or(u16::MAX, |i| i as u16)
}

/// The filter's value for every row of segment `f` (null counts as not matching).
pub(crate) fn evaluate(
    filter: &MemoryFilter,
    cached: &CachedColumns,
    f: usize,
) -> Result<BooleanArray> {
    let segment = &cached.segments[f];
    let value = match sorted_run(filter, cached, f) {
        Some((start, end)) => {
            let mut bits = BooleanBufferBuilder::new(segment.rows);
            bits.append_n(start, false);
            bits.append_n(end - start, true);
            bits.append_n(segment.rows - end, false);
            BooleanArray::new(bits.finish(), None)
        }
        None => evaluate_rows(filter, cached, f)?,
    };
    // Deleted rows never match.
    Ok(match &segment.live {
        Some(live) => {
            let (values, nulls) = value.into_parts();
            BooleanArray::new(&values & live, nulls)
        }
        None => value,
    })
}

/// The run of segment `f`'s rows a range filter matches, when its column ascends there.
fn sorted_run(filter: &MemoryFilter, cached: &CachedColumns, f: usize) -> Option<(usize, usize)> {
    let range = filter.range.as_ref()?;
    let at = cached.schema.index_of(&range.column).ok()?;
    let chunk = &cached.segments[f].columns[at];
    chunk.sorted.then(|| run_in(chunk.values.as_ref(), range))?
}

/// The filter's value for every row of segment `f`, deleted ones included.
fn evaluate_rows(filter: &MemoryFilter, cached: &CachedColumns, f: usize) -> Result<BooleanArray> {
    let segment = &cached.segments[f];
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(filter.columns.len() * 2);
    let mut dictionaries = Vec::with_capacity(filter.columns.len());
    for name in &filter.columns {
        let at = cached
            .schema
            .index_of(name)
            .expect("the filter's columns were loaded");
        let column = &segment.columns[at];
        arrays.push(column.values.clone());
        if let Some((keys, dictionary)) = &column.keys {
            arrays.push(Arc::new(keys.clone()));
            dictionaries.push(Some(dictionary));
        } else {
            dictionaries.push(None);
        }
    }
    let (schema, physical) = if dictionaries.iter().all(Option::is_none) {
        plain_plan(filter, cached)?
    } else {
        keyed_plan(filter, cached, &dictionaries)?
    };
    let options = RecordBatchOptions::new().with_row_count(Some(segment.rows));
    let batch = RecordBatch::try_new_with_options(schema, arrays, &options)?;
    let value = physical.evaluate(&batch)?.into_array(segment.rows)?;
    Ok(value
        .as_any()
        .downcast_ref::<BooleanArray>()
        .cloned()
        .unwrap_or_else(|| BooleanArray::from(vec![false; segment.rows])))
}

/// Which rows of segment `f` match `filter` (live ones only; a null result does not match).
pub(crate) fn live_matches(
    filter: &MemoryFilter,
    cached: &CachedColumns,
    f: usize,
) -> Result<BooleanBuffer> {
    let mask = evaluate(filter, cached, f)?;
    Ok(match mask.nulls() {
        Some(valid) => mask.values() & valid.inner(),
        None => mask.values().clone(),
    })
}

/// The filter planned over dictionary keys for one segment's dictionaries (one per filter
/// column, `None` where the column has none).
fn keyed_plan(
    filter: &MemoryFilter,
    cached: &CachedColumns,
    dictionaries: &[Option<&arrow_array::StringArray>],
) -> Result<KeyedPlan> {
    let signature: Vec<Option<Vec<u16>>> = dictionaries
        .iter()
        .map(|d| d.map(|d| filter.literals.iter().map(|l| key_in(d, l)).collect()))
        .collect();
    let memo = || filter.keyed.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(planned) = memo().get(&signature) {
        return Ok(planned.clone());
    }
    // The batch `evaluate` builds: each filter column, followed by its keys when it has a
    // dictionary.
    let mut fields: Vec<Field> = Vec::new();
    let mut rewrites = HashMap::new();
    for (name, dictionary) in filter.columns.iter().zip(dictionaries) {
        fields.push(cached.schema.field_with_name(name)?.clone());
        if let Some(dictionary) = dictionary {
            let keys_name = format!("{KEYS_PREFIX}{name}");
            fields.push(Field::new(&keys_name, DataType::UInt16, true));
            rewrites.insert(name.clone(), (keys_name, *dictionary));
        }
    }
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let expr = compare_keys(filter.expr.clone(), &rewrites)?;
    let planned = (
        schema.clone(),
        Planner::new(schema).create_physical_expr(&expr)?,
    );
    memo().insert(signature, planned.clone());
    Ok(planned)
}

/// The filter planned over its own columns, once.
fn plain_plan(filter: &MemoryFilter, cached: &CachedColumns) -> Result<KeyedPlan> {
    if let Some(planned) = filter.plain.get() {
        return Ok(planned.clone());
    }
    let schema = filter_schema(filter, cached)?;
    let planned = Planner::new(schema.clone()).create_physical_expr(&filter.expr)?;
    Ok(filter.plain.get_or_init(|| (schema, planned)).clone())
}

fn filter_schema(filter: &MemoryFilter, cached: &CachedColumns) -> Result<SchemaRef> {
    let fields = filter
        .columns
        .iter()
        .map(|c| cached.schema.field_with_name(c).cloned())
        .collect::<std::result::Result<Vec<Field>, _>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

/// Which segments may hold matching rows, judged from their numeric columns' bounds (a range
/// filter on a sorted or clustered column then reads few segments).
pub(crate) fn segments_to_read(filter: &MemoryFilter, cached: &CachedColumns) -> Arc<[bool]> {
    let memo = || filter.pruned.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((id, read)) = memo().as_ref() {
        if *id == cached.id {
            return read.clone();
        }
    }
    let all = vec![true; cached.segments.len()];
    let pruning = filter.pruning.get_or_init(|| {
        let (schema, expr) = plain_plan(filter, cached).ok()?;
        let predicate = PruningPredicate::try_new(expr, schema).ok()?;
        (!predicate.always_true()).then(|| Arc::new(predicate))
    });
    let read: Arc<[bool]> = match pruning {
        Some(predicate) => predicate.prune(&Bounds(cached)).unwrap_or(all),
        None => all,
    }
    .into();
    *memo() = Some((cached.id, read.clone()));
    read
}

/// The segments' bounds as DataFusion's pruning reads them.
struct Bounds<'a>(&'a CachedColumns);

impl Bounds<'_> {
    fn side(&self, column: &Column, min: bool) -> Option<ArrayRef> {
        let at = self.0.schema.index_of(&column.name).ok()?;
        let values = self
            .0
            .segments
            .iter()
            .map(|s| {
                let (lo, hi) = s.columns[at].bounds.as_ref()?;
                Some(if min { lo.clone() } else { hi.clone() })
            })
            .collect::<Option<Vec<ScalarValue>>>()?;
        ScalarValue::iter_to_array(values).ok()
    }
}

impl PruningStatistics for Bounds<'_> {
    fn min_values(&self, column: &Column) -> Option<ArrayRef> {
        self.side(column, true)
    }

    fn max_values(&self, column: &Column) -> Option<ArrayRef> {
        self.side(column, false)
    }

    fn num_containers(&self) -> usize {
        self.0.segments.len()
    }

    fn null_counts(&self, _column: &Column) -> Option<ArrayRef> {
        None
    }

    fn row_counts(&self) -> Option<ArrayRef> {
        None
    }

    /// `false` for segments whose dictionary of `column` holds none of `values` (so
    /// `column = 'x'` or `IN (...)` cannot match them); unknown otherwise. A segment's
    /// dictionary is its chunk's, which holds every value of the segment.
    #[allow(clippy::mutable_key_type)] // DataFusion's signature
    fn contained(
        &self,
        column: &Column,
        values: &std::collections::HashSet<ScalarValue>,
    ) -> Option<BooleanArray> {
        let at = self.0.schema.index_of(&column.name).ok()?;
        let texts = values
            .iter()
            .map(|v| match v {
                ScalarValue::Utf8(Some(text)) => Some(text.as_str()),
                _ => None,
            })
            .collect::<Option<Vec<&str>>>()?;
        let segments = self.0.segments.iter().map(|s| {
            let (_, dictionary) = s.columns[at].keys.as_ref()?;
            let absent = texts.iter().all(|t| key_in(dictionary, t) == u16::MAX);
            absent.then_some(false)
        });
        Some(segments.collect())
    }
}

type Dictionaries<'a> = HashMap<String, (String, &'a arrow_array::StringArray)>;

/// Rewrites `column = 'text'`, `<>` and `IN (...)` on dictionary columns into comparisons of
/// their keys.
fn compare_keys(expr: Expr, dictionaries: &Dictionaries) -> Result<Expr> {
    let key_of = |name: &str, literal: &Expr| -> Option<Expr> {
        let (keys_name, dictionary) = dictionaries.get(name)?;
        let Expr::Literal(ScalarValue::Utf8(Some(text)), _) = literal else {
            return None;
        };
        let key = key_in(dictionary, text);
        let column = Expr::Column(datafusion::common::Column::from_name(keys_name));
        Some(column.eq(Expr::Literal(ScalarValue::UInt16(Some(key)), None)))
    };
    let rewritten = expr.transform(|e| {
        let replaced = match &e {
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if matches!(op, Operator::Eq | Operator::NotEq) =>
            {
                let pair = match (left.as_ref(), right.as_ref()) {
                    (Expr::Column(c), lit) | (lit, Expr::Column(c)) => key_of(&c.name, lit),
                    _ => None,
                };
                pair.map(|eq| if *op == Operator::NotEq { eq.not() } else { eq })
            }
            Expr::InList(list) => match list.expr.as_ref() {
                Expr::Column(c) if dictionaries.contains_key(&c.name) => list
                    .list
                    .iter()
                    .map(|item| key_of(&c.name, item))
                    .collect::<Option<Vec<_>>>()
                    .and_then(|eqs| eqs.into_iter().reduce(Expr::or))
                    .map(|any| if list.negated { any.not() } else { any }),
                _ => None,
            },
            _ => None,
        };
        Ok(match replaced {
            Some(new) => Transformed::yes(new),
            None => Transformed::no(e),
        })
    })?;
    Ok(rewritten.data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pinned(sql: &str) -> Option<String> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
        ]));
        let planner = Planner::new(schema);
        let expr = planner.parse_filter(sql).unwrap();
        pinned_column(&planner.optimize_expr(expr).unwrap())
    }

    #[test]
    fn only_string_equalities_of_the_top_conjunction_pin_a_column() {
        assert_eq!(pinned("a = 'x'").as_deref(), Some("a"));
        assert_eq!(pinned("'x' = a").as_deref(), Some("a"));
        assert_eq!(
            pinned("n > 3 AND (a = 'x' AND n < 9)").as_deref(),
            Some("a")
        );
        for sql in [
            "a = 'x' OR n > 3",
            "a <> 'x'",
            "a IN ('x', 'y')",
            "NOT (a = 'x')",
            "n = 3",
            "a IS NULL",
        ] {
            assert_eq!(pinned(sql), None, "{sql}");
        }
    }
}
