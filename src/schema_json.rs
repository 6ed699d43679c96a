//! Arrow schemas as the JSON described in docs/native-contract.md, both directions.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::error::invalid_argument;

#[derive(Serialize, Deserialize)]
pub struct SchemaJson {
    pub fields: Vec<FieldJson>,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub metadata: HashMap<String, String>,
}

#[derive(Serialize, Deserialize)]
pub struct FieldJson {
    pub name: String,
    pub nullable: bool,
    #[serde(rename = "type")]
    pub data_type: TypeJson,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub metadata: HashMap<String, String>,
}

#[derive(Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum TypeJson {
    Null,
    Bool,
    Int {
        bit_width: u8,
        signed: bool,
    },
    Float {
        precision: Precision,
    },
    Utf8,
    LargeUtf8,
    Binary,
    LargeBinary,
    FixedSizeBinary {
        byte_width: i32,
    },
    Date {
        unit: DateUnit,
    },
    Timestamp {
        unit: Unit,
        timezone: Option<String>,
    },
    Time {
        unit: Unit,
        bit_width: u8,
    },
    Duration {
        unit: Unit,
    },
    Decimal {
        precision: u8,
        scale: i8,
        bit_width: u16,
    },
    List {
        child: Box<FieldJson>,
    },
    LargeList {
        child: Box<FieldJson>,
    },
    FixedSizeList {
        list_size: i32,
        child: Box<FieldJson>,
    },
    Struct {
        children: Vec<FieldJson>,
    },
    Map {
        child: Box<FieldJson>,
        keys_sorted: bool,
    },
}

#[derive(Serialize, Deserialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub enum Precision {
    Half,
    Single,
    Double,
}

#[derive(Serialize, Deserialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub enum DateUnit {
    Day,
    Millisecond,
}

#[derive(Serialize, Deserialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub enum Unit {
    Second,
    Millisecond,
    Microsecond,
    Nanosecond,
}

impl From<Unit> for TimeUnit {
    fn from(unit: Unit) -> Self {
        match unit {
            Unit::Second => TimeUnit::Second,
            Unit::Millisecond => TimeUnit::Millisecond,
            Unit::Microsecond => TimeUnit::Microsecond,
            Unit::Nanosecond => TimeUnit::Nanosecond,
        }
    }
}

impl From<&TimeUnit> for Unit {
    fn from(unit: &TimeUnit) -> Self {
        match unit {
            TimeUnit::Second => Unit::Second,
            TimeUnit::Millisecond => Unit::Millisecond,
            TimeUnit::Microsecond => Unit::Microsecond,
            TimeUnit::Nanosecond => Unit::Nanosecond,
        }
    }
}

pub fn schema_to_json(schema: &Schema) -> napi::Result<String> {
    let json = SchemaJson {
        fields: schema
            .fields()
            .iter()
            .map(|f| field_to_json(f))
            .collect::<napi::Result<_>>()?,
        metadata: schema.metadata().clone(),
    };
    serde_json::to_string(&json).map_err(|e| invalid_argument(e.to_string()))
}

pub fn schema_from_json(text: &str) -> napi::Result<Schema> {
    let json: SchemaJson = serde_json::from_str(text)
        .map_err(|e| invalid_argument(format!("malformed schema description: {e}")))?;
    let fields = json
        .fields
        .into_iter()
        .map(field_from_json)
        .collect::<napi::Result<Vec<_>>>()?;
    Ok(Schema::new_with_metadata(fields, json.metadata))
}

pub fn type_from_json(text: &str) -> napi::Result<DataType> {
    let json: TypeJson = serde_json::from_str(text)
        .map_err(|e| invalid_argument(format!("malformed type description: {e}")))?;
    type_from(json)
}

fn field_to_json(field: &Field) -> napi::Result<FieldJson> {
    Ok(FieldJson {
        name: field.name().clone(),
        nullable: field.is_nullable(),
        data_type: type_to_json(field.data_type())?,
        metadata: field.metadata().clone(),
    })
}

fn field_from_json(json: FieldJson) -> napi::Result<Field> {
    Ok(
        Field::new(json.name, type_from(json.data_type)?, json.nullable)
            .with_metadata(json.metadata),
    )
}

fn child(field: &Field) -> napi::Result<Box<FieldJson>> {
    Ok(Box::new(field_to_json(field)?))
}

