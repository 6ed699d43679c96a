//! Checks incoming batches against a table's schema. Values are never coerced: a batch whose
//! column types differ from the table's (beyond nested field names) is rejected before any
//! file is written.

use std::sync::Arc;

use arrow_array::{new_null_array, Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::error::{Error, Result};

/// What the incoming columns must cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// Every table column (missing nullable columns are filled with nulls).
    AllColumns,
    /// Any subset of the table's columns, e.g. a merge-insert source of key + new vectors.
    Subset,
}

pub(crate) fn check_not_empty(schema: &Schema) -> Result<()> {
    if schema.fields().is_empty() {
        return Err(Error::schema_mismatch("a table needs at least one column"));
    }
    Ok(())
}

/// Returns `batches` rearranged to `target`'s column order and exact types.
pub fn align_batches(
    batches: Vec<RecordBatch>,
    target: &Schema,
    coverage: Coverage,
) -> Result<Vec<RecordBatch>> {
    batches
        .into_iter()
        .map(|batch| align_batch(&batch, target, coverage))
        .collect()
}

fn align_batch(batch: &RecordBatch, target: &Schema, coverage: Coverage) -> Result<RecordBatch> {
    let input = batch.schema();
    for field in input.fields() {
        if target.field_with_name(field.name()).is_err() {
            return Err(Error::schema_mismatch(format!(
                "column `{}` is not in the table (columns: {}); add it with addColumns() first",
                field.name(),
                column_list(target)
            )));
        }
    }
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for target_field in target.fields() {
        let name = target_field.name();
        let column = match input.index_of(name) {
            Ok(index) => batch.column(index).clone(),
            Err(_) if coverage == Coverage::Subset => continue,
            Err(_) if target_field.is_nullable() => {
                new_null_array(target_field.data_type(), batch.num_rows())
            }
            Err(_) => {
                return Err(Error::schema_mismatch(format!(
                    "column `{name}` is required (not nullable) but the data has no such column"
                )))
            }
        };
        let column = conform(name, column, target_field.data_type())?;
        check_finite_vectors(name, &column)?;
        if !target_field.is_nullable() && column.null_count() > 0 {
            return Err(Error::schema_mismatch(format!(
                "column `{name}` is not nullable but the data has {} null value(s)",
                column.null_count()
            )));
        }
        fields.push(target_field.as_ref().clone());
        columns.push(column);
    }
    let schema: SchemaRef = Arc::new(Schema::new_with_metadata(fields, target.metadata().clone()));
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// Rejects NaN and infinite values in the vector columns of `batches` (data that is not
/// aligned to an existing schema: new tables and overwrites).
pub(crate) fn check_batches_finite(batches: &[RecordBatch]) -> Result<()> {
    for batch in batches {
        for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
            check_finite_vectors(field.name(), column)?;
        }
    }
    Ok(())
}

/// Vectors with NaN or infinite values poison every distance computed from them, so vector
/// columns (fixed-size lists of floats) must hold finite values only.
fn check_finite_vectors(name: &str, column: &ArrayRef) -> Result<()> {
    let DataType::FixedSizeList(_, dim) = column.data_type() else {
        return Ok(());
    };
    let list = column
        .as_any()
        .downcast_ref::<arrow_array::FixedSizeListArray>()
        .expect("a FixedSizeList type is a FixedSizeListArray");
    let values = list.values();
    let bad = match values.data_type() {
        DataType::Float32 => first_non_finite(
            values
                .as_any()
                .downcast_ref::<arrow_array::Float32Array>()
                .expect("Float32 values")
                .iter()
                .map(|v| v.map(f64::from)),
        ),
        DataType::Float64 => first_non_finite(
            values
                .as_any()
                .downcast_ref::<arrow_array::Float64Array>()
                .expect("Float64 values")
                .iter(),
        ),
        _ => None,
    };
    match bad {
        Some((index, value)) => Err(Error::schema_mismatch(format!(
            "column `{name}` holds vectors, and the vector of row {} has a non-finite value ({value}); vectors must hold finite numbers",
            index / (*dim).max(1) as usize
        ))),
        None => Ok(()),
    }
}

/// The position and value of the first NaN or infinite value.
fn first_non_finite(values: impl Iterator<Item = Option<f64>>) -> Option<(usize, f64)> {
    values
        .enumerate()
        .find_map(|(i, v)| v.filter(|v| !v.is_finite()).map(|v| (i, v)))
}

/// Relabels `column` to `target` when the two differ only in nested field names/nullability;
/// any other difference is a schema mismatch.
fn conform(name: &str, column: ArrayRef, target: &DataType) -> Result<ArrayRef> {
    if column.data_type() == target {
        return Ok(column);
    }
    if !same_layout(column.data_type(), target) {
        return Err(Error::schema_mismatch(mismatch_message(
            name,
            column.data_type(),
            target,
        )));
    }
    let data = column
        .to_data()
        .into_builder()
        .data_type(target.clone())
        .build()?;
    Ok(arrow_array::make_array(data))
}

