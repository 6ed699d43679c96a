//! Record batches across the boundary as wire batches (docs/native-contract.md): a JSON
//! schema plus raw buffers. Outgoing buffers are external memory that JS views without a copy;
//! incoming buffers are copied once into Arrow buffers.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};

use arrow_array::{make_array, Array, ArrayRef, RecordBatch};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer};
use arrow_data::{transform::MutableArrayData, ArrayData, ArrayDataBuilder};
use arrow_schema::{DataType, Field, Schema};
use napi::bindgen_prelude::{ToNapiValue, Uint8Array, Uint8ArraySlice};
use napi::{sys, Env, JsValue};
use napi_derive::napi;

use crate::error::{code_error, invalid_argument};
use crate::schema_json::{schema_from_json, schema_to_json};
use palimpsest_core::ErrorCode;

/// A batch coming from JS.
#[napi(object)]
pub struct WireBatchIn {
    pub schema: String,
    pub num_rows: u32,
    pub nodes: Vec<u32>,
    #[napi(ts_type = "(Uint8Array | null)[]")]
    pub buffers: Vec<Option<Uint8Array>>,
}

/// A batch going to JS (never read back from JS).
#[napi(object, object_from_js = false)]
pub struct WireBatchOut {
    pub schema: String,
    pub num_rows: u32,
    pub nodes: Vec<u32>,
    #[napi(ts_type = "(Uint8Array | null)[]")]
    pub buffers: Vec<Option<ExportedBuffer>>,
}

/// An Arrow buffer handed to JS as an external Uint8Array; the finalizer drops it.
pub struct ExportedBuffer(Buffer);

/// V8 rejects two live external ArrayBuffers over the same start address, so a buffer that
/// is already exported (shared by two arrays, or returned twice) is copied instead.
fn live_exports() -> &'static Mutex<HashSet<usize>> {
    static LIVE: OnceLock<Mutex<HashSet<usize>>> = OnceLock::new();
    LIVE.get_or_init(Default::default)
}

impl ToNapiValue for ExportedBuffer {
    unsafe fn to_napi_value(raw_env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let env = Env::from_raw(raw_env);
        let buffer = val.0;
        let address = buffer.as_ptr() as usize;
        let unique = !buffer.is_empty() && live_exports().lock().unwrap().insert(address);
        if !unique {
            return Ok(Uint8ArraySlice::copy_from(&env, buffer.as_slice())?.raw());
        }
        let len = buffer.len();
        let slice = Uint8ArraySlice::from_external(
            &env,
            address as *mut u8,
            len,
            buffer,
            move |env, buffer: Buffer| {
                live_exports().lock().unwrap().remove(&address);
                drop(buffer);
                let _ = env.adjust_external_memory(-(len as i64));
            },
        )?;
        // Tell V8 how much memory the array keeps alive, so garbage collection (which frees
        // it) runs as often as if the bytes were on its own heap; a streaming scan otherwise
        // holds every batch it has read until some unrelated collection.
        env.adjust_external_memory(len as i64)?;
        Ok(slice.raw())
    }
}

pub fn batches_to_wire(batches: Vec<RecordBatch>) -> napi::Result<Vec<WireBatchOut>> {
    batches.into_iter().map(batch_to_wire).collect()
}

pub fn batch_to_wire(batch: RecordBatch) -> napi::Result<WireBatchOut> {
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut nodes = Vec::new();
    let mut buffers = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let column = plain(column)?;
        fields.push(
            Field::new(
                field.name(),
                column.data_type().clone(),
                field.is_nullable(),
            )
            .with_metadata(field.metadata().clone()),
        );
        push_array(&column.to_data(), &mut nodes, &mut buffers);
    }
    let schema = Schema::new_with_metadata(fields, batch.schema().metadata().clone());
    Ok(WireBatchOut {
        schema: schema_to_json(&schema)?,
        num_rows: batch.num_rows() as u32,
        nodes,
        buffers,
    })
}

/// Decodes dictionaries and views, and compacts sliced arrays, so every node has offset 0.
fn plain(column: &ArrayRef) -> napi::Result<ArrayRef> {
    let target = match column.data_type() {
        DataType::Dictionary(_, values) => Some(values.as_ref().clone()),
        DataType::Utf8View => Some(DataType::Utf8),
        DataType::BinaryView => Some(DataType::Binary),
        _ => None,
    };
    let column = match target {
        Some(t) => arrow_cast::cast(column, &t).map_err(|e| invalid_argument(e.to_string()))?,
        None => column.clone(),
    };
    let data = column.to_data();
    if has_offsets(&data) {
        let mut copy = MutableArrayData::new(vec![&data], false, data.len());
        copy.extend(0, 0, data.len());
        return Ok(make_array(copy.freeze()));
    }
    Ok(column)
}

