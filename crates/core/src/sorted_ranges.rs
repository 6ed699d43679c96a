//! Range filters over sorted integer columns, answered by binary search.
//!
//! A filter that is nothing but bounds on one integer column (`id >= 10 AND id < 20`,
//! `id = 5`, `id BETWEEN 1 AND 9`) matches one run of rows in a chunk whose values ascend
//! (ids, sequence numbers, timestamps as integers are usually written in order). The run's
//! ends are found in O(log n) instead of comparing every row of the chunk.

use arrow_array::{Array, PrimitiveArray};
use arrow_schema::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};

/// Bounds on one integer column: the rows with `low <= value <= high` match. Literals and
/// column share one type (`data_type`), so the comparison is the one DataFusion would make;
/// i128 holds every value of every integer type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IntRange {
    pub column: String,
    data_type: DataType,
    low: i128,
    high: i128,
}

impl IntRange {
    /// The bounds `expr` puts on one column, when it is only such bounds joined by AND;
    /// `None` for anything else (evaluated row by row as before).
    pub fn of(expr: &Expr) -> Option<IntRange> {
        let mut range = None;
        collect(expr, &mut range)?;
        range
    }
}

fn collect(expr: &Expr, range: &mut Option<IntRange>) -> Option<()> {
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) => {
            collect(left, range)?;
            collect(right, range)
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            // `5 < id` is `id > 5`.
            let (column, op, literal) = match (left.as_ref(), right.as_ref()) {
                (Expr::Column(c), Expr::Literal(v, _)) => (c, *op, v),
                (Expr::Literal(v, _), Expr::Column(c)) => (c, op.swap()?, v),
                _ => return None,
            };
            let v = integer(literal)?;
            let (low, high) = match op {
                Operator::Eq => (v, v),
                Operator::Gt => (v + 1, i128::MAX),
                Operator::GtEq => (v, i128::MAX),
                Operator::Lt => (i128::MIN, v - 1),
                Operator::LtEq => (i128::MIN, v),
                _ => return None,
            };
            let column = column.relation.is_none().then_some(&column.name)?;
            narrow(range, column, literal.data_type(), low, high)
        }
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => {
            let (Expr::Column(column), Expr::Literal(l, _), Expr::Literal(h, _)) =
                (expr.as_ref(), low.as_ref(), high.as_ref())
            else {
                return None;
            };
            if column.relation.is_some() || l.data_type() != h.data_type() {
                return None;
            }
            narrow(range, &column.name, l.data_type(), integer(l)?, integer(h)?)
        }
        _ => None,
    }
}

/// Intersects `range` with `low..=high` on `column`; `None` when the filter bounds two
/// columns or compares values of two types.
fn narrow(
    range: &mut Option<IntRange>,
    column: &str,
    data_type: DataType,
    low: i128,
    high: i128,
) -> Option<()> {
    match range {
        None => {
            *range = Some(IntRange {
                column: column.to_string(),
                data_type,
                low,
                high,
            });
        }
        Some(r) if r.column == column && r.data_type == data_type => {
            r.low = r.low.max(low);
            r.high = r.high.min(high);
        }
        Some(_) => return None,
    }
    Some(())
}

/// A non-null integer literal's value.
fn integer(value: &ScalarValue) -> Option<i128> {
    Some(match value {
        ScalarValue::Int8(Some(v)) => *v as i128,
        ScalarValue::Int16(Some(v)) => *v as i128,
        ScalarValue::Int32(Some(v)) => *v as i128,
        ScalarValue::Int64(Some(v)) => *v as i128,
        ScalarValue::UInt8(Some(v)) => *v as i128,
        ScalarValue::UInt16(Some(v)) => *v as i128,
        ScalarValue::UInt32(Some(v)) => *v as i128,
        ScalarValue::UInt64(Some(v)) => *v as i128,
        _ => return None,
    })
}

/// Runs `$body` with `$values` bound to the native values of `$array` for every integer
/// type; evaluates to `$other` for any other type.
macro_rules! with_integers {
    ($array:expr, $values:ident => $body:expr, $other:expr) => {
        with_integers!(@each $array, $values => $body, $other;
            Int8Type, Int16Type, Int32Type, Int64Type,
            UInt8Type, UInt16Type, UInt32Type, UInt64Type)
    };
    (@each $array:expr, $values:ident => $body:expr, $other:expr; $($t:ty),*) => {{
        use arrow_array::types::*;
        let any = $array.as_any();
        'typed: {
            $(
                if let Some(a) = any.downcast_ref::<PrimitiveArray<$t>>() {
                    let $values = a.values();
                    break 'typed ($body);
                }
            )*
            $other
        }
    }};
}