fn type_to_json(data_type: &DataType) -> napi::Result<TypeJson> {
    use DataType as D;
    let int = |bit_width, signed| TypeJson::Int { bit_width, signed };
    let float = |precision| TypeJson::Float { precision };
    Ok(match data_type {
        D::Null => TypeJson::Null,
        D::Boolean => TypeJson::Bool,
        D::Int8 => int(8, true),
        D::Int16 => int(16, true),
        D::Int32 => int(32, true),
        D::Int64 => int(64, true),
        D::UInt8 => int(8, false),
        D::UInt16 => int(16, false),
        D::UInt32 => int(32, false),
        D::UInt64 => int(64, false),
        D::Float16 => float(Precision::Half),
        D::Float32 => float(Precision::Single),
        D::Float64 => float(Precision::Double),
        D::Utf8 | D::Utf8View => TypeJson::Utf8,
        D::LargeUtf8 => TypeJson::LargeUtf8,
        D::Binary | D::BinaryView => TypeJson::Binary,
        D::LargeBinary => TypeJson::LargeBinary,
        D::FixedSizeBinary(n) => TypeJson::FixedSizeBinary { byte_width: *n },
        D::Date32 => TypeJson::Date {
            unit: DateUnit::Day,
        },
        D::Date64 => TypeJson::Date {
            unit: DateUnit::Millisecond,
        },
        D::Timestamp(unit, tz) => TypeJson::Timestamp {
            unit: unit.into(),
            timezone: tz.as_ref().map(|t| t.to_string()),
        },
        D::Time32(unit) => TypeJson::Time {
            unit: unit.into(),
            bit_width: 32,
        },
        D::Time64(unit) => TypeJson::Time {
            unit: unit.into(),
            bit_width: 64,
        },
        D::Duration(unit) => TypeJson::Duration { unit: unit.into() },
        D::Decimal128(p, s) => TypeJson::Decimal {
            precision: *p,
            scale: *s,
            bit_width: 128,
        },
        D::Decimal256(p, s) => TypeJson::Decimal {
            precision: *p,
            scale: *s,
            bit_width: 256,
        },
        D::List(f) | D::ListView(f) => TypeJson::List { child: child(f)? },
        D::LargeList(f) | D::LargeListView(f) => TypeJson::LargeList { child: child(f)? },
        D::FixedSizeList(f, n) => TypeJson::FixedSizeList {
            list_size: *n,
            child: child(f)?,
        },
        D::Struct(fields) => TypeJson::Struct {
            children: fields
                .iter()
                .map(|f| field_to_json(f))
                .collect::<napi::Result<_>>()?,
        },
        D::Map(f, sorted) => TypeJson::Map {
            child: child(f)?,
            keys_sorted: *sorted,
        },
        D::Dictionary(_, values) => type_to_json(values)?,
        other => {
            return Err(invalid_argument(format!(
                "Arrow type {other} cannot cross to JavaScript yet"
            )))
        }
    })
}

fn type_from(json: TypeJson) -> napi::Result<DataType> {
    use DataType as D;
    let boxed = |f: Box<FieldJson>| field_from_json(*f).map(Arc::new);
    Ok(match json {
        TypeJson::Null => D::Null,
        TypeJson::Bool => D::Boolean,
        TypeJson::Int { bit_width, signed } => match (bit_width, signed) {
            (8, true) => D::Int8,
            (16, true) => D::Int16,
            (32, true) => D::Int32,
            (64, true) => D::Int64,
            (8, false) => D::UInt8,
            (16, false) => D::UInt16,
            (32, false) => D::UInt32,
            (64, false) => D::UInt64,
            (other, _) => return Err(invalid_argument(format!("no {other}-bit integer type"))),
        },
        TypeJson::Float { precision } => match precision {
            Precision::Half => D::Float16,
            Precision::Single => D::Float32,
            Precision::Double => D::Float64,
        },
        TypeJson::Utf8 => D::Utf8,
        TypeJson::LargeUtf8 => D::LargeUtf8,
        TypeJson::Binary => D::Binary,
        TypeJson::LargeBinary => D::LargeBinary,
        TypeJson::FixedSizeBinary { byte_width } => D::FixedSizeBinary(byte_width),
        TypeJson::Date {
            unit: DateUnit::Day,
        } => D::Date32,
        TypeJson::Date {
            unit: DateUnit::Millisecond,
        } => D::Date64,
        TypeJson::Timestamp { unit, timezone } => {
            D::Timestamp(unit.into(), timezone.map(Into::into))
        }
        TypeJson::Time {
            unit,
            bit_width: 32,
        } => D::Time32(unit.into()),
        TypeJson::Time { unit, .. } => D::Time64(unit.into()),
        TypeJson::Duration { unit } => D::Duration(unit.into()),
        TypeJson::Decimal {
            precision,
            scale,
            bit_width: 128,
        } => D::Decimal128(precision, scale),
        TypeJson::Decimal {
            precision, scale, ..
        } => D::Decimal256(precision, scale),
        TypeJson::List { child } => D::List(boxed(child)?),
        TypeJson::LargeList { child } => D::LargeList(boxed(child)?),
        TypeJson::FixedSizeList { list_size, child } => D::FixedSizeList(boxed(child)?, list_size),
        TypeJson::Struct { children } => D::Struct(Fields::from(
            children
                .into_iter()
                .map(field_from_json)
                .collect::<napi::Result<Vec<_>>>()?,
        )),
        TypeJson::Map { child, keys_sorted } => D::Map(boxed(child)?, keys_sorted),
    })
}