fn mismatch_message(name: &str, got: &DataType, want: &DataType) -> String {
    if let (DataType::FixedSizeList(_, got_len), DataType::FixedSizeList(_, want_len)) = (got, want)
    {
        if got_len != want_len {
            return format!(
                "column `{name}` holds vectors of {want_len} values but the data has vectors of {got_len}"
            );
        }
    }
    format!("column `{name}` has type {want} in the table but the data has {got}; values are never converted, so pass data of the table's type")
}

/// Equal types up to the names, nullability and metadata of nested fields.
pub(crate) fn same_layout(a: &DataType, b: &DataType) -> bool {
    use DataType as D;
    match (a, b) {
        (D::List(x), D::List(y)) | (D::LargeList(x), D::LargeList(y)) => {
            same_layout(x.data_type(), y.data_type())
        }
        (D::FixedSizeList(x, n), D::FixedSizeList(y, m)) => {
            n == m && same_layout(x.data_type(), y.data_type())
        }
        (D::Struct(xs), D::Struct(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .zip(ys.iter())
                    .all(|(x, y)| x.name() == y.name() && same_layout(x.data_type(), y.data_type()))
        }
        (D::Map(x, xs), D::Map(y, ys)) => xs == ys && same_layout(x.data_type(), y.data_type()),
        _ => a == b,
    }
}

fn column_list(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f: &Arc<Field>| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{FixedSizeListArray, Float32Array, Int64Array, StringArray};

    fn target() -> Schema {
        Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("text", DataType::Utf8, true),
            Field::new(
                "v",
                DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), 2),
                true,
            ),
        ])
    }

    fn vectors(dim: i32, child_name: &str) -> ArrayRef {
        let values = Float32Array::from(vec![0.5; dim as usize]);
        Arc::new(FixedSizeListArray::new(
            Arc::new(Field::new(child_name, DataType::Float32, true)),
            dim,
            Arc::new(values),
            None,
        ))
    }

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    #[test]
    fn fills_missing_nullable_columns_and_relabels_vectors() {
        let b = batch(vec![
            ("v", vectors(2, "element")),
            ("id", Arc::new(Int64Array::from(vec![1]))),
        ]);
        let out = align_batches(vec![b], &target(), Coverage::AllColumns).unwrap();
        assert_eq!(out[0].schema().as_ref(), &target());
        assert_eq!(out[0].column(1).null_count(), 1);
    }

    #[test]
    fn rejects_wrong_dimension_type_and_extra_columns() {
        let wrong_dim = batch(vec![
            ("id", Arc::new(Int64Array::from(vec![1]))),
            ("v", vectors(3, "item")),
        ]);
        let err = align_batches(vec![wrong_dim], &target(), Coverage::AllColumns).unwrap_err();
        assert!(err.message.contains("vectors of 2"), "{}", err.message);

        let wrong_type = batch(vec![(
            "id",
            Arc::new(StringArray::from(vec!["1"])) as ArrayRef,
        )]);
        let err = align_batches(vec![wrong_type], &target(), Coverage::Subset).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::SchemaMismatch);

        let extra = batch(vec![
            ("id", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            ("zzz", Arc::new(Int64Array::from(vec![1]))),
        ]);
        let err = align_batches(vec![extra], &target(), Coverage::Subset).unwrap_err();
        assert!(err.message.contains("zzz"));
    }

    #[test]
    fn rejects_non_finite_vectors() {
        use arrow_array::{FixedSizeListArray, Float32Array};
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let item = Arc::new(Field::new("item", DataType::Float32, true));
            let values = Float32Array::from(vec![0.0, 1.0, 2.0, bad]);
            let v: ArrayRef = Arc::new(FixedSizeListArray::new(item, 2, Arc::new(values), None));
            let b = batch(vec![
                ("id", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
                ("v", v),
            ]);
            let err = align_batches(vec![b.clone()], &target(), Coverage::AllColumns).unwrap_err();
            assert_eq!(err.code, crate::ErrorCode::SchemaMismatch);
            assert!(err.message.contains("row 1"), "{}", err.message);
            assert!(check_batches_finite(&[b]).is_err());
        }
    }

    #[test]
    fn rejects_nulls_in_required_columns() {
        let b = batch(vec![(
            "id",
            Arc::new(Int64Array::from(vec![Some(1), None])) as ArrayRef,
        )]);
        let err = align_batches(vec![b], &target(), Coverage::AllColumns).unwrap_err();
        assert!(err.message.contains("not nullable"));
    }
}