/// Whether `values` are integers without nulls, each no smaller than the one before.
pub(crate) fn ascending(values: &dyn Array) -> bool {
    if values.null_count() > 0 || !values.data_type().is_integer() {
        return false;
    }
    with_integers!(values, v => v.windows(2).all(|w| w[0] <= w[1]), false)
}

/// The rows `start..end` of `values` (ascending, see [`ascending`]) inside `range`; `None`
/// when `values` are not of the range's type.
pub(crate) fn run_in(values: &dyn Array, range: &IntRange) -> Option<(usize, usize)> {
    if values.data_type() != &range.data_type || values.null_count() > 0 {
        return None;
    }
    with_integers!(values, v => {
        let start = v.partition_point(|x| (*x as i128) < range.low);
        let end = v.partition_point(|x| (*x as i128) <= range.high);
        Some((start, end.max(start)))
    }, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int32Array, Int64Array, UInt64Array};
    use lance_datafusion::planner::Planner;
    use std::sync::Arc;

    fn range_of(sql: &str) -> Option<IntRange> {
        let schema = arrow_schema::Schema::new(vec![
            arrow_schema::Field::new("id", DataType::Int64, true),
            arrow_schema::Field::new("n", DataType::Int32, true),
            arrow_schema::Field::new("x", DataType::Float64, true),
        ]);
        let planner = Planner::new(Arc::new(schema));
        let expr = planner.parse_filter(sql).unwrap();
        IntRange::of(&planner.optimize_expr(expr).unwrap())
    }

    #[test]
    fn bounds_on_one_integer_column_make_a_range() {
        let ids = Int64Array::from_iter_values(0..100);
        let run = |sql: &str| run_in(&ids, &range_of(sql).expect(sql));
        assert_eq!(run("id >= 10 AND id < 20"), Some((10, 20)));
        assert_eq!(run("id > 10 AND id <= 20"), Some((11, 21)));
        assert_eq!(run("10 < id AND 20 >= id"), Some((11, 21)));
        assert_eq!(run("id = 42"), Some((42, 43)));
        assert_eq!(run("id BETWEEN 5 AND 7"), Some((5, 8)));
        assert_eq!(run("id > 3 AND id > 50 AND id < 60"), Some((51, 60)));
        assert_eq!(run("id >= 20 AND id < 10"), Some((20, 20)), "empty");
        assert_eq!(run("id < 0"), Some((0, 0)));
        assert_eq!(run("id >= 95"), Some((95, 100)));
        // The planner turns this into `id <= 5`.
        assert_eq!(run("NOT (id > 5)"), Some((0, 6)));
    }

    #[test]
    fn other_filters_make_no_range() {
        for sql in [
            "id > 5 OR id < 2",
            "id <> 5",
            "id > 5 AND n < 3",
            "x > 0.5",
            "id * 2 > 10",
            "id NOT BETWEEN 1 AND 3",
            "id IN (1, 2)",
            "id > NULL",
        ] {
            assert_eq!(range_of(sql), None, "{sql}");
        }
    }

    #[test]
    fn runs_need_the_range_type_and_no_nulls() {
        let range = range_of("id >= 2 AND id < 4").unwrap();
        assert_eq!(run_in(&Int32Array::from(vec![1, 2, 3, 4]), &range), None);
        assert_eq!(
            run_in(&Int64Array::from(vec![Some(1), None, Some(3)]), &range),
            None
        );
        assert_eq!(
            run_in(&Int64Array::from(vec![1, 2, 3, 4]), &range),
            Some((1, 3))
        );
        // Duplicates: every copy is in the run.
        assert_eq!(
            run_in(&Int64Array::from(vec![1, 2, 2, 2, 3, 3, 5]), &range),
            Some((1, 6))
        );
    }

    #[test]
    fn ascending_is_integers_in_order_without_nulls() {
        assert!(ascending(&Int64Array::from(vec![1, 1, 2, 9])));
        assert!(ascending(&UInt64Array::from(vec![0, u64::MAX])));
        assert!(!ascending(&Int64Array::from(vec![1, 3, 2])));
        assert!(!ascending(&Int64Array::from(vec![Some(1), None])));
        assert!(!ascending(&arrow_array::Float64Array::from(vec![1.0, 2.0])));
        // A slice of a sorted array is sorted; of an unsorted one, it may be.
        let unsorted = Int64Array::from(vec![5, 1, 2, 3]);
        assert!(ascending(&unsorted.slice(1, 3)));
    }
}