fn has_offsets(data: &ArrayData) -> bool {
    data.offset() != 0
        || data.nulls().is_some_and(|n| n.offset() != 0)
        || data.child_data().iter().any(has_offsets)
}

fn push_array(data: &ArrayData, nodes: &mut Vec<u32>, buffers: &mut Vec<Option<ExportedBuffer>>) {
    nodes.extend([data.len() as u32, data.null_count() as u32, 0]);
    buffers.push(
        data.nulls()
            .filter(|n| n.null_count() > 0)
            .map(|n| ExportedBuffer(n.buffer().clone())),
    );
    for buffer in data.buffers() {
        buffers.push(Some(ExportedBuffer(buffer.clone())));
    }
    for child in data.child_data() {
        push_array(child, nodes, buffers);
    }
}

pub fn batches_from_wire(batches: Vec<WireBatchIn>) -> napi::Result<Vec<RecordBatch>> {
    batches.into_iter().map(batch_from_wire).collect()
}

fn batch_from_wire(batch: WireBatchIn) -> napi::Result<RecordBatch> {
    let schema = Arc::new(schema_from_json(&batch.schema)?);
    let mut reader = WireReader {
        nodes: &batch.nodes,
        buffers: &batch.buffers,
        node: 0,
        buffer: 0,
    };
    let columns = schema
        .fields()
        .iter()
        .map(|f| reader.array(f.data_type()).map(make_array))
        .collect::<napi::Result<Vec<ArrayRef>>>()?;
    if reader.node * 3 != batch.nodes.len() || reader.buffer != batch.buffers.len() {
        return Err(invalid_argument("wire batch has leftover nodes or buffers"));
    }
    let options =
        arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows as usize));
    RecordBatch::try_new_with_options(schema, columns, &options)
        .map_err(|e| code_error(ErrorCode::SchemaMismatch, e.to_string()))
}

struct WireReader<'a> {
    nodes: &'a [u32],
    buffers: &'a [Option<Uint8Array>],
    node: usize,
    buffer: usize,
}

impl WireReader<'_> {
    fn next_buffer(&mut self) -> napi::Result<Option<&[u8]>> {
        let slot = self
            .buffers
            .get(self.buffer)
            .ok_or_else(|| invalid_argument("wire batch is missing buffers"))?;
        self.buffer += 1;
        Ok(slot.as_ref().map(|b| b.as_ref()))
    }

    fn required_buffer(&mut self) -> napi::Result<Buffer> {
        match self.next_buffer()? {
            Some(bytes) => Ok(Buffer::from_slice_ref(bytes)),
            None => Err(invalid_argument(
                "wire batch has a null where a data buffer belongs",
            )),
        }
    }

    fn array(&mut self, data_type: &DataType) -> napi::Result<ArrayData> {
        let at = self.node * 3;
        let [len, null_count, offset] = match self.nodes.get(at..at + 3) {
            Some(&[a, b, c]) => [a as usize, b as usize, c as usize],
            _ => return Err(invalid_argument("wire batch is missing nodes")),
        };
        self.node += 1;
        let nulls = match self.next_buffer()? {
            Some(bytes) if null_count > 0 => {
                let needed = (offset + len).div_ceil(8);
                let bytes = bytes.get(..needed).ok_or_else(|| {
                    invalid_argument("validity bitmap is shorter than the column")
                })?;
                let bits = BooleanBuffer::new(Buffer::from_slice_ref(bytes), offset, len);
                Some(NullBuffer::new(bits))
            }
            _ => None,
        };
        let mut builder = ArrayDataBuilder::new(data_type.clone())
            .len(len)
            .nulls(nulls);
        use DataType as D;
        match data_type {
            D::Null => {}
            D::Boolean => builder = builder.offset(offset).add_buffer(self.required_buffer()?),
            D::Utf8 | D::Binary | D::LargeUtf8 | D::LargeBinary => {
                builder = builder
                    .add_buffer(self.required_buffer()?)
                    .add_buffer(self.required_buffer()?);
            }
            D::List(child) | D::LargeList(child) | D::Map(child, _) => {
                builder = builder.add_buffer(self.required_buffer()?);
                builder = builder.add_child_data(self.array(child.data_type())?);
            }
            D::FixedSizeList(child, _) => {
                builder = builder.add_child_data(self.array(child.data_type())?);
            }
            D::Struct(children) => {
                for child in children {
                    builder = builder.add_child_data(self.array(child.data_type())?);
                }
            }
            _ if data_type.primitive_width().is_some()
                || matches!(data_type, D::FixedSizeBinary(_)) =>
            {
                builder = builder.add_buffer(self.required_buffer()?);
            }
            other => {
                return Err(invalid_argument(format!(
                    "Arrow type {other} cannot cross from JavaScript yet"
                )))
            }
        }
        builder.build().map_err(|e| {
            code_error(
                ErrorCode::SchemaMismatch,
                format!("invalid Arrow data: {e}"),
            )
        })
    }
}
