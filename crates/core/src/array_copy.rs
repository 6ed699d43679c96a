//! Copies of Arrow arrays into buffers of their own, for results built from cached columns:
//! exact-size allocations, only the rows a slice covers, large buffers copied on all cores
//! or, when they are whole runs of the cache's shared memory, mapped copy-on-write.

use arrow_array::{make_array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer};
use arrow_data::transform::MutableArrayData;
use arrow_data::ArrayData;
use arrow_schema::DataType;
use rayon::prelude::*;

use crate::buffer_pool;
use crate::error::Result;
use crate::row_gather;
use crate::shared_memory;

/// A copy of `array` in buffers of its own (so users can never write into the cache's).
fn detach_array(array: &ArrayRef) -> ArrayRef {
    make_array(copy_data(&array.to_data(), &result_bytes))
}

/// `array` (only the rows it covers) with its large buffers in shared memory, for the cache.
pub(crate) fn into_shared(array: &ArrayRef) -> ArrayRef {
    make_array(copy_data(&array.to_data(), &shared_bytes))
}

/// `data` copied into exact-size buffers of its own, only the rows it covers (it may be a
/// slice); `copy_bytes` places each value buffer.
fn copy_data(data: &ArrayData, copy_bytes: &dyn Fn(&[u8]) -> Buffer) -> ArrayData {
    let (offset, len) = (data.offset(), data.len());
    // `sliced()` shares the buffer when the offset is byte-aligned; copy it regardless.
    let nulls = data.nulls().map(|n| {
        let bits = Buffer::from_slice_ref(n.inner().sliced().as_slice());
        NullBuffer::new(BooleanBuffer::new(bits, 0, n.len()))
    });
    let builder = ArrayData::builder(data.data_type().clone())
        .len(len)
        .nulls(nulls);
    let builder = match data.data_type() {
        t if t.primitive_width().is_some() && data.child_data().is_empty() => {
            let width = t.primitive_width().expect("checked");
            let bytes = &data.buffers()[0].as_slice()[offset * width..(offset + len) * width];
            builder.add_buffer(copy_bytes(bytes))
        }
        DataType::FixedSizeList(_, size) => {
            let size = *size as usize;
            let child = data.child_data()[0].slice(offset * size, len * size);
            builder.add_child_data(copy_data(&child, copy_bytes))
        }
        DataType::Utf8 | DataType::Binary => {
            let offsets: &[i32] = &data.buffers()[0].typed_data::<i32>()[offset..offset + len + 1];
            let (first, last) = (offsets[0], offsets[len]);
            // Recycled memory when large, like gathered offsets: a fresh allocation per
            // result would fault in new pages on every read.
            let rebased = row_gather::output(offsets.len() * 4, |out| {
                for (to, o) in out.chunks_exact_mut(4).zip(offsets) {
                    to.copy_from_slice(&(o - first).to_ne_bytes());
                }
            });
            let values = &data.buffers()[1].as_slice()[first as usize..last as usize];
            builder.add_buffer(rebased).add_buffer(copy_bytes(values))
        }
        _ => {
            // Other layouts: arrow's generic copy.
            let mut copy = MutableArrayData::new(vec![data], false, len);
            copy.extend(0, 0, len);
            return copy.freeze();
        }
    };
    // Safety: the same type, length and validity as `data`, with its rows' buffers.
    unsafe { builder.build_unchecked() }
}

/// A result's copy of `src`: mapped copy-on-write from the cache's shared memory when it can
/// be, else copied (large buffers into recycled blocks, on all cores).
fn result_bytes(src: &[u8]) -> Buffer {
    if src.len() < buffer_pool::MIN_POOLED {
        return Buffer::from_slice_ref(src);
    }
    if let Some(mapped) = shared_memory::map_private(src) {
        return mapped;
    }
    buffer_pool::filled(src.len(), |out| copy_in_parallel(out, src))
}

/// `to.copy_from_slice(from)` in 4 MB pieces on rayon's threads (one piece or less on the
/// calling thread: handing it to rayon from outside its pool waits for a worker to wake,
/// and on a busy machine for a whole time slice).
pub(crate) fn copy_in_parallel(to: &mut [u8], from: &[u8]) {
    const PIECE: usize = 4 << 20;
    if from.len() <= PIECE {
        to.copy_from_slice(from);
        return;
    }
    to.par_chunks_mut(PIECE)
        .zip(from.par_chunks(PIECE))
        .for_each(|(to, from)| to.copy_from_slice(from));
}

fn shared_bytes(src: &[u8]) -> Buffer {
    shared_memory::store(src).unwrap_or_else(|| Buffer::from_slice_ref(src))
}

/// `batch` with every column copied into buffers of its own.
pub(crate) fn detach(batch: &RecordBatch) -> Result<RecordBatch> {
    let columns = batch.columns().iter().map(detach_array).collect();
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        batch.schema(),
        columns,
        &options,
    )?)
}
